//! Embeds an rpath to libtorch's `lib` directory so that `hammer` and the
//! tests run without `LD_LIBRARY_PATH`, and compiles `csrc/dist.cpp`, the
//! bridge to c10d (PyTorch's distributed engine), and `csrc/jit.cpp`
//! (a TorchScript module's buffers), against libtorch's headers.
//!
//! torch-sys finds libtorch from `LIBTORCH` (the Makefile points it at the
//! venv's `torch` package); we read the same variable, and pass the `lib`
//! directory on to `cuda.rs`.

use std::path::{Path, PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_CXX11_ABI");
    println!("cargo:rerun-if-changed=csrc/dist.cpp");
    println!("cargo:rerun-if-changed=csrc/nccl.cpp");
    println!("cargo:rerun-if-changed=csrc/jit.cpp");
    println!("cargo:rerun-if-changed=csrc/ffi.hpp");
    let libtorch = PathBuf::from(std::env::var("LIBTORCH").expect(
        "LIBTORCH must point at libtorch (the Makefile sets it to the venv's torch package: use `make build`)",
    ));
    let lib = libtorch.join("lib");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
    // libtorch's CUDA half is loaded at run time, only when a GPU may be
    // used (see `host/src/cuda.rs`): linking it would load CUDA's large
    // libraries into every run, GPU or not.
    println!("cargo:rustc-env=HAMMER_LIBTORCH_LIB={}", lib.display());
    compile_dist(&libtorch);
    compile_nccl(&libtorch);
}

/// `libhammer_nccl.so`: ProcessGroupNCCL, linked against libtorch's CUDA
/// library and loaded at run time only on CUDA (see `csrc/nccl.cpp`). CUDA's
/// and NCCL's headers come from the venv's `nvidia` packages (PyTorch's
/// own dependencies, with `nvidia-cuda-crt` and `nvidia-cuda-cccl` for the
/// headers nvcc would bring); its path reaches `dist::nccl_library` through
/// `HAMMER_NCCL_LIB`.
fn compile_nccl(libtorch: &Path) {
    let site = libtorch.parent().expect("torch's site-packages");
    let nvidia = site.join("nvidia");
    let cuda_include = std::fs::read_dir(&nvidia)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("include"))
        .find(|p| p.join("cuda_runtime_api.h").exists())
        .unwrap_or_else(|| panic!("no CUDA headers under {} (torch's nvidia-* packages)", nvidia.display()));
    let nccl_include = nvidia.join("nccl/include");
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("libhammer_nccl.so");
    let lib = libtorch.join("lib");
    let compiler = cc::Build::new().cpp(true).get_compiler();
    let status = compiler
        .to_command()
        .args(["-shared", "-fPIC", "-O2", "-std=c++17", "-DUSE_C10D_NCCL", "-w"])
        .arg(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .arg("-I")
        .arg(libtorch.join("include"))
        .arg("-I")
        .arg(libtorch.join("include/torch/csrc/api/include"))
        .arg("-I")
        .arg(&cuda_include)
        .arg("-I")
        .arg(&nccl_include)
        .arg("csrc/nccl.cpp")
        .arg("-o")
        .arg(&out)
        .arg(format!("-L{}", lib.display()))
        .args(["-ltorch_cuda", "-ltorch_cpu", "-lc10_cuda", "-lc10"])
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .status()
        .expect("running the C++ compiler");
    assert!(status.success(), "compiling csrc/nccl.cpp failed");
    println!("cargo:rustc-env=HAMMER_NCCL_LIB={}", out.display());
}

/// The c10d bridge, with Gloo (whose headers come from Debian's
/// `libgloo-dev`; the code is libtorch's own).
fn compile_dist(libtorch: &Path) {
    let abi = std::env::var("LIBTORCH_CXX11_ABI").unwrap_or_else(|_| "1".into());
    if !Path::new("/usr/include/gloo/config.h").exists() {
        panic!("gloo's headers are missing: `make setup` installs them (apt-get install libgloo-dev)");
    }
    cc::Build::new()
        .cpp(true)
        .file("csrc/dist.cpp")
        .file("csrc/jit.cpp")
        .include(libtorch.join("include"))
        .include(libtorch.join("include/torch/csrc/api/include"))
        .flag("-std=c++17")
        .flag(format!("-D_GLIBCXX_USE_CXX11_ABI={abi}"))
        .define("USE_C10D_GLOO", None)
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-deprecated-declarations")
        .warnings(false)
        .compile("hammer_dist");
}
