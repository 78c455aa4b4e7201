//! Packets not addressed to this host: forwarding them to the next hop, or refusing them.
//!
//! Linux: net/ipv4/ip_forward.c (`ip_forward`, `ip_forward_finish`, `ip_exceeds_mtu`) and
//! `ip_error` (net/ipv4/route.c). The route was found by `ip_route_input` (with the input
//! interface, source and mark, so policy rules apply); forwarding hands the packet to the same
//! `ip_output` path local packets take. Redirects are not sent.

use super::route::Route;
use crate::buf::{PacketBuf, PacketType};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv4::{dst_unreachable, time_exceeded};
use crate::wire::{Icmpv4Message, Ipv4Packet};

impl Stack {
    /// Forward a received datagram (data at its IPv4 header) along `rt`: refuse link-level
    /// broadcasts, answer an expiring TTL with ICMP time exceeded, a DF datagram too big for
    /// the output link with ICMP fragmentation needed (carrying the link's MTU), otherwise
    /// decrement the TTL (checksum patched incrementally, RFC 1624) and send it on.
    /// Linux: `ip_forward`.
    pub(crate) fn ip_forward(&mut self, mut buf: PacketBuf, rt: Route, now: Instant) {
        if buf.meta.pkt_type != PacketType::Host {
            // Sent to a link broadcast or multicast address: never forwarded.
            return self.drop_pkt(buf, DropReason::IpInvalidDest);
        }
        let pkt = Ipv4Packet::new_unchecked(buf.data());
        let (ttl, dont_frag, dst) = (pkt.ttl(), pkt.dont_frag(), pkt.dst_addr());
        if ttl <= 1 {
            // Linux counts an expired TTL as a header error.
            self.ip_stats.in_hdr_errors += 1;
            self.icmp_send_error(
                &buf,
                Icmpv4Message::TIME_EXCEEDED,
                time_exceeded::TTL,
                0,
                now,
            );
            return self.drop_pkt(buf, DropReason::IpTtlExpired);
        }
        let Some(mtu) = self.iface(rt.ifindex).map(|i| i.mtu) else {
            self.ip_stats.out_discards += 1;
            return self.drop_pkt(buf, DropReason::DevReady);
        };
        if dont_frag && buf.len() > mtu {
            // Linux: ip_exceeds_mtu → icmp_send(ICMP_FRAG_NEEDED, htonl(mtu)).
            self.ip_stats.frag_fails += 1;
            let next_hop_mtu = mtu.min(usize::from(u16::MAX)) as u32;
            self.icmp_send_error(
                &buf,
                Icmpv4Message::DST_UNREACHABLE,
                dst_unreachable::FRAG_NEEDED,
                next_hop_mtu,
                now,
            );
            return self.drop_pkt(buf, DropReason::PktTooBig);
        }
        Ipv4Packet::new_unchecked(buf.data_mut()).decrease_ttl();
        self.ip_forward_finish(buf, &rt, rt.gateway.unwrap_or(dst), now)
    }

    /// Count the datagram as forwarded and send it towards `nexthop` (a datagram too big for
    /// the link but fragmentable is left to `ip_output`). Linux: `ip_forward_finish` →
    /// `dst_output` → `ip_output`.
    fn ip_forward_finish(
        &mut self,
        buf: PacketBuf,
        rt: &Route,
        nexthop: crate::wire::Ipv4Addr,
        now: Instant,
    ) {
        self.ip_stats.forw_datagrams += 1;
        // Failures (no neighbour, full queue) are counted where they happen.
        let _ = self.ip_output(buf, rt.ifindex, nexthop, false, now);
    }

    /// Drop a received datagram that has no usable route, telling its sender why when this
    /// host forwards: network unreachable (no route, `InNoRoutes`), host unreachable (an
    /// `unreachable` route), administratively prohibited (`prohibit`); a `blackhole` is
    /// silent. A host that does not forward only counts it (`InAddrErrors`).
    /// Linux: `ip_error`.
    pub(crate) fn ip_error(&mut self, buf: PacketBuf, err: Errno, now: Instant) {
        if !self.config.ip_forward {
            if err == Errno::ENETUNREACH {
                self.ip_stats.in_no_routes += 1;
                return self.drop_pkt(buf, DropReason::IpInnoroutes);
            }
            self.ip_stats.in_addr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpNotForUs);
        }
        let (code, reason) = match err {
            Errno::ENETUNREACH => {
                self.ip_stats.in_no_routes += 1;
                (dst_unreachable::NET, DropReason::IpInnoroutes)
            }
            Errno::EHOSTUNREACH => (dst_unreachable::HOST, DropReason::IpInnoroutes),
            Errno::EACCES => (dst_unreachable::PKT_FILTERED, DropReason::IpProhibited),
            _ => return self.drop_pkt(buf, DropReason::IpBlackhole),
        };
        // No error about a datagram that came as a link-level broadcast (RFC 1122 3.2.2).
        if buf.meta.pkt_type == PacketType::Host {
            self.icmp_send_error(&buf, Icmpv4Message::DST_UNREACHABLE, code, 0, now);
        }
        self.drop_pkt(buf, reason)
    }
}
