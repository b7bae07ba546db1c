//! One loaded plugin: its store, its bindings, its limits, and the one way
//! to call it — with a deadline, with the runner's scalars and requests
//! swapped in, its log lines and output flushed after, and a failure turned
//! into a message naming the plugin and the phase.

use anyhow::Result;
use wasmtime::{Store, StoreLimitsBuilder, Trap};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use super::bindings::host::Level;
use super::bindings::types::{Mode as WitMode, StepInfo as WitStepInfo};
use super::runtime::TICK;
use super::state::{OutputCapture, PluginState};
use crate::config::PluginConfig;
use crate::logging::Logger;
use crate::extension::{ExtensionFailure, HookContext, Mode, StepInfo};

/// What to do when a plugin fails (trap, timeout, or an error it returns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop the run with the plugin's message (after a checkpoint where safe).
    Abort,
    /// Drop the plugin, log a warning, and go on.
    Disable,
}

/// A plugin's failure: an [`ExtensionFailure`] of kind `plugin`.
fn plugin_failure(plugin: &str, phase: &str, message: String) -> ExtensionFailure {
    ExtensionFailure { kind: "plugin", name: plugin.to_string(), phase: phase.to_string(), message }
}

/// A plugin instance of world bindings `B`.
pub struct Instance<B> {
    pub(super) name: String,
    pub(super) store: Store<PluginState>,
    pub(super) bindings: B,
    timeout_ticks: u64,
    limits: Limits,
    on_error: OnError,
    /// The plugin failed once: a trapped instance cannot be entered again,
    /// and a disabled one must not be; either way it is never called again.
    failed: bool,
    logger: Logger,
    output: OutputCapture,
}

impl<B> Instance<B> {
    /// Creates the plugin's store (WASI with nothing granted and randomness
    /// seeded from `name`, its memory limit, captured output, the model's
    /// parameters if granted) and instantiates it with `instantiate`. `name`
    /// is the plugin's key: its name, `name#2` for a second one.
    ///
    /// # Errors
    /// Instantiation fails (the message names the plugin).
    pub(super) fn new(
        engine: &wasmtime::Engine,
        cfg: &PluginConfig,
        name: &str,
        parameters: Option<Vec<(String, tch::Tensor)>>,
        preopen: Option<(std::path::PathBuf, String)>,
        logger: Logger,
        instantiate: impl FnOnce(&mut Store<PluginState>) -> wasmtime::Result<B>,
    ) -> Result<Self> {
        let output = OutputCapture::default();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stdout(output.clone())
            .stderr(output.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(super::random::SeededRandom::for_plugin(name))
            .insecure_random(super::random::SeededRandom::for_plugin(name))
            .insecure_random_seed(u128::from(super::random::seed_of(name)));
        if let Some((host, guest)) = &preopen {
            // The one directory a plugin may be granted: its own, under the work dir.
            wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
                .map_err(|e| anyhow::anyhow!("plugin `{name}`: cannot open `{}`: {e:?}", host.display()))?;
        }
        let wasi = wasi.build();
        let limits = StoreLimitsBuilder::new()
            .memory_size((cfg.memory_mb * 1024 * 1024) as usize)
            .trap_on_grow_failure(true)
            .build();
        let state = PluginState {
            wasi,
            table: wasmtime::component::ResourceTable::new(),
            limits,
            scalars: Default::default(),
            requests: Default::default(),
            step: to_wit(&StepInfo::before_run(0, 1)),
            logs: Vec::new(),
            parameters,
        };
        let mut store = Store::new(engine, state);
        store.limiter(|s| &mut s.limits);
        let timeout_ticks = cfg.timeout_ms.div_ceil(TICK.as_millis() as u64).max(1) + 1;
        store.set_epoch_deadline(timeout_ticks);
        let limits = Limits { timeout_ms: cfg.timeout_ms, memory_mb: cfg.memory_mb };
        let bindings = instantiate(&mut store);
        flush_output(name, &logger, &mut store, &output);
        let bindings = bindings.map_err(|e| anyhow::Error::new(limits.failure(name, "instantiate", e)))?;
        Ok(Self {
            name: name.to_string(),
            store,
            bindings,
            timeout_ticks,
            limits,
            on_error: if cfg.on_error == "disable" { OnError::Disable } else { OnError::Abort },
            failed: false,
            logger,
            output,
        })
    }
}

impl<B> Instance<B> {
    /// Whether the plugin failed (and is no longer called).
    pub fn has_failed(&self) -> bool {
        self.failed
    }

