//! The `.hpkg` file: a ustar archive holding exactly `manifest.toml` (sealed)
//! then `component.wasm`, written deterministically and read strictly.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::manifest::{self, sha256_hex, Manifest};

/// The name of the manifest's entry, first in the archive.
pub const MANIFEST_ENTRY: &str = "manifest.toml";
/// The name of the component's entry, second and last in the archive.
pub const COMPONENT_ENTRY: &str = "component.wasm";
/// The largest manifest accepted.
pub const MAX_MANIFEST_BYTES: usize = 1 << 20;
/// The largest bundle file accepted.
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;

const BLOCK: usize = 512;

/// A plugin bundle: its manifest and its component, checked against each
/// other. Every constructor verifies the manifest's seal and the
/// component's sha256.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// The manifest.
    pub manifest: Manifest,
    /// The component's bytes (a WebAssembly component).
    pub component: Vec<u8>,
    /// The sealed manifest text, as stored.
    sealed: String,
    /// The seal: identifies the whole content (manifest and component).
    digest: String,
}

impl Bundle {
    /// Reads and verifies the bundle file at `path`.
    ///
    /// # Errors
    /// The file cannot be read or is too large, or anything
    /// [`Bundle::from_bytes`] refuses; the message names the file.
    pub fn read(path: &Path) -> Result<Bundle> {
        let context = || format!("bundle `{}`", path.display());
        let len = std::fs::metadata(path).with_context(|| format!("cannot read bundle `{}`", path.display()))?.len();
        if len > MAX_BUNDLE_BYTES {
            bail!("bundle `{}` is {len} bytes, more than the {MAX_BUNDLE_BYTES} accepted", path.display());
        }
        let bytes = std::fs::read(path).with_context(|| format!("cannot read bundle `{}`", path.display()))?;
        Self::from_bytes(&bytes).with_context(context)
    }

    /// Parses and verifies a bundle.
    ///
    /// # Errors
    /// Not a ustar archive of exactly `manifest.toml` then `component.wasm`
    /// (a missing manifest, extra entries, a damaged header, nonzero
    /// padding), a manifest that is malformed or whose seal does not match,
    /// or a component whose sha256 differs from the manifest's.
    pub fn from_bytes(bytes: &[u8]) -> Result<Bundle> {
        if bytes.len() as u64 > MAX_BUNDLE_BYTES {
            bail!("the bundle is {} bytes, more than the {MAX_BUNDLE_BYTES} accepted", bytes.len());
        }
        let entries = read_tar(bytes)?;
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        let layout = || format!("a bundle holds exactly `{MANIFEST_ENTRY}` then `{COMPONENT_ENTRY}`, and this one holds {}", list(&names));
        if !names.contains(&MANIFEST_ENTRY) {
            bail!("the bundle has no `{MANIFEST_ENTRY}` ({})", layout());
        }
        if !names.contains(&COMPONENT_ENTRY) {
            bail!("the bundle has no `{COMPONENT_ENTRY}` ({})", layout());
        }
        if names != [MANIFEST_ENTRY, COMPONENT_ENTRY] {
            bail!("{}", layout());
        }
        for entry in &entries {
            if entry.typeflag != b'0' && entry.typeflag != 0 {
                bail!("entry `{}` is not a regular file (tar type `{}`)", entry.name, entry.typeflag.escape_ascii());
            }
        }
        if entries[0].data.len() > MAX_MANIFEST_BYTES {
            bail!("`{MANIFEST_ENTRY}` is {} bytes, more than the {MAX_MANIFEST_BYTES} accepted", entries[0].data.len());
        }
        Self::from_parts(entries[0].data, entries[1].data.to_vec())
    }

    /// A bundle from its two parts (as the store keeps them), verified.
    ///
    /// # Errors
    /// A manifest that is malformed or whose seal does not match, or a
    /// component whose sha256 differs from the manifest's.
    pub fn from_parts(manifest: &[u8], component: Vec<u8>) -> Result<Bundle> {
        let sealed = manifest::open_sealed(manifest).with_context(|| format!("`{MANIFEST_ENTRY}`"))?;
        let actual = sha256_hex(&component);
        if actual != sealed.manifest.sha256 {
            bail!(
                "plugin `{}` {}: the component does not match the manifest (the manifest says sha256 {}, the component hashes to {actual})",
                sealed.manifest.name,
                sealed.manifest.version,
                sealed.manifest.sha256
            );
        }
        Ok(Bundle { manifest: sealed.manifest, component, sealed: sealed.text, digest: sealed.digest })
    }

