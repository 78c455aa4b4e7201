//! TCP Fast Open (RFC 7413): data in the SYN, delivered before the handshake completes.
//!
//! Linux: net/ipv4/tcp_fastopen.c (`tcp_try_fastopen`, `tcp_fastopen_create_child`,
//! `tcp_fastopen_cookie_gen`, `tcp_fastopen_cookie_check`, `tcp_fastopen_defer_connect`),
//! tcp_output.c (`tcp_send_syn_data`), tcp_input.c (`tcp_rcv_fastopen_synack`), tcp.c
//! (`tcp_sendmsg_fastopen`), tcp_metrics.c (`tcp_fastopen_cache_get`/`_set`) and
//! request_sock.c (`reqsk_fastopen_remove`).
//!
//! The pieces:
//! - the server's cookie: SipHash-2-4 of the client and server addresses under a 128-bit key
//!   (`net.ipv4.tcp_fastopen_key`, or a listener's `TCP_FASTOPEN_KEY`), with a backup key
//!   still accepted during rotation ([`FastOpenKeys`]);
//! - the client's cookie cache per destination, with the peer's MSS and SYN-loss history
//!   ([`FastOpenCache`]);
//! - per socket, what the SYN carried and how it ended ([`TcpFastOpen`]);
//! - the `Stack` hooks the SYN paths call.

use super::siphash::siphash24;
use super::sock::{TcpSock, TcpState};
use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::ip::IpMeta;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::tcp::{FastOpenCookie, TcpFlags, TcpRepr};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// `tcp_fastopen` bit: send data in the SYN (client). Linux: `TFO_CLIENT_ENABLE`.
pub const TFO_CLIENT_ENABLE: u32 = 0x1;
/// `tcp_fastopen` bit: accept data in the SYN (server, with `TCP_FASTOPEN` on the listener).
/// Linux: `TFO_SERVER_ENABLE`.
pub const TFO_SERVER_ENABLE: u32 = 0x2;
/// `tcp_fastopen` bit: the client sends data in the SYN without a cookie. Linux:
/// `TFO_CLIENT_NO_COOKIE`.
pub const TFO_CLIENT_NO_COOKIE: u32 = 0x4;
/// `tcp_fastopen` bit: the server accepts data in the SYN without a cookie. Linux:
/// `TFO_SERVER_COOKIE_NOT_REQD`.
pub const TFO_SERVER_COOKIE_NOT_REQD: u32 = 0x200;
/// `tcp_fastopen` bit: every listener does Fast Open without `TCP_FASTOPEN`, its queue as long
/// as the `listen` backlog. Linux: `TFO_SERVER_WO_SOCKOPT1`.
pub const TFO_SERVER_WO_SOCKOPT1: u32 = 0x400;

/// Bytes of a SYN's segment kept free for options middleboxes may add: the data in a SYN is
/// at most the MSS less this. Linux: `MAX_TCP_OPTION_SPACE`.
const MAX_TCP_OPTION_SPACE: u32 = 40;

/// Length of the cookies this server makes (one SipHash output). Linux:
/// `TCP_FASTOPEN_COOKIE_SIZE`.
pub const FASTOPEN_COOKIE_SIZE: usize = 8;

/// Destinations the client cache remembers at most (Linux bounds its `tcp_metrics` table the
/// same way, by evicting old entries).
const CACHE_MAX: usize = 1024;

/// A 128-bit Fast Open key: SipHash's `(k0, k1)`, from 16 bytes read as two little-endian
/// words (Linux: `tcp_fastopen_reset_cipher` with `get_unaligned_le64`).
pub type FastOpenKey = [u8; 16];

/// The server's cookie keys: the primary makes cookies, a backup (the previous key during a
/// rotation) is still accepted. Linux: `struct tcp_fastopen_context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastOpenKeys {
    /// Makes and checks cookies.
    pub primary: FastOpenKey,
    /// Only checks them.
    pub backup: Option<FastOpenKey>,
}

impl FastOpenKeys {
    /// Keys derived from a stack's seed (Linux draws a random key on first use:
    /// `tcp_fastopen_init_key_once`).
    pub fn from_seed(seed: u64) -> FastOpenKeys {
        let a = siphash24(seed, 0x7466_6f5f_6b65_7930, b"tcp_fastopen_key");
        let b = siphash24(seed ^ a, 0x7466_6f5f_6b65_7931, b"tcp_fastopen_key");
        let mut primary = [0u8; 16];
        primary[..8].copy_from_slice(&a.to_le_bytes());
        primary[8..].copy_from_slice(&b.to_le_bytes());
        FastOpenKeys {
            primary,
            backup: None,
        }
    }

