// `accuracy`: top-1 classification accuracy in percent (metric, JavaScript).
//
// The same results as the Rust `plugins/accuracy` with its default `topk = 1`:
// the model's output is `[batch, classes]`; the targets are class indices
// `[batch]` (or `[batch, classes]`, reduced with `argmax`). Everything is
// computed in the host (`argmax`, `eq`, `sum`, `numel`); no tensor is copied
// into the plugin. Reported as `accuracy`.
//
// Written for both engines polyglot/js/build.sh can embed: 64-bit integers
// arrive as BigInts from SpiderMonkey and as numbers from QuickJS (hence
// `Number(...)`), and an absent option is `undefined` or `null` (hence
// `== null`). Both turn a thrown string into the call's `err`; QuickJS does the
// same with a thrown `Error`, SpiderMonkey traps on anything but a string. A
// host method that returns `err` throws, and that error passes through as this
// call's `err`.

// The plugin's state: the module lives as long as the plugin's instance.
const s = { correct: 0.0, total: 0.0 };

// A shape (`list<u64>`) as Python prints a list: `[1000, 2]`.
const show = (shape) => `[${Array.from(shape).join(', ')}]`;
const same = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

// Calls `f(t)`, then drops the host handle `t`.
function using(t, f) {
    try {
        return f(t);
    } finally {
        t[Symbol.dispose]();
    }
}

function count(hits) {
    s.correct += hits.sum();
    s.total += Number(hits.numel());
}

export const metric = {
    setup(options) {
        for (const [key] of options) {
            throw `unknown option \`${key}\` (the JavaScript accuracy takes none)`;
        }
        metric.reset();
    },

    reset() {
        s.correct = 0.0;
        s.total = 0.0;
    },

    process(output, targets, _loss) {
        const shape = output.shape();
        if (shape.length !== 2) {
            throw `accuracy needs the model's output as [batch, classes], found shape ${show(shape)}`;
        }
        const targetShape = targets.shape();
        const oneHot = same(targetShape, shape);
        if (!oneHot && !same(targetShape, [shape[0]])) {
            throw `accuracy needs targets of shape [${shape[0]}] or ${show(shape)}, found ${show(targetShape)}`;
        }
        using(output.argmax(1), (predicted) => {
            if (oneHot) {
                using(targets.argmax(1), (labels) => using(predicted.eq(labels), count));
            } else {
                using(predicted.eq(targets), count);
            }
        });
    },

    compute() {
        if (s.total === 0.0) {
            throw 'accuracy: no sample was processed in this pass';
        }
        return [['accuracy', (100.0 * s.correct) / s.total]];
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
