//! # hammer-sdk
//!
//! Write hammer plugins in Rust without touching the
//! component-model bindings. A plugin is a `cdylib` crate built for
//! `wasm32-wasip2`; it implements one of three traits and exports its type
//! with the matching macro:
//!
//! | world (`wit/hammer.wit`) | trait        | macro                |
//! |--------------------------|--------------|----------------------|
//! | `hook-plugin`            | [`Hook`]     | [`export_hook!`]     |
//! | `metric-plugin`          | [`Metric`]   | [`export_metric!`]   |
//! | `lr-policy-plugin`       | [`LrPolicy`] | [`export_lr_policy!`]|
//!
//! The exported type also implements [`Default`]: the macro creates one
//! instance when the component starts and calls it for every export.
//! Tensors stay in the host; a plugin holds [`Tensor`] handles and asks the
//! host to compute on them.
//!
//! ```no_run
//! use hammer_sdk::{export_hook, Hook, Options, Phase, StepInfo, Subscription};
//!
//! /// Stops training once the validation loss is small enough.
//! #[derive(Default)]
//! struct GoodEnough {
//!     threshold: f64,
//! }
//!
//! impl Hook for GoodEnough {
//!     fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String> {
//!         options.check_known(&["threshold"])?;
//!         self.threshold = options.get_f64("threshold", 0.05)?;
//!         Ok(vec![Phase::AfterValEpoch.into()])
//!     }
//!
//!     fn on_phase(&mut self, info: &StepInfo) -> Result<(), String> {
//!         if let Some(loss) = hammer_sdk::scalar("val/loss") {
//!             if loss < self.threshold {
//!                 hammer_sdk::request_stop(&format!(
//!                     "val/loss {loss:.4} < {} after epoch {}",
//!                     self.threshold,
//!                     info.epoch + 1
//!                 ));
//!             }
//!         }
//!         Ok(())
//!     }
//! }
//!
//! export_hook!(GoodEnough);
//! ```
//!
//! `Cargo.toml` of such a plugin:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! hammer-sdk = { path = "../../sdk" }
//! ```
//!
//! and `cargo build --release --target wasm32-wasip2` writes the component
//! `target/wasm32-wasip2/release/<name>.wasm`.
//!
//! The crate also compiles for the host target, so a plugin's pure logic can
//! be unit-tested with a plain `cargo test`; calling a host function there
//! panics (there is no host).

#![warn(missing_docs)]

pub mod options;
pub mod state;

pub use options::Options;

/// The generated bindings and the glue the export macros expand to. Not a
/// stable API: use the re-exports at the crate root.
#[doc(hidden)]
pub mod __private {
    #![allow(missing_docs, clippy::all)]

    /// Bindings of the `hook-plugin` world; also the single home of the
    /// `types` and `host` interfaces, which the other worlds reuse.
    pub mod hook_world {
        wit_bindgen::generate!({
            world: "hook-plugin",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_hook_world",
            default_bindings_module: "hammer_sdk::__private::hook_world",
            additional_derives: [PartialEq],
        });
    }

    /// Bindings of the `metric-plugin` world.
    pub mod metric_world {
        wit_bindgen::generate!({
            world: "metric-plugin",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_metric_world",
            default_bindings_module: "hammer_sdk::__private::metric_world",
            with: {
                "hammer:plugin/types@0.3.0": super::hook_world::hammer::plugin::types,
                "hammer:plugin/host@0.3.0": super::hook_world::hammer::plugin::host,
            },
        });
    }

    /// Bindings of the `lr-policy-plugin` world.
    pub mod lr_world {
        wit_bindgen::generate!({
            world: "lr-policy-plugin",
            path: "../wit",
            pub_export_macro: true,
            export_macro_name: "__export_lr_policy_world",
            default_bindings_module: "hammer_sdk::__private::lr_world",
            additional_derives: [PartialEq],
            with: {
                "hammer:plugin/types@0.3.0": super::hook_world::hammer::plugin::types,
                "hammer:plugin/host@0.3.0": super::hook_world::hammer::plugin::host,
            },
        });
    }

