//! TCP socket lookup tables and port allocation.
//!
//! Linux: net/ipv4/inet_hashtables.c (`ehash` for connections by 4-tuple, `lhash2` for
//! listeners, `bhash` for bound ports; `__inet_lookup_established`, `__inet_lookup_listener`,
//! `inet_csk_get_port`, `__inet_hash_connect`).

use super::isn::IsnGenerator;
use super::syncookie::SynCookies;
use crate::core::inet_addr::InetBinding;
use crate::core::sock::{SockId, SocketTable};
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::TcpStats;
use crate::time::Instant;
use crate::transport::Socket;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::net::{IpAddr, SocketAddr};

/// A connection's key: (local, remote).
pub type FourTuple = (SocketAddr, SocketAddr);

/// The TCP tables of one stack.
#[derive(Debug)]
pub struct TcpTables {
    /// Connections (every state but LISTEN and CLOSED) by 4-tuple.
    pub ehash: HashMap<FourTuple, SockId, crate::fasthash::KeyedState>,
    /// Listeners by port.
    pub lhash: HashMap<u16, Vec<SockId>>,
    /// Sockets holding a bound port (bound, listening or connected).
    pub bhash: HashMap<u16, Vec<SockId>>,
    /// Timer queue: (deadline, socket). Entries may be stale; see `tcp_sched`.
    pub timers: BinaryHeap<Reverse<(Instant, SockId)>>,
    /// ISN generator (RFC 6528).
    pub isn: IsnGenerator,
    /// SYN cookie secret.
    pub cookies: SynCookies,
    /// Fast Open cookie keys (`net.ipv4.tcp_fastopen_key`).
    pub fastopen_keys: super::fastopen::FastOpenKeys,
    /// The client's Fast Open cache (cookies and MSS by destination).
    pub fastopen_cache: super::fastopen::FastOpenCache,
    /// Counters.
    pub stats: TcpStats,
    /// Challenge ACKs sent in the current second (RFC 5961 section 7), and that second.
    pub challenge_count: u32,
    /// The second `challenge_count` belongs to.
    pub challenge_second: u64,
    /// Rotating start for ephemeral port search.
    pub port_hint: u32,
    /// Sockets whose ACK of in-order data waits for the end of the receive batch (flushed by
    /// `Stack::poll` and `Stack::take_tx`). May hold stale or repeated entries; the socket's
    /// `ack_deferred` flag decides. Linux: the sockets with `TCP_ACK_DEFERRED` set, whose
    /// `tcp_release_cb` sends the ACK.
    pub ack_deferred: Vec<SockId>,
    /// Bytes each socket has queued below it (TCP Small Queues).
    pub(crate) tsq: super::tsq::TsqTable,
}

impl TcpTables {
    /// Tables keyed from `seed`.
    pub fn new(seed: u64) -> TcpTables {
        let k0 = seed ^ 0x7463_705f_6973_6e30;
        let k1 = seed.rotate_left(17) ^ 0x7463_705f_6973_6e31;
        TcpTables {
            ehash: HashMap::with_hasher(crate::fasthash::KeyedState::new(
                seed ^ 0x6568_6173_685f_6b65,
            )),
            lhash: HashMap::new(),
            bhash: HashMap::new(),
            timers: BinaryHeap::new(),
            isn: IsnGenerator::new(k0, k1),
            cookies: SynCookies::new(k1.rotate_left(7), k0.rotate_left(29)),
            fastopen_keys: super::fastopen::FastOpenKeys::from_seed(seed),
            fastopen_cache: Default::default(),
            stats: TcpStats::default(),
            challenge_count: 0,
            challenge_second: 0,
            port_hint: (seed as u32) ^ 0x9e37,
            ack_deferred: Vec::new(),
            tsq: Default::default(),
        }
    }

    /// Find the connection a segment belongs to. Linux: `__inet_lookup_established`.
    #[inline]
    pub(crate) fn lookup_established(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<SockId> {
        self.ehash.get(&(local, remote)).copied()
    }

    /// Find the listener for a SYN: an exact local address beats the wildcard.
    /// Linux: `__inet_lookup_listener` (scoring with `compute_score`).
    pub(crate) fn lookup_listener(
        &self,
        sockets: &SocketTable<Socket>,
        local: SocketAddr,
    ) -> Option<SockId> {
        let v = self.lhash.get(&local.port())?;
        let mut wildcard = None;
        for &id in v {
            let Ok(e) = sockets.get(id) else {
                continue;
            };
            let Socket::Tcp(t) = &e.sock else {
                continue;
            };
            // An IPv6 wildcard listener takes IPv4 segments unless IPV6_V6ONLY.
            match InetBinding::new(t.local.ip(), e.v6only).accepts(local.ip()) {
                Some(2) => return Some(id),
                Some(_) if wildcard.is_none() => wildcard = Some(id),
                _ => {}
            }
        }
        wildcard
    }
}

impl Stack {
    /// Find the connection a segment belongs to. Linux: `__inet_lookup_established`.
    #[inline]
    pub(crate) fn tcp_lookup_established(
        &self,
        local: SocketAddr,
        remote: SocketAddr,
    ) -> Option<SockId> {
        self.tcp.lookup_established(local, remote)
    }