    /// Parse the sysctl text: `xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx`, optionally `,` and a
    /// backup key in the same form. Each group is a 32-bit hex number stored little-endian.
    /// Linux: `proc_tcp_fastopen_key` (`sscanf_key`).
    pub fn parse(text: &str) -> Option<FastOpenKeys> {
        let mut keys = text.trim().split(',');
        let primary = parse_key(keys.next()?)?;
        let backup = match keys.next() {
            Some(k) => Some(parse_key(k)?),
            None => None,
        };
        if keys.next().is_some() {
            return None;
        }
        Some(FastOpenKeys { primary, backup })
    }

    /// The sysctl text of the keys (the inverse of [`FastOpenKeys::parse`]).
    pub fn format(&self) -> String {
        let mut s = format_key(&self.primary);
        if let Some(b) = &self.backup {
            s.push(',');
            s.push_str(&format_key(b));
        }
        s
    }

    /// Install a new primary key; the old one stays valid as the backup only when asked.
    /// Linux: `tcp_fastopen_reset_cipher`.
    pub fn reset(&mut self, primary: FastOpenKey, backup: Option<FastOpenKey>) {
        self.primary = primary;
        self.backup = backup;
    }

    /// The cookie of a client at `saddr` talking to `daddr`: SipHash-2-4 of the two
    /// addresses (network order) under the primary key, its 64 bits little-endian.
    /// Linux: `__tcp_fastopen_cookie_gen_cipher`.
    pub fn cookie_gen(&self, saddr: Ipv4Addr, daddr: Ipv4Addr) -> FastOpenCookie {
        cookie_with(&self.primary, saddr, daddr)
    }

    /// Check a client's cookie: 1 with the primary key, 2 with the backup (the client should
    /// get the primary's cookie), 0 invalid. Linux: `tcp_fastopen_cookie_gen_check`.
    pub fn cookie_check(&self, saddr: Ipv4Addr, daddr: Ipv4Addr, foc: &FastOpenCookie) -> u8 {
        if foc.len as usize != FASTOPEN_COOKIE_SIZE {
            return 0;
        }
        if cookie_with(&self.primary, saddr, daddr).bytes() == foc.bytes() {
            return 1;
        }
        match &self.backup {
            Some(b) if cookie_with(b, saddr, daddr).bytes() == foc.bytes() => 2,
            _ => 0,
        }
    }
}

fn cookie_with(key: &FastOpenKey, saddr: Ipv4Addr, daddr: Ipv4Addr) -> FastOpenCookie {
    let k0 = u64::from_le_bytes(key[..8].try_into().unwrap_or([0; 8]));
    let k1 = u64::from_le_bytes(key[8..].try_into().unwrap_or([0; 8]));
    let mut data = [0u8; 8];
    data[..4].copy_from_slice(&saddr.octets());
    data[4..].copy_from_slice(&daddr.octets());
    let h = siphash24(k0, k1, &data).to_le_bytes();
    FastOpenCookie::new(&h, false).unwrap_or_default()
}

/// One key of the sysctl text: four `-`-separated 32-bit hex groups.
fn parse_key(text: &str) -> Option<FastOpenKey> {
    let mut key = [0u8; 16];
    let mut groups = text.trim().split('-');
    for chunk in key.chunks_exact_mut(4) {
        let g = groups.next()?;
        if g.is_empty() || g.len() > 8 {
            return None;
        }
        let w = u32::from_str_radix(g, 16).ok()?;
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    if groups.next().is_some() {
        return None;
    }
    Some(key)
}

fn format_key(key: &FastOpenKey) -> String {
    let w = |i: usize| u32::from_le_bytes([key[i], key[i + 1], key[i + 2], key[i + 3]]);
    format!("{:08x}-{:08x}-{:08x}-{:08x}", w(0), w(4), w(8), w(12))
}

/// What the client remembers of a server. Linux: `struct tcp_fastopen_metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastOpenMetrics {
    /// The MSS the server's SYN-ACK offered (0: unknown).
    pub mss: u16,
    /// The server's cookie.
    pub cookie: Option<FastOpenCookie>,
    /// Consecutive SYNs with data (or cookie requests) that seem to have been dropped.
    pub syn_loss: u16,
    /// When the last one was.
    pub last_syn_loss: Instant,
    /// 1: ask with the experimental option next time; 2: back to option 34.
    pub try_exp: u8,
    /// Last update, for eviction.
    pub stamp: Instant,
}

/// The client's Fast Open cache, by destination address. Linux keeps it in `tcp_metrics`
/// (`ip tcp_metrics` shows and flushes it).
#[derive(Debug, Default)]
pub struct FastOpenCache {
    map: HashMap<Ipv4Addr, FastOpenMetrics>,
}

impl FastOpenCache {
    /// The entry for `dst`. Linux: `tcp_fastopen_cache_get`.
    pub fn get(&self, dst: Ipv4Addr) -> Option<&FastOpenMetrics> {
        self.map.get(&dst)
    }