    pub use hook_world::__export_hook_world as export_hook_world;
    pub use lr_world::__export_lr_policy_world as export_lr_policy_world;
    pub use metric_world::__export_metric_world as export_metric_world;

    use crate::{Cadence, Decision, Hook, LrPolicy, Metric, Options, Phase, StepInfo, Subscription, Tensor};

    /// Where an exported hook lives; implemented by [`export_hook!`](crate::export_hook).
    pub trait HookSlot {
        /// The plugin's type.
        type Plugin: Hook;
        /// Runs `f` on the one instance.
        fn with<R>(f: impl FnOnce(&mut Self::Plugin) -> R) -> R;
    }

    impl<S: HookSlot> hook_world::exports::hammer::plugin::hook::Guest for S {
        fn setup(options: Vec<(String, crate::OptionValue)>) -> Result<Vec<Subscription>, String> {
            let options = Options::new(options);
            S::with(|p| p.setup(&options))
        }
        fn on_phase(_phase: Phase) -> Result<(), String> {
            // The host sends the phase only; a Rust hook gets the whole step
            // (one cheap host call).
            let info = crate::step();
            S::with(|p| p.on_phase(&info))
        }
        fn save_state() -> Vec<u8> {
            S::with(|p| p.save_state())
        }
        fn load_state(state: Vec<u8>) -> Result<(), String> {
            S::with(|p| p.load_state(&state))
        }
    }

    /// Where an exported metric lives; implemented by [`export_metric!`](crate::export_metric).
    pub trait MetricSlot {
        /// The plugin's type.
        type Plugin: Metric;
        /// Runs `f` on the one instance.
        fn with<R>(f: impl FnOnce(&mut Self::Plugin) -> R) -> R;
    }

    impl<S: MetricSlot> metric_world::exports::hammer::plugin::metric::Guest for S {
        fn setup(options: Vec<(String, crate::OptionValue)>) -> Result<(), String> {
            let options = Options::new(options);
            S::with(|p| p.setup(&options))
        }
        fn reset() {
            S::with(|p| p.reset())
        }
        fn process(output: &Tensor, targets: &Tensor, loss: f64) -> Result<(), String> {
            S::with(|p| p.process(output, targets, loss))
        }
        fn compute() -> Result<Vec<(String, f64)>, String> {
            S::with(|p| p.compute())
        }
        fn save_state() -> Vec<u8> {
            S::with(|p| p.save_state())
        }
        fn load_state(state: Vec<u8>) -> Result<(), String> {
            S::with(|p| p.load_state(&state))
        }
    }

    /// Where an exported learning-rate policy lives; implemented by
    /// [`export_lr_policy!`](crate::export_lr_policy).
    pub trait LrPolicySlot {
        /// The plugin's type.
        type Plugin: LrPolicy;
        /// Runs `f` on the one instance.
        fn with<R>(f: impl FnOnce(&mut Self::Plugin) -> R) -> R;
    }

    impl<S: LrPolicySlot> lr_world::exports::hammer::plugin::lr_policy::Guest for S {
        fn setup(
            options: Vec<(String, crate::OptionValue)>,
            base_lr: f64,
            base_momentum: Option<f64>,
        ) -> Result<Cadence, String> {
            let options = Options::new(options);
            S::with(|p| p.setup(&options, base_lr, base_momentum))
        }
        fn step(info: StepInfo, lr: f64, momentum: Option<f64>) -> Result<Decision, String> {
            S::with(|p| p.step(&info, lr, momentum))
        }
        fn save_state() -> Vec<u8> {
            S::with(|p| p.save_state())
        }
        fn load_state(state: Vec<u8>) -> Result<(), String> {
            S::with(|p| p.load_state(&state))
        }
    }
}

use __private::hook_world::hammer::plugin::{host, types};

