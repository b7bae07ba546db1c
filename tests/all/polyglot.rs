//! Plugins written in Python (`polyglot/python/`, built into components by
//! `polyglot/python/build.sh` with componentize-py) give the same results as
//! the first-party Rust ones, and are sandboxed like them.

use std::path::{Path, PathBuf};

use hammer_tests::{hammer_ok, scalars, stdout, tiny_config};

/// A Python plugin built by `polyglot/python/build.sh`; fails (never skips) when missing.
fn python_plugin(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../polyglot/python/out").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run polyglot/python/build.sh", path.display());
    path
}

/// Writes a tiny job (`size` points, `epochs` epochs, log interval 1) with
/// `extra` appended, trains it into `work` and returns its log.
fn train(dir: &Path, work: &str, size: usize, epochs: u32, extra: &str) -> String {
    let cfg = tiny_config(dir, &format!("{work}.toml"), size, epochs, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("[log]\ninterval = 5\n", "[log]\ninterval = 1\n") + extra;
    std::fs::write(&cfg, text).unwrap();
    stdout(&hammer_ok(dir, &["train", cfg.to_str().unwrap(), "--work-dir", work]))
}

fn column(work: &Path, mode: &str, key: &str) -> Vec<f64> {
    scalars(work).iter().filter(|r| r["mode"] == mode).filter_map(|r| r[key].as_f64()).collect()
}

#[test]
fn python_accuracy_matches_the_rust_metric() {
    let tmp = tempfile::tempdir().unwrap();
    let python = format!("[[plugins]]\npath = \"{}\"\n", python_plugin("accuracy").display());
    train(tmp.path(), "py", 320, 3, &python);
    train(tmp.path(), "rs", 320, 3, "[[plugins]]\nname = \"accuracy\"\n");
    let py = column(&tmp.path().join("py"), "val", "accuracy");
    let rs = column(&tmp.path().join("rs"), "val", "accuracy");
    assert_eq!(rs.len(), 3, "one value per val pass: {rs:?}");
    assert_eq!(py, rs);
}

#[test]
fn python_cosine_matches_the_rust_lr_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let optim = "[optim.optimizer]\ntype = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n";
    let python = format!(
        "{optim}[[plugins]]\npath = \"{}\"\noptions = {{ T_max = 3 }}\n",
        python_plugin("cosine").display()
    );
    let rust = format!("{optim}[[plugins]]\nname = \"lr\"\noptions = {{ type = \"CosineAnnealingLR\", by_epoch = true, T_max = 3 }}\n");
    // 8 epochs of 10 iterations with T_max = 3: past T_max the recursive
    // formula climbs back up, which exercises its every branch.
    train(tmp.path(), "py", 320, 8, &python);
    train(tmp.path(), "rs", 320, 8, &rust);
    let py = column(&tmp.path().join("py"), "train", "lr");
    let rs = column(&tmp.path().join("rs"), "train", "lr");
    assert_eq!(rs.len(), 80, "{rs:?}");
    assert_eq!(py.len(), rs.len());
    for (i, (p, r)) in py.iter().zip(&rs).enumerate() {
        assert!((p - r).abs() <= 1e-12, "iteration {i}: python {p}, rust {r}\n{py:?}\n{rs:?}");
    }
    // It does anneal: the lr changes at each epoch.
    assert!(rs[10] < rs[0] && rs[30] < rs[20], "{rs:?}");
}

#[test]
fn python_spike_hook_stops_an_exploding_run_only() {
    let tmp = tempfile::tempdir().unwrap();
    let spike = format!("[[plugins]]\npath = \"{}\"\n", python_plugin("spike").display());
    let exploding = format!("[optim.optimizer]\ntype = \"sgd\"\nlr = 1e6\n{spike}");
    let log = train(tmp.path(), "exploding", 320, 4, &exploding);
    assert!(log.contains("Training stopped early: spike: the loss"), "{log}");
    let iters = column(&tmp.path().join("exploding"), "train", "loss").len();
    assert!(iters < 40, "stopped before the end: {iters} iterations logged");

    let log = train(tmp.path(), "normal", 320, 4, &spike);
    assert!(!log.contains("Training stopped early"), "{log}");
    let ratios = column(&tmp.path().join("normal"), "train", "spike/ratio");
    assert_eq!(ratios.len(), 39, "a ratio from the second iteration on: {ratios:?}");
    assert!(ratios.iter().all(|r| r.is_finite() && *r > 0.0 && *r < 10.0), "{ratios:?}");
}

#[test]
fn python_plugins_cannot_read_files() {
    let tmp = tempfile::tempdir().unwrap();
    let probe = format!("[[plugins]]\npath = \"{}\"\n", python_plugin("probe").display());
    let log = train(tmp.path(), "probe", 64, 1, &probe);
    // Once in setup, once at before_train.
    assert_eq!(log.matches("[probe] read_file: denied (").count(), 2, "{log}");
    assert!(!log.contains("ALLOWED"), "{log}");
}
