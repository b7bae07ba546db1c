//! Tests of [`super`] (store).

use std::sync::{Arc, Barrier};

use super::super::archive::tests::bundle;
use super::*;

fn req(s: &str) -> VersionReq {
    VersionReq::parse(s).unwrap()
}

fn flip(path: &Path, at: usize) {
    let mut bytes = fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

fn tmp_entries(store: &Store) -> Vec<String> {
    read_dir_sorted(&store.dir()).unwrap().into_iter().map(|(n, _)| n).filter(|n| n.starts_with(TMP_PREFIX)).collect()
}

#[test]
fn install_list_remove_round_trip() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    assert!(store.list().unwrap().is_empty());
    assert!(store.verify().unwrap().is_empty());
    let a = bundle("ema", "0.1.0", "0.1.0", "a");
    let done = store.install(&a, false).unwrap();
    assert_eq!(done.outcome, Outcome::Installed);
    assert_eq!(done.installed.path, home.path().join("store/ema/0.1.0"));
    assert_eq!(fs::read(done.installed.component_path()).unwrap(), a.component);
    assert_eq!(fs::read_to_string(done.installed.manifest_path()).unwrap(), a.manifest_text());
    assert_eq!(done.installed.load().unwrap().manifest, a.manifest);
    store.install(&bundle("ema", "0.2.0", "0.1.0", "b"), false).unwrap();
    store.install(&bundle("lr", "1.0.0", "0.1.0", "c"), false).unwrap();
    let listed: Vec<String> = store.list().unwrap().iter().map(|i| i.manifest.id()).collect();
    assert_eq!(listed, ["ema 0.1.0", "ema 0.2.0", "lr 1.0.0"]);
    assert!(store.verify().unwrap().is_empty());
    assert!(tmp_entries(&store).is_empty(), "no staging directory left behind");

    assert_eq!(store.remove("ema", Some(&Version::new(0, 1, 0))).unwrap(), [Version::new(0, 1, 0)]);
    let e = store.remove("ema", Some(&Version::new(0, 1, 0))).unwrap_err().to_string();
    assert_eq!(e, "plugin `ema` 0.1.0 is not installed (installed: 0.2.0)");
    assert_eq!(store.remove("ema", None).unwrap(), [Version::new(0, 2, 0)]);
    assert!(!store.dir().join("ema").exists());
    assert_eq!(store.remove("ema", None).unwrap_err().to_string(), "plugin `ema` is not installed");
    assert!(store.remove("../etc", None).is_err());
    let listed: Vec<String> = store.list().unwrap().iter().map(|i| i.manifest.id()).collect();
    assert_eq!(listed, ["lr 1.0.0"]);
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn same_version_with_other_content_needs_force() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    let a = bundle("ema", "0.1.0", "0.1.0", "a");
    let b = bundle("ema", "0.1.0", "0.1.0", "b");
    store.install(&a, false).unwrap();
    assert_eq!(store.install(&a, false).unwrap().outcome, Outcome::AlreadyInstalled);
    let e = store.install(&b, false).unwrap_err().to_string();
    assert!(e.contains("installed already with different content") && e.contains("--force"), "{e}");
    assert!(e.contains(&a.manifest.sha256) && e.contains(&b.manifest.sha256), "{e}");
    assert_eq!(store.resolve("ema", &req("*"), "0.1.0").unwrap().manifest.sha256, a.manifest.sha256);
    assert_eq!(store.install(&b, true).unwrap().outcome, Outcome::Replaced);
    assert_eq!(store.resolve("ema", &req("*"), "0.1.0").unwrap().manifest.sha256, b.manifest.sha256);
    assert_eq!(store.install(&b, true).unwrap().outcome, Outcome::AlreadyInstalled);
    assert!(store.verify().unwrap().is_empty());
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn a_flipped_byte_in_the_store_is_detected() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    let a = bundle("ema", "0.1.0", "0.1.0", "a component long enough to flip bytes in");
    let installed = store.install(&a, false).unwrap().installed;

    // In the component: verify and resolve see it.
    flip(&installed.component_path(), 10);
    let problems = store.verify().unwrap();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].message.contains("does not match the manifest"), "{}", problems[0]);
    let e = store.resolve("ema", &req("^0.1"), "0.1.0").unwrap_err();
    assert!(matches!(e, ResolveError::Damaged { .. }), "{e}");
    assert!(e.to_string().contains("is damaged") && e.to_string().contains("hashes to"), "{e}");
    // Installing the same bundle again repairs it, without force.
    assert_eq!(store.install(&a, false).unwrap().outcome, Outcome::Repaired);
    assert!(store.verify().unwrap().is_empty());
    store.resolve("ema", &req("^0.1"), "0.1.0").unwrap();

    // In the manifest, anywhere.
    let len = fs::read(installed.manifest_path()).unwrap().len();
    for at in [0, len / 3, len / 2, len - 10, len - 1] {
        flip(&installed.manifest_path(), at);
        let problems = store.verify().unwrap();
        assert_eq!(problems.len(), 1, "flip at {at}: {problems:?}");
        assert!(store.resolve("ema", &req("*"), "0.1.0").is_err(), "flip at {at}");
        assert!(store.list().unwrap().is_empty(), "a damaged manifest is not listed");
        // Another bundle under that version is refused: the damaged copy's content is unknown.
        let e = store.install(&bundle("ema", "0.1.0", "0.1.0", "other"), false).unwrap_err().to_string();
        assert!(e.contains("damaged") && e.contains("--force"), "{e}");
        flip(&installed.manifest_path(), at);
        assert!(store.verify().unwrap().is_empty());
    }

    // A stray file and a misplaced version.
    fs::write(installed.path.join("notes.txt"), "hi").unwrap();
    fs::create_dir_all(store.dir().join("ema/9.9.9")).unwrap();
    for f in [MANIFEST_ENTRY, COMPONENT_ENTRY] {
        fs::copy(installed.path.join(f), store.dir().join("ema/9.9.9").join(f)).unwrap();
    }
    let problems: Vec<String> = store.verify().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("notes.txt") && problems[0].contains("does not belong"), "{problems:?}");
    assert!(problems[1].contains("holds plugin `ema` 0.1.0, not `ema` 9.9.9"), "{problems:?}");
    assert_eq!(store.list().unwrap().len(), 1, "the misplaced copy is not listed");
}