    /// Record what a SYN-ACK taught. Linux: `tcp_fastopen_cache_set`.
    pub fn set(
        &mut self,
        dst: Ipv4Addr,
        mss: u16,
        cookie: Option<FastOpenCookie>,
        syn_lost: bool,
        try_exp: u8,
        now: Instant,
    ) {
        if !self.map.contains_key(&dst) && self.map.len() >= CACHE_MAX {
            // Evict the stalest destination (rare: only when the cache is full).
            if let Some(old) = self
                .map
                .iter()
                .min_by_key(|(_, m)| m.stamp)
                .map(|(a, _)| *a)
            {
                self.map.remove(&old);
            }
        }
        let m = self.map.entry(dst).or_insert(FastOpenMetrics {
            mss: 0,
            cookie: None,
            syn_loss: 0,
            last_syn_loss: now,
            try_exp: 0,
            stamp: now,
        });
        m.stamp = now;
        if mss != 0 {
            m.mss = mss;
        }
        match cookie {
            Some(c) if c.len > 0 => m.cookie = Some(c),
            _ => {
                let exp = m.cookie.is_some_and(|c| c.exp);
                if try_exp > m.try_exp && m.cookie.is_none() && !exp {
                    m.try_exp = try_exp;
                }
            }
        }
        if syn_lost {
            m.syn_loss = m.syn_loss.saturating_add(1);
            m.last_syn_loss = now;
        } else {
            m.syn_loss = 0;
        }
    }

    /// Forget everything (`ip tcp_metrics flush`). Linux: `tcp_metrics_flush_all`.
    pub fn flush(&mut self) {
        self.map.clear();
    }

    /// Forget one destination (`ip tcp_metrics delete ADDR`).
    pub fn remove(&mut self, dst: Ipv4Addr) {
        self.map.remove(&dst);
    }

    /// Every destination and what is known of it.
    pub fn iter(&self) -> impl Iterator<Item = (&Ipv4Addr, &FastOpenMetrics)> {
        self.map.iter()
    }

    /// Destinations remembered.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// A socket's Fast Open state. Linux: `tp->fastopen_req`, `syn_fastopen`, `syn_data`,
/// `syn_data_acked`, `fastopen_rsk`, `fastopen_connect`, `defer_connect`,
/// `fastopen_no_cookie`, and a listener's `fastopenq`.
#[derive(Debug, Default)]
pub struct TcpFastOpen {
    /// `TCP_FASTOPEN_CONNECT`: `connect` returns at once and the first write goes in the SYN.
    pub connect: bool,
    /// `TCP_FASTOPEN_NO_COOKIE`: Fast Open without cookies for this socket.
    pub no_cookie: bool,
    /// `connect` returned without sending the SYN; the next write sends it with its data.
    pub defer_connect: bool,
    /// The Fast Open option the next SYN or SYN-ACK carries (taken when it is built, so
    /// retransmissions go without it).
    pub syn_option: Option<FastOpenCookie>,
    /// Our SYN carried a Fast Open option (`tp->syn_fastopen`), in the experimental form.
    pub syn_fastopen: bool,
    /// ... in the experimental form (`tp->syn_fastopen_exp`).
    pub syn_fastopen_exp: bool,
    /// Bytes of data our SYN carried (`tp->syn_data` when nonzero).
    pub syn_data: u32,
    /// All of the SYN's data was acknowledged by the SYN-ACK, or (server) the SYN's data was
    /// accepted: `TCPI_OPT_SYN_DATA`.
    pub syn_data_acked: bool,
    /// A passive Fast Open child before its handshake completed: the listener whose Fast Open
    /// queue counts it (Linux: `tp->fastopen_rsk`).
    pub rsk_listener: Option<SockId>,
    /// Listener: `TCP_FASTOPEN`'s queue length (0: no Fast Open). Linux: `fastopenq.max_qlen`.
    pub max_qlen: u32,
    /// Listener: children still in their handshake. Linux: `fastopenq.qlen`.
    pub qlen: u32,
    /// Listener: its own key (`TCP_FASTOPEN_KEY`) instead of the stack's.
    pub keys: Option<FastOpenKeys>,
    /// Why the client's Fast Open did not carry its data (`tcpi_fastopen_client_fail`).
    pub client_fail: FastOpenClientFail,
    /// The end of the SYN's data the SYN-ACK did not acknowledge: it goes out again as a
    /// retransmission, whole (Linux marks the SYN-data skb lost and retransmits it:
    /// `tcp_mark_skb_lost` + `tcp_non_congestion_loss_retransmit`).
    pub syn_rexmit_end: Option<super::SeqNumber>,
}

/// Why a client's Fast Open failed, as `tcp_info` reports it. Linux: `enum
/// tcp_fastopen_client_fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum FastOpenClientFail {
    /// Unspecified (or no failure). `TFO_STATUS_UNSPEC`.
    #[default]
    Unspec = 0,
    /// No cookie was cached: the SYN asked for one. `TFO_COOKIE_UNAVAILABLE`.
    CookieUnavailable = 1,
    /// The SYN-ACK did not acknowledge the SYN's data. `TFO_DATA_NOT_ACKED`.
    DataNotAcked = 2,
    /// The SYN with data was retransmitted (as a plain SYN). `TFO_SYN_RETRANSMITTED`.
    SynRetransmitted = 3,
}

