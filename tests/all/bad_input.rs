//! Bad input gets a one-paragraph error and exit code 1, never a panic or a
//! half-written file.

use hammer_tests::{hammer_err, hammer_ok, stdout, tiny_config};

#[test]
fn config_errors_name_the_key_and_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let err = hammer_err(dir, &["train", "nope.toml"]);
    assert!(err.contains("nope.toml") && err.contains("not found"), "{err}");

    let cfg = tiny_config(dir, "typo.toml", 64, 1, "[checkpoint]\nintervall = 2\n");
    let err = hammer_err(dir, &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("checkpoint.intervall") && err.contains("interval"), "{err}");

    let cfg = tiny_config(dir, "job.toml", 64, 1, "");
    let err = hammer_err(dir, &["train", cfg.to_str().unwrap(), "--cfg-options", "train_cfg.max_epochs=ten"]);
    assert!(err.contains("train_cfg.max_epochs") && err.contains("string"), "{err}");

    std::fs::write(dir.join("broken.toml"), "[model]\ntype = \"mlp\"\nhidden = = 3\n").unwrap();
    let err = hammer_err(dir, &["config", "show", "broken.toml"]);
    assert!(err.contains("broken.toml") && err.contains(":3:"), "file, line and column: {err}");

    let err = hammer_err(dir, &["train", cfg.to_str().unwrap(), "--cfg-options", "optim.optimizer.type=sgd", "optim.optimizer.lr=0.1", "optim.optimizer.betas=[0.9,0.99]"]);
    assert!(err.contains("optim.optimizer.betas"), "{err}");
    assert!(!dir.join("work_dirs/job").exists(), "a refused config leaves no work dir");
}

#[test]
fn inheritance_and_overrides_resolve_into_config_show() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    tiny_config(dir, "base.toml", 64, 3, "[optim.optimizer]\ntype = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n");
    std::fs::write(
        dir.join("child.toml"),
        "_base_ = [\"base.toml\"]\n[optim.optimizer]\n_delete_ = true\ntype = \"adamw\"\nlr = 0.01\n",
    )
    .unwrap();
    let shown = stdout(&hammer_ok(dir, &["config", "show", "child.toml", "--cfg-options", "env.seed=7", "log.interval=2"]));
    assert!(shown.contains("type = \"adamw\"") && !shown.contains("momentum"), "{shown}");
    assert!(shown.contains("seed = 7") && shown.contains("interval = 2") && shown.contains("max_epochs = 3"), "{shown}");
}

#[test]
fn bad_checkpoints_are_detected_not_loaded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = tiny_config(dir, "job.toml", 64, 1, "");
    hammer_ok(dir, &["train", cfg.to_str().unwrap()]);
    let good = std::fs::read(dir.join("work_dirs/job/epoch_1.safetensors")).unwrap();
    let c = cfg.to_str().unwrap();

    let err = hammer_err(dir, &["val", c, "--checkpoint", "missing.safetensors"]);
    assert!(err.contains("missing.safetensors"), "{err}");

    std::fs::write(dir.join("truncated.safetensors"), &good[..good.len() / 2]).unwrap();
    let err = hammer_err(dir, &["val", c, "--checkpoint", "truncated.safetensors"]);
    assert!(err.contains("truncated.safetensors") && err.contains("corrupted or truncated"), "{err}");

    let mut flipped = good.clone();
    let last = flipped.len() - 3;
    flipped[last] ^= 0x10;
    std::fs::write(dir.join("flipped.safetensors"), &flipped).unwrap();
    let err = hammer_err(dir, &["val", c, "--checkpoint", "flipped.safetensors"]);
    assert!(err.contains("flipped.safetensors") && err.contains("corrupted"), "{err}");

    let err = hammer_err(dir, &["val", c, "--checkpoint", "work_dirs/job/epoch_1.safetensors", "--cfg-options", "model.layers=3"]);
    assert!(err.contains("missing `mlp.4.weight`"), "{err}");
}

#[test]
fn a_job_that_cannot_be_built_leaves_no_work_dir_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // A plugin option the bundle's schema does not know: found only once the
    // work dir exists and the plugin is resolved.
    let bad = tiny_config(dir, "job.toml", 64, 1, "[[plugins]]\nname = \"accuracy\"\noptions = { topk = [1], colour = \"red\" }\n");
    let err = hammer_err(dir, &["train", bad.to_str().unwrap(), "--work-dir", "w"]);
    assert!(err.contains("colour"), "{err}");
    assert!(!dir.join("w").exists(), "the failed job's work dir is gone");
    // Fixed, the same command just works.
    tiny_config(dir, "job.toml", 64, 1, "[[plugins]]\nname = \"accuracy\"\noptions = { topk = [1] }\n");
    hammer_ok(dir, &["train", bad.to_str().unwrap(), "--work-dir", "w"]);
    assert!(dir.join("w/epoch_1.safetensors").exists());
}

#[test]
fn a_plugin_that_fails_its_setup_stops_the_run_even_when_it_may_be_disabled() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // The lr plugin's setup refuses an unknown scheduler type.
    let cfg = tiny_config(dir, "job.toml", 64, 1, "[[plugins]]\nname = \"lr\"\non_error = \"disable\"\noptions = { type = \"NoSuchLR\" }\n");
    let err = hammer_err(dir, &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    assert!(err.contains("plugin `lr` failed at `setup`") && err.contains("NoSuchLR"), "{err}");
}
