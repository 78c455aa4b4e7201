//! ARP: answering requests for our addresses, learning neighbours, soliciting, announcing.
//!
//! Linux: net/ipv4/arp.c (`arp_rcv`, `arp_process`, `arp_send`, `arp_solicit`).

use super::ethernet::eth_header;
use super::neigh_output::NeighOps;
use super::NeighTable;
use crate::buf::{PacketBuf, PacketType, MAX_HEADER};
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::{ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetAddress, Ipv4Addr};

/// ARP's part of the shared neighbour code. Linux: `arp_tbl` and `arp_generic_ops`.
impl NeighOps for Ipv4Addr {
    const ETHERTYPE: EtherType = EtherType::IPV4;

    fn tbl(stack: &mut Stack) -> &mut NeighTable<Self> {
        &mut stack.neigh
    }

    fn in_events(stack: &mut Stack) -> &mut bool {
        &mut stack.in_neigh_events
    }

    fn solicit(
        stack: &mut Stack,
        ifindex: u32,
        ip: Self,
        unicast: Option<EthernetAddress>,
        now: Instant,
    ) {
        stack.arp_solicit(ifindex, ip, unicast, now);
    }

    /// Linux: `arp_error_report` → `icmp_send(HOST_UNREACH)`.
    fn error_report(stack: &mut Stack, buf: &PacketBuf, reason: DropReason, now: Instant) {
        if reason == DropReason::NeighFailed {
            stack.icmp_send_error(
                buf,
                crate::wire::Icmpv4Message::DST_UNREACHABLE,
                crate::wire::icmpv4::dst_unreachable::HOST,
                0,
                now,
            );
        }
    }

    fn out_discards(stack: &mut Stack) -> &mut u64 {
        &mut stack.ipv4.ip_stats.out_discards
    }

    fn no_dev_discards(stack: &mut Stack) -> &mut u64 {
        &mut stack.drops.core.tx_dropped
    }
}

impl Stack {
    /// Receive an ARP packet (data at the ARP header). Linux: `arp_rcv` → `arp_process`.
    pub(crate) fn arp_rcv(&mut self, buf: PacketBuf, now: Instant) {
        self.neigh.stats.rx += 1;
        self.trace(
            &buf,
            crate::trace::Stage::ArpRcv,
            crate::trace::Detail::None,
        );
        let ifindex = buf.meta.ifindex;
        let repr = match ArpPacket::new_checked(buf.data()).and_then(|p| ArpRepr::parse(&p)) {
            Ok(r) => r,
            Err(_) => return self.drop_pkt(buf, DropReason::ArpInvalid),
        };
        let pkt_type = buf.meta.pkt_type;
        self.pool.put(buf);
        let Some(dev_mac) = self.iface(ifindex).map(|i| i.mac) else {
            return;
        };
        let sip = repr.source_protocol_addr;
        let tip = repr.target_protocol_addr;
        let sha = repr.source_hardware_addr;
        // Linux arp_process: no replies about multicast or loopback targets, no learning
        // from a sender claiming to be a group or our own link address.
        if tip.is_multicast() || tip.is_loopback() || !sha.is_unicast() || sha == dev_mac {
            return self.count_drop(DropReason::ArpInvalid);
        }
        let is_request = repr.operation == ArpOperation::REQUEST;
        let tip_local = self.dev.arp_addr_is_local(tip);
        if sip.is_unspecified() {
            // RFC 5227 address probe: answer if it asks for an address of ours, learn nothing.
            if is_request && tip_local {
                self.arp_send(ifindex, ArpOperation::REPLY, sha, sha, tip, sip, now);
            }
            return;
        }
        if is_request && tip_local {
            // Learn the asker (STALE), then answer. Linux: neigh_event_ns + arp_send(REPLY).
            self.neigh.update(ifindex, sip, sha, false, true, now);
            self.arp_send(ifindex, ArpOperation::REPLY, sha, sha, tip, sip, now);
        } else {
            // A reply to us confirms the neighbour; anything else (gratuitous ARP, replies
            // seen by broadcast) only refreshes an existing entry (arp_accept = 0).
            let solicited = repr.operation == ArpOperation::REPLY && pkt_type == PacketType::Host;
            self.neigh.update(ifindex, sip, sha, solicited, false, now);
        }
        self.neigh_run_events::<Ipv4Addr>(now);
    }

    /// Build and queue an ARP packet on `ifindex`. Linux: `arp_send` / `arp_create`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn arp_send(
        &mut self,
        ifindex: u32,
        operation: ArpOperation,
        eth_dst: EthernetAddress,
        target_hw: EthernetAddress,
        source_ip: Ipv4Addr,
        target_ip: Ipv4Addr,
        now: Instant,
    ) {
        let Some(dev_mac) = self.iface(ifindex).map(|i| i.mac) else {
            return;
        };
        let repr = ArpRepr {
            operation,
            source_hardware_addr: dev_mac,
            source_protocol_addr: source_ip,
            target_hardware_addr: target_hw,
            target_protocol_addr: target_ip,
        };
        let mut buf = self.pool.get(MAX_HEADER);
        repr.emit(buf.put(repr.buffer_len()));
        buf.reset_network_header();
        if !eth_header(&mut buf, dev_mac, eth_dst, EtherType::ARP) {
            return self.pool.put(buf);
        }
        if operation == ArpOperation::REPLY {
            self.neigh.stats.replies_sent += 1;
        }
        self.obs.trace_arp_out(&mut buf, ifindex, now);
        let _ = self.dev_queue_xmit(ifindex, buf, now);
    }

    /// Send a solicitation for `ip`: broadcast, or unicast to a known address when probing.
    /// The sender address is ours on the target's subnet if we have one. Linux: `arp_solicit`.
    pub(crate) fn arp_solicit(
        &mut self,
        ifindex: u32,
        ip: Ipv4Addr,
        unicast: Option<EthernetAddress>,
        now: Instant,
    ) {
        let Some(sip) = self.dev.inet_select_addr(ifindex, ip) else {
            return;
        };
        let (eth_dst, tha) = match unicast {
            Some(mac) => (mac, mac),
            None => (EthernetAddress::BROADCAST, EthernetAddress::ZERO),
        };
        self.arp_send(ifindex, ArpOperation::REQUEST, eth_dst, tha, sip, ip, now);
    }

    /// Announce an address with a gratuitous ARP request (sender = target = `addr`), so that
    /// neighbours update stale caches. Linux: `arp_send(ARPOP_REQUEST, ..., ifa_local, ...)`
    /// from `inetdev_event`.
    pub(crate) fn arp_announce(&mut self, ifindex: u32, addr: Ipv4Addr, now: Instant) {
        self.neigh.stats.requests_sent += 1;
        self.arp_send(
            ifindex,
            ArpOperation::REQUEST,
            EthernetAddress::BROADCAST,
            EthernetAddress::ZERO,
            addr,
            addr,
            now,
        );
    }
}
