//! Distributed data-parallel training, 2 processes on 127.0.0.1: through
//! `hammer launch` and through torchrun (`--no-python`), against one process
//! with twice the batch; resume; a rank that dies or hangs; bad rendezvous.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hammer_tests::{guest, hammer_command, model_weights, python, scalars, stderr, stdout, tiny_config};

/// A port nothing listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The tiny job with per-rank batch `batch`, `epochs` epochs of 320 points,
/// Adam, a 30 s collective timeout, and `extra`.
fn job(dir: &Path, name: &str, batch: usize, epochs: u32, extra: &str) -> PathBuf {
    let cfg = tiny_config(dir, name, 320, epochs, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("batch_size = 32\n", &format!("batch_size = {batch}\n"))
        + "[optim.optimizer]\ntype = \"adam\"\nlr = 0.01\n[env.dist_cfg]\ntimeout = 30\n"
        + extra;
    std::fs::write(&cfg, text).unwrap();
    cfg
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.stdin(Stdio::null()).output().expect("starting the job");
    assert!(out.status.success(), "{cmd:?} failed:\n{}\n{}", stdout(&out), stderr(&out));
    out
}

fn launch(dir: &Path, nproc: usize, args: &[&str]) -> Command {
    let mut cmd = hammer_command(dir);
    let port = free_port().to_string();
    cmd.args(["launch", "--nproc-per-node", &nproc.to_string(), "--master-port", &port]).args(args);
    cmd
}

fn max_difference(a: &Path, b: &Path) -> f32 {
    let (a, b) = (model_weights(a), model_weights(b));
    assert_eq!(a.iter().map(|(n, _)| n).collect::<Vec<_>>(), b.iter().map(|(n, _)| n).collect::<Vec<_>>());
    assert!(!a.is_empty());
    a.iter().zip(&b).flat_map(|((_, x), (_, y))| x.iter().zip(y).map(|(x, y)| (x - y).abs())).fold(0.0, f32::max)
}

fn column(work: &Path, mode: &str, key: &str) -> Vec<f64> {
    scalars(work).iter().filter(|r| r["mode"] == mode).filter_map(|r| r[key].as_f64()).collect()
}

#[test]
fn two_ranks_match_one_process_with_twice_the_batch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let one = job(dir, "one.toml", 32, 3, "");
    run(hammer_command(dir).args(["train", one.to_str().unwrap(), "--work-dir", "one"]));
    // A hook on every rank that says which it is, once; another, on rank 0
    // only (by its config entry), at each epoch.
    let misbehave = guest("misbehave");
    let rank = format!(
        "[[plugins]]\npath = \"{0}\"\noptions = {{ action = \"rank\", at = \"before_run\" }}\n\
         [[plugins]]\npath = \"{0}\"\nrank_zero_only = true\noptions = {{ action = \"rank\", at = \"after_train_epoch\" }}\n",
        misbehave.display()
    );
    // And a bundle whose manifest asks for rank 0 alone.
    let manifest = format!(
        "name = \"chatty\"\nversion = \"1.0.0\"\nkind = \"hook\"\ninterface = \"{}\"\nrank_zero_only = true\n\
         [options.action]\ntype = \"string\"\n[options.at]\ntype = \"string\"\n",
        hammer_tests::interface()
    );
    std::fs::write(dir.join("manifest.toml"), manifest).unwrap();
    let home = dir.join("home");
    let wasm = misbehave.to_str().unwrap();
    run(hammer_command(dir).env("HAMMER_HOME", &home).args(["plugin", "pack", wasm, "--manifest", "manifest.toml", "--out", "."]));
    run(hammer_command(dir).env("HAMMER_HOME", &home).args(["plugin", "install", "chatty-1.0.0.hpkg"]));
    let rank = rank + "[[plugins]]\nname = \"chatty\"\noptions = { action = \"rank\", at = \"after_train_epoch\" }\n";
    let two = job(dir, "two.toml", 16, 3, &rank);
    let out = run(launch(dir, 2, &["train", two.to_str().unwrap(), "--work-dir", "two"]).env("HAMMER_HOME", &home));
    let log = stdout(&out);

    let diff = max_difference(&dir.join("one/epoch_3.safetensors"), &dir.join("two/epoch_3.safetensors"));
    assert!(diff <= 1e-5, "weights differ by {diff}");
    // Validation sees the whole data set on 2 ranks too.
    let (acc_one, acc_two) = (column(&dir.join("one"), "val", "accuracy"), column(&dir.join("two"), "val", "accuracy"));
    assert_eq!(acc_one.len(), 3);
    assert_eq!(acc_one, acc_two);
    // Rank 0 alone writes: one log line per checkpoint, one record per log interval.
    assert_eq!(log.matches("Saving checkpoint").count(), 3, "{log}");
    let hammer_log = std::fs::read_to_string(dir.join("two/hammer.log")).unwrap();
    assert_eq!(hammer_log.matches("Saving checkpoint").count(), 3);
    assert_eq!(column(&dir.join("two"), "train", "loss").len(), column(&dir.join("one"), "train", "loss").len());
    assert!(log.contains("Distributed: rank 0 of 2 (gloo backend)"), "{log}");
    // Plugins see their rank; the other rank's lines come prefixed.
    let err = stderr(&out);
    let all = format!("{log}{err}");
    assert_eq!(all.matches("I am rank 0 of 2").count(), 7, "{all}");
    assert_eq!(all.matches("I am rank 1 of 2").count(), 1, "{all}");
    // From setup on: `host.step()` knows the rank and the world size.
    assert_eq!(all.matches("set up as rank 0 of 2").count(), 3, "{all}");
    assert_eq!(all.matches("set up as rank 1 of 2").count(), 1, "{all}");
    assert!(all.contains("[rank 1] "), "{all}");
}