    /// Checks that the public fields still agree with the sealed manifest
    /// (they are public, so they may have been changed since).
    ///
    /// # Errors
    /// The manifest differs from the sealed one, or the component from its sha256.
    pub fn verify(&self) -> Result<()> {
        let sealed = manifest::open_sealed(self.sealed.as_bytes())?;
        if sealed.manifest != self.manifest {
            bail!("plugin `{}`: the bundle's manifest was changed after it was sealed", self.manifest.name);
        }
        let actual = sha256_hex(&self.component);
        if actual != self.manifest.sha256 {
            bail!(
                "plugin `{}` {}: the component does not match the manifest (the manifest says sha256 {}, the component hashes to {actual})",
                self.manifest.name,
                self.manifest.version,
                self.manifest.sha256
            );
        }
        Ok(())
    }

    /// The `.hpkg` bytes: the same bundle always gives the same bytes.
    ///
    /// # Errors
    /// The bundle no longer verifies (see [`Bundle::verify`]).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.verify()?;
        let mut out = Vec::with_capacity(4 * BLOCK + self.sealed.len() + self.component.len());
        append_entry(&mut out, MANIFEST_ENTRY, self.sealed.as_bytes());
        append_entry(&mut out, COMPONENT_ENTRY, &self.component);
        out.resize(out.len() + 2 * BLOCK, 0);
        Ok(out)
    }

    /// Writes the bundle to `path`, atomically.
    ///
    /// # Errors
    /// The bundle no longer verifies, or the write fails.
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::checkpoint::atomic::write_atomic(path, &self.to_bytes()?)
    }

    /// `<name>-<version>.hpkg`.
    pub fn file_name(&self) -> String {
        self.manifest.file_name()
    }

    /// The manifest's seal: the sha256 of its text, which includes the
    /// component's sha256, so it identifies the bundle's whole content.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The sealed manifest text, as stored in the bundle.
    pub fn manifest_text(&self) -> &str {
        &self.sealed
    }
}

/// Builds a bundle from an input manifest (TOML; `sha256` may be omitted)
/// and a component. `actual_kind` and `actual_interface` are what the
/// component really is, read from its exports by the caller (the world it
/// exports: `hook`, `metric` or `lr-policy`; the version of `hammer:plugin`).
/// Write it with [`Bundle::write`] or [`Bundle::to_bytes`].
///
/// # Errors
/// A malformed manifest; a manifest whose `sha256`, `kind` or `interface`
/// disagrees with the component (both values named).
pub fn pack(manifest_toml: &str, component: &[u8], actual_kind: &str, actual_interface: &str) -> Result<Bundle> {
    let mut manifest = Manifest::from_toml(manifest_toml)?;
    let actual = sha256_hex(component);
    if !manifest.sha256.is_empty() && manifest.sha256 != actual {
        bail!(
            "plugin `{}` {}: the manifest says sha256 {}, but the component hashes to {actual}",
            manifest.name,
            manifest.version,
            manifest.sha256
        );
    }
    manifest.sha256 = actual;
    manifest.check_component(actual_kind, actual_interface)?;
    let sealed = manifest::seal(&manifest)?;
    Bundle::from_parts(sealed.as_bytes(), component.to_vec())
}

fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "nothing".to_string();
    }
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// Appends a ustar header (mode 0644, uid/gid 0, mtime 0, no user or group
/// name) and the data, padded to a block.
fn append_entry(out: &mut Vec<u8>, name: &str, data: &[u8]) {
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    put_octal(&mut h[100..108], 0o644);
    put_octal(&mut h[108..116], 0);
    put_octal(&mut h[116..124], 0);
    put_octal(&mut h[124..136], data.len() as u64);
    put_octal(&mut h[136..148], 0);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    put_octal(&mut h[329..337], 0);
    put_octal(&mut h[337..345], 0);
    let sum = checksum(&h);
    h[148..154].copy_from_slice(format!("{sum:06o}").as_bytes());
    h[154] = 0;
    h[155] = b' ';
    out.extend_from_slice(&h);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(BLOCK), 0);
}

