//! What a new user meets in their first hour (issue 20), each as it failed
//! before: a clear one-paragraph error instead of a panic or a C++ dump, no
//! silent surprise, and work dirs that behave as the user expects.

use std::path::Path;
use std::time::Duration;

use hammer_tests::{hammer_command, hammer_err, hammer_ok, model_weights, stdout, tiny_config};

/// No libtorch backtrace and no Rust panic reaches the user.
fn assert_one_paragraph(err: &str) {
    for noise in ["frame #", "Exception raised from", "panicked", "RUST_BACKTRACE"] {
        assert!(!err.contains(noise), "`{noise}` in: {err}");
    }
}

#[test]
fn labels_outside_num_classes_are_refused_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "");
    // two_rings has labels 0 and 1: one class is too few.
    let err = hammer_err(tmp.path(), &["train", cfg.to_str().unwrap(), "--cfg-options", "model.num_classes=1"]);
    assert!(err.contains("train_dataloader.dataset") && err.contains("label 1") && err.contains("model.num_classes = 1"), "{err}");
    assert_one_paragraph(&err);
    assert!(!tmp.path().join("work_dirs/job").exists(), "nothing was trained");
}

#[test]
fn missing_files_are_named_with_their_config_key() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("script.toml"), "model = { type = \"torchscript\", path = \"missing.pt\" }\n\
        [train_dataloader]\nbatch_size = 8\ndataset = { type = \"two_rings\", size = 16, seed = 0 }\n[train_cfg]\nmax_epochs = 1\n")
        .unwrap();
    let err = hammer_err(dir, &["train", "script.toml"]);
    assert!(err.contains("model.path") && err.contains("missing.pt") && err.contains("does not exist"), "{err}");
    assert_one_paragraph(&err);

    let csv = tiny_config(dir, "csv.toml", 16, 1, "").to_str().unwrap().to_string();
    let as_csv = ["train_dataloader.dataset.type=csv", "train_dataloader.dataset.path=nope.csv", "train_dataloader.dataset.size=null"];
    let err = hammer_err(dir, &[&["train", &csv, "--cfg-options"][..], &as_csv].concat());
    assert!(err.contains("train_dataloader.dataset.path") && err.contains("nope.csv") && err.contains("does not exist"), "{err}");
    let as_folder = [
        "val_dataloader.dataset.type=image_folder",
        "val_dataloader.dataset.root=no/images",
        "val_dataloader.dataset.size=null",
        "val_dataloader.dataset.pipeline.resolution=[8,8]",
    ];
    let err = hammer_err(dir, &[&["train", &csv, "--cfg-options"][..], &as_folder].concat());
    assert!(err.contains("val_dataloader.dataset.root") && err.contains("no/images"), "{err}");
}

#[test]
fn a_copied_work_dir_resumes_its_own_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = tiny_config(dir, "job.toml", 320, 4, "[checkpoint]\nmax_keep_ckpts = -1\n");
    let c = cfg.to_str().unwrap();
    hammer_ok(dir, &["train", c, "--work-dir", "straight"]);
    hammer_ok(dir, &["train", c, "--work-dir", "w", "--cfg-options", "train_cfg.max_epochs=2"]);
    for copy in ["copy", "old_copy"] {
        let status = std::process::Command::new("cp").args(["-r", "w", copy]).current_dir(dir).status().unwrap();
        assert!(status.success());
    }
    // As an older hammer wrote it: the path as the original run saw it.
    std::fs::write(dir.join("old_copy/last_checkpoint"), "w/epoch_2.safetensors").unwrap();
    // The original's checkpoint is spoiled: resuming a copy must not read it.
    std::fs::write(dir.join("w/epoch_2.safetensors"), b"not a checkpoint").unwrap();
    for copy in ["copy", "old_copy"] {
        hammer_ok(dir, &["train", c, "--work-dir", copy, "--resume"]);
        let (a, b) = (dir.join("straight/epoch_4.safetensors"), dir.join(copy).join("epoch_4.safetensors"));
        assert_eq!(model_weights(&a), model_weights(&b), "{copy} resumed bit-identically");
    }
}

#[test]
fn a_failed_resume_leaves_the_job_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = tiny_config(dir, "job.toml", 64, 1, "");
    let c = cfg.to_str().unwrap();
    hammer_ok(dir, &["train", c, "--work-dir", "w"]);
    let files = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut all = Vec::new();
        for sub in ["", "tensorboard"] {
            for entry in std::fs::read_dir(dir.join(sub)).unwrap().flatten().filter(|e| e.path().is_file()) {
                all.push((format!("{sub}/{}", entry.file_name().to_string_lossy()), std::fs::read(entry.path()).unwrap()));
            }
        }
        all.sort();
        all
    };
    let before = files(&dir.join("w"));
    assert!(before.iter().any(|(n, _)| n.starts_with("tensorboard/")), "events written");
    let err = hammer_err(dir, &["train", c, "--work-dir", "w", "--resume", "w/nope.safetensors", "--cfg-options", "env.seed=5"]);
    assert!(err.contains("nope.safetensors"), "{err}");
    let err = hammer_err(dir, &["train", c, "--work-dir", "w", "--resume", "--cfg-options", "model.hidden=3"]);
    assert!(err.contains("does not fit"), "{err}");
    let after = files(&dir.join("w"));
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&after), names(&before));
    assert!(after == before, "log, scalars, events and config are unchanged");
}

