//! Plugins seen by the runner: a WebAssembly hook, metric or learning-rate
//! policy behind the same traits as the built-in ones.

use anyhow::Result;
use tch::Tensor;
use wasmtime::component::Resource;

use super::bindings::hook::HookPlugin;
use super::bindings::lr_policy::exports::hammer::plugin::lr_policy::Cadence as WitCadence;
use super::bindings::lr_policy::LrPolicyPlugin;
use super::bindings::metric::MetricPlugin;
use super::instance::{to_wit, Instance};
use super::phase;
use super::state::HostTensor;
use crate::extension::{Cadence, Hook, HookContext, LrPolicy, Metric, Phase, Stateful, StepInfo};

/// `Stateful` for a plugin adapter whose instance exports the interface
/// `$interface` (each world has its own `save-state` / `load-state`).
macro_rules! plugin_state {
    ($adapter:ty, $interface:ident) => {
        impl Stateful for $adapter {
            fn state_key(&self) -> Option<&str> {
                // A plugin that failed has no state worth keeping (nor can it give one).
                (!self.inst.has_failed()).then_some(self.key.as_str())
            }
            fn save_state(&mut self) -> Result<Vec<u8>> {
                let state = self.inst.call("save_state", None, None, |b, s| b.$interface().call_save_state(s).map(Ok))?;
                Ok(state.unwrap_or_default())
            }
            fn load_state(&mut self, state: &[u8]) -> Result<()> {
                self.inst.call("load_state", None, None, |b, s| b.$interface().call_load_state(s, state))?;
                Ok(())
            }
        }
    };
}

/// A hook plugin.
pub struct WasmHook {
    pub(super) inst: Instance<HookPlugin>,
    pub(super) priority: u32,
    /// The phases it subscribed to, each with its interval (1: every time).
    pub(super) subscriptions: Vec<(Phase, u32)>,
    pub(super) key: String,
}

plugin_state!(WasmHook, hammer_plugin_hook);

impl Hook for WasmHook {
    fn name(&self) -> &str {
        &self.inst.name
    }
    fn priority(&self) -> u32 {
        self.priority
    }
    fn subscribes(&self, phase: Phase) -> bool {
        self.subscriptions.iter().any(|(p, _)| *p == phase)
    }
    fn due(&self, info: &StepInfo) -> bool {
        let every = self.subscriptions.iter().find(|(p, _)| *p == info.phase).map_or(1, |(_, every)| *every);
        every <= 1 || info.occurrence().is_none_or(|n| n % u64::from(every) == 0)
    }
    fn call(&mut self, info: &StepInfo, ctx: &mut HookContext<'_>) -> Result<()> {
        // Only the phase crosses: the plugin asks `host.step()` for the rest.
        let phase = phase::to_wit(info.phase);
        self.inst.call(info.phase.name(), Some(info), Some(ctx), |b, s| b.hammer_plugin_hook().call_on_phase(s, phase))?;
        Ok(())
    }
}

/// A metric plugin.
pub struct WasmMetric {
    pub(super) inst: Instance<MetricPlugin>,
    pub(super) key: String,
}

plugin_state!(WasmMetric, hammer_plugin_metric);

impl Metric for WasmMetric {
    fn name(&self) -> &str {
        &self.inst.name
    }
    fn reset(&mut self, ctx: &mut HookContext<'_>) -> Result<()> {
        self.inst.call("reset", None, Some(ctx), |b, s| b.hammer_plugin_metric().call_reset(s).map(Ok))?;
        Ok(())
    }
    fn process(&mut self, output: &Tensor, targets: &Tensor, loss: &Tensor, ctx: &mut HookContext<'_>) -> Result<()> {
        let loss = loss.double_value(&[]);
        self.inst.call("process", None, Some(ctx), |b, s| {
            let out = s.data_mut().table.push(HostTensor(output.shallow_clone()))?;
            let tgt = s.data_mut().table.push(HostTensor(targets.shallow_clone()))?;
            let (o, t) = (Resource::<HostTensor>::new_borrow(out.rep()), Resource::<HostTensor>::new_borrow(tgt.rep()));
            let result = b.hammer_plugin_metric().call_process(&mut *s, o, t, loss);
            s.data_mut().table.delete(out)?;
            s.data_mut().table.delete(tgt)?;
            result
        })?;
        Ok(())
    }
    fn compute(&mut self, ctx: &mut HookContext<'_>) -> Result<Vec<(String, f64)>> {
        let values = self.inst.call("compute", None, Some(ctx), |b, s| b.hammer_plugin_metric().call_compute(s))?;
        Ok(values.unwrap_or_default())
    }
}

/// A learning-rate policy plugin.
pub struct WasmLrPolicy {
    pub(super) inst: Instance<LrPolicyPlugin>,
    pub(super) key: String,
    /// How often it asked to be asked, at setup.
    pub(super) cadence: Cadence,
    /// The epoch it was last asked at, in this run.
    pub(super) last_asked: Option<u32>,
}

plugin_state!(WasmLrPolicy, hammer_plugin_lr_policy);

impl WasmLrPolicy {
    /// The runner's twin of the cadence a policy returned from `setup`.
    pub(super) fn cadence(wit: WitCadence) -> Cadence {
        match wit {
            WitCadence::Iteration => Cadence::Iteration,
            WitCadence::Epoch => Cadence::Epoch,
        }
    }
}

impl LrPolicy for WasmLrPolicy {
    fn name(&self) -> &str {
        &self.inst.name
    }
    fn due(&self, info: &StepInfo) -> bool {
        self.cadence.due(self.last_asked, info)
    }
    fn step(
        &mut self,
        info: &StepInfo,
        lr: f64,
        momentum: Option<f64>,
        ctx: &mut HookContext<'_>,
    ) -> Result<Option<(f64, Option<f64>)>> {
        self.last_asked = Some(info.epoch);
        let wit = to_wit(info);
        let decision = self.inst.call("lr_policy.step", Some(info), Some(ctx), |b, s| {
            b.hammer_plugin_lr_policy().call_step(s, wit, lr, momentum)
        })?;
        Ok(decision.map(|d| (d.lr, d.momentum)))
    }
}
