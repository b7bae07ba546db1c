//! The two-ring data set of MMEngine's runner tutorial.

use std::f64::consts::PI;

use tch::{Device, Kind, Tensor};

use super::Tensors;

/// Points on two noisy rings: label `l` ∈ {0, 1} uniform, radius
/// `3·(l+1) + N(0,1)`, angle uniform in [0, 2π).
///
/// Drawn from libtorch's generator seeded with `seed`, in the tutorial's
/// order (labels, radius noise, angle), so the samples are bit-identical to
/// the tutorial's `MyDataset` (train: 10,000 points, seed 0; val: 1,000
/// points, seed 3407).
pub fn two_rings(size: usize, seed: i64) -> Tensors {
    tch::manual_seed(seed);
    let n = size as i64;
    let labels = Tensor::randint(2, [n], (Kind::Int64, Device::Cpu));
    let r = (&labels + 1) * 3 + Tensor::randn([n], (Kind::Float, Device::Cpu));
    let theta = Tensor::rand([n], (Kind::Float, Device::Cpu)) * 2.0 * PI;
    let inputs = Tensor::vstack(&[&r * theta.cos(), &r * theta.sin()]).transpose(0, 1).contiguous();
    Tensors { inputs, targets: labels }
}
