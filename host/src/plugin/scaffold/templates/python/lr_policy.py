
Multiplies the learning rate by `gamma` at the start of every epoch.
"""

from wit_world import exports
from wit_world.imports import types
from wit_world.exports.lr_policy import Cadence, Decision

import hammer_sdk

# Every call lifts a step-info's phase and mode: make that a tuple lookup.
hammer_sdk.fast_enums(types)


class _State:
    gamma = 0.9


# componentize-py calls each exported function on an instance of its own:
# keep state in a module-level object.
_s = _State()


class LrPolicy(exports.LrPolicy):
    def setup(self, options, base_lr, base_momentum):
        _s.gamma = hammer_sdk.Options(options, known=("gamma",)).number("gamma", 0.9)
        # Asked before the first iteration of each epoch (and of a resumed run), not at every one.
        return Cadence.EPOCH

    def step(self, info, lr, momentum):
        new_epoch = info.inner_iter == 0 and info.epoch > 0
        return Decision(lr * _s.gamma if new_epoch else lr, momentum)

    def save_state(self):
        return b""

    def load_state(self, state):
        pass