impl TcpFastOpen {
    /// A passive child whose handshake is not complete (Linux: `tcp_passive_fastopen`).
    pub fn passive(&self) -> bool {
        self.rsk_listener.is_some()
    }
}

/// What the client will put in its SYN. Linux: the result of `tcp_fastopen_cookie_check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SynPlan {
    /// Data may go in the SYN.
    pub data_ok: bool,
    /// The option the SYN carries (a cookie, a request, or none).
    pub option: Option<FastOpenCookie>,
    /// The MSS to size the SYN's data with (cached from the server, or our own).
    pub mss: u32,
}

impl Stack {
    /// The `net.ipv4.tcp_fastopen` bits.
    fn tcp_fastopen_sysctl(&self) -> u32 {
        self.config.tcp.fastopen
    }

    /// Whether cookies are not needed for `flag` (client or server side). Linux:
    /// `tcp_fastopen_no_cookie`.
    fn tcp_fastopen_no_cookie(&self, sk: &TcpSock, flag: u32) -> bool {
        self.tcp_fastopen_sysctl() & flag != 0 || sk.fastopen.no_cookie
    }

    /// What the client's SYN to `sk.remote` may carry: the cached cookie and MSS; nothing
    /// after recurring SYN losses (a middlebox dropping SYNs with data). Linux:
    /// `tcp_fastopen_cookie_check` (with `tcp_fastopen_cache_get`).
    pub(crate) fn tcp_fastopen_cookie_check(&self, sk: &TcpSock, now: Instant) -> SynPlan {
        let entry = self.tcp.fastopen_cache.get(sk.inet_daddr()).copied();
        let mut plan = SynPlan {
            data_ok: false,
            option: Some(FastOpenCookie::request(false)),
            mss: sk.adv_mss as u32,
        };
        if let Some(m) = entry {
            if m.mss != 0 {
                plan.mss = m.mss as u32;
            }
            if let Some(c) = m.cookie {
                plan.option = Some(c);
            } else if m.try_exp == 1 {
                plan.option = Some(FastOpenCookie::request(true));
            }
            // Recurring losses of SYNs with Fast Open: none of it for a while, growing.
            if m.syn_loss > 1 {
                let wait = Duration::from_secs(60).saturating_mul(1 << m.syn_loss.min(16));
                if now.saturating_since(m.last_syn_loss) < wait {
                    plan.option = None;
                    return plan;
                }
            }
        }
        if self.tcp_fastopen_no_cookie(sk, TFO_CLIENT_NO_COOKIE) {
            plan.option = None;
            plan.data_ok = true;
            return plan;
        }
        plan.data_ok = plan.option.is_some_and(|c| c.len > 0);
        plan
    }

    /// `connect` with `TCP_FASTOPEN_CONNECT`: when data may go in the SYN, hold the SYN back
    /// until the first write (returns true); otherwise the SYN asks for a cookie. Linux:
    /// `tcp_fastopen_defer_connect`.
    pub(crate) fn tcp_fastopen_defer_connect(&mut self, id: SockId, now: Instant) -> bool {
        let Ok(sk) = self.sockets.tcp(id) else {
            return false;
        };
        if !sk.fastopen.connect || self.tcp_fastopen_sysctl() & TFO_CLIENT_ENABLE == 0 {
            return false;
        }
        let plan = self.tcp_fastopen_cookie_check(sk, now);
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        if plan.data_ok {
            sk.fastopen.defer_connect = true;
            return true;
        }
        // The SYN goes now, with the cookie request.
        sk.fastopen.client_fail = FastOpenClientFail::CookieUnavailable;
        sk.fastopen.syn_option = plan.option.map(|c| {
            if c.len > 0 {
                FastOpenCookie::request(c.exp)
            } else {
                c
            }
        });
        sk.fastopen.syn_fastopen = sk.fastopen.syn_option.is_some();
        sk.fastopen.syn_fastopen_exp = sk.fastopen.syn_option.is_some_and(|c| c.exp);
        false
    }

