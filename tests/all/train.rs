//! `hammer train` end to end: the tutorial job, the work dir it leaves, and
//! its log lines.

use hammer_tests::{hammer_err, hammer_ok, model_weights, scalars, stdout, tiny_config};

/// The job of `make train` reaches the accuracy the tutorial promises.
#[test]
fn tutorial_job_reaches_92_percent() {
    let tmp = tempfile::tempdir().unwrap();
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/tutorial.toml");
    let work = tmp.path().join("w");
    let out = hammer_ok(tmp.path(), &["train", config.to_str().unwrap(), "--work-dir", work.to_str().unwrap()]);
    let log = stdout(&out);
    let last_val = scalars(&work).into_iter().filter(|r| r["mode"] == "val").last().expect("a val record");
    assert_eq!(last_val["epoch"], 10);
    let acc = last_val["accuracy"].as_f64().unwrap();
    assert!(acc >= 92.0, "final val accuracy {acc} < 92\n{log}");
    // Validation from epoch 2 on, every epoch: 9 passes.
    assert_eq!(log.matches("Epoch(val) [").count(), 9, "{log}");
    assert!(log.contains("Epoch(val) [10][1/1]  accuracy: "), "{log}");
}

#[test]
fn work_dir_holds_config_logs_scalars_and_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, "[checkpoint]\nmax_keep_ckpts = 2\n");
    let out = hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap()]);
    let work = tmp.path().join("work_dirs/job");
    for f in ["config.toml", "hammer.log", "scalars.jsonl", "last_checkpoint", "epoch_2.safetensors", "epoch_3.safetensors"] {
        assert!(work.join(f).exists(), "missing {f}");
    }
    assert!(!work.join("epoch_1.safetensors").exists(), "max_keep_ckpts = 2 keeps the newest two");
    let last = std::fs::read_to_string(work.join("last_checkpoint")).unwrap();
    assert!(last.ends_with("epoch_3.safetensors"), "{last}");
    assert_eq!(model_weights(&work.join("epoch_3.safetensors")).len(), 6);

    // MMEngine's line shape: `Epoch(train) [1][ 5/10]  lr: 1.0000e-03  eta: 0:00:00  time: ...  data_time: ...  loss: ...`
    let log = stdout(&out);
    let line = log.lines().find(|l| l.contains("Epoch(train) [1][ 5/10]")).expect(&log);
    for key in ["  lr: 1.0000e-03  eta: 0:00:0", "  time: ", "  data_time: ", "  loss: "] {
        assert!(line.contains(key), "{key} in {line}");
    }
    assert_eq!(std::fs::read_to_string(work.join("hammer.log")).unwrap().lines().count(), log.lines().count());
    let train: Vec<_> = scalars(&work).into_iter().filter(|r| r["mode"] == "train").collect();
    assert_eq!(train.len(), 6, "two log events per epoch of 10 iterations");
    assert_eq!(train[1]["step"], 10);
    assert!(train[1]["loss"].as_f64().unwrap() > 0.0);

    // The saved config is the resolved one and is itself a valid config.
    let shown = hammer_ok(tmp.path(), &["config", "show", work.join("config.toml").to_str().unwrap()]);
    assert_eq!(stdout(&shown), std::fs::read_to_string(work.join("config.toml")).unwrap());
}

#[test]
fn an_existing_work_dir_is_refused_without_resume() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "");
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap()]);
    let err = hammer_err(tmp.path(), &["train", cfg.to_str().unwrap()]);
    assert!(err.contains("work_dirs/job") && err.contains("already exists"), "{err}");
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--job-name", "other"]);
    assert!(tmp.path().join("work_dirs/other/epoch_1.safetensors").exists());
}

#[test]
fn iteration_based_training_with_a_workflow() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "[checkpoint]\ninterval = 12\nmax_keep_ckpts = -1\n";
    let cfg = tiny_config(tmp.path(), "it.toml", 320, 1, extra);
    let out = hammer_ok(
        tmp.path(),
        &[
            "train",
            cfg.to_str().unwrap(),
            "--cfg-options",
            "train_cfg.by_epoch=false",
            "train_cfg.max_epochs=null",
            "train_cfg.max_iters=25",
            r#"train_cfg.workflow=[["train",10],["val",1]]"#,
        ],
    );
    let work = tmp.path().join("work_dirs/it");
    for n in [12, 24, 25] {
        assert!(work.join(format!("iter_{n}.safetensors")).exists(), "iter_{n}");
    }
    let log = stdout(&out);
    assert!(log.contains("Iter(train) [25/25]"), "{log}");
    // Validation after iterations 10, 20 and at the end (25).
    let vals: Vec<u64> =
        scalars(&work).iter().filter(|r| r["mode"] == "val").map(|r| r["iter"].as_u64().unwrap()).collect();
    assert_eq!(vals, vec![10, 20, 25]);
}

