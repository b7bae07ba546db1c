//! A c10d process group, through the C++ bridge in `host/csrc/dist.cpp`:
//! PyTorch's `TCPStore` for the rendezvous and `ProcessGroupGloo` (CPU) or
//! `ProcessGroupNCCL` (CUDA) for the collectives.

use std::ffi::{c_char, c_void, CStr, CString};
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, Context, Result};
use tch::Tensor;

#[repr(C)]
struct RawGroup {
    _private: [u8; 0],
}

extern "C" {
    fn hammer_group_new(
        host: *const c_char,
        port: u16,
        rank: i32,
        world: i32,
        is_server: bool,
        timeout_ms: i64,
        backend: i32,
        nccl_lib: *const c_char,
        err: *mut *mut c_char,
    ) -> *mut RawGroup;
    fn hammer_group_backend_name(group: *mut RawGroup) -> *mut c_char;
    fn hammer_group_all_reduce_sum(group: *mut RawGroup, tensors: *mut *mut c_void, n: usize, err: *mut *mut c_char) -> i32;
    fn hammer_group_all_gather(group: *mut RawGroup, output: *mut *mut c_void, input: *mut c_void, err: *mut *mut c_char) -> i32;
    fn hammer_group_broadcast(group: *mut RawGroup, tensors: *mut *mut c_void, n: usize, root: i32, err: *mut *mut c_char) -> i32;
    fn hammer_group_barrier(group: *mut RawGroup, err: *mut *mut c_char) -> i32;
    fn hammer_store_add(group: *mut RawGroup, key: *const c_char, value: i64, err: *mut *mut c_char) -> i64;
    fn hammer_group_free(group: *mut RawGroup);
    fn hammer_string_free(s: *mut c_char);
}

/// Which c10d backend carries the collectives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `ProcessGroupGloo`: CPU tensors, over TCP.
    Gloo,
    /// `ProcessGroupNCCL`: CUDA tensors, from `libhammer_nccl.so`.
    Nccl,
}

impl Backend {
    /// The backend `env.dist_cfg.backend` names for a model on `device`:
    /// `auto` is NCCL on CUDA, Gloo on the CPU.
    ///
    /// # Errors
    /// NCCL for a CPU model (NCCL reduces GPU tensors only).
    pub fn choose(name: &str, device: tch::Device) -> Result<Self> {
        let cuda = matches!(device, tch::Device::Cuda(_));
        match name {
            "gloo" => Ok(Self::Gloo),
            "nccl" if cuda => Ok(Self::Nccl),
            "nccl" => Err(anyhow!(
                "env.dist_cfg.backend = \"nccl\" needs env.device on CUDA (NCCL reduces GPU tensors); use \"gloo\" on the CPU"
            )),
            _ if cuda => Ok(Self::Nccl),
            _ => Ok(Self::Gloo),
        }
    }

    /// The name c10d and the config use: `gloo`, `nccl`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gloo => "gloo",
            Self::Nccl => "nccl",
        }
    }
}

/// One process's membership of a c10d process group.
#[derive(Debug)]
pub struct Group {
    raw: *mut RawGroup,
    rank: usize,
    world_size: usize,
}

// SAFETY: c10d's store and process groups are used from several threads in
// PyTorch itself (the TCPStore client serialises its requests, the backends
// queue their work); hammer calls collectives from the training thread only
// and the store (`add`) from the watchdog thread too.
unsafe impl Send for Group {}
unsafe impl Sync for Group {}

/// Takes a string the bridge malloc'd (a failed call's message, a name)
/// and frees it.
fn take_string(err: *mut c_char) -> String {
    if err.is_null() {
        return "unknown error".into();
    }
    // SAFETY: the bridge hands out NUL-terminated malloc'd strings.
    let message = unsafe { CStr::from_ptr(err) }.to_string_lossy().into_owned();
    unsafe { hammer_string_free(err) };
    message
}

fn handles(tensors: &[&Tensor]) -> Vec<*mut c_void> {
    tensors.iter().map(|t| t.as_ptr() as *mut c_void).collect()
}

impl Group {
    /// Joins the group of `world_size` processes as `rank`: rank 0 serves
    /// the TCPStore at `addr:port` (unless `agent_store`: the launcher
    /// serves it) and waits for the others; each waits at most `timeout` for
    /// the rendezvous and for every collective after it.
    ///
    /// # Errors
    /// The store cannot be served or reached in time, or the backend cannot
    /// be created (NCCL without CUDA, say).
    pub fn join(
        addr: &str,
        port: u16,
        (rank, world_size): (usize, usize),
        agent_store: bool,
        timeout: Duration,
        backend: Backend,
    ) -> Result<Self> {
        let host = CString::new(addr).context("the master address has a NUL byte")?;
        let nccl = CString::new(nccl_library().to_string_lossy().as_bytes()).context("the NCCL library path has a NUL byte")?;
        let code = match backend {
            Backend::Gloo => 0,
            Backend::Nccl => 1,
        };
        let mut err = std::ptr::null_mut();
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        // SAFETY: valid C strings; the bridge catches every C++ exception.
        let raw = unsafe {
            hammer_group_new(
                host.as_ptr(),
                port,
                rank as i32,
                world_size as i32,
                rank == 0 && !agent_store,
                timeout_ms,
                code,
                nccl.as_ptr(),
                &mut err,
            )
        };
        if raw.is_null() {
            return Err(anyhow!("{}", take_string(err)));
        }
        Ok(Self { raw, rank, world_size })
    }

