//! `hammer launch`: starts the worker processes of one node of a
//! distributed job, as torchrun does, and watches them.
//!
//! Each worker is `hammer <args>` with torchrun's variables set (`RANK`,
//! `LOCAL_RANK`, `WORLD_SIZE`, `LOCAL_WORLD_SIZE`, `MASTER_ADDR`,
//! `MASTER_PORT`, `GROUP_RANK`). Rank 0's output is passed through; the other
//! ranks' lines are prefixed with `[rank N]`. When a worker fails, the others
//! are stopped (SIGTERM, then SIGKILL after a grace period), its last lines
//! of error output are shown again, and `launch` exits with its code.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Lines of a failed worker's error output shown again at the end.
const TAIL_LINES: usize = 20;
/// How long stopped workers get to exit after SIGTERM.
const GRACE: Duration = Duration::from_secs(5);

/// Where this node's workers stand in the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaunchPlan {
    /// Workers on this node.
    pub nproc_per_node: usize,
    /// Nodes in the job.
    pub nnodes: usize,
    /// This node's index, `0..nnodes`.
    pub node_rank: usize,
    /// Host of rank 0 (on node 0).
    pub master_addr: String,
    /// Port of the rendezvous store.
    pub master_port: u16,
}

impl LaunchPlan {
    /// The environment of local worker `local_rank`.
    pub fn worker_env(&self, local_rank: usize) -> Vec<(&'static str, String)> {
        vec![
            ("RANK", (self.node_rank * self.nproc_per_node + local_rank).to_string()),
            ("LOCAL_RANK", local_rank.to_string()),
            ("WORLD_SIZE", (self.nnodes * self.nproc_per_node).to_string()),
            ("LOCAL_WORLD_SIZE", self.nproc_per_node.to_string()),
            ("GROUP_RANK", self.node_rank.to_string()),
            ("MASTER_ADDR", self.master_addr.clone()),
            ("MASTER_PORT", self.master_port.to_string()),
        ]
    }

    fn check(&self) -> Result<()> {
        if self.nproc_per_node == 0 || self.nnodes == 0 {
            bail!("--nproc-per-node and --nnodes must be at least 1");
        }
        if self.node_rank >= self.nnodes {
            bail!("--node-rank {} is outside --nnodes {}", self.node_rank, self.nnodes);
        }
        if self.master_port == 0 {
            bail!("--master-port must be a port (1 to 65535)");
        }
        Ok(())
    }
}

/// One running worker.
struct Worker {
    rank: usize,
    child: Child,
    /// Its last lines of error output.
    tail: Arc<Mutex<VecDeque<String>>>,
    forwarders: Vec<std::thread::JoinHandle<()>>,
}

/// Copies `from` line by line to our stdout or stderr, prefixed, keeping the
/// last lines in `tail` when asked.
fn forward(from: impl Read + Send + 'static, prefix: String, to_stderr: bool, tail: Option<Arc<Mutex<VecDeque<String>>>>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            if to_stderr {
                let _ = writeln!(std::io::stderr().lock(), "{prefix}{line}");
            } else {
                let _ = writeln!(std::io::stdout().lock(), "{prefix}{line}");
            }
            if let Some(tail) = &tail {
                let mut tail = tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if tail.len() == TAIL_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        }
    })
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with code {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        _ => "ended".into(),
    }
}

/// Runs `program args...` as this node's workers until all succeed (Ok)
/// or one fails (Err naming it, after the others were stopped).
///
/// # Errors
/// A worker that cannot be started or that fails; the error says which
/// rank, how, and repeats its last lines of error output.
pub fn launch(plan: &LaunchPlan, program: &std::path::Path, args: &[String]) -> Result<()> {
    plan.check()?;
    let mut workers = Vec::with_capacity(plan.nproc_per_node);
    for local_rank in 0..plan.nproc_per_node {
        let env = plan.worker_env(local_rank);
        let rank: usize = env[0].1.parse().expect("a number");
        let mut cmd = Command::new(program);
        cmd.args(args).envs(env).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        // Its own process group, so that stopping it stops what it started.
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; a worker must not outlive its launcher.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().with_context(|| format!("cannot start rank {rank}: `{}`", program.display()))?;
        let prefix = if rank == 0 { String::new() } else { format!("[rank {rank}] ") };
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let forwarders = vec![
            forward(child.stdout.take().expect("piped"), prefix.clone(), false, None),
            forward(child.stderr.take().expect("piped"), prefix, true, Some(Arc::clone(&tail))),
        ];
        workers.push(Worker { rank, child, tail, forwarders });
    }
    let failure = watch(&mut workers);
    for w in &mut workers {
        for f in w.forwarders.drain(..) {
            let _ = f.join();
        }
    }
    match failure {
        None => Ok(()),
        Some((i, status)) => {
            let w = &workers[i];
            let tail: Vec<String> = w.tail.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().cloned().collect();
            let mut message = format!("rank {} (pid {}) {}; the other ranks were stopped", w.rank, w.child.id(), describe(status));
            if !tail.is_empty() {
                message.push_str(&format!("\nits last lines of error output:\n  {}", tail.join("\n  ")));
            }
            Err(anyhow::anyhow!(message))
        }
    }
}

