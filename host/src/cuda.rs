//! CUDA on demand. The `hammer` binary links libtorch's CPU library only;
//! libtorch's CUDA library (`libtorch_cuda.so`, which registers CUDA with
//! libtorch when it loads) is opened at run time when a run may use a GPU, so
//! CPU runs do not pay for loading CUDA's libraries.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{bail, Result};

/// Whether this machine has an NVIDIA driver (so a GPU may be there).
pub fn driver_present() -> bool {
    Path::new("/proc/driver/nvidia/version").exists() || Path::new("/dev/nvidia0").exists()
}

/// Where libtorch's CUDA library is: beside the libtorch hammer was built against.
fn library() -> Option<PathBuf> {
    option_env!("HAMMER_LIBTORCH_LIB").map(|dir| Path::new(dir).join("libtorch_cuda.so"))
}

/// Opens libtorch's CUDA library once (later calls return the first result).
///
/// # Errors
/// The library is missing (a CPU-only libtorch) or cannot be loaded.
pub fn load() -> Result<()> {
    static LOADED: OnceLock<Result<(), String>> = OnceLock::new();
    let result = LOADED.get_or_init(|| {
        let path = library().ok_or("hammer was built without LIBTORCH; libtorch_cuda.so cannot be found")?;
        if !path.exists() {
            return Err(format!("`{}` does not exist: this libtorch has no CUDA support", path.display()));
        }
        let c_path = CString::new(path.to_string_lossy().as_bytes()).map_err(|e| e.to_string())?;
        // SAFETY: dlopen with a valid C string; the handle is kept for the
        // process's life (never closed), as libtorch registers global hooks.
        let handle = unsafe { libc::dlopen(c_path.as_ptr(), libc::RTLD_NOW | libc::RTLD_GLOBAL) };
        if handle.is_null() {
            // SAFETY: dlerror returns a thread-local C string or null.
            let why = unsafe {
                let e = libc::dlerror();
                if e.is_null() { "unknown error".into() } else { std::ffi::CStr::from_ptr(e).to_string_lossy().into_owned() }
            };
            return Err(format!("cannot load `{}`: {why}", path.display()));
        }
        Ok(())
    });
    match result {
        Ok(()) => Ok(()),
        Err(e) => bail!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    /// With or without a GPU: what the machine has is the GPU suite's
    /// business (`make test-gpu`); tests/all/distributed.rs hides the devices
    /// to see a CUDA run refused.
    #[test]
    fn libtorch_cuda_loads_with_or_without_a_gpu() {
        super::load().unwrap();
        // libtorch now has its CUDA runtime.
        assert!(tch::utils::has_cudart());
    }
}