/// `hammer val` under a launcher: each rank evaluates its half of the
/// validation set, and rank 0 alone reports the whole set's metrics, those
/// of one process.
#[test]
fn val_under_a_launcher_shards_the_data_and_reports_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = job(dir, "job.toml", 32, 1, "");
    run(hammer_command(dir).args(["train", cfg.to_str().unwrap(), "--work-dir", "w"]));
    let ckpt = dir.join("w/epoch_1.safetensors");
    let args = ["val", cfg.to_str().unwrap(), "--checkpoint", ckpt.to_str().unwrap()];
    let accuracies = |text: &str| -> Vec<String> {
        text.lines().filter_map(|l| l.split("accuracy: ").nth(1)).map(|v| v.split_whitespace().next().unwrap().to_string()).collect()
    };
    let single = stdout(&run(hammer_command(dir).args(args)));
    let out = run(&mut launch(dir, 2, &args));
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert_eq!(accuracies(&single).len(), 1, "{single}");
    assert_eq!(accuracies(&all), accuracies(&single), "{all}");
    // 200 points in batches of 100: two batches in one process, one on each rank.
    assert!(single.contains("[2/2]"), "{single}");
    assert!(all.contains("Epoch(val) [1][1/1]"), "{all}");
    assert!(all.contains("Distributed: rank 0 of 2 (gloo backend)"), "{all}");
}

/// Gradients accumulate locally for `accumulative_counts` iterations (DDP's
/// `no_sync`) and are averaged once per step: the same weights as one
/// process with twice the batch and the same accumulation.
#[test]
fn accumulation_across_ranks_matches_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let accumulate = "[optim]\naccumulative_counts = 3\n";
    let one = job(dir, "one.toml", 32, 2, accumulate);
    run(hammer_command(dir).args(["train", one.to_str().unwrap(), "--work-dir", "one"]));
    let two = job(dir, "two.toml", 16, 2, accumulate);
    run(&mut launch(dir, 2, &["train", two.to_str().unwrap(), "--work-dir", "two"]));
    let diff = max_difference(&dir.join("one/epoch_2.safetensors"), &dir.join("two/epoch_2.safetensors"));
    assert!(diff <= 1e-5, "weights differ by {diff}");
}

