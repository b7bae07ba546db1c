//! Embeds an rpath to libtorch's `lib` directory so that `hammer` and the
//! tests run without `LD_LIBRARY_PATH`.
//!
//! torch-sys finds libtorch from `LIBTORCH` (the Makefile points it at the
//! venv's `torch` package); we read the same variable, and pass the `lib`
//! directory on to `cuda.rs`.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        let lib = std::path::Path::new(&libtorch).join("lib");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{}", lib.display());
        // libtorch's CUDA half is loaded at run time, only when a GPU may be
        // used (see `host/src/cuda.rs`): linking it would load CUDA's large
        // libraries into every run, GPU or not.
        println!("cargo:rustc-env=HAMMER_LIBTORCH_LIB={}", lib.display());
    }
}
