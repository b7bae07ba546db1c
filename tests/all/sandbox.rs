//! Plugins are sandboxed: no file system, environment, network or clock,
//! randomness seeded by the host; bounded time and memory; and a plugin that fails is reported by name and
//! phase, and either stops the run (after a checkpoint) or is dropped.

use std::path::Path;

use hammer_tests::{guest, hammer, hammer_command, hammer_err, hammer_ok, model_weights, stdout, tiny_config};

/// A config training 2 epochs of 10 iterations with `misbehave` doing `action`
/// from iteration `from`.
fn misbehaving(dir: &Path, action: &str, on_error: &str, from: u64) -> String {
    let extra = format!(
        "[[plugins]]\npath = \"{}\"\non_error = \"{on_error}\"\ntimeout_ms = 300\nmemory_mb = 32\n\
         options = {{ action = \"{action}\", from_iter = {from} }}\n",
        guest("misbehave").display()
    );
    tiny_config(dir, &format!("{action}-{on_error}.toml"), 320, 2, &extra).to_str().unwrap().to_string()
}

/// WASI's randomness is seeded from the plugin's key: the same numbers in
/// every run of a job, as everything else `env.seed` fixes.
#[test]
fn plugins_draw_the_same_random_numbers_in_every_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = misbehaving(tmp.path(), "random", "abort", 19);
    let draw = |work: &str| -> String {
        let log = stdout(&hammer_ok(tmp.path(), &["train", &cfg, "--work-dir", work]));
        log.lines().find(|l| l.contains("[misbehave] random: ")).unwrap_or_else(|| panic!("no draw:\n{log}")).split("random: ").nth(1).unwrap().to_string()
    };
    let first = draw("a");
    assert_eq!(first, draw("b"));
}

#[test]
fn plugins_cannot_read_files_environment_network_or_clock() {
    let tmp = tempfile::tempdir().unwrap();
    for action in ["read_file", "env", "socket", "clock"] {
        let cfg = misbehaving(tmp.path(), action, "abort", 19);
        let log = stdout(&hammer_ok(tmp.path(), &["train", &cfg, "--work-dir", action]));
        assert!(log.contains(&format!("[misbehave] {action}: denied")), "{action}:\n{log}");
        assert!(!log.contains("ALLOWED"), "{log}");
    }
}

#[test]
fn plugin_output_is_logged_under_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = misbehaving(tmp.path(), "print", "abort", 19);
    hammer_ok(tmp.path(), &["train", &cfg, "--work-dir", "w"]);
    let log = std::fs::read_to_string(tmp.path().join("w/hammer.log")).unwrap();
    assert!(log.contains("[misbehave] hello from misbehave at iteration 19"), "{log}");
}

#[test]
fn failures_abort_with_the_plugin_and_phase_named_after_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    for (action, expected) in [
        ("loop", "it exceeded its time limit of 300 ms (timeout_ms)"),
        ("grow", "it exceeded its memory limit of 32 MiB (memory_mb)"),
        ("panic", "it trapped (wasm trap: wasm `unreachable` instruction executed); guest backtrace:"),
        ("error", "it returned an error: misbehave returns an error on purpose"),
    ] {
        let cfg = misbehaving(tmp.path(), action, "abort", 12);
        let err = hammer_err(tmp.path(), &["train", &cfg, "--work-dir", action]);
        assert!(err.contains("plugin `misbehave` failed at `after_train_iter`: "), "{err}");
        assert!(err.contains(expected), "{action}: {err}");
        // The iteration the plugin failed after is complete: it is checkpointed.
        assert!(tmp.path().join(action).join("iter_13.safetensors").exists(), "{action}");
    }
    // The panic's message reaches the log, and the backtrace names the guest's functions.
    let log = std::fs::read_to_string(tmp.path().join("panic/hammer.log")).unwrap();
    assert!(log.contains("[misbehave] misbehave panics on purpose"), "{log}");
    let err = hammer_err(tmp.path(), &["train", &misbehaving(tmp.path(), "panic", "abort", 0), "--work-dir", "p2"]);
    assert!(err.contains("misbehave.wasm!"), "{err}");
}

