//! The first-party plugins in a real run: learning-rate policies against
//! torch's schedulers, EMA against a torch reference, early stopping, and
//! exact resume with plugins holding state.

use hammer_tests::{hammer_ok, model_weights, run_python, scalars, stdout, tiny_config};

/// The learning rate of every iteration, from `scalars.jsonl` (log interval 1).
fn lr_per_iteration(work: &std::path::Path) -> Vec<f64> {
    scalars(work).iter().filter(|r| r["mode"] == "train").map(|r| r["lr"].as_f64().unwrap()).collect()
}

/// SGD with two `lr` policies in a row: a linear warm-up over the first 5
/// iterations (by iteration), then × 0.1 at epochs 2 and 3 (by epoch).
const WARMUP_THEN_STEPS: &str = r#"
[optim.optimizer]
type = "sgd"
lr = 0.1
momentum = 0.9
[[plugins]]
name = "lr"
options = { type = "LinearLR", by_epoch = false, start_factor = 0.1, total_iters = 5, end = 5 }
[[plugins]]
name = "lr"
options = { type = "MultiStepLR", by_epoch = true, milestones = [2, 3], gamma = 0.1 }
"#;

/// Writes `job.toml` into `dir`: 4 epochs of 10 iterations, logged at every
/// iteration, with [`WARMUP_THEN_STEPS`] and `extra`.
fn warmup_then_steps_job(dir: &std::path::Path, extra: &str) {
    let text = std::fs::read_to_string(tiny_config(dir, "job.toml", 320, 4, "")).unwrap();
    let text = text.replace("[log]\ninterval = 5\n", "[log]\ninterval = 1\n") + WARMUP_THEN_STEPS + extra;
    std::fs::write(dir.join("job.toml"), text).unwrap();
}

#[test]
fn chained_lr_policies_follow_torch_schedulers() {
    let tmp = tempfile::tempdir().unwrap();
    warmup_then_steps_job(tmp.path(), "");
    hammer_ok(tmp.path(), &["train", "job.toml", "--work-dir", "w"]);
    let got = lr_per_iteration(&tmp.path().join("w"));
    let script = r#"
import json, torch
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
warmup = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5)
steps = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[2, 3], gamma=0.1)
lrs = []
for epoch in range(4):
    for it in range(10):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        # MMEngine steps a scheduler after an iteration while the new global
        # step is still inside its [begin, end) window.
        if epoch * 10 + it + 1 < 5:
            warmup.step()
    steps.step()
print(json.dumps(lrs))
"#;
    let want: Vec<f64> = serde_json::from_str(&run_python(script, &[])).unwrap();
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert!((g - w).abs() <= 1e-9 * w.abs().max(1e-12), "iteration {i}: hammer {g}, torch {w}\n{got:?}\n{want:?}");
    }
}

/// How many times the run's log says `extension` was called (its row in
/// the table of extension timings at the end of training).
fn calls(log: &str, extension: &str) -> u64 {
    let row = log.lines().find(|l| l.contains(&format!("- {extension} "))).unwrap_or_else(|| panic!("no `{extension}` row:\n{log}"));
    let after = &row[row.find(extension).unwrap() + extension.len()..];
    after.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{row}"))
}