/// Zero-padded octal digits filling the field but its last byte, a NUL.
fn put_octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    field[..width].copy_from_slice(format!("{value:0width$o}").as_bytes());
    field[width] = 0;
}

/// The header's checksum: the sum of its bytes, the checksum field counted as spaces.
fn checksum(header: &[u8]) -> u32 {
    header.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { u32::from(b' ') } else { u32::from(b) }).sum()
}

struct Entry<'a> {
    name: String,
    typeflag: u8,
    data: &'a [u8],
}

/// The entries of a ustar archive, read strictly: every header's checksum
/// (in the form `pack` writes it), zero padding, and nothing but zero
/// blocks (at least two) after the last entry.
fn read_tar(bytes: &[u8]) -> Result<Vec<Entry<'_>>> {
    if bytes.is_empty() {
        bail!("the bundle is empty");
    }
    if !bytes.len().is_multiple_of(BLOCK) {
        bail!("not a bundle: a bundle is a tar archive, a whole number of {BLOCK}-byte blocks, and this is {} bytes", bytes.len());
    }
    let mut entries = Vec::new();
    let mut pos = 0;
    loop {
        let Some(h) = bytes.get(pos..pos + BLOCK) else {
            bail!("the archive ends without its end-of-archive marker (truncated?)");
        };
        if h.iter().all(|&b| b == 0) {
            let rest = &bytes[pos..];
            if rest.len() < 2 * BLOCK {
                bail!("the archive's end-of-archive marker is truncated");
            }
            if let Some(i) = rest.iter().position(|&b| b != 0) {
                bail!("the archive has data after its end (at byte {}): damaged, or not a bundle", pos + i);
            }
            return Ok(entries);
        }
        let n = entries.len() + 1;
        if n > 16 {
            bail!("the archive has more than 16 entries: not a bundle");
        }
        let magic_ok = (&h[257..263] == b"ustar\0" && &h[263..265] == b"00") || (&h[257..263] == b"ustar " && &h[263..265] == b" \0");
        if !magic_ok {
            bail!("entry {n} at byte {pos} has no ustar header: not a bundle, or damaged");
        }
        let stored = parse_checksum(&h[148..156]).ok_or_else(|| anyhow!("entry {n}: its header's checksum field is damaged"))?;
        let sum = checksum(h);
        if stored != sum {
            bail!("entry {n}: its header is damaged (checksum {stored:o}, the header sums to {sum:o})");
        }
        let name = field_str(&h[0..100]);
        let prefix = field_str(&h[345..500]);
        let name = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
        let size = parse_octal(&h[124..136]).ok_or_else(|| anyhow!("entry `{name}`: its size field is malformed"))?;
        let size = usize::try_from(size).map_err(|_| anyhow!("entry `{name}` is too large"))?;
        let start = pos + BLOCK;
        let end = start.checked_add(size).filter(|&e| e <= bytes.len()).ok_or_else(|| anyhow!("entry `{name}` is truncated"))?;
        let padded = end.next_multiple_of(BLOCK);
        if bytes[end..padded.min(bytes.len())].iter().any(|&b| b != 0) {
            bail!("entry `{name}` is followed by nonzero padding: damaged");
        }
        entries.push(Entry { name, typeflag: h[156], data: &bytes[start..end] });
        pos = padded;
    }
}

