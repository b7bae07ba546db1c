//! Adam and AdamW, as `torch.optim.Adam` and `torch.optim.AdamW`
//! (single-tensor form, `capturable=False`).
//!
//! For each parameter `p` with gradient `g`, at its `t`-th update:
//!
//! ```text
//! p = p * (1 - lr * weight_decay)               (AdamW, if weight_decay != 0)
//! g = g + weight_decay * p                      (Adam, if weight_decay != 0)
//! exp_avg = exp_avg.lerp(g, 1 - beta1)
//! exp_avg_sq = exp_avg_sq * beta2 + (1 - beta2) * g * g
//! max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)          (AMSGrad)
//! denom = sqrt(exp_avg_sq or max_exp_avg_sq) / sqrt(1 - beta2^t) + eps
//! p = p + (-lr / (1 - beta1^t)) * exp_avg / denom
//! ```
//!
//! Each line is evaluated with the same libtorch kernels and the same order
//! of rounding as PyTorch's (scalars are 0-dim tensors, see
//! `super::Operands`, and `add(x, alpha=a)`, which tch lacks, is `addcmul(x, a)`: the same
//! fused multiply-add), so the result is PyTorch's to the bit.

use anyhow::{bail, Result};
use tch::Tensor;

use super::{check_nonneg, reject, Scratch};
use crate::config::OptimizerConfig;

// Slots of the scalar operands (`super::Operands`).
const WEIGHT_DECAY: usize = 0;
const DECAY: usize = 1;
const BETA2: usize = 2;
const ONE_MINUS_BETA2: usize = 3;
const BIAS_CORRECTION2_SQRT: usize = 4;
const EPS: usize = 5;
const NEG_STEP_SIZE: usize = 6;

/// Names of Adam's per-parameter state, as PyTorch's.
pub(super) const STATE_NAMES: &[&str] = &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"];

/// Adam's (or AdamW's) hyper-parameters and moment estimates.
#[derive(Debug)]
pub(super) struct Adam {
    pub(super) beta1: f64,
    pub(super) beta2: f64,
    pub(super) eps: f64,
    pub(super) weight_decay: f64,
    pub(super) amsgrad: bool,
    /// AdamW: weight decay multiplies the parameter instead of adding to
    /// the gradient.
    decoupled: bool,
    /// Per parameter; created at its first update.
    exp_avg: Vec<Option<Tensor>>,
    exp_avg_sq: Vec<Option<Tensor>>,
    max_exp_avg_sq: Vec<Option<Tensor>>,
}

impl Adam {
    pub(super) fn new(cfg: &OptimizerConfig, decoupled: bool, num_params: usize) -> Result<Self> {
        let kind = if decoupled { "adamw" } else { "adam" };
        reject(kind, "momentum", &cfg.momentum)?;
        reject(kind, "dampening", &cfg.dampening)?;
        reject(kind, "nesterov", &cfg.nesterov)?;
        let (beta1, beta2) = cfg.betas.unwrap_or(crate::config::ADAM_BETAS);
        let eps = cfg.eps.unwrap_or(crate::config::ADAM_EPS);
        let weight_decay = cfg
            .weight_decay
            .unwrap_or(if decoupled { crate::config::ADAMW_WEIGHT_DECAY } else { 0.0 });
        for (i, beta) in [beta1, beta2].into_iter().enumerate() {
            if !(0.0..1.0).contains(&beta) {
                bail!("optimizer `betas[{i}]` must be in [0, 1), not {beta}");
            }
        }
        check_nonneg("eps", eps)?;
        check_nonneg("weight_decay", weight_decay)?;
        let none = || (0..num_params).map(|_| None).collect::<Vec<_>>();
        Ok(Self {
            beta1,
            beta2,
            eps,
            weight_decay,
            amsgrad: cfg.amsgrad.unwrap_or(false),
            decoupled,
            exp_avg: none(),
            exp_avg_sq: none(),
            max_exp_avg_sq: none(),
        })
    }

