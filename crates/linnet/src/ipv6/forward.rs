//! IPv6 forwarding between interfaces when `net.ipv6.conf.all.forwarding` is on.
//!
//! Linux: net/ipv6/ip6_output.c (`ip6_forward`, `ip6_forward_finish`, `ip6_pkt_too_big`).

use super::route::Rt6Result;
use crate::buf::PacketBuf;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{dst_unreachable, time_exceeded, Icmpv6Message};
use crate::wire::ipv6::{ipv6_addr_type, Ipv6Scope};
use crate::wire::Ipv6Packet;

impl Stack {
    /// Forward a datagram not addressed to us: a link-local source stays on its link
    /// (destination unreachable, beyond scope), an expiring hop limit gets time exceeded,
    /// no route destination unreachable, a datagram over the next link's MTU packet too big
    /// (routers never fragment IPv6); the rest leaves with the hop limit one lower.
    /// Linux: `ip6_forward`.
    pub(crate) fn ip6_forward(&mut self, mut buf: PacketBuf, now: Instant) {
        let p = Ipv6Packet::new_unchecked(buf.data());
        let (src, dst, hop_limit) = (p.src_addr(), p.dst_addr(), p.hop_limit());
        if buf.meta.pkt_type != crate::buf::PacketType::Host {
            self.ipv6.stats.in_discards += 1;
            return self.drop_pkt(buf, DropReason::IpInvalidDest);
        }
        if ipv6_addr_type(&dst).1 == Ipv6Scope::LinkLocal {
            self.ipv6.stats.in_addr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInvalidDest);
        }
        if hop_limit <= 1 {
            self.icmp6_send(
                &buf,
                Icmpv6Message::TIME_EXCEEDED,
                time_exceeded::HOP_LIMIT,
                0,
                now,
            );
            self.ipv6.stats.in_hdr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpTtlExpired);
        }
        if ipv6_addr_type(&src).1 == Ipv6Scope::LinkLocal {
            self.icmp6_send(
                &buf,
                Icmpv6Message::DST_UNREACHABLE,
                dst_unreachable::BEYOND_SCOPE,
                0,
                now,
            );
            self.ipv6.stats.in_addr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpInvalidSource);
        }
        let rt: Rt6Result = match self.ip6_route_output(&dst, None) {
            Ok(rt) if rt.ifindex != crate::stack::LOOPBACK_IFINDEX => rt,
            _ => {
                self.icmp6_send(
                    &buf,
                    Icmpv6Message::DST_UNREACHABLE,
                    dst_unreachable::NO_ROUTE,
                    0,
                    now,
                );
                self.ipv6.stats.in_no_routes += 1;
                return self.drop_pkt(buf, DropReason::IpInnoroutes);
            }
        };
        let mtu = self.iface(rt.ifindex).map_or(0, |i| i.mtu);
        if buf.len() > mtu {
            let mtu = mtu.max(crate::wire::ipv6::MIN_MTU) as u32;
            self.icmp6_send(&buf, Icmpv6Message::PKT_TOO_BIG, 0, mtu, now);
            self.ipv6.stats.in_too_big_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooBig);
        }
        Ipv6Packet::new_unchecked(buf.data_mut()).set_hop_limit(hop_limit - 1);
        self.ipv6.stats.out_forw_datagrams += 1;
        let _ = self.ip6_output(buf, rt, now);
    }
}
