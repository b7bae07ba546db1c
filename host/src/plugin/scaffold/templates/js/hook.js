//
// Logs the loss every `every` training iterations (default 100).

import { log, scalar, step } from 'hammer:plugin/host@@INTERFACE@';

export const hook = {
    setup(options) {
        let every = 100;
        for (const [key, value] of options) {
            if (key !== 'every' || value.tag !== 'integer' || Number(value.val) < 1) {
                throw `unknown or wrong option \`${key}\` (the plugin takes \`every\`, an integer >= 1)`;
            }
            every = Number(value.val);
        }
        // Called after iterations every, 2 x every, ... only (MMEngine's every_n_train_iters).
        return [{ phase: 'after-train-iter', every }];
    },

    onPhase(_phase) {
        const loss = scalar('loss');
        if (loss != null) {
            log('info', `iteration ${Number(step().iter) + 1}: loss ${loss.toFixed(4)}`);
        }
    },

    saveState() {
        return new Uint8Array(0);
    },

    loadState(_state) {},
};
