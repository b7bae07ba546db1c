// `probe`: a sandbox probe (hook, JavaScript, for tests). At setup and at the
// first `before-train` it tries to read `/etc/hostname` and logs
// `read_file: denied (...)` or `read_file: ALLOWED`.
//
// Neither engine polyglot/js/build.sh can embed (QuickJS, SpiderMonkey)
// gives JavaScript a file API of its own, so the probe reads
// through WASI's file system (its world, `world.wit`, imports the preopens),
// resolving the path as wasi-libc's `open` does for C and Python: the
// preopened directory whose guest path is the longest prefix of it, then the
// rest of the path relative to that directory. Granted `/` (as a WASI runtime
// with `--dir /` does), it reads the file.

import { log } from 'hammer:plugin/host@0.3.0';
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
    try {
        let size = 0;
        for (;;) {
            const [data, end] = file.read(4096, size);
            size += data.length;
            if (end || data.length === 0) {
                return size;
            }
        }
    } finally {
        file[Symbol.dispose]();
    }
}

// A WASI call that fails throws its error code: as a string (QuickJS), or
// as the `payload` of an error (SpiderMonkey).
function describe(e) {
    if (typeof e === 'string') {
        return `error code ${e}`;
    }
    return e.payload !== undefined ? `error code ${e.payload}` : `${e.name}: ${e.message}`;
}

function tryRead() {
    try {
        readFile(PATH);
        log('info', 'read_file: ALLOWED');
    } catch (e) {
        log('info', `read_file: denied (${describe(e)})`);
    }
}

export const hook = {
    setup(_options) {
        tryRead();
        return [{ phase: 'before-train', every: 1 }];
    },

    onPhase(_phase) {
        tryRead();
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