/// A named point of the training loop a hook can subscribe to.
pub use types::Phase;
/// Which loop (train, val, test) is running.
pub use types::Mode;
/// Where the loop is: phase, mode, epoch, iteration, world size...
pub use types::StepInfo;
/// A phase a hook subscribes to, and how often ([`Subscription::every`]).
pub use types::Subscription;

impl Subscription {
    /// Every time `phase` fires.
    pub fn at(phase: Phase) -> Self {
        Self { phase, every: 1 }
    }

    /// Every `n`-th time `phase` fires, counted by the training iteration
    /// (1-based) at the phases of a training iteration, by the epoch at the
    /// epoch phases, by the batch of its pass at the phases of a validation
    /// or test iteration (MMEngine's `every_n_train_iters`,
    /// `every_n_epochs`, `every_n_inner_iters`). Other phases fire once per
    /// run, pass or checkpoint: the host refuses `n` > 1 there.
    pub fn every(phase: Phase, n: u32) -> Self {
        Self { phase, every: n }
    }
}

impl From<Phase> for Subscription {
    fn from(phase: Phase) -> Self {
        Self::at(phase)
    }
}
/// One option value as the host sends it; read options through [`Options`].
pub use types::OptionValue;
/// Severity of a [`log`] line.
pub use host::Level;
/// A handle to a tensor that lives in the host (its methods run there).
pub use host::Tensor;
/// What a learning-rate policy decides for one iteration.
pub use __private::lr_world::exports::hammer::plugin::lr_policy::Decision;
/// How often the host asks a learning-rate policy: at every training
/// iteration, or once per epoch (MMEngine's `by_epoch`).
pub use __private::lr_world::exports::hammer::plugin::lr_policy::Cadence;

/// Writes a line to hammer's log, under the plugin's name.
pub use host::log;
/// The current value of a host scalar (`loss`, `lr`, `val/<metric>`, emitted scalars), if set.
pub use host::scalar;
/// Sets a scalar; it appears in log lines and `scalars.jsonl`.
pub use host::emit_scalar;
/// Asks the runner to stop training, giving the reason for the log.
pub use host::request_stop;
/// Asks the runner to save a checkpoint at the next safe point, tagged for the log.
pub use host::request_checkpoint;
/// The model's parameters by name; an error unless the config grants `model_parameters = true`.
pub use host::model_parameters;
/// Where the loop is now.
pub use host::step;

/// Logs `message` at [`Level::Info`].
pub fn info(message: &str) {
    log(Level::Info, message);
}

/// Logs `message` at [`Level::Warning`].
pub fn warn(message: &str) {
    log(Level::Warning, message);
}

/// Logs `message` at [`Level::Debug`].
pub fn debug(message: &str) {
    log(Level::Debug, message);
}

/// A controller called at the phases of the loop it subscribes to
/// (world `hook-plugin`). Export it with [`export_hook!`].
pub trait Hook {
    /// Called once before anything else with the plugin's options; returns
    /// the phases to be called at (`Phase::AfterTrainIter.into()`, or
    /// [`Subscription::every`]). An error stops the run before it starts.
    fn setup(&mut self, options: &Options) -> Result<Vec<Subscription>, String>;

    /// Called at each subscribed phase. An error is reported with the
    /// plugin's name and phase, and the config's failure policy applies.
    fn on_phase(&mut self, info: &StepInfo) -> Result<(), String>;

    /// The state to store in checkpoints (default: nothing).
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`save_state`](Hook::save_state) returned (default: ignores it).
    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        let _ = state;
        Ok(())
    }
}

/// A metric of the validation and test loops (world `metric-plugin`).
/// Export it with [`export_metric!`].
pub trait Metric {
    /// Called once with the plugin's options.
    fn setup(&mut self, options: &Options) -> Result<(), String>;

    /// Forgets what the previous pass accumulated (called before each pass).
    fn reset(&mut self);

