//! A hook that misbehaves on purpose, for hammer's sandbox tests.
//!
//! Options: `action` (what to do), `at` (the phase, default
//! `after_train_iter`), `from_iter` (the first iteration to act at,
//! default 0), `on_rank` (the only rank of a distributed job to act on;
//! default: every rank) and `every` (be called only every so many times,
//! the subscription's interval; default 1). Probing actions (`read_file`, `env`, `socket`, `clock`,
//! `params`, `write_file`) log
//! `<action>: denied (...)` or `<action>: ALLOWED (...)`; `random` logs a
//! number drawn from WASI's randomness; `rank` warns
//! `I am rank R of N` (a warning: every rank of a distributed job shows it),
//! and at setup `set up as rank R of N` (what `host.step()` says then).

use hammer_sdk::{export_hook, info, Hook, Options, Phase, StepInfo, Subscription};

#[derive(Default)]
struct Misbehave {
    action: String,
    from_iter: u64,
    on_rank: Option<u32>,
}

const PHASES: [(&str, Phase); 7] = [
    ("before_run", Phase::BeforeRun),
    ("after_train_iter", Phase::AfterTrainIter),
    ("after_train_epoch", Phase::AfterTrainEpoch),
    ("after_val_epoch", Phase::AfterValEpoch),
    ("before_train_iter", Phase::BeforeTrainIter),
    ("before_val_iter", Phase::BeforeValIter),
    ("after_val_iter", Phase::AfterValIter),
];

impl Hook for Misbehave {
    fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String> {
        options.check_known(&["action", "at", "from_iter", "on_rank", "every"])?;
        self.action = options.get_str("action", "nothing")?;
        self.from_iter = options.get_u64("from_iter", 0)?;
        self.on_rank = options.optional_u64("on_rank")?.map(|r| u32::try_from(r).unwrap_or(u32::MAX));
        let at = options.get_str("at", "after_train_iter")?;
        let phase = PHASES.iter().find(|(n, _)| *n == at).ok_or(format!("unknown phase `{at}`"))?.1;
        if self.action == "rank" {
            let step = hammer_sdk::step();
            hammer_sdk::warn(&format!("set up as rank {} of {}", step.rank, step.world_size));
        }
        let every = u32::try_from(options.get_u64("every", 1)?).map_err(|_| "option `every` is too large")?;
        Ok(vec![Subscription::every(phase, every)])
    }

    fn on_phase(&mut self, step: &StepInfo) -> Result<(), String> {
        if step.iter < self.from_iter || self.on_rank.is_some_and(|r| r != step.rank) {
            return Ok(());
        }
        match self.action.as_str() {
            "nothing" => {}
            "loop" => loop {
                std::hint::black_box(step.iter);
            },
            "grow" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("misbehave panics on purpose"),
            "error" => return Err("misbehave returns an error on purpose".into()),
            "print" => println!("hello from misbehave at iteration {}", step.iter),
            // What WASI's randomness gives (through std's hash-map keys).
            "random" => {
                use std::hash::BuildHasher;
                info(&format!("random: {:x}", std::collections::hash_map::RandomState::new().hash_one(42u64)));
            }
            // A warning, which every rank of a distributed job shows.
            "rank" => hammer_sdk::warn(&format!("I am rank {} of {}", step.rank, step.world_size)),
            "read_file" => probe("read_file", std::fs::read_to_string("/etc/hostname").map(|s| s.len())),
            "env" => {
                let vars = std::env::vars().count();
                probe("env", if vars == 0 { Err("no variables") } else { Ok(vars) });
            }
            "socket" => probe("socket", std::net::TcpStream::connect("127.0.0.1:9").map(|_| 0)),
            "params" => probe("params", hammer_sdk::model_parameters().map(|p| p.len())),
            // A granted work-dir capability is preopened as `probe`.
            "write_file" => probe("write_file", std::fs::write("probe/written.txt", b"hello").map(|()| "probe/written.txt")),
            "clock" => {
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                probe("clock", if now.as_secs() == 0 { Err("frozen at 0") } else { Ok(now.as_secs()) });
            }
            other => return Err(format!("unknown action `{other}`")),
        }
        Ok(())
    }
}

fn probe<T: std::fmt::Debug, E: std::fmt::Display>(what: &str, result: Result<T, E>) {
    match result {
        Ok(v) => info(&format!("{what}: ALLOWED ({v:?})")),
        Err(e) => info(&format!("{what}: denied ({e})")),
    }
}

export_hook!(Misbehave);
