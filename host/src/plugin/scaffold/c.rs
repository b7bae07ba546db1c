//! `hammer plugin new NAME --kind ... --lang c`: a C plugin compiled by clang
//! for wasm32-wasi (wasi-libc) and wrapped into a component by `wasm-tools
//! component new` with the WASI preview-1 adapter, the toolchain `make setup`
//! installs (polyglot/c/setup.sh).

use std::path::Path;

use anyhow::{Context, Result};

use super::Kind;
use crate::plugin::runtime::INTERFACE_VERSION;

/// Writes `plugin.c`, `build.sh`, `manifest.toml`, a README and a `.gitignore` into `dir`.
pub(super) fn write(dir: &Path, name: &str, kind: Kind, wit: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let write = |file: &str, text: String| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))
    };
    let (what, code) = match kind {
        Kind::Hook => (HOOK_DOC, format!("{STRING_IS}{HOOK}")),
        Kind::Metric => (METRIC_DOC, METRIC.to_string()),
        Kind::LrPolicy => (LR_POLICY_DOC, format!("{STRING_IS}{LR_POLICY}")),
    };
    // The exports' names: `exports_hammer_plugin_<interface>_...`.
    let state = STATE.replace("@IFACE@", &kind.name().replace('-', "_"));
    write("plugin.c", format!("/*\n * `{name}`: a hammer {} plugin in C.\n *\n{what}{COMMON}{code}{state}", kind.name()))?;
    write(
        "build.sh",
        BUILD_SH
            .replace("@NAME@", name)
            .replace("@WORLD@", &format!("{}-plugin", kind.name()))
            .replace("@WIT@", &wit.display().to_string()),
    )?;
    let script = dir.join("build.sh");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("cannot make `{}` executable", script.display()))?;
    }
    write("manifest.toml", super::manifest(name, kind, "C"))?;
    write("README.md", README.replace("@NAME@", name).replace("@KIND@", kind.name()).replace("@INTERFACE@", INTERFACE_VERSION))?;
    write(".gitignore", "/build/\n/*.wasm\n/dist/\n".into())?;
    Ok(())
}

/// What `hammer plugin pack` puts beside the component: the plugin's name,
/// kind, interface version and the schema of the options its `plugin.c` reads.
/// The top of every `plugin.c`, after its description: ownership rules and
/// the helper every kind uses.
const COMMON: &str = include_str!("templates/c/common.c");

/// The end of every `plugin.c`: an empty state (`@IFACE@`: the interface).
const STATE: &str = include_str!("templates/c/state.c");

/// For the kinds that take options: a key compared with a name.
const STRING_IS: &str = include_str!("templates/c/string_is.c");

/// What the hook does (the top comment of its `plugin.c`).
const HOOK_DOC: &str = " * Logs the loss every `every` training iterations (option, default 100).\n";

/// The hook: its options and the phase it is called at.
const HOOK: &str = include_str!("templates/c/hook.c");

/// What the metric does.
const METRIC_DOC: &str = " * Percentage of samples whose top-scoring class is the target, computed on\n * the host through tensor handles, reported as `my_accuracy`.\n";

/// The metric: its tensor work on the host.
const METRIC: &str = include_str!("templates/c/metric.c");

/// What the lr policy does.
const LR_POLICY_DOC: &str = " * Multiplies the learning rate by `gamma` (option, default 0.9) at the start\n * of every epoch.\n";

/// The lr policy: its option and step.
const LR_POLICY: &str = include_str!("templates/c/lr_policy.c");

const BUILD_SH: &str = include_str!("templates/c/build.sh");

const README: &str = include_str!("templates/c/README.md");
