//! Plugin bundles through the command line: pack → send the file → install
//! → reference by version; tampering, version mismatches, capabilities and
//! option schemas are refused with clear errors.

use std::path::{Path, PathBuf};
use std::process::Output;

use hammer_tests::{guest, hammer_command, stderr, stdout, tiny_config};

/// A sandbox with its own `HAMMER_HOME` (bundle store).
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self { dir: tempfile::tempdir().unwrap() }
    }
    fn path(&self) -> &Path {
        self.dir.path()
    }
    fn run(&self, args: &[&str]) -> Output {
        hammer_command(self.path()).env("HAMMER_HOME", self.path().join("home")).args(args).output().unwrap()
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "hammer {args:?}:\n{}\n{}", stdout(&out), stderr(&out));
        stdout(&out)
    }
    fn err(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(out.status.code(), Some(1), "hammer {args:?} should fail:\n{}", stdout(&out));
        let err = stderr(&out);
        assert!(err.starts_with("error: ") && !err.contains("panicked"), "{err}");
        err
    }
    /// Packs the `misbehave` test plugin as `probe` `version` with `extra` manifest lines.
    fn pack(&self, version: &str, extra: &str) -> PathBuf {
        let manifest = self.path().join(format!("probe-{version}.toml"));
        std::fs::write(
            &manifest,
            format!(
                "name = \"probe\"\nversion = \"{version}\"\nkind = \"hook\"\ninterface = \"{interface}\"\n\
                 description = \"A probe.\"\n{extra}\n[options.action]\ntype = \"string\"\ndefault = \"nothing\"\ndoc = \"What to do.\"\n\
                 [options.from_iter]\ntype = \"integer\"\ndefault = 0\ndoc = \"From which iteration.\"\n",
                interface = hammer_tests::interface()
            ),
        )
        .unwrap();
        let out = self.ok(&[
            "plugin", "pack", guest("misbehave").to_str().unwrap(), "--manifest", manifest.to_str().unwrap(),
            "--out", "dist",
        ]);
        self.path().join(out.trim())
    }
}

