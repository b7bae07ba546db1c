//! The schedulers' math, free of any host call so it is tested natively.
//!
//! Each scheduler follows MMEngine's `_ParamScheduler` (itself modelled on
//! `torch.optim.lr_scheduler`):
//!
//! * a *global step* counts every scheduler step since the start of training:
//!   the epoch (`by_epoch = true`) or the iteration (`by_epoch = false`);
//! * inside the window `begin <= global < end` each step increments
//!   `last_step` (−1 before the first) and computes the new value with the
//!   scheduler's *chainable* formula, which takes the current learning rate
//!   (so several policies in a row compose, as MMEngine's scheduler lists do);
//! * the first step inside the window (`last_step == 0`) applies the initial
//!   value, as torch does when a scheduler is constructed;
//! * outside the window, and between steps, the learning rate is unchanged.
//!
//! `ReduceOnPlateauLR` differs as in MMEngine: it steps only when a
//! validation result is there, never at construction.
//!
//! # Where things are
//!
//! A [`Schedule`] is built from the options by [`Schedule::from_options`]
//! (`config.rs`), stepped by [`Schedule::step`] (`window.rs`, which also
//! holds the window and the catching up on missed steps) and saved by
//! [`Schedule::save_state`] (`state.rs`). Each scheduler family has a file
//! with its types' options, their checks and its formula:
//!
//! * `step_like.rs`: ConstantLR, StepLR, MultiStepLR, ExponentialLR,
//!   LinearLR, PolyLR;
//! * `cosine.rs`: CosineAnnealingLR, CosineRestartLR;
//! * `one_cycle.rs`: OneCycleLR (which also sets the momentum);
//! * `plateau.rs`: ReduceOnPlateauLR (which reads a validation metric).
//!
//! A new type is one entry in its family's `SPECS` table and in [`TYPES`].

mod config;
mod cosine;
mod one_cycle;
mod plateau;
mod state;
mod step_like;
mod window;

pub use config::TYPES;
pub use plateau::{parse_rule, Rule};

use cosine::Cosine;
use one_cycle::OneCycle;
use plateau::{Plateau, ReduceOnPlateau};
use step_like::StepLike;
use window::Window;

/// Where the loop is, as far as a schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Training epochs completed before the current one.
    pub epoch: u64,
    /// Training iterations completed before the current one.
    pub iter: u64,
}

/// The scheduler-specific part: its family and that family's parameters.
#[derive(Debug, Clone, PartialEq)]
enum Kind {
    StepLike(StepLike),
    Cosine(Cosine),
    OneCycle(OneCycle),
    Plateau(ReduceOnPlateau),
}

/// One configured scheduler and its progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    name: String,
    kind: Kind,
    base_lr: f64,
    window: Window,
    /// Steps taken inside the window, minus one (−1: none yet).
    last_step: i64,
    /// Global steps below this one have been processed.
    next_global: u64,
    plateau: Plateau,
    /// Set by `load_state`, cleared by the next step: the first metric seen
    /// after a resume may be the one already consumed before the checkpoint.
    resumed: bool,
}

impl Schedule {
    /// The scheduler's MMEngine name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the schedule counts epochs (else iterations).
    pub fn by_epoch(&self) -> bool {
        self.window.by_epoch
    }

    /// The host scalar the schedule reads, if any (`val/<monitor>`).
    pub fn monitored_scalar(&self) -> Option<String> {
        match &self.kind {
            Kind::Plateau(p) => Some(p.scalar()),
            _ => None,
        }
    }
}
