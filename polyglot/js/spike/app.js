// `spike`: a loss-spike detector (hook, JavaScript).
//
// After every training iteration it reads the host scalar `loss`, emits
// `spike/ratio` = loss / running mean (the mean of the finite losses of the
// iterations before this one), and asks the runner to stop when the loss is
// NaN (or infinite) or larger than `factor` (option, default 10) times the
// running mean. The running mean and its count are saved in checkpoints, in
// the same 24 bytes as the Python `spike`.
//
// Written for both engines polyglot/js/build.sh can embed: 64-bit integers
// arrive as BigInts from SpiderMonkey and as numbers from QuickJS (hence
// `Number(...)`), and an absent option is `undefined` or `null` (hence
// `== null`). Both turn a thrown string into the call's `err`; QuickJS does the
// same with a thrown `Error`, SpiderMonkey traps on anything but a string.

import { scalar, emitScalar, requestStop, step } from 'hammer:plugin/host@0.3.0';

const MAGIC = [0x48, 0x50, 0x53, 0x4b]; // "HPSK"
const VERSION = 1;
const KNOWN = ['factor'];

// The plugin's state: the module lives as long as the plugin's instance.
const s = { factor: 10.0, count: 0, mean: 0.0 };

function number(key, value) {
    if (value.tag === 'float' || value.tag === 'integer') {
        return Number(value.val);
    }
    throw `option \`${key}\` must be a number`;
}

// Python's `str(x)` of a float, for the same reason.
function pyFloat(x) {
    return Number.isInteger(x) ? x.toFixed(1) : formatG(x, 17);
}

// Python's `format(x, f'.{precision}g')`, so messages read as the Python plugin's.
function formatG(x, precision = 6) {
    if (Number.isNaN(x)) return 'nan';
    if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
    const [mantissa, e] = x.toExponential(precision - 1).split('e');
    const exp = Number(e);
    const strip = (t) => (t.includes('.') ? t.replace(/0+$/, '').replace(/\.$/, '') : t);
    if (exp < -4 || exp >= precision) {
        return `${strip(mantissa)}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
    }
    return strip(x.toFixed(precision - 1 - exp));
}

export const hook = {
    setup(options) {
        for (const [key, value] of options) {
            if (!KNOWN.includes(key)) {
                throw `unknown option \`${key}\` (valid: ${KNOWN.join(', ')})`;
            }
            s.factor = number(key, value);
            if (!(s.factor > 0.0)) {
                throw `option \`factor\` must be positive, found ${pyFloat(s.factor)}`;
            }
        }
        return [{ phase: 'after-train-iter', every: 1 }];
    },

    onPhase(_phase) {
        const loss = scalar('loss');
        if (loss == null) {
            return;
        }
        if (!Number.isFinite(loss)) {
            requestStop(`spike: the loss is ${formatG(loss)} at iteration ${step().iter}`);
            return;
        }
        if (s.count > 0) {
            const ratio = s.mean !== 0.0 ? loss / s.mean : Infinity;
            emitScalar('spike/ratio', ratio);
            if (loss > s.factor * s.mean) {
                requestStop(
                    `spike: the loss ${formatG(loss)} is ${formatG(ratio, 3)} x its running mean ` +
                        `${formatG(s.mean)} (factor ${formatG(s.factor)}) at iteration ${step().iter}`,
                );
            }
        }
        s.count += 1;
        s.mean += (loss - s.mean) / s.count;
    },

    // MAGIC, then little-endian u32 version, u64 count, f64 mean.
    saveState() {
        const bytes = new Uint8Array(24);
        bytes.set(MAGIC);
        const view = new DataView(bytes.buffer);
        view.setUint32(4, VERSION, true);
        view.setBigUint64(8, BigInt(s.count), true);
        view.setFloat64(16, s.mean, true);
        return bytes;
    },

    loadState(state) {
        if (state.length === 0) {
            return;
        }
        if (state.length !== 24 || MAGIC.some((b, i) => state[i] !== b)) {
            throw 'spike: not a spike state';
        }
        const view = new DataView(state.buffer, state.byteOffset, state.byteLength);
        const version = view.getUint32(4, true);
        if (version !== VERSION) {
            throw `spike: state version ${version}, expected ${VERSION}`;
        }
        s.count = Number(view.getBigUint64(8, true));
        s.mean = view.getFloat64(16, true);
    },
};
