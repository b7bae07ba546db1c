//! Where this process stands in a distributed job, read from the environment
//! its launcher set: torchrun's variables (`hammer launch` sets the same) or
//! Slurm's, mapped as MMEngine's slurm launcher maps them.

use anyhow::{bail, Context, Result};

/// torchrun's default rendezvous port, also used for Slurm without `MASTER_PORT`.
pub const DEFAULT_PORT: u16 = 29500;

/// This process's place in the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// Global rank, `0..world_size`.
    pub rank: usize,
    /// Number of processes in the job.
    pub world_size: usize,
    /// Rank among the processes of this node (the GPU it should use).
    pub local_rank: usize,
    /// Number of processes on this node.
    pub local_world_size: usize,
    /// Host of rank 0, which serves the rendezvous store.
    pub master_addr: String,
    /// Port of the rendezvous store.
    pub master_port: u16,
    /// The launcher serves the store itself (torchrun's agent sets
    /// `TORCHELASTIC_USE_AGENT_STORE=True`): rank 0 connects to it as a
    /// client instead of serving one.
    pub agent_store: bool,
}

/// How the job was launched (`--launcher`, as MMEngine's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    /// One process, whatever the environment says.
    None,
    /// torchrun's variables (`RANK`, `WORLD_SIZE`, ...): `hammer launch`,
    /// `torchrun --no-python`.
    Pytorch,
    /// Slurm's variables (`SLURM_PROCID`, ...), under `srun`.
    Slurm,
    /// `pytorch` when `WORLD_SIZE` is set, else `none`.
    Auto,
}

impl Launcher {
    /// Parses `none`, `pytorch`, `slurm` or `auto`.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "none" => Self::None,
            "pytorch" => Self::Pytorch,
            "slurm" => Self::Slurm,
            "auto" => Self::Auto,
            other => bail!("unknown launcher `{other}` (none, pytorch, slurm, auto)"),
        })
    }
}

impl Placement {
    /// The placement `launcher` describes through `var` (the process
    /// environment, or a map in tests); `None` for a single process.
    ///
    /// # Errors
    /// A variable that is missing or not a number, a rank outside the
    /// world, or a port that is not one.
    pub fn from_env(launcher: Launcher, var: impl Fn(&str) -> Option<String>) -> Result<Option<Self>> {
        match launcher {
            Launcher::None => Ok(None),
            Launcher::Auto if var("WORLD_SIZE").is_none() => Ok(None),
            Launcher::Auto | Launcher::Pytorch => Self::torchrun(&var).map(Some),
            Launcher::Slurm => Self::slurm(&var).map(Some),
        }
    }

    fn torchrun(var: &impl Fn(&str) -> Option<String>) -> Result<Self> {
        let world_size = number(var, "WORLD_SIZE")?;
        let rank = number(var, "RANK")?;
        let local_rank = optional_number(var, "LOCAL_RANK")?.unwrap_or(rank);
        let local_world_size = optional_number(var, "LOCAL_WORLD_SIZE")?.unwrap_or(world_size);
        let master_addr = var("MASTER_ADDR").unwrap_or_else(|| "127.0.0.1".into());
        let master_port = port(var("MASTER_PORT").as_deref())?.unwrap_or(DEFAULT_PORT);
        let agent_store = var("TORCHELASTIC_USE_AGENT_STORE").is_some_and(|v| v.eq_ignore_ascii_case("true"));
        Self { rank, world_size, local_rank, local_world_size, master_addr, master_port, agent_store }.checked()
    }

