//! Mixed precision (`env.amp`): libtorch's autocast around the forward
//! pass and the loss, and for `fp16` a dynamic loss scaler (PyTorch's
//! `GradScaler` with its defaults).
//!
//! - `none`: float32 throughout (the default);
//! - `bf16`: autocast to bfloat16, on CPU and CUDA; no loss scaling (bf16
//!   has float32's range);
//! - `fp16`: autocast to float16 with loss scaling; CUDA only (libtorch's CPU
//!   autocast is bfloat16-only in practice).
//!
//! `tch::autocast` only switches CUDA's autocast, so the device's autocast
//! state is set through libtorch's own `at::autocast` functions, the same
//! code path for CPU and CUDA.

use anyhow::{bail, Result};
use tch::{Device, Kind, Tensor};

/// libtorch's C++ entry points (exported by `libtorch_cpu`), by their
/// Itanium-mangled names; `c10::DeviceType` and `c10::ScalarType` are `int8_t` enums.
mod ffi {
    unsafe extern "C" {
        #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
        pub(super) fn set_autocast_enabled(device: i8, enabled: bool);
        #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
        pub(super) fn is_autocast_enabled(device: i8) -> bool;
        #[link_name = "_ZN2at8autocast18get_autocast_dtypeEN3c1010DeviceTypeE"]
        pub(super) fn get_autocast_dtype(device: i8) -> i8;
        #[link_name = "_ZN2at8autocast18set_autocast_dtypeEN3c1010DeviceTypeENS1_10ScalarTypeE"]
        pub(super) fn set_autocast_dtype(device: i8, dtype: i8);
        #[link_name = "_ZN2at8autocast17increment_nestingEv"]
        pub(super) fn increment_nesting() -> i32;
        #[link_name = "_ZN2at8autocast17decrement_nestingEv"]
        pub(super) fn decrement_nesting() -> i32;
        #[link_name = "_ZN2at8autocast11clear_cacheEv"]
        pub(super) fn clear_cache();
    }
}

/// `c10::DeviceType`.
const DEVICE_CPU: i8 = 0;
const DEVICE_CUDA: i8 = 1;
/// `c10::ScalarType`.
const SCALAR_HALF: i8 = 5;
const SCALAR_BFLOAT16: i8 = 15;

/// The precision `env.amp` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// float32.
    None,
    /// bfloat16 autocast.
    Bf16,
    /// float16 autocast with dynamic loss scaling.
    Fp16,
}

impl Precision {
    /// Parses `none`, `bf16` or `fp16`.
    ///
    /// # Errors
    /// Another name, or `fp16` on a device other than CUDA.
    pub fn parse(name: &str, device: Device) -> Result<Self> {
        Ok(match name {
            "none" => Self::None,
            "bf16" => Self::Bf16,
            "fp16" if device.is_cuda() => Self::Fp16,
            "fp16" => bail!("env.amp = \"fp16\" needs a CUDA device (libtorch's CPU autocast is bfloat16); use \"bf16\""),
            other => bail!("env.amp: unknown precision `{other}` (none, bf16, fp16)"),
        })
    }
}

/// Runs `f` with autocast to `precision` on `device` (nothing for `None`).
pub fn autocast<T>(precision: Precision, device: Device, f: impl FnOnce() -> T) -> T {
    let dtype = match precision {
        Precision::None => return f(),
        Precision::Bf16 => SCALAR_BFLOAT16,
        Precision::Fp16 => SCALAR_HALF,
    };
    let dev = if device.is_cuda() { DEVICE_CUDA } else { DEVICE_CPU };
    // SAFETY: plain setters of libtorch's thread-local autocast state, with
    // valid enum values; the previous state is restored below.
    let (was_enabled, was_dtype) = unsafe {
        let prev = (ffi::is_autocast_enabled(dev), ffi::get_autocast_dtype(dev));
        ffi::set_autocast_dtype(dev, dtype);
        ffi::set_autocast_enabled(dev, true);
        ffi::increment_nesting();
        prev
    };
    let out = f();
    // SAFETY: as above.
    unsafe {
        if ffi::decrement_nesting() == 0 {
            ffi::clear_cache();
        }
        ffi::set_autocast_enabled(dev, was_enabled);
        ffi::set_autocast_dtype(dev, was_dtype);
    }
    out
}

