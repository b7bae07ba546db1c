//! The runner with native extensions only: no WebAssembly is built or run.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{Runner, Start};
use crate::checkpoint::store;
use crate::config::load_config;
use crate::extension::{ExtensionFailure, Hook, HookContext, Phase, Stateful, StepInfo};

/// A job of 2 epochs of 4 iterations on a synthetic data set, with `extra`
/// appended to its config; its work dir is `dir/work`.
fn job(dir: &Path, extra: &str) -> (crate::config::Config, PathBuf) {
    let text = r#"
[model]
type = "mlp"
hidden = 8

[train_dataloader]
batch_size = 16
dataset = { type = "two_rings", size = 64, seed = 0 }

[train_cfg]
max_epochs = 2

[checkpoint]
interval = 10
"#;
    let path = dir.join("job.toml");
    std::fs::write(&path, format!("{text}\n{extra}")).unwrap();
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    (load_config(&path, &[]).unwrap(), work)
}

/// Fails at `phase` of the training iteration `at` (0-based).
struct FailsAt {
    phase: Phase,
    at: u64,
}

impl Stateful for FailsAt {}

impl Hook for FailsAt {
    fn name(&self) -> &str {
        "fails-at"
    }
    fn subscribes(&self, phase: Phase) -> bool {
        phase == self.phase
    }
    fn call(&mut self, info: &StepInfo, _: &mut HookContext<'_>) -> Result<()> {
        anyhow::ensure!(info.iter != self.at, "gave up at iteration {}", info.iter);
        Ok(())
    }
}

fn train_with(phase: Phase, at: u64) -> (anyhow::Error, PathBuf, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let (cfg, work) = job(tmp.path(), "");
    let mut runner = Runner::build(cfg, Some(work.clone()), Start::Fresh).unwrap();
    runner.hooks_mut().register(Box::new(FailsAt { phase, at }));
    let err = runner.train().unwrap_err();
    (err, work, tmp)
}

#[test]
fn a_native_hook_failing_after_an_iteration_gets_the_emergency_checkpoint() {
    let (err, work, tmp) = train_with(Phase::AfterTrainIter, 2);
    let failure = err.downcast_ref::<ExtensionFailure>().expect("an extension failure");
    assert_eq!((failure.kind, failure.name.as_str(), failure.phase.as_str()), ("hook", "fails-at", "after_train_iter"));
    assert!(err.to_string().contains("gave up at iteration 2"), "{err}");
    // The failing iteration itself completed: the checkpoint is after it.
    let last = store::last(&work).unwrap().expect("an emergency checkpoint");
    assert_eq!(last.file_name().unwrap(), "iter_3.safetensors");
    let log = std::fs::read_to_string(work.join("hammer.log")).unwrap();
    assert!(log.contains("A hook failed; saved iter_3.safetensors before stopping"), "{log}");
    // It resumes where the run stopped.
    let (cfg, _) = job(tmp.path(), "");
    let resumed = Runner::build(cfg, Some(work), Start::ResumeLatest).unwrap();
    assert_eq!((resumed.state().iter, resumed.state().epoch, resumed.state().inner_iter), (3, 0, 3));
}

#[test]
fn a_native_hook_failing_inside_an_iteration_leaves_no_checkpoint() {
    // After the forward pass, model and optimizer may disagree: nothing is saved.
    let (err, work, _tmp) = train_with(Phase::AfterForward, 2);
    assert!(ExtensionFailure::is(&err), "{err}");
    assert_eq!(store::last(&work).unwrap(), None);
}

#[test]
fn a_config_with_plugins_needs_a_loader() {
    let tmp = tempfile::tempdir().unwrap();
    let (cfg, work) = job(tmp.path(), "[[plugins]]\npath = \"ema.wasm\"\n");
    let err = Runner::build(cfg, Some(work), Start::Fresh).unwrap_err();
    assert!(err.to_string().contains("Runner::build_with"), "{err}");
}

/// The module graph: neither the runner nor the extension vocabulary knows the plugin host.
#[test]
fn the_runner_and_the_extensions_do_not_import_the_plugin_host() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for dir in ["runner", "extension"] {
        for entry in std::fs::read_dir(src.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.ends_with("tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
            let uses: Vec<&str> = code.filter(|l| l.contains("crate::plugin") || l.contains("super::plugin")).collect();
            assert!(uses.is_empty(), "{} uses the plugin host: {uses:?}", path.display());
        }
    }
}
