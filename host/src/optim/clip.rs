//! Gradient clipping, as `torch.nn.utils.clip_grad_norm_` and
//! `clip_grad_value_`, and [`GradClipper`], which applies a config's
//! `clip_grad` section.

use anyhow::{bail, Result};
use tch::Tensor;

use crate::config::ClipGradConfig;

/// Scales all gradients together so that their total `norm_type`-norm is at
/// most `max_norm`, as `torch.nn.utils.clip_grad_norm_`, and returns the total
/// norm before clipping (`f64::INFINITY` as `norm_type` for the max norm).
///
/// As PyTorch: the total norm is the norm of the per-gradient norms; every
/// gradient is multiplied by `min(max_norm / (total + 1e-6), 1)` (computed in
/// the gradients' dtype); parameters without a gradient are ignored, and with
/// none at all the result is 0.
pub fn clip_grad_norm(params: &[Tensor], max_norm: f64, norm_type: f64) -> f64 {
    let _guard = tch::no_grad_guard();
    let mut grads: Vec<Tensor> = params
        .iter()
        .map(Tensor::grad)
        .filter(Tensor::defined)
        .collect();
    if grads.is_empty() {
        return 0.0;
    }
    let device = grads[0].device();
    // `linalg_vector_norm` (what PyTorch calls) is reached through
    // `linalg_norm` of the flattened tensor, which dispatches to it.
    let norms: Vec<Tensor> = grads
        .iter()
        .map(|g| {
            g.reshape([-1])
                .linalg_norm(norm_type, None::<&[i64]>, false, None)
                .to_device(device)
        })
        .collect();
    let total = Tensor::stack(&norms, 0).linalg_norm(norm_type, None::<&[i64]>, false, None);
    // `max_norm / (total + 1e-6)` in Python is `reciprocal(total + 1e-6) * max_norm`.
    let coef = total
        .g_add_scalar(1e-6)
        .reciprocal()
        .g_mul_scalar(max_norm)
        .clamp_max(1.0);
    for g in &mut grads {
        let coef = coef.to_device(g.device());
        let _ = g.g_mul_(&coef);
    }
    total.double_value(&[])
}

/// Clamps every gradient to `[-clip_value, clip_value]`, as
/// `torch.nn.utils.clip_grad_value_`.
pub fn clip_grad_value(params: &[Tensor], clip_value: f64) {
    let _guard = tch::no_grad_guard();
    for p in params {
        let mut g = p.grad();
        if g.defined() {
            let _ = g.clamp_(-clip_value, clip_value);
        }
    }
}

/// Gradient clipping as configured: off, by total norm, or by value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GradClipper {
    /// No clipping.
    Off,
    /// [`clip_grad_norm`] with these arguments.
    Norm {
        /// Largest total norm.
        max_norm: f64,
        /// Order of the norm (`f64::INFINITY` for the max norm).
        norm_type: f64,
    },
    /// [`clip_grad_value`] with this bound.
    Value {
        /// Largest absolute gradient.
        clip_value: f64,
    },
}

impl GradClipper {
    /// Builds the clipper of a `clip_grad` section (off when absent).
    /// `norm_type` defaults to 2, as PyTorch's.
    pub fn new(cfg: Option<&ClipGradConfig>) -> Result<Self> {
        let Some(cfg) = cfg else { return Ok(Self::Off) };
        match cfg.kind.to_ascii_lowercase().as_str() {
            "norm" => {
                if cfg.clip_value.is_some() {
                    bail!("`clip_grad.clip_value` does not apply to clipping by norm");
                }
                let Some(max_norm) = cfg.max_norm else {
                    bail!("clipping by norm needs `clip_grad.max_norm`");
                };
                let norm_type = cfg.norm_type.unwrap_or(2.0);
                if max_norm.is_nan() || max_norm < 0.0 {
                    bail!("`clip_grad.max_norm` must be >= 0, not {max_norm}");
                }
                if norm_type.is_nan() || norm_type <= 0.0 {
                    bail!("`clip_grad.norm_type` must be > 0 (or inf), not {norm_type}");
                }
                Ok(Self::Norm {
                    max_norm,
                    norm_type,
                })
            }
            "value" => {
                if cfg.max_norm.is_some() || cfg.norm_type.is_some() {
                    bail!("`clip_grad.max_norm` and `norm_type` do not apply to clipping by value");
                }
                let Some(clip_value) = cfg.clip_value else {
                    bail!("clipping by value needs `clip_grad.clip_value`");
                };
                if clip_value.is_nan() || clip_value < 0.0 {
                    bail!("`clip_grad.clip_value` must be >= 0, not {clip_value}");
                }
                Ok(Self::Value { clip_value })
            }
            other => bail!("unknown `clip_grad.type` `{other}` (expected norm or value)"),
        }
    }

    /// Whether this clipper does anything.
    pub fn is_enabled(&self) -> bool {
        !matches!(self, Self::Off)
    }

    /// Clips the gradients of `params`; returns the total gradient norm before
    /// clipping when clipping by norm (MMEngine logs it as `grad_norm`).
    pub fn clip(&self, params: &[Tensor]) -> Option<f64> {
        match *self {
            Self::Off => None,
            Self::Norm {
                max_norm,
                norm_type,
            } => Some(clip_grad_norm(params, max_norm, norm_type)),
            Self::Value { clip_value } => {
                clip_grad_value(params, clip_value);
                None
            }
        }
    }
}
