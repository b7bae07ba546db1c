//! A bundle's manifest: what the plugin is, what it asks for, and the
//! options it takes.
//!
//! The manifest is TOML. An *input* manifest (what `hammer plugin pack`
//! reads) may omit `sha256`; a *sealed* manifest (what a bundle and the
//! store hold) has `sha256` set and ends with the seal line
//! `# manifest sha256: <hex>`, the sha256 of every byte before that line.
//! The seal covers the manifest's own bytes and, through `sha256`, the
//! component's, so it identifies the whole content of a bundle: a single
//! changed byte anywhere is detected.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context, Result};
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The prefix of a sealed manifest's last line, before the hex digest.
pub const SEAL_PREFIX: &str = "# manifest sha256: ";

/// The longest plugin name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// The world a plugin targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A controller called at the phases it subscribes to (`hook`).
    Hook,
    /// A metric of the validation and test loops (`metric`).
    Metric,
    /// A learning-rate policy (`lr-policy`).
    LrPolicy,
}

impl Kind {
    /// The kind's name as written in manifests: `hook`, `metric` or `lr-policy`.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Hook => "hook",
            Kind::Metric => "metric",
            Kind::LrPolicy => "lr-policy",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Kind {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "hook" => Ok(Kind::Hook),
            "metric" => Ok(Kind::Metric),
            "lr-policy" => Ok(Kind::LrPolicy),
            _ => bail!("`{s}` is not a plugin kind (expected `hook`, `metric` or `lr-policy`)"),
        }
    }
}

/// What a plugin asks the host for beyond the sandbox's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capabilities {
    /// Handles to the model's parameters (EMA needs them).
    #[serde(default)]
    pub model_parameters: bool,
    /// A directory under the job's work directory that the plugin wants
    /// (a relative path of plain components: no `..`, no root).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub work_dir: Option<String>,
}

impl Capabilities {
    /// Whether the plugin asks for nothing beyond the sandbox's defaults.
    pub fn is_empty(&self) -> bool {
        !self.model_parameters && self.work_dir.is_none()
    }
}

/// The type of a plugin option, as written in `type = "..."`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptionType {
    /// `true` or `false`.
    Bool,
    /// A 64-bit signed integer (an integral float such as `2.0` is accepted as `2`).
    Integer,
    /// A float (an integer is accepted and converted).
    Float,
    /// A string.
    String,
    /// A list of integers (a single integer is accepted as given).
    Integers,
    /// A list of floats (integers converted; a single number is accepted as given).
    Floats,
    /// A list of strings (a single string is accepted as given).
    Strings,
}

impl OptionType {
    /// The name as written in manifests (`bool`, `integer`, ...).
    pub fn name(self) -> &'static str {
        match self {
            OptionType::Bool => "bool",
            OptionType::Integer => "integer",
            OptionType::Float => "float",
            OptionType::String => "string",
            OptionType::Integers => "integers",
            OptionType::Floats => "floats",
            OptionType::Strings => "strings",
        }
    }

    /// The type in words, for messages: `a float`, `a list of strings`, ...
    pub fn phrase(self) -> &'static str {
        match self {
            OptionType::Bool => "a boolean",
            OptionType::Integer => "an integer",
            OptionType::Float => "a float",
            OptionType::String => "a string",
            OptionType::Integers => "a list of integers",
            OptionType::Floats => "a list of floats",
            OptionType::Strings => "a list of strings",
        }
    }
}

impl fmt::Display for OptionType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One option of a plugin: `[options.<name>]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptionSpec {
    /// Its type.
    #[serde(rename = "type")]
    pub ty: OptionType,
    /// The value used when the config does not set it; none leaves the
    /// choice to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// What it does, for `hammer plugin info`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub doc: String,
}

/// A bundle's manifest (`manifest.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The plugin's name: letters, digits, `_` and `-`, starting with a
    /// letter or digit, at most [`MAX_NAME_LEN`] characters.
    pub name: String,
    /// Its version (semver, without build metadata).
    pub version: Version,
    /// The world it targets.
    pub kind: Kind,
    /// The version of the WIT package (`hammer:plugin@<interface>`) it was built against.
    pub interface: Version,
    /// One or a few sentences on what it does.
    #[serde(default)]
    pub description: String,
    /// The sha256 of the component (lowercase hex); empty in an input
    /// manifest that leaves it to `pack`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sha256: String,
    /// What it asks the host for.
    #[serde(default)]
    pub capabilities: Capabilities,
    /// A hook that asks to run on rank 0 alone in a distributed job (one
    /// that writes files or reports, say); a config entry's
    /// `rank_zero_only` overrides it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rank_zero_only: bool,
    /// The options it takes, by name; none means it takes no options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, OptionSpec>,
}