/// A policy `by_epoch` has cadence `epoch`: the host asks it before the
/// first iteration of each epoch and before the first iteration of a run
/// resumed inside an epoch, and the learning rates stay those of a policy
/// asked at every iteration (as [`chained_lr_policies_follow_torch_schedulers`]
/// checks against torch).
#[test]
fn an_epoch_lr_policy_is_asked_once_per_epoch_and_after_a_resume() {
    let tmp = tempfile::tempdir().unwrap();
    // A checkpoint every 7 iterations.
    warmup_then_steps_job(tmp.path(), "[checkpoint]\ninterval = 7\nby_epoch = false\nmax_keep_ckpts = -1\n");
    let log = stdout(&hammer_ok(tmp.path(), &["train", "job.toml", "--work-dir", "straight"]));
    assert_eq!(calls(&log, "lr (lr-policy)"), 40, "by iteration: at every one");
    assert_eq!(calls(&log, "lr#2 (lr-policy)"), 4, "by epoch: once per epoch");

    // Resumed after iteration 14, inside epoch 1: asked there, then at epochs 2 and 3.
    let log = stdout(&hammer_ok(tmp.path(), &["train", "job.toml", "--work-dir", "resumed", "--resume", "straight/iter_14.safetensors"]));
    assert_eq!(calls(&log, "lr#2 (lr-policy)"), 3, "{log}");
    let straight = lr_per_iteration(&tmp.path().join("straight"));
    let resumed = lr_per_iteration(&tmp.path().join("resumed"));
    assert_eq!(resumed.as_slice(), &straight[14..], "the learning rates after the resume");
    assert!(straight[19] > straight[20] && straight[29] > straight[30], "the steps at epochs 2 and 3: {straight:?}");
}

/// Decodes the `ema` plugin's state (`HEMA` v1: update count, then each
/// parameter's name and shadow values) from a checkpoint, in Python.
const DECODE_EMA: &str = r#"
import struct
from safetensors.torch import load_file
def ema_state(path):
    b = bytes(load_file(path)["plugin.ema"].tolist())
    assert b[:4] == b"HEMA" and struct.unpack_from("<I", b, 4)[0] == 1
    updates, n = struct.unpack_from("<QQ", b, 8)
    at, out = 24, {}
    for _ in range(n):
        (ln,) = struct.unpack_from("<Q", b, at); at += 8
        name = b[at:at + ln].decode(); at += ln
        (cnt,) = struct.unpack_from("<Q", b, at); at += 8
        out[name] = list(struct.unpack_from("<%dd" % cnt, b, at)); at += 8 * cnt
    return updates, out
"#;

#[test]
fn ema_weights_match_a_torch_reference() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "[checkpoint]\ninterval = 1\nby_epoch = false\nmax_keep_ckpts = -1\n\
                 [optim.optimizer]\ntype = \"sgd\"\nlr = 0.05\n\
                 [[plugins]]\nname = \"ema\"\nmodel_parameters = true\noptions = { momentum = 0.1 }\n";
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 2, extra);
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    let script = format!(
        "{DECODE_EMA}{}",
        r#"
import sys, torch
work = sys.argv[1]
weights = lambda k: {n[6:]: t for n, t in load_file(f"{work}/iter_{k}.safetensors").items() if n.startswith("model.")}
# MMEngine's ExponentialMovingAverage: the first update copies, later ones
# move the average toward the weights by `momentum`.
ema = {n: t.clone() for n, t in weights(1).items()}
for k in range(2, 21):
    for n, t in weights(k).items():
        ema[n].lerp_(t, 0.1)
updates, got = ema_state(f"{work}/iter_20.safetensors")
assert updates == 20, updates
worst = max((torch.tensor(got[n], dtype=torch.float32) - ema[n].flatten()).abs().max().item() for n in ema)
print(worst)
"#
    );
    let worst: f64 = run_python(&script, &[tmp.path().join("w").to_str().unwrap()]).trim().parse().unwrap();
    assert!(worst <= 1e-6, "EMA differs from torch's by {worst}");
}

#[test]
fn early_stopping_ends_training_at_the_epoch_that_stops_improving() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "[[plugins]]\nname = \"early_stopping\"\n\
                 options = { monitor = \"accuracy\", rule = \"greater\", min_delta = 100.0, patience = 1 }\n";
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 5, extra);
    let log = stdout(&hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]));
    assert!(log.contains("Training stopped early"), "{log}");
    let work = tmp.path().join("w");
    assert!(work.join("epoch_2.safetensors").exists() && !work.join("epoch_3.safetensors").exists(), "{log}");
}