    /// One batch: the model's output, the targets and the batch's mean loss.
    fn process(&mut self, output: &Tensor, targets: &Tensor, loss: f64) -> Result<(), String>;

    /// The metric's values for the pass, by name (`accuracy`, `accuracy_top5`).
    fn compute(&mut self) -> Result<Vec<(String, f64)>, String>;

    /// The state to store in checkpoints (default: nothing; passes do not span checkpoints).
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`save_state`](Metric::save_state) returned (default: ignores it).
    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        let _ = state;
        Ok(())
    }
}

/// A learning-rate (and momentum) policy (world `lr-policy-plugin`).
/// Export it with [`export_lr_policy!`].
pub trait LrPolicy {
    /// Called once with the plugin's options and the optimizer's base
    /// learning rate and momentum (`None` when the optimizer has none);
    /// returns how often to be asked: [`Cadence::Epoch`] for a policy that
    /// changes the learning rate only at new epochs, else
    /// [`Cadence::Iteration`].
    fn setup(&mut self, options: &Options, base_lr: f64, base_momentum: Option<f64>) -> Result<Cadence, String>;

    /// Called before the training iterations the cadence names (every one,
    /// or the first of each epoch) with the current learning rate and
    /// momentum; returns what to use from this iteration on.
    fn step(&mut self, info: &StepInfo, lr: f64, momentum: Option<f64>) -> Result<Decision, String>;

    /// The state to store in checkpoints (default: nothing).
    fn save_state(&self) -> Vec<u8> {
        Vec::new()
    }

    /// Restores what [`save_state`](LrPolicy::save_state) returned (default: ignores it).
    fn load_state(&mut self, state: &[u8]) -> Result<(), String> {
        let _ = state;
        Ok(())
    }
}

/// What the three `export_*` macros expand to: the plugin kept in a
/// thread-local slot behind `$slot` (the trait the world's glue calls), and
/// the world's exports generated for it with `$export` and the types of
/// `$world`. Not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __export_plugin {
    ($plugin:ty, $slot:ident, $export:ident, $world:ident) => {
        #[allow(dead_code)]
        const _: () = {
            ::std::thread_local! {
                static __HAMMER_PLUGIN: ::core::cell::RefCell<$plugin> =
                    ::core::cell::RefCell::new(<$plugin as ::core::default::Default>::default());
            }
            struct __HammerSlot;
            impl $crate::__private::$slot for __HammerSlot {
                type Plugin = $plugin;
                fn with<R>(f: impl ::core::ops::FnOnce(&mut $plugin) -> R) -> R {
                    __HAMMER_PLUGIN.with(|cell| f(&mut cell.borrow_mut()))
                }
            }
            // Only a component has the host's imports and these exports; natively
            // (unit tests) the plugin is a plain library.
            #[cfg(target_arch = "wasm32")]
            $crate::__private::$export!(__HammerSlot with_types_in $crate::__private::$world);
        };
    };
}

/// Exports a [`Hook`] type (which also implements [`Default`]) as the
/// component's `hammer:plugin/hook` interface. Use once per crate.
#[macro_export]
macro_rules! export_hook {
    ($plugin:ty) => {
        $crate::__export_plugin!($plugin, HookSlot, export_hook_world, hook_world);
    };
}

/// Exports a [`Metric`] type (which also implements [`Default`]) as the
/// component's `hammer:plugin/metric` interface. Use once per crate.
#[macro_export]
macro_rules! export_metric {
    ($plugin:ty) => {
        $crate::__export_plugin!($plugin, MetricSlot, export_metric_world, metric_world);
    };
}

/// Exports an [`LrPolicy`] type (which also implements [`Default`]) as the
/// component's `hammer:plugin/lr-policy` interface. Use once per crate.
#[macro_export]
macro_rules! export_lr_policy {
    ($plugin:ty) => {
        $crate::__export_plugin!($plugin, LrPolicySlot, export_lr_policy_world, lr_world);
    };
}
