//
// Multiplies the learning rate by `gamma` at the start of every epoch.

// The plugin's state: module-level variables live as long as the plugin.
let gamma = 0.9;

export const lrPolicy = {
    setup(options, _baseLr, _baseMomentum) {
        for (const [key, value] of options) {
            if (key !== 'gamma' || (value.tag !== 'float' && value.tag !== 'integer')) {
                throw `unknown or mistyped option \`${key}\` (the plugin takes \`gamma\`, a number)`;
            }
            gamma = Number(value.val);
        }
        // Asked before the first iteration of each epoch (and of a resumed run), not at every one.
        return 'epoch';
    },

    step(info, lr, momentum) {
        const newEpoch = Number(info.innerIter) === 0 && info.epoch > 0;
        return { lr: newEpoch ? lr * gamma : lr, momentum };
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
