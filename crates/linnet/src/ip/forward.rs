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
        self.trace(
            &buf,
            crate::trace::Stage::IpForward,
            crate::trace::Detail::None,
        );
        if buf.meta.pkt_type != PacketType::Host {
            // Sent to a link broadcast or multicast address: never forwarded.
            return self.drop_pkt(buf, DropReason::IpInvalidDest);
        }
        let pkt = Ipv4Packet::new_unchecked(buf.data());
        let (ttl, dont_frag, dst) = (pkt.ttl(), pkt.dont_frag(), pkt.dst_addr());
        if ttl <= 1 {
            // Linux counts an expired TTL as a header error.
            self.ipv4.ip_stats.in_hdr_errors += 1;
            self.icmp_send_error(
                &buf,
                Icmpv4Message::TIME_EXCEEDED,
                time_exceeded::TTL,
                0,
                now,
            );
            return self.drop_pkt(buf, DropReason::IpTtlExpired);
        }
        // The route's `mtu` metric holds for forwarded traffic too. Linux:
        // ip_dst_mtu_maybe_forward ("'forwarding = true' case should always honour route mtu").
        let Some(mtu) = self.iface(rt.ifindex).map(|i| match rt.metrics.mtu {
            0 => i.mtu,
            m => i.mtu.min(m as usize),
        }) else {
            self.ipv4.ip_stats.out_discards += 1;
            return self.drop_pkt(buf, DropReason::DevReady);
        };
        if dont_frag && !crate::device::gso::skb_gso_validate_network_len(&buf, mtu) {
            // Linux: ip_exceeds_mtu → icmp_send(ICMP_FRAG_NEEDED, htonl(mtu)).
            self.ipv4.ip_stats.frag_fails += 1;
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
        if self.nf.active {
            let hook = crate::netfilter::Hook::Forward;
            let Some(b) = self.nf_hook(hook, buf, rt.ifindex, now) else {
                return;
            };
            buf = b;
        }
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
        self.ipv4.ip_stats.forw_datagrams += 1;
        // Failures (no neighbour, full queue) are counted where they happen.
        let hop = super::output::NextHop {
            ifindex: rt.ifindex,
            nexthop,
            broadcast: false,
        };
        let _ = self.ip_output(buf, hop, rt.metrics.mtu, now);
    }

    /// Drop a received datagram that has no usable route, telling its sender why when this
    /// host forwards: network unreachable (no route, `InNoRoutes`), host unreachable (an
    /// `unreachable` route), administratively prohibited (`prohibit`); a `blackhole` is
    /// silent. A host that does not forward only counts it (`InAddrErrors`).
    /// Linux: `ip_error`.
    pub(crate) fn ip_error(&mut self, buf: PacketBuf, err: Errno, now: Instant) {
        if !self.config.ip_forward {
            if err == Errno::ENETUNREACH {
                self.ipv4.ip_stats.in_no_routes += 1;
                return self.drop_pkt(buf, DropReason::IpInnoroutes);
            }
            self.ipv4.ip_stats.in_addr_errors += 1;
            return self.drop_pkt(buf, DropReason::IpNotForUs);
        }
        let (code, reason) = match err {
            Errno::ENETUNREACH => {
                self.ipv4.ip_stats.in_no_routes += 1;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EthernetAddress, Icmpv4Packet, IpProtocol, Ipv4Addr, Ipv4Repr};
    use crate::StackConfig;

    const R0_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
    const R1_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 1]);
    const H0_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
    const H1_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 2]);
    const H0: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const H1: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

    /// A router: eth0 192.0.2.1/24 (MTU 1500), eth1 198.51.100.1/24 (MTU 1000), a host known
    /// on each.
    fn router() -> (Stack, u32, u32) {
        let mut s = Stack::new(StackConfig {
            ip_forward: true,
            ..StackConfig::default()
        });
        let e0 = s.add_interface("eth0", R0_MAC, 1500);
        let e1 = s.add_interface("eth1", R1_MAC, 1000);
        let now = Instant::ZERO;
        s.add_addr(e0, "192.0.2.1/24".parse().unwrap(), now)
            .unwrap();
        s.add_addr(e1, "198.51.100.1/24".parse().unwrap(), now)
            .unwrap();
        for i in [e0, e1] {
            s.set_link_up(i, true, now).unwrap();
            while s.take_tx(i, now).is_some() {}
        }
        s.add_neighbour(e0, H0, H0_MAC, now).unwrap();
        s.add_neighbour(e1, H1, H1_MAC, now).unwrap();
        (s, e0, e1)
    }

    /// An Ethernet frame to `mac` carrying a datagram H0 → `dst` with `len` payload bytes.
    fn frame(mac: EthernetAddress, dst: Ipv4Addr, len: usize, ttl: u8, df: bool) -> PacketBuf {
        let mut f = Vec::new();
        f.extend_from_slice(&mac.0);
        f.extend_from_slice(&H0_MAC.0);
        f.extend_from_slice(&[0x08, 0x00]);
        let mut h = [0u8; 20];
        Ipv4Repr {
            src_addr: H0,
            dst_addr: dst,
            protocol: IpProtocol::UDP,
            payload_len: len,
            ttl,
            tos: 0x10,
            ident: 0x1234,
            dont_frag: df,
        }
        .emit(&mut h);
        f.extend_from_slice(&h);
        f.extend((0..len).map(|i| i as u8));
        PacketBuf::from_slice(&f, 64)
    }

    fn sent(s: &mut Stack, ifindex: u32) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(b) = s.take_tx(ifindex, Instant::ZERO) {
            out.push(b.data().to_vec());
            s.recycle(b);
        }
        out
    }

    #[test]
    fn forwarded_datagram_is_the_same_but_for_ttl_and_checksum() {
        let (mut s, e0, e1) = router();
        let f = frame(R0_MAC, H1, 200, 64, true);
        let orig = f.data().to_vec();
        s.receive(e0, f, Instant::ZERO);
        let out = sent(&mut s, e1);
        assert_eq!(out.len(), 1);
        let o = &out[0];
        assert_eq!(&o[0..6], &H1_MAC.0, "to the next hop's MAC");
        assert_eq!(&o[6..12], &R1_MAC.0, "from the output interface");
        assert_eq!(o.len(), orig.len());
        let ip = Ipv4Packet::new_checked(&o[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert!(
            ip.verify_checksum(),
            "incrementally patched checksum verifies"
        );
        let mut recomputed = o[14..34].to_vec();
        Ipv4Packet::new_unchecked(&mut recomputed[..]).fill_checksum();
        assert_eq!(
            &recomputed[..],
            &o[14..34],
            "and equals a full recomputation"
        );
        // Everything else is untouched.
        assert_eq!(&o[14..22], &orig[14..22]);
        assert_eq!(&o[23..24], &orig[23..24]);
        assert_eq!(&o[26..], &orig[26..]);
        assert_eq!(s.snmp().ip.forw_datagrams, 1);
        assert!(sent(&mut s, e0).is_empty());
    }

    #[test]
    fn df_too_big_gets_frag_needed_with_the_next_hop_mtu() {
        let (mut s, e0, e1) = router();
        s.receive(e0, frame(R0_MAC, H1, 1200, 64, true), Instant::ZERO);
        assert!(sent(&mut s, e1).is_empty());
        let back = sent(&mut s, e0);
        assert_eq!(back.len(), 1);
        let ip = Ipv4Packet::new_checked(&back[0][14..]).unwrap();
        assert_eq!(ip.src_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(ip.dst_addr(), H0);
        let icmp = ip.payload();
        let icmph = Icmpv4Packet::new_checked(icmp).unwrap();
        assert_eq!(
            (icmph.msg_type(), icmph.msg_code()),
            (Icmpv4Message::DST_UNREACHABLE, 4),
            "fragmentation needed"
        );
        assert_eq!(icmph.next_hop_mtu(), 1000, "next-hop MTU");
        let quoted = Ipv4Packet::new_unchecked(&icmp[8..]);
        assert_eq!(quoted.ttl(), 64, "the header as it arrived");
        assert_eq!(quoted.dst_addr(), H1);
        assert_eq!(s.snmp().ip.frag_fails, 1);
        assert_eq!(s.snmp().ip.forw_datagrams, 0);
        assert_eq!(s.drops().get(DropReason::PktTooBig), 1);
        // Without DF it is the output path's to deal with: forwarded, no error.
        s.receive(e0, frame(R0_MAC, H1, 1200, 64, false), Instant::ZERO);
        assert_eq!(s.snmp().ip.forw_datagrams, 1);
        assert!(sent(&mut s, e0).is_empty());
    }

    #[test]
    fn expiring_ttl_gets_time_exceeded() {
        let (mut s, e0, e1) = router();
        for ttl in [1, 0] {
            s.receive(e0, frame(R0_MAC, H1, 20, ttl, false), Instant::ZERO);
        }
        assert!(sent(&mut s, e1).is_empty());
        let back = sent(&mut s, e0);
        assert_eq!(back.len(), 2);
        for b in &back {
            let ip = Ipv4Packet::new_checked(&b[14..]).unwrap();
            assert_eq!(&ip.payload()[..2], &[11, 0]);
        }
        assert_eq!(s.snmp().icmp.out_time_excds, 2);
        assert_eq!(s.drops().get(DropReason::IpTtlExpired), 2);
    }

    #[test]
    fn link_broadcast_is_not_forwarded_nor_answered() {
        let (mut s, e0, e1) = router();
        s.receive(
            e0,
            frame(EthernetAddress::BROADCAST, H1, 20, 64, false),
            Instant::ZERO,
        );
        s.receive(
            e0,
            frame(
                EthernetAddress::BROADCAST,
                Ipv4Addr::new(203, 0, 113, 1),
                20,
                64,
                false,
            ),
            Instant::ZERO,
        );
        assert!(sent(&mut s, e1).is_empty());
        assert!(sent(&mut s, e0).is_empty());
        assert_eq!(s.drops().get(DropReason::IpInvalidDest), 1);
        assert_eq!(s.drops().get(DropReason::IpInnoroutes), 1);
        assert_eq!(s.snmp().icmp.out_msgs, 0);
    }
}
