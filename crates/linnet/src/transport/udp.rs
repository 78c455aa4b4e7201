//! UDP: datagram sockets and the receive path.
//!
//! Linux: net/ipv4/udp.c (`udp_rcv`, `__udp4_lib_rcv`, `__udp4_lib_lookup`, `udp_sendmsg`,
//! `udp_recvmsg`, `udp_v4_get_port`, `__udp4_lib_err`). The IPv6 side (and the
//! AF_INET6 socket's IPv4 traffic through v4-mapped addresses) is in [`super::udp6`].

use crate::buf::{PacketBuf, MAX_HEADER};
use crate::core::inet_addr::{same_peer, unmap, InetBinding};
use crate::core::sock::{MsgFlags, PollEvents, SockId};
use crate::errno::Errno;
use crate::ip::output::IpSendParams;
use crate::ip::IpMeta;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv4::dst_unreachable;
use crate::wire::udp::{UdpPacket, UdpRepr};
use crate::wire::{Icmpv4Message, IpProtocol, Ipv4Addr};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr, SocketAddrV4};

/// UDP header length.
pub const HEADER_LEN: usize = 8;
/// Largest UDP payload in one IPv4 datagram.
pub const MAX_PAYLOAD: usize = 65535 - 20 - HEADER_LEN;

/// A UDP socket. Linux: `struct udp_sock`.
#[derive(Debug)]
pub struct UdpSock {
    /// Local address (port 0 until bound). Its family is the socket's: an IPv6 socket
    /// (AF_INET6) has an IPv6 one, `::ffff:a.b.c.d` when bound or connected over IPv4.
    pub local: SocketAddr,
    /// Connected peer (in the socket's family).
    pub remote: Option<SocketAddr>,
    /// Received datagrams (buffers pulled to the payload) with their senders (an IPv4 sender
    /// of an IPv6 socket as a v4-mapped address).
    pub rx: VecDeque<(SocketAddr, PacketBuf)>,
    /// Payload bytes queued.
    pub rx_bytes: usize,
    /// `SO_RCVBUF`: payload bytes queued at most.
    pub rcvbuf: usize,
    /// `SO_BROADCAST`.
    pub broadcast: bool,
    /// Pending error (e.g. ECONNREFUSED from ICMP port unreachable on a connected socket).
    pub error: Option<Errno>,
}

impl UdpSock {
    /// A fresh unbound socket.
    pub fn new(rcvbuf: usize) -> UdpSock {
        UdpSock {
            local: SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0)),
            remote: None,
            rx: VecDeque::new(),
            rx_bytes: 0,
            rcvbuf,
            broadcast: false,
            error: None,
        }
    }

    /// Readiness. Linux: `udp_poll`.
    pub fn poll(&self) -> PollEvents {
        let mut ev = PollEvents::OUT;
        if !self.rx.is_empty() {
            ev |= PollEvents::IN;
        }
        if self.error.is_some() {
            ev |= PollEvents::ERR;
        }
        ev
    }
}

/// Bound UDP sockets by port. Linux: `udp_table`.
#[derive(Debug, Default)]
pub struct UdpTable {
    ports: HashMap<u16, Vec<SockId>>,
    next_ephemeral: u16,
    /// Counters. Linux: `mib.udp_statistics`.
    pub(crate) stats: crate::stats::UdpStats,
    /// Counters of UDP over IPv6. Linux: `mib.udp_stats_in6` (`Udp6*` of /proc/net/snmp6).
    pub(crate) stats6: crate::stats::UdpStats,
}

/// The socket table the UDP table's ids point into.
type Sockets = crate::core::sock::SocketTable<crate::transport::Socket>;

impl UdpTable {
    /// Whether `port` can be bound at `me` (by a socket with `reuse` set).
    /// Linux: `udp_lib_lport_inuse`, negated, with `inet_rcv_saddr_equal` deciding overlap
    /// between the families.
    pub(crate) fn port_free(
        &self,
        sockets: &Sockets,
        port: u16,
        me: InetBinding,
        reuse: bool,
    ) -> bool {
        let Some(v) = self.ports.get(&port) else {
            return true;
        };
        v.iter().all(|&o| {
            let Ok(e) = sockets.get(o) else {
                return true;
            };
            let crate::transport::Socket::Udp(u) = &e.sock else {
                return true;
            };
            let other = InetBinding::new(u.local.ip(), e.v6only);
            !me.overlaps(&other) || (reuse && e.reuseaddr)
        })
    }

