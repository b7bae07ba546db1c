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
const FIND_COMPONENTIZE_PY: &str = include_str!("templates/python/find_componentize_py.py");

const HOOK: &str = include_str!("templates/python/hook.py");

const METRIC: &str = include_str!("templates/python/metric.py");

const LR_POLICY: &str = include_str!("templates/python/lr_policy.py");
