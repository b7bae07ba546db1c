//! What one plugin's `Store` holds, and the host side of the contract: the
//! functions a plugin imports (`hammer:plugin/host`) and its `tensor` handles.
//!
//! A plugin reaches the runner only through this state. Around each call the
//! runner swaps its scalars and requests into it (no copy), and takes back
//! what the plugin logged, emitted or requested.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tch::{Kind, Tensor};
use wasmtime::component::{Resource, ResourceTable};
use wasmtime::StoreLimits;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::host::{self, Level};
use super::bindings::types::StepInfo;
use crate::extension::{Requests, Scalars};

/// A host tensor a plugin holds a handle to.
#[derive(Debug)]
pub struct HostTensor(pub Tensor);

/// The data of one plugin's store.
pub struct PluginState {
    pub(super) wasi: WasiCtx,
    pub(super) table: ResourceTable,
    pub(super) limits: StoreLimits,
    /// The runner's scalars, swapped in for the duration of a call.
    pub(super) scalars: Scalars,
    /// The runner's requests, swapped in for the duration of a call.
    pub(super) requests: Requests,
    /// Where the loop is, set before each call.
    pub(super) step: StepInfo,
    /// Lines the plugin logged during the call, flushed to hammer's log after it.
    pub(super) logs: Vec<(Level, String)>,
    /// The model's parameters, when the config grants them.
    pub(super) parameters: Option<Vec<(String, Tensor)>>,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        self.logs.push((level, message));
    }

    fn scalar(&mut self, name: String) -> Option<f64> {
        self.scalars.get(&name)
    }

    fn emit_scalar(&mut self, name: String, value: f64) {
        self.scalars.set(&name, value);
    }

    fn request_stop(&mut self, reason: String) {
        self.requests.stop.get_or_insert(reason);
    }

    fn request_checkpoint(&mut self, tag: String) {
        self.requests.checkpoint = Some(tag);
    }

    fn model_parameters(&mut self) -> Result<Vec<(String, Resource<HostTensor>)>, String> {
        let Some(params) = &self.parameters else {
            return Err("the model's parameters are not granted to this plugin; \
                        set `model_parameters = true` in its [[plugins]] entry"
                .into());
        };
        params
            .iter()
            .map(|(name, t)| {
                let handle = self.table.push(HostTensor(t.shallow_clone())).map_err(|e| e.to_string())?;
                Ok((name.clone(), handle))
            })
            .collect()
    }

    fn step(&mut self) -> StepInfo {
        self.step
    }
}

impl PluginState {
    fn tensor(&self, handle: &Resource<HostTensor>) -> Result<&Tensor, String> {
        self.table.get(handle).map(|t| &t.0).map_err(|e| format!("bad tensor handle: {e}"))
    }

    fn new_handle(&mut self, t: Tensor) -> Result<Resource<HostTensor>, String> {
        self.table.push(HostTensor(t)).map_err(|e| e.to_string())
    }

    /// Runs an in-place operation on `dst` with `src`, without autograd.
    fn in_place(
        &mut self,
        dst: &Resource<HostTensor>,
        src: &Resource<HostTensor>,
        op: impl FnOnce(&mut Tensor, &Tensor) -> Result<(), tch::TchError>,
    ) -> Result<(), String> {
        let src = self.tensor(src)?.shallow_clone();
        let mut dst = self.tensor(dst)?.shallow_clone();
        if src.size() != dst.size() {
            return Err(format!("shapes differ: {:?} and {:?}", dst.size(), src.size()));
        }
        tch::no_grad(|| op(&mut dst, &src)).map_err(|e| e.to_string())
    }
}

impl host::HostTensor for PluginState {
    fn shape(&mut self, this: Resource<HostTensor>) -> Vec<u64> {
        self.tensor(&this).map(|t| t.size().iter().map(|&d| d as u64).collect()).unwrap_or_default()
    }

    fn dtype(&mut self, this: Resource<HostTensor>) -> String {
        let name = |k: Kind| match k {
            Kind::Float => "f32",
            Kind::Double => "f64",
            Kind::Half => "f16",
            Kind::BFloat16 => "bf16",
            Kind::Int64 => "i64",
            Kind::Int => "i32",
            Kind::Bool => "bool",
            Kind::Uint8 => "u8",
            _ => "other",
        };
        self.tensor(&this).map(|t| name(t.kind()).to_string()).unwrap_or_default()
    }

    fn duplicate(&mut self, this: Resource<HostTensor>) -> Resource<HostTensor> {
        let copy = self.tensor(&this).map(|t| tch::no_grad(|| t.detach().copy())).expect("a live handle");
        self.new_handle(copy).expect("room in the resource table")
    }

    fn lerp(&mut self, this: Resource<HostTensor>, end: Resource<HostTensor>, weight: f64) -> Result<(), String> {
        self.in_place(&this, &end, |dst, src| dst.f_lerp_(src, weight).map(drop))
    }

