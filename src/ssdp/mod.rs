//! SSDP (docs/protocol/ssdp.md): how a Sony body on the network is found. `message` is
//! the pure parse/format of NOTIFY, M-SEARCH and the search answer, `description` the pure
//! reading of the UPnP description documents; `listener` (host side, for offload) joins
//! the multicast group and reports bodies in "Send to Computer" for as long as it runs,
//! `search` (host side, for `list`) searches once, for a bounded time, for bodies in PC
//! Remote and in Send to Computer. No PTP here.

pub mod description;
pub mod listener;
pub mod message;
pub mod search;

pub use message::{Kind, Message, DIGITAL_IMAGING_SERVICE, MTP_NULL_SERVICE};