#[test]
fn only_hooks_can_run_on_rank_zero_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = job(tmp.path(), "job.toml", 16, 1, "[[plugins]]\nname = \"accuracy\"\nrank_zero_only = true\n");
    let err = hammer_tests::hammer_err(tmp.path(), &["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    assert!(err.contains("plugins.0.rank_zero_only: `accuracy` is a metric; only hooks can run on rank 0 alone"), "{err}");
}

#[test]
fn torchrun_launches_hammer_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let one = job(dir, "one.toml", 32, 2, "");
    run(hammer_command(dir).args(["train", one.to_str().unwrap(), "--work-dir", "one"]));
    let two = job(dir, "two.toml", 16, 2, "");
    let port = free_port().to_string();
    let hammer = hammer_tests::hammer_bin();
    let out = run(Command::new(python())
        .current_dir(dir)
        .args(["-m", "torch.distributed.run", "--no-python", "--nproc-per-node", "2", "--master-port", &port])
        .arg(&hammer)
        .args(["train", two.to_str().unwrap(), "--work-dir", "two"]));
    assert!(stdout(&out).contains("Distributed: rank 0 of 2"), "{}", stdout(&out));
    let diff = max_difference(&dir.join("one/epoch_2.safetensors"), &dir.join("two/epoch_2.safetensors"));
    assert!(diff <= 1e-5, "weights differ by {diff}");
}