    fn copy_from(&mut self, this: Resource<HostTensor>, src: Resource<HostTensor>) -> Result<(), String> {
        self.in_place(&this, &src, |dst, src| dst.f_copy_(src))
    }

    fn swap(&mut self, this: Resource<HostTensor>, other: Resource<HostTensor>) -> Result<(), String> {
        self.in_place(&this, &other, |a, b| {
            let keep = a.f_detach_copy()?;
            a.f_copy_(b)?;
            b.shallow_clone().f_copy_(&keep)
        })
    }

    fn argmax(&mut self, this: Resource<HostTensor>, dim: i64) -> Result<Resource<HostTensor>, String> {
        let t = self.tensor(&this)?.f_argmax(dim, false).map_err(|e| e.to_string())?;
        self.new_handle(t)
    }

    fn topk(&mut self, this: Resource<HostTensor>, k: u32) -> Result<Resource<HostTensor>, String> {
        let (_, idx) = self.tensor(&this)?.f_topk(i64::from(k), -1, true, true).map_err(|e| e.to_string())?;
        self.new_handle(idx)
    }

    fn reshape(&mut self, this: Resource<HostTensor>, shape: Vec<i64>) -> Result<Resource<HostTensor>, String> {
        let t = self.tensor(&this)?.f_reshape(shape.as_slice()).map_err(|e| e.to_string())?;
        self.new_handle(t)
    }

    fn eq(&mut self, this: Resource<HostTensor>, other: Resource<HostTensor>) -> Result<Resource<HostTensor>, String> {
        let other = self.tensor(&other)?.shallow_clone();
        let t = self.tensor(&this)?.f_eq_tensor(&other).map_err(|e| e.to_string())?;
        self.new_handle(t)
    }

    fn sum(&mut self, this: Resource<HostTensor>) -> f64 {
        self.tensor(&this).map(|t| t.sum(Kind::Double).double_value(&[])).unwrap_or(f64::NAN)
    }

    fn numel(&mut self, this: Resource<HostTensor>) -> u64 {
        self.tensor(&this).map(|t| t.numel() as u64).unwrap_or(0)
    }

    fn to_list(&mut self, this: Resource<HostTensor>) -> Vec<f64> {
        self.tensor(&this)
            .ok()
            .and_then(|t| Vec::<f64>::try_from(t.detach().to_kind(Kind::Double).flatten(0, -1)).ok())
            .unwrap_or_default()
    }

    fn load_values(&mut self, this: Resource<HostTensor>, values: Vec<f64>) -> Result<(), String> {
        let mut t = self.tensor(&this)?.shallow_clone();
        if values.len() != t.numel() {
            return Err(format!("{} values for a tensor of {} elements", values.len(), t.numel()));
        }
        let src = Tensor::from_slice(&values).to_kind(t.kind()).to_device(t.device()).reshape(t.size());
        tch::no_grad(|| t.f_copy_(&src)).map_err(|e| e.to_string())
    }

    fn drop(&mut self, this: Resource<HostTensor>) -> wasmtime::Result<()> {
        self.table.delete(this)?;
        Ok(())
    }
}

/// A plugin's stdout and stderr: kept in memory and logged under the
/// plugin's name after each call. Keeps at most 1 MiB between two calls.
#[derive(Clone, Default)]
pub struct OutputCapture {
    buf: Arc<Mutex<Vec<u8>>>,
    written: Arc<AtomicBool>,
}

const OUTPUT_LIMIT: usize = 1 << 20;

impl OutputCapture {
    fn append(&self, bytes: &[u8]) {
        let mut buf = self.buf.lock().expect("output buffer");
        let room = OUTPUT_LIMIT.saturating_sub(buf.len());
        buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.written.store(true, Ordering::Release);
    }

    /// The complete lines written since the last call (one atomic load when
    /// nothing was written).
    pub fn take_lines(&self) -> Vec<String> {
        if !self.written.swap(false, Ordering::Acquire) {
            return Vec::new();
        }
        let mut buf = self.buf.lock().expect("output buffer");
        let end = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let end = if buf.len() >= OUTPUT_LIMIT { buf.len() } else { end };
        let text: Vec<u8> = buf.drain(..end).collect();
        if !buf.is_empty() {
            self.written.store(true, Ordering::Release);
        }
        String::from_utf8_lossy(&text).lines().map(str::to_string).collect()
    }
}

impl wasmtime_wasi::cli::IsTerminal for OutputCapture {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl wasmtime_wasi::cli::StdoutStream for OutputCapture {
    fn p2_stream(&self) -> Box<dyn wasmtime_wasi::p2::OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl wasmtime_wasi::p2::OutputStream for OutputCapture {
    fn write(&mut self, bytes: bytes::Bytes) -> wasmtime_wasi::p2::StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> wasmtime_wasi::p2::StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> wasmtime_wasi::p2::StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[wasmtime_wasi::async_trait]
impl wasmtime_wasi::p2::Pollable for OutputCapture {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for OutputCapture {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.append(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: std::pin::Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}
