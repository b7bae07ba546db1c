//! The sha256 of a component file, remembered by the file's identity so that
//! a start does not hash an unchanged file again (a Python plugin's
//! component is ~18 MB: reading and hashing it cost ~25 ms of every start).
//!
//! A file's identity is its device, inode, size, modification time and
//! change time. Every write changes the change time, which no program can
//! set back (only the clock can), so an unchanged identity means unchanged
//! content — except for a write within the same timestamp tick as the one
//! the digest was taken after. As git does for its index, a digest is
//! trusted only when it was taken [`SETTLED`] after the file's last change;
//! a file changed more recently is hashed again.
//!
//! The memo lives beside the compiled-component cache
//! (`$HAMMER_HOME/cache/digests`), which is trusted already: it holds the
//! native code plugins run as. A memo that cannot be read or written only
//! costs a hash.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};

use crate::bundle::sha256_hex;

/// How long after a file's last change a digest must have been taken to be trusted.
pub const SETTLED: Duration = Duration::from_secs(2);

/// Digests of files, remembered in a directory (none: always hashed).
#[derive(Debug, Clone)]
pub struct Digests {
    dir: Option<PathBuf>,
}

/// A file's digest, and its bytes when they had to be read for it.
#[derive(Debug)]
pub struct Digest {
    /// sha256, hex.
    pub sha256: String,
    /// The file's content, when it was read (the memo did not know it).
    pub bytes: Option<Vec<u8>>,
}

/// What changes whenever a file's content can have changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

impl Identity {
    fn of(meta: &Metadata) -> Self {
        let ns = |s: i64, n: i64| i128::from(s) * 1_000_000_000 + i128::from(n);
        Self {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The file's last change (content or metadata).
    fn changed_ns(self) -> i128 {
        self.mtime_ns.max(self.ctime_ns)
    }
}

impl Digests {
    /// The memo in `dir`; `None` remembers nothing.
    pub fn at(dir: Option<PathBuf>) -> Self {
        Self { dir }
    }

    /// The memo of the hammer home `root` (`$HAMMER_HOME`): `<root>/cache/digests`.
    pub fn of_home(root: &Path) -> Self {
        Self::at(Some(root.join("cache").join("digests")))
    }

    /// The sha256 of the file at `path`: remembered, when the file has not
    /// changed since it was hashed, else hashed now (and remembered).
    ///
    /// # Errors
    /// The file cannot be read.
    pub fn of(&self, path: &Path) -> Result<Digest> {
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let identity = Identity::of(&meta);
        let entry = self.entry(path);
        if let Some(sha256) = entry.as_deref().and_then(|e| remembered(e, identity)) {
            return Ok(Digest { sha256, bytes: None });
        }
        let taken_ns = now_ns();
        let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
        let sha256 = sha256_hex(&bytes);
        // Remember only what was read from the file as it was stat'ed, and settled.
        let settled = taken_ns - identity.changed_ns() >= SETTLED.as_nanos() as i128;
        let unchanged = std::fs::metadata(path).is_ok_and(|m| Identity::of(&m) == identity);
        if let Some(entry) = entry.filter(|_| settled && unchanged) {
            let _ = write(&entry, identity, &sha256);
        }
        Ok(Digest { sha256, bytes: Some(bytes) })
    }

    /// The memo file for `path`: named by the sha256 of its absolute path.
    fn entry(&self, path: &Path) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let absolute = std::fs::canonicalize(path).ok()?;
        Some(dir.join(&sha256_hex(absolute.as_os_str().as_encoded_bytes())[..32]))
    }
}

/// The digest an entry remembers, if it is for this identity (entries are
/// written only for files that had settled when they were hashed).
fn remembered(entry: &Path, identity: Identity) -> Option<String> {
    let text = std::fs::read_to_string(entry).ok()?;
    let fields: Vec<&str> = text.split_whitespace().collect();
    let ["v1", dev, ino, size, mtime, ctime, sha256] = fields[..] else { return None };
    let recorded = Identity {
        dev: dev.parse().ok()?,
        ino: ino.parse().ok()?,
        size: size.parse().ok()?,
        mtime_ns: mtime.parse().ok()?,
        ctime_ns: ctime.parse().ok()?,
    };
    (recorded == identity && sha256.len() == 64).then(|| sha256.to_string())
}

fn write(entry: &Path, id: Identity, sha256: &str) -> Result<()> {
    std::fs::create_dir_all(entry.parent().context("an entry has a directory")?)?;
    let line = format!("v1 {} {} {} {} {} {sha256}\n", id.dev, id.ino, id.size, id.mtime_ns, id.ctime_ns);
    crate::checkpoint::atomic::write_atomic(entry, line.as_bytes())
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(bytes: &[u8]) -> String {
        sha256_hex(bytes)
    }

    #[test]
    fn a_settled_unchanged_file_is_not_read_again() {
        let tmp = tempfile::tempdir().unwrap();
        let digests = Digests::at(Some(tmp.path().join("memo")));
        let file = tmp.path().join("plugin.wasm");
        std::fs::write(&file, b"component").unwrap();
        let fresh = digests.of(&file).unwrap();
        assert_eq!(fresh.sha256, sha(b"component"));
        assert!(fresh.bytes.is_some(), "the first look reads the file");
        assert!(digests.of(&file).unwrap().bytes.is_some(), "a file changed less than SETTLED ago is hashed again");
        std::thread::sleep(SETTLED + Duration::from_millis(100));
        assert!(digests.of(&file).unwrap().bytes.is_some(), "the look that finds it settled reads and remembers it");
        let remembered = digests.of(&file).unwrap();
        assert_eq!(remembered.sha256, sha(b"component"));
        assert!(remembered.bytes.is_none(), "a settled, unchanged file is not read again");
    }

    #[test]
    fn any_write_is_seen_even_one_that_keeps_size_and_mtime() {
        let tmp = tempfile::tempdir().unwrap();
        let digests = Digests::at(Some(tmp.path().join("memo")));
        let file = tmp.path().join("plugin.wasm");
        std::fs::write(&file, b"aaaa").unwrap();
        std::thread::sleep(SETTLED + Duration::from_millis(100));
        digests.of(&file).unwrap();
        assert!(digests.of(&file).unwrap().bytes.is_none());
        // Same size, modification time put back: the change time still moves.
        let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
        std::fs::write(&file, b"bbbb").unwrap();
        std::fs::File::options().write(true).open(&file).unwrap().set_modified(mtime).unwrap();
        let after = digests.of(&file).unwrap();
        assert_eq!(after.sha256, sha(b"bbbb"));
        assert!(after.bytes.is_some());
    }

    #[test]
    fn without_a_memo_or_with_a_damaged_one_the_file_is_hashed() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("plugin.wasm");
        std::fs::write(&file, b"x").unwrap();
        let none = Digests::at(None).of(&file).unwrap();
        assert_eq!(none.sha256, sha(b"x"));
        assert!(none.bytes.is_some());
        let memo = tmp.path().join("memo");
        let digests = Digests::at(Some(memo.clone()));
        std::fs::create_dir_all(&memo).unwrap();
        let entry = digests.entry(&file).unwrap();
        std::fs::write(&entry, "v1 garbage").unwrap();
        assert_eq!(digests.of(&file).unwrap().sha256, sha(b"x"));
        let missing = Digests::at(Some(memo)).of(&tmp.path().join("absent.wasm"));
        assert!(format!("{:#}", missing.unwrap_err()).contains("absent.wasm"));
    }
}
