//! `hammer plugin ...`: scaffold, pack, inspect, install, list, remove and
//! verify plugin bundles.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use semver::{Version, VersionReq};

use crate::bundle::{self, Bundle, Outcome, Store};
use crate::plugin::runtime::INTERFACE_VERSION;
use crate::plugin::{scaffold, Kind, Runtime};

/// `hammer plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin (Rust, Python, JavaScript or C) that builds, packs and loads as it is.
    New {
        /// Directory of the new plugin; its last component is the plugin's name.
        name: PathBuf,
        /// The world the plugin targets.
        #[arg(long, value_enum)]
        kind: KindArg,
        /// The language: a Rust crate on hammer's SDK, Python (componentize-py), JavaScript
        /// (jco: QuickJS for hooks and lr policies, componentize-js for metrics) or C (clang,
        /// wasi-libc, wit-bindgen, wasm-tools).
        #[arg(long, value_enum, default_value = "rust")]
        lang: LangArg,
        /// The SDK to depend on (default: the one this hammer was built with);
        /// a Python, JavaScript or C plugin builds against the `wit/` beside it.
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Pack a component and its manifest into a bundle, `<name>-<version>.hpkg`.
    Pack {
        /// The component (`.wasm`).
        component: PathBuf,
        /// The manifest (TOML: name, version, kind, interface, capabilities, options).
        #[arg(long)]
        manifest: PathBuf,
        /// Directory to write the bundle into.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Show a bundle's manifest, capabilities first.
    Info {
        /// The bundle (`.hpkg`), or `NAME[@VERSION-REQ]` in the store.
        bundle: String,
    },
    /// Verify a bundle and install it into the store ($HAMMER_HOME, default ~/.hammer).
    Install {
        /// The bundles (`.hpkg`).
        #[arg(required = true)]
        bundles: Vec<PathBuf>,
        /// Replace an installed bundle of the same name and version with different content.
        #[arg(long)]
        force: bool,
    },
    /// List the installed bundles.
    List,
    /// Remove an installed bundle (every version, or one).
    Remove {
        /// The plugin's name.
        name: String,
        /// Only this version.
        version: Option<String>,
    },
    /// Re-hash everything in the store; non-zero exit when something is damaged.
    Verify,
}

/// A plugin language on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LangArg {
    /// Rust, on hammer's SDK.
    Rust,
    /// Python, built with componentize-py.
    Python,
    /// JavaScript, built with jco (QuickJS; componentize-js for metrics).
    Js,
    /// C, built with clang for wasm32-wasi and wasm-tools.
    C,
}

/// A plugin kind on the command line.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum KindArg {
    /// A controller called at the phases it subscribes to.
    Hook,
    /// A metric of the validation and test loops.
    Metric,
    /// A learning-rate policy.
    LrPolicy,
}