#[test]
fn a_distributed_job_resumes_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // Accumulation over 3 iterations: windows cross the epoch boundaries.
    let cfg = job(dir, "job.toml", 16, 3, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("lr = 0.01\n", "lr = 0.01\n[optim]\naccumulative_counts = 3\n");
    std::fs::write(&cfg, text).unwrap();
    let cfg = cfg.to_str().unwrap();
    run(&mut launch(dir, 2, &["train", cfg, "--work-dir", "straight"]));
    // From the end of epoch 2, inside an accumulation window (iteration 40
    // of windows of 3): each rank must resume with its own partial gradients.
    let from = dir.join("straight/epoch_2.safetensors");
    let from = format!("--resume={}", from.display());
    let out = run(&mut launch(dir, 2, &["train", cfg, "--work-dir", "resumed", &from]));
    assert!(stdout(&out).contains("Resumed from"), "{}", stdout(&out));
    let diff = max_difference(&dir.join("straight/epoch_3.safetensors"), &dir.join("resumed/epoch_3.safetensors"));
    assert_eq!(diff, 0.0, "a resumed distributed run must continue exactly");
    let saved: Vec<String> = std::fs::read_dir(dir.join("straight"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    assert_eq!(saved.len(), 3, "{saved:?}");
}

/// A plugin failing on one rank only, after an iteration, at the end of an
/// epoch or in its validation pass: the ranks agree on it, save that point
/// together and stop, all with an error; resumed without the plugin, the job
/// ends as if never stopped.
#[test]
fn a_plugin_failing_on_one_rank_is_checkpointed_by_all() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // 10 iterations per epoch (320 points, 2 ranks of 16).
    let plain = job(dir, "plain.toml", 16, 2, "");
    let plain = plain.to_str().unwrap();
    run(&mut launch(dir, 2, &["train", plain, "--work-dir", "straight"]));
    let failures = [
        ("after_train_iter", 12, 13),
        ("after_train_epoch", 0, 10),
        // Inside the first validation pass, before and after a batch's gathers, and at its end.
        ("before_val_iter", 0, 10),
        ("after_val_iter", 0, 10),
        ("after_val_epoch", 0, 10),
    ];
    for (at, from_iter, saved) in failures {
        let fail = format!(
            "[[plugins]]\npath = \"{}\"\noptions = {{ action = \"error\", at = \"{at}\", from_iter = {from_iter}, on_rank = 1 }}\n",
            guest("misbehave").display()
        );
        let failing = job(dir, &format!("failing_{at}.toml"), 16, 2, &fail);
        let work = format!("w_{at}");
        let out = launch(dir, 2, &["train", failing.to_str().unwrap(), "--work-dir", &work]).stdin(Stdio::null()).output().unwrap();
        assert!(!out.status.success());
        let err = stderr(&out);
        // Whichever rank the launcher shows, the plugin and the phase are named.
        let shown = err.lines().filter(|l| l.starts_with("error: ")).collect::<Vec<_>>().join("\n");
        assert!(shown.contains(&format!("plugin `misbehave` failed at `{at}`: it returned an error")), "{err}");
        let log = std::fs::read_to_string(dir.join(&work).join("hammer.log")).unwrap();
        assert!(log.contains(&format!("A plugin failed; saved iter_{saved}.safetensors before stopping")), "{at}: {log}");
        let out = run(&mut launch(dir, 2, &["train", plain, "--work-dir", &work, "--resume", "--relock"]));
        assert!(stdout(&out).contains(&format!("iter_{saved}.safetensors")), "{}", stdout(&out));
        let diff = max_difference(&dir.join("straight/epoch_2.safetensors"), &dir.join(&work).join("epoch_2.safetensors"));
        assert_eq!(diff, 0.0, "{at}: the resumed job's weights differ by {diff}");
    }
}

/// Starts rank `rank` of 2 by hand (torchrun's variables), with its own output files.
fn start_rank(dir: &Path, cfg: &Path, rank: usize, port: u16) -> Child {
    let out = std::fs::File::create(dir.join(format!("rank{rank}.out"))).unwrap();
    let err = std::fs::File::create(dir.join(format!("rank{rank}.err"))).unwrap();
    hammer_command(dir)
        .args(["train", cfg.to_str().unwrap(), "--work-dir", "w"])
        .envs([("RANK", rank.to_string()), ("WORLD_SIZE", "2".into()), ("MASTER_ADDR", "127.0.0.1".into()), ("MASTER_PORT", port.to_string())])
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap()
}

/// Waits (at most a minute) until rank 0 has logged a training line.
fn wait_for_training(dir: &Path) {
    let started = Instant::now();
    while !std::fs::read_to_string(dir.join("rank0.out")).unwrap_or_default().contains("Epoch(train) [1]") {
        assert!(started.elapsed() < Duration::from_secs(60), "the job did not start training");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for `child` to end, killing it after `limit`.
fn wait_at_most(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

/// A long job: 40 epochs of 20,000 points.
fn long_job(dir: &Path, timeout_s: u32) -> PathBuf {
    let cfg = job(dir, "long.toml", 16, 40, "");
    let text = std::fs::read_to_string(&cfg).unwrap().replace("size = 320,", "size = 20000,").replace("timeout = 30\n", &format!("timeout = {timeout_s}\n"));
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// The long job's two ranks, started by hand, once rank 0 trains.
fn two_training_ranks(dir: &Path, timeout_s: u32) -> (Child, Child) {
    let cfg = long_job(dir, timeout_s);
    let port = free_port();
    let ranks = (start_rank(dir, &cfg, 0, port), start_rank(dir, &cfg, 1, port));
    wait_for_training(dir);
    ranks
}

/// Sends `kill -<name>` to process `pid`.
fn signal(pid: u32, name: &str) {
    let ok = Command::new("kill").args([&format!("-{name}"), &pid.to_string()]).status().unwrap();
    assert!(ok.success());
}

/// Rank `rank`'s error output, once it has failed (within 45 s).
fn failure_of(child: &mut Child, dir: &Path, rank: usize) -> String {
    let status = wait_at_most(child, Duration::from_secs(45)).unwrap_or_else(|| panic!("rank {rank} did not end within the timeout"));
    assert!(!status.success());
    let err = std::fs::read_to_string(dir.join(format!("rank{rank}.err"))).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn a_killed_rank_ends_the_job_with_its_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rank0, mut rank1) = two_training_ranks(tmp.path(), 20);
    signal(rank1.id(), "KILL"); // mid-epoch
    rank1.wait().unwrap();
    let err = failure_of(&mut rank0, tmp.path(), 0);
    assert!(err.contains("rank 0 of 2") && err.contains("rank 1 has stopped"), "{err}");
}

#[test]
fn a_hung_rank_fails_the_others_within_the_timeout() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rank0, mut rank1) = two_training_ranks(tmp.path(), 3);
    // SIGSTOP: alive, but it never answers again.
    signal(rank1.id(), "STOP");
    let err = failure_of(&mut rank0, tmp.path(), 0);
    signal(rank1.id(), "KILL");
    let _ = rank1.wait();
    assert!(err.contains("rank 1 has stopped"), "{err}");
}

#[test]
fn a_dead_rank_zero_is_named_by_the_others() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut rank0, mut rank1) = two_training_ranks(tmp.path(), 20);
    signal(rank0.id(), "KILL");
    rank0.wait().unwrap();
    let err = failure_of(&mut rank1, tmp.path(), 1);
    assert!(err.contains("rank 1 of 2") && err.contains("rank 0, which serves it, has stopped"), "{err}");
}