#[test]
fn resume_is_exact_with_ema_an_lr_policy_and_early_stopping() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "[checkpoint]\ninterval = 7\nby_epoch = false\nmax_keep_ckpts = -1\n\
                 [[plugins]]\nname = \"ema\"\nmodel_parameters = true\noptions = { momentum = 0.2 }\n\
                 [[plugins]]\nname = \"lr\"\noptions = { type = \"StepLR\", by_epoch = false, step_size = 4, gamma = 0.5 }\n\
                 [[plugins]]\nname = \"early_stopping\"\noptions = { monitor = \"accuracy\", patience = 50 }\n";
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, extra);
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "straight"]);
    let middle = tmp.path().join("straight/iter_14.safetensors");
    hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "resumed", "--resume", middle.to_str().unwrap()]);
    let (a, b) = (tmp.path().join("straight/iter_30.safetensors"), tmp.path().join("resumed/iter_30.safetensors"));
    assert_eq!(model_weights(&a), model_weights(&b));
    let plugin_state = |p: &std::path::Path| {
        tch::Tensor::read_safetensors(p)
            .unwrap()
            .into_iter()
            .filter(|(n, _)| n.starts_with("plugin."))
            .map(|(n, t)| (n, Vec::<u8>::try_from(t).unwrap()))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (sa, sb) = (plugin_state(&a), plugin_state(&b));
    assert_eq!(sa.keys().collect::<Vec<_>>(), vec!["plugin.early_stopping", "plugin.ema", "plugin.lr"]);
    assert_eq!(sa, sb);
    assert_eq!(lr_per_iteration(&tmp.path().join("straight")).last(), lr_per_iteration(&tmp.path().join("resumed")).last());
}

#[test]
fn checkpoint_best_saves_the_best_checkpoint_and_records_its_scalar() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = "[[plugins]]\nname = \"checkpoint_best\"\noptions = { monitor = \"accuracy\", rule = \"greater\" }\n";
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, extra);
    let log = stdout(&hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]));
    let work = tmp.path().join("w");
    assert!(log.contains("Saving checkpoint `best_accuracy` (requested by a hook)"), "{log}");
    assert!(work.join("best_accuracy.safetensors").exists());
    let vals: Vec<_> = scalars(&work).into_iter().filter(|r| r["mode"] == "val").collect();
    let best = vals.iter().map(|r| r["accuracy"].as_f64().unwrap()).fold(f64::MIN, f64::max);
    assert_eq!(vals.last().unwrap()["best/accuracy"].as_f64(), Some(best));
    // The best checkpoint's weights score the best accuracy.
    let ckpt = work.join("best_accuracy.safetensors");
    let val = stdout(&hammer_ok(tmp.path(), &["val", cfg.to_str().unwrap(), "--checkpoint", ckpt.to_str().unwrap()]));
    assert!(val.contains(&format!("accuracy: {best:.4}")), "{val}");
}

/// ReduceOnPlateauLR reads the validation metric from the run's scalars:
/// its lr per epoch is torch's `ReduceLROnPlateau` fed the same accuracies.
#[test]
fn reduce_on_plateau_follows_the_validation_metric_as_torch_does() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = r#"
[optim.optimizer]
type = "sgd"
lr = 0.1
[[plugins]]
name = "lr"
options = { type = "ReduceOnPlateauLR", monitor = "accuracy", rule = "greater", factor = 0.5, patience = 0 }
"#;
    tiny_config(tmp.path(), "job.toml", 320, 8, extra);
    hammer_ok(tmp.path(), &["train", "job.toml", "--work-dir", "w"]);
    let records = scalars(&tmp.path().join("w"));
    let accuracies: Vec<f64> = records.iter().filter(|r| r["mode"] == "val").map(|r| r["accuracy"].as_f64().unwrap()).collect();
    // The lr of each epoch, at its last iteration (10 per epoch).
    let got: Vec<f64> = records
        .iter()
        .filter(|r| r["mode"] == "train" && r["iter"].as_u64().unwrap() % 10 == 0)
        .map(|r| r["lr"].as_f64().unwrap())
        .collect();
    assert_eq!((accuracies.len(), got.len()), (8, 8));
    let script = r#"
