"""The call shapes of bench/call_shapes/shapes.wit, in Python (componentize-py)."""

from wit_world import exports
from wit_world.imports import host, types

import hammer_sdk

hammer_sdk.fast_enums(types)


class _State:
    def __init__(self):
        self.count = 0
        self.mean = 0.0


_s = _State()


def _spike(loss):
    if _s.count > 0:
        host.emit_scalar("spike/ratio", loss / _s.mean)
    _s.count += 1
    _s.mean += (loss - _s.mean) / _s.count


class Shapes(exports.Shapes):
    def with_info(self, info):
        return

    def with_phase(self, phase):
        return

    def bare(self):
        return

    def spike_info(self, info):
        loss = host.scalar("loss")
        if loss is not None:
            _spike(loss)

    def spike_phase(self, phase):
        loss = host.scalar("loss")
        if loss is not None:
            _spike(loss)

    def spike_loss(self, phase, loss):
        _spike(loss)