    /// Find the socket for a datagram from `saddr`:`sport` to `daddr`:`dport` (of either
    /// family): a connected match beats a bound one, an exact local address beats the
    /// wildcard, and for IPv4 an AF_INET socket beats an AF_INET6 one at `::`.
    /// Linux: `__udp4_lib_lookup` / `__udp6_lib_lookup` (scoring with `compute_score`).
    #[inline]
    pub(crate) fn lookup(
        &self,
        sockets: &Sockets,
        saddr: IpAddr,
        sport: u16,
        daddr: IpAddr,
        dport: u16,
    ) -> Option<SockId> {
        let v = self.ports.get(&dport)?;
        let mut best: Option<(u8, SockId)> = None;
        for &id in v {
            let Ok(e) = sockets.get(id) else {
                continue;
            };
            let crate::transport::Socket::Udp(u) = &e.sock else {
                continue;
            };
            let Some(m) = InetBinding::new(u.local.ip(), e.v6only).accepts(daddr) else {
                continue;
            };
            // Exact address 4, wildcard 2; the socket's own family 1 more.
            let mut score = 2 * m + u8::from(u.local.is_ipv4() == daddr.is_ipv4());
            if let Some(r) = u.remote {
                if !same_peer(r, SocketAddr::new(saddr, sport)) {
                    continue;
                }
                score += 8;
            }
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, id));
            }
        }
        best.map(|(_, id)| id)
    }
}

impl Stack {
    /// Bind a UDP socket; the address's family becomes the socket's.
    /// Linux: `udp_v4_get_port` / `udp_v6_get_port`.
    pub(crate) fn udp_bind(&mut self, id: SockId, addr: SocketAddr) -> Result<(), Errno> {
        if self.sockets.udp_mut(id)?.local.port() != 0 {
            return Err(Errno::EINVAL);
        }
        let e = self.sockets.get(id)?;
        let reuse = e.reuseaddr;
        let ip = addr.ip();
        let me = InetBinding::new(ip, e.v6only);
        let port = if addr.port() != 0 {
            if !self.udp.port_free(&self.sockets, addr.port(), me, reuse) {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        } else {
            let (lo, hi) = self.config.tcp.local_port_range;
            let span = (hi - lo) as u32 + 1;
            if self.udp.next_ephemeral == 0 {
                self.udp.next_ephemeral = (self.random_u64() % span as u64) as u16;
            }
            let mut found = None;
            for i in 0..span {
                let p = lo + ((self.udp.next_ephemeral as u32 + i) % span) as u16;
                if self.udp.port_free(&self.sockets, p, me, false) {
                    found = Some(p);
                    self.udp.next_ephemeral = ((p - lo) as u32 + 1) as u16;
                    break;
                }
            }
            found.ok_or(Errno::EADDRINUSE)?
        };
        self.sockets.udp_mut(id)?.local = SocketAddr::new(ip, port);
        self.udp.ports.entry(port).or_default().push(id);
        Ok(())
    }

    /// Remove a UDP socket from the port table.
    pub(crate) fn udp_unhash(&mut self, id: SockId) {
        let Ok(u) = self.sockets.udp_mut(id) else {
            return;
        };
        let port = u.local.port();
        if let Some(v) = self.udp.ports.get_mut(&port) {
            v.retain(|&o| o != id);
            if v.is_empty() {
                self.udp.ports.remove(&port);
            }
        }
    }

    /// Set the default peer: the local address becomes the route's source if unbound.
    /// Linux: `ip4_datagram_connect` / `ip6_datagram_connect` (→ `__ip4_datagram_connect`
    /// for a v4-mapped peer).
    pub(crate) fn udp_connect(&mut self, id: SockId, addr: SocketAddr) -> Result<(), Errno> {
        if addr.ip().is_unspecified() && addr.port() == 0 {
            // AF_UNSPEC-like: dissolve the association.
            self.sockets.udp_mut(id)?.remote = None;
            return Ok(());
        }
        let dst = self.udp_dst(id, addr)?;
        let src = self.udp_route_src(dst)?;
        if self.sockets.udp_mut(id)?.local.port() == 0 {
            self.udp_autobind(id, dst)?;
        }
        let u = self.sockets.udp_mut(id)?;
        if u.local.ip().is_unspecified() {
            u.local = SocketAddr::new(src, u.local.port());
            if u.local.is_ipv6() {
                u.local = crate::core::inet_addr::v4_mapped(u.local);
            }
        }
        u.remote = Some(dst);
        Ok(())
    }

    /// `dst` in the socket's family: an IPv4 peer of an IPv6 socket v4-mapped (refused with
    /// `IPV6_V6ONLY`), an IPv6 one of an IPv4 socket refused. An unbound socket takes the
    /// peer's family. Linux: the `sin6_family` / `sin_family` checks of `udpv6_sendmsg` and
    /// `udp_sendmsg`.
    pub(crate) fn udp_dst(&self, id: SockId, dst: SocketAddr) -> Result<SocketAddr, Errno> {
        let e = self.sockets.get(id)?;
        let crate::transport::Socket::Udp(u) = &e.sock else {
            return Err(Errno::EOPNOTSUPP);
        };
        let v6 = if u.local.port() == 0 {
            dst.is_ipv6()
        } else {
            u.local.is_ipv6()
        };
        match (v6, dst) {
            (false, SocketAddr::V4(_)) => Ok(dst),
            (false, SocketAddr::V6(_)) => Err(Errno::EAFNOSUPPORT),
            (true, _) => {
                let d = crate::core::inet_addr::v4_mapped(dst);
                if e.v6only && unmap(d.ip()).is_ipv4() {
                    return Err(Errno::ENETUNREACH);
                }
                Ok(d)
            }
        }
    }

    /// Bind an unbound socket to an ephemeral port at the wildcard of `dst`'s family.
    /// Linux: `inet_autobind`.
    fn udp_autobind(&mut self, id: SockId, dst: SocketAddr) -> Result<(), Errno> {
        let any = if dst.is_ipv6() {
            IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED)
        } else {
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        };
        self.udp_bind(id, SocketAddr::new(any, 0))
    }