#[test]
fn resolution_picks_the_newest_matching_compatible_version() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    for (v, iface) in [
        ("0.1.0", "0.1.0"),
        ("0.1.1", "0.1.0"),
        ("0.1.2", "0.2.0"),
        ("0.2.0", "0.1.3"),
        ("0.3.0-beta.1", "0.1.0"),
        ("0.3.0-beta.2", "0.1.0"),
        ("1.0.0", "0.1.0"),
        ("1.1.0-rc.1", "0.1.0"),
    ] {
        store.install(&bundle("ema", v, iface, v), false).unwrap();
    }
    let pick = |r: &str| store.resolve("ema", &req(r), "0.1.0").map(|i| i.manifest.version.to_string());
    assert_eq!(pick("^0.1").unwrap(), "0.1.1", "0.1.2 is built for hammer:plugin@0.2");
    assert_eq!(pick("~0.2").unwrap(), "0.2.0", "0.1.3 is compatible with 0.1.0");
    assert_eq!(pick("*").unwrap(), "1.0.0", "pre-releases only when asked for");
    assert_eq!(pick(">=0.1").unwrap(), "1.0.0");
    assert_eq!(pick(">=0.3.0-beta.1, <0.4").unwrap(), "0.3.0-beta.2");
    assert_eq!(pick("=0.3.0-beta.1").unwrap(), "0.3.0-beta.1");
    assert_eq!(pick(">=1.1.0-rc.1").unwrap(), "1.1.0-rc.1");
    assert_eq!(pick("^1").unwrap(), "1.0.0");

    let e = pick("^0.3").unwrap_err();
    assert!(matches!(e, ResolveError::NoMatch { .. }));
    assert_eq!(
        e.to_string(),
        "no installed version of plugin `ema` matches `^0.3` (installed: 0.1.0, 0.1.1, 0.1.2, 0.2.0, 0.3.0-beta.1, \
         0.3.0-beta.2, 1.0.0, 1.1.0-rc.1); a pre-release is chosen only by a requirement that names one, such as `>=1.0.0-beta.1`"
    );
    let e = pick("=0.1.2").unwrap_err();
    assert!(matches!(e, ResolveError::Incompatible { .. }));
    let msg = e.to_string();
    assert!(msg.contains("0.1.2 is built against hammer:plugin@0.2.0") && msg.contains("hammer:plugin@0.1.0"), "{msg}");
    // A host of another interface: both versions named.
    let e = store.resolve("ema", &req("^1"), "0.2.0").unwrap_err().to_string();
    assert!(e.contains("1.0.0 is built against hammer:plugin@0.1.0") && e.contains("hammer:plugin@0.2.0"), "{e}");
    let e = store.resolve("nope", &req("*"), "0.1.0").unwrap_err();
    assert!(matches!(e, ResolveError::NotInstalled { .. }), "{e}");
    assert!(e.to_string().starts_with("plugin `nope` is not installed"), "{e}");
    assert!(matches!(store.resolve("ema", &req("*"), "x"), Err(ResolveError::Other(_))));
    assert!(matches!(store.resolve("../x", &req("*"), "0.1.0"), Err(ResolveError::Other(_))));
}