impl Manifest {
    /// Parses and checks a manifest; `sha256` may be absent (an input
    /// manifest). A seal line, if any, is a comment and not checked here.
    ///
    /// # Errors
    /// Malformed TOML, an unknown or missing key, a value of the wrong type
    /// (each naming the key), or a value that breaks the rules of
    /// [`Manifest::validate`].
    pub fn from_toml(text: &str) -> Result<Manifest> {
        let mut manifest: Manifest = toml::from_str(text).map_err(|e| anyhow!("malformed manifest: {}", e.to_string().trim_end()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The manifest as TOML, without a seal (deterministic: the same
    /// manifest always gives the same text).
    ///
    /// # Errors
    /// A value TOML cannot express (never for a validated manifest).
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).context("cannot write the manifest as TOML")
    }

    /// Checks the rules serde cannot: the name's characters, no build
    /// metadata, a well-formed `sha256`, a safe `work_dir`, option names,
    /// and each default against its option's type. Normalizes defaults
    /// (an integer default of a float option becomes a float).
    ///
    /// # Errors
    /// The first rule broken, naming the key.
    pub fn validate(&mut self) -> Result<()> {
        check_name(&self.name)?;
        if !self.version.build.is_empty() {
            bail!("manifest key `version`: `{}` carries build metadata (`+{}`), which bundles do not use", self.version, self.version.build);
        }
        if !self.sha256.is_empty() && !is_sha256_hex(&self.sha256) {
            bail!("manifest key `sha256`: `{}` is not a sha256 (64 lowercase hex digits)", self.sha256);
        }
        if let Some(dir) = &self.capabilities.work_dir {
            check_work_dir(dir).context("manifest key `capabilities.work_dir`")?;
        }
        if self.rank_zero_only && self.kind != Kind::Hook {
            bail!("manifest key `rank_zero_only`: only a hook can run on rank 0 alone, this is a {}", self.kind.name());
        }
        for (name, spec) in &mut self.options {
            check_option_name(name)?;
            if let Some(default) = &spec.default {
                let normalized = super::schema::check_value(spec.ty, default)
                    .map_err(|found| anyhow!("manifest key `options.{name}.default`: expected {}, found {found}", spec.ty.phrase()))?;
                spec.default = Some(normalized);
            }
        }
        Ok(())
    }

    /// `<name>-<version>.hpkg`, the bundle's file name.
    pub fn file_name(&self) -> String {
        format!("{}-{}.{}", self.name, self.version, super::EXTENSION)
    }

    /// `<name> <version>`, for messages.
    pub fn id(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// Checks the manifest's claims against what the component really is:
    /// `actual_kind` (`hook`, `metric`, `lr-policy`) and `actual_interface`
    /// (the version of `hammer:plugin` it exports), both read from its
    /// exports by the caller.
    ///
    /// # Errors
    /// A kind or an interface version that differs, with both named.
    pub fn check_component(&self, actual_kind: &str, actual_interface: &str) -> Result<()> {
        let kind: Kind = actual_kind.parse().with_context(|| format!("plugin `{}` {}: the component's kind", self.name, self.version))?;
        if kind != self.kind {
            bail!(
                "plugin `{}` {}: the manifest says kind `{}`, but the component exports hammer:plugin/{}",
                self.name,
                self.version,
                self.kind,
                kind
            );
        }
        let interface = Version::parse(actual_interface).map_err(|e| {
            anyhow!("plugin `{}` {}: the component's interface version `{actual_interface}` is not a version: {e}", self.name, self.version)
        })?;
        if interface != self.interface {
            bail!(
                "plugin `{}` {}: the manifest says interface {}, but the component was built against hammer:plugin@{}",
                self.name,
                self.version,
                self.interface,
                interface
            );
        }
        Ok(())
    }

    /// A human-readable description, capabilities first, for `hammer plugin info`.
    pub fn info(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!("{} {} ({}, built against hammer:plugin@{})\n", self.name, self.version, self.kind, self.interface));
        out.push_str("capabilities:\n");
        if self.capabilities.is_empty() {
            out.push_str("  none (sandbox only)\n");
        }
        if self.capabilities.model_parameters {
            out.push_str("  model_parameters: handles to the model's parameters (read and write)\n");
        }
        if let Some(dir) = &self.capabilities.work_dir {
            out.push_str(&format!("  work_dir: the directory `{dir}` under the job's work directory\n"));
        }
        if !self.description.is_empty() {
            out.push_str(&format!("description: {}\n", self.description));
        }
        out.push_str(&format!("component sha256: {}\n", if self.sha256.is_empty() { "(not set)" } else { &self.sha256 }));
        if self.options.is_empty() {
            out.push_str("options: none\n");
        } else {
            out.push_str("options:\n");
            for (name, spec) in &self.options {
                out.push_str(&format!("  {name} ({}", spec.ty));
                if let Some(default) = &spec.default {
                    out.push_str(&format!(", default {default}"));
                }
                out.push(')');
                if !spec.doc.is_empty() {
                    out.push_str(&format!(": {}", spec.doc));
                }
                out.push('\n');
            }
        }
        out
    }
}

/// Whether a plugin built against interface `plugin` runs on a host that
/// implements `host`: the same major version, and for 0.x the same minor.
pub fn interface_compatible(plugin: &Version, host: &Version) -> bool {
    plugin.major == host.major && (host.major != 0 || plugin.minor == host.minor)
}

/// The sealed form of `manifest`: its TOML, then the seal line.
///
/// # Errors
/// `sha256` is not set, or the manifest cannot be written as TOML.
pub fn seal(manifest: &Manifest) -> Result<String> {
    if manifest.sha256.is_empty() {
        bail!("plugin `{}` {}: cannot seal a manifest without the component's sha256", manifest.name, manifest.version);
    }
    let mut text = manifest.to_toml()?;
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let digest = sha256_hex(text.as_bytes());
    text.push_str(SEAL_PREFIX);
    text.push_str(&digest);
    text.push('\n');
    Ok(text)
}

/// A sealed manifest read back: the manifest, its text and its seal.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The manifest.
    pub manifest: Manifest,
    /// The exact text, seal line included.
    pub text: String,
    /// The seal: the sha256 of the text before the seal line.
    pub digest: String,
}

/// Reads a sealed manifest, checking its seal.
///
/// # Errors
/// Not UTF-8, no seal line, a seal that does not match the text (the
/// manifest was changed or damaged), malformed TOML, a rule broken, or no
/// `sha256`.
pub fn open_sealed(bytes: &[u8]) -> Result<Sealed> {
    let text = std::str::from_utf8(bytes).map_err(|e| anyhow!("the manifest is not UTF-8 text ({e})"))?;
    let not_sealed = || anyhow!("the manifest is not sealed (its last line must be `{SEAL_PREFIX}<sha256>`)");
    let without_newline = text.strip_suffix('\n').ok_or_else(not_sealed)?;
    let start = without_newline.rfind('\n').map_or(0, |i| i + 1);
    let claimed = without_newline[start..].strip_prefix(SEAL_PREFIX).ok_or_else(not_sealed)?;
    let body = &text[..start];
    let digest = sha256_hex(body.as_bytes());
    if claimed != digest {
        bail!("the manifest does not match its seal (sealed {claimed}, content hashes to {digest}): it was changed or damaged");
    }
    let manifest = Manifest::from_toml(body)?;
    if manifest.sha256.is_empty() {
        bail!("the manifest has no `sha256` of its component");
    }
    Ok(Sealed { manifest, text: text.to_string(), digest })
}

/// The sha256 of `bytes`, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Checks a plugin name: what the store uses as a directory name.
///
/// # Errors
/// Empty, too long, or a character other than letters, digits, `_`, `-`
/// (or a first character that is not a letter or digit).
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric());
    if !ok {
        bail!(
            "manifest key `name`: `{name}` is not a valid plugin name (letters, digits, `_` and `-`, \
             starting with a letter or digit, at most {MAX_NAME_LEN} characters)"
        );
    }
    Ok(())
}

