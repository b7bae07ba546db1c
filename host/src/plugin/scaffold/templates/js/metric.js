//
// Percentage of samples whose top-scoring class is the target, computed on
// the host through tensor handles.

// The plugin's state: module-level variables live as long as the plugin.
let correct = 0.0;
let total = 0.0;

export const metric = {
    setup(options) {
        for (const [key] of options) {
            throw `unknown option \`${key}\` (the plugin takes none)`;
        }
    },

    reset() {
        correct = 0.0;
        total = 0.0;
    },

    process(output, targets, _loss) {
        const predicted = output.argmax(1);
        try {
            const hits = predicted.eq(targets);
            try {
                correct += hits.sum();
                total += Number(hits.numel());
            } finally {
                hits[Symbol.dispose]();
            }
        } finally {
            predicted[Symbol.dispose]();
        }
    },

    compute() {
        return [['my_accuracy', total ? (100.0 * correct) / total : 0.0]];
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