/// Runs a `hammer plugin` command.
///
/// # Errors
/// Whatever the command reports, as one paragraph.
pub fn run(command: PluginCommand) -> Result<()> {
    match command {
        PluginCommand::New { name, kind, lang, sdk } => {
            let kind = match kind {
                KindArg::Hook => Kind::Hook,
                KindArg::Metric => Kind::Metric,
                KindArg::LrPolicy => Kind::LrPolicy,
            };
            let lang = match lang {
                LangArg::Rust => scaffold::Lang::Rust,
                LangArg::Python => scaffold::Lang::Python,
                LangArg::Js => scaffold::Lang::Js,
                LangArg::C => scaffold::Lang::C,
            };
            scaffold::new_plugin_in(&name, kind, lang, &sdk.unwrap_or_else(scaffold::default_sdk_path))?;
            println!("Created the {} plugin `{}`; see its README.md to build and use it.", kind.name(), name.display());
        }
        PluginCommand::Pack { component, manifest, out } => {
            let bytes = std::fs::read(&component).with_context(|| format!("cannot read `{}`", component.display()))?;
            let text = std::fs::read_to_string(&manifest).with_context(|| format!("cannot read `{}`", manifest.display()))?;
            let (kind, interface) =
                Runtime::shared()?.inspect(&bytes).with_context(|| format!("`{}`", component.display()))?;
            let bundle = bundle::pack(&text, &bytes, kind.name(), &interface)
                .with_context(|| format!("cannot pack `{}` with `{}`", component.display(), manifest.display()))?;
            if let Some(warning) = pack_mismatch(&component, &manifest, &bundle.manifest.name) {
                eprintln!("warning: {warning}");
            }
            std::fs::create_dir_all(&out).with_context(|| format!("cannot create `{}`", out.display()))?;
            let path = out.join(bundle.file_name());
            bundle.write(&path)?;
            println!("{}", path.display());
        }
        PluginCommand::Info { bundle } => {
            let manifest = if bundle.ends_with(&format!(".{}", bundle::EXTENSION)) {
                Bundle::read(std::path::Path::new(&bundle))?.manifest
            } else {
                let (name, req) = bundle.split_once('@').unwrap_or((&bundle, "*"));
                let req = VersionReq::parse(req).with_context(|| format!("`{req}` is not a semver requirement"))?;
                Store::open_default()?.resolve(name, &req, INTERFACE_VERSION)?.manifest
            };
            print!("{}", manifest.info());
        }
        PluginCommand::Install { bundles, force } => {
            let store = Store::open_default()?;
            for path in bundles {
                let bundle = Bundle::read(&path)?;
                let (kind, interface) = Runtime::shared()?.inspect(&bundle.component)?;
                bundle.manifest.check_component(kind.name(), &interface).with_context(|| format!("`{}`", path.display()))?;
                let done = store.install(&bundle, force)?;
                let what = match done.outcome {
                    Outcome::Installed => "Installed",
                    Outcome::AlreadyInstalled => "Already installed",
                    Outcome::Replaced => "Replaced",
                    Outcome::Repaired => "Repaired",
                };
                println!("{what} {} into `{}`", bundle.manifest.id(), done.installed.path.display());
            }
        }
        PluginCommand::List => {
            let store = Store::open_default()?;
            let installed = store.list()?;
            if installed.is_empty() {
                println!("No bundles in `{}`.", store.dir().display());
            }
            for i in installed {
                let m = &i.manifest;
                println!("{:<20} {:<12} {:<10} hammer:plugin@{:<8} {}", m.name, m.version, m.kind.name(), m.interface, m.description);
            }
        }
        PluginCommand::Remove { name, version } => {
            let version = version
                .map(|v| Version::parse(&v).with_context(|| format!("`{v}` is not a version")))
                .transpose()?;
            let removed = Store::open_default()?.remove(&name, version.as_ref())?;
            let list: Vec<String> = removed.iter().map(ToString::to_string).collect();
            println!("Removed {name} {}", list.join(", "));
        }
        PluginCommand::Verify => {
            let store = Store::open_default()?;
            let problems = store.verify()?;
            for p in &problems {
                println!("{p}");
            }
            if !problems.is_empty() {
                bail!("{} problem(s) in the store `{}`; reinstall the damaged bundles", problems.len(), store.dir().display());
            }
            println!("The store `{}` is intact ({} bundles).", store.dir().display(), store.list()?.len());
        }
    }
    Ok(())
}

/// A warning when the component looks like another plugin's than the
/// manifest's: neither named after it nor inside the manifest's directory
/// (`hammer plugin pack chook.wasm --manifest myhook/manifest.toml`).
fn pack_mismatch(component: &std::path::Path, manifest: &std::path::Path, name: &str) -> Option<String> {
    let normal = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    let stem = component.file_stem().map(|s| normal(&s.to_string_lossy())).unwrap_or_default();
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let manifest_dir = absolute(manifest).parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let inside = absolute(component).starts_with(&manifest_dir) && manifest_dir.parent().is_some();
    if stem == normal(name) || inside {
        return None;
    }
    Some(format!(
        "`{}` is packed as plugin `{name}` (the name in `{}`), but it is not named after it nor beside that manifest; \
         check that this is the component you mean",
        component.display(),
        manifest.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::pack_mismatch;
    use std::path::Path;

    #[test]
    fn a_component_packed_under_another_plugins_manifest_is_warned_about() {
        let w = pack_mismatch(Path::new("chook.wasm"), Path::new("myhook/manifest.toml"), "myhook").expect("a mismatch");
        assert!(w.contains("chook.wasm") && w.contains("`myhook`"), "{w}");
        assert_eq!(pack_mismatch(Path::new("out/my_hook.wasm"), Path::new("myhook/manifest.toml"), "my-hook"), None);
        assert_eq!(pack_mismatch(Path::new("myhook/target/x.wasm"), Path::new("myhook/manifest.toml"), "myhook"), None);
    }
}