    /// As MMEngine's `_init_dist_slurm`: rank `SLURM_PROCID` of
    /// `SLURM_NTASKS`, the first host of `SLURM_NODELIST` as master unless
    /// `MASTER_ADDR` is set, `MASTER_PORT` or 29500.
    fn slurm(var: &impl Fn(&str) -> Option<String>) -> Result<Self> {
        let rank = number(var, "SLURM_PROCID")?;
        let world_size = number(var, "SLURM_NTASKS")?;
        let nodes = optional_number(var, "SLURM_NNODES")?.unwrap_or(1).max(1);
        let local_rank = optional_number(var, "SLURM_LOCALID")?.unwrap_or(rank % world_size.div_ceil(nodes));
        let local_world_size = match var("SLURM_NTASKS_PER_NODE") {
            Some(v) => leading_number(&v).with_context(|| format!("SLURM_NTASKS_PER_NODE = `{v}` is not a number"))?,
            None => world_size.div_ceil(nodes),
        };
        let master_addr = match var("MASTER_ADDR") {
            Some(addr) => addr,
            None => {
                let list = var("SLURM_NODELIST")
                    .or_else(|| var("SLURM_JOB_NODELIST"))
                    .context("SLURM_NODELIST is not set (is this running under srun?)")?;
                first_host(&list).with_context(|| format!("SLURM_NODELIST = `{list}` names no host"))?
            }
        };
        let master_port = port(var("MASTER_PORT").as_deref())?.unwrap_or(DEFAULT_PORT);
        Self { rank, world_size, local_rank, local_world_size, master_addr, master_port, agent_store: false }.checked()
    }

    fn checked(self) -> Result<Self> {
        if self.world_size == 0 {
            bail!("the world size is 0");
        }
        if self.rank >= self.world_size {
            bail!("rank {} is outside a world of {} process(es)", self.rank, self.world_size);
        }
        if self.local_rank >= self.local_world_size.max(1) {
            bail!("local rank {} is outside a node of {} process(es)", self.local_rank, self.local_world_size);
        }
        Ok(self)
    }
}

