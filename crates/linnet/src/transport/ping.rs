//! Ping sockets: ICMP echo requests sent by the stack itself, and their replies.
//!
//! Linux: net/ipv4/ping.c (`ping_v4_sendmsg`, `ping_rcv`, `ping_err`), the datagram ICMP
//! sockets that unprivileged `ping` uses. A socket is named by its echo identifier.

use crate::buf::{PacketBuf, MAX_HEADER};
use crate::errno::Errno;
use crate::ip::output::IpSendParams;
use crate::ip::IpMeta;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::Icmpv4Packet;
use crate::wire::{Icmpv4Message, IpProtocol, Ipv4Addr};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Replies kept per socket before the oldest is dropped.
const PING_QUEUE: usize = 256;
/// Ping sockets per stack.
const MAX_PING_SOCKETS: usize = 1024;

/// What came back for one echo request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingReply {
    /// Who answered (the target, or a router reporting an error).
    pub from: Ipv4Addr,
    /// Sequence number.
    pub seq: u16,
    /// TTL of the reply.
    pub ttl: u8,
    /// ICMP bytes received (header and data), as `ping` prints them.
    pub bytes: usize,
    /// Round-trip time, from the timestamp carried in the request.
    pub rtt: Option<Duration>,
    /// For an ICMP error: its type and code.
    pub error: Option<(u8, u8)>,
}

#[derive(Debug, Default)]
struct PingSock {
    replies: VecDeque<PingReply>,
}

/// The table of ping sockets. Linux: `ping_table`.
#[derive(Debug, Default)]
pub struct PingTable {
    socks: HashMap<u16, PingSock>,
    /// Replies that found no socket.
    pub unmatched: u64,
}

impl PingTable {
    /// Deliver an echo reply (or an error quoting our request) to its socket.
    /// Linux: `ping_rcv` / `ping_err`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn ping_rcv(
        &mut self,
        ident: u16,
        seq: u16,
        ip: &IpMeta,
        bytes: usize,
        sent: Option<Instant>,
        error: Option<(u8, u8)>,
        now: Instant,
    ) {
        let Some(s) = self.socks.get_mut(&ident) else {
            self.unmatched += 1;
            return;
        };
        if s.replies.len() >= PING_QUEUE {
            s.replies.pop_front();
        }
        s.replies.push_back(PingReply {
            from: ip.src,
            seq,
            ttl: ip.ttl,
            bytes,
            rtt: sent.filter(|&t| t <= now).map(|t| now - t),
            error,
        });
    }
}

impl Stack {
    /// Open a ping socket; returns its echo identifier. Linux: `ping_init_sock` + `ping_get_port`.
    pub fn ping_open(&mut self) -> Result<u16, Errno> {
        if self.pings.socks.len() >= MAX_PING_SOCKETS {
            return Err(Errno::ENOBUFS);
        }
        loop {
            let ident = (self.random_u64() >> 48) as u16;
            if ident != 0 && !self.pings.socks.contains_key(&ident) {
                self.pings.socks.insert(ident, PingSock::default());
                return Ok(ident);
            }
        }
    }

    /// Close a ping socket.
    pub fn ping_close(&mut self, ident: u16) -> Result<(), Errno> {
        self.pings
            .socks
            .remove(&ident)
            .map(|_| ())
            .ok_or(Errno::EBADF)
    }

    /// Send an echo request with `payload_len` data bytes (the first eight carry the send
    /// time, as `ping` does). Linux: `ping_v4_sendmsg`.
    pub fn ping_send(
        &mut self,
        ident: u16,
        dst: Ipv4Addr,
        seq: u16,
        payload_len: usize,
        ttl: Option<u8>,
        now: Instant,
    ) -> Result<(), Errno> {
        if !self.pings.socks.contains_key(&ident) {
            return Err(Errno::EBADF);
        }
        if dst.is_unspecified() || dst.is_multicast() {
            return Err(Errno::EINVAL);
        }
        if payload_len > 65507 - 8 {
            return Err(Errno::EMSGSIZE);
        }
        let len = 8 + payload_len;
        // Large requests (ping -s 20000) get a buffer of their own; IP fragments them.
        let mut buf = if MAX_HEADER + len <= self.pool.buf_size() {
            self.pool.get(MAX_HEADER)
        } else {
            PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER)
        };
        // Unchecked: `put` gave the 8-byte header and the data, zeroed.
        let mut icmph = Icmpv4Packet::new_unchecked(buf.put(len));
        icmph.set_msg_type(Icmpv4Message::ECHO_REQUEST);
        icmph.set_echo_ident(ident);
        icmph.set_echo_seq_no(seq);
        let data = icmph.data_mut();
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        if data.len() >= 8 {
            data[..8].copy_from_slice(&now.total_micros().to_be_bytes());
        }
        icmph.fill_checksum();
        self.ipv4.icmp_stats.out_msgs += 1;
        self.ipv4.icmp_stats.out_echos += 1;
        let p = IpSendParams {
            src: None,
            dst,
            protocol: IpProtocol::ICMP,
            ttl,
            tos: 0,
            dont_frag: false,
        };
        let res = self.ip_send(buf, p, now);
        if res.is_err() {
            self.ipv4.icmp_stats.out_errors += 1;
        }
        res
    }

    /// Take the oldest reply or error received on a ping socket.
    pub fn ping_recv(&mut self, ident: u16) -> Result<Option<PingReply>, Errno> {
        let s = self.pings.socks.get_mut(&ident).ok_or(Errno::EBADF)?;
        Ok(s.replies.pop_front())
    }
}
