//! `hammer plugin new NAME --kind ... --lang python`: a Python plugin built
//! with `componentize-py` against hammer's WIT.

use std::path::Path;

use anyhow::{Context, Result};

use super::Kind;
use crate::plugin::runtime::INTERFACE_VERSION;

/// Writes `app.py`, `build.sh`, `manifest.toml` and a README into `dir`;
/// `build.sh` builds against the WIT at `wit` with the helpers of `sdk`
/// (`hammer_sdk.py`) on the Python path.
pub(super) fn write(dir: &Path, name: &str, kind: Kind, wit: &Path, sdk: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let write = |file: &str, text: String| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))
    };
    let world = format!("{}-plugin", kind.name());
    let app = match kind {
        Kind::Hook => HOOK,
        Kind::Metric => METRIC,
        Kind::LrPolicy => LR_POLICY,
    };
    write("app.py", format!("\"\"\"`{name}`: a hammer {} plugin in Python.\n{app}", kind.name()))?;
    write(
        "build.sh",
        format!(
            "#!/usr/bin/env bash\n# Builds {name}.wasm with componentize-py.\nset -euo pipefail\n\
             cd \"$(dirname \"$0\")\"\nWIT=\"${{HAMMER_WIT:-{wit}}}\"\nSDK=\"${{HAMMER_PYTHON_SDK:-{sdk}}}\"\n\
             {find}\
             \"$CPY\" -d \"$WIT\" -w {world} componentize app -p . -p \"$SDK\" -o {name}.wasm\n",
            wit = wit.display(),
            sdk = sdk.display(),
            find = FIND_COMPONENTIZE_PY,
        ),
    )?;
    let script = dir.join("build.sh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make `{}` executable", script.display()))?;
    }
    write("manifest.toml", super::manifest(name, kind, "Python"))?;
    write(
        "README.md",
        format!(
            "# {name}\n\nA hammer {kind} plugin in Python, built against `hammer:plugin@{INTERFACE_VERSION}` with\n\
             [componentize-py](https://pypi.org/project/componentize-py/). `build.sh` finds it on `PATH`, or where hammer's\n\
             `make setup` installed it (`~/.cache/hammer/venv/bin`); elsewhere, `pip install componentize-py==0.25.1`\n\
             or set `COMPONENTIZE_PY` to it:\n\n```sh\n./build.sh        # writes {name}.wasm\nhammer train CONFIG --plugin {name}.wasm\n```\n\n\
             To share it, pack the component with `manifest.toml` (name, version, kind, the options' schema):\n\n\
             ```sh\nhammer plugin pack {name}.wasm --manifest manifest.toml --out dist   # dist/{name}-0.1.0.hpkg\n```\n\n\
             Keep the plugin's state in a module-level object: componentize-py calls each\n\
             exported function on an instance of its own (`setup`'s `self` is not `on_phase`'s). `hammer_sdk` (hammer's `sdk/python`, on the build's\n\
             Python path) holds helpers: `hammer_sdk.Options(options, known)` reads `setup`'s options by name\n\
             and type (a mistake is an error naming the option), and `hammer_sdk.fast_enums(types)` makes the\n\
             lifting of every `phase` and `mode` a tuple lookup instead of two Python calls. The component bundles CPython (about 18 MB); hammer\n\
             compiles it once (a few seconds) and then loads it from its cache.\n",
            kind = kind.name()
        ),
    )?;
    Ok(())
}

/// The part of `build.sh` that finds componentize-py: `$COMPONENTIZE_PY`,
/// else on `PATH`, else where hammer's `make setup` installed it (beside
/// `$HAMMER_PYTHON`, or in `~/.cache/hammer/venv`).
const FIND_COMPONENTIZE_PY: &str = r#"CPY="${COMPONENTIZE_PY:-}"
if [[ -z "$CPY" ]]; then
    for candidate in "$(command -v componentize-py || true)" \
        "${HAMMER_PYTHON:+$(dirname "${HAMMER_PYTHON:-}")/componentize-py}" "$HOME/.cache/hammer/venv/bin/componentize-py"; do
        if [[ -n "$candidate" && -x "$candidate" ]]; then CPY="$candidate"; break; fi
    done
fi
if [[ -z "$CPY" ]]; then
    echo "error: componentize-py not found (not on PATH, nor in ~/.cache/hammer/venv/bin where hammer's make setup puts it):" >&2
    echo "       pip install componentize-py==0.25.1, or set COMPONENTIZE_PY to its path" >&2
    exit 1
fi
"#;

const HOOK: &str = r#"
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
"#;

const METRIC: &str = r#"
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
"#;

const LR_POLICY: &str = r#"
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
"#;
