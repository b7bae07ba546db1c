"""`cosine`: CosineAnnealingLR by epoch (lr-policy, Python).

torch's chainable (recursive) formula, stepped like the Rust `lr` plugin with
`type = "CosineAnnealingLR", by_epoch = true`: its cadence is `epoch`, so
the host asks before the first training iteration of each epoch (and the
first of a resumed run); the schedule steps once per new epoch (the first
call is step 0 and keeps the lr), and the lr holds in between. Options: `T_max`
(epochs, required), `eta_min` (default 0). The state (step count, next epoch
to step at) is saved in checkpoints, so a resumed run continues exactly.
"""

import math
import struct

from wit_world import exports
from componentize_py_types import Err
from wit_world.exports import lr_policy
from wit_world.imports import types

import hammer_sdk

# Every call lifts a step-info's phase and mode: make that a tuple lookup.
hammer_sdk.fast_enums(types)

MAGIC = b"HPCO"
VERSION = 1
KNOWN = ("T_max", "eta_min")


class _State:
    def __init__(self):
        self.t_max = None
        self.eta_min = 0.0
        self.base_lr = 0.0
        self.last_step = -1
        self.next_epoch = 0


# componentize-py calls each exported function on an instance of its own:
# the plugin's state lives in this module-level object instead.
_s = _State()


class LrPolicy(exports.LrPolicy):
    def setup(self, options, base_lr, base_momentum):
        opts = hammer_sdk.Options(options, KNOWN)
        _s.t_max = opts.integer("T_max", minimum=1)
        _s.eta_min = opts.number("eta_min", 0.0)
        _s.base_lr = base_lr
        return lr_policy.Cadence.EPOCH

    def _value(self, lr):
        t, tm, eta = _s.last_step, _s.t_max, _s.eta_min
        if t == 0:
            return lr
        if (t - 1 - tm) % (2 * tm) == 0:
            return lr + (_s.base_lr - eta) * (1.0 - math.cos(math.pi / tm)) / 2.0
        return (1.0 + math.cos(math.pi * t / tm)) / (1.0 + math.cos(math.pi * (t - 1) / tm)) * (lr - eta) + eta

    def step(self, info, lr, momentum):
        if _s.t_max is None:
            raise Err("the lr policy was called before `setup`")
        while _s.next_epoch <= info.epoch:
            _s.next_epoch += 1
            _s.last_step += 1
            lr = self._value(lr)
        return lr_policy.Decision(lr=lr, momentum=None)

    def save_state(self):
        return MAGIC + struct.pack("<IqQ", VERSION, _s.last_step, _s.next_epoch)

    def load_state(self, state):
        if not state:
            return
        if len(state) != 24 or state[:4] != MAGIC:
            raise Err("cosine: not a cosine state")
        version, last_step, next_epoch = struct.unpack("<IqQ", state[4:])
        if version != VERSION:
            raise Err(f"cosine: state version {version}, expected {VERSION}")
        _s.last_step, _s.next_epoch = last_step, next_epoch
