//! Optimizers and gradient clipping (MMEngine's `optim_wrapper`).
//!
//! [`Optimizer`] runs one of `torch.optim`'s algorithms — SGD (momentum,
//! dampening, Nesterov, L2 weight decay), Adam (L2 weight decay, AMSGrad) and
//! AdamW (decoupled weight decay) — with the same libtorch kernels, operation
//! for operation, as PyTorch's single-tensor (`foreach=False`)
//! implementation. A comparison test runs PyTorch on the same parameters and
//! gradients and requires agreement to 1e-6; on CPU the results are in fact
//! identical to the bit.
//!
//! The update is the per-iteration hot path, so the optimizer keeps its state
//! in vectors parallel to the parameters, works in place under `no_grad`, and
//! needs no allocation per step (once the state exists) beyond libtorch's
//! tensor handles: the temporaries of an update live in two scratch buffers
//! per device and dtype, as large as the largest parameter, and its scalar
//! operands in 0-dim tensors, all allocated once.
//!
//! State is saved and restored as named tensors (`<param>.<state>`, with
//! PyTorch's state names) plus a small JSON document of scalars (kind, step
//! counts, learning rate, momentum); see [`Optimizer::state_tensors`],
//! [`Optimizer::state_scalars`] and [`Optimizer::load_state`].
//!
//! [`GradClipper`] applies the `clip_grad` section (by total norm or by value)
//! before a step; [`build`] makes both from the `optim` section.

mod adam;
mod clip;
mod sgd;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Map, Value};
use tch::{Device, Kind, Tensor};

use crate::config::{OptimConfig, OptimizerConfig};

pub use clip::{clip_grad_norm, clip_grad_value, GradClipper};

/// Which algorithm an [`Optimizer`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptimizerKind {
    /// Stochastic gradient descent (`torch.optim.SGD`).
    Sgd,
    /// Adam with L2 weight decay (`torch.optim.Adam`).
    Adam,
    /// Adam with decoupled weight decay (`torch.optim.AdamW`).
    AdamW,
}

impl OptimizerKind {
    /// Parses a config `type` (`sgd`, `adam`, `adamw`), ignoring case.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "sgd" => Ok(Self::Sgd),
            "adam" => Ok(Self::Adam),
            "adamw" => Ok(Self::AdamW),
            _ => bail!("unknown optimizer type `{name}` (expected sgd, adam or adamw)"),
        }
    }

    /// The lowercase name, as in the config and in saved state.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sgd => "sgd",
            Self::Adam => "adam",
            Self::AdamW => "adamw",
        }
    }
}

impl std::fmt::Display for OptimizerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The algorithm-specific part of an optimizer: hyper-parameters and
/// per-parameter state, in vectors parallel to the parameters.
#[derive(Debug)]
enum Algorithm {
    Sgd(sgd::Sgd),
    Adam(adam::Adam),
}

/// What an update of one parameter works with: two scratch tensors of its
/// shape and the scalar operands of its dtype.
struct Scratch<'a> {
    a: &'a mut Tensor,
    b: &'a mut Tensor,
    ops: &'a mut Operands,
}

/// Per-step work space of the parameters of one device and dtype.
#[derive(Debug)]
struct WorkGroup {
    /// Two flat scratch buffers as large as the group's largest parameter.
    flat: [Tensor; 2],
    /// Scalar operands of the group's dtype.
    operands: Operands,
}

/// Work space of an update, allocated once: for each parameter, two scratch
/// tensors of its shape (views into flat buffers shared by all parameters of
/// its device and dtype), and that group's scalar operands.
#[derive(Debug)]
struct Work {
    a: Vec<Tensor>,
    b: Vec<Tensor>,
    group_of: Vec<usize>,
    groups: Vec<WorkGroup>,
}

