//! Plugins written in other languages (`polyglot/<lang>/`, built into
//! components by `polyglot/build.sh`) give the same results as the
//! first-party Rust ones, and are sandboxed like them.
//!
//! Every language provides the same four plugins — `spike` (hook),
//! `accuracy` (metric), `cosine` (lr-policy) and `probe` (a hook that tries to
//! read `/etc/hostname`) — and [`language_tests!`] runs the same five tests
//! on each.

use std::path::{Path, PathBuf};

use hammer_tests::{hammer_err, hammer_ok, scalars, stdout, tiny_config};

/// Plugin `name` in `lang`, built by `polyglot/<lang>/build.sh`; fails (never skips) when missing.
fn plugin(lang: &str, name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../polyglot").join(lang).join("out").join(format!("{name}.wasm"));
    assert!(path.exists(), "{} is missing: run polyglot/build.sh", path.display());
    path
}

/// The five tests below, for the plugins of `polyglot/$lang/`.
macro_rules! language_tests {
    ($lang:ident) => {
        mod $lang {
            #[test]
            fn accuracy_matches_the_rust_metric() {
                super::accuracy_matches_the_rust_metric(stringify!($lang));
            }
            #[test]
            fn cosine_matches_the_rust_lr_policy() {
                super::cosine_matches_the_rust_lr_policy(stringify!($lang));
            }
            #[test]
            fn spike_hook_stops_an_exploding_run_only() {
                super::spike_hook_stops_an_exploding_run_only(stringify!($lang));
            }
            #[test]
            fn plugins_cannot_read_files() {
                super::plugins_cannot_read_files(stringify!($lang));
            }
            #[test]
            fn state_survives_a_resume() {
                super::state_survives_a_resume(stringify!($lang));
            }
        }
    };
}

language_tests!(python);
language_tests!(js);
language_tests!(c);

/// `sdk/python/hammer_sdk.py`, which the Python plugins import, passes its
/// own unit tests (`sdk/python/test_hammer_sdk.py`) under the venv's Python.
#[test]
fn python_sdk_helpers_pass_their_unit_tests() {
    let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/python");
    let out = std::process::Command::new(hammer_tests::python())
        .args(["-m", "unittest", "-v", "test_hammer_sdk"])
        .current_dir(&sdk)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let report = hammer_tests::stderr(&out);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("Ran 7 tests") && report.trim_end().ends_with("OK"), "{report}");
}

