"""`spike`: a loss-spike detector (hook, Python).

After every training iteration it reads the host scalar `loss`, emits
`spike/ratio` = loss / running mean (the mean of the finite losses of the
iterations before this one), and asks the runner to stop when the loss is
NaN (or infinite) or larger than `factor` (option, default 10) times the
running mean. The running mean and its count are saved in checkpoints.
"""

import math
import struct

from wit_world import exports
from componentize_py_types import Err
from wit_world.imports import host, types

import hammer_sdk

# Each call lifts its phase: make enums a tuple lookup.
hammer_sdk.fast_enums(types)

MAGIC = b"HPSK"
VERSION = 1
KNOWN = ("factor",)


class _State:
    def __init__(self):
        self.factor = 10.0
        self.count = 0
        self.mean = 0.0


# componentize-py calls each exported function on an instance of its own:
# the plugin's state lives in this module-level object instead.
_s = _State()


class Hook(exports.Hook):
    def setup(self, options):
        _s.factor = hammer_sdk.Options(options, KNOWN).number("factor", 10.0)
        if not _s.factor > 0.0:
            raise Err(f"option `factor` must be positive, found {_s.factor}")
        return [types.Subscription(types.Phase.AFTER_TRAIN_ITER, 1)]

    def on_phase(self, phase):
        loss = host.scalar("loss")
        if loss is None:
            return
        if math.isnan(loss) or math.isinf(loss):
            host.request_stop(f"spike: the loss is {loss} at iteration {host.step().iter}")
            return
        if _s.count > 0:
            ratio = loss / _s.mean if _s.mean != 0.0 else math.inf
            host.emit_scalar("spike/ratio", ratio)
            if loss > _s.factor * _s.mean:
                host.request_stop(
                    f"spike: the loss {loss:.6g} is {ratio:.3g} x its running mean "
                    f"{_s.mean:.6g} (factor {_s.factor:g}) at iteration {host.step().iter}"
                )
        _s.count += 1
        _s.mean += (loss - _s.mean) / _s.count

    def save_state(self):
        return MAGIC + struct.pack("<IQd", VERSION, _s.count, _s.mean)

    def load_state(self, state):
        if not state:
            return
        if len(state) != 24 or state[:4] != MAGIC:
            raise Err("spike: not a spike state")
        version, count, mean = struct.unpack("<IQd", state[4:])
        if version != VERSION:
            raise Err(f"spike: state version {version}, expected {VERSION}")
        _s.count, _s.mean = count, mean
