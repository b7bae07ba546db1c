//! Tests of the optimizers, one module per topic; this file holds what they
//! share: deterministic parameters and gradients, and [`Case`], a scenario of
//! a few steps.
//!
//! - `pytorch`: agreement with PyTorch (`torch_reference.py`) on the
//!   scenarios of `cases` (SGD, Adam, AdamW, clipping, float64);
//! - `state`: saving and loading the state, resuming bit-identically;
//! - `clipping`: gradient clipping by norm and by value;
//! - `config`: defaults and configuration errors;
//! - `step`: gradient reset, and the timing of a step (ignored).

mod cases;
mod clipping;
mod config;
mod pytorch;
mod state;
mod step;

use tch::{Kind, Tensor};

use super::Optimizer;
use crate::config::{ClipGradConfig, OptimizerConfig};

/// Shapes of the test parameters.
const SHAPES: &[&[i64]] = &[&[4, 3], &[3], &[2, 2, 2]];

/// Steps per scenario.
const STEPS: usize = 5;

/// An optimizer section with `kind` and `lr`, everything else left to defaults.
fn optimizer_config(kind: &str, lr: f64) -> OptimizerConfig {
    OptimizerConfig {
        kind: kind.into(),
        lr,
        ..OptimizerConfig::default()
    }
}

/// Deterministic values in about [-2, 2] (a fixed linear congruential
/// sequence, independent of libtorch's global generator, which tests running
/// in parallel would share).
fn fixed_values(seed: u64, shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let values: Vec<f32> = (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let unit = (state >> 40) as f64 / (1u64 << 24) as f64; // [0, 1)
            (4.0 * unit - 2.0) as f32
        })
        .collect();
    Tensor::from_slice(&values).view(shape)
}

/// Fresh trainable parameters `p0..` holding copies of `values`.
fn params_from(values: &[Tensor]) -> Vec<(String, Tensor)> {
    values
        .iter()
        .enumerate()
        .map(|(j, v)| (format!("p{j}"), v.copy().set_requires_grad(true)))
        .collect()
}

/// Gives each parameter exactly the gradient `grads[j]` (none for `None`),
/// through a backward pass of `sum_j (p_j * g_j).sum()`.
fn set_grads(optimizer: &mut Optimizer, grads: &[Option<Tensor>]) {
    optimizer.zero_grad();
    let mut loss: Option<Tensor> = None;
    for (p, g) in optimizer.params().iter().zip(grads) {
        if let Some(g) = g {
            let term = (p * g).sum(p.kind());
            loss = Some(match loss {
                Some(l) => l + term,
                None => term,
            });
        }
    }
    if let Some(loss) = loss {
        loss.backward();
    }
    for (p, g) in optimizer.params().iter().zip(grads) {
        assert_eq!(p.grad().defined(), g.is_some());
    }
}

/// Runs `steps` (grads, lr) steps.
fn run_steps(optimizer: &mut Optimizer, steps: &[(Vec<Option<Tensor>>, f64)]) {
    for (grads, lr) in steps {
        optimizer.set_lr(*lr);
        set_grads(optimizer, grads);
        optimizer.step().unwrap();
    }
}

/// One scenario run by both hammer and PyTorch.
struct Case {
    name: &'static str,
    optimizer: OptimizerConfig,
    clip: Option<ClipGradConfig>,
    /// Learning rate of each step.
    lrs: Vec<f64>,
    /// Momentum (SGD) or beta1 (Adam) of each step, when changed.
    momenta: Option<Vec<f64>>,
    /// (step, parameter) pairs without a gradient.
    missing: Vec<(usize, usize)>,
    /// Dtype of the parameters and gradients.
    dtype: Kind,
}

impl Case {
    /// A case of `STEPS` steps at the config's learning rate, every gradient
    /// present, in float32.
    fn new(name: &'static str, optimizer: OptimizerConfig) -> Self {
        let lrs = vec![optimizer.lr; STEPS];
        Self {
            name,
            optimizer,
            clip: None,
            lrs,
            momenta: None,
            missing: Vec::new(),
            dtype: Kind::Float,
        }
    }

    /// The initial parameters of the case at `index` (its seed).
    fn initial(&self, index: usize) -> Vec<Tensor> {
        SHAPES
            .iter()
            .enumerate()
            .map(|(j, s)| fixed_values((index * 100 + j) as u64, s).to_kind(self.dtype))
            .collect()
    }

    /// The gradients of each step of the case at `index` (its seed).
    fn grads(&self, index: usize) -> Vec<Vec<Option<Tensor>>> {
        (0..STEPS)
            .map(|k| {
                SHAPES
                    .iter()
                    .enumerate()
                    .map(|(j, s)| {
                        let seed = (10_000 + index * 1000 + k * 10 + j) as u64;
                        (!self.missing.contains(&(k, j)))
                            .then(|| fixed_values(seed, s).to_kind(self.dtype))
                    })
                    .collect()
            })
            .collect()
    }
}
