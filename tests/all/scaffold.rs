//! `hammer plugin new` makes a plugin of each kind that builds and loads as it is.

use std::process::Command;

use hammer_tests::{hammer_err, hammer_ok, stdout, tiny_config};

#[test]
fn scaffolded_plugins_build_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let home = std::env::var("HOME").unwrap();
    // Outside the temporary directory, so dependencies build once per machine.
    let target = std::path::Path::new(&home).join(".cache/hammer/wasm-target/scaffold");
    let mut args = vec!["train".to_string(), String::new(), "--work-dir".into(), "w".into()];
    for kind in ["hook", "metric", "lr-policy"] {
        let name = format!("my-{kind}");
        hammer_ok(tmp.path(), &["plugin", "new", &name, "--kind", kind]);
        let built = Command::new("cargo")
            .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2"])
            .current_dir(tmp.path().join(&name))
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .unwrap();
        assert!(built.success(), "{name} does not build");
        let wasm = target.join(format!("wasm32-wasip2/release/{}.wasm", name.replace('-', "_")));
        args.extend(["--plugin".into(), wasm.to_str().unwrap().into()]);
    }
    args[1] = tiny_config(tmp.path(), "job.toml", 320, 2, "").to_str().unwrap().into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = stdout(&hammer_ok(tmp.path(), &args));
    for loaded in ["`my_hook` (hook", "`my_metric` (metric", "`my_lr_policy` (lr-policy"] {
        assert!(log.contains(&format!("Loaded plugin {loaded}")), "{log}");
    }
    assert!(log.contains("my_accuracy: "), "{log}");
    // The scaffolded policy multiplies the lr by 0.9 at every new epoch.
    assert!(log.contains("Epoch(train) [2][10/10]  lr: 9.0000e-04"), "{log}");

    let err = hammer_err(tmp.path(), &["plugin", "new", "my-hook", "--kind", "hook"]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn scaffolded_python_plugins_build_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let componentize = hammer_tests::python().with_file_name("componentize-py");
    assert!(componentize.exists(), "{} is missing: run `make setup`", componentize.display());
    let mut args = vec!["train".to_string(), String::new(), "--work-dir".into(), "w".into()];
    for kind in ["hook", "metric", "lr-policy"] {
        let name = format!("py-{kind}");
        hammer_ok(tmp.path(), &["plugin", "new", &name, "--kind", kind, "--lang", "python"]);
        let built = Command::new(tmp.path().join(&name).join("build.sh"))
            .env("COMPONENTIZE_PY", &componentize)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(built.success(), "{name} does not build");
        let wasm = tmp.path().join(&name).join(format!("{}.wasm", name.replace('-', "_")));
        args.extend(["--plugin".into(), wasm.to_str().unwrap().into()]);
    }
    args[1] = tiny_config(tmp.path(), "job.toml", 320, 2, "").to_str().unwrap().into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = stdout(&hammer_ok(tmp.path(), &args));
    for loaded in ["`py_hook` (hook", "`py_metric` (metric", "`py_lr_policy` (lr-policy"] {
        assert!(log.contains(&format!("Loaded plugin {loaded}")), "{log}");
    }
    assert!(log.contains("my_accuracy: "), "{log}");
    assert!(log.contains("Epoch(train) [2][10/10]  lr: 9.0000e-04"), "{log}");
}

/// The JavaScript tools (jco, componentize-js) as `make setup` installs them
/// (polyglot/js/setup.sh, into `$CACHE/node`, which the Makefile exports as
/// `HAMMER_JS_TOOLCHAIN`).
fn js_tools() -> std::path::PathBuf {
    let toolchain = std::env::var_os("HAMMER_JS_TOOLCHAIN").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::Path::new(&std::env::var("HOME").unwrap()).join(".cache/hammer/node")
    });
    toolchain.join("node_modules/.bin")
}

