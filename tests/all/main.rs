//! All integration tests of hammer, one module per topic, in one binary.

mod bad_input;
mod bundles;
mod data;
mod distributed;
mod first_hour;
mod lock;
mod models;
mod phases;
mod plugins;
mod polyglot;
mod pytorch;
mod resume;
mod scaffold;
mod sandbox;
mod train;
