
Percentage of samples whose top-scoring class is the target, computed on the
host through tensor handles.
"""

from wit_world import exports

import hammer_sdk


class _State:
    correct = 0.0
    total = 0.0


# componentize-py calls each exported function on an instance of its own:
# keep state in a module-level object.
_s = _State()


class Metric(exports.Metric):
    def setup(self, options):
        hammer_sdk.Options(options, known=())  # Refuses any option.

    def reset(self):
        _s.correct, _s.total = 0.0, 0.0

    def process(self, output, targets, loss):
        with output.argmax(1) as predicted, predicted.eq(targets) as hits:
            _s.correct += hits.sum()
            _s.total += hits.numel()

    def compute(self):
        return [("my_accuracy", 100.0 * _s.correct / _s.total if _s.total else 0.0)]

    def save_state(self):
        return b""

    def load_state(self, state):
        pass
