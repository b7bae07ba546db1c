//! Stochastic gradient descent, as `torch.optim.SGD` (single-tensor form).
//!
//! For each parameter `p` with gradient `g`, PyTorch computes:
//!
//! ```text
//! d = g + weight_decay * p                      (if weight_decay != 0)
//! buf = d                                       (first step with momentum)
//! buf = momentum * buf + (1 - dampening) * d    (later steps)
//! d = d + momentum * buf   (nesterov)   or   d = buf
//! p = p - lr * d
//! ```
//!
//! tch has no `alpha` argument, so each `x.add(y, alpha=a)` is computed as
//! `x.addcmul(y, a)` with `a` a 0-dim tensor: libtorch's CPU kernels evaluate
//! both as one fused multiply-add, so the result is PyTorch's to the bit (as
//! the comparison test checks).

use anyhow::{bail, Result};
use tch::Tensor;

use super::{check_nonneg, reject, Scratch};
use crate::config::OptimizerConfig;

// Slots of the scalar operands (`super::Operands`).
const WEIGHT_DECAY: usize = 0;
const MOMENTUM: usize = 1;
const ONE_MINUS_DAMPENING: usize = 2;
const NEG_LR: usize = 3;

/// Names of SGD's per-parameter state, as PyTorch's.
pub(super) const STATE_NAMES: &[&str] = &["momentum_buffer"];

/// SGD's hyper-parameters and momentum buffers.
#[derive(Debug)]
pub(super) struct Sgd {
    pub(super) momentum: f64,
    pub(super) dampening: f64,
    pub(super) nesterov: bool,
    pub(super) weight_decay: f64,
    /// Per parameter; created at its first update with momentum.
    buffers: Vec<Option<Tensor>>,
}

impl Sgd {
    pub(super) fn new(cfg: &OptimizerConfig, num_params: usize) -> Result<Self> {
        reject("sgd", "betas", &cfg.betas)?;
        reject("sgd", "eps", &cfg.eps)?;
        reject("sgd", "amsgrad", &cfg.amsgrad)?;
        let momentum = cfg.momentum.unwrap_or(0.0);
        let dampening = cfg.dampening.unwrap_or(0.0);
        let nesterov = cfg.nesterov.unwrap_or(false);
        let weight_decay = cfg.weight_decay.unwrap_or(0.0);
        check_nonneg("momentum", momentum)?;
        check_nonneg("weight_decay", weight_decay)?;
        if !dampening.is_finite() {
            bail!("optimizer `dampening` must be finite, not {dampening}");
        }
        if nesterov && (momentum <= 0.0 || dampening != 0.0) {
            bail!("Nesterov momentum requires a momentum > 0 and zero dampening");
        }
        Ok(Self {
            momentum,
            dampening,
            nesterov,
            weight_decay,
            buffers: (0..num_params).map(|_| None).collect(),
        })
    }

    /// Updates parameter `i` in place from its gradient, with the scratch
    /// tensors and scalar operands of `work`. Runs under `no_grad`.
    pub(super) fn update(
        &mut self,
        i: usize,
        param: &mut Tensor,
        grad: &Tensor,
        lr: f64,
        work: Scratch<'_>,
    ) -> Result<()> {
        let Scratch { a, b, ops } = work;
        // d = grad.add(param, alpha=weight_decay), in `a`.
        let d: &Tensor = if self.weight_decay != 0.0 {
            let _ = grad.f_addcmul_out(a, param, ops.get(WEIGHT_DECAY, self.weight_decay)?)?;
            a
        } else {
            grad
        };
        let dir: &Tensor = if self.momentum != 0.0 {
            let buf = match &mut self.buffers[i] {
                slot @ None => {
                    let mut buf = d.f_empty_like()?;
                    buf.f_copy_(d)?;
                    slot.insert(buf)
                }
                Some(buf) => {
                    // buf.mul_(momentum).add_(d, alpha=1 - dampening)
                    let _ = buf.f_mul_(ops.get(MOMENTUM, self.momentum)?)?;
                    if self.dampening == 0.0 {
                        let _ = buf.f_add_(d)?;
                    } else {
                        let _ =
                            buf.f_addcmul_(d, ops.get(ONE_MINUS_DAMPENING, 1.0 - self.dampening)?)?;
                    }
                    buf
                }
            };
            if self.nesterov {
                // d.add(buf, alpha=momentum), in `b`.
                let _ = d.f_addcmul_out(b, buf, ops.get(MOMENTUM, self.momentum)?)?;
                b
            } else {
                buf
            }
        } else {
            d
        };
        // param.add_(dir, alpha=-lr)
        let _ = param.f_addcmul_(dir, ops.get(NEG_LR, -lr)?)?;
        Ok(())
    }

    pub(super) fn state(&self, i: usize, name: &str) -> Option<&Tensor> {
        match name {
            "momentum_buffer" => self.buffers[i].as_ref(),
            _ => None,
        }
    }

    pub(super) fn set_state(&mut self, i: usize, name: &str, t: Option<Tensor>) {
        if name == "momentum_buffer" {
            self.buffers[i] = t;
        }
    }
}