#[test]
fn scaffolded_js_plugins_build_pack_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let bin = js_tools();
    for tool in ["jco", "componentize-js"] {
        assert!(bin.join(tool).exists(), "{} is missing: run `make setup`", bin.join(tool).display());
    }
    let mut args = vec!["train".to_string(), String::new(), "--work-dir".into(), "w".into()];
    for kind in ["hook", "metric", "lr-policy"] {
        let name = format!("js-{kind}");
        hammer_ok(tmp.path(), &["plugin", "new", &name, "--kind", kind, "--lang", "js"]);
        let built = Command::new(tmp.path().join(&name).join("build.sh"))
            .env("NODE_BIN", &bin)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(built.success(), "{name} does not build");
        let wasm = tmp.path().join(&name).join(format!("{}.wasm", name.replace('-', "_")));
        args.extend(["--plugin".into(), wasm.to_str().unwrap().into()]);
    }
    // Its README's packing step works with the manifest it was given.
    let out = stdout(&hammer_ok(
        &tmp.path().join("js-hook"),
        &["plugin", "pack", "js_hook.wasm", "--manifest", "manifest.toml", "--out", "dist"],
    ));
    assert!(out.trim_end().ends_with("js_hook-0.1.0.hpkg"), "{out}");
    assert!(tmp.path().join("js-hook/dist/js_hook-0.1.0.hpkg").is_file());

    args[1] = tiny_config(tmp.path(), "job.toml", 320, 2, "").to_str().unwrap().into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = stdout(&hammer_ok(tmp.path(), &args));
    for loaded in ["`js_hook` (hook", "`js_metric` (metric", "`js_lr_policy` (lr-policy"] {
        assert!(log.contains(&format!("Loaded plugin {loaded}")), "{log}");
    }
    assert!(log.contains("my_accuracy: "), "{log}");
    assert!(log.contains("Epoch(train) [2][10/10]  lr: 9.0000e-04"), "{log}");
}

/// The C toolchain's directory as `make setup` fills it (polyglot/c/setup.sh,
/// `$CACHE/tools`, which the Makefile exports as `HAMMER_C_TOOLCHAIN`).
fn c_toolchain() -> std::path::PathBuf {
    std::env::var_os("HAMMER_C_TOOLCHAIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(&std::env::var("HOME").unwrap()).join(".cache/hammer/tools"))
}

#[test]
fn scaffolded_c_plugins_build_pack_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let tools = c_toolchain();
    for tool in ["bin/wit-bindgen", "bin/wasm-tools", "lib/wasi_snapshot_preview1.reactor.wasm"] {
        assert!(tools.join(tool).exists(), "{} is missing: run `make setup`", tools.join(tool).display());
    }
    let mut args = vec!["train".to_string(), String::new(), "--work-dir".into(), "w".into()];
    for kind in ["hook", "metric", "lr-policy"] {
        let name = format!("c-{kind}");
        hammer_ok(tmp.path(), &["plugin", "new", &name, "--kind", kind, "--lang", "c"]);
        let built = Command::new(tmp.path().join(&name).join("build.sh"))
            .env("HAMMER_C_TOOLCHAIN", &tools)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(built.success(), "{name} does not build");
        let wasm = tmp.path().join(&name).join(format!("{}.wasm", name.replace('-', "_")));
        args.extend(["--plugin".into(), wasm.to_str().unwrap().into()]);
    }
    // Its README's packing step works with the manifest it was given.
    let out = stdout(&hammer_ok(
        &tmp.path().join("c-lr-policy"),
        &["plugin", "pack", "c_lr_policy.wasm", "--manifest", "manifest.toml", "--out", "dist"],
    ));
    assert!(out.trim_end().ends_with("c_lr_policy-0.1.0.hpkg"), "{out}");
    assert!(tmp.path().join("c-lr-policy/dist/c_lr_policy-0.1.0.hpkg").is_file());

    args[1] = tiny_config(tmp.path(), "job.toml", 320, 2, "").to_str().unwrap().into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let log = stdout(&hammer_ok(tmp.path(), &args));
    for loaded in ["`c_hook` (hook", "`c_metric` (metric", "`c_lr_policy` (lr-policy"] {
        assert!(log.contains(&format!("Loaded plugin {loaded}")), "{log}");
    }
    assert!(log.contains("my_accuracy: "), "{log}");
    assert!(log.contains("Epoch(train) [2][10/10]  lr: 9.0000e-04"), "{log}");
}
