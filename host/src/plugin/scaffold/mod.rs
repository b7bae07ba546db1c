//! `hammer plugin new NAME --kind ...`: a plugin crate that builds and
//! loads as it is, to start from.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::Kind;
use crate::plugin::runtime::INTERFACE_VERSION;

mod c;
mod js;
mod python;

/// The language of a scaffolded plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Rust, on hammer's SDK (`cargo build --target wasm32-wasip2`).
    Rust,
    /// Python, built with `componentize-py`.
    Python,
    /// JavaScript, built with jco (QuickJS; `componentize-js` for metrics).
    Js,
    /// C, compiled by clang for wasm32-wasi and wrapped by `wasm-tools component new`.
    C,
}

/// The WIT contract this hammer was built with (`wit/` in the repository).
pub fn default_wit_path() -> PathBuf {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("wit");
    wit.canonicalize().unwrap_or(wit)
}

/// The SDK this hammer was built with (`sdk/` beside `host/` in the repository).
pub fn default_sdk_path() -> PathBuf {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("sdk");
    sdk.canonicalize().unwrap_or(sdk)
}

/// Writes a new plugin crate `dir` (named after its last component) of
/// `kind`, depending on the SDK at `sdk`.
///
/// # Errors
/// `dir` exists already, its name is not a valid crate name, or a write fails.
pub fn new_plugin(dir: &Path, kind: Kind, sdk: &Path) -> Result<()> {
    new_plugin_in(dir, kind, Lang::Rust, sdk)
}

/// Writes a new plugin `dir` of `kind` in `lang`; a Rust crate depends on the
/// SDK at `sdk`, a Python, JavaScript or C plugin builds against the WIT beside it.
///
/// # Errors
/// As [`new_plugin`].
pub fn new_plugin_in(dir: &Path, kind: Kind, lang: Lang, sdk: &Path) -> Result<()> {
    let name = dir.file_name().and_then(|n| n.to_str()).context("the plugin needs a directory name")?;
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        bail!("`{name}` is not a valid plugin name: use letters, digits, `_` and `-`");
    }
    if dir.exists() {
        bail!("`{}` already exists", dir.display());
    }
    let crate_name = name.replace('-', "_");
    if lang == Lang::Python {
        return python::write(dir, &crate_name, kind, &sdk.with_file_name("wit"), &sdk.join("python"));
    }
    if lang == Lang::Js {
        return js::write(dir, &crate_name, kind, &sdk.with_file_name("wit"));
    }
    if lang == Lang::C {
        return c::write(dir, &crate_name, kind, &sdk.with_file_name("wit"));
    }
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let write = |file: &str, text: String| -> Result<()> {
        let path = dir.join(file);
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))
    };
    write("Cargo.toml", cargo_toml(name, kind, sdk))?;
    write("src/lib.rs", lib_rs(&crate_name, kind))?;
    write("manifest.toml", manifest(&crate_name, kind, "Rust"))?;
    write("README.md", readme(name, &crate_name, kind))?;
    write(".gitignore", "/target\n".into())?;
    Ok(())
}

/// The bundle manifest every scaffolded plugin starts with (`hammer plugin
/// pack COMPONENT --manifest manifest.toml`): its name, version 0.1.0, kind,
/// the interface it was written against, and the schema of the options the
/// scaffolded code reads (the same in every language).
pub(super) fn manifest(name: &str, kind: Kind, language: &str) -> String {
    let options = match kind {
        Kind::Hook => {
            "\n[options.every]\ntype = \"integer\"\ndefault = 100\ndoc = \"Log the loss every this many training iterations.\"\n"
        }
        Kind::Metric => "",
        Kind::LrPolicy => {
            "\n[options.gamma]\ntype = \"float\"\ndefault = 0.9\ndoc = \"The factor the lr is multiplied by at the start of every epoch.\"\n"
        }
    };
    format!(
        "# What `hammer plugin pack` puts beside the component (see the README).\nname = \"{name}\"\n\
         version = \"0.1.0\"\nkind = \"{kind}\"\ninterface = \"{INTERFACE_VERSION}\"\n\
         description = \"A hammer {kind} plugin in {language}\"\n{options}",
        kind = kind.name()
    )
}

fn cargo_toml(name: &str, kind: Kind, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
description = "A hammer {kind} plugin"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
crate-type = ["cdylib"]

[dependencies]
hammer-sdk = {{ path = "{sdk}" }}

# A workspace of its own, so the plugin builds wherever it is.
[workspace]

[profile.release]
opt-level = "s"
lto = true
# Keep function names: traps then show a readable guest backtrace.
strip = "debuginfo"
"#,
        kind = kind.name(),
        sdk = sdk.display()
    )
}

fn lib_rs(crate_name: &str, kind: Kind) -> String {
    let body = match kind {
        Kind::Hook => HOOK,
        Kind::Metric => METRIC,
        Kind::LrPolicy => LR_POLICY,
    };
    format!("//! `{crate_name}`: a hammer {} plugin.\n{body}", kind.name())
}

const HOOK: &str = include_str!("templates/rust/hook.rs");

const METRIC: &str = include_str!("templates/rust/metric.rs");

const LR_POLICY: &str = include_str!("templates/rust/lr_policy.rs");

fn readme(name: &str, crate_name: &str, kind: Kind) -> String {
    format!(
        r#"# {name}

A hammer {kind} plugin, written against the SDK (`hammer-sdk`) and the WIT
contract `hammer:plugin@{INTERFACE_VERSION}`.

Build the component (`rustup target add wasm32-wasip2` once):

```sh
cargo build --release --target wasm32-wasip2
```

and use it:

```sh
hammer train CONFIG --plugin target/wasm32-wasip2/release/{crate_name}.wasm
```

or, with options and limits, in the config:

```toml
[[plugins]]
path = "target/wasm32-wasip2/release/{crate_name}.wasm"
priority = 50           # 0 first, 100 last
on_error = "abort"      # or "disable"
timeout_ms = 1000
memory_mb = 256
options = {{ }}         # what `setup` reads
```

To share it, pack the component with `manifest.toml` (name, version, kind, the options'
schema) into one verifiable bundle:

```sh
cp target/wasm32-wasip2/release/{crate_name}.wasm .
hammer plugin pack {crate_name}.wasm --manifest manifest.toml --out dist   # dist/{crate_name}-0.1.0.hpkg
hammer plugin install dist/{crate_name}-0.1.0.hpkg                      # then `name = "{crate_name}"` in a config
```
"#,
        kind = kind.name()
    )
}
