// `probe`: a sandbox probe (hook, JavaScript, for tests). At setup and at the
// first `before-train` it tries to read `/etc/hostname` and logs
// `read_file: denied (...)` or `read_file: ALLOWED`.
//
// componentize-js gives JavaScript no file API of its own, so the probe reads
// through WASI's file system (its world, `world.wit`, imports the preopens),
// resolving the path as wasi-libc's `open` does for C and Python: the
// preopened directory whose guest path is the longest prefix of it, then the
// rest of the path relative to that directory. Granted `/` (as a WASI runtime
// with `--dir /` does), it reads the file.

import { log } from 'hammer:plugin/host@0.1.0';
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

const PATH = '/etc/hostname';

function readFile(path) {
    let best = null;
    for (const [dir, guest] of getDirectories()) {
        const prefix = guest.endsWith('/') ? guest : `${guest}/`;
        if (path.startsWith(prefix) && (best === null || prefix.length > best.prefix.length)) {
            best = { dir, prefix };
        }
    }
    if (best === null) {
        throw new Error(`no preopened directory holds ${path}`);
    }
    const file = best.dir.openAt({ symlinkFollow: true }, path.slice(best.prefix.length), {}, { read: true });
    const chunks = [];
    let offset = 0n;
    for (;;) {
        const [data, end] = file.read(4096n, offset);
        chunks.push(data);
        offset += BigInt(data.length);
        if (end || data.length === 0) {
            break;
        }
    }
    return chunks.map((c) => new TextDecoder().decode(c)).join('');
}

function tryRead() {
    try {
        readFile(PATH);
        log('info', 'read_file: ALLOWED');
    } catch (e) {
        // A WASI error is thrown with its error code as `payload` (`access`, `no-entry`, ...).
        const why = e && e.payload !== undefined ? `error code ${e.payload}` : e.message;
        log('info', `read_file: denied (${e.name}: ${why})`);
    }
}

export const hook = {
    setup(_options) {
        tryRead();
        return ['before-train'];
    },

    onPhase(_info) {
        tryRead();
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
