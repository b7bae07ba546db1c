//! What a WebAssembly plugin costs hammer: loading it (compiling, or reading
//! the compiled form back from the cache) and calling it.
//!
//! ```sh
//! cargo run --example plugin_bench -p hammer -- PLUGIN.wasm [--cold] [--home DIR]
//!     [--options JSON] [--calls N] [--metric-calls N] [--reps N] [--warmup N] [--out FILE]
//! ```
//!
//! - `--cold`: the compile cache starts empty (`$HAMMER_HOME` is a fresh
//!   temporary directory, or `--home DIR`, whose cache must then be empty), so
//!   the first load compiles. Without it the cache of `--home DIR` (else of
//!   `$HAMMER_HOME` or `~/.hammer`) is used as it is: run once with `--cold
//!   --home DIR` and once with `--home DIR` to time a compile and a cached
//!   load, each in a fresh process as `hammer train` would see them.
//! - `--options JSON`: the plugin's options, e.g. `'{"action": "nothing"}'`.
//! - `--model-parameters`: grant the plugin the parameters of the tutorial's
//!   model (an MLP 2 → 64 → 64 → 2), as `ema` needs.
//! - `--phases a,b`: time a hook only at these of its phases (default: all it
//!   subscribes to). A hook subscribed to `before_run` is called there once
//!   first, untimed, as a run would (`ema` creates its averages there).
//!
//! Measured, in this order:
//! - `runtime_s`: `Runtime::shared()` — the wasmtime engine and linker, paid
//!   once per process before the first plugin;
//! - `first_load_s`: the first `Runtime::compile` of the file — a compilation
//!   (and a cache write) when the cache is empty, else a cache read;
//!   `first_load_from` says which;
//! - `reload_s`: `Runtime::compile` again in the same process, a cache read
//!   (`reload_from` says so);
//! - `plugin_load_s`: `hammer::plugin::load` of the one plugin — cached
//!   compile, link, instantiate and the plugin's `setup`, as `hammer train`
//!   does at start-up;
//! - per-call costs, each as the median (and min, max) over `--reps`
//!   repetitions of a timed loop, after `--warmup` untimed calls:
//!   - a hook: `Hook::call` at each phase it subscribes to (`--calls`, default
//!     100,000 per repetition), beside a native no-op called through a
//!     trait object, for scale (and with `--model-parameters`, a native EMA
//!     update of the same parameters: `lerp_` of each);
//!   - a metric: `Metric::process` of a `[1000, 2]` output and `[1000]`
//!     targets, the tutorial's validation batch (`--metric-calls`, default
//!     10,000), beside hammer's built-in `Accuracy` on the same tensors, and
//!     `reset` and `compute`;
//!   - a learning-rate policy: `LrPolicy::step` with the iteration advancing
//!     through 157-iteration epochs, as in the tutorial (`--calls`).
//!
//! Prints the plugin's load lines, then the results as one line of JSON (the
//! last line of standard output); `--out FILE` also writes them, indented.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Parser;
use serde_json::{json, Map, Value};
use tch::{Device, Kind as TchKind, Tensor};

use hammer::config::PluginConfig;
use hammer::logging::Logger;
use hammer::extension::{ExtensionLoader, Hook, HookContext, LrPolicy, Metric, Mode, OptimizerView, Phase, Requests, Scalars, Setup, StepInfo};
use hammer::metric::Accuracy;
use hammer::plugin::{Kind, Loader, Runtime};

/// Iterations per epoch in the tutorial job (10,000 samples, batches of 64).
const ITERS_PER_EPOCH: u64 = 157;
/// Epochs of the tutorial job.
const MAX_EPOCHS: u32 = 10;

