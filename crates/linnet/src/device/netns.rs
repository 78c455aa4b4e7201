//! The device side of a network namespace: its interfaces, the loopback device, and the
//! receive/transmit offload state (GRO trains, GSO scratch).
//!
//! Linux: `net->dev_base_head`, `net->loopback_dev`, and the per-CPU `napi_struct.gro_hash`.

use crate::buf::PacketBuf;
use crate::device::gro::GroList;
use crate::device::loopback::Loopback;
use crate::stack::Interface;

/// Devices of one stack.
#[derive(Debug, Default)]
pub(crate) struct NetnsDev {
    /// Interfaces, in index order. Linux: `dev_base_head`, `dev_index_head`.
    pub(crate) ifaces: Vec<Interface>,
    /// The loopback device's backlog and counters. Linux: `loopback_dev`.
    pub(crate) loopback: Loopback,
    /// Trains held by GRO during one receive batch (Linux: `napi_struct.gro_hash`).
    pub(crate) gro: GroList,
    /// Segments of one GSO super-packet, reused between calls.
    pub(crate) gso_scratch: Vec<PacketBuf>,
}