#[test]
fn a_killed_install_leaves_the_store_consistent() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    store.install(&bundle("ema", "0.1.0", "0.1.0", "a"), false).unwrap();
    // What a kill between staging and the rename leaves: a partial staging directory.
    let leftover = store.tmp_path("new");
    fs::create_dir(&leftover).unwrap();
    fs::write(leftover.join(MANIFEST_ENTRY), "name = \"ema\"\nversion = \"0.2").unwrap();
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(store.verify().unwrap().is_empty());
    assert_eq!(store.resolve("ema", &req("*"), "0.1.0").unwrap().manifest.version, Version::new(0, 1, 0));
    // A young leftover might be a live install: kept.
    store.install(&bundle("ema", "0.2.0", "0.1.0", "b"), false).unwrap();
    assert_eq!(tmp_entries(&store).len(), 1);
    // An old one is deleted by the next install.
    let old = SystemTime::now() - STALE_AFTER - Duration::from_secs(60);
    File::open(&leftover).unwrap().set_modified(old).unwrap();
    store.install(&bundle("ema", "0.3.0", "0.1.0", "c"), false).unwrap();
    assert!(tmp_entries(&store).is_empty());
    assert_eq!(store.list().unwrap().len(), 3);
    // clean_stale on its own.
    fs::create_dir(store.tmp_path("new")).unwrap();
    assert_eq!(store.clean_stale(Duration::ZERO).unwrap(), 1);
}

#[test]
fn concurrent_installs_of_the_same_bundle_all_succeed() {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(home.path()));
    let a = Arc::new(bundle("ema", "0.1.0", "0.1.0", "same"));
    let n = 8;
    let barrier = Arc::new(Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (store, a, barrier) = (Arc::clone(&store), Arc::clone(&a), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                store.install(&a, false).map(|i| i.outcome)
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = handles.into_iter().map(|h| h.join().unwrap().unwrap()).collect();
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Installed).count(), 1, "{outcomes:?}");
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::AlreadyInstalled).count(), n - 1, "{outcomes:?}");
    assert!(store.verify().unwrap().is_empty());
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn concurrent_installs_of_different_bundles_all_land() {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(home.path()));
    let bundles: Vec<Bundle> = (0..4)
        .flat_map(|v| ["ema", "lr"].map(|name| bundle(name, &format!("0.{v}.0"), "0.1.0", &format!("{name}{v}"))))
        .collect();
    let barrier = Arc::new(Barrier::new(bundles.len()));
    let handles: Vec<_> = bundles
        .into_iter()
        .map(|b| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                store.install(&b, false).map(|i| i.outcome)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), Outcome::Installed);
    }
    assert_eq!(store.list().unwrap().len(), 8);
    assert!(store.verify().unwrap().is_empty());
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn concurrent_conflicting_installs_let_exactly_one_win() {
    let home = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(home.path()));
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = ["a", "b"]
        .into_iter()
        .map(|tag| {
            let (store, barrier) = (Arc::clone(&store), Arc::clone(&barrier));
            let b = bundle("ema", "0.1.0", "0.1.0", tag);
            std::thread::spawn(move || {
                barrier.wait();
                store.install(&b, false).map(|_| b.manifest.sha256.clone())
            })
        })
        .collect();
    let results: Vec<Result<String>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let won: Vec<&String> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(&store.resolve("ema", &req("*"), "0.1.0").unwrap().manifest.sha256, won[0]);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn a_tampered_bundle_is_not_installed() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    let mut a = bundle("ema", "0.1.0", "0.1.0", "a");
    a.component[0] ^= 1;
    let e = format!("{:#}", store.install(&a, false).unwrap_err());
    assert!(e.contains("refusing to install") && e.contains("does not match"), "{e}");
    assert!(store.list().unwrap().is_empty());
    assert!(tmp_entries(&store).is_empty());
}

#[test]
fn the_default_root_is_hammer_home() {
    // Read only: the test does not change the process's environment.
    let root = Store::default_root().unwrap();
    match std::env::var_os("HAMMER_HOME").filter(|h| !h.is_empty()) {
        Some(home) => assert_eq!(root, PathBuf::from(home)),
        None => assert!(root.ends_with(".hammer")),
    }
}

#[test]
fn a_flipped_byte_is_detected_after_the_memo_remembered_the_component() {
    let home = tempfile::tempdir().unwrap();
    let store = Store::open(home.path());
    let a = bundle("ema", "0.1.0", "0.1.0", "a component long enough to flip bytes in");
    let installed = store.install(&a, false).unwrap().installed;
    std::thread::sleep(super::super::digest::SETTLED + Duration::from_millis(100));
    store.resolve("ema", &req("^0.1"), "0.1.0").unwrap();
    let memo = home.path().join("cache/digests");
    assert_eq!(read_dir_sorted(&memo).unwrap().len(), 1, "the settled component's digest is remembered");
    // Same size, same modification time: only the change time tells.
    let mtime = fs::metadata(installed.component_path()).unwrap().modified().unwrap();
    flip(&installed.component_path(), 10);
    File::options().write(true).open(installed.component_path()).unwrap().set_modified(mtime).unwrap();
    let e = store.resolve("ema", &req("^0.1"), "0.1.0").unwrap_err();
    assert!(matches!(e, ResolveError::Damaged { .. }), "{e}");
}