#[derive(Parser, Debug)]
#[command(about = "Load time and per-call cost of one hammer plugin component")]
struct Args {
    /// The plugin component (`.wasm`).
    plugin: PathBuf,
    /// Start from an empty compile cache, so the first load compiles.
    #[arg(long)]
    cold: bool,
    /// `$HAMMER_HOME` for this run (the cache is `DIR/cache/components`).
    #[arg(long, value_name = "DIR")]
    home: Option<PathBuf>,
    /// The plugin's options, as a JSON object.
    #[arg(long, value_name = "JSON", default_value = "{}")]
    options: String,
    /// Grant the plugin the parameters of the tutorial's model.
    #[arg(long)]
    model_parameters: bool,
    /// Time a hook only at these phases (comma-separated names).
    #[arg(long, value_name = "PHASES", value_delimiter = ',')]
    phases: Vec<String>,
    /// Timed calls per repetition, for hooks and learning-rate policies.
    #[arg(long, default_value_t = 100_000)]
    calls: u64,
    /// Timed calls per repetition of a metric's `process`.
    #[arg(long, default_value_t = 10_000)]
    metric_calls: u64,
    /// Repetitions of each timed loop (the median is reported).
    #[arg(long, default_value_t = 5)]
    reps: usize,
    /// Untimed calls before each timed series.
    #[arg(long, default_value_t = 1_000)]
    warmup: u64,
    /// Also write the results, indented, to this file.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.reps == 0 || args.calls == 0 || args.metric_calls == 0 {
        bail!("--reps, --calls and --metric-calls must be positive");
    }
    let plugin = args.plugin.canonicalize().with_context(|| format!("plugin `{}`", args.plugin.display()))?;
    let options: Map<String, Value> = serde_json::from_str(&args.options).context("--options must be a JSON object")?;

    // The cache directory must be chosen before the process's runtime exists.
    let (home, temp_home) = choose_home(&args)?;
    if let Some(home) = &home {
        std::env::set_var("HAMMER_HOME", home);
    }
    let cache_dir = hammer_home().map(|h| h.join("cache").join("components"));
    let cached_before = cache_dir.as_deref().map_or(0, count_files);
    if args.cold && cached_before > 0 {
        bail!(
            "--cold needs an empty compile cache, and `{}` holds {cached_before} file(s)",
            cache_dir.as_deref().unwrap_or(Path::new("?")).display()
        );
    }

    let result = measure(&args, &plugin, options, cache_dir.as_deref(), cached_before);
    if let Some(dir) = temp_home {
        let _ = std::fs::remove_dir_all(dir);
    }
    let mut report = result?;
    report.insert("hammer_home".into(), json!(home.map(|h| h.display().to_string())));

    let report = Value::Object(report);
    if let Some(out) = &args.out {
        let text = serde_json::to_string_pretty(&report)? + "\n";
        std::fs::write(out, text).with_context(|| format!("cannot write `{}`", out.display()))?;
    }
    println!("{report}");
    Ok(())
}