#[test]
fn an_iteration_based_run_warns_about_checkpointing_every_iteration() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "");
    let c = cfg.to_str().unwrap();
    let iters = ["--cfg-options", "train_cfg.max_epochs=null", "train_cfg.by_epoch=false", "train_cfg.max_iters=101", "checkpoint.max_keep_ckpts=1"];
    let out = stdout(&hammer_ok(tmp.path(), &[&["train", c][..], &iters].concat()));
    assert!(out.contains("WARNING") && out.contains("101 checkpoints will be saved"), "{out}");
    let chosen = [&iters[..], &["checkpoint.by_epoch=false", "--job-name", "chosen"]].concat();
    let out = stdout(&hammer_ok(tmp.path(), &[&["train", c][..], &chosen].concat()));
    assert!(!out.contains("checkpoints will be saved"), "asked for: {out}");
}

#[test]
fn a_run_killed_before_its_first_checkpoint_is_started_over() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // One long epoch, so that the kill comes before its checkpoint.
    let cfg = tiny_config(dir, "job.toml", 200_000, 1, "");
    let c = cfg.to_str().unwrap();
    let mut child = hammer_command(dir).args(["train", c, "--work-dir", "w"]).stdout(std::process::Stdio::null()).spawn().unwrap();
    let log = dir.join("w/hammer.log");
    for _ in 0..3000 {
        if std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Epoch(train) [1][")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!dir.join("w/last_checkpoint").exists(), "killed before its checkpoint");
    let err = hammer_err(dir, &["train", c, "--work-dir", "w", "--resume"]);
    assert!(err.contains("no checkpoint was saved yet") && err.contains("without --resume"), "{err}");
    let out = stdout(&hammer_ok(dir, &["train", c, "--work-dir", "w", "--cfg-options", "train_dataloader.dataset.size=64"]));
    assert!(out.contains("starting over in it"), "{out}");
    assert!(dir.join("w/epoch_1.safetensors").exists());
}

#[test]
fn resuming_a_finished_job_says_it_is_complete_and_how_to_extend_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 2, "");
    let c = cfg.to_str().unwrap();
    let first = stdout(&hammer_ok(tmp.path(), &["train", c]));
    assert!(first.contains("Work dir: ") && first.contains("work_dirs/job"), "the log names its work dir: {first}");
    let again = stdout(&hammer_ok(tmp.path(), &["train", c, "--resume"]));
    assert!(again.contains("The job is complete") && again.contains("--resume --cfg-options train_cfg.max_epochs=3"), "{again}");
    assert!(!again.contains("Training finished"), "{again}");
    let longer = stdout(&hammer_ok(tmp.path(), &["train", c, "--resume", "--cfg-options", "train_cfg.max_epochs=3"]));
    assert!(longer.contains("Epoch(train) [3]"), "{longer}");
}

#[test]
fn plugin_flag_takes_store_names_and_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    let bundle = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins/dist/ema-0.1.0.hpkg");
    assert!(bundle.exists(), "{} is missing: run `make build`", bundle.display());
    let run = |args: &[&str]| hammer_command(dir).env("HAMMER_HOME", &home).args(args).output().unwrap();
    assert!(run(&["plugin", "install", bundle.to_str().unwrap()]).status.success());
    let cfg = tiny_config(dir, "job.toml", 64, 1, "");
    let c = cfg.to_str().unwrap();
    let out = run(&["train", c, "--plugin", "ema@^0.1"]);
    assert!(out.status.success(), "{}", hammer_tests::stderr(&out));
    assert!(stdout(&out).contains("Loaded plugin `ema`"), "{}", stdout(&out));
    let out = run(&["train", c, "--job-name", "typo", "--plugin", "emma"]);
    let err = hammer_tests::stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("plugin `emma` not found") && err.contains("did you mean `ema`?"), "{err}");
}

#[test]
fn help_shows_examples_and_completions_are_generated() {
    let tmp = tempfile::tempdir().unwrap();
    let help = stdout(&hammer_ok(tmp.path(), &["train", "--help"]));
    assert!(help.contains("Examples:") && help.contains("resnet18") && help.contains("image_folder"), "{help}");
    let bash = stdout(&hammer_ok(tmp.path(), &["completions", "bash"]));
    assert!(bash.contains("_hammer") && bash.contains("--cfg-options"), "{bash}");
}

#[test]
fn config_show_fills_every_default_and_only_the_models_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 64, 1, "[optim.optimizer]\ntype = \"adam\"\nlr = 0.01\n");
    let shown = stdout(&hammer_ok(tmp.path(), &["config", "show", cfg.to_str().unwrap()]));
    let table: toml::Table = shown.parse().unwrap();
    assert_eq!(table["checkpoint"]["by_epoch"].as_bool(), Some(true), "{shown}");
    let adam = &table["optim"]["optimizer"];
    assert_eq!(adam["betas"].as_array().map(Vec::len), Some(2), "{shown}");
    assert_eq!(adam["eps"].as_float(), Some(1e-8), "{shown}");
    let model = table["model"].as_table().unwrap();
    assert!(model.contains_key("hidden") && !model.contains_key("in_channels") && !model.contains_key("cifar_stem"), "{shown}");
    // What is shown is a config that runs as the original does.
    std::fs::write(tmp.path().join("shown.toml"), &shown).unwrap();
    hammer_ok(tmp.path(), &["config", "show", "shown.toml"]);
}
