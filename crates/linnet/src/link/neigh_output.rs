//! The stack's side of a neighbour table, written once for ARP and NDP: sending through the
//! table, transmitting with the resolved link address, and acting on the table's events.
//! Each family supplies its part through [`NeighOps`] (ARP's in `super::arp`, NDP's in
//! `crate::ipv6::ndisc`).
//!
//! Linux: net/core/neighbour.c (`neigh_output`, `neigh_resolve_output`, `neigh_update`'s
//! queue flush) over a table's `struct neigh_ops` (`arp_generic_ops`, `ndisc_generic_ops`).

use super::ethernet::eth_header;
use super::neighbour::{NeighEvent, NeighKey, NeighOutput, NeighTable};
use crate::buf::PacketBuf;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::trace::{Detail, Stage};
use crate::wire::{EtherType, EthernetAddress};

/// What one address family adds to the shared neighbour code. Linux: `struct neigh_ops`
/// plus the table (`arp_tbl`, `nd_tbl`) and the family's output counters.
pub(crate) trait NeighOps: NeighKey {
    /// EtherType of the frames carrying this family's packets.
    const ETHERTYPE: EtherType;
    /// The family's neighbour table.
    fn tbl(stack: &mut Stack) -> &mut NeighTable<Self>;
    /// Set while the table's events are being acted on (re-entrant calls return at once).
    fn in_events(stack: &mut Stack) -> &mut bool;
    /// Ask for the link address of `ip`. Linux: `neigh_ops->solicit`.
    fn solicit(
        stack: &mut Stack,
        ifindex: u32,
        ip: Self,
        unicast: Option<EthernetAddress>,
        now: Instant,
    );
    /// Account for (and, when resolution failed, report) a packet the table gave up on,
    /// before it is dropped. Linux: `neigh_ops->error_report`.
    fn error_report(stack: &mut Stack, buf: &PacketBuf, reason: DropReason, now: Instant);
    /// The counter a packet lost on the way to the device adds to (`OutDiscards`).
    fn out_discards(stack: &mut Stack) -> &mut u64;
    /// The counter a packet for a vanished device adds to.
    fn no_dev_discards(stack: &mut Stack) -> &mut u64;
}

impl Stack {
    /// Send `buf` to `nexthop` on `ifindex` through the family's neighbour table: at once
    /// when the address is known, else queued while it is resolved.
    /// Linux: `neigh_output` (the `NUD_CONNECTED` fast path) → `neigh_resolve_output`.
    pub(crate) fn neigh_output<P: NeighOps>(
        &mut self,
        ifindex: u32,
        nexthop: P,
        buf: PacketBuf,
        now: Instant,
    ) -> Result<(), Errno> {
        let res = if let Some(mac) = P::tbl(self).output_connected(ifindex, nexthop, now) {
            self.neigh_xmit::<P>(ifindex, mac, buf, now)
        } else {
            let tid = buf.meta.trace_id;
            match P::tbl(self).output(ifindex, nexthop, buf, now) {
                NeighOutput::Xmit(mac, buf) => self.neigh_xmit::<P>(ifindex, mac, buf, now),
                NeighOutput::Queued => self.obs.trace_queued(tid, ifindex),
            }
        };
        self.neigh_run_events::<P>(now);
        res
    }

    /// Prepend the Ethernet header for `dst` and queue the frame on the device.
    /// Linux: `neigh_hh_output` / `dev_hard_header` + `dev_queue_xmit`.
    pub(crate) fn neigh_xmit<P: NeighOps>(
        &mut self,
        ifindex: u32,
        dst: EthernetAddress,
        mut buf: PacketBuf,
        now: Instant,
    ) -> Result<(), Errno> {
        let Some(src) = self.iface(ifindex).map(|i| i.mac) else {
            *P::no_dev_discards(self) += 1;
            self.drop_pkt(buf, DropReason::DevReady);
            return Err(Errno::ENODEV);
        };
        self.trace(&buf, Stage::NeighOutput, Detail::Note("xmit"));
        if !eth_header(&mut buf, src, dst, P::ETHERTYPE) {
            *P::out_discards(self) += 1;
            self.drop_pkt(buf, DropReason::PktTooSmall);
            return Err(Errno::ENOBUFS);
        }
        let res = self.dev_queue_xmit(ifindex, buf, now);
        if res.is_err() {
            *P::out_discards(self) += 1;
        }
        res
    }

    /// Act on what the family's table asked for: solicitations, flushes of packets that
    /// waited for an address, error reports for those that cannot be delivered.
    /// Re-entrant calls return at once: the outermost loop picks up new events.
    /// Linux: the table's `neigh_ops` and `neigh_update`'s queue flush.
    #[inline]
    pub(crate) fn neigh_run_events<P: NeighOps>(&mut self, now: Instant) {
        // Nothing to do is the per-packet case: decided inline, without touching the rest.
        if P::tbl(self).events.is_empty() || *P::in_events(self) {
            return;
        }
        self.neigh_run_events_slow::<P>(now);
    }

    #[cold]
    fn neigh_run_events_slow<P: NeighOps>(&mut self, now: Instant) {
        *P::in_events(self) = true;
        let mut events = Vec::new();
        while !P::tbl(self).events.is_empty() {
            std::mem::swap(&mut events, &mut P::tbl(self).events);
            for ev in events.drain(..) {
                match ev {
                    NeighEvent::Solicit {
                        ifindex,
                        ip,
                        unicast,
                    } => P::solicit(self, ifindex, ip, unicast, now),
                    NeighEvent::Flush { ifindex, mac, buf } => {
                        let _ = self.neigh_xmit::<P>(ifindex, mac, buf, now);
                    }
                    NeighEvent::Discard { buf, reason } => {
                        P::error_report(self, &buf, reason, now);
                        self.drop_pkt(buf, reason);
                    }
                }
            }
        }
        *P::in_events(self) = false;
    }
}