/// `$HAMMER_HOME` for this run, and the temporary directory to remove after
/// (when `--cold` made one).
fn choose_home(args: &Args) -> Result<(Option<PathBuf>, Option<PathBuf>)> {
    if let Some(home) = &args.home {
        std::fs::create_dir_all(home).with_context(|| format!("cannot create `{}`", home.display()))?;
        return Ok((Some(home.canonicalize()?), None));
    }
    if args.cold {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("hammer-plugin-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
        return Ok((Some(dir.clone()), Some(dir)));
    }
    Ok((None, None))
}

/// The home the runtime will use (as `hammer::plugin::runtime` resolves it).
fn hammer_home() -> Option<PathBuf> {
    std::env::var_os("HAMMER_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".hammer")))
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.filter_map(Result::ok).filter(|e| e.path().is_file()).count())
}

fn seconds(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

fn measure(
    args: &Args,
    plugin: &Path,
    options: Map<String, Value>,
    cache_dir: Option<&Path>,
    cached_before: usize,
) -> Result<Map<String, Value>> {
    let t = Instant::now();
    let rt = Runtime::shared()?;
    let runtime_s = seconds(t);

    // Reading the file counts: `hammer train` reads it too.
    let label = plugin.display().to_string();
    let t = Instant::now();
    let bytes = std::fs::read(plugin).with_context(|| format!("cannot read `{label}`"))?;
    let compiled = rt.compile(&bytes, &label)?;
    let first_load_s = seconds(t);
    let first_load_from = if compiled.from_cache { "cache" } else { "compile" };

    // Again in the same process: a cache read, once the first load wrote it.
    let t = Instant::now();
    let bytes = std::fs::read(plugin).with_context(|| format!("cannot read `{label}`"))?;
    let again = rt.compile(&bytes, &label)?;
    let reload_s = seconds(t);
    let reload_from = if again.from_cache { "cache" } else { "compile" };
    drop(black_box(again));

    let mut cfg = PluginConfig::from_path(plugin.to_path_buf());
    cfg.options = options.clone();
    cfg.model_parameters = args.model_parameters;
    let logger = Logger::new(None, false)?;
    let params = if args.model_parameters { tutorial_parameters() } else { Vec::new() };
    // The tutorial's optimizer: Adam, lr 1e-3, beta1 0.9 as its momentum.
    let optimizer = OptimizerView { base_lr: 1e-3, momentum: Some(0.9) };
    let t = Instant::now();
    let setup = Setup { parameters: &params, optimizer, logger: &logger, work_dir: None, shard: None };
    let mut plugins = Loader::new(std::slice::from_ref(&cfg), None).load(&setup)?;
    let plugin_load_s = seconds(t);

    let calls = match compiled.kind {
        Kind::Hook => {
            let hook = plugins.hooks.pop().context("the hook was not loaded")?;
            bench_hook(args, hook, &params)?
        }
        Kind::Metric => {
            let metric = plugins.metrics.pop().context("the metric was not loaded")?;
            bench_metric(args, metric)?
        }
        Kind::LrPolicy => {
            let policy = plugins.lr_policies.pop().context("the policy was not loaded")?;
            bench_lr_policy(args, policy)?
        }
    };

    let mut report = Map::new();
    report.insert("plugin".into(), json!(plugin.display().to_string()));
    report.insert("kind".into(), json!(compiled.kind.name()));
    report.insert("sha256".into(), json!(compiled.sha256));
    report.insert("options".into(), Value::Object(options));
    report.insert("model_parameters".into(), json!(args.model_parameters));
    report.insert("cold".into(), json!(args.cold));
    report.insert("cache_dir".into(), json!(cache_dir.map(|d| d.display().to_string())));
    report.insert("cache_files_before".into(), json!(cached_before));
    report.insert("runtime_s".into(), json!(round(runtime_s, 6)));
    report.insert("first_load_s".into(), json!(round(first_load_s, 6)));
    report.insert("first_load_from".into(), json!(first_load_from));
    report.insert("reload_s".into(), json!(round(reload_s, 6)));
    report.insert("reload_from".into(), json!(reload_from));
    report.insert("plugin_load_s".into(), json!(round(plugin_load_s, 6)));
    report.insert("calls".into(), calls);
    report.insert("reps".into(), json!(args.reps));
    report.insert("warmup".into(), json!(args.warmup));
    Ok(report)
}

/// Runs `f(i)` `warmup` times untimed, then `reps` timed series of `n`
/// calls; returns nanoseconds per call (median, min, max) and the counts.
fn time_calls(args: &Args, n: u64, mut f: impl FnMut(u64) -> Result<()>) -> Result<Value> {
    let mut i = 0u64;
    for _ in 0..args.warmup {
        f(i)?;
        i += 1;
    }
    let mut per_call = Vec::with_capacity(args.reps);
    for _ in 0..args.reps {
        let t = Instant::now();
        for _ in 0..n {
            f(i)?;
            i += 1;
        }
        per_call.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    per_call.sort_by(f64::total_cmp);
    let median = if per_call.len() % 2 == 1 {
        per_call[per_call.len() / 2]
    } else {
        (per_call[per_call.len() / 2 - 1] + per_call[per_call.len() / 2]) / 2.0
    };
    Ok(json!({
        "ns_per_call": round(median, 1),
        "min_ns_per_call": round(per_call[0], 1),
        "max_ns_per_call": round(per_call[per_call.len() - 1], 1),
        "calls_per_rep": n,
    }))
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

/// The loop that fires `phase`.
fn mode_of(phase: Phase) -> Mode {
    let name = phase.name();
    if name.contains("_val") {
        Mode::Val
    } else if name.contains("_test") {
        Mode::Test
    } else {
        Mode::Train
    }
}

/// Where the tutorial's loop is at call `i` of a series, at `phase` of `mode`.
fn step_info(phase: Phase, mode: Mode, i: u64) -> StepInfo {
    let max_iters = u64::from(MAX_EPOCHS) * ITERS_PER_EPOCH;
    StepInfo {
        phase,
        mode,
        epoch: u32::try_from(i / ITERS_PER_EPOCH).unwrap_or(u32::MAX),
        iter: i,
        inner_iter: i % ITERS_PER_EPOCH,
        max_epochs: MAX_EPOCHS,
        max_iters,
        rank: 0,
        world_size: 1,
    }
}

/// The scalars a training step has when hooks run (what log lines show).
fn training_scalars() -> Scalars {
    let mut scalars = Scalars::default();
    for (name, value) in [("lr", 1e-3), ("time", 2e-4), ("data_time", 1e-5), ("loss", 0.18)] {
        scalars.set(name, value);
    }
    scalars
}

/// Parameters shaped as the tutorial model's (PyTorch's names), each
/// requiring gradients as a model's do.
fn tutorial_parameters() -> Vec<(String, Tensor)> {
    tch::manual_seed(0);
    let shapes: [(&str, &[i64]); 6] = [
        ("mlp.0.weight", &[64, 2]),
        ("mlp.0.bias", &[64]),
        ("mlp.2.weight", &[64, 64]),
        ("mlp.2.bias", &[64]),
        ("classifier.weight", &[2, 64]),
        ("classifier.bias", &[2]),
    ];
    shapes
        .iter()
        .map(|(name, shape)| {
            let t = Tensor::randn(*shape, (TchKind::Float, Device::Cpu)).set_requires_grad(true);
            ((*name).to_string(), t)
        })
        .collect()
}

/// A native no-op called through a trait object, as the runner calls hooks:
/// the floor of a call (a boxed closure, so this does not depend on what
/// else the `Hook` trait asks of an implementor).
type NativeNoop = Box<dyn FnMut(&StepInfo, &mut HookContext<'_>) -> Result<()>>;

fn bench_hook(args: &Args, mut hook: Box<dyn Hook>, params: &[(String, Tensor)]) -> Result<Value> {
    let subscribed: Vec<Phase> = Phase::ALL.iter().copied().filter(|&p| hook.subscribes(p)).collect();
    let phases: Vec<Phase> = if args.phases.is_empty() {
        subscribed.clone()
    } else {
        let mut chosen = Vec::new();
        for name in &args.phases {
            let phase = Phase::ALL.iter().copied().find(|p| p.name() == name.as_str());
            match phase {
                Some(p) if subscribed.contains(&p) => chosen.push(p),
                Some(_) => bail!("the hook does not subscribe to `{name}`"),
                None => bail!("--phases: unknown phase `{name}`"),
            }
        }
        chosen
    };
    if phases.is_empty() {
        bail!("the hook subscribes to no phase");
    }
    let mut scalars = training_scalars();
    let mut requests = Requests::default();
    if subscribed.contains(&Phase::BeforeRun) {
        let info = step_info(Phase::BeforeRun, Mode::Train, 0);
        hook.call(&info, &mut HookContext { scalars: &mut scalars, requests: &mut requests })?;
    }
    let mut per_phase = Map::new();
    for &phase in &phases {
        let mode = mode_of(phase);
        let timing = time_calls(args, args.calls, |i| {
            let info = step_info(phase, mode, i);
            let mut ctx = HookContext { scalars: &mut scalars, requests: &mut requests };
            hook.call(&info, &mut ctx)
        })?;
        per_phase.insert(phase.name().into(), timing);
    }
    let mut native: NativeNoop = Box::new(|info, ctx| {
        black_box((info, &ctx.scalars));
        Ok(())
    });
    let mode = mode_of(phases[0]);
    let native_timing = time_calls(args, args.calls, |i| {
        let info = step_info(phases[0], mode, i);
        let mut ctx = HookContext { scalars: &mut scalars, requests: &mut requests };
        black_box(&mut native)(&info, &mut ctx)
    })?;
    let mut result = json!({
        "hook_call": per_phase,
        "native_noop_hook_call": native_timing,
    });
    if !params.is_empty() {
        // What an EMA update costs natively: `shadow.lerp_(param, m)` per parameter.
        let mut pairs: Vec<(Tensor, &Tensor)> = params.iter().map(|(_, p)| (p.detach().copy(), p)).collect();
        let native_ema = tch::no_grad(|| {
            time_calls(args, args.calls, |_| {
                for (shadow, param) in &mut pairs {
                    let _ = shadow.lerp_(param, 0.0002);
                }
                Ok(())
            })
        })?;
        result["native_ema_update"] = native_ema;
    }
    Ok(result)
}

fn bench_metric(args: &Args, mut metric: Box<dyn Metric>) -> Result<Value> {
    // The tutorial's validation batch: 1000 samples, 2 classes.
    tch::manual_seed(0);
    let output = Tensor::randn([1000, 2], (TchKind::Float, Device::Cpu));
    let targets = Tensor::randint(2, [1000], (TchKind::Int64, Device::Cpu));
    let loss = Tensor::scalar_tensor(0.18, (TchKind::Float, Device::Cpu));

    let (mut scalars, mut requests) = (training_scalars(), Requests::default());
    let mut ctx = HookContext { scalars: &mut scalars, requests: &mut requests };
    metric.reset(&mut ctx)?;
    let process = tch::no_grad(|| time_calls(args, args.metric_calls, |_| metric.process(&output, &targets, &loss, &mut ctx)))?;
    let compute = time_calls(args, args.metric_calls, |_| metric.compute(&mut ctx).map(|v| drop(black_box(v))))?;
    let reset = time_calls(args, args.metric_calls, |_| metric.reset(&mut ctx))?;
    // One pass's result, to show the plugin computes what the built-in does.
    metric.process(&output, &targets, &loss, &mut ctx)?;
    let plugin_values = metric.compute(&mut ctx)?;

    let mut builtin = Accuracy::default();
    let native = tch::no_grad(|| time_calls(args, args.metric_calls, |_| builtin.process(&output, &targets, &loss, &mut ctx)))?;
    builtin.reset(&mut ctx)?;
    builtin.process(&output, &targets, &loss, &mut ctx)?;
    let builtin_values = builtin.compute(&mut ctx)?;

    let as_object = |values: Vec<(String, f64)>| -> Value {
        Value::Object(values.into_iter().map(|(k, v)| (k, json!(v))).collect())
    };
    Ok(json!({
        "batch_shape": [1000, 2],
        "metric_process": process,
        "metric_compute": compute,
        "metric_reset": reset,
        "native_accuracy_process": native,
        "plugin_values": as_object(plugin_values),
        "native_values": as_object(builtin_values),
    }))
}

fn bench_lr_policy(args: &Args, mut policy: Box<dyn LrPolicy>) -> Result<Value> {
    let mut lr = 1e-3;
    let mut momentum = Some(0.9);
    let (mut scalars, mut requests) = (training_scalars(), Requests::default());
    let timing = time_calls(args, args.calls, |i| {
        let info = step_info(Phase::BeforeTrainIter, Mode::Train, i);
        let mut ctx = HookContext { scalars: &mut scalars, requests: &mut requests };
        if let Some((new_lr, new_momentum)) = policy.step(&info, lr, momentum, &mut ctx)? {
            lr = new_lr;
            momentum = new_momentum.or(momentum);
        }
        Ok(())
    })?;
    Ok(json!({ "lr_policy_step": timing }))
}
