"""`accuracy`: top-1 classification accuracy in percent (metric, Python).

The same results as the Rust `plugins/accuracy` with its default `topk = 1`:
the model's output is `[batch, classes]`; the targets are class indices
`[batch]` (or `[batch, classes]`, reduced with `argmax`). Everything is
computed in the host (`argmax`, `eq`, `sum`, `numel`); no tensor is copied
into the plugin. Reported as `accuracy`.
"""

from wit_world import exports
from componentize_py_types import Err

import hammer_sdk


class _State:
    def __init__(self):
        self.correct = 0.0
        self.total = 0.0


# componentize-py calls each exported function on an instance of its own:
# the plugin's state lives in this module-level object instead.
_s = _State()


class Metric(exports.Metric):
    def setup(self, options):
        hammer_sdk.Options(options, known=())
        self.reset()

    def reset(self):
        _s.correct = 0.0
        _s.total = 0.0

    def process(self, output, targets, loss):
        shape = output.shape()
        if len(shape) != 2:
            raise Err(f"accuracy needs the model's output as [batch, classes], found shape {shape}")
        target_shape = targets.shape()
        if target_shape != [shape[0]] and target_shape != shape:
            raise Err(f"accuracy needs targets of shape [{shape[0]}] or {shape}, found {target_shape}")
        # Handles the host returns are dropped at the end of each `with`.
        with output.argmax(1) as predicted:
            if target_shape == shape:
                with targets.argmax(1) as labels, predicted.eq(labels) as hits:
                    self._count(hits)
            else:
                with predicted.eq(targets) as hits:
                    self._count(hits)

    def _count(self, hits):
        _s.correct += hits.sum()
        _s.total += hits.numel()

    def compute(self):
        if _s.total == 0.0:
            raise Err("accuracy: no sample was processed in this pass")
        return [("accuracy", 100.0 * _s.correct / _s.total)]

    def save_state(self):
        return b""

    def load_state(self, state):
        pass
