//! `plugins.lock`: every run records the plugins it ran; `--resume` and
//! `--locked` refuse plugins that changed.

use hammer_tests::{guest, hammer_err, hammer_ok, plugin, tiny_config};

#[test]
fn runs_record_and_enforce_their_plugins() {
    let tmp = tempfile::tempdir().unwrap();
    let component = tmp.path().join("probe.wasm");
    std::fs::copy(guest("misbehave"), &component).unwrap();
    let extra = format!("[[plugins]]\npath = \"{}\"\n[[plugins]]\nname = \"accuracy\"\n", component.display());
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 2, &extra);
    let cfg = cfg.to_str().unwrap();
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "a", "--cfg-options", "train_cfg.max_epochs=1"]);
    let lock = std::fs::read_to_string(tmp.path().join("a/plugins.lock")).unwrap();
    assert!(lock.contains("key = \"probe\"") && lock.contains("key = \"accuracy\""), "{lock}");
    assert_eq!(lock.matches("sha256 = ").count(), 2, "{lock}");

    // Another job reproduces the same plugin set with --locked.
    let a_lock = tmp.path().join("a/plugins.lock");
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "b", "--locked", a_lock.to_str().unwrap()]);

    // The component changes: resuming the job, or locking to it, is refused.
    std::fs::copy(plugin("early_stopping"), &component).unwrap();
    let err = hammer_err(tmp.path(), &["train", cfg, "--work-dir", "a", "--resume"]);
    assert!(err.contains("plugin `probe` changed since the job's plugins.lock"), "{err}");
    assert!(err.contains("to resume with it, pass `--relock`"), "{err}");
    let err = hammer_err(tmp.path(), &["train", cfg, "--work-dir", "c", "--locked", a_lock.to_str().unwrap()]);
    assert!(err.contains("plugin `probe` changed since `") && err.contains("plugins.lock"), "{err}");
    assert!(!err.contains("--relock"), "{err}");

    // A plugin dropped from the config is missing from the run.
    std::fs::copy(guest("misbehave"), &component).unwrap();
    let err = hammer_err(
        tmp.path(),
        &["train", cfg, "--work-dir", "a", "--resume", "--cfg-options", "plugins.0=null"],
    );
    assert!(err.contains("plugin `probe`") && err.contains("not in this run"), "{err}");
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "a", "--resume"]);

    // A fixed plugin (here: the same code plus a custom section, so a new
    // sha256): --relock resumes with it and pins its new code.
    let mut fixed = std::fs::read(guest("misbehave")).unwrap();
    fixed.extend_from_slice(&[0x00, 0x06, 0x04, b'f', b'i', b'x', b'd', 0x01]);
    std::fs::write(&component, fixed).unwrap();
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "a", "--resume", "--relock", "--cfg-options", "train_cfg.max_epochs=2"]);
    let relocked = std::fs::read_to_string(tmp.path().join("a/plugins.lock")).unwrap();
    assert_ne!(relocked, lock, "the lock names the new code");
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "a", "--resume"]);
}