import json, sys, torch
p = torch.nn.Parameter(torch.zeros(1))
opt = torch.optim.SGD([p], lr=0.1)
plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=0)
lrs = [opt.param_groups[0]["lr"]]
for accuracy in json.loads(sys.argv[1])[:-1]:
    plateau.step(accuracy)
    lrs.append(opt.param_groups[0]["lr"])
print(json.dumps(lrs))
"#;
    let expected: Vec<f64> = serde_json::from_str(&run_python(script, &[&serde_json::to_string(&accuracies).unwrap()])).unwrap();
    assert!(expected.last().unwrap() < &0.1, "the metric must plateau in this job for the test to mean something: {accuracies:?}");
    for (e, (g, x)) in got.iter().zip(&expected).enumerate() {
        assert!((g - x).abs() <= 1e-12, "epoch {}: lr {g}, torch {x}\n{got:?}\n{expected:?}\n{accuracies:?}", e + 1);
    }
}

/// Metric plugins see the run's scalars and can emit their own, as hooks
/// and lr policies do.
#[test]
fn metric_plugins_read_and_emit_scalars() {
    let tmp = tempfile::tempdir().unwrap();
    let extra = format!("[[plugins]]\npath = \"{}\"\n", hammer_tests::guest("observer").display());
    tiny_config(tmp.path(), "job.toml", 320, 2, &extra);
    hammer_ok(tmp.path(), &["train", "job.toml", "--work-dir", "w"]);
    let records = scalars(&tmp.path().join("w"));
    let train_lr = records.iter().find(|r| r["mode"] == "train").unwrap()["lr"].as_f64().unwrap();
    let val: Vec<&serde_json::Value> = records.iter().filter(|r| r["mode"] == "val").collect();
    assert_eq!(val.len(), 2, "{records:?}");
    for r in val {
        assert_eq!(r["seen_lr"].as_f64(), Some(train_lr), "{r}");
        // 200 validation samples in batches of 100.
        assert_eq!(r["batches"].as_f64(), Some(2.0), "{r}");
        assert_eq!(r["observer/batches"].as_f64(), Some(2.0), "{r}");
    }
}

/// The compiled-component cache keeps to `HAMMER_CACHE_LIMIT_MB`: the
/// compilation that overflows it deletes the forms used least recently,
/// never its own.
#[test]
fn the_compiled_cache_keeps_to_its_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let home = dir.join("home");
    let cfg = tiny_config(dir, "job.toml", 64, 1, "");
    let plugin = |name: &str| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugins").join(format!("{name}.wasm"));
    let forms = || -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(home.join("cache/components"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".cwasm"))
            .collect();
        names.sort();
        names
    };
    let train = |work: &str, limit: &str, plugins: &[&str]| {
        let mut cmd = hammer_tests::hammer_command(dir);
        cmd.env("HAMMER_HOME", &home).env("HAMMER_CACHE_LIMIT_MB", limit);
        cmd.args(["train", cfg.to_str().unwrap(), "--work-dir", work]);
        for p in plugins {
            cmd.arg("--plugin").arg(plugin(p));
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "{}", hammer_tests::stderr(&out));
        stdout(&out)
    };
    train("w1", "1024", &["accuracy", "ema"]);
    assert_eq!(forms().len(), 2);
    // A third plugin, compiled under a limit of 0: only its own form stays.
    let log = train("w2", "0", &["accuracy", "ema", "mean_loss"]);
    assert!(log.contains("Loaded plugin `mean_loss`") && log.contains("(compiled)"), "{log}");
    let left = forms();
    assert_eq!(left.len(), 1, "{left:?}");
    // The next start finds the others gone and compiles them again.
    let log = train("w3", "1024", &["accuracy", "mean_loss"]);
    assert!(log.contains("Loaded plugin `accuracy`") && log.contains("(compiled)"), "{log}");
    assert!(log.contains("(compiled form cached)"), "mean_loss's form stayed: {log}");
    assert_eq!(forms().len(), 2);
}