#[test]
fn pack_send_install_and_use_by_version() {
    let home = Home::new();
    let bundle = home.pack("0.1.0", "");
    assert!(bundle.ends_with("dist/probe-0.1.0.hpkg"), "{}", bundle.display());
    let info = home.ok(&["plugin", "info", bundle.to_str().unwrap()]);
    let built = format!("probe 0.1.0 (hook, built against hammer:plugin@{})", hammer_tests::interface());
    assert!(info.starts_with(&built), "{info}");
    assert!(info.contains("action (string, default \"nothing\")"), "{info}");
    // "Send" the file: a copy elsewhere installs the same.
    let sent = home.path().join("sent.hpkg");
    std::fs::copy(&bundle, &sent).unwrap();
    assert!(home.ok(&["plugin", "install", sent.to_str().unwrap()]).contains("Installed probe 0.1.0"));
    assert!(home.ok(&["plugin", "install", sent.to_str().unwrap()]).contains("Already installed probe 0.1.0"));
    assert!(home.ok(&["plugin", "list"]).contains("probe                0.1.0"));
    assert!(home.ok(&["plugin", "verify"]).contains("intact (1 bundles)"));

    let extra = "[[plugins]]\nname = \"probe\"\nversion = \"^0.1\"\noptions = { action = \"print\", from_iter = 9 }\n";
    let cfg = tiny_config(home.path(), "job.toml", 64, 1, extra);
    let log = home.ok(&["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    assert!(log.contains("Loaded plugin `probe` (hook 0.1.0"), "{log}");
    let lock = std::fs::read_to_string(home.path().join("w/plugins.lock")).unwrap();
    assert!(lock.contains("version = \"0.1.0\"") && lock.contains("source = \"store\""), "{lock}");

    assert!(home.ok(&["plugin", "remove", "probe"]).contains("Removed probe 0.1.0"));
    let err = home.err(&["train", cfg.to_str().unwrap(), "--work-dir", "w2"]);
    assert!(err.contains("plugin `probe` is not installed"), "{err}");
}

#[test]
fn newest_matching_version_wins_and_resume_keeps_the_locked_one() {
    let home = Home::new();
    for v in ["0.1.0", "0.1.3", "0.2.0", "0.2.1-beta.1"] {
        home.ok(&["plugin", "install", home.pack(v, "").to_str().unwrap()]);
    }
    let job = |req: &str, name: &str| {
        let extra = format!("[[plugins]]\nname = \"probe\"\nversion = \"{req}\"\n");
        tiny_config(home.path(), name, 64, 2, &extra).to_str().unwrap().to_string()
    };
    let log = home.ok(&["train", &job("^0.1", "a.toml"), "--work-dir", "a", "--cfg-options", "train_cfg.max_epochs=1"]);
    assert!(log.contains("`probe` (hook 0.1.3"), "{log}");
    let log = home.ok(&["train", &job("^0.2", "b.toml"), "--work-dir", "b"]);
    assert!(log.contains("`probe` (hook 0.2.0"), "pre-releases only when asked for: {log}");
    let log = home.ok(&["train", &job(">=0.2.1-beta.1", "c.toml"), "--work-dir", "c"]);
    assert!(log.contains("`probe` (hook 0.2.1-beta.1"), "{log}");
    let err = home.err(&["train", &job("^0.3", "d.toml"), "--work-dir", "d"]);
    assert!(err.contains("^0.3") && err.contains("0.1.0") && err.contains("0.2.0"), "names the versions: {err}");

    // A newer 0.1.x arrives; resuming job `a` still runs the 0.1.3 it locked.
    home.ok(&["plugin", "install", home.pack("0.1.4", "").to_str().unwrap()]);
    let log = home.ok(&["train", &job("^0.1", "a.toml"), "--work-dir", "a", "--resume"]);
    assert!(log.contains("`probe` (hook 0.1.3"), "{log}");
    home.ok(&["plugin", "remove", "probe", "0.1.3"]);
    let err = home.err(&["train", &job("^0.1", "a.toml"), "--work-dir", "a", "--resume"]);
    assert!(err.contains("=0.1.3"), "the locked version is missing: {err}");
}

#[test]
fn tampered_bundles_and_stores_are_refused() {
    let home = Home::new();
    let bundle = home.pack("0.1.0", "");
    let good = std::fs::read(&bundle).unwrap();
    // One flipped byte in the component (the archive's second entry) is caught.
    let mut bad = good.clone();
    let at = good.len() - 2048;
    bad[at] ^= 0x01;
    let tampered = home.path().join("tampered.hpkg");
    std::fs::write(&tampered, &bad).unwrap();
    let err = home.err(&["plugin", "install", tampered.to_str().unwrap()]);
    assert!(err.contains("tampered.hpkg"), "{err}");

    home.ok(&["plugin", "install", bundle.to_str().unwrap()]);
    let component = home.path().join("home/store/probe/0.1.0/component.wasm");
    let mut bytes = std::fs::read(&component).unwrap();
    bytes[100] ^= 0x01;
    std::fs::write(&component, &bytes).unwrap();
    let err = home.err(&["plugin", "verify"]);
    assert!(err.contains("1 problem(s)"), "{err}");
    let cfg = tiny_config(home.path(), "job.toml", 64, 1, "[[plugins]]\nname = \"probe\"\nversion = \"^0.1\"\n");
    let err = home.err(&["train", cfg.to_str().unwrap(), "--work-dir", "w"]);
    assert!(err.contains("damaged"), "{err}");
    // Reinstalling the same bundle repairs the store.
    assert!(home.ok(&["plugin", "install", bundle.to_str().unwrap()]).contains("Repaired"));

    // Same name and version, different content: refused unless --force.
    let other = home.pack("0.1.0", "[options.extra]\ntype = \"bool\"\ndoc = \"A different manifest.\"\n");
    let err = home.err(&["plugin", "install", other.to_str().unwrap()]);
    assert!(err.contains("--force"), "{err}");
    assert!(home.ok(&["plugin", "install", "--force", other.to_str().unwrap()]).contains("Replaced"));
}

#[test]
fn manifests_that_lie_are_refused_at_pack() {
    let home = Home::new();
    let manifest = home.path().join("m.toml");
    let write = |kind: &str, interface: &str| {
        std::fs::write(
            &manifest,
            format!("name = \"x\"\nversion = \"1.0.0\"\nkind = \"{kind}\"\ninterface = \"{interface}\"\ndescription = \"x\"\n"),
        )
        .unwrap();
    };
    let pack = |component: PathBuf| {
        home.err(&["plugin", "pack", component.to_str().unwrap(), "--manifest", manifest.to_str().unwrap()])
    };
    let (current, future) = (hammer_tests::interface(), hammer_tests::future_interface());
    write("metric", current);
    let err = pack(guest("misbehave"));
    assert!(err.contains("metric") && err.contains("hook"), "kind mismatch: {err}");
    write("hook", current);
    let err = pack(guest("future_version"));
    assert!(err.contains(&future) && err.contains(current), "interface mismatch names both: {err}");
    std::fs::write(&manifest, "name = \"x\"\nversion = \"one\"\n").unwrap();
    let err = pack(guest("misbehave"));
    assert!(err.contains("version"), "{err}");
}

#[test]
fn capabilities_are_what_the_manifest_requests_and_the_config_grants() {
    let home = Home::new();
    let requesting = home.pack("0.1.0", "[capabilities]\nmodel_parameters = true\nwork_dir = \"probe\"\n");
    let plain = home.pack("0.2.0", "");
    home.ok(&["plugin", "install", requesting.to_str().unwrap(), plain.to_str().unwrap()]);
    let job = |version: &str, grants: &str, action: &str, name: &str| {
        let extra = format!(
            "[[plugins]]\nname = \"probe\"\nversion = \"={version}\"\n{grants}\noptions = {{ action = \"{action}\", from_iter = 1 }}\n"
        );
        tiny_config(home.path(), name, 64, 1, &extra).to_str().unwrap().to_string()
    };
    let err = home.err(&["train", &job("0.1.0", "", "params", "a.toml"), "--work-dir", "a"]);
    assert!(err.contains("requests the model's parameters") && err.contains("`model_parameters = true`"), "{err}");
    let err = home.err(&["train", &job("0.1.0", "model_parameters = true", "params", "b.toml"), "--work-dir", "b"]);
    assert!(err.contains("`work_dir = true`"), "{err}");
    let granted = "model_parameters = true\nwork_dir = true";
    let log = home.ok(&["train", &job("0.1.0", granted, "params", "c.toml"), "--work-dir", "c"]);
    assert!(log.contains("params: ALLOWED"), "{log}");
    let log = home.ok(&["train", &job("0.1.0", granted, "write_file", "d.toml"), "--work-dir", "d"]);
    assert!(log.contains("write_file: ALLOWED"), "{log}");
    assert_eq!(std::fs::read(home.path().join("d/probe/written.txt")).unwrap(), b"hello");
    // Granted but not requested: not given.
    let log = home.ok(&["train", &job("0.2.0", granted, "params", "e.toml"), "--work-dir", "e"]);
    assert!(log.contains("params: denied"), "{log}");
}

#[test]
fn options_are_checked_against_the_schema_before_the_run() {
    let home = Home::new();
    home.ok(&["plugin", "install", home.pack("0.1.0", "").to_str().unwrap()]);
    let job = |options: &str, name: &str| {
        let extra = format!("[[plugins]]\nname = \"probe\"\nversion = \"^0.1\"\noptions = {{ {options} }}\n");
        tiny_config(home.path(), name, 64, 1, &extra).to_str().unwrap().to_string()
    };
    let err = home.err(&["train", &job("acton = \"print\"", "a.toml"), "--work-dir", "a"]);
    assert!(err.contains("plugin `probe` 0.1.0: option `acton` is unknown; did you mean `action`?"), "{err}");
    let err = home.err(&["train", &job("from_iter = \"soon\"", "b.toml"), "--work-dir", "b"]);
    assert!(err.contains("option `from_iter`") && err.contains("integer"), "{err}");
    assert!(!home.path().join("a/epoch_1.safetensors").exists());
}

#[test]
fn concurrent_installs_leave_a_consistent_store() {
    let home = Home::new();
    let bundles: Vec<PathBuf> = ["0.1.0", "0.2.0"].iter().map(|v| home.pack(v, "")).collect();
    let children: Vec<_> = (0..4)
        .map(|i| {
            hammer_command(home.path())
                .env("HAMMER_HOME", home.path().join("home"))
                .args(["plugin", "install", bundles[i % 2].to_str().unwrap()])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    assert!(home.ok(&["plugin", "verify"]).contains("intact (2 bundles)"));
    let leftovers = std::fs::read_dir(home.path().join("home/store")).unwrap().filter(|e| {
        e.as_ref().unwrap().file_name().to_string_lossy().starts_with(".tmp")
    });
    assert_eq!(leftovers.count(), 0);
}