impl Work {
    fn new(params: &[Tensor]) -> Result<Self> {
        let mut keys: Vec<(Device, Kind, i64)> = Vec::new();
        let mut group_of = Vec::with_capacity(params.len());
        for p in params {
            let (device, kind) = (p.device(), p.f_kind()?);
            let numel = i64::try_from(p.numel())?;
            let g = match keys.iter().position(|&(d, k, _)| d == device && k == kind) {
                Some(g) => g,
                None => {
                    keys.push((device, kind, 0));
                    keys.len() - 1
                }
            };
            keys[g].2 = keys[g].2.max(numel);
            group_of.push(g);
        }
        let groups = keys
            .iter()
            .map(|&(device, kind, n)| {
                Ok(WorkGroup {
                    flat: [
                        Tensor::f_empty([n], (kind, device))?,
                        Tensor::f_empty([n], (kind, device))?,
                    ],
                    operands: Operands::new(kind, device)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (mut a, mut b) = (
            Vec::with_capacity(params.len()),
            Vec::with_capacity(params.len()),
        );
        for (p, &g) in params.iter().zip(&group_of) {
            let (n, size) = (i64::try_from(p.numel())?, p.size());
            let [fa, fb] = &groups[g].flat;
            a.push(fa.f_narrow(0, 0, n)?.f_view_(size.as_slice())?);
            b.push(fb.f_narrow(0, 0, n)?.f_view_(size.as_slice())?);
        }
        Ok(Self {
            a,
            b,
            group_of,
            groups,
        })
    }
}

/// Number of scalar operand slots (see [`Operands`]).
const OPERAND_SLOTS: usize = 8;

/// Scalar operands of an update as 0-dim tensors on the parameters' device,
/// refilled only when their value changes.
///
/// `x * 0-dim tensor` computes exactly what `x * python_float` does in
/// PyTorch (the float is rounded to `x`'s computation type either way),
/// without the temporary tensor libtorch makes of a scalar argument on every
/// call, which would double the cost of a small model's step. The operands
/// are `f64` for `f64` parameters and `f32` otherwise (the type libtorch
/// computes half-precision arithmetic in).
#[derive(Debug)]
struct Operands {
    slots: [(u64, Tensor); OPERAND_SLOTS],
}

impl Operands {
    fn new(kind: Kind, device: Device) -> Result<Self> {
        let kind = if kind == Kind::Double {
            Kind::Double
        } else {
            Kind::Float
        };
        let make = || -> Result<(u64, Tensor)> {
            // The bits of a NaN no computation produces: the first `get`
            // always fills the slot.
            Ok((u64::MAX, Tensor::f_zeros([], (kind, device))?))
        };
        let slots = [
            make()?,
            make()?,
            make()?,
            make()?,
            make()?,
            make()?,
            make()?,
            make()?,
        ];
        Ok(Self { slots })
    }

    /// The 0-dim tensor of `slot`, holding `value` (rounded to the dtype).
    fn get(&mut self, slot: usize, value: f64) -> Result<&Tensor> {
        let (bits, t) = &mut self.slots[slot];
        if *bits != value.to_bits() {
            let _ = t.f_fill_(value)?;
            *bits = value.to_bits();
        }
        Ok(t)
    }
}

/// An optimizer over named parameters: SGD, Adam or AdamW with
/// `torch.optim`'s update rules.
///
/// The parameters are handles sharing storage with the model's variables, so
/// [`Optimizer::step`] updates the model in place.
#[derive(Debug)]
pub struct Optimizer {
    kind: OptimizerKind,
    names: Vec<String>,
    params: Vec<Tensor>,
    lr: f64,
    base_lr: f64,
    /// Calls of [`Optimizer::step`].
    steps: u64,
    /// Per parameter: steps that updated it (those where it had a gradient),
    /// PyTorch's per-parameter `step`.
    param_steps: Vec<u64>,
    algo: Algorithm,
    work: Work,
    /// A libtorch optimizer holding the same parameters, used only for its
    /// `zero_grad(set_to_none=true)`, which tch does not expose otherwise.
    grad_reset: tch::COptimizer,
}

impl Optimizer {
    /// Builds an optimizer from its config over named trainable parameters
    /// (tensors that require grad and share storage with the model).
    ///
    /// Unset hyper-parameters take `torch.optim`'s defaults: SGD momentum,
    /// dampening and weight decay 0, no Nesterov; Adam betas (0.9, 0.999), eps
    /// 1e-8, weight decay 0 (AdamW: 0.01), no AMSGrad.
    pub fn new(cfg: &OptimizerConfig, params: Vec<(String, Tensor)>) -> Result<Self> {
        let kind = OptimizerKind::parse(&cfg.kind)?;
        check_nonneg("lr", cfg.lr)?;
        let algo = match kind {
            OptimizerKind::Sgd => Algorithm::Sgd(sgd::Sgd::new(cfg, params.len())?),
            OptimizerKind::Adam | OptimizerKind::AdamW => Algorithm::Adam(adam::Adam::new(
                cfg,
                kind == OptimizerKind::AdamW,
                params.len(),
            )?),
        };
        let mut names = Vec::with_capacity(params.len());
        let mut tensors = Vec::with_capacity(params.len());
        for (name, t) in params {
            if names.contains(&name) {
                bail!("parameter `{name}` is given to the optimizer twice");
            }
            if !t.is_floating_point() {
                bail!(
                    "parameter `{name}` has dtype {:?}; the optimizer needs floating point",
                    t.f_kind()?
                );
            }
            names.push(name);
            tensors.push(t);
        }
        let mut grad_reset = tch::COptimizer::sgd(0.0, 0.0, 0.0, 0.0, false)?;
        for t in &tensors {
            grad_reset.add_parameters(t, 0)?;
        }
        let work = Work::new(&tensors).context("allocating the optimizer's work buffers")?;
        Ok(Self {
            kind,
            param_steps: vec![0; names.len()],
            names,
            params: tensors,
            lr: cfg.lr,
            base_lr: cfg.lr,
            steps: 0,
            algo,
            work,
            grad_reset,
        })
    }

    /// The algorithm this optimizer runs.
    pub fn kind(&self) -> OptimizerKind {
        self.kind
    }

    /// The parameters, in the order given to [`Optimizer::new`] (for clipping).
    pub fn params(&self) -> &[Tensor] {
        &self.params
    }

    /// The parameters' names, parallel to [`Optimizer::params`].
    pub fn param_names(&self) -> &[String] {
        &self.names
    }

    /// Number of [`Optimizer::step`] calls so far (restored by
    /// [`Optimizer::load_state`]).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Drops the parameters' gradients, as `zero_grad(set_to_none=True)`: the
    /// next backward pass creates fresh ones, and a parameter without one is
    /// skipped by [`Optimizer::step`].
    pub fn zero_grad(&mut self) {
        // libtorch's `Optimizer::zero_grad` only resets tensor handles; it
        // has no failure mode short of a libtorch bug.
        if let Err(e) = self.grad_reset.zero_grad() {
            panic!("libtorch failed to reset the gradients: {e}");
        }
    }

    /// Updates every parameter that has a gradient, once, in place.
    pub fn step(&mut self) -> Result<()> {
        let _guard = tch::no_grad_guard();
        let lr = self.lr;
        for i in 0..self.params.len() {
            let grad = self.params[i].grad();
            if !grad.defined() {
                continue;
            }
            self.param_steps[i] += 1;
            let work = Scratch {
                a: &mut self.work.a[i],
                b: &mut self.work.b[i],
                ops: &mut self.work.groups[self.work.group_of[i]].operands,
            };
            let param = &mut self.params[i];
            let res = match &mut self.algo {
                Algorithm::Sgd(s) => s.update(i, param, &grad, lr, work),
                Algorithm::Adam(s) => s.update(i, param, &grad, lr, self.param_steps[i], work),
            };
            res.with_context(|| format!("updating parameter `{}`", self.names[i]))?;
        }
        self.steps += 1;
        Ok(())
    }

    /// The current learning rate.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// Sets the learning rate used by the next steps (for LR policies).
    pub fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    /// The learning rate of the config, which LR policies scale.
    pub fn base_lr(&self) -> f64 {
        self.base_lr
    }

    /// The current momentum: SGD's momentum factor, Adam's beta1.
    pub fn momentum(&self) -> Option<f64> {
        match &self.algo {
            Algorithm::Sgd(s) => Some(s.momentum),
            Algorithm::Adam(s) => Some(s.beta1),
        }
    }

    /// Sets the momentum (SGD's momentum factor, Adam's beta1) used by the next
    /// steps, for momentum policies.
    pub fn set_momentum(&mut self, m: f64) {
        match &mut self.algo {
            Algorithm::Sgd(s) => s.momentum = m,
            Algorithm::Adam(s) => s.beta1 = m,
        }
    }

    /// The state tensors, named `<param>.<state>` with PyTorch's state names
    /// (`momentum_buffer`; `exp_avg`, `exp_avg_sq`, `max_exp_avg_sq`).
    ///
    /// The tensors alias the live state (no copy): write them out before the
    /// next step, or copy them to keep them.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut out = Vec::new();
        for (i, name) in self.names.iter().enumerate() {
            self.for_each_state(i, |state, t| {
                out.push((format!("{name}.{state}"), t.shallow_clone()))
            });
        }
        out
    }

    /// The scalar state, for checkpoints: `kind`, `lr`, `base_lr`,
    /// `momentum`, `steps`, and per parameter its step count and which state
    /// tensors it has; plus the fixed hyper-parameters, for reference.
    pub fn state_scalars(&self) -> Value {
        let mut params = Map::new();
        for (i, name) in self.names.iter().enumerate() {
            let mut present = Vec::new();
            self.for_each_state(i, |state, _| present.push(Value::from(state)));
            params.insert(
                name.clone(),
                json!({ "step": self.param_steps[i], "state": present }),
            );
        }
        let hyper = match &self.algo {
            Algorithm::Sgd(s) => json!({
                "dampening": s.dampening, "nesterov": s.nesterov, "weight_decay": s.weight_decay,
            }),
            Algorithm::Adam(s) => json!({
                "beta2": s.beta2, "eps": s.eps, "weight_decay": s.weight_decay, "amsgrad": s.amsgrad,
            }),
        };
        json!({
            "kind": self.kind.name(),
            "lr": self.lr,
            "base_lr": self.base_lr,
            "momentum": self.momentum(),
            "steps": self.steps,
            "params": params,
            "hyper_parameters": hyper,
        })
    }

    /// Restores the state saved by [`Optimizer::state_tensors`] and
    /// [`Optimizer::state_scalars`]: step counts, learning rate, momentum and
    /// every state tensor, copied into this optimizer's state (created on the
    /// parameter's device and dtype where absent). Continuing afterwards is
    /// bit-identical to never having saved. `tensors` may hold other tensors
    /// (the model's, say); they are ignored. The base learning rate stays the
    /// config's.
    ///
    /// Fails, naming the culprit, on a different optimizer kind, a parameter
    /// missing from the saved state or unknown to this optimizer, a missing
    /// state tensor, or a shape mismatch; all of this is checked before
    /// anything changes, so such a failure leaves the optimizer as it was.
    pub fn load_state(&mut self, tensors: &HashMap<String, Tensor>, scalars: &Value) -> Result<()> {
        let saved_kind = scalars
            .get("kind")
            .and_then(Value::as_str)
            .ok_or_else(|| anyhow!("optimizer state has no `kind`"))?;
        if !saved_kind.eq_ignore_ascii_case(self.kind.name()) {
            bail!(
                "optimizer state was saved by `{saved_kind}` but this optimizer is `{}`",
                self.kind
            );
        }
        let lr = get_f64(scalars, "lr")?;
        let momentum = match scalars.get("momentum") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_f64()
                    .ok_or_else(|| anyhow!("optimizer state `momentum` is not a number"))?,
            ),
        };
        let steps = scalars
            .get("steps")
            .and_then(Value::as_u64)
            .ok_or_else(|| anyhow!("optimizer state has no `steps` count"))?;
        let saved = scalars
            .get("params")
            .and_then(Value::as_object)
            .ok_or_else(|| anyhow!("optimizer state has no `params` table"))?;
        if let Some(unknown) = saved.keys().find(|k| !self.names.contains(k)) {
            bail!(
                "optimizer state has parameter `{unknown}`, which this optimizer does not optimize"
            );
        }

        // Check everything before changing anything.
        let valid_names = self.state_names();
        let mut plan: Vec<(u64, Vec<(&'static str, &Tensor)>)> =
            Vec::with_capacity(self.names.len());
        for (i, name) in self.names.iter().enumerate() {
            let entry = saved
                .get(name)
                .ok_or_else(|| anyhow!("optimizer state has nothing for parameter `{name}`"))?;
            let step = entry
                .get("step")
                .and_then(Value::as_u64)
                .ok_or_else(|| anyhow!("optimizer state of `{name}` has no `step` count"))?;
            let present = entry
                .get("state")
                .and_then(Value::as_array)
                .ok_or_else(|| anyhow!("optimizer state of `{name}` has no `state` list"))?;
            let want = self.params[i].size();
            let mut sources = Vec::with_capacity(present.len());
            for s in present {
                let s = s
                    .as_str()
                    .ok_or_else(|| anyhow!("optimizer state of `{name}` lists a non-string"))?;
                let state = valid_names
                    .iter()
                    .find(|v| **v == s)
                    .copied()
                    .ok_or_else(|| {
                        anyhow!(
                            "optimizer state `{name}.{s}` is not state of a `{}` optimizer",
                            self.kind
                        )
                    })?;
                let key = format!("{name}.{state}");
                let src = tensors
                    .get(&key)
                    .ok_or_else(|| anyhow!("optimizer state tensor `{key}` is missing"))?;
                let got = src.size();
                if want != got {
                    bail!("optimizer state tensor `{key}` has shape {got:?}, but parameter `{name}` has shape {want:?}");
                }
                sources.push((state, src));
            }
            self.check_state_set(name, &sources)?;
            plan.push((step, sources));
        }

        // Copy into the existing state tensors, or create them on the
        // parameter's device and dtype; drop state the checkpoint lacks.
        let _guard = tch::no_grad_guard();
        for (i, (step, sources)) in plan.into_iter().enumerate() {
            for &state in valid_names {
                let src = sources.iter().find(|(s, _)| *s == state).map(|(_, t)| *t);
                let copy_err = || format!("copying optimizer state `{}.{state}`", self.names[i]);
                match (src, self.state_tensor(i, state)) {
                    (Some(src), Some(existing)) => {
                        existing
                            .shallow_clone()
                            .f_copy_(src)
                            .with_context(copy_err)?;
                    }
                    (Some(src), None) => {
                        let mut fresh = self.params[i].f_empty_like()?;
                        fresh.f_copy_(src).with_context(copy_err)?;
                        self.set_state_tensor(i, state, Some(fresh));
                    }
                    (None, _) => self.set_state_tensor(i, state, None),
                }
            }
            self.param_steps[i] = step;
        }
        self.lr = lr;
        if let Some(m) = momentum {
            self.set_momentum(m);
        }
        self.steps = steps;
        Ok(())
    }

    fn state_names(&self) -> &'static [&'static str] {
        match &self.algo {
            Algorithm::Sgd(_) => sgd::STATE_NAMES,
            Algorithm::Adam(_) => adam::STATE_NAMES,
        }
    }

    fn for_each_state(&self, i: usize, mut f: impl FnMut(&'static str, &Tensor)) {
        for &state in self.state_names() {
            if let Some(t) = self.state_tensor(i, state) {
                f(state, t);
            }
        }
    }

    fn state_tensor(&self, i: usize, state: &str) -> Option<&Tensor> {
        match &self.algo {
            Algorithm::Sgd(s) => s.state(i, state),
            Algorithm::Adam(s) => s.state(i, state),
        }
    }

    fn set_state_tensor(&mut self, i: usize, state: &str, t: Option<Tensor>) {
        match &mut self.algo {
            Algorithm::Sgd(s) => s.set_state(i, state, t),
            Algorithm::Adam(s) => s.set_state(i, state, t),
        }
    }

    /// Checks that the state a checkpoint has for parameter `name` is complete.
    fn check_state_set(&self, name: &str, loaded: &[(&'static str, &Tensor)]) -> Result<()> {
        let has = |s: &str| loaded.iter().any(|(state, _)| *state == s);
        match &self.algo {
            Algorithm::Sgd(_) => Ok(()),
            Algorithm::Adam(a) => {
                if loaded.is_empty() {
                    return Ok(());
                }
                for need in ["exp_avg", "exp_avg_sq"]
                    .into_iter()
                    .chain(a.amsgrad.then_some("max_exp_avg_sq"))
                {
                    if !has(need) {
                        bail!("optimizer state tensor `{name}.{need}` is missing");
                    }
                }
                Ok(())
            }
        }
    }
}

/// Builds the optimizer and the gradient clipper of an `optim` section.
///
/// The section's `accumulative_counts` is the runner's business.
pub fn build(cfg: &OptimConfig, params: Vec<(String, Tensor)>) -> Result<(Optimizer, GradClipper)> {
    let optimizer = Optimizer::new(&cfg.optimizer, params)?;
    let clipper = GradClipper::new(cfg.clip_grad.as_ref())?;
    Ok((optimizer, clipper))
}

fn get_f64(v: &Value, key: &str) -> Result<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| anyhow!("optimizer state has no number `{key}`"))
}

/// Rejects a negative or non-finite hyper-parameter, as `torch.optim` does.
fn check_nonneg(key: &str, v: f64) -> Result<()> {
    if !(v >= 0.0 && v.is_finite()) {
        bail!("optimizer `{key}` must be a finite number >= 0, not {v}");
    }
    Ok(())
}

/// Rejects a hyper-parameter set for an optimizer it does not apply to.
fn reject<T>(kind: &str, key: &str, v: &Option<T>) -> Result<()> {
    if v.is_some() {
        bail!("optimizer key `{key}` does not apply to `{kind}`");
    }
    Ok(())
}
