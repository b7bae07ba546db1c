//! The compiled-component cache stays bounded: every rebuild of a plugin is
//! new content and a new compiled form (37 MB for a Python plugin), so a
//! developer iterating on one would otherwise fill the disk.
//!
//! Each use of a compiled form marks it (its modification time), and after a
//! compilation adds one, the least recently used forms are deleted until the
//! cache holds at most its limit: [`DEFAULT_LIMIT_MB`], or
//! `$HAMMER_CACHE_LIMIT_MB`. Leftovers of writes killed half-way are deleted
//! once an hour old. Deleting a form another process is loading is safe: a
//! form it has mapped stays readable, and one it cannot open any more it
//! compiles again.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// The cache's default limit, as wasmtime's own cache.
pub const DEFAULT_LIMIT_MB: u64 = 1024;

/// How old a half-written file must be before it counts as a leftover.
const STALE_WRITE: Duration = Duration::from_secs(3600);

/// The cache's limit in bytes: `$HAMMER_CACHE_LIMIT_MB`, else the default.
pub fn limit_bytes() -> u64 {
    let mb = std::env::var("HAMMER_CACHE_LIMIT_MB").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_LIMIT_MB);
    mb * 1024 * 1024
}

/// Marks a compiled form used now (best effort).
pub fn touch(file: &Path) {
    if let Ok(f) = std::fs::File::options().write(true).open(file) {
        let _ = f.set_modified(SystemTime::now());
    }
}

/// Deletes the least recently used compiled forms of `dir` (`*.cwasm`),
/// never `keep`, until they total at most `limit` bytes, and the leftovers
/// of killed writes; returns the files deleted (best effort: a file that
/// cannot be deleted is left).
pub fn prune(dir: &Path, limit: u64, keep: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let now = SystemTime::now();
    let mut forms = Vec::new();
    let mut deleted = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = entry.metadata() else { continue };
        let modified = meta.modified().unwrap_or(now);
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') && name.contains(".tmp-") {
            if now.duration_since(modified).unwrap_or_default() > STALE_WRITE && std::fs::remove_file(&path).is_ok() {
                deleted.push(path);
            }
        } else if name.ends_with(".cwasm") && meta.is_file() {
            forms.push((modified, meta.len(), path));
        }
    }
    let mut total: u64 = forms.iter().map(|(_, len, _)| len).sum();
    forms.sort_by_key(|(modified, _, _)| *modified);
    for (_, len, path) in forms {
        if total <= limit {
            break;
        }
        if path != keep && std::fs::remove_file(&path).is_ok() {
            total -= len;
            deleted.push(path);
        }
    }
    deleted
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file of `len` bytes last modified `age` ago.
    fn file(dir: &Path, name: &str, len: usize, age: Duration) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, vec![0u8; len]).unwrap();
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(SystemTime::now() - age).unwrap();
        path
    }

    fn names(paths: &[PathBuf]) -> Vec<String> {
        let mut n: Vec<String> = paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        n.sort();
        n
    }

    #[test]
    fn the_least_recently_used_forms_go_first_and_the_new_one_stays() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let min = Duration::from_secs(60);
        file(d, "a.cwasm", 100, 5 * min);
        file(d, "b.cwasm", 100, 3 * min);
        let c = file(d, "c.cwasm", 100, 4 * min);
        let new = file(d, "new.cwasm", 100, 10 * min); // just written, with an old clock: kept anyway
        file(d, "notes.txt", 1000, 10 * min);
        // c used just now: the oldest are then `a`, then `b`.
        touch(&c);
        let deleted = prune(d, 250, &new);
        assert_eq!(names(&deleted), ["a.cwasm", "b.cwasm"]);
        assert!(d.join("c.cwasm").exists() && new.exists() && d.join("notes.txt").exists());
        assert!(prune(d, 250, &new).is_empty(), "under the limit, nothing goes");
    }

    #[test]
    fn stale_leftovers_of_killed_writes_go_and_fresh_ones_stay() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        file(d, ".x.cwasm.tmp-123", 10, STALE_WRITE + Duration::from_secs(60));
        file(d, ".y.cwasm.tmp-456", 10, Duration::from_secs(1));
        let deleted = prune(d, u64::MAX, Path::new(""));
        assert_eq!(names(&deleted), [".x.cwasm.tmp-123"]);
        assert!(d.join(".y.cwasm.tmp-456").exists(), "a write in progress is left alone");
    }

    #[test]
    fn a_missing_directory_prunes_nothing() {
        assert!(prune(Path::new("/nonexistent/hammer-cache"), 0, Path::new("")).is_empty());
    }
}