/// A NUL-terminated header field as text (lossy).
fn field_str(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// A numeric field: octal digits, optionally space-padded, ended by NUL or space.
fn parse_octal(field: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(field).ok()?;
    let text = text.trim_matches(|c| c == ' ' || c == '\0');
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(text, 8).ok()
}

/// The checksum field, strictly as written: six octal digits, NUL, space.
fn parse_checksum(field: &[u8]) -> Option<u32> {
    let (digits, end) = field.split_at(6);
    if end != [0, b' '] || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::super::manifest::tests::EMA;
    use super::*;

    /// A fake component: this module only hashes it.
    pub(crate) fn component(tag: &str) -> Vec<u8> {
        let mut c = b"\0asm\x0d\0\x01\0".to_vec();
        c.extend_from_slice(tag.as_bytes());
        c
    }

    pub(crate) fn manifest_for(name: &str, version: &str, interface: &str) -> String {
        format!("name = \"{name}\"\nversion = \"{version}\"\nkind = \"hook\"\ninterface = \"{interface}\"\ndescription = \"test\"\n\n[options.x]\ntype = \"integer\"\ndefault = 3\n")
    }

    /// A bundle of a fake hook component.
    pub(crate) fn bundle(name: &str, version: &str, interface: &str, tag: &str) -> Bundle {
        pack(&manifest_for(name, version, interface), &component(tag), "hook", interface).unwrap()
    }

    #[test]
    fn pack_then_read_round_trips() {
        let b = pack(EMA, &component("ema"), "hook", "0.1.0").unwrap();
        assert_eq!(b.manifest.sha256, sha256_hex(&component("ema")));
        assert_eq!(b.file_name(), "ema-0.1.0.hpkg");
        let bytes = b.to_bytes().unwrap();
        assert_eq!(bytes.len() % BLOCK, 0);
        let again = Bundle::from_bytes(&bytes).unwrap();
        assert_eq!(again.manifest, b.manifest);
        assert_eq!(again.component, b.component);
        assert_eq!(again.digest(), b.digest());
        assert_eq!(again.to_bytes().unwrap(), bytes);
        // Deterministic: packing twice gives identical bytes.
        assert_eq!(pack(EMA, &component("ema"), "hook", "0.1.0").unwrap().to_bytes().unwrap(), bytes);
        // Through a file.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(b.file_name());
        b.write(&path).unwrap();
        assert_eq!(Bundle::read(&path).unwrap().manifest, b.manifest);
    }

    #[test]
    fn the_archive_is_plain_ustar() {
        let bytes = pack(EMA, &component("ema"), "hook", "0.1.0").unwrap().to_bytes().unwrap();
        assert_eq!(&bytes[0..13], b"manifest.toml");
        assert_eq!(&bytes[100..108], b"0000644\0");
        assert_eq!(&bytes[136..148], b"00000000000\0");
        assert_eq!(&bytes[257..265], b"ustar\x0000");
        assert_eq!(&bytes[BLOCK..BLOCK + 5], b"name ");
    }

    /// `tar tvf` lists the entries (skipped where `tar` is missing).
    #[test]
    fn tar_lists_a_bundle() {
        let Ok(out) = std::process::Command::new("tar").arg("--version").output() else { return };
        if !out.status.success() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ema-0.1.0.hpkg");
        pack(EMA, &component("ema"), "hook", "0.1.0").unwrap().write(&path).unwrap();
        let out = std::process::Command::new("tar").arg("tf").arg(&path).output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "manifest.toml\ncomponent.wasm\n");
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let bytes = pack(EMA, &component("ema"), "hook", "0.1.0").unwrap().to_bytes().unwrap();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x20, 0x80] {
                let mut bad = bytes.clone();
                bad[i] ^= bit;
                assert!(Bundle::from_bytes(&bad).is_err(), "flip {bit:#x} at byte {i} of {} undetected", bytes.len());
            }
        }
        assert!(Bundle::from_bytes(&bytes[..bytes.len() - BLOCK]).is_err());
        assert!(Bundle::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Bundle::from_bytes(&[]).is_err());
    }

    fn tar(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data) in entries {
            append_entry(&mut out, name, data);
        }
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }

    #[test]
    fn refuses_a_wrong_layout() {
        let b = pack(EMA, &component("ema"), "hook", "0.1.0").unwrap();
        let m = b.manifest_text().as_bytes();
        let c = &b.component[..];
        let err = |bytes: Vec<u8>| Bundle::from_bytes(&bytes).unwrap_err().to_string();
        let e = err(tar(&[(COMPONENT_ENTRY, c)]));
        assert!(e.contains("no `manifest.toml`"), "{e}");
        let e = err(tar(&[(MANIFEST_ENTRY, m)]));
        assert!(e.contains("no `component.wasm`"), "{e}");
        let e = err(tar(&[(MANIFEST_ENTRY, m), (COMPONENT_ENTRY, c), ("extra.txt", b"hi")]));
        assert!(e.contains("exactly") && e.contains("`extra.txt`"), "{e}");
        let e = err(tar(&[(COMPONENT_ENTRY, c), (MANIFEST_ENTRY, m)]));
        assert!(e.contains("exactly"), "{e}");
        let e = err(tar(&[]));
        assert!(e.contains("no `manifest.toml`"), "{e}");
        let e = err(b"not a tar at all".to_vec());
        assert!(e.contains("not a bundle"), "{e}");
        let e = err(vec![7u8; 1024]);
        assert!(e.contains("no ustar header"), "{e}");
        // Anything after the end marker.
        let mut bytes = b.to_bytes().unwrap();
        bytes.extend_from_slice(&tar(&[("more", b"x")]));
        assert!(err(bytes).contains("after its end"));
    }

    #[test]
    fn refuses_a_malformed_or_lying_manifest() {
        let c = component("ema");
        let err = |m: &[u8]| Bundle::from_bytes(&tar(&[(MANIFEST_ENTRY, m), (COMPONENT_ENTRY, &c)])).unwrap_err();
        // Malformed (and unsealed).
        let e = format!("{:#}", err(b"name = [\n"));
        assert!(e.contains("manifest.toml") && e.contains("not sealed"), "{e}");
        // Sealed but malformed TOML.
        let mut body = "name = [\n".to_string();
        let digest = sha256_hex(body.as_bytes());
        body.push_str(&format!("{}{digest}\n", manifest::SEAL_PREFIX));
        let e = format!("{:#}", err(body.as_bytes()));
        assert!(e.contains("malformed manifest"), "{e}");
        // A manifest that lies about the component's hash (well sealed).
        let mut m = Manifest::from_toml(EMA).unwrap();
        m.sha256 = sha256_hex(b"another component");
        let sealed = manifest::seal(&m).unwrap();
        let e = format!("{:#}", err(sealed.as_bytes()));
        assert!(e.contains("does not match the manifest") && e.contains(&m.sha256) && e.contains(&sha256_hex(&c)), "{e}");
        // An unsealed input manifest is not a bundle's manifest.
        let e = format!("{:#}", err(EMA.as_bytes()));
        assert!(e.contains("not sealed"), "{e}");
    }

    #[test]
    fn pack_refuses_lies_about_the_component() {
        let c = component("ema");
        let e = pack(EMA, &c, "metric", "0.1.0").unwrap_err().to_string();
        assert!(e.contains("kind `hook`") && e.contains("metric"), "{e}");
        let e = pack(EMA, &c, "hook", "0.2.0").unwrap_err().to_string();
        assert!(e.contains("interface 0.1.0") && e.contains("hammer:plugin@0.2.0"), "{e}");
        let wrong = format!("sha256 = \"{}\"\n{EMA}", "0".repeat(64));
        let e = pack(&wrong, &c, "hook", "0.1.0").unwrap_err().to_string();
        assert!(e.contains("says sha256 000") && e.contains(&sha256_hex(&c)), "{e}");
        let right = format!("sha256 = \"{}\"\n{EMA}", sha256_hex(&c));
        pack(&right, &c, "hook", "0.1.0").unwrap();
        assert!(pack("name = 1", &c, "hook", "0.1.0").is_err());
    }

    #[test]
    fn changed_public_fields_are_caught() {
        let mut b = pack(EMA, &component("ema"), "hook", "0.1.0").unwrap();
        b.component.push(0);
        assert!(b.to_bytes().is_err());
        let mut b = pack(EMA, &component("ema"), "hook", "0.1.0").unwrap();
        b.manifest.description = "changed".into();
        assert!(b.to_bytes().is_err());
    }
}
