//! `hammer-wasi-adapter OUT`: writes the WASI preview-1 → preview-2 reactor
//! adapter (the bytes embedded in `wasi-preview1-component-adapter-provider`)
//! to `OUT`, through a temporary file renamed into place.

use std::path::PathBuf;
use std::process::ExitCode;

use wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: hammer-wasi-adapter OUT.wasm");
        return ExitCode::FAILURE;
    };
    let tmp = out.with_extension("wasm.tmp");
    let written = out
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&tmp, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER))
        .and_then(|()| std::fs::rename(&tmp, &out));
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: cannot write `{}`: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}