/// `hammer_sdk.Options` inside a component: the Python `cosine` reads its
/// options with it, and a mistake is `setup`'s error, naming the plugin and
/// the option (and, for a misspelt name, the one meant).
#[test]
fn python_option_mistakes_name_the_option() {
    let tmp = tempfile::tempdir().unwrap();
    let cosine = plugin("python", "cosine");
    for (options, expected) in [
        ("T_max = 0", "option `T_max` must be an integer >= 1, found 0"),
        ("T_max = 3, eta_min = \"low\"", "option `eta_min` must be a number, found a text ('low')"),
        ("T_maks = 3", "unknown option `T_maks` (did you mean `T_max`?); known options: T_max, eta_min"),
        ("eta_min = 0.1", "option `T_max` is required (an integer)"),
    ] {
        let extra = format!("[[plugins]]\npath = \"{}\"\noptions = {{ {options} }}\n", cosine.display());
        let cfg = job(tmp.path(), "job", 64, 1, &extra);
        let err = hammer_err(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
        assert!(err.contains("plugin `cosine`") && err.contains("setup") && err.contains(expected), "{options}: {err}");
    }
}

/// Writes a tiny job `<name>.toml` (`size` points, `epochs` epochs, log
/// interval 1) with `extra` appended; returns its path.
fn job(dir: &Path, name: &str, size: usize, epochs: u32, extra: &str) -> PathBuf {
    let cfg = tiny_config(dir, &format!("{name}.toml"), size, epochs, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("[log]\ninterval = 5\n", "[log]\ninterval = 1\n") + extra;
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// Trains a tiny job (see [`job`]) into `work` and returns its log.
fn train(dir: &Path, work: &str, size: usize, epochs: u32, extra: &str) -> String {
    let cfg = job(dir, work, size, epochs, extra);
    stdout(&hammer_ok(dir, &["train", cfg.to_str().unwrap(), "--work-dir", work]))
}

fn column(work: &Path, mode: &str, key: &str) -> Vec<f64> {
    scalars(work).iter().filter(|r| r["mode"] == mode).filter_map(|r| r[key].as_f64()).collect()
}

fn accuracy_matches_the_rust_metric(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let guest = format!("[[plugins]]\npath = \"{}\"\n", plugin(lang, "accuracy").display());
    train(tmp.path(), "guest", 320, 3, &guest);
    train(tmp.path(), "rs", 320, 3, "[[plugins]]\nname = \"accuracy\"\n");
    let guest_values = column(&tmp.path().join("guest"), "val", "accuracy");
    let rs = column(&tmp.path().join("rs"), "val", "accuracy");
    assert_eq!(rs.len(), 3, "one value per val pass: {rs:?}");
    assert_eq!(guest_values, rs, "{lang}");
}

fn cosine_matches_the_rust_lr_policy(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let optim = "[optim.optimizer]\ntype = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n";
    let guest = format!(
        "{optim}[[plugins]]\npath = \"{}\"\noptions = {{ T_max = 3 }}\n",
        plugin(lang, "cosine").display()
    );
    let rust = format!("{optim}[[plugins]]\nname = \"lr\"\noptions = {{ type = \"CosineAnnealingLR\", by_epoch = true, T_max = 3 }}\n");
    // 8 epochs of 10 iterations with T_max = 3: past T_max the recursive
    // formula climbs back up, which exercises its every branch.
    train(tmp.path(), "guest", 320, 8, &guest);
    train(tmp.path(), "rs", 320, 8, &rust);
    let guest_values = column(&tmp.path().join("guest"), "train", "lr");
    let rs = column(&tmp.path().join("rs"), "train", "lr");
    assert_eq!(rs.len(), 80, "{rs:?}");
    assert_eq!(guest_values.len(), rs.len(), "{lang}");
    for (i, (p, r)) in guest_values.iter().zip(&rs).enumerate() {
        assert!((p - r).abs() <= 1e-12, "{lang}, iteration {i}: {p}, rust {r}\n{guest_values:?}\n{rs:?}");
    }
    // It does anneal: the lr changes at each epoch.
    assert!(rs[10] < rs[0] && rs[30] < rs[20], "{rs:?}");
}

fn spike_hook_stops_an_exploding_run_only(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let spike = format!("[[plugins]]\npath = \"{}\"\n", plugin(lang, "spike").display());
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

fn plugins_cannot_read_files(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let probe = format!("[[plugins]]\npath = \"{}\"\n", plugin(lang, "probe").display());
    let log = train(tmp.path(), "probe", 64, 1, &probe);
    // Once in setup, once at before_train.
    assert_eq!(log.matches("[probe] read_file: denied (").count(), 2, "{log}");
    assert!(!log.contains("ALLOWED"), "{log}");
}

/// Save-state and load-state: a run with `spike` and `cosine` stopped after 3
/// epochs and resumed gives the same `spike/ratio` and `lr` values as the
/// run that never stopped. Without the plugins' state, the resumed `spike`
/// would restart its running mean (no ratio at the first iteration, other
/// values after) and `cosine` would step its schedule again from the start.
fn state_survives_a_resume(lang: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let extra = format!(
        "[optim.optimizer]\ntype = \"sgd\"\nlr = 0.1\nmomentum = 0.9\n\
         [[plugins]]\npath = \"{}\"\n[[plugins]]\npath = \"{}\"\noptions = {{ T_max = 4 }}\n",
        plugin(lang, "spike").display(),
        plugin(lang, "cosine").display()
    );
    // 6 epochs of 10 iterations; the resumed run starts after iteration 30.
    let cfg = job(tmp.path(), "job", 320, 6, &extra);
    let cfg = cfg.to_str().unwrap();
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "straight"]);
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "resumed", "--cfg-options", "train_cfg.max_epochs=3"]);
    hammer_ok(tmp.path(), &["train", cfg, "--work-dir", "resumed", "--resume"]);
    let after = |work: &str, key: &str| -> Vec<(u64, f64)> {
        scalars(&tmp.path().join(work))
            .iter()
            .filter(|r| r["mode"] == "train" && r["iter"].as_u64().is_some_and(|i| i > 30))
            .filter_map(|r| Some((r["iter"].as_u64()?, r[key].as_f64()?)))
            .collect()
    };
    for key in ["spike/ratio", "lr"] {
        let straight = after("straight", key);
        let resumed = after("resumed", key);
        assert_eq!(straight.len(), 30, "{lang}: {key} at every iteration after 30: {straight:?}");
        assert_eq!(resumed, straight, "{lang}: {key} after the resume");
    }
    // The schedule does move after the resume point (T_max = 4, epochs 3 to 5).
    let lr = after("straight", "lr");
    assert!(lr[0].1 != lr[10].1 && lr[10].1 != lr[20].1, "{lr:?}");
}
