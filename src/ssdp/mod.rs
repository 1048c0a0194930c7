//! SSDP (docs/protocol/ssdp.md): how a Sony body in "Send to Computer" is found. `message`
//! is the pure parse/format of NOTIFY, M-SEARCH and the search answer; `listener` (host
//! side) joins the multicast group, searches and reports cameras. No PTP here.

pub mod listener;
pub mod message;

pub use message::{Kind, Message, MTP_NULL_SERVICE};
