//! Heartbeats through the rendezvous store, to tell which rank stopped when
//! a collective fails: each rank bumps its counter `heartbeat/<rank>` every
//! second from a thread of its own; after a failure, the counters that do
//! not move name the ranks that died or hung.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Group;

/// How often a rank beats.
const PERIOD: Duration = Duration::from_millis(500);

/// A rank's heartbeat thread; stops when dropped.
#[derive(Debug)]
pub struct Watchdog {
    group: Arc<Group>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn key(rank: usize) -> String {
    format!("heartbeat/{rank}")
}

impl Watchdog {
    /// Starts beating for `group`'s rank.
    pub fn start(group: Arc<Group>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (group, stop) = (Arc::clone(&group), Arc::clone(&stop));
            std::thread::Builder::new()
                .name("hammer-heartbeat".into())
                .spawn(move || {
                    let key = key(group.rank());
                    while !stop.load(Ordering::Relaxed) {
                        // The store's host (rank 0) may be gone at the end
                        // of a run or in a failure: the diagnosis tells.
                        if group.store_add(&key, 1).is_err() {
                            return;
                        }
                        std::thread::sleep(PERIOD);
                    }
                })
                .ok()
        };
        Self { group, stop, thread }
    }

    /// Every rank's heartbeat count, or `None` when the store does not
    /// answer within a few periods (its host, rank 0, died or hung).
    fn read(&self) -> Option<Vec<i64>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let group = Arc::clone(&self.group);
        std::thread::spawn(move || {
            let counts: Option<Vec<i64>> = (0..group.world_size()).map(|r| group.store_add(&key(r), 0).ok()).collect();
            let _ = tx.send(counts);
        });
        rx.recv_timeout(PERIOD * 6).ok().flatten()
    }

    /// Which ranks stopped beating over a few periods, as a sentence.
    pub fn diagnose(&self) -> String {
        let world = self.group.world_size();
        let gone = "the rendezvous store does not answer: rank 0, which serves it, has stopped";
        let Some(before) = self.read() else { return gone.into() };
        std::thread::sleep(PERIOD * 5);
        let Some(after) = self.read() else { return gone.into() };
        let stopped: Vec<String> = (0..world).filter(|&r| after[r] == before[r]).map(|r| r.to_string()).collect();
        match stopped.len() {
            0 => "every rank is still alive: one of them is hung or slower than env.dist_cfg.timeout".into(),
            1 => format!("rank {} has stopped (no heartbeat for {:.1} s): it died or hung", stopped[0], (PERIOD * 5).as_secs_f64()),
            _ => format!("ranks {} have stopped (no heartbeat for {:.1} s)", stopped.join(", "), (PERIOD * 5).as_secs_f64()),
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        // Not joined: a beat may be blocked on a store that is gone.
        self.stop.store(true, Ordering::Relaxed);
        drop(self.thread.take());
    }
}
