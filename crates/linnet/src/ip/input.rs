//! IPv4 receive: header validation, destination classification, local delivery.
//!
//! Linux: net/ipv4/ip_input.c (`ip_rcv`, `ip_rcv_core`, `ip_rcv_finish`, `ip_local_deliver`,
//! `ip_local_deliver_finish`).

use super::netns::NetnsIpv4;
use super::route::InputRoute;
use super::IpMeta;
use crate::buf::{PacketBuf, PacketType};
use crate::stack::{Stack, LOOPBACK_IFINDEX};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::trace::{Detail, Stage};
use crate::wire::icmpv4::dst_unreachable;
use crate::wire::ipv4::HEADER_LEN;
use crate::wire::tcp::TcpPacket;
use crate::wire::{Icmpv4Message, IpProtocol, Ipv4Packet};

impl Stack {
    /// Validate a received IPv4 header and trim link padding. Linux: `ip_rcv` → `ip_rcv_core`.
    pub(crate) fn ip_rcv(&mut self, mut buf: PacketBuf, now: Instant) {
        self.ipv4.ip_stats.in_receives += 1;
        self.trace(&buf, Stage::IpRcv, Detail::None);
        let len = buf.len();
        if len < HEADER_LEN {
            self.ipv4.ip_stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        }
        let pkt = Ipv4Packet::new_unchecked(buf.data());
        let ihl = pkt.header_len();
        if pkt.version() != 4 || ihl < HEADER_LEN || len < ihl {
            self.ipv4.ip_stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInhdr);
        }
        self.ipv4.ip_ecn_stats(&buf, ihl);
        if crate::wire::checksum::checksum(&buf.data()[..ihl]) != 0 {
            self.ipv4.ip_stats.in_csum_errors += 1;
            self.ipv4.ip_stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpCsum);
        }
        let total = pkt.total_len() as usize;
        if total > len {
            self.ipv4.ip_stats.in_truncated_pkts += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        }
        if total < ihl {
            self.ipv4.ip_stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInhdr);
        }
        // Ethernet pads short frames; the datagram ends where its length field says.
        buf.trim(total);
        buf.reset_network_header();
        if self.nf.active {
            let Some(b) = self.nf_hook(crate::netfilter::Hook::PreRouting, buf, 0, now) else {
                return;
            };
            buf = b;
        }
        self.ip_rcv_finish(buf, now)
    }

    /// Decide where a valid datagram goes. Linux: `ip_rcv_finish` → `ip_rcv_finish_core`
    /// (early demux, then `ip_route_input_noref`).
    fn ip_rcv_finish(&mut self, mut buf: PacketBuf, now: Instant) {
        let pkt = Ipv4Packet::new_unchecked(buf.data());
        let (src, dst) = (pkt.src_addr(), pkt.dst_addr());
        // Martian sources (Linux: ip_route_input_slow's martian_source checks).
        if src.is_multicast()
            || src.is_broadcast()
            || (src.is_loopback() && buf.meta.ifindex != LOOPBACK_IFINDEX)
            || self.dev.is_broadcast_addr(src)
        {
            return self.drop_pkt(buf, DropReason::IpInvalidSource);
        }
        if dst.is_unspecified() || (dst.is_loopback() && buf.meta.ifindex != LOOPBACK_IFINDEX) {
            self.ipv4.ip_stats.in_addr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInvalidSource);
        }
        // Early demux: a segment of a known connection whose socket remembers this input
        // route as local skips the lookup, and the socket found rides along in `meta.sk` so
        // TCP does not look it up again. Not with netfilter on: its LOCAL_IN NAT may still
        // rewrite the addresses the socket was found by.
        let demux = if self.nf.active {
            None
        } else {
            self.tcp_v4_early_demux(&buf)
        };
        let key = (self.ipv4.rt_genid(), buf.meta.ifindex, buf.meta.mark);
        let rt = match demux {
            Some((id, rx_dst)) if rx_dst == Some(key) => {
                buf.meta.sk = Some(id);
                InputRoute::Local
            }
            _ => {
                let rt = self.ip_route_input(dst, src, buf.meta.ifindex, buf.meta.mark);
                if let (Some((id, _)), InputRoute::Local) = (demux, &rt) {
                    self.tcp_set_rx_dst(id, key);
                    buf.meta.sk = Some(id);
                }
                rt
            }
        };
        self.obs.trace_route_input(&buf, || rt.trace_name());
        match rt {
            InputRoute::Local => self.ip_local_deliver(buf, false, now),
            InputRoute::Broadcast => self.ip_local_deliver(buf, true, now),
            InputRoute::Forward(rt) => self.ip_forward(buf, rt, now),
            InputRoute::Error(e) => self.ip_error(buf, e, now),
            InputRoute::Martian => {
                self.ipv4.ip_stats.in_addr_errors += 1;
                self.drop_pkt(buf, DropReason::IpInvalidDest)
            }
        }
    }

    /// Hand a datagram for this host to its protocol. Linux: `ip_local_deliver` →
    /// `ip_local_deliver_finish` → `ip_protocol_deliver_rcu`.
    fn ip_local_deliver(&mut self, mut buf: PacketBuf, broadcast: bool, now: Instant) {
        self.trace(&buf, Stage::IpLocalDeliver, Detail::None);
        if Ipv4Packet::new_unchecked(buf.data()).is_fragment() {
            let (tid, ifindex) = (buf.meta.trace_id, buf.meta.ifindex);
            match self.ip_defrag(buf, now) {
                Some(whole) => buf = self.obs.trace_defrag(tid, whole),
                None => {
                    return self.obs.trace_by_id(
                        tid,
                        ifindex,
                        Stage::IpDefrag,
                        Detail::Note("queued"),
                    )
                }
            }
        }
        if self.nf.active {
            let Some(b) = self.nf_hook(crate::netfilter::Hook::LocalIn, buf, 0, now) else {
                return;
            };
            buf = b;
        }
        let pkt = Ipv4Packet::new_unchecked(buf.data());
        let meta = IpMeta {
            src: pkt.src_addr(),
            dst: pkt.dst_addr(),
            protocol: pkt.protocol(),
            ttl: pkt.ttl(),
            tos: (pkt.dscp() << 2) | pkt.ecn(),
            broadcast: broadcast
                || buf.meta.pkt_type != PacketType::Host && buf.meta.ifindex != LOOPBACK_IFINDEX,
        };
        let ihl = pkt.header_len();
        buf.pull(ihl);
        buf.reset_transport_header();
        match meta.protocol {
            IpProtocol::ICMP => {
                self.ipv4.ip_stats.in_delivers += 1;
                self.icmp_rcv(buf, &meta, now)
            }
            IpProtocol::UDP => {
                self.ipv4.ip_stats.in_delivers += 1;
                self.udp_rcv(buf, &meta, now)
            }
            IpProtocol::TCP => {
                self.ipv4.ip_stats.in_delivers += 1;
                self.tcp_v4_rcv(buf, &meta, now)
            }
            _ => {
                // No handler: answer protocol unreachable. Linux: ip_protocol_deliver_rcu.
                self.ipv4.ip_stats.in_unknown_protos += 1;
                if !meta.broadcast {
                    self.icmp_send_error(
                        &buf,
                        Icmpv4Message::DST_UNREACHABLE,
                        dst_unreachable::PROTOCOL,
                        0,
                        now,
                    );
                }
                self.drop_pkt(buf, DropReason::IpNoproto)
            }
        }
    }
}

impl NetnsIpv4 {
    /// Count a received datagram by its ECN field, a GRO train as the segments it holds.
    /// Linux: `ip_rcv_core` (`IPSTATS_MIB_NOECTPKTS + (iph->tos & INET_ECN_MASK)`, by
    /// `gso_segs`).
    #[inline]
    fn ip_ecn_stats(&mut self, buf: &PacketBuf, ihl: usize) {
        let d = buf.data();
        let gso = buf.meta.gso_size as usize;
        let segs = if gso > 0 {
            // The payload after the TCP header, by the segment size. Unchecked view: read
            // only when the data offset byte is there (20 bytes assumed otherwise).
            let thl = match d.get(ihl..) {
                Some(th) if th.len() > 12 => usize::from(TcpPacket::new_unchecked(th).header_len()),
                _ => 20,
            };
            d.len().saturating_sub(ihl + thl).div_ceil(gso).max(1) as u64
        } else {
            1
        };
        let s = &mut self.ip_stats;
        match Ipv4Packet::new_unchecked(d).ecn() {
            0 => s.in_noect_pkts += segs,
            1 => s.in_ect1_pkts += segs,
            2 => s.in_ect0_pkts += segs,
            _ => s.in_ce_pkts += segs,
        }
    }
}
