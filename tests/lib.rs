//! Helpers shared by the integration tests: running the real `hammer`
//! binary and the venv's Python, writing small configs, reading results.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `hammer` binary built beside the test executable
/// (`<target>/debug/deps/all-*` → `<target>/debug/hammer`).
pub fn hammer_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let bin = exe.parent().and_then(Path::parent).expect("target dir").join("hammer");
    assert!(bin.exists(), "{} not found: build it first (`make test` does)", bin.display());
    bin
}

/// Runs `hammer ARGS` in `cwd` and returns its output.
///
/// Plugins named in configs are found in the repository's `plugins/`.
pub fn hammer(cwd: &Path, args: &[&str]) -> Output {
    hammer_command(cwd).args(args).output().expect("running hammer")
}

/// A `hammer` command in `cwd` that finds the repository's plugins by name.
pub fn hammer_command(cwd: &Path) -> Command {
    let mut cmd = Command::new(hammer_bin());
    cmd.current_dir(cwd).env("HAMMER_PLUGIN_PATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins"));
    cmd
}

/// The output of a `hammer` run that must succeed; panics with its stderr otherwise.
pub fn hammer_ok(cwd: &Path, args: &[&str]) -> Output {
    let out = hammer(cwd, args);
    assert!(out.status.success(), "hammer {args:?} failed:\n{}\n{}", stdout(&out), stderr(&out));
    out
}

/// The standard error of a `hammer` run that must fail with exit code 1
/// and a message, not a panic.
pub fn hammer_err(cwd: &Path, args: &[&str]) -> String {
    let out = hammer(cwd, args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "hammer {args:?} should fail cleanly:\n{}\n{err}", stdout(&out));
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The venv's Python with torch (`HAMMER_PYTHON`, as the Makefile sets it,
/// else the default cache location). Tests that compare with PyTorch fail —
/// never skip — when it is missing.
pub fn python() -> PathBuf {
    let path = std::env::var_os("HAMMER_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/hammer/venv/bin/python"));
    assert!(path.exists(), "the venv's python {} is missing: run `make setup`", path.display());
    path
}

/// Runs `script` with the venv's Python and `args`; returns its stdout, panics on failure.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let out = Command::new(python()).arg("-c").arg(script).args(args).output().expect("running python");
    assert!(out.status.success(), "python failed:\n{}", stderr(&out));
    stdout(&out)
}

/// A small, fast version of the tutorial job: `size` training points,
/// `epochs` epochs; `extra` is appended (TOML) to override or add sections.
pub fn tiny_config(dir: &Path, name: &str, size: usize, epochs: u32, extra: &str) -> PathBuf {
    let text = format!(
        r#"
[model]
type = "mlp"
hidden = 16

[train_dataloader]
batch_size = 32
shuffle = true
dataset = {{ type = "two_rings", size = {size}, seed = 0 }}

[val_dataloader]
batch_size = 100
dataset = {{ type = "two_rings", size = 200, seed = 3407 }}

[train_cfg]
max_epochs = {epochs}

[log]
interval = 5

{extra}
"#
    );
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Every JSON object of a work dir's `scalars.jsonl`.
pub fn scalars(work_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(work_dir.join("scalars.jsonl"))
        .expect("scalars.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
        .collect()
}

/// The `model.*` tensors of a checkpoint, by name, as raw f32 values.
pub fn model_weights(checkpoint: &Path) -> Vec<(String, Vec<f32>)> {
    let mut out: Vec<(String, Vec<f32>)> = tch::Tensor::read_safetensors(checkpoint)
        .expect("readable safetensors")
        .into_iter()
        .filter(|(n, _)| n.starts_with("model."))
        .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).expect("f32 weights")))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A test plugin built by `tests/guests/build.sh` (`make test` runs it).
pub fn guest(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("guests/out").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run tests/guests/build.sh (`make test` does)", path.display());
    path
}

/// A first-party plugin built by `plugins/build.sh` (`make` does).
pub fn plugin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run plugins/build.sh (`make` does)", path.display());
    path
}

/// The WIT contract version this hammer implements (`hammer:plugin@X`), as manifests write it.
pub fn interface() -> &'static str {
    hammer::plugin::runtime::INTERFACE_VERSION
}

/// The next minor version of the contract, which `tests/guests`' `future_version` is built against.
pub fn future_interface() -> String {
    let v = semver_parts(interface());
    format!("{}.{}.0", v.0, v.1 + 1)
}

fn semver_parts(version: &str) -> (u64, u64) {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().expect("a numeric version"));
    (parts.next().unwrap(), parts.next().unwrap())
}
