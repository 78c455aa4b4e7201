//! ICMPv6 echo ("ping") sockets: echo requests sent by the stack itself, and their
//! replies and errors.
//!
//! Linux: net/ipv6/ping.c (`ping_v6_sendmsg`) on the shared `ping_rcv` / `ping_err` of
//! net/ipv4/ping.c. A socket is named by its echo identifier, as the IPv4 ones are.

use super::icmp::Icmp6Meta;
use super::output::Ip6SendParams;
use crate::buf::{PacketBuf, MAX_HEADER};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::icmpv6::{Icmpv6Message, Icmpv6Packet};
use crate::wire::IpProtocol;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

/// Replies kept per socket before the oldest is dropped.
const PING_QUEUE: usize = 256;
/// Ping sockets per stack.
const MAX_PING_SOCKETS: usize = 1024;

/// What came back for one echo request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ping6Reply {
    /// Who answered (the target, or a router reporting an error).
    pub from: Ipv6Addr,
    /// Sequence number.
    pub seq: u16,
    /// Hop limit of the reply.
    pub hop_limit: u8,
    /// ICMPv6 bytes received (header and data), as `ping` prints them.
    pub bytes: usize,
    /// Round-trip time, from the timestamp carried in the request.
    pub rtt: Option<Duration>,
    /// For an ICMPv6 error: its type and code.
    pub error: Option<(u8, u8)>,
}

/// The table of ICMPv6 ping sockets. Linux: `ping_table` (shared with IPv4 there).
#[derive(Debug, Default)]
pub(crate) struct Ping6Table {
    socks: HashMap<u16, VecDeque<Ping6Reply>>,
    /// Replies that found no socket.
    pub unmatched: u64,
}

impl Stack {
    /// Open an ICMPv6 ping socket; returns its echo identifier.
    /// Linux: `ping_init_sock` + `ping_get_port`.
    pub fn ping6_open(&mut self) -> Result<u16, Errno> {
        if self.ipv6.pings.socks.len() >= MAX_PING_SOCKETS {
            return Err(Errno::ENOBUFS);
        }
        loop {
            let ident = (self.random_u64() >> 48) as u16;
            if ident != 0 && !self.ipv6.pings.socks.contains_key(&ident) {
                self.ipv6.pings.socks.insert(ident, VecDeque::new());
                return Ok(ident);
            }
        }
    }

    /// Close an ICMPv6 ping socket.
    pub fn ping6_close(&mut self, ident: u16) -> Result<(), Errno> {
        self.ipv6
            .pings
            .socks
            .remove(&ident)
            .map(|_| ())
            .ok_or(Errno::EBADF)
    }

    /// Send an echo request to `dst` (a link-local or multicast one through `oif`) with
    /// `payload_len` data bytes, the first eight the send time as `ping` puts them.
    /// Linux: `ping_v6_sendmsg`.
    #[allow(clippy::too_many_arguments)]
    pub fn ping6_send(
        &mut self,
        ident: u16,
        dst: Ipv6Addr,
        oif: Option<u32>,
        seq: u16,
        payload_len: usize,
        hop_limit: Option<u8>,
        now: Instant,
    ) -> Result<(), Errno> {
        if !self.ipv6.pings.socks.contains_key(&ident) {
            return Err(Errno::EBADF);
        }
        if dst.is_unspecified() {
            return Err(Errno::EINVAL);
        }
        // No IPv6 fragmentation yet: a request over the link MTU is refused on output.
        if payload_len > usize::from(u16::MAX) - crate::wire::icmpv6::HEADER_LEN {
            return Err(Errno::EMSGSIZE);
        }
        let rt = self.ip6_route_output(&dst, oif)?;
        let src = self
            .ipv6_dev_get_saddr(rt.ifindex, &dst)
            .ok_or(Errno::EADDRNOTAVAIL)?;
        let len = crate::wire::icmpv6::HEADER_LEN + payload_len;
        let mut buf = if MAX_HEADER + len <= self.pool.buf_size() {
            self.pool.get(MAX_HEADER)
        } else {
            PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER)
        };
        // Unchecked: `put` gave the 8-byte header and the data, zeroed.
        let mut icmph = Icmpv6Packet::new_unchecked(buf.put(len));
        icmph.set_msg_type(Icmpv6Message::ECHO_REQUEST);
        icmph.set_word(u32::from(ident) << 16 | u32::from(seq));
        let data = icmph.data_mut();
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        if data.len() >= 8 {
            data[..8].copy_from_slice(&now.total_micros().to_be_bytes());
        }
        icmph.fill_checksum(&src, &dst);
        self.ipv6.icmp6.out_msgs += 1;
        self.ipv6.icmp6.out_echos += 1;
        let p = Ip6SendParams {
            src,
            dst,
            next_header: IpProtocol::ICMPV6,
            hop_limit: hop_limit.unwrap_or(self.ipv6.hop_limit),
        };
        let res = self.ip6_xmit(buf, p, rt, now);
        if res.is_err() {
            self.ipv6.icmp6.out_errors += 1;
        }
        res
    }

    /// Take the oldest reply or error received on an ICMPv6 ping socket.
    pub fn ping6_recv(&mut self, ident: u16) -> Result<Option<Ping6Reply>, Errno> {
        let q = self.ipv6.pings.socks.get_mut(&ident).ok_or(Errno::EBADF)?;
        Ok(q.pop_front())
    }

    /// Deliver an echo reply (or an error quoting our request) to its socket.
    /// Linux: `ping_rcv` / `ping_err`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ping6_rcv(
        &mut self,
        ident: u16,
        seq: u16,
        m: Icmp6Meta,
        bytes: usize,
        data: &[u8],
        error: Option<(u8, u8)>,
        now: Instant,
    ) {
        let Some(q) = self.ipv6.pings.socks.get_mut(&ident) else {
            self.ipv6.pings.unmatched += 1;
            return;
        };
        if q.len() >= PING_QUEUE {
            q.pop_front();
        }
        let sent = (data.len() >= 8).then(|| {
            let mut t = [0u8; 8];
            t.copy_from_slice(&data[..8]);
            Instant::from_micros(u64::from_be_bytes(t))
        });
        q.push_back(Ping6Reply {
            from: m.src,
            seq,
            hop_limit: m.hop_limit,
            bytes,
            rtt: sent.filter(|&t| t <= now).map(|t| now - t),
            error,
        });
    }
}
