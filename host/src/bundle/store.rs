//! The plugin store: installed bundles under `$HAMMER_HOME/store`, laid out
//! as `<name>/<version>/{manifest.toml, component.wasm}`.
//!
//! Writes are atomic at the level of a version directory: an install stages
//! both files in `store/.tmp-*`, syncs them, then renames the directory into
//! place, so a reader sees a version completely or not at all, and an
//! install killed half-way leaves only a `.tmp-*` directory, which every
//! reader ignores and later installs delete once it is
//! [`STALE_AFTER`] old. Concurrent installs of the same bundle all succeed
//! (one rename wins; the others find identical content). Replacing a
//! version (`force`) renames the old directory aside, then the new one in:
//! a reader in between, or a kill in between, finds that version missing,
//! never mixed.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Context, Result};
use semver::{Version, VersionReq};

use super::archive::{Bundle, COMPONENT_ENTRY, MANIFEST_ENTRY};
use super::digest::Digests;
use super::manifest::{self, check_name, interface_compatible, Manifest};

/// How old a `.tmp-*` directory must be before an install deletes it as the
/// leftover of a killed install.
pub const STALE_AFTER: Duration = Duration::from_secs(600);

const TMP_PREFIX: &str = ".tmp-";
const TRIES: usize = 16;

/// The store of installed plugin bundles under a root (`$HAMMER_HOME`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// One installed version of a plugin.
#[derive(Debug, Clone)]
pub struct Installed {
    /// Its manifest (seal checked when it was read).
    pub manifest: Manifest,
    /// Its directory: `<root>/store/<name>/<version>`.
    pub path: PathBuf,
    /// The manifest's seal, which identifies the bundle's whole content.
    pub digest: String,
}

impl Installed {
    /// `<path>/component.wasm`.
    pub fn component_path(&self) -> PathBuf {
        self.path.join(COMPONENT_ENTRY)
    }

    /// `<path>/manifest.toml`.
    pub fn manifest_path(&self) -> PathBuf {
        self.path.join(MANIFEST_ENTRY)
    }

    /// Reads both files back and verifies them (seal and component hash).
    ///
    /// # Errors
    /// A file cannot be read, or the content is damaged.
    pub fn load(&self) -> Result<Bundle> {
        read_version_dir(&self.path)
    }
}

/// What an install did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The version was not installed; now it is.
    Installed,
    /// The same content was installed already; nothing changed.
    AlreadyInstalled,
    /// Different content was installed under that version and was replaced (`force`).
    Replaced,
    /// The installed copy of this same bundle was damaged and was replaced.
    Repaired,
}

/// The result of [`Store::install`].
#[derive(Debug, Clone)]
pub struct Install {
    /// The installed version.
    pub installed: Installed,
    /// What the install did.
    pub outcome: Outcome,
}

/// Something wrong in the store, found by [`Store::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}`: {}", self.path.display(), self.message)
    }
}

