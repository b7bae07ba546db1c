//! The extension vocabulary: what the runner and every extension share —
//! the phases of the loop and what a call is told ([`phase`]), the
//! [`Hook`], [`Metric`] and [`LrPolicy`] traits, the scalars extensions read
//! and emit, the requests they make, the state checkpoints keep for them,
//! the [`ExtensionFailure`] any of them may raise, and how a run's
//! extensions are brought in ([`setup`]).
//!
//! Both sides depend on this module and on nothing of each other: the
//! runner calls extensions without knowing whether they are native or
//! WebAssembly, and the plugin host implements these traits without
//! knowing the runner.

mod failure;
pub mod hook;
pub mod lr_policy;
pub mod metric;
pub mod phase;
pub mod scalars;
pub mod setup;
mod stateful;

pub use failure::ExtensionFailure;
pub use hook::{Hook, HookContext, Requests, NORMAL_PRIORITY};
pub use lr_policy::{Cadence, LrPolicy};
pub use metric::Metric;
pub use phase::{Mode, Phase, StepInfo};
pub use scalars::Scalars;
pub use setup::{ExtensionLoader, Extensions, NoExtensions, OptimizerView, Setup};
pub use stateful::Stateful;