    /// Updates parameter `i` in place from its gradient, `step` being the
    /// parameter's update count including this one, with the scratch tensors
    /// and scalar operands of `work`. Runs under `no_grad`.
    pub(super) fn update(
        &mut self,
        i: usize,
        param: &mut Tensor,
        grad: &Tensor,
        lr: f64,
        step: u64,
        work: Scratch<'_>,
    ) -> Result<()> {
        let Scratch { a, b, ops } = work;
        if self.exp_avg[i].is_none() {
            self.exp_avg[i] = Some(param.f_zeros_like()?);
            self.exp_avg_sq[i] = Some(param.f_zeros_like()?);
            if self.amsgrad {
                self.max_exp_avg_sq[i] = Some(param.f_zeros_like()?);
            }
        }
        let (Some(exp_avg), Some(exp_avg_sq)) = (&mut self.exp_avg[i], &mut self.exp_avg_sq[i])
        else {
            bail!("incomplete Adam state");
        };

        // Weight decay: decoupled (AdamW) on the parameter, or L2 on the
        // gradient (then `a` holds g + weight_decay * p).
        let g: &Tensor = if self.weight_decay == 0.0 {
            grad
        } else if self.decoupled {
            let _ = param.f_mul_(ops.get(DECAY, 1.0 - lr * self.weight_decay)?)?;
            grad
        } else {
            // grad.add(param, alpha=weight_decay): a fused multiply-add, as
            // libtorch's `add` kernel.
            let _ = grad.f_addcmul_out(a, param, ops.get(WEIGHT_DECAY, self.weight_decay)?)?;
            a
        };

        let _ = exp_avg.f_lerp_(g, 1.0 - self.beta1)?;
        // exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2): addcmul's
        // kernel computes self + (value * g) * g, as here.
        let _ = exp_avg_sq.f_mul_(ops.get(BETA2, self.beta2)?)?;
        let _ = g.f_mul_out(b, ops.get(ONE_MINUS_BETA2, 1.0 - self.beta2)?)?;
        let _ = exp_avg_sq.f_addcmul_(b, g)?;

        // As PyTorch: Python float powers (C `pow`), not `sqrt`/`powi`.
        let t = step as f64;
        let bias_correction1 = 1.0 - self.beta1.powf(t);
        let bias_correction2 = 1.0 - self.beta2.powf(t);
        let step_size = lr / bias_correction1;
        let bias_correction2_sqrt = bias_correction2.powf(0.5);

        let second: &Tensor = if self.amsgrad {
            let Some(max) = &mut self.max_exp_avg_sq[i] else {
                bail!("Adam state has no `max_exp_avg_sq`");
            };
            let _ = max.f_maximum_out(max, exp_avg_sq)?;
            max
        } else {
            exp_avg_sq
        };
        // denom = (second.sqrt() / bias_correction2_sqrt).add_(eps), in `a`.
        let _ = second.f_sqrt_out(a)?;
        let _ = a.f_div_(ops.get(BIAS_CORRECTION2_SQRT, bias_correction2_sqrt)?)?;
        let _ = a.f_add_(ops.get(EPS, self.eps)?)?;
        // param.addcdiv_(exp_avg, denom, value=-step_size): the kernel computes
        // self + (value * exp_avg) / denom, as here.
        let _ = exp_avg.f_mul_out(b, ops.get(NEG_STEP_SIZE, -step_size)?)?;
        let _ = param.f_addcdiv_(b, a)?;
        Ok(())
    }

    fn slot(&self, name: &str) -> Option<&Vec<Option<Tensor>>> {
        match name {
            "exp_avg" => Some(&self.exp_avg),
            "exp_avg_sq" => Some(&self.exp_avg_sq),
            "max_exp_avg_sq" => Some(&self.max_exp_avg_sq),
            _ => None,
        }
    }

    pub(super) fn state(&self, i: usize, name: &str) -> Option<&Tensor> {
        self.slot(name).and_then(|v| v[i].as_ref())
    }

    pub(super) fn set_state(&mut self, i: usize, name: &str, t: Option<Tensor>) {
        let slot = match name {
            "exp_avg" => &mut self.exp_avg,
            "exp_avg_sq" => &mut self.exp_avg_sq,
            "max_exp_avg_sq" => &mut self.max_exp_avg_sq,
            _ => return,
        };
        slot[i] = t;
    }
}