    /// The source address a datagram to `dst` would leave with (in `dst`'s form: v4-mapped
    /// for a v4-mapped peer). Linux: `ip_route_connect` / `ip6_dst_lookup_flow`.
    fn udp_route_src(&mut self, dst: SocketAddr) -> Result<IpAddr, Errno> {
        match (dst, unmap(dst.ip())) {
            (_, IpAddr::V4(d)) => {
                let src = self.ip_route_output(d, None)?.src;
                Ok(if dst.is_ipv6() {
                    IpAddr::V6(src.to_ipv6_mapped())
                } else {
                    IpAddr::V4(src)
                })
            }
            (SocketAddr::V6(d6), IpAddr::V6(d)) => {
                let oif = (d6.scope_id() != 0).then_some(d6.scope_id());
                let rt = self.ip6_route_output(&d, oif)?;
                self.ipv6_dev_get_saddr(rt.ifindex, &d)
                    .map(IpAddr::V6)
                    .ok_or(Errno::EADDRNOTAVAIL)
            }
            (SocketAddr::V4(_), IpAddr::V6(_)) => Err(Errno::EAFNOSUPPORT),
        }
    }

    /// Send one datagram, over IPv4 or IPv6 by the destination (a v4-mapped one over
    /// IPv4). Linux: `udp_sendmsg` / `udpv6_sendmsg`.
    pub(crate) fn udp_sendmsg(
        &mut self,
        id: SockId,
        data: &[u8],
        dst: Option<SocketAddr>,
        now: Instant,
    ) -> Result<usize, Errno> {
        let dst = match dst {
            Some(d) => self.udp_dst(id, d)?,
            None => self
                .sockets
                .udp_mut(id)?
                .remote
                .ok_or(Errno::EDESTADDRREQ)?,
        };
        if dst.port() == 0 {
            return Err(Errno::EINVAL);
        }
        if self.sockets.udp_mut(id)?.local.port() == 0 {
            self.udp_autobind(id, dst)?;
        }
        let u = self.sockets.udp_mut(id)?;
        let (local, broadcast_ok) = (u.local, u.broadcast);
        // `::` (without IPV6_V6ONLY, checked by udp_dst) sends IPv4 from 0.0.0.0.
        let lip = match (unmap(local.ip()), unmap(dst.ip())) {
            (IpAddr::V6(l), IpAddr::V4(_)) if l.is_unspecified() => {
                IpAddr::V4(Ipv4Addr::UNSPECIFIED)
            }
            (l, _) => l,
        };
        match (lip, unmap(dst.ip()), dst) {
            (IpAddr::V4(l), IpAddr::V4(d), _) => {
                let local = SocketAddrV4::new(l, local.port());
                let dst = SocketAddrV4::new(d, dst.port());
                self.udp_send_skb(local, dst, broadcast_ok, data, now)
            }
            (IpAddr::V6(l), IpAddr::V6(_), SocketAddr::V6(d)) => {
                self.udpv6_sendmsg(l, local.port(), d, data, now)
            }
            // A socket bound to an IPv4 (or v4-mapped) address sends no IPv6, and one bound
            // to an IPv6 address no IPv4. Linux: ENETUNREACH from udpv6_sendmsg.
            _ => Err(Errno::ENETUNREACH),
        }
    }