/// The pid of `launch`'s worker of rank `rank`.
fn worker_pid(launch: &Child, rank: usize) -> u32 {
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", launch.id())).unwrap();
    children
        .split_whitespace()
        .map(|p| p.parse::<u32>().unwrap())
        .find(|p| {
            let env = std::fs::read(format!("/proc/{p}/environ")).unwrap_or_default();
            env.split(|&b| b == 0).any(|v| v == format!("RANK={rank}").as_bytes())
        })
        .expect("a worker of that rank")
}

#[test]
fn a_killed_worker_stops_hammer_launch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = long_job(dir, 20);
    let out = std::fs::File::create(dir.join("rank0.out")).unwrap();
    let err = std::fs::File::create(dir.join("launch.err")).unwrap();
    let mut job = launch(dir, 2, &["train", cfg.to_str().unwrap(), "--work-dir", "w"]).stdin(Stdio::null()).stdout(out).stderr(err).spawn().unwrap();
    wait_for_training(dir);
    let pid = worker_pid(&job, 1);
    signal(pid, "KILL");
    let status = wait_at_most(&mut job, Duration::from_secs(45)).expect("launch did not end");
    assert!(!status.success());
    let err = std::fs::read_to_string(dir.join("launch.err")).unwrap();
    assert!(err.contains(&format!("rank 1 (pid {pid}) was killed by signal 9")), "{err}");
    assert!(err.contains("the other ranks were stopped"), "{err}");
}

/// NCCL is compiled in and chosen for a CUDA model by the same code path;
/// with the GPUs hidden (`CUDA_VISIBLE_DEVICES=""`, so the outcome is the
/// same on a machine with one), PyTorch's ProcessGroupNCCL itself refuses.
#[test]
fn a_cuda_job_joins_with_nccl() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = job(tmp.path(), "job.toml", 16, 1, "");
    let out = launch(tmp.path(), 2, &["train", cfg.to_str().unwrap(), "--work-dir", "w", "--device", "cuda"])
        .env("CUDA_VISIBLE_DEVICES", "")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains("(nccl backend, timeout 30 s)"), "{err}");
    assert!(err.contains("ProcessGroupNCCL is only supported with GPUs, no GPUs found"), "{err}");
    assert!(!err.contains("frame #"), "no C++ backtrace: {err}");
}

/// libtorch's CUDA library loads on demand; with no device visible, a CUDA
/// run is refused before anything is written, naming the key.
#[test]
fn a_cuda_run_without_a_visible_gpu_is_refused_clearly() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = job(tmp.path(), "job.toml", 16, 1, "");
    let out = hammer_command(tmp.path())
        .args(["train", cfg.to_str().unwrap(), "--work-dir", "w", "--device", "cuda"])
        .env("CUDA_VISIBLE_DEVICES", "")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("env.device = \"cuda\"") && err.contains("0 CUDA device(s)"), "{err}");
}

#[test]
fn a_bad_rendezvous_fails_fast() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = job(dir, "job.toml", 16, 1, "");
    let started = Instant::now();
    let out = hammer_command(dir)
        .args(["train", cfg.to_str().unwrap(), "--work-dir", "w"])
        .envs([("RANK", "1"), ("WORLD_SIZE", "2"), ("MASTER_ADDR", "no-such-host.invalid"), ("MASTER_PORT", "29500")])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("MASTER_ADDR `no-such-host.invalid` does not resolve"), "{err}");
    let out = hammer_command(dir)
        .args(["train", cfg.to_str().unwrap(), "--work-dir", "w"])
        .envs([("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "99999")])
        .output()
        .unwrap();
    assert!(stderr(&out).contains("MASTER_PORT = `99999` is not a port"), "{}", stderr(&out));
    assert!(started.elapsed() < Duration::from_secs(20));
}
