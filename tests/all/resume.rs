//! Exact resume: a run continued from any checkpoint ends with the same
//! weights, bit for bit, as the run that never stopped — and a killed run
//! leaves a checkpoint it can resume from.

use std::path::Path;
use std::time::Duration;

use hammer_tests::{hammer_command, hammer_err, hammer_ok, model_weights, tiny_config};

fn train(cwd: &Path, cfg: &Path, work: &str, extra: &[&str]) {
    let mut args = vec!["train", cfg.to_str().unwrap(), "--work-dir", work];
    args.extend_from_slice(extra);
    hammer_ok(cwd, &args);
}

#[test]
fn resume_at_an_epoch_boundary_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 4, "[checkpoint]\nmax_keep_ckpts = -1\n");
    train(tmp.path(), &cfg, "straight", &[]);
    // Half the run, then `--resume` (newest checkpoint of the same work dir) to the end.
    train(tmp.path(), &cfg, "halves", &["--cfg-options", "train_cfg.max_epochs=2"]);
    train(tmp.path(), &cfg, "halves", &["--resume"]);
    let a = model_weights(&tmp.path().join("straight/epoch_4.safetensors"));
    let b = model_weights(&tmp.path().join("halves/epoch_4.safetensors"));
    assert_eq!(a, b);
}

#[test]
fn resume_mid_epoch_inside_an_accumulation_window_is_bit_identical() {
    let tmp = tempfile::tempdir().unwrap();
    // 10 iterations per epoch, checkpoints every 7 iterations, steps every 3:
    // iteration 14 is inside an epoch and inside an accumulation window.
    let extra = "[checkpoint]\ninterval = 7\nby_epoch = false\nmax_keep_ckpts = -1\n\
                 [optim]\naccumulative_counts = 3\n[optim.optimizer]\ntype = \"sgd\"\nlr = 0.05\nmomentum = 0.9\n\
                 [optim.clip_grad]\nmax_norm = 1.0\n";
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, extra);
    train(tmp.path(), &cfg, "straight", &[]);
    let middle = tmp.path().join("straight/iter_14.safetensors");
    train(tmp.path(), &cfg, "resumed", &["--resume", middle.to_str().unwrap()]);
    let a = model_weights(&tmp.path().join("straight/iter_30.safetensors"));
    let b = model_weights(&tmp.path().join("resumed/iter_30.safetensors"));
    assert_eq!(a, b);
    let c = model_weights(&tmp.path().join("straight/iter_14.safetensors"));
    assert_ne!(a, c, "training went on after iteration 14");
}

#[test]
fn a_killed_run_resumes_from_its_last_good_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    // Long enough to be killed while it writes checkpoints every iteration.
    let extra = "[checkpoint]\ninterval = 1\nby_epoch = false\nmax_keep_ckpts = 3\n";
    let cfg = tiny_config(tmp.path(), "job.toml", 3200, 50, extra);
    let mut child = hammer_command(tmp.path())
        .args(["train", cfg.to_str().unwrap(), "--work-dir", "w"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let work = tmp.path().join("w");
    // Kill it once a few checkpoints exist. A loaded machine (the whole
    // suite runs in parallel) can take many seconds to start the job, so the
    // wait is generous; the kill itself lands a little after a save.
    let started = std::time::Instant::now();
    while !work.join("iter_5.safetensors").exists() {
        assert!(started.elapsed() < Duration::from_secs(120), "the job wrote no iter_5 checkpoint in 120 s");
        assert!(child.try_wait().unwrap().is_none(), "the job ended before it could be killed");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50));
    child.kill().unwrap();
    child.wait().unwrap();
    let last = std::fs::read_to_string(work.join("last_checkpoint")).unwrap();
    // Whatever moment the kill hit, the checkpoint `last_checkpoint` names is
    // whole: the run resumes from it, and ends where a run that was never
    // killed ends, bit for bit.
    let to_one_epoch = ["--cfg-options", "train_cfg.max_epochs=1", "train_cfg.by_epoch=true", "checkpoint.by_epoch=true"];
    let iter: u64 = last.trim().trim_start_matches("iter_").trim_end_matches(".safetensors").parse().expect(&last);
    assert!((5..100).contains(&iter), "killed at iteration {iter}, outside the first epoch (100 iterations)");
    let resumed = hammer_tests::stdout(&hammer_ok(tmp.path(), &[&["train", cfg.to_str().unwrap(), "--work-dir", "w", "--resume"][..], &to_one_epoch].concat()));
    let line = resumed.lines().find(|l| l.contains("Resumed from")).expect(&resumed);
    assert!(line.contains(&format!("{}`: epoch", last.trim())) && line.ends_with(&format!(", iter {iter}")), "{last}: {line}");
    train(tmp.path(), &cfg, "straight", &to_one_epoch);
    assert_eq!(model_weights(&work.join("epoch_1.safetensors")), model_weights(&tmp.path().join("straight/epoch_1.safetensors")));
}

#[test]
fn resuming_without_a_checkpoint_or_with_an_incompatible_config_fails_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "");
    std::fs::create_dir(tmp.path().join("empty")).unwrap();
    let err = hammer_err(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "empty", "--resume"]);
    assert!(err.contains("no checkpoint"), "{err}");
    train(tmp.path(), &cfg, "w", &[]);
    let err = hammer_err(
        tmp.path(),
        &["train", cfg.to_str().unwrap(), "--work-dir", "w", "--resume", "--cfg-options", "model.hidden=8"],
    );
    assert!(err.contains("does not fit") && err.contains("mlp.0.weight"), "{err}");
}