    /// Find the listener for a SYN. Linux: `__inet_lookup_listener`.
    pub(crate) fn tcp_lookup_listener(&self, local: SocketAddr) -> Option<SockId> {
        self.tcp.lookup_listener(&self.sockets, local)
    }

    /// Whether `port` can be bound at `ip` by a socket with `reuse` set. Conflicts are other
    /// sockets on the port with overlapping addresses, unless both set SO_REUSEADDR and
    /// neither listens. Linux: `inet_csk_bind_conflict`.
    fn tcp_bind_conflict(&self, port: u16, ip: IpAddr, v6only: bool, reuse: bool) -> bool {
        let Some(v) = self.tcp.bhash.get(&port) else {
            return false;
        };
        let me = InetBinding::new(ip, v6only);
        v.iter().any(|&o| {
            let Ok(e) = self.sockets.get(o) else {
                return false;
            };
            let Socket::Tcp(t) = &e.sock else {
                return false;
            };
            if !me.overlaps(&InetBinding::new(t.local.ip(), e.v6only)) {
                return false;
            }
            let listening = t.state == super::sock::TcpState::Listen;
            !(reuse && e.reuseaddr && !listening)
        })
    }

    /// Bind a TCP socket. Linux: `inet_bind` → `inet_csk_get_port`.
    pub(crate) fn tcp_bind(&mut self, id: SockId, addr: SocketAddr) -> Result<(), Errno> {
        let t = self.sockets.tcp(id)?;
        if t.local.port() != 0 || t.state != super::sock::TcpState::Closed {
            return Err(Errno::EINVAL);
        }
        let (reuse, v6only) = {
            let e = self.sockets.get(id)?;
            (e.reuseaddr, e.v6only)
        };
        let ip = addr.ip();
        let port = if addr.port() != 0 {
            if self.tcp_bind_conflict(addr.port(), ip, v6only, reuse) {
                return Err(Errno::EADDRINUSE);
            }
            addr.port()
        } else {
            self.tcp_pick_port(|s, p| !s.tcp_bind_conflict(p, ip, v6only, false))
                .ok_or(Errno::EADDRINUSE)?
        };
        let sk = self.sockets.tcp_mut(id)?;
        sk.local = SocketAddr::new(ip, port);
        sk.inet6 = addr.is_ipv6();
        self.tcp.bhash.entry(port).or_default().push(id);
        Ok(())
    }

    /// Search the ephemeral range from a rotating start for a port `ok` accepts.
    pub(crate) fn tcp_pick_port(&mut self, ok: impl Fn(&Stack, u16) -> bool) -> Option<u16> {
        let (lo, hi) = self.config.tcp.local_port_range;
        let span = (hi.max(lo) - lo) as u32 + 1;
        let start = self.tcp.port_hint;
        for i in 0..span {
            let p = lo + ((start.wrapping_add(i)) % span) as u16;
            if ok(self, p) {
                self.tcp.port_hint = start.wrapping_add(i + 1);
                return Some(p);
            }
        }
        None
    }

    /// Choose a local port for `connect` so that the 4-tuple is unique. Linux:
    /// `__inet_hash_connect` (ports shared by connections to different peers).
    pub(crate) fn tcp_connect_port(&mut self, local_ip: IpAddr, remote: SocketAddr) -> Option<u16> {
        self.tcp_pick_port(|s, p| {
            let taken_by_bind = s.tcp.bhash.get(&p).is_some_and(|v| {
                v.iter().any(|&o| {
                    s.sockets.tcp(o).is_ok_and(|t| {
                        t.state == super::sock::TcpState::Listen
                            || t.state == super::sock::TcpState::Closed
                    })
                })
            });
            !taken_by_bind
                && !s
                    .tcp
                    .ehash
                    .contains_key(&(SocketAddr::new(local_ip, p), remote))
        })
    }

    /// Add a socket to the bound-port table.
    pub(crate) fn tcp_bhash_add(&mut self, id: SockId, port: u16) {
        let v = self.tcp.bhash.entry(port).or_default();
        if !v.contains(&id) {
            v.push(id);
        }
    }

    /// Remove a socket from every table. Linux: `inet_unhash` + `inet_put_port`.
    pub(crate) fn tcp_unhash(&mut self, id: SockId) {
        let Ok(t) = self.sockets.tcp(id) else {
            return;
        };
        let (local, remote) = (t.local, t.remote);
        if self.tcp.ehash.get(&(local, remote)) == Some(&id) {
            self.tcp.ehash.remove(&(local, remote));
        }
        for table in [&mut self.tcp.lhash, &mut self.tcp.bhash] {
            if let Some(v) = table.get_mut(&local.port()) {
                v.retain(|&o| o != id);
                if v.is_empty() {
                    table.remove(&local.port());
                }
            }
        }
    }
}
