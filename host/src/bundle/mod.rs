//! Versioned plugin bundles: packing, the local store, and resolution.
//!
//! # The bundle format (`<name>-<version>.hpkg`)
//!
//! A bundle is one self-contained file: a POSIX ustar archive (readable by
//! `tar tf`) with exactly two regular-file entries, in this order:
//!
//! 1. `manifest.toml`: the sealed [`Manifest`];
//! 2. `component.wasm`: the WebAssembly component.
//!
//! The archive is deterministic, so packing the same inputs twice gives
//! identical bytes: every header has mode `0644`, uid and gid 0, mtime 0, no
//! user or group name, type `0`, magic `ustar\0` version `00`, its checksum
//! written as six octal digits, NUL, space; data is zero-padded to 512-byte
//! blocks; two zero blocks end the archive. Reading is strict: anything
//! else (another entry, another order, a header whose checksum does not
//! match, nonzero padding, bytes after the end) is refused.
//!
//! The manifest (TOML, unknown keys refused):
//!
//! ```toml
//! name = "ema"                  # letters, digits, `_`, `-`
//! version = "0.1.0"             # semver, no build metadata
//! kind = "hook"                 # "hook" | "metric" | "lr-policy"
//! interface = "0.1.0"           # the hammer:plugin WIT version it was built against
//! description = "Exponential moving average of the weights."
//! sha256 = "…"                  # of component.wasm; filled in by `pack`
//!
//! [capabilities]
//! model_parameters = true       # handles to the model's parameters
//! work_dir = "ema"              # optional: a directory under the job's work dir
//!
//! [options.momentum]
//! type = "float"                # bool | integer | float | string | integers | floats | strings
//! default = 0.0002              # optional
//! doc = "ema = (1-m)·ema + m·param"
//! # manifest sha256: 3f1c…      (the seal: the last line, in a bundle and in the store)
//! ```
//!
//! The last line of a packed manifest is its seal, `# manifest sha256:
//! <hex>`, the sha256 of every byte before that line (a TOML comment, so
//! any TOML reader still reads the file). With `sha256` it makes every
//! byte of a bundle checked: a header by its checksum, the manifest by its
//! seal, the component by `sha256`, padding and the end by being zero. The
//! seal also identifies a bundle's whole content ([`Bundle::digest`]).
//!
//! # Modules
//!
//! - [`manifest`]: the manifest, its rules, the seal, interface compatibility;
//! - [`archive`]: [`Bundle`] (read, verify, write) and [`pack`];
//! - [`store`]: [`Store`] under `$HAMMER_HOME/store`: install, list, remove,
//!   verify, resolve;
//! - [`schema`]: a plugin's options checked against the manifest's schema;
//! - [`digest`]: components' sha256, remembered by file identity so an
//!   unchanged file is not hashed at every start.
//!
//! The kind and interface a component really exports are read by the
//! caller (with the wasmtime runtime, [`crate::plugin::Runtime`]) and passed
//! to [`pack`] and [`Manifest::check_component`]: this module only hashes
//! components, it never compiles them.

pub mod archive;
pub mod digest;
pub mod manifest;
pub mod schema;
pub mod store;

pub use archive::{pack, Bundle};
pub use digest::Digests;
pub use manifest::{sha256_hex, interface_compatible, Capabilities, Kind, Manifest, OptionSpec, OptionType};
pub use schema::check_options;
pub use store::{Install, Installed, Outcome, Problem, ResolveError, Store};

/// The bundle file extension, without the dot.
pub const EXTENSION: &str = "hpkg";
