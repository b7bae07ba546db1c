//! `hammer plugin new` makes a plugin of each kind, in each language, that
//! builds, packs and loads as it is.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hammer_tests::{hammer_err, hammer_ok, stdout, tiny_config};

/// Scaffolds a hook, a metric and an lr policy named `<prefix>-<kind>` in
/// `lang`, builds each with `build` (given the plugin's directory, returns
/// its component), packs the one of kind `pack` as its README says, and
/// trains a job with all three: each loads, the metric reports, the policy
/// multiplies the lr by 0.9 at every new epoch.
fn scaffold_build_and_train(dir: &Path, lang: &str, prefix: &str, pack: &str, build: impl Fn(&Path) -> PathBuf) {
    let mut args = vec!["train".to_string(), String::new(), "--work-dir".into(), "w".into()];
    for kind in ["hook", "metric", "lr-policy"] {
        let name = format!("{prefix}-{kind}");
        hammer_ok(dir, &["plugin", "new", &name, "--kind", kind, "--lang", lang]);
        let wasm = build(&dir.join(&name));
        assert!(wasm.is_file(), "{name} does not build: no {}", wasm.display());
        args.extend(["--plugin".into(), wasm.to_str().unwrap().into()]);
    }
    let crate_name = format!("{prefix}_{}", pack.replace('-', "_"));
    let plugin_dir = dir.join(format!("{prefix}-{pack}"));
    let wasm = format!("{crate_name}.wasm");
    let out = stdout(&hammer_ok(&plugin_dir, &["plugin", "pack", &wasm, "--manifest", "manifest.toml", "--out", "dist"]));
    let bundle = format!("{crate_name}-0.1.0.hpkg");
    assert!(out.trim_end().ends_with(&bundle), "{out}");
    assert!(plugin_dir.join("dist").join(&bundle).is_file());

    args[1] = tiny_config(dir, "job.toml", 320, 2, "").to_str().unwrap().into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = stdout(&hammer_ok(dir, &args));
    for (kind, shown) in [("hook", "hook"), ("metric", "metric"), ("lr_policy", "lr-policy")] {
        assert!(log.contains(&format!("Loaded plugin `{prefix}_{kind}` ({shown}")), "{log}");
    }
    assert!(log.contains("my_accuracy: "), "{log}");
    assert!(log.contains("Epoch(train) [2][10/10]  lr: 9.0000e-04"), "{log}");
}

/// The variables through which a scaffold's `build.sh` may be pointed at a
/// toolchain; the discovery tests clear them to see it find one by itself.
const TOOLCHAIN_VARS: &[&str] = &["COMPONENTIZE_PY", "HAMMER_PYTHON", "NODE_BIN", "HAMMER_JS_TOOLCHAIN"];

/// Runs a scaffolded plugin's `build.sh` with `env`; the component it writes.
fn build_sh(plugin: &Path, env: &[(&str, &Path)]) -> PathBuf {
    let mut command = Command::new(plugin.join("build.sh"));
    for var in TOOLCHAIN_VARS {
        command.env_remove(var);
    }
    let status = command.envs(env.iter().map(|(k, v)| (*k, *v))).stdout(Stdio::null()).status().unwrap();
    assert!(status.success(), "{}/build.sh failed", plugin.display());
    let name = plugin.file_name().unwrap().to_string_lossy().replace('-', "_");
    plugin.join(format!("{name}.wasm"))
}

/// A toolchain directory from `var` (the Makefile exports it), else its
/// default under `~/.cache/hammer`; fails — never skips — when `needed` is missing.
fn toolchain(var: &str, default: &str, needed: &[&str]) -> PathBuf {
    let dir = std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var("HOME").unwrap()).join(".cache/hammer").join(default));
    for tool in needed {
        assert!(dir.join(tool).exists(), "{} is missing: run `make setup`", dir.join(tool).display());
    }
    dir
}