fn check_work_dir(dir: &str) -> Result<()> {
    let path = Path::new(dir);
    if dir.is_empty() || dir.contains('\\') || dir.contains('\0') {
        bail!("`{dir}` is not a relative directory path");
    }
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("`{dir}` must be a relative path inside the work directory (no root, `.` or `..`)");
    }
    Ok(())
}

fn check_option_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..");
    if !ok {
        bail!("manifest key `options.{name}`: not a valid option name (letters, digits, `_`, `-`, and `.` between parts)");
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const EMA: &str = r#"
name = "ema"
version = "0.1.0"
kind = "hook"
interface = "0.1.0"
description = "Exponential moving average of the weights."

[capabilities]
model_parameters = true
work_dir = "ema/snapshots"

[options.momentum]
type = "float"
default = 0.0002
doc = "ema = (1-m)·ema + m·param"

[options.interval]
type = "integer"
default = 1

[options.begin_iter]
type = "integer"
default = 0

[options.names]
type = "strings"
"#;

    #[test]
    fn parses_an_input_manifest() {
        let m = Manifest::from_toml(EMA).unwrap();
        assert_eq!(m.name, "ema");
        assert_eq!(m.version, Version::new(0, 1, 0));
        assert_eq!(m.kind, Kind::Hook);
        assert_eq!(m.interface, Version::new(0, 1, 0));
        assert!(m.sha256.is_empty());
        assert!(m.capabilities.model_parameters);
        assert_eq!(m.capabilities.work_dir.as_deref(), Some("ema/snapshots"));
        assert_eq!(m.options["momentum"].ty, OptionType::Float);
        assert_eq!(m.options["momentum"].default, Some(serde_json::json!(0.0002)));
        assert_eq!(m.options["names"].default, None);
        assert_eq!(m.file_name(), "ema-0.1.0.hpkg");
    }

    #[test]
    fn only_a_hook_asks_for_rank_zero_alone() {
        let hook = Manifest::from_toml(&format!("rank_zero_only = true\n{EMA}")).unwrap();
        assert!(hook.rank_zero_only);
        assert!(Manifest::from_toml(&hook.to_toml().unwrap()).unwrap().rank_zero_only, "kept through a round trip");
        assert!(!Manifest::from_toml(EMA).unwrap().rank_zero_only);
        let metric = "rank_zero_only = true\nname = \"m\"\nversion = \"1.0.0\"\nkind = \"metric\"\ninterface = \"0.1.0\"\n";
        let err = Manifest::from_toml(metric).unwrap_err().to_string();
        assert!(err.contains("manifest key `rank_zero_only`: only a hook can run on rank 0 alone, this is a metric"), "{err}");
    }

    #[test]
    fn round_trips_through_toml() {
        let mut m = Manifest::from_toml(EMA).unwrap();
        m.sha256 = "ab".repeat(32);
        let text = m.to_toml().unwrap();
        assert_eq!(Manifest::from_toml(&text).unwrap(), m);
        assert_eq!(m.to_toml().unwrap(), text, "deterministic");
    }

    #[test]
    fn errors_name_the_key() {
        let err = |text: &str| Manifest::from_toml(text).unwrap_err().to_string();
        let base = "name = \"x\"\nversion = \"0.1.0\"\nkind = \"hook\"\ninterface = \"0.1.0\"\n";
        let e = err(&format!("{base}colour = \"red\"\n"));
        assert!(e.contains("unknown field `colour`"), "{e}");
        let e = err("name = \"x\"\nkind = \"hook\"\ninterface = \"0.1.0\"\n");
        assert!(e.contains("missing field `version`"), "{e}");
        let e = err(&base.replace("\"hook\"", "\"sampler\""));
        assert!(e.contains("sampler") && e.contains("kind"), "{e}");
        let e = err(&base.replace("version = \"0.1.0\"", "version = \"one\""));
        assert!(e.contains("version"), "{e}");
        let e = err(&format!("{base}[capabilities]\nnetwork = true\n"));
        assert!(e.contains("unknown field `network`"), "{e}");
        let e = err(&format!("{base}[options.m]\ntype = \"float\"\ndefault = \"fast\"\n"));
        assert!(e.contains("`options.m.default`") && e.contains("expected a float"), "{e}");
        let e = err(&format!("{base}[options.m]\ntype = \"complex\"\n"));
        assert!(e.contains("complex"), "{e}");
        let e = err(&format!("{base}[capabilities]\nwork_dir = \"../escape\"\n"));
        assert!(e.contains("capabilities.work_dir"), "{e}");
        let e = err(&format!("{base}[capabilities]\nwork_dir = \"/abs\"\n"));
        assert!(e.contains("capabilities.work_dir"), "{e}");
        let e = err(&base.replace("name = \"x\"", "name = \"../x\""));
        assert!(e.contains("`name`"), "{e}");
        let e = err(&base.replace("version = \"0.1.0\"", "version = \"0.1.0+build5\""));
        assert!(e.contains("build metadata"), "{e}");
        let e = err(&format!("{base}sha256 = \"xyz\"\n"));
        assert!(e.contains("`sha256`"), "{e}");
        let e = err("name = [1\n");
        assert!(e.starts_with("malformed manifest"), "{e}");
    }

    #[test]
    fn normalizes_defaults() {
        let base = "name = \"x\"\nversion = \"0.1.0\"\nkind = \"metric\"\ninterface = \"0.1.0\"\n";
        let m = Manifest::from_toml(&format!("{base}[options.f]\ntype = \"float\"\ndefault = 1\n[options.k]\ntype = \"integers\"\ndefault = [1, 5]\n")).unwrap();
        assert_eq!(m.options["f"].default.as_ref().unwrap().as_f64(), Some(1.0));
        assert!(!m.options["f"].default.as_ref().unwrap().is_i64());
        let mut sealed = m.clone();
        sealed.sha256 = "0".repeat(64);
        let text = seal(&sealed).unwrap();
        assert_eq!(open_sealed(text.as_bytes()).unwrap().manifest, sealed);
    }

    #[test]
    fn seal_detects_any_change() {
        let mut m = Manifest::from_toml(EMA).unwrap();
        m.sha256 = "0".repeat(64);
        let text = seal(&m).unwrap();
        assert!(text.lines().last().unwrap().starts_with(SEAL_PREFIX));
        let opened = open_sealed(text.as_bytes()).unwrap();
        assert_eq!(opened.manifest, m);
        assert_eq!(opened.text, text);
        // Every single flipped bit in every byte is detected.
        let bytes = text.as_bytes();
        for i in 0..bytes.len() {
            for bit in [0x01u8, 0x20, 0x80] {
                let mut bad = bytes.to_vec();
                bad[i] ^= bit;
                assert!(open_sealed(&bad).is_err(), "flip {bit:#x} at byte {i} undetected");
            }
        }
        assert!(open_sealed(&bytes[..bytes.len() - 1]).is_err());
        let e = open_sealed(m.to_toml().unwrap().as_bytes()).unwrap_err().to_string();
        assert!(e.contains("not sealed"), "{e}");
        m.sha256.clear();
        assert!(seal(&m).is_err());
    }

    #[test]
    fn checks_kind_and_interface_claims() {
        let m = Manifest::from_toml(EMA).unwrap();
        m.check_component("hook", "0.1.0").unwrap();
        let e = m.check_component("metric", "0.1.0").unwrap_err().to_string();
        assert!(e.contains("kind `hook`") && e.contains("hammer:plugin/metric"), "{e}");
        let e = m.check_component("hook", "0.2.0").unwrap_err().to_string();
        assert!(e.contains("interface 0.1.0") && e.contains("hammer:plugin@0.2.0"), "{e}");
        assert!(m.check_component("sampler", "0.1.0").is_err());
        assert!(m.check_component("hook", "zero").is_err());
    }

    #[test]
    fn interface_compatibility_follows_semver() {
        let v = |s: &str| Version::parse(s).unwrap();
        assert!(interface_compatible(&v("0.1.3"), &v("0.1.0")));
        assert!(!interface_compatible(&v("0.2.0"), &v("0.1.0")));
        assert!(interface_compatible(&v("1.4.0"), &v("1.0.0")));
        assert!(!interface_compatible(&v("2.0.0"), &v("1.0.0")));
    }

    #[test]
    fn info_shows_capabilities_first() {
        let m = Manifest::from_toml(EMA).unwrap();
        let info = m.info();
        let caps = info.find("capabilities").unwrap();
        assert!(caps < info.find("description").unwrap() && caps < info.find("options").unwrap(), "{info}");
        assert!(info.contains("model_parameters") && info.contains("ema/snapshots") && info.contains("momentum (float, default 0.0002)"), "{info}");
    }
}
