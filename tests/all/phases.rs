//! The exact sequence of phases a small job fires, as hooks see them.

use std::sync::{Arc, Mutex};

use hammer::config::load_config;
use hammer::extension::{Hook, HookContext, Phase, Stateful, StepInfo};
use hammer::runner::{Runner, Start};
use hammer_tests::tiny_config;

/// Records every phase it is called at, with the step information.
struct Recorder {
    seen: Arc<Mutex<Vec<(Phase, u32, u64, u64)>>>,
}

impl Stateful for Recorder {}

impl Hook for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }
    fn subscribes(&self, _phase: Phase) -> bool {
        true
    }
    fn call(&mut self, info: &StepInfo, _ctx: &mut HookContext<'_>) -> anyhow::Result<()> {
        self.seen.lock().unwrap().push((info.phase, info.epoch, info.iter, info.inner_iter));
        Ok(())
    }
}

fn iteration(step: bool) -> Vec<&'static str> {
    let mut v = vec!["before_train_iter", "before_forward", "after_forward", "before_backward", "after_backward"];
    if step {
        v.extend(["before_optimizer_step", "after_optimizer_step"]);
    }
    v.push("after_train_iter");
    v
}

#[test]
fn a_small_job_fires_phases_in_the_documented_order() {
    let tmp = tempfile::tempdir().unwrap();
    // 2 epochs of 2 iterations, a step every 2 iterations, a checkpoint and
    // a validation of 2 iterations after every epoch.
    let cfg = tiny_config(
        tmp.path(),
        "job.toml",
        64,
        2,
        "[optim]\naccumulative_counts = 2\n",
    );
    let config = load_config(&cfg, &[]).unwrap();
    let work = tmp.path().join("w");
    std::fs::create_dir(&work).unwrap();
    let mut runner = Runner::build(config, Some(work), Start::Fresh).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    runner.hooks_mut().register(Box::new(Recorder { seen: Arc::clone(&seen) }));
    runner.train().unwrap();

    let mut expected = vec!["before_run", "before_train"];
    for _ in 0..2 {
        expected.push("before_train_epoch");
        expected.extend(iteration(false));
        expected.extend(iteration(true));
        expected.extend([
            "after_train_epoch",
            "before_save_checkpoint",
            "after_save_checkpoint",
            "before_val",
            "before_val_epoch",
            "before_val_iter",
            "after_val_iter",
            "before_val_iter",
            "after_val_iter",
            "after_val_epoch",
            "after_val",
        ]);
    }
    expected.extend(["after_train", "after_run"]);
    let seen = seen.lock().unwrap();
    let names: Vec<&str> = seen.iter().map(|(p, ..)| p.name()).collect();
    assert_eq!(names, expected);

    // Step information: the second iteration of the second epoch is global iteration 3.
    let iters: Vec<(u32, u64, u64)> =
        seen.iter().filter(|(p, ..)| *p == Phase::BeforeTrainIter).map(|&(_, e, i, n)| (e, i, n)).collect();
    assert_eq!(iters, vec![(0, 0, 0), (0, 1, 1), (1, 2, 0), (1, 3, 1)]);
    // In a validation pass, `inner_iter` is the validation batch's index.
    let val: Vec<u64> = seen
        .iter()
        .filter(|(p, ..)| matches!(p, Phase::BeforeValIter | Phase::AfterValIter))
        .map(|&(.., n)| n)
        .collect();
    assert_eq!(val, vec![0, 0, 1, 1, 0, 0, 1, 1]);
}

/// Hooks run by priority, ties in registration order, the same at every phase.
#[test]
fn hooks_are_ordered_by_priority() {
    struct Named(&'static str, u32, Arc<Mutex<Vec<&'static str>>>);
    impl Stateful for Named {}
    impl Hook for Named {
        fn name(&self) -> &str {
            self.0
        }
        fn priority(&self) -> u32 {
            self.1
        }
        fn subscribes(&self, phase: Phase) -> bool {
            matches!(phase, Phase::BeforeRun | Phase::AfterRun)
        }
        fn call(&mut self, _: &StepInfo, _: &mut HookContext<'_>) -> anyhow::Result<()> {
            self.2.lock().unwrap().push(self.0);
            Ok(())
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tiny_config(tmp.path(), "job.toml", 32, 1, "");
    let mut runner = Runner::build(load_config(&cfg, &[]).unwrap(), None, Start::Fresh).unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    for (name, prio) in [("c", 70), ("a", 10), ("b1", 50), ("b2", 50)] {
        runner.hooks_mut().register(Box::new(Named(name, prio, Arc::clone(&log))));
    }
    runner.train().unwrap();
    assert_eq!(*log.lock().unwrap(), vec!["a", "b1", "b2", "c", "a", "b1", "b2", "c"]);
}

/// A plugin subscribed with an interval is called only at the multiples:
/// of the training iteration (1-based) at an iteration phase, of the epoch
/// at an epoch phase; an interval at a once-per-run phase is refused at setup.
#[test]
fn a_plugin_is_called_only_every_so_often_when_it_asks() {
    let tmp = tempfile::tempdir().unwrap();
    let misbehave = hammer_tests::guest("misbehave");
    let every = |at: &str, n: u32| {
        format!("[[plugins]]\npath = \"{}\"\noptions = {{ action = \"print\", at = \"{at}\", every = {n} }}\n", misbehave.display())
    };
    // 3 epochs of 10 iterations.
    let cfg = tiny_config(tmp.path(), "job.toml", 320, 3, &(every("after_train_iter", 7) + &every("after_train_epoch", 2)));
    let out = hammer_tests::hammer_ok(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    let log = hammer_tests::stdout(&out);
    let printed: Vec<&str> = log.lines().filter_map(|l| l.split("] hello from misbehave at iteration ").nth(1)).collect();
    // Iterations 7, 14, 21 and 28 (they print their 0-based index: 6, 13, 20, 27), and the end
    // of epoch 2 (20 iterations done), between the 20th and the 21st.
    assert_eq!(printed, ["6", "13", "20", "20", "27"], "{log}");
    let refused = tiny_config(tmp.path(), "bad.toml", 320, 1, &every("before_run", 2));
    let err = hammer_tests::hammer_err(tmp.path(), &["train", refused.to_str().unwrap(), "--work-dir", "b"]);
    assert!(err.contains("plugin `misbehave`: setup: it asked for `before_run` every 2 times"), "{err}");
}
