// `cosine`: CosineAnnealingLR by epoch (lr-policy, JavaScript).
//
// torch's chainable (recursive) formula, stepped like the Rust `lr` plugin with
// `type = "CosineAnnealingLR", by_epoch = true`: its cadence is `epoch`, so
// the host asks before the first training iteration of each epoch (and the
// first of a resumed run); the schedule steps once per new epoch (the first
// call is step 0 and keeps the lr), and the lr holds in between. Options: `T_max`
// (epochs, required), `eta_min` (default 0). The state (step count, next epoch
// to step at) is saved in checkpoints, in the same 24 bytes as the Python
// `cosine`, so a resumed run continues exactly.
//
// Written for both engines polyglot/js/build.sh can embed: 64-bit integers
// arrive as BigInts from SpiderMonkey and as numbers from QuickJS (hence
// `Number(...)`), and an absent option is `undefined` or `null` (hence
// `== null`). Both turn a thrown string into the call's `err`; QuickJS does the
// same with a thrown `Error`, SpiderMonkey traps on anything but a string.

const MAGIC = [0x48, 0x50, 0x43, 0x4f]; // "HPCO"
const VERSION = 1;
const KNOWN = ['T_max', 'eta_min'];

// The plugin's state: the module lives as long as the plugin's instance.
const s = { tMax: null, etaMin: 0.0, baseLr: 0.0, lastStep: -1, nextEpoch: 0 };

function value(lr) {
    const [t, tm, eta] = [s.lastStep, s.tMax, s.etaMin];
    if (t === 0) {
        return lr;
    }
    // `%` keeps the dividend's sign in JavaScript, Python's is never negative:
    // both are 0 for the same t.
    if ((t - 1 - tm) % (2 * tm) === 0) {
        return lr + ((s.baseLr - eta) * (1.0 - Math.cos(Math.PI / tm))) / 2.0;
    }
    return ((1.0 + Math.cos((Math.PI * t) / tm)) / (1.0 + Math.cos((Math.PI * (t - 1)) / tm))) * (lr - eta) + eta;
}

export const lrPolicy = {
    setup(options, baseLr, _baseMomentum) {
        for (const [key, v] of options) {
            if (!KNOWN.includes(key)) {
                throw `unknown option \`${key}\` (valid: ${KNOWN.join(', ')})`;
            }
            if (key === 'T_max') {
                if (v.tag !== 'integer' || Number(v.val) < 1) {
                    throw 'option `T_max` must be an integer >= 1';
                }
                s.tMax = Number(v.val);
            } else {
                if (v.tag !== 'float' && v.tag !== 'integer') {
                    throw 'option `eta_min` must be a number';
                }
                s.etaMin = Number(v.val);
            }
        }
        if (s.tMax === null) {
            throw 'give `T_max` (in epochs)';
        }
        s.baseLr = baseLr;
        return 'epoch';
    },

    step(info, lr, _momentum) {
        if (s.tMax === null) {
            throw 'the lr policy was called before `setup`';
        }
        while (s.nextEpoch <= info.epoch) {
            s.nextEpoch += 1;
            s.lastStep += 1;
            lr = value(lr);
        }
        return { lr, momentum: null };
    },

    // MAGIC, then little-endian u32 version, i64 last step, u64 next epoch.
    saveState() {
        const bytes = new Uint8Array(24);
        bytes.set(MAGIC);
        const view = new DataView(bytes.buffer);
        view.setUint32(4, VERSION, true);
        view.setBigInt64(8, BigInt(s.lastStep), true);
        view.setBigUint64(16, BigInt(s.nextEpoch), true);
        return bytes;
    },

    loadState(state) {
        if (state.length === 0) {
            return;
        }
        if (state.length !== 24 || MAGIC.some((b, i) => state[i] !== b)) {
            throw 'cosine: not a cosine state';
        }
        const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
        const version = view.getUint32(4, true);
        if (version !== VERSION) {
            throw `cosine: state version ${version}, expected ${VERSION}`;
        }
        s.lastStep = Number(view.getBigInt64(8, true));
        s.nextEpoch = Number(view.getBigUint64(16, true));
    },
};