/// Waits for the workers; at the first failure stops the others and
/// returns the failed worker's index and status.
fn watch(workers: &mut [Worker]) -> Option<(usize, ExitStatus)> {
    let mut running: Vec<bool> = vec![true; workers.len()];
    loop {
        for (i, w) in workers.iter_mut().enumerate() {
            if !running[i] {
                continue;
            }
            match w.child.try_wait() {
                Ok(Some(status)) if status.success() => running[i] = false,
                Ok(Some(status)) => {
                    running[i] = false;
                    stop(workers, &running);
                    return Some((i, status));
                }
                Ok(None) => {}
                Err(_) => running[i] = false,
            }
        }
        if running.iter().all(|r| !r) {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM to the workers still running, SIGKILL to those alive after the grace period.
fn stop(workers: &mut [Worker], running: &[bool]) {
    for (w, _) in workers.iter().zip(running).filter(|(_, r)| **r) {
        // SAFETY: signalling our own child's process group.
        unsafe { libc::kill(-(w.child.id() as libc::pid_t), libc::SIGTERM) };
    }
    let deadline = Instant::now() + GRACE;
    for (w, _) in workers.iter_mut().zip(running).filter(|(_, r)| **r) {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = w.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Ok(None) = w.child.try_wait() {
            // SAFETY: as above.
            unsafe { libc::kill(-(w.child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = w.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_get_torchruns_variables() {
        let plan = LaunchPlan { nproc_per_node: 4, nnodes: 2, node_rank: 1, master_addr: "h".into(), master_port: 29500 };
        let env = plan.worker_env(2);
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("RANK"), Some("6"));
        assert_eq!(get("LOCAL_RANK"), Some("2"));
        assert_eq!(get("WORLD_SIZE"), Some("8"));
        assert_eq!(get("LOCAL_WORLD_SIZE"), Some("4"));
        assert_eq!(get("MASTER_ADDR"), Some("h"));
        assert_eq!(get("MASTER_PORT"), Some("29500"));
        // What the workers read back is what launch meant.
        let placement = super::super::Placement::from_env(super::super::Launcher::Pytorch, |k| get(k).map(str::to_string)).unwrap().unwrap();
        assert_eq!((placement.rank, placement.world_size, placement.local_rank), (6, 8, 2));
    }

    #[test]
    fn bad_plans_are_refused() {
        let plan = LaunchPlan { nproc_per_node: 2, nnodes: 1, node_rank: 1, master_addr: "h".into(), master_port: 1 };
        assert!(plan.check().unwrap_err().to_string().contains("--node-rank 1 is outside --nnodes 1"));
    }

    #[test]
    fn a_failing_worker_stops_the_others() {
        // rank 1 fails at once; rank 0 would sleep for a minute.
        let plan = LaunchPlan { nproc_per_node: 2, nnodes: 1, node_rank: 0, master_addr: "h".into(), master_port: 1 };
        let script = "if [ \"$RANK\" = 1 ]; then echo boom >&2; exit 3; fi; sleep 60";
        let started = Instant::now();
        let err = launch(&plan, std::path::Path::new("/bin/sh"), &["-c".into(), script.into()]).unwrap_err();
        let message = format!("{err:#}");
        assert!(message.contains("rank 1 (pid") && message.contains("exited with code 3"), "{message}");
        assert!(message.contains("boom"), "{message}");
        // Rank 0 (and its `sleep`) was stopped rather than waited for.
        assert!(started.elapsed() < Duration::from_secs(50), "rank 0 was not stopped");
    }
}