    /// This process's rank.
    pub fn rank(&self) -> usize {
        self.rank
    }

    /// The number of processes in the group.
    pub fn world_size(&self) -> usize {
        self.world_size
    }

    /// The backend's own name (`gloo`, `nccl`).
    pub fn backend_name(&self) -> String {
        // SAFETY: a live group; the returned string is malloc'd by the bridge.
        take_string(unsafe { hammer_group_backend_name(self.raw) })
    }

    fn check(code: i32, err: *mut c_char, what: &str) -> Result<()> {
        if code == 0 {
            Ok(())
        } else {
            Err(anyhow!("{what} failed: {}", take_string(err)))
        }
    }

    /// Sums each tensor, in place, over all ranks (one collective for the list).
    ///
    /// # Errors
    /// A peer failed or did not answer within the timeout.
    pub fn all_reduce_sum(&self, tensors: &[&Tensor]) -> Result<()> {
        let mut raw = handles(tensors);
        let mut err = std::ptr::null_mut();
        // SAFETY: live tensors for the duration of the call.
        let code = unsafe { hammer_group_all_reduce_sum(self.raw, raw.as_mut_ptr(), raw.len(), &mut err) };
        Self::check(code, err, "all-reduce")
    }

    /// Every rank's `input` (all of the same shape), in rank order.
    ///
    /// # Errors
    /// As [`Self::all_reduce_sum`].
    pub fn all_gather(&self, input: &Tensor) -> Result<Vec<Tensor>> {
        let outputs: Vec<Tensor> = (0..self.world_size).map(|_| input.empty_like()).collect();
        let mut raw = handles(&outputs.iter().collect::<Vec<_>>());
        let mut err = std::ptr::null_mut();
        // SAFETY: `raw` holds `world_size` live tensors; `input` is live.
        let code = unsafe { hammer_group_all_gather(self.raw, raw.as_mut_ptr(), input.as_ptr() as *mut c_void, &mut err) };
        Self::check(code, err, "all-gather")?;
        Ok(outputs)
    }

    /// Overwrites each tensor with rank `root`'s.
    ///
    /// # Errors
    /// As [`Self::all_reduce_sum`].
    pub fn broadcast(&self, tensors: &[&Tensor], root: usize) -> Result<()> {
        let mut raw = handles(tensors);
        let mut err = std::ptr::null_mut();
        // SAFETY: live tensors for the duration of the call.
        let code = unsafe { hammer_group_broadcast(self.raw, raw.as_mut_ptr(), raw.len(), root as i32, &mut err) };
        Self::check(code, err, "broadcast")
    }

    /// Waits until every rank has reached it.
    ///
    /// # Errors
    /// As [`Self::all_reduce_sum`].
    pub fn barrier(&self) -> Result<()> {
        let mut err = std::ptr::null_mut();
        // SAFETY: a live group.
        let code = unsafe { hammer_group_barrier(self.raw, &mut err) };
        Self::check(code, err, "barrier")
    }

    /// Adds `value` to the store's counter `key` (shared by all ranks) and
    /// returns its new value.
    ///
    /// # Errors
    /// The store is unreachable (its host, rank 0, is gone).
    pub fn store_add(&self, key: &str, value: i64) -> Result<i64> {
        let key = CString::new(key).context("a store key has a NUL byte")?;
        let mut err = std::ptr::null_mut();
        // SAFETY: a live group and a valid C string.
        let out = unsafe { hammer_store_add(self.raw, key.as_ptr(), value, &mut err) };
        if err.is_null() {
            Ok(out)
        } else {
            Err(anyhow!("the rendezvous store: {}", take_string(err)))
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `hammer_group_new` and is freed once.
        unsafe { hammer_group_free(self.raw) };
    }
}

/// `libhammer_nccl.so`, built beside hammer against libtorch's CUDA library.
pub fn nccl_library() -> &'static Path {
    Path::new(option_env!("HAMMER_NCCL_LIB").unwrap_or("libhammer_nccl.so"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nccl_is_chosen_on_cuda_and_gloo_on_the_cpu() {
        use tch::Device;
        assert_eq!(Backend::choose("auto", Device::Cuda(1)).unwrap(), Backend::Nccl);
        assert_eq!(Backend::choose("auto", Device::Cpu).unwrap(), Backend::Gloo);
        assert_eq!(Backend::choose("gloo", Device::Cuda(0)).unwrap(), Backend::Gloo);
        let err = Backend::choose("nccl", Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("needs env.device on CUDA"), "{err}");
    }

    /// NCCL is compiled in: the library loads beside libtorch's CUDA half
    /// and exports the backend factory the bridge looks up.
    #[test]
    fn the_nccl_backend_library_loads() {
        crate::cuda::load().expect("libtorch_cuda.so loads (no GPU is needed)");
        let path = CString::new(nccl_library().to_string_lossy().as_bytes()).unwrap();
        // SAFETY: plain dlopen/dlsym of a library this build produced.
        unsafe {
            let lib = libc::dlopen(path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL);
            assert!(!lib.is_null(), "cannot load {}: {:?}", nccl_library().display(), CStr::from_ptr(libc::dlerror()));
            let symbol = libc::dlsym(lib, c"hammer_nccl_backend".as_ptr());
            assert!(!symbol.is_null());
        }
    }
}
