"""`probe`: a sandbox probe (hook, Python, for tests). At setup and at the
first `before-train` it tries to read `/etc/hostname` and logs
`read_file: denied (...)` or `read_file: ALLOWED`."""

from wit_world import exports
from wit_world.imports import host, types

import hammer_sdk

# Each call lifts its phase: make enums a tuple lookup.
hammer_sdk.fast_enums(types)


def _try_read():
    try:
        with open("/etc/hostname") as f:
            f.read()
        host.log(host.Level.INFO, "read_file: ALLOWED")
    except Exception as e:
        host.log(host.Level.INFO, f"read_file: denied ({type(e).__name__}: {e})")


class Hook(exports.Hook):
    def setup(self, options):
        _try_read()
        return [types.Subscription(types.Phase.BEFORE_TRAIN, 1)]

    def on_phase(self, phase):
        _try_read()

    def save_state(self):
        return b""

    def load_state(self, state):
        pass