#[test]
fn scaffolded_rust_plugins_build_pack_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    // Outside the temporary directory, so dependencies build once per machine.
    let target = Path::new(&std::env::var("HOME").unwrap()).join(".cache/hammer/wasm-target/scaffold");
    scaffold_build_and_train(tmp.path(), "rust", "my", "hook", |plugin| {
        let built = Command::new("cargo")
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
            .current_dir(plugin)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap();
        assert!(built.success(), "{} does not build", plugin.display());
        let name = plugin.file_name().unwrap().to_string_lossy().replace('-', "_");
        let wasm = target.join(format!("wasm32-wasip2/release/{name}.wasm"));
        // `plugin pack` reads the component beside its manifest, as the README says.
        std::fs::copy(&wasm, plugin.join(format!("{name}.wasm"))).unwrap();
        wasm
    });
    let err = hammer_err(tmp.path(), &["plugin", "new", "my-hook", "--kind", "hook"]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn scaffolded_python_plugins_build_pack_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let componentize = hammer_tests::python().with_file_name("componentize-py");
    assert!(componentize.exists(), "{} is missing: run `make setup`", componentize.display());
    // Where `make setup` installs it, as `build.sh` looks for it with nothing
    // set (issue 20: it needed COMPONENTIZE_PY): a home whose cache holds it.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(home.join(".cache/hammer/venv/bin")).unwrap();
    std::os::unix::fs::symlink(&componentize, home.join(".cache/hammer/venv/bin/componentize-py")).unwrap();
    let path = std::ffi::OsString::from("/usr/local/bin:/usr/bin:/bin");
    let scaffold = tmp.path().join("scaffold");
    std::fs::create_dir(&scaffold).unwrap();
    scaffold_build_and_train(&scaffold, "python", "py", "metric", |plugin| {
        build_sh(plugin, &[("HOME", &home), ("PATH", Path::new(&path))])
    });
    // With none to be found, the error says what to set.
    hammer_ok(tmp.path(), &["plugin", "new", "lost", "--kind", "hook", "--lang", "python"]);
    let out = Command::new(tmp.path().join("lost/build.sh"))
        .env_clear()
        .env("HOME", tmp.path().join("nowhere"))
        .env("PATH", &path)
        .output()
        .unwrap();
    let err = hammer_tests::stderr(&out);
    assert!(!out.status.success() && err.contains("componentize-py not found") && err.contains("COMPONENTIZE_PY"), "{err}");
}

#[test]
fn scaffolded_js_plugins_build_pack_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    // jco and componentize-js as polyglot/js/setup.sh installs them.
    let node = toolchain("HAMMER_JS_TOOLCHAIN", "node", &["node_modules/.bin/jco", "node_modules/.bin/componentize-js"]);
    // `build.sh` finds the tools `make setup` installed, with nothing set
    // but hammer's own variable (issue 20: it needed NODE_BIN).
    scaffold_build_and_train(tmp.path(), "js", "js", "hook", |plugin| build_sh(plugin, &[("HAMMER_JS_TOOLCHAIN", &node)]));
}

#[test]
fn scaffolded_c_plugins_build_pack_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    // wit-bindgen, wasm-tools and the WASI adapter as polyglot/c/setup.sh installs them.
    let tools = toolchain("HAMMER_C_TOOLCHAIN", "tools", &["bin/wit-bindgen", "bin/wasm-tools", "lib/wasi_snapshot_preview1.reactor.wasm"]);
    scaffold_build_and_train(tmp.path(), "c", "c", "lr-policy", |plugin| build_sh(plugin, &[("HAMMER_C_TOOLCHAIN", &tools)]));
    // The host's headers are out of reach: a Linux header is not found,
    // rather than found, compiled for the wrong system and failed at link.
    let plugin = tmp.path().join("c-hook");
    let source = std::fs::read_to_string(plugin.join("plugin.c")).unwrap();
    std::fs::write(plugin.join("plugin.c"), format!("#include <linux/types.h>\n{source}")).unwrap();
    let out = Command::new(plugin.join("build.sh")).env("HAMMER_C_TOOLCHAIN", &tools).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("'linux/types.h' file not found"), "{err}");
    // 128-bit arithmetic links (compiler-rt's stack-protector symbols are defined).
    let wide = "__attribute__((used)) long long wide_mod(long long a, long long b) {\n    \
                return (long long)((unsigned __int128)a * (unsigned __int128)b % 1000003u);\n}\n";
    std::fs::write(plugin.join("plugin.c"), format!("{source}{wide}")).unwrap();
    let out = Command::new(plugin.join("build.sh")).env("HAMMER_C_TOOLCHAIN", &tools).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
