//! UDP: datagram sockets and the receive path.
//!
//! Linux: net/ipv4/udp.c (`udp_rcv`, `__udp4_lib_rcv`, `__udp4_lib_lookup`, `udp_sendmsg`,
//! `udp_recvmsg`, `udp_v4_get_port`, `__udp4_lib_err`).

use crate::buf::{PacketBuf, MAX_HEADER};
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
use std::net::SocketAddrV4;

/// UDP header length.
pub const HEADER_LEN: usize = 8;
/// Largest UDP payload in one IPv4 datagram.
pub const MAX_PAYLOAD: usize = 65535 - 20 - HEADER_LEN;

/// A UDP socket. Linux: `struct udp_sock`.
#[derive(Debug)]
pub struct UdpSock {
    /// Local address (port 0 until bound).
    pub local: SocketAddrV4,
    /// Connected peer.
    pub remote: Option<SocketAddrV4>,
    /// Received datagrams (buffers pulled to the payload) with their senders.
    pub rx: VecDeque<(SocketAddrV4, PacketBuf)>,
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
            local: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0),
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
}

/// The socket table the UDP table's ids point into.
type Sockets = crate::core::sock::SocketTable<crate::transport::Socket>;

impl UdpTable {
    /// Whether `port` can be bound at `ip` (by a socket with `reuse` set). Linux:
    /// `udp_lib_lport_inuse`, negated.
    fn port_free(&self, sockets: &Sockets, port: u16, ip: Ipv4Addr, reuse: bool) -> bool {
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
            let oip = *u.local.ip();
            let overlap = oip.is_unspecified() || ip.is_unspecified() || oip == ip;
            !overlap || (reuse && e.reuseaddr)
        })
    }

    /// Find the socket for a datagram: a connected match beats a bound one, an exact local
    /// address beats the wildcard. Linux: `__udp4_lib_lookup` (scoring with `compute_score`).
    #[inline]
    fn lookup(&self, sockets: &Sockets, ip: &IpMeta, sport: u16, dport: u16) -> Option<SockId> {
        let v = self.ports.get(&dport)?;
        let mut best: Option<(u8, SockId)> = None;
        for &id in v {
            let Ok(e) = sockets.get(id) else {
                continue;
            };
            let crate::transport::Socket::Udp(u) = &e.sock else {
                continue;
            };
            let mut score = 1u8;
            if !u.local.ip().is_unspecified() {
                if *u.local.ip() != ip.dst {
                    continue;
                }
                score += 2;
            }
            if let Some(r) = u.remote {
                if *r.ip() != ip.src || r.port() != sport {
                    continue;
                }
                score += 4;
            }
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, id));
            }
        }
        best.map(|(_, id)| id)
    }
}

impl Stack {
    /// Bind a UDP socket. Linux: `udp_v4_get_port`.
    pub(crate) fn udp_bind(&mut self, id: SockId, addr: SocketAddrV4) -> Result<(), Errno> {
        if self.sockets.udp_mut(id)?.local.port() != 0 {
            return Err(Errno::EINVAL);
        }
        let reuse = self.sockets.get(id)?.reuseaddr;
        let ip = *addr.ip();
        let port = if addr.port() != 0 {
            if !self.udp.port_free(&self.sockets, addr.port(), ip, reuse) {
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
                if self.udp.port_free(&self.sockets, p, ip, false) {
                    found = Some(p);
                    self.udp.next_ephemeral = ((p - lo) as u32 + 1) as u16;
                    break;
                }
            }
            found.ok_or(Errno::EADDRINUSE)?
        };
        self.sockets.udp_mut(id)?.local = SocketAddrV4::new(ip, port);
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

    /// Set the default peer. Linux: `ip4_datagram_connect`.
    pub(crate) fn udp_connect(&mut self, id: SockId, addr: SocketAddrV4) -> Result<(), Errno> {
        if addr.ip().is_unspecified() && addr.port() == 0 {
            // AF_UNSPEC-like: dissolve the association.
            self.sockets.udp_mut(id)?.remote = None;
            return Ok(());
        }
        let src = self.ip_route_output(*addr.ip(), None)?.src;
        if self.sockets.udp_mut(id)?.local.port() == 0 {
            self.udp_bind(id, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        }
        let u = self.sockets.udp_mut(id)?;
        if u.local.ip().is_unspecified() {
            u.local = SocketAddrV4::new(src, u.local.port());
        }
        u.remote = Some(addr);
        Ok(())
    }

    /// Send one datagram. Linux: `udp_sendmsg` → `udp_send_skb`.
    pub(crate) fn udp_sendmsg(
        &mut self,
        id: SockId,
        data: &[u8],
        dst: Option<SocketAddrV4>,
        now: Instant,
    ) -> Result<usize, Errno> {
        if data.len() > MAX_PAYLOAD {
            return Err(Errno::EMSGSIZE);
        }
        if self.sockets.udp_mut(id)?.local.port() == 0 {
            self.udp_bind(id, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0))?;
        }
        let u = self.sockets.udp_mut(id)?;
        let dst = match (dst, u.remote) {
            (Some(d), _) => d,
            (None, Some(r)) => r,
            (None, None) => return Err(Errno::EDESTADDRREQ),
        };
        if dst.port() == 0 {
            return Err(Errno::EINVAL);
        }
        let broadcast_ok = u.broadcast;
        let local = u.local;
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
    ) -> Result<(usize, SocketAddrV4), Errno> {
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
        let Some(id) = self.udp.lookup(&self.sockets, ip, sport, dport) else {
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
        let Ok(u) = self.sockets.udp_mut(id) else {
            return self.drop_pkt(buf, DropReason::NoSocket);
        };
        if u.rx_bytes + buf.len() > u.rcvbuf {
            // Linux: UDP_MIB_RCVBUFERRORS.
            self.udp.stats.rcvbuf_errors += 1;
            self.udp.stats.in_errors += 1;
            return self.drop_pkt(buf, DropReason::SocketRcvbuff);
        }
        u.rx_bytes += buf.len();
        let tid = buf.meta.trace_id;
        u.rx.push_back((SocketAddrV4::new(ip.src, sport), buf));
        self.udp.stats.in_datagrams += 1;
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
        let meta = IpMeta {
            src: dst,
            dst: src,
            protocol: IpProtocol::UDP,
            ttl: 0,
            tos: 0,
            broadcast: false,
        };
        if let Some(id) = self.udp.lookup(&self.sockets, &meta, dport, sport) {
            if let Ok(u) = self.sockets.udp_mut(id) {
                if u.remote.is_some() {
                    u.error = Some(err);
                    self.sk_wake(id);
                }
            }
        }
    }
}