    /// Send the first SYN of a Fast Open: with a cookie (or in no-cookie mode) as much of
    /// `data` as fits in one segment less the option space, otherwise a plain SYN asking for
    /// a cookie. Returns the bytes that went in the SYN. Linux: `tcp_send_syn_data`.
    pub(crate) fn tcp_send_syn_data(&mut self, id: SockId, data: &[u8], now: Instant) -> usize {
        let Ok(sk) = self.sockets.tcp(id) else {
            return 0;
        };
        let plan = self.tcp_fastopen_cookie_check(sk, now);
        // A path MTU learnt for the destination bounds it too (Linux: `__tcp_mtu_to_mss` of
        // the route's PMTU).
        let pmtu_mss = self
            .ipv4_mtu(sk.inet_daddr(), now)
            .map_or(u32::MAX, |m| (m as u32).saturating_sub(40));
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return 0;
        };
        let mut copied = 0;
        if plan.data_ok {
            // MSS from the cache, bounded by ours; room kept for options middleboxes add.
            let mss = plan.mss.min(sk.adv_mss as u32).min(pmtu_mss);
            let space = mss.saturating_sub(MAX_TCP_OPTION_SPACE) as usize;
            let space = space.min(data.len());
            copied = sk.sndbuf.enqueue_slice(&data[..space]);
            sk.fastopen.syn_option = plan.option;
        } else {
            // Fall back to a regular SYN with a cookie request.
            sk.fastopen.syn_option = plan.option.map(|c| FastOpenCookie::request(c.exp));
            sk.fastopen.client_fail = FastOpenClientFail::CookieUnavailable;
        }
        sk.fastopen.syn_fastopen = sk.fastopen.syn_option.is_some();
        sk.fastopen.syn_fastopen_exp = sk.fastopen.syn_option.is_some_and(|c| c.exp);
        sk.fastopen.syn_data = copied as u32;
        if !sk.ts_ok {
            // The handshake's RTT is timed from this SYN (a deferred connect sends it late).
            sk.rtt_seq = Some((sk.iss, now));
        }
        self.tcp_send_syn_with_data(id, copied, now);
        copied
    }

    /// `sendto(MSG_FASTOPEN)` (and the first write after a deferred `TCP_FASTOPEN_CONNECT`):
    /// connect to `addr` with the data in the SYN. Returns the bytes sent in the SYN, or
    /// `EINPROGRESS` when none could go (no cookie yet: the SYN asks for one). On a connected
    /// socket it is a plain send. A blocking caller waits for the connection and sends the
    /// rest. Linux: `tcp_sendmsg_fastopen`.
    pub(crate) fn tcp_sendmsg_fastopen(
        &mut self,
        id: SockId,
        data: &[u8],
        addr: Option<SocketAddrV4>,
        now: Instant,
    ) -> Result<usize, Errno> {
        if self.tcp_fastopen_sysctl() & TFO_CLIENT_ENABLE == 0 {
            return Err(Errno::EOPNOTSUPP);
        }
        let sk = self.sockets.tcp_mut(id)?;
        match sk.state {
            TcpState::Closed => {
                let addr = addr.ok_or(Errno::EDESTADDRREQ)?;
                // With a cookie the connect defers its SYN (as TCP_FASTOPEN_CONNECT's
                // does); it goes below with the data.
                let was = std::mem::replace(&mut sk.fastopen.connect, true);
                let res = self.tcp_v4_connect(id, addr.into(), now);
                let sk = self.sockets.tcp_mut(id)?;
                sk.fastopen.connect = was;
                if !sk.fastopen.defer_connect {
                    // No cookie: the SYN went with a request.
                    return match res {
                        Ok(()) | Err(Errno::EINPROGRESS) => Err(Errno::EINPROGRESS),
                        Err(e) => Err(e),
                    };
                }
            }
            TcpState::SynSent if sk.fastopen.defer_connect => {}
            TcpState::SynSent | TcpState::SynReceived => return Err(Errno::EALREADY),
            _ => return self.tcp_sendmsg(id, data, now),
        }
        let sk = self.sockets.tcp_mut(id)?;
        sk.fastopen.defer_connect = false;
        let n = self.tcp_send_syn_data(id, data, now);
        self.tcp_sched(id);
        if n > 0 {
            Ok(n)
        } else {
            Err(Errno::EINPROGRESS)
        }
    }

    /// The SYN-ACK of a Fast Open: remember the server's MSS and cookie (a cookie we did not
    /// ask for is ignored); if the SYN's data was not all acknowledged, resend the rest now.
    /// `acked_data` is how many of the SYN's bytes the SYN-ACK covered. Returns whether data
    /// must be retransmitted. Linux: `tcp_rcv_fastopen_synack`.
    pub(crate) fn tcp_rcv_fastopen_synack(
        &mut self,
        sk: &mut TcpSock,
        seg: &TcpRepr,
        acked_data: u32,
        now: Instant,
    ) -> bool {
        let mss = seg.max_seg_size.unwrap_or(0);
        let unacked = sk.fastopen.syn_data > acked_data;
        let mut cookie = seg.fastopen.filter(|c| c.len > 0);
        let mut syn_drop = false;
        let mut try_exp = 0;
        if !sk.fastopen.syn_fastopen {
            // An unsolicited cookie.
            cookie = None;
        } else if sk.total_retrans > 0 {
            // The SYN timed out and the SYN-ACK has neither a cookie nor acks the data:
            // the peer presumably saw only the retransmitted (plain) SYN.
            syn_drop = cookie.is_none() && unacked;
        } else if cookie.is_none() && sk.fastopen.syn_data == 0 {
            // Asked and got nothing: try the other form of the option next time.
            try_exp = if sk.fastopen.syn_fastopen_exp { 2 } else { 1 };
        }
        self.tcp
            .fastopen_cache
            .set(sk.inet_daddr(), mss, cookie, syn_drop, try_exp, now);
        if unacked {
            // Resend what the SYN carried and the SYN-ACK did not cover, at once.
            sk.fastopen.client_fail = if sk.total_retrans > 0 {
                FastOpenClientFail::SynRetransmitted
            } else {
                FastOpenClientFail::DataNotAcked
            };
            self.tcp.stats.fastopen_active_fail += 1;
            // (From the SYN's data, also when a retransmitted SYN went without it.)
            sk.fastopen.syn_rexmit_end = Some(sk.iss + 1 + sk.fastopen.syn_data as usize);
            sk.snd_nxt = sk.snd_una;
            return true;
        }
        sk.fastopen.syn_data_acked = sk.fastopen.syn_data > 0;
        if sk.fastopen.syn_data_acked {
            self.tcp.stats.fastopen_active += 1;
        }
        false
    }

    /// "Fragmentation needed" for our SYN with data: send a plain SYN at once, offering an
    /// MSS that fits the path; the data follows the handshake. Returns whether it applied.
    /// Linux: the `syn_data` case of `tcp_simple_retransmit` (from `tcp_v4_mtu_reduced`).
    pub(crate) fn tcp_fastopen_syn_too_big(
        &mut self,
        id: SockId,
        pmtu: usize,
        now: Instant,
    ) -> bool {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        if sk.state != TcpState::SynSent || sk.fastopen.syn_data == 0 {
            return false;
        }
        let fit = pmtu.saturating_sub(40).clamp(88, u16::MAX as usize) as u16;
        sk.adv_mss = sk.adv_mss.min(fit);
        sk.total_retrans += 1;
        sk.rtt_seq = None;
        self.tcp.stats.retrans_segs += 1;
        self.tcp_send_syn(id, now);
        self.tcp_sched(id);
        true
    }

    /// A listener may take data in this SYN: it does Fast Open and its Fast Open queue has
    /// room. Linux: `tcp_fastopen_queue_check`.
    fn tcp_fastopen_queue_check(&mut self, l: SockId) -> bool {
        let Ok(lsk) = self.sockets.tcp(l) else {
            return false;
        };
        let q = &lsk.fastopen;
        if q.max_qlen == 0 {
            return false;
        }
        if q.qlen >= q.max_qlen {
            self.tcp.stats.fastopen_listen_overflow += 1;
            return false;
        }
        true
    }

    /// A SYN to a listener: decide its Fast Open. With a valid cookie (or when none is
    /// needed) the child `c` takes the SYN's data and is accepted before the handshake
    /// completes (returns true); otherwise the SYN-ACK carries the cookie the client should
    /// use (on a request, or a bad cookie), or nothing. Linux: `tcp_try_fastopen`.
    pub(crate) fn tcp_try_fastopen(
        &mut self,
        l: SockId,
        ip: &IpMeta,
        seg: &TcpRepr,
        payload: &[u8],
        c: &mut TcpSock,
    ) -> bool {
        let foc = seg.fastopen;
        if foc.is_some_and(|f| f.len == 0) {
            self.tcp.stats.fastopen_cookie_reqd += 1;
        }
        let syn_data = !payload.is_empty();
        if self.tcp_fastopen_sysctl() & TFO_SERVER_ENABLE == 0
            || !(syn_data || foc.is_some())
            || !self.tcp_fastopen_queue_check(l)
        {
            return false;
        }
        let keys = self
            .sockets
            .tcp(l)
            .ok()
            .and_then(|lsk| lsk.fastopen.keys)
            .unwrap_or(self.tcp.fastopen_keys);
        let valid = keys.cookie_gen(ip.src, ip.dst);
        let exp = foc.is_some_and(|f| f.exp);
        let with_exp = |mut v: FastOpenCookie| {
            v.exp = exp;
            v
        };
        let ok = if self.tcp_fastopen_no_cookie(c, TFO_SERVER_COOKIE_NOT_REQD) {
            c.fastopen.syn_option = None;
            true
        } else {
            match foc {
                Some(f) if f.len == 0 => {
                    c.fastopen.syn_option = Some(with_exp(valid));
                    false
                }
                Some(f) => match keys.cookie_check(ip.src, ip.dst, &f) {
                    0 => {
                        self.tcp.stats.fastopen_passive_fail += 1;
                        c.fastopen.syn_option = Some(with_exp(valid));
                        false
                    }
                    r => {
                        // With the backup key the client gets the new cookie.
                        c.fastopen.syn_option = (r == 2).then(|| with_exp(valid));
                        if r == 2 {
                            self.tcp.stats.fastopen_passive_altkey += 1;
                        }
                        true
                    }
                },
                None => false,
            }
        };
        if !ok {
            return false;
        }
        tcp_fastopen_create_child(seg, payload, c);
        self.tcp.stats.fastopen_passive += 1;
        true
    }

    /// The Fast Open child `id` of listener `l` goes straight into the accept queue (it was
    /// checked to have room), counted in the Fast Open queue until its handshake completes.
    /// Linux: the `fastopen_sk` branch of `tcp_conn_request` (`inet_csk_reqsk_queue_add`).
    pub(crate) fn tcp_fastopen_queued(&mut self, l: SockId, id: SockId) {
        if let Ok(c) = self.sockets.tcp_mut(id) {
            c.fastopen.rsk_listener = Some(l);
        }
        if let Ok(lsk) = self.sockets.tcp_mut(l) {
            lsk.fastopen.qlen += 1;
            lsk.accept_queue.push_back(id);
        }
        self.sk_wake(l);
    }

    /// A Fast Open child leaves its listener's Fast Open queue (handshake complete, or the
    /// child is gone). Linux: `reqsk_fastopen_remove`.
    pub(crate) fn reqsk_fastopen_remove(&mut self, id: SockId) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let Some(l) = sk.fastopen.rsk_listener.take() else {
            return;
        };
        if let Ok(lsk) = self.sockets.tcp_mut(l) {
            if lsk.state == TcpState::Listen {
                lsk.fastopen.qlen = lsk.fastopen.qlen.saturating_sub(1);
            }
        }
    }

    /// `listen`: with `TFO_SERVER_WO_SOCKOPT1` every listener does Fast Open, its queue as
    /// long as the backlog. Linux: the `fastopen_queue_tune` call in `inet_listen`.
    pub(crate) fn tcp_fastopen_listen(&mut self, id: SockId, backlog: u32) {
        let f = self.tcp_fastopen_sysctl();
        let somaxconn = self.config.tcp.somaxconn;
        if let Ok(sk) = self.sockets.tcp_mut(id) {
            if f & TFO_SERVER_WO_SOCKOPT1 != 0
                && f & TFO_SERVER_ENABLE != 0
                && sk.fastopen.max_qlen == 0
            {
                sk.fastopen.max_qlen = backlog.min(somaxconn);
            }
        }
    }

    /// `TCP_FASTOPEN` on a socket that is closed or listening: the Fast Open queue length.
    /// Linux: `fastopen_queue_tune` from `do_tcp_setsockopt`.
    pub(crate) fn tcp_fastopen_set_qlen(&mut self, id: SockId, qlen: u32) -> Result<(), Errno> {
        let somaxconn = self.config.tcp.somaxconn;
        let sk = self.sockets.tcp_mut(id)?;
        if !matches!(sk.state, TcpState::Closed | TcpState::Listen) {
            return Err(Errno::EINVAL);
        }
        sk.fastopen.max_qlen = qlen.min(somaxconn);
        Ok(())
    }

    /// The client's Fast Open cache (cookies and MSS by destination).
    pub fn tcp_fastopen_cache(&self) -> &FastOpenCache {
        &self.tcp.fastopen_cache
    }

    /// Forget every cached cookie (`ip tcp_metrics flush`).
    pub fn tcp_fastopen_cache_flush(&mut self) {
        self.tcp.fastopen_cache.flush();
    }

    /// Forget the cookie of one destination (`ip tcp_metrics delete ADDR`).
    pub fn tcp_fastopen_cache_remove(&mut self, dst: Ipv4Addr) {
        self.tcp.fastopen_cache.remove(dst);
    }

    /// Cache a server's cookie and MSS by hand, as a SYN-ACK would (tests, tools).
    pub fn tcp_fastopen_cache_set(
        &mut self,
        dst: Ipv4Addr,
        mss: u16,
        cookie: Option<FastOpenCookie>,
        now: Instant,
    ) {
        self.tcp.fastopen_cache.set(dst, mss, cookie, false, 0, now);
    }

    /// The stack's Fast Open keys (`net.ipv4.tcp_fastopen_key`).
    pub fn tcp_fastopen_keys(&self) -> FastOpenKeys {
        self.tcp.fastopen_keys
    }

    /// Replace the stack's Fast Open keys (`sysctl -w net.ipv4.tcp_fastopen_key=...`).
    pub fn set_tcp_fastopen_keys(&mut self, keys: FastOpenKeys) {
        self.tcp.fastopen_keys = keys;
    }
}

