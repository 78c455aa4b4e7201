//! UDP over IPv6: the receive path (checksum over the IPv6 pseudo-header, a zero checksum
//! refused, port unreachable through ICMPv6's rate-limited error path), the send path, and
//! ICMPv6 errors quoting our datagrams. The socket table and the IPv4 path are in
//! [`super::udp`]; AF_INET6 sockets take IPv4 traffic there as v4-mapped addresses.
//!
//! Linux: net/ipv6/udp.c (`udpv6_rcv` / `__udp6_lib_rcv`, `udpv6_sendmsg`,
//! `udp_v6_send_skb`, `__udp6_lib_err`).

use super::udp::HEADER_LEN;
use crate::buf::{PacketBuf, MAX_HEADER};
use crate::errno::Errno;
use crate::ipv6::input::Ip6Meta;
use crate::ipv6::output::Ip6SendParams;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{dst_unreachable, Icmpv6Message};
use crate::wire::udp::{UdpPacket, UdpRepr};
use crate::wire::IpProtocol;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, SocketAddrV6};

/// Largest UDP payload in one IPv6 datagram without a jumbogram option: the payload length
/// field (65535) less the UDP header.
pub const MAX_PAYLOAD6: usize = 65535 - HEADER_LEN;

impl Stack {
    /// A UDP datagram over IPv6 (`buf`'s data at the UDP header, the IPv6 header `m.l4_off`
    /// bytes before it): validate length and checksum (zero is an error over IPv6), find the
    /// socket, or answer ICMPv6 port unreachable (rate limited per destination by
    /// `icmp6_send`). Linux: `udpv6_rcv` → `__udp6_lib_rcv`.
    pub(crate) fn udpv6_rcv(&mut self, mut buf: PacketBuf, m: Ip6Meta, now: Instant) {
        self.trace(
            &buf,
            crate::trace::Stage::UdpRcv,
            crate::trace::Detail::None,
        );
        let Ok(udph) = UdpPacket::new_checked(buf.data()) else {
            self.udp.stats6.in_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        };
        let (sport, dport, ulen) = (udph.src_port(), udph.dst_port(), usize::from(udph.len()));
        let csum_ok = buf.meta.csum != crate::buf::CsumState::None && udph.checksum() != 0
            || udph.verify_checksum_v6(&m.src, &m.dst);
        buf.trim(ulen);
        if !csum_ok {
            self.udp.stats6.in_csum_errors += 1;
            self.udp.stats6.in_errors += 1;
            return self.drop_pkt(buf, DropReason::UdpCsum);
        }
        let (saddr, daddr) = (IpAddr::V6(m.src), IpAddr::V6(m.dst));
        let Some(id) = self.udp.lookup(&self.sockets, saddr, sport, daddr, dport) else {
            self.udp.stats6.no_ports += 1;
            // icmp6_send wants the offending datagram from its IPv6 header.
            if buf.push(m.l4_off).is_some() {
                self.icmp6_send(
                    &buf,
                    Icmpv6Message::DST_UNREACHABLE,
                    dst_unreachable::PORT_UNREACH,
                    0,
                    now,
                );
            }
            return self.drop_pkt(buf, DropReason::NoSocket);
        };
        buf.pull(HEADER_LEN);
        let scope = if m.src.is_unicast_link_local() {
            m.ifindex
        } else {
            0
        };
        let from = SocketAddr::V6(SocketAddrV6::new(m.src, sport, 0, scope));
        self.udp_queue_rcv(id, buf, from, true)
    }

    /// Build and send one IPv6 datagram from `local`:`sport` (`local` unspecified: the
    /// source the route chooses) to `dst` (a link-local one through its scope id).
    /// Linux: `udpv6_sendmsg` → `ip6_make_skb` → `udp_v6_send_skb`.
    pub(crate) fn udpv6_sendmsg(
        &mut self,
        local: Ipv6Addr,
        sport: u16,
        dst: SocketAddrV6,
        data: &[u8],
        now: Instant,
    ) -> Result<usize, Errno> {
        if data.len() > MAX_PAYLOAD6 {
            return Err(Errno::EMSGSIZE);
        }
        let daddr = *dst.ip();
        let oif = (dst.scope_id() != 0).then_some(dst.scope_id());
        let rt = match self.ip6_route_output(&daddr, oif) {
            Ok(rt) => rt,
            Err(e) => {
                if e == Errno::ENETUNREACH {
                    self.ipv6.stats.out_no_routes += 1;
                }
                return Err(e);
            }
        };
        let src = if local.is_unspecified() {
            self.ipv6_dev_get_saddr(rt.ifindex, &daddr)
                .ok_or(Errno::EADDRNOTAVAIL)?
        } else {
            local
        };
        let len = HEADER_LEN + data.len();
        let mut buf = if MAX_HEADER + len <= self.pool.buf_size() {
            self.pool.get(MAX_HEADER)
        } else {
            PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER)
        };
        {
            let d = buf.put(len);
            d[HEADER_LEN..].copy_from_slice(data);
            UdpRepr {
                src_port: sport,
                dst_port: dst.port(),
                payload_len: data.len(),
            }
            .emit_datagram_v6(d, &src, &daddr);
        }
        let p = Ip6SendParams {
            src,
            dst: daddr,
            next_header: IpProtocol::UDP,
            hop_limit: self.ipv6.hop_limit,
        };
        self.ip6_xmit(buf, p, rt, now)?;
        self.udp.stats6.out_datagrams += 1;
        Ok(data.len())
    }

    /// An ICMPv6 error quoting one of our datagrams (`l4` at its UDP header, `src`/`dst`
    /// from the quoted IPv6 header): a connected socket hears `err`. Linux: `__udp6_lib_err`.
    pub(crate) fn udpv6_err(&mut self, src: Ipv6Addr, dst: Ipv6Addr, l4: &[u8], err: Errno) {
        if l4.len() < 4 {
            return;
        }
        let udph = UdpPacket::new_unchecked(l4);
        let peer = SocketAddr::new(dst.into(), udph.dst_port());
        let local = SocketAddr::new(src.into(), udph.src_port());
        self.udp_err_notify(peer, local, err);
    }
}