    /// Calls the plugin's `setup` through `f`, with `host.step()` reading
    /// `at` (where the loop is while it sets up): a failure there stops the run
    /// whatever `on_error` says, as the WIT promises ("an error stops the run
    /// before it starts"); `on_error` governs the calls after it.
    ///
    /// # Errors
    /// The plugin's failure, naming it and `setup`.
    pub fn call_setup<R>(
        &mut self,
        at: &StepInfo,
        f: impl FnOnce(&B, &mut Store<PluginState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<Option<R>> {
        let policy = std::mem::replace(&mut self.on_error, OnError::Abort);
        let result = self.call("setup", Some(at), None, f);
        self.on_error = policy;
        result
    }

    /// Calls into the plugin at `phase`: `f` gets the bindings and the store.
    /// With a hook context, the runner's scalars and requests are the
    /// plugin's for the call. Returns `None` when the plugin failed before,
    /// or fails now under `on_error = "disable"`.
    ///
    /// # Errors
    /// An [`ExtensionFailure`] when the plugin traps, times out or returns an
    /// error and its policy is `abort`.
    pub fn call<R>(
        &mut self,
        phase: &str,
        step: Option<&StepInfo>,
        mut ctx: Option<&mut HookContext<'_>>,
        f: impl FnOnce(&B, &mut Store<PluginState>) -> wasmtime::Result<Result<R, String>>,
    ) -> Result<Option<R>> {
        if self.failed {
            return Ok(None);
        }
        let data = self.store.data_mut();
        if let Some(info) = step {
            data.step = to_wit(info);
        }
        if let Some(ctx) = ctx.as_deref_mut() {
            std::mem::swap(&mut data.scalars, ctx.scalars);
            std::mem::swap(&mut data.requests, ctx.requests);
        }
        self.store.set_epoch_deadline(self.timeout_ticks);
        let result = f(&self.bindings, &mut self.store);
        let data = self.store.data_mut();
        if let Some(ctx) = ctx {
            std::mem::swap(&mut data.scalars, ctx.scalars);
            std::mem::swap(&mut data.requests, ctx.requests);
        }
        flush_output(&self.name, &self.logger, &mut self.store, &self.output);
        let failure = match result {
            Ok(Ok(value)) => return Ok(Some(value)),
            Ok(Err(message)) => plugin_failure(&self.name, phase, format!("it returned an error: {message}")),
            Err(trap) => self.limits.failure(&self.name, phase, trap),
        };
        self.failed = true;
        match self.on_error {
            OnError::Abort => Err(anyhow::Error::new(failure)),
            OnError::Disable => {
                self.logger.warn(&format!("{failure}; on_error = \"disable\": the plugin is dropped and training goes on"));
                Ok(None)
            }
        }
    }
}

/// The limits a plugin runs under, for messages.
#[derive(Debug, Clone, Copy)]
struct Limits {
    timeout_ms: u64,
    memory_mb: u64,
}

impl Limits {
    /// Describes a trap: a timeout, the memory limit, or a guest panic with its backtrace.
    fn failure(self, plugin: &str, phase: &str, err: wasmtime::Error) -> ExtensionFailure {
        let message = match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => format!("it exceeded its time limit of {} ms (timeout_ms)", self.timeout_ms),
            _ if format!("{err:?}").contains("forcing trap when growing memory") => {
                format!("it exceeded its memory limit of {} MiB (memory_mb)", self.memory_mb)
            }
            trap => {
                let what = trap.map_or_else(|| format!("{err:#}"), Trap::to_string);
                match err.downcast_ref::<wasmtime::WasmBacktrace>() {
                    Some(bt) => format!("it trapped ({what}); guest backtrace:\n{bt}"),
                    None => format!("it trapped ({what})"),
                }
            }
        };
        plugin_failure(plugin, phase, message)
    }
}

/// Logs what the plugin logged and printed during the last call, under its name.
fn flush_output(name: &str, logger: &Logger, store: &mut Store<PluginState>, output: &OutputCapture) {
    for (level, message) in std::mem::take(&mut store.data_mut().logs) {
        let line = format!("[{name}] {message}");
        match level {
            Level::Warning | Level::Error => logger.warn(&line),
            Level::Debug | Level::Info => logger.info(&line),
        }
    }
    for line in output.take_lines() {
        logger.info(&format!("[{name}] {line}"));
    }
}

/// The WIT form of the runner's step information.
pub(super) fn to_wit(info: &StepInfo) -> WitStepInfo {
    WitStepInfo {
        phase: super::phase::to_wit(info.phase),
        mode: match info.mode {
            Mode::Train => WitMode::Train,
            Mode::Val => WitMode::Val,
            Mode::Test => WitMode::Test,
        },
        epoch: info.epoch,
        iter: info.iter,
        inner_iter: info.inner_iter,
        max_epochs: info.max_epochs,
        max_iters: info.max_iters,
        rank: info.rank,
        world_size: info.world_size,
    }
}

/// A clock that always reads zero: plugins get no time source unless granted.
struct FrozenClock;

impl wasmtime_wasi::HostWallClock for FrozenClock {
    fn resolution(&self) -> std::time::Duration {
        std::time::Duration::from_secs(1)
    }
    fn now(&self) -> std::time::Duration {
        std::time::Duration::ZERO
    }
}

impl wasmtime_wasi::HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}