fn number(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<usize> {
    optional_number(var, name)?.with_context(|| format!("{name} is not set"))
}

fn optional_number(var: &impl Fn(&str) -> Option<String>, name: &str) -> Result<Option<usize>> {
    var(name)
        .map(|v| v.trim().parse::<usize>().with_context(|| format!("{name} = `{v}` is not a non-negative integer")))
        .transpose()
}

/// `"4(x2)"` (Slurm's per-node counts) → 4.
fn leading_number(v: &str) -> Option<usize> {
    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A port number: 1..=65535.
fn port(v: Option<&str>) -> Result<Option<u16>> {
    let Some(v) = v else { return Ok(None) };
    match v.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(Some(p)),
        _ => bail!("MASTER_PORT = `{v}` is not a port (1 to 65535)"),
    }
}

/// The first host of a Slurm node list, as `scontrol show hostnames | head -n1`:
/// `gpu[003-005,009],cpu01` → `gpu003`.
pub fn first_host(list: &str) -> Option<String> {
    let list = list.trim();
    let end = list.find([',', '[']).unwrap_or(list.len());
    let prefix = &list[..end];
    if list[end..].starts_with('[') {
        let inner = &list[end + 1..list[end..].find(']').map(|i| end + i)?];
        let first = inner.split([',', '-']).next()?;
        Some(format!("{prefix}{first}"))
    } else if prefix.is_empty() {
        None
    } else {
        Some(prefix.to_string())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn torchrun_variables_are_read() {
        let e = env(&[
            ("RANK", "3"),
            ("WORLD_SIZE", "4"),
            ("LOCAL_RANK", "1"),
            ("LOCAL_WORLD_SIZE", "2"),
            ("MASTER_ADDR", "10.0.0.7"),
            ("MASTER_PORT", "29600"),
        ]);
        let p = Placement::from_env(Launcher::Auto, &e).unwrap().unwrap();
        assert_eq!(
            p,
            Placement { rank: 3, world_size: 4, local_rank: 1, local_world_size: 2, master_addr: "10.0.0.7".into(), master_port: 29600, agent_store: false }
        );
        assert_eq!(Placement::from_env(Launcher::Pytorch, &e).unwrap(), Some(p));
        assert_eq!(Placement::from_env(Launcher::None, &e).unwrap(), None);
    }

    #[test]
    fn torchruns_agent_store_is_used_when_it_says_so() {
        let e = env(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("TORCHELASTIC_USE_AGENT_STORE", "True")]);
        assert!(Placement::from_env(Launcher::Auto, &e).unwrap().unwrap().agent_store);
        let e = env(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("TORCHELASTIC_USE_AGENT_STORE", "False")]);
        assert!(!Placement::from_env(Launcher::Auto, &e).unwrap().unwrap().agent_store);
    }

    #[test]
    fn no_torchrun_variables_is_one_process_under_auto_only() {
        assert_eq!(Placement::from_env(Launcher::Auto, env(&[])).unwrap(), None);
        let err = Placement::from_env(Launcher::Pytorch, env(&[])).unwrap_err();
        assert!(err.to_string().contains("WORLD_SIZE is not set"), "{err}");
    }

    #[test]
    fn torchrun_defaults_and_bad_values() {
        let p = Placement::from_env(Launcher::Pytorch, env(&[("RANK", "1"), ("WORLD_SIZE", "2")])).unwrap().unwrap();
        assert_eq!((p.local_rank, p.local_world_size, p.master_addr.as_str(), p.master_port), (1, 2, "127.0.0.1", DEFAULT_PORT));
        let bad = |pairs: &[(&str, &str)]| Placement::from_env(Launcher::Pytorch, env(pairs)).unwrap_err().to_string();
        assert!(bad(&[("RANK", "2"), ("WORLD_SIZE", "2")]).contains("rank 2 is outside a world of 2"));
        assert!(bad(&[("RANK", "x"), ("WORLD_SIZE", "2")]).contains("RANK = `x`"));
        assert!(bad(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "70000")]).contains("MASTER_PORT = `70000` is not a port"));
        assert!(bad(&[("RANK", "0"), ("WORLD_SIZE", "2"), ("MASTER_PORT", "0")]).contains("is not a port"));
    }

    #[test]
    fn slurm_variables_map_as_mmengine_does() {
        let e = env(&[
            ("SLURM_PROCID", "5"),
            ("SLURM_NTASKS", "8"),
            ("SLURM_NNODES", "2"),
            ("SLURM_LOCALID", "1"),
            ("SLURM_NTASKS_PER_NODE", "4"),
            ("SLURM_NODELIST", "gpu[003-004]"),
        ]);
        let p = Placement::from_env(Launcher::Slurm, &e).unwrap().unwrap();
        assert_eq!(
            p,
            Placement { rank: 5, world_size: 8, local_rank: 1, local_world_size: 4, master_addr: "gpu003".into(), master_port: DEFAULT_PORT, agent_store: false }
        );
        // MASTER_ADDR and MASTER_PORT win; per-node counts like `4(x2)`.
        let e = env(&[
            ("SLURM_PROCID", "0"),
            ("SLURM_NTASKS", "8"),
            ("SLURM_NNODES", "2"),
            ("SLURM_TASKS_PER_NODE", "4(x2)"),
            ("SLURM_NTASKS_PER_NODE", "4(x2)"),
            ("SLURM_NODELIST", "a01,a02"),
            ("MASTER_ADDR", "head"),
            ("MASTER_PORT", "12345"),
        ]);
        let p = Placement::from_env(Launcher::Slurm, &e).unwrap().unwrap();
        assert_eq!((p.local_rank, p.local_world_size, p.master_addr.as_str(), p.master_port), (0, 4, "head", 12345));
        // Slurm is never guessed: `auto` reads torchrun's variables only.
        assert_eq!(Placement::from_env(Launcher::Auto, &e).unwrap(), None);
        let err = Placement::from_env(Launcher::Slurm, env(&[("SLURM_PROCID", "0"), ("SLURM_NTASKS", "2")])).unwrap_err();
        assert!(err.to_string().contains("SLURM_NODELIST is not set"), "{err}");
    }

    #[test]
    fn first_host_of_a_node_list() {
        assert_eq!(first_host("gpu[003-005,009],cpu01").as_deref(), Some("gpu003"));
        assert_eq!(first_host("node7").as_deref(), Some("node7"));
        assert_eq!(first_host("a01,a02").as_deref(), Some("a01"));
        assert_eq!(first_host("n[12,15]").as_deref(), Some("n12"));
        assert_eq!(first_host(""), None);
    }

    #[test]
    fn launcher_names() {
        assert_eq!(Launcher::parse("slurm").unwrap(), Launcher::Slurm);
        assert!(Launcher::parse("mpi").unwrap_err().to_string().contains("none, pytorch, slurm, auto"));
    }
}