/// Why [`Store::resolve`] found no version to run.
#[derive(Debug)]
pub enum ResolveError {
    /// No version of the plugin is installed.
    NotInstalled {
        /// The plugin.
        name: String,
        /// The store's directory.
        store: PathBuf,
    },
    /// Versions are installed, but none matches the requirement.
    NoMatch {
        /// The plugin.
        name: String,
        /// The requirement.
        req: VersionReq,
        /// The installed versions, oldest first.
        installed: Vec<Version>,
    },
    /// Versions match, but none was built for an interface this host supports.
    Incompatible {
        /// The plugin.
        name: String,
        /// The requirement.
        req: VersionReq,
        /// The host's interface version.
        host: Version,
        /// Each matching version with the interface version it was built against.
        candidates: Vec<(Version, Version)>,
    },
    /// The version chosen is damaged on disk.
    Damaged {
        /// The plugin.
        name: String,
        /// The version chosen.
        version: Version,
        /// Its directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The store could not be read, or the host interface is not a version.
    Other(anyhow::Error),
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ResolveError::NotInstalled { name, store } => write!(
                f,
                "plugin `{name}` is not installed (no version in `{}`); install a bundle with `hammer plugin install {name}-<version>.hpkg`",
                store.display()
            ),
            ResolveError::NoMatch { name, req, installed } => {
                let list: Vec<String> = installed.iter().map(Version::to_string).collect();
                write!(f, "no installed version of plugin `{name}` matches `{req}` (installed: {})", list.join(", "))?;
                if installed.iter().any(|v| !v.pre.is_empty()) && !req.comparators.iter().any(|c| !c.pre.is_empty()) {
                    write!(f, "; a pre-release is chosen only by a requirement that names one, such as `>=1.0.0-beta.1`")?;
                }
                Ok(())
            }
            ResolveError::Incompatible { name, req, host, candidates } => {
                let list: Vec<String> = candidates.iter().map(|(v, i)| format!("{v} is built against hammer:plugin@{i}")).collect();
                write!(
                    f,
                    "no installed version of plugin `{name}` matching `{req}` supports this hammer's interface, hammer:plugin@{host} ({}); \
                     install a version built against {}.{}.x",
                    list.join(", "),
                    host.major,
                    if host.major == 0 { host.minor.to_string() } else { "x".to_string() }
                )
            }
            ResolveError::Damaged { name, version, path, reason } => write!(
                f,
                "plugin `{name}` {version} in `{}` is damaged ({reason}); reinstall it with `hammer plugin install --force`",
                path.display()
            ),
            ResolveError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for ResolveError {}

impl From<anyhow::Error> for ResolveError {
    fn from(e: anyhow::Error) -> Self {
        ResolveError::Other(e)
    }
}

impl Store {
    /// `$HAMMER_HOME`, or `~/.hammer` when it is not set.
    ///
    /// # Errors
    /// Neither `HAMMER_HOME` nor `HOME` is set.
    pub fn default_root() -> Result<PathBuf> {
        if let Some(home) = std::env::var_os("HAMMER_HOME").filter(|h| !h.is_empty()) {
            return Ok(PathBuf::from(home));
        }
        let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context("neither HAMMER_HOME nor HOME is set")?;
        Ok(PathBuf::from(home).join(".hammer"))
    }

    /// The store under `root` (the bundles live in `<root>/store`). Nothing
    /// is created until the first install.
    pub fn open(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    /// The store under [`Store::default_root`].
    ///
    /// # Errors
    /// As [`Store::default_root`].
    pub fn open_default() -> Result<Store> {
        Ok(Self::open(Self::default_root()?))
    }

    /// The root given to [`Store::open`].
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/store`, where the bundles live.
    pub fn dir(&self) -> PathBuf {
        self.root.join("store")
    }

    /// Installs a bundle: verifies it, stages it in `store/.tmp-*`, syncs it,
    /// and renames it into `store/<name>/<version>`.
    ///
    /// The same name and version installed already: identical content is
    /// success ([`Outcome::AlreadyInstalled`]); a damaged copy of this same
    /// bundle is replaced ([`Outcome::Repaired`]); different content is
    /// refused unless `force` ([`Outcome::Replaced`]).
    ///
    /// This checks the bundle's integrity, not its claims about the
    /// component's exports: check those first with
    /// [`Manifest::check_component`].
    ///
    /// # Errors
    /// A bundle that does not verify, different content installed under the
    /// same version without `force`, or an I/O error.
    pub fn install(&self, bundle: &Bundle, force: bool) -> Result<Install> {
        bundle.verify().context("refusing to install the bundle")?;
        let store = self.dir();
        fs::create_dir_all(&store).with_context(|| format!("cannot create the plugin store `{}`", store.display()))?;
        let _ = self.clean_stale(STALE_AFTER);
        let staged = self.stage(bundle)?;
        let result = self.place(bundle, &staged, force);
        if staged.exists() {
            let _ = fs::remove_dir_all(&staged);
        }
        result
    }

    /// Writes the bundle's two files into a new `.tmp-*` directory, synced.
    fn stage(&self, bundle: &Bundle) -> Result<PathBuf> {
        let dir = self.new_tmp_dir()?;
        let write = || -> io::Result<()> {
            write_synced(&dir.join(MANIFEST_ENTRY), bundle.manifest_text().as_bytes())?;
            write_synced(&dir.join(COMPONENT_ENTRY), &bundle.component)?;
            sync_dir(&dir)
        };
        write().map_err(|e| {
            let _ = fs::remove_dir_all(&dir);
            anyhow!("cannot write into the plugin store `{}`: {e}", self.dir().display())
        })?;
        Ok(dir)
    }

    /// Renames the staged directory into place, deciding what to do when the
    /// version exists already.
    fn place(&self, bundle: &Bundle, staged: &Path, force: bool) -> Result<Install> {
        let m = &bundle.manifest;
        let store = self.dir();
        let name_dir = store.join(&m.name);
        let target = name_dir.join(m.version.to_string());
        let io_error = |e: io::Error| anyhow!("cannot install plugin `{}` {} into `{}`: {e}", m.name, m.version, target.display());
        let installed = || Installed { manifest: m.clone(), path: target.clone(), digest: bundle.digest().to_string() };
        let mut outcome = Outcome::Installed;
        for _ in 0..TRIES {
            fs::create_dir_all(&name_dir).map_err(io_error)?;
            match fs::rename(staged, &target) {
                Ok(()) => {
                    sync_dir(&name_dir).and_then(|()| sync_dir(&store)).map_err(io_error)?;
                    return Ok(Install { installed: installed(), outcome });
                }
                // The name's directory was removed meanwhile (a concurrent `remove`): again.
                Err(_) if !name_dir.is_dir() => continue,
                Err(e) if fs::symlink_metadata(&target).is_err() => return Err(io_error(e)),
                Err(_) => {}
            }
            // The version exists: the same content, a damaged copy, or another bundle.
            outcome = match read_version_dir(&target) {
                Ok(existing) if existing.manifest == *m => {
                    let digest = existing.digest().to_string();
                    let installed = Installed { manifest: existing.manifest, path: target.clone(), digest };
                    return Ok(Install { installed, outcome: Outcome::AlreadyInstalled });
                }
                Err(_) if fs::symlink_metadata(&target).is_err() => continue,
                Ok(existing) if !force => bail!(
                    "plugin `{}` {} is installed already with different content (installed component sha256 {}, this bundle's {}); \
                     use --force to replace it",
                    m.name,
                    m.version,
                    existing.manifest.sha256,
                    m.sha256
                ),
                Ok(_) => Outcome::Replaced,
                Err(e) => {
                    let same_claims = fs::read(target.join(MANIFEST_ENTRY))
                        .ok()
                        .and_then(|b| manifest::open_sealed(&b).ok())
                        .is_some_and(|s| s.manifest == *m);
                    match (same_claims, force) {
                        (true, _) => Outcome::Repaired,
                        (false, true) => Outcome::Replaced,
                        (false, false) => bail!(
                            "plugin `{}` {} is installed already, and the installed copy is damaged ({e:#}); use --force to replace it",
                            m.name,
                            m.version
                        ),
                    }
                }
            };
            let aside = self.tmp_path("old");
            match fs::rename(&target, &aside) {
                Ok(()) => {}
                Err(_) if fs::symlink_metadata(&target).is_err() => continue,
                Err(e) => return Err(io_error(e)),
            }
            let moved_in = fs::rename(staged, &target);
            let _ = remove_any(&aside);
            match moved_in {
                Ok(()) => {
                    sync_dir(&name_dir).and_then(|()| sync_dir(&store)).map_err(io_error)?;
                    return Ok(Install { installed: installed(), outcome });
                }
                // Another install got in between: decide again.
                Err(_) if fs::symlink_metadata(&target).is_ok() => continue,
                Err(e) => return Err(io_error(e)),
            }
        }
        bail!("cannot install plugin `{}` {}: the store `{}` kept changing under concurrent installs ({TRIES} tries)", m.name, m.version, store.display())
    }

    /// Every installed version whose manifest reads and verifies, by name
    /// then version. Damaged entries are left out: [`Store::verify`] reports them.
    ///
    /// # Errors
    /// The store's directory cannot be read.
    pub fn list(&self) -> Result<Vec<Installed>> {
        let mut out = Vec::new();
        for name in self.names()? {
            out.extend(self.versions(&name)?);
        }
        Ok(out)
    }

    /// The installed versions of `name` whose manifest reads and verifies,
    /// oldest first (the component is not re-hashed here).
    ///
    /// # Errors
    /// An invalid name, or the directory cannot be read.
    pub fn versions(&self, name: &str) -> Result<Vec<Installed>> {
        check_name(name).map_err(|_| anyhow!("`{name}` is not a valid plugin name"))?;
        let mut out = Vec::new();
        for (version, path) in self.version_dirs(name)? {
            let Ok(bytes) = fs::read(path.join(MANIFEST_ENTRY)) else { continue };
            let Ok(sealed) = manifest::open_sealed(&bytes) else { continue };
            if sealed.manifest.name == name && sealed.manifest.version == version {
                out.push(Installed { manifest: sealed.manifest, path, digest: sealed.digest });
            }
        }
        out.sort_by(|a, b| a.manifest.version.cmp(&b.manifest.version));
        Ok(out)
    }

    /// Removes one version of `name`, or all of them; returns the versions removed.
    ///
    /// # Errors
    /// An invalid name, nothing installed to remove (the installed versions
    /// listed), or an I/O error.
    pub fn remove(&self, name: &str, version: Option<&Version>) -> Result<Vec<Version>> {
        check_name(name).map_err(|_| anyhow!("`{name}` is not a valid plugin name"))?;
        let all = self.version_dirs(name)?;
        let targets: Vec<(Version, PathBuf)> = match version {
            Some(v) => all.iter().filter(|(iv, _)| iv == v).cloned().collect(),
            None => all.clone(),
        };
        if all.is_empty() {
            bail!("plugin `{name}` is not installed");
        }
        if let (true, Some(v)) = (targets.is_empty(), version) {
            let installed: Vec<String> = all.iter().map(|(v, _)| v.to_string()).collect();
            bail!("plugin `{name}` {v} is not installed (installed: {})", installed.join(", "));
        }
        let mut removed = Vec::new();
        for (v, path) in targets {
            let aside = self.tmp_path("removed");
            match fs::rename(&path, &aside) {
                Ok(()) => {
                    removed.push(v);
                    // Gone from the store already; a copy that cannot be deleted now is a
                    // `.tmp-*` leftover that a later install cleans up.
                    let _ = remove_any(&aside);
                }
                Err(_) if fs::symlink_metadata(&path).is_err() => {}
                Err(e) => bail!("cannot remove plugin `{name}` {v} (`{}`): {e}", path.display()),
            }
        }
        let _ = fs::remove_dir(self.dir().join(name));
        let _ = sync_dir(&self.dir());
        removed.sort();
        Ok(removed)
    }

    /// Re-reads and re-hashes everything in the store: every manifest's seal,
    /// every component against its manifest, names and versions against
    /// their directories, and anything that does not belong. In-progress or
    /// leftover `.tmp-*` directories are not problems.
    ///
    /// # Errors
    /// The store's directory cannot be read (an absent store is empty).
    pub fn verify(&self) -> Result<Vec<Problem>> {
        let mut problems = Vec::new();
        let problem = |path: &Path, message: String| Problem { path: path.to_path_buf(), message };
        let store = self.dir();
        for (entry_name, path) in read_dir_sorted(&store)? {
            if entry_name.starts_with(TMP_PREFIX) {
                continue;
            }
            if !path.is_dir() {
                problems.push(problem(&path, "not a plugin directory".into()));
                continue;
            }
            if check_name(&entry_name).is_err() {
                problems.push(problem(&path, format!("`{entry_name}` is not a valid plugin name")));
                continue;
            }
            for (version_name, vpath) in read_dir_sorted(&path)? {
                let Ok(version) = Version::parse(&version_name) else {
                    problems.push(problem(&vpath, format!("`{version_name}` is not a version")));
                    continue;
                };
                if !vpath.is_dir() {
                    problems.push(problem(&vpath, "not a version directory".into()));
                    continue;
                }
                for (file, fpath) in read_dir_sorted(&vpath)? {
                    if file != MANIFEST_ENTRY && file != COMPONENT_ENTRY {
                        problems.push(problem(&fpath, "does not belong in the store".into()));
                    }
                }
                match read_version_dir(&vpath) {
                    Err(e) => problems.push(problem(&vpath, format!("{e:#}"))),
                    Ok(b) if b.manifest.name != entry_name || b.manifest.version != version => problems.push(problem(
                        &vpath,
                        format!("holds plugin `{}` {}, not `{entry_name}` {version}", b.manifest.name, b.manifest.version),
                    )),
                    Ok(_) => {}
                }
            }
        }
        Ok(problems)
    }

    /// The version of `name` to run: the newest installed one that matches
    /// `req` (semver semantics: a pre-release only when `req` names one)
    /// and was built for an interface compatible with `host_interface`
    /// (same major, and for 0.x the same minor). Its component is checked
    /// against the manifest's sha256 (re-hashed unless the [`Digests`] memo
    /// of this root knows the file unchanged).
    ///
    /// # Errors
    /// A [`ResolveError`]: nothing installed, nothing matching (the
    /// installed versions listed), nothing compatible (each candidate's
    /// interface and the host's named), or the chosen version damaged.
    pub fn resolve(&self, name: &str, req: &VersionReq, host_interface: &str) -> Result<Installed, ResolveError> {
        let host = Version::parse(host_interface).map_err(|e| anyhow!("the host interface `{host_interface}` is not a version: {e}"))?;
        let installed = self.versions(name)?;
        if installed.is_empty() {
            return Err(ResolveError::NotInstalled { name: name.to_string(), store: self.dir() });
        }
        let matching: Vec<&Installed> = installed.iter().filter(|i| req.matches(&i.manifest.version)).collect();
        if matching.is_empty() {
            let installed = installed.iter().map(|i| i.manifest.version.clone()).collect();
            return Err(ResolveError::NoMatch { name: name.to_string(), req: req.clone(), installed });
        }
        let Some(chosen) = matching.iter().filter(|i| interface_compatible(&i.manifest.interface, &host)).max_by(|a, b| a.manifest.version.cmp(&b.manifest.version))
        else {
            let candidates = matching.iter().map(|i| (i.manifest.version.clone(), i.manifest.interface.clone())).collect();
            return Err(ResolveError::Incompatible { name: name.to_string(), req: req.clone(), host, candidates });
        };
        let damaged = |reason: String| ResolveError::Damaged {
            name: name.to_string(),
            version: chosen.manifest.version.clone(),
            path: chosen.path.clone(),
            reason,
        };
        let actual = Digests::of_home(&self.root)
            .of(&chosen.component_path())
            .map_err(|e| damaged(format!("cannot read `{COMPONENT_ENTRY}`: {e:#}")))?
            .sha256;
        if actual != chosen.manifest.sha256 {
            return Err(damaged(format!("its component hashes to {actual}, and its manifest says {}", chosen.manifest.sha256)));
        }
        Ok((*chosen).clone())
    }

    /// Deletes `.tmp-*` directories (killed or finished installs) last
    /// modified more than `older_than` ago; returns how many. A live install
    /// younger than that is left alone.
    ///
    /// # Errors
    /// The store's directory cannot be read.
    pub fn clean_stale(&self, older_than: Duration) -> Result<usize> {
        let now = SystemTime::now();
        let mut removed = 0;
        for (name, path) in read_dir_sorted(&self.dir())? {
            if !name.starts_with(TMP_PREFIX) {
                continue;
            }
            let age = fs::symlink_metadata(&path).and_then(|m| m.modified()).ok().and_then(|t| now.duration_since(t).ok());
            if age.is_some_and(|age| age >= older_than) && remove_any(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The plugin names in the store (valid names only), sorted.
    fn names(&self) -> Result<Vec<String>> {
        Ok(read_dir_sorted(&self.dir())?
            .into_iter()
            .filter(|(name, path)| check_name(name).is_ok() && path.is_dir())
            .map(|(name, _)| name)
            .collect())
    }

    /// The version directories of `name`, sorted by version.
    fn version_dirs(&self, name: &str) -> Result<Vec<(Version, PathBuf)>> {
        let mut out: Vec<(Version, PathBuf)> = read_dir_sorted(&self.dir().join(name))?
            .into_iter()
            .filter_map(|(v, path)| Some((Version::parse(&v).ok()?, path)))
            .filter(|(_, path)| path.is_dir())
            .collect();
        out.sort();
        Ok(out)
    }

    /// A fresh, unique path `store/.tmp-<pid>-<n>-<what>` (not created).
    fn tmp_path(&self, what: &str) -> PathBuf {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        self.dir().join(format!("{TMP_PREFIX}{}-{n}-{nanos:09}-{what}", std::process::id()))
    }

    fn new_tmp_dir(&self) -> Result<PathBuf> {
        let mut last = None;
        for _ in 0..TRIES {
            let dir = self.tmp_path("new");
            match fs::create_dir(&dir) {
                Ok(()) => return Ok(dir),
                Err(e) => last = Some(e),
            }
        }
        let e = last.map_or_else(|| "unknown error".to_string(), |e| e.to_string());
        bail!("cannot create a staging directory in the plugin store `{}`: {e}", self.dir().display())
    }
}

/// Reads a version directory's two files into a verified bundle.
fn read_version_dir(dir: &Path) -> Result<Bundle> {
    let manifest = fs::read(dir.join(MANIFEST_ENTRY)).with_context(|| format!("cannot read `{MANIFEST_ENTRY}`"))?;
    let component = fs::read(dir.join(COMPONENT_ENTRY)).with_context(|| format!("cannot read `{COMPONENT_ENTRY}`"))?;
    Bundle::from_parts(&manifest, component)
}

/// A directory's entries as (name, path), sorted by name; an absent
/// directory is empty; names that are not UTF-8 are skipped.
fn read_dir_sorted(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(anyhow!("cannot read `{}`: {e}", dir.display())),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read `{}`", dir.display()))?;
        if let Ok(name) = entry.file_name().into_string() {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

fn remove_any(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() {
        fs::remove_dir_all(path)
    } else {
        fs::remove_file(path)
    }
}

#[cfg(test)]
mod tests;