/// PyTorch's `GradScaler` (dynamic loss scaling): the loss is multiplied by
/// `scale` before backward; before the step the gradients are divided by it,
/// and if any is not finite the step is skipped and `scale` halved; after
/// `growth_interval` finite steps in a row it doubles.
#[derive(Debug, Clone, PartialEq)]
pub struct GradScaler {
    /// The current scale.
    pub scale: f64,
    /// Finite steps since the scale last changed.
    pub growth_tracker: u64,
}

const GROWTH_FACTOR: f64 = 2.0;
const BACKOFF_FACTOR: f64 = 0.5;
const GROWTH_INTERVAL: u64 = 2000;

impl Default for GradScaler {
    fn default() -> Self {
        Self { scale: 65536.0, growth_tracker: 0 }
    }
}

impl GradScaler {
    /// `loss × scale`.
    pub fn scale(&self, loss: &Tensor) -> Tensor {
        loss * self.scale
    }

    /// Divides every gradient by the scale; returns whether all are finite.
    pub fn unscale(&self, params: &[Tensor]) -> bool {
        let inv = 1.0 / self.scale;
        let mut finite = true;
        tch::no_grad(|| {
            for p in params {
                let mut g = p.grad();
                if !g.defined() {
                    continue;
                }
                let _ = g.g_mul_scalar_(inv);
                if finite && !bool::try_from(g.isfinite().all().to_kind(Kind::Bool)).unwrap_or(false) {
                    finite = false;
                }
            }
        });
        finite
    }

    /// Updates the scale after a step that was taken (`finite`) or skipped.
    pub fn update(&mut self, finite: bool) {
        if finite {
            self.growth_tracker += 1;
            if self.growth_tracker == GROWTH_INTERVAL {
                self.scale *= GROWTH_FACTOR;
                self.growth_tracker = 0;
            }
        } else {
            self.scale *= BACKOFF_FACTOR;
            self.growth_tracker = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bf16_autocast_runs_matmuls_in_bfloat16_on_cpu_and_restores_the_state() {
        let a = Tensor::ones([4, 4], (Kind::Float, Device::Cpu));
        assert_eq!(autocast(Precision::None, Device::Cpu, || a.matmul(&a)).kind(), Kind::Float);
        assert_eq!(autocast(Precision::Bf16, Device::Cpu, || a.matmul(&a)).kind(), Kind::BFloat16);
        // Outside the scope, float32 again.
        assert_eq!(a.matmul(&a).kind(), Kind::Float);
    }

    #[test]
    fn fp16_is_refused_on_cpu() {
        assert!(Precision::parse("fp16", Device::Cpu).unwrap_err().to_string().contains("CUDA"));
        assert_eq!(Precision::parse("fp16", Device::Cuda(0)).unwrap(), Precision::Fp16);
        assert!(Precision::parse("fp8", Device::Cpu).is_err());
    }

    #[test]
    fn the_scaler_backs_off_on_overflow_and_grows_after_an_interval() {
        let p = Tensor::ones([2], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let mut s = GradScaler::default();
        s.scale(&(&p * 3.0).sum(Kind::Float)).backward();
        assert!(s.unscale(std::slice::from_ref(&p)));
        assert_eq!(Vec::<f32>::try_from(p.grad()).unwrap(), vec![3.0, 3.0]);
        s.update(true);
        assert_eq!(s.growth_tracker, 1);
        let _ = p.grad().fill_(f64::INFINITY);
        assert!(!s.unscale(std::slice::from_ref(&p)));
        s.update(false);
        assert_eq!((s.scale, s.growth_tracker), (32768.0, 0));
        for _ in 0..GROWTH_INTERVAL {
            s.update(true);
        }
        assert_eq!(s.scale, 65536.0);
    }
}
