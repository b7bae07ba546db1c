//! Links `tch-loop` with an rpath to `$LIBTORCH/lib`, so that it starts
//! without `LD_LIBRARY_PATH`, like hammer's binary.

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    if let Some(dir) = std::env::var_os("LIBTORCH") {
        let lib = std::path::PathBuf::from(dir).join("lib");
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{}", lib.display());
    }
}