#[test]
fn val_and_test_commands_evaluate_a_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(
        tmp.path(),
        "job.toml",
        320,
        2,
        "[test_dataloader]\nbatch_size = 50\ndataset = { type = \"two_rings\", size = 100, seed = 1 }\n",
    );
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap()]);
    let ckpt = tmp.path().join("work_dirs/job/epoch_2.safetensors");
    let val = stdout(&hammer_ok(tmp.path(), &["val", cfg.to_str().unwrap(), "--checkpoint", ckpt.to_str().unwrap()]));
    // The epoch is the checkpoint's (issue 20: it said `[0]`).
    assert!(val.contains("Epoch(val) [2][2/2]  accuracy: "), "{val}");
    let out = tmp.path().join("metrics.json");
    let test = stdout(&hammer_ok(
        tmp.path(),
        &["test", cfg.to_str().unwrap(), "--checkpoint", ckpt.to_str().unwrap(), "--out", out.to_str().unwrap()],
    ));
    assert!(test.contains("Epoch(test) [2][2/2]  accuracy: "), "{test}");
    // `--out`: the same metrics, for scripts.
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(report["mode"], "test");
    let accuracy = report["metrics"]["accuracy"].as_f64().expect("accuracy in --out");
    assert!(test.contains(&format!("accuracy: {accuracy:.4}")), "{accuracy} in {test}");
}

/// Every scalar of `scalars.jsonl` is in the TensorBoard events too, as
/// TensorBoard's own reader sees them.
#[test]
fn tensorboard_event_files_hold_every_scalar() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, "");
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    let work = tmp.path().join("w");
    let script = r#"
import json, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
acc = EventAccumulator(sys.argv[1] + "/tensorboard", size_guidance={"scalars": 0})
acc.Reload()
print(json.dumps({tag: [[e.step, e.value] for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}))
"#;
    let events: serde_json::Value =
        serde_json::from_str(&hammer_tests::run_python(script, &[work.to_str().unwrap()])).unwrap();
    let records = scalars(&work);
    for (mode, key) in [("train", "loss"), ("train", "lr"), ("val", "accuracy")] {
        let want: Vec<(i64, f64)> = records
            .iter()
            .filter(|r| r["mode"] == mode)
            .map(|r| (r["step"].as_i64().unwrap(), r[key].as_f64().unwrap()))
            .collect();
        let got: Vec<(i64, f64)> = events[format!("{mode}/{key}")]
            .as_array()
            .unwrap_or_else(|| panic!("no {mode}/{key} in {events}"))
            .iter()
            .map(|e| (e[0].as_i64().unwrap(), e[1].as_f64().unwrap()))
            .collect();
        assert_eq!(got.len(), want.len(), "{mode}/{key}");
        for ((gs, gv), (ws, wv)) in got.iter().zip(&want) {
            assert_eq!(gs, ws);
            assert!((gv - wv).abs() <= 1e-6 * wv.abs().max(1.0), "{mode}/{key} at {gs}: {gv} vs {wv}");
        }
    }
}

#[test]
fn the_run_ends_with_a_summary_of_time_and_best_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "val_evaluator = [{ type = \"accuracy\" }, { type = \"loss\" }]\n";
    let text = std::fs::read_to_string(tiny_config(tmp.path(), "job.toml", 320, 3, "")).unwrap();
    std::fs::write(tmp.path().join("job.toml"), format!("{extra}{text}")).unwrap();
    let log = stdout(&hammer_ok(tmp.path(), &["train", "job.toml", "--work-dir", "w"]));
    assert!(log.contains("Waited ") && log.contains(" s for data"), "{log}");
    assert!(log.contains("accuracy (built-in) (metric)"), "{log}");
    let vals: Vec<_> = scalars(&tmp.path().join("w")).into_iter().filter(|r| r["mode"] == "val").collect();
    let (best_epoch, best) = vals
        .iter()
        .map(|r| (r["epoch"].as_u64().unwrap(), r["accuracy"].as_f64().unwrap()))
        .fold((0, f64::MIN), |a, b| if b.1 > a.1 { b } else { a });
    assert!(log.contains(&format!("Best accuracy: {best:.4} (epoch {best_epoch})")), "{log}");
    let min_loss = vals.iter().map(|r| r["loss"].as_f64().unwrap()).fold(f64::MAX, f64::min);
    assert!(log.contains(&format!("Best loss: {min_loss:.4}")), "{log}");
}

#[test]
fn plot_draws_the_curves_of_a_run() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, "");
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    hammer_ok(tmp.path(), &["plot", "w", "--metric", "loss", "--metric", "accuracy", "--metric", "lr", "--out", "c.png"]);
    let png = std::fs::read(tmp.path().join("c.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let (w, h) = (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()));
    assert_eq!((w, h), (900, 3 * 320), "one panel per metric");
    // Labelled axes (issue 20): training over iterations, validation over epochs.
    hammer_ok(tmp.path(), &["plot", "w", "--out", "c.svg"]);
    let svg = std::fs::read_to_string(tmp.path().join("c.svg")).unwrap();
    for text in ["loss (train)", "accuracy (val)", "iteration", "epoch"] {
        assert!(svg.contains(&format!(">\n{text}\n</text>")), "{text} missing");
    }
    let err = hammer_err(tmp.path(), &["plot", "w", "--metric", "bleu"]);
    assert!(err.contains("metric `bleu`"), "{err}");
}
