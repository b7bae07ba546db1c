
Logs the loss every `every` training iterations (default 100).
"""

from wit_world import exports
from wit_world.imports import host, types

import hammer_sdk

# Each call lifts its phase (and `host.step()` a step-info): make enums a tuple lookup.
hammer_sdk.fast_enums(types)


class Hook(exports.Hook):
    def setup(self, options):
        # hammer_sdk.Options reads options by name and type; a mistake is an error naming the option.
        every = hammer_sdk.Options(options, known=("every",)).integer("every", 100, minimum=1)
        # Called after iterations every, 2 x every, ... only (MMEngine's every_n_train_iters).
        return [types.Subscription(types.Phase.AFTER_TRAIN_ITER, every)]

    def on_phase(self, phase):
        loss = host.scalar("loss")
        if loss is not None:
            host.log(host.Level.INFO, f"iteration {host.step().iter + 1}: loss {loss:.4f}")

    def save_state(self):
        return b""

    def load_state(self, state):
        pass
