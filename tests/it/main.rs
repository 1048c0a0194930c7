//! The integration tests, one binary: every module below is one area (the CLI per
//! subcommand, the pipeline against the emulator, offload, the fault matrix, the
//! repository's own rules), and `support` holds what several of them use.
//!
//! One binary links the library once instead of once per file, and the helpers live in
//! one place. Some tests stay binaries of their own where they must:
//! `decode_alloc`, `pipeline_alloc`, `pipewire_alloc` and `reconnect_memory` install a
//! counting global allocator (it would count every other test's allocations too), and
//! `usb_real` runs in the QEMU guest one test at a time, where its process name is
//! part of what it checks (`tests/usb_real_guest.sh`).
//!
//! Tests that need a namespace re-run one `#[ignore]`d test of this binary inside it by
//! its full name (`module::name`), see `support::netns`.

mod support;

mod cli_control;
mod cli_docs;
mod cli_doctor;
mod cli_list;
mod cli_list_network;
mod cli_offload;
mod cli_pair;
mod cli_usage;
mod cli_usb_modes;
mod cli_webcam;
mod decode;
mod docs_links;
mod emulated_pipeline;
mod error_chains;
mod events;
mod fault_matrix;
mod layering;
mod multi_camera;
mod offload_emulated;
mod offload_loopback;
#[cfg(feature = "pipewire")]
mod pipewire;
mod webcam_ptpip;
