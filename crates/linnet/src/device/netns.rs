//! The device side of a network namespace: its interfaces, the loopback device, and the
//! receive/transmit offload state (GRO trains, GSO scratch).
//!
//! Linux: `net->dev_base_head`, `net->loopback_dev`, and the per-CPU `napi_struct.gro_hash`.

use crate::buf::PacketBuf;
use crate::device::gro::GroList;
use crate::device::loopback::Loopback;
use crate::stack::Interface;
use crate::wire::Ipv4Addr;

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

impl NetnsDev {
    /// The interface with this index. Linux: `__dev_get_by_index`.
    #[inline]
    pub(crate) fn iface(&self, ifindex: u32) -> Option<&Interface> {
        // Indices are handed out in order and interfaces never go away, so the interface is
        // normally at `ifindex - 1`: one compare instead of a walk on every packet.
        match self.ifaces.get((ifindex as usize).wrapping_sub(1)) {
            Some(i) if i.ifindex == ifindex => Some(i),
            _ => self.ifaces.iter().find(|i| i.ifindex == ifindex),
        }
    }

    /// The interface with this index, to change it.
    #[inline]
    pub(crate) fn iface_mut(&mut self, ifindex: u32) -> Option<&mut Interface> {
        let pos = (ifindex as usize).wrapping_sub(1);
        if self.ifaces.get(pos).is_some_and(|i| i.ifindex == ifindex) {
            return self.ifaces.get_mut(pos);
        }
        self.ifaces.iter_mut().find(|i| i.ifindex == ifindex)
    }

    /// Whether `a` is one of our addresses (any interface, weak host model) or in 127/8.
    /// Linux: `inet_addr_type() == RTN_LOCAL`.
    pub(crate) fn is_local_addr(&self, a: Ipv4Addr) -> bool {
        a.is_loopback()
            || self
                .ifaces
                .iter()
                .any(|i| i.addrs.iter().any(|c| c.addr == a))
    }

    /// Whether `a` is a broadcast address we accept (limited, or a subnet's).
    pub(crate) fn is_broadcast_addr(&self, a: Ipv4Addr) -> bool {
        a.is_broadcast() || self.ifaces.iter().any(|i| i.is_subnet_broadcast(a))
    }
}