    /// Build and send one IPv4 datagram from `local` (its address unspecified: the route's
    /// source). Linux: `udp_sendmsg` → `udp_send_skb`.
    fn udp_send_skb(
        &mut self,
        local: SocketAddrV4,
        dst: SocketAddrV4,
        broadcast_ok: bool,
        data: &[u8],
        now: Instant,
    ) -> Result<usize, Errno> {
        if data.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        if (dst.ip().is_broadcast() || self.dev.is_broadcast_addr(*dst.ip())) && !broadcast_ok {
            return Err(Errno::EACCES);
        }
        let src = if local.ip().is_unspecified() {
            match self.ip_route_output(*dst.ip(), None) {
                Ok(rt) => rt.src,
                Err(e) => {
                    // Linux: udp_sendmsg counts OutNoRoutes when there is no route.
                    if e == Errno::ENETUNREACH {
                        self.ipv4.ip_stats.out_no_routes += 1;
                    }
                    return Err(e);
                }
            }
        } else {
            *local.ip()
        };
        let len = HEADER_LEN + data.len();
        let mut buf = PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER);
        {
            let d = buf.put(len);
            d[HEADER_LEN..].copy_from_slice(data);
            UdpRepr {
                src_port: local.port(),
                dst_port: dst.port(),
                payload_len: data.len(),
            }
            .emit_datagram(d, src, *dst.ip());
        }
        let p = IpSendParams {
            src: Some(src),
            dst: *dst.ip(),
            protocol: IpProtocol::UDP,
            ttl: None,
            tos: 0,
            dont_frag: false,
        };
        self.ip_send(buf, p, now)?;
        self.udp.stats.out_datagrams += 1;
        Ok(data.len())
    }

    /// Take one datagram. Linux: `udp_recvmsg`.
    pub(crate) fn udp_recvmsg(
        &mut self,
        id: SockId,
        out: &mut [u8],
        flags: MsgFlags,
    ) -> Result<(usize, SocketAddr), Errno> {
        let u = self.sockets.udp_mut(id)?;
        if let Some(e) = u.error.take() {
            return Err(e);
        }
        if flags.peek {
            let Some((from, b)) = u.rx.front() else {
                return Err(Errno::EAGAIN);
            };
            let n = b.len().min(out.len());
            out[..n].copy_from_slice(&b.data()[..n]);
            return Ok((n, *from));
        }
        let Some((from, b)) = u.rx.pop_front() else {
            return Err(Errno::EAGAIN);
        };
        let n = b.len().min(out.len());
        out[..n].copy_from_slice(&b.data()[..n]);
        u.rx_bytes -= b.len();
        self.pool.put(b);
        Ok((n, from))
    }

    /// Validate a UDP datagram (data at the UDP header) and queue it on its socket, or answer
    /// port unreachable. Linux: `__udp4_lib_rcv`.
    pub(crate) fn udp_rcv(&mut self, mut buf: PacketBuf, ip: &IpMeta, now: Instant) {
        self.trace(
            &buf,
            crate::trace::Stage::UdpRcv,
            crate::trace::Detail::None,
        );
        // A header shorter than 8 bytes or a length field outside 8..=the data: both
        // UDP_MIB_INERRORS, dropped as too small.
        let Ok(udph) = UdpPacket::new_checked(buf.data()) else {
            self.udp.stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::PktTooSmall);
        };
        let (sport, dport, ulen) = (udph.src_port(), udph.dst_port(), usize::from(udph.len()));
        // Sums the datagram up to the length field, i.e. what is left after the trim below;
        // a zero checksum field means none and verifies.
        let csum_bad =
            buf.meta.csum == crate::buf::CsumState::None && !udph.verify_checksum(ip.src, ip.dst);
        buf.trim(ulen);
        if csum_bad {
            self.udp.stats.in_csum_errors += 1;
            self.udp.stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::UdpCsum);
        }
        let (saddr, daddr) = (IpAddr::V4(ip.src), IpAddr::V4(ip.dst));
        let Some(id) = self.udp.lookup(&self.sockets, saddr, sport, daddr, dport) else {
            self.udp.stats.no_ports += 1;
            if !ip.broadcast {
                self.icmp_send_error(
                    &buf,
                    Icmpv4Message::DST_UNREACHABLE,
                    dst_unreachable::PORT,
                    0,
                    now,
                );
            }
            return self.drop_pkt(buf, DropReason::NoSocket);
        };
        buf.pull(HEADER_LEN);
        self.udp_queue_rcv(id, buf, SocketAddr::new(saddr, sport), false)
    }

    /// Queue a datagram (data at its payload) from `from` on socket `id` and wake it, or
    /// drop it on a full receive buffer; counted in `Udp6*` when it came over IPv6.
    /// Linux: `udp_queue_rcv_skb` → `__udp_queue_rcv_skb`.
    pub(crate) fn udp_queue_rcv(&mut self, id: SockId, buf: PacketBuf, from: SocketAddr, v6: bool) {
        let Ok(u) = self.sockets.udp_mut(id) else {
            return self.drop_pkt(buf, DropReason::NoSocket);
        };
        let stats = if v6 {
            &mut self.udp.stats6
        } else {
            &mut self.udp.stats
        };
        if u.rx_bytes + buf.len() > u.rcvbuf {
            // Linux: UDP_MIB_RCVBUFERRORS.
            stats.rcvbuf_errors += 1;
            stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::SocketRcvbuff);
        }
        // An IPv6 socket names an IPv4 sender by its v4-mapped address.
        let from = if u.local.is_ipv6() {
            crate::core::inet_addr::v4_mapped(from)
        } else {
            from
        };
        u.rx_bytes += buf.len();
        let tid = buf.meta.trace_id;
        u.rx.push_back((from, buf));
        stats.in_datagrams += 1;
        self.obs.trace_by_id(
            tid,
            0,
            crate::trace::Stage::SkWake,
            crate::trace::Detail::None,
        );
        self.sk_wake(id);
    }

    /// An ICMP error quoting one of our datagrams. Linux: `__udp4_lib_err`: only connected
    /// sockets hear about it (as Linux without IP_RECVERR).
    pub(crate) fn udp_err(&mut self, src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8], err: Errno) {
        if l4.len() < 4 {
            return;
        }
        // Unchecked: an ICMP error quotes at least the ports (checked just above), not
        // necessarily the whole header.
        let udph = UdpPacket::new_unchecked(l4);
        let (sport, dport) = (udph.src_port(), udph.dst_port());
        let (peer, local) = (
            SocketAddr::new(dst.into(), dport),
            SocketAddr::new(src.into(), sport),
        );
        self.udp_err_notify(peer, local, err);
    }

    /// Tell the socket that sent from `local` to `peer` of an error, if it is connected.
    /// Linux: `__udp4_lib_err` / `__udp6_lib_err` after their lookups.
    pub(crate) fn udp_err_notify(&mut self, peer: SocketAddr, local: SocketAddr, err: Errno) {
        let (p, l) = (peer, local);
        if let Some(id) = self
            .udp
            .lookup(&self.sockets, p.ip(), p.port(), l.ip(), l.port())
        {
            if let Ok(u) = self.sockets.udp_mut(id) {
                if u.remote.is_some() {
                    u.error = Some(err);
                    self.sk_wake(id);
                }
            }
        }
    }
}