#[test]
fn disabled_plugins_are_dropped_and_training_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let plain = tiny_config(tmp.path(), "plain.toml", 320, 2, "");
    hammer_ok(tmp.path(), &["train", plain.to_str().unwrap(), "--work-dir", "plain"]);
    let reference = model_weights(&tmp.path().join("plain/epoch_2.safetensors"));
    for action in ["loop", "grow", "panic", "error"] {
        let cfg = misbehaving(tmp.path(), action, "disable", 5);
        let out = hammer(tmp.path(), &["train", &cfg, "--work-dir", action]);
        assert!(out.status.success(), "{action}");
        let log = stdout(&out);
        assert!(log.contains("plugin `misbehave` failed at `after_train_iter`"), "{log}");
        assert!(log.contains("on_error = \"disable\": the plugin is dropped"), "{log}");
        assert_eq!(log.matches("failed at").count(), 1, "called no more after failing:\n{log}");
        assert_eq!(model_weights(&tmp.path().join(action).join("epoch_2.safetensors")), reference, "{action}");
    }
}

#[test]
fn an_incompatible_interface_version_is_refused_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "");
    let future = guest("future_version");
    let err = hammer_err(tmp.path(), &["train", cfg.to_str().unwrap(), "--plugin", future.to_str().unwrap()]);
    let (future, current) = (hammer_tests::future_interface(), hammer_tests::interface());
    assert!(err.contains(&format!("hammer:plugin@{future}")) && err.contains(&format!("hammer:plugin@{current}")), "{err}");
    assert!(!tmp.path().join("work_dirs/job/epoch_1.safetensors").exists());
}

#[test]
fn a_missing_plugin_names_the_search_path() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "[[plugins]]\nname = \"nonesuch\"\n");
    let err = hammer_err(tmp.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("plugin `nonesuch` not found") && err.contains("HAMMER_PLUGIN_PATH"), "{err}");
}

#[test]
fn a_second_start_loads_the_compiled_component_from_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "");
    let misbehave = guest("misbehave");
    let run = |dir: &str| {
        let out = hammer_command(tmp.path())
            .env("HAMMER_HOME", tmp.path().join("home"))
            .args(["train", cfg.to_str().unwrap(), "--work-dir", dir, "--plugin", misbehave.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success());
        stdout(&out)
    };
    assert!(run("a").contains("misbehave.wasm` (compiled)"));
    assert!(run("b").contains("misbehave.wasm` (compiled form cached)"));
    let cache = std::fs::read_dir(tmp.path().join("home/cache/components")).unwrap().count();
    assert_eq!(cache, 1);
}

/// `HAMMER_PLUGIN_PROFILE=perfmap` names the plugins' compiled functions for
/// `perf` (docs/plugins.md, section 3); another value is refused by name.
#[test]
fn the_plugin_profiler_writes_a_perf_map_or_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = misbehaving(tmp.path(), "nothing", "abort", 0);
    let out = hammer_command(tmp.path())
        .args(["train", &cfg, "--work-dir", "w"])
        .env("HAMMER_PLUGIN_PROFILE", "perfmap")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = out.id();
    let out = out.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let map = Path::new("/tmp").join(format!("perf-{pid}.map"));
    let text = std::fs::read_to_string(&map).unwrap_or_else(|e| panic!("{}: {e}", map.display()));
    std::fs::remove_file(&map).unwrap();
    let export = format!("hammer:plugin/hook@{}#on-phase", hammer_tests::interface());
    assert!(text.lines().any(|l| l.ends_with(&export)), "{}", &text[..text.len().min(2000)]);
    let err = String::from_utf8(
        hammer_command(tmp.path()).args(["train", &cfg, "--work-dir", "x"]).env("HAMMER_PLUGIN_PROFILE", "yes").output().unwrap().stderr,
    )
    .unwrap();
    assert!(err.contains("HAMMER_PLUGIN_PROFILE must be `perfmap` or `jitdump`, not `yes`"), "{err}");
}