/// Make `c` a Fast Open child: its receive queue holds the SYN's data and its SYN-ACK will
/// acknowledge it. A FIN in the SYN is left for the peer to send again. Linux:
/// `tcp_fastopen_create_child` + `tcp_fastopen_add_skb`.
fn tcp_fastopen_create_child(seg: &TcpRepr, payload: &[u8], c: &mut TcpSock) {
    let n = c.rcv_queue_copy(payload);
    c.rcv_nxt = seg.seq_number + 1 + n;
    c.rcv_adv = c.rcv_nxt;
    c.bytes_received += n as u64;
    c.fastopen.syn_data_acked = n > 0;
}

/// Data (and a FIN) a SYN-ACK carries to a Fast Open client goes to the receive queue.
/// Linux: `tcp_fastopen_add_skb` from `tcp_rcv_fastopen_synack`.
pub(crate) fn tcp_fastopen_add_synack_data(sk: &mut TcpSock, seg: &TcpRepr, payload: &[u8]) {
    let n = sk.rcv_queue_copy(payload);
    sk.rcv_nxt += n;
    sk.rcv_adv = sk.rcv_adv.max(sk.rcv_nxt);
    sk.bytes_received += n as u64;
    if n > 0 {
        sk.ack_now = true;
    }
    if n == payload.len() && seg.flags.contains(TcpFlags::FIN) {
        sk.fin_rcvd = true;
        sk.rcv_nxt += 1;
        sk.ack_now = true;
        sk.state = TcpState::CloseWait;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "a0bf63f7-ed803d81-cd641d30-cebc4a90";

    fn hex(c: &FastOpenCookie) -> String {
        c.bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn cookies_match_linux_for_the_packetdrill_keys() {
        // server/simple{1,2,3}.pkt and sockopt-fastopen-key.pkt: the cookies Linux sends.
        let k = FastOpenKeys::parse(KEY).unwrap();
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        let cases = [
            ("10.248.0.2", "192.168.0.2", "00abaaabe8e954c2"),
            ("10.248.0.3", "192.168.0.2", "1313a2da994a0951"),
            ("10.248.0.3", "192.168.0.3", "76d2c1c530f51f79"),
        ];
        for (client, server, want) in cases {
            assert_eq!(hex(&k.cookie_gen(ip(client), ip(server))), want);
        }
        let zero = FastOpenKeys::parse("00000000-00000000-00000000-00000000").unwrap();
        assert_eq!(
            hex(&zero.cookie_gen(ip("10.248.0.2"), ip("192.168.0.2"))),
            "93b7aa4f550f8a1a"
        );
        // The TCP_FASTOPEN_KEY bytes of sockopt-fastopen-key.pkt are the same key.
        assert_eq!(
            k.primary,
            [
                0xf7, 0x63, 0xbf, 0xa0, 0x81, 0x3d, 0x80, 0xed, 0x30, 0x1d, 0x64, 0xcd, 0x90, 0x4a,
                0xbc, 0xce
            ]
        );
    }

    #[test]
    fn key_text_round_trips_and_bad_text_is_refused() {
        let k = FastOpenKeys::parse(&format!("{KEY},00000001-2-3-4")).unwrap();
        assert_eq!(
            k.format(),
            format!("{KEY},00000001-00000002-00000003-00000004")
        );
        for bad in [
            "",
            "1-2-3",
            "1-2-3-4-5",
            "1-2-3-g",
            "123456789-2-3-4",
            "1-2-3-4,1-2-3",
            "1-2-3-4,1-2-3-4,1-2-3-4",
        ] {
            assert_eq!(FastOpenKeys::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn backup_key_still_validates_and_asks_for_the_new_cookie() {
        let old = FastOpenKeys::parse(KEY).unwrap();
        let (c, s) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        let cookie = old.cookie_gen(c, s);
        let mut new = FastOpenKeys::parse("1-2-3-4").unwrap();
        assert_eq!(new.cookie_check(c, s, &cookie), 0);
        new.reset(new.primary, Some(old.primary));
        assert_eq!(new.cookie_check(c, s, &cookie), 2);
        assert_eq!(new.cookie_check(c, s, &new.cookie_gen(c, s)), 1);
        // Another client's cookie is not valid for this one.
        assert_eq!(new.cookie_check(Ipv4Addr::new(192, 0, 2, 9), s, &cookie), 0);
    }

    #[test]
    fn cache_keeps_cookies_counts_losses_and_stays_bounded() {
        let mut cache = FastOpenCache::default();
        let t = Instant::from_millis(0);
        let dst = Ipv4Addr::new(192, 0, 2, 2);
        let c = FastOpenCookie::new(&[1, 2, 3, 4], false).unwrap();
        cache.set(dst, 940, Some(c), false, 0, t);
        // A SYN-ACK without a cookie keeps the old one, and a new MSS replaces the old.
        cache.set(dst, 1200, None, true, 0, t);
        let m = cache.get(dst).unwrap();
        assert_eq!((m.mss, m.cookie, m.syn_loss), (1200, Some(c), 1));
        cache.set(dst, 0, None, false, 0, t);
        assert_eq!(cache.get(dst).unwrap().syn_loss, 0);
        for i in 0..(CACHE_MAX as u32 + 50) {
            cache.set(Ipv4Addr::from(0x0a00_0000 + i), 1000, Some(c), false, 0, t);
        }
        assert_eq!(cache.len(), CACHE_MAX);
        cache.flush();
        assert!(cache.is_empty());
    }
}
