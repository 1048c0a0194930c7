//! alpha-bridge: a Sony Alpha camera as a Linux webcam, Wi-Fi offload target and
//! pairing partner, plus an emulated Sony body that lets all of it run without a camera.
//!
//! Layers (see `STYLE.md` of the project and `tests/it/layering.rs`): `ptp` is sans-IO,
//! `transport` moves bytes, `camera` speaks Sony over a transport, `frame`, `decode`
//! and `sink` handle pictures, `pipeline`, `offload`, `pair` and `emulator` tie threads
//! together. The command line lives in `src/cli` and `src/main.rs`.

pub mod camera;
pub mod config;
pub mod control;
pub mod decode;
pub mod emulator;
mod font;
pub mod frame;
pub mod fsutil;
pub mod offload;
pub mod pair;
pub mod pipeline;
pub mod ptp;
pub mod sink;
pub mod ssdp;
pub mod transport;
