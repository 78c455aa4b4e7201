//! Connection tracking: tuples, the table of connections in both directions, TCP state
//! tracking, UDP and ICMP flows, timeouts, ICMP errors as RELATED, and a bounded table that
//! evicts unassured connections first when full.
//!
//! Linux: net/netfilter/nf_conntrack_core.c (`nf_conntrack_in`, `resolve_normal_ct`,
//! `init_conntrack`, `__nf_conntrack_confirm`, `early_drop`, `gc_worker`),
//! nf_conntrack_proto_tcp.c (`tcp_packet`, the `tcp_conntracks` state table and the
//! `tcp_timeouts`), nf_conntrack_proto_udp.c, nf_conntrack_proto_icmp.c
//! (`icmp_error_message`).
//!
//! A packet's connection travels with it in `PacketBuf::meta.nfct` as a [`CtRef`]: the slot,
//! a generation (so a stale reference to a reused slot is ignored), the direction and the
//! state (`ctinfo`). Connections are created *unconfirmed* by the first packet and enter the
//! hash table only when that packet leaves the last hook (Linux: `nf_conntrack_confirm`); a
//! packet dropped in between takes its connection with it.
//!
//! Not done: TCP window tracking (`tcp_in_window`), so out-of-window segments are not
//! INVALID; expectations and helpers (FTP...), so RELATED comes only from ICMP errors.

use super::matches::{ctstate, proto, PktInfo};
use crate::time::Instant;
use crate::wire::Ipv4Addr;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// Default table size (Linux: `nf_conntrack_max`, which scales with memory; 65536 is typical).
pub const DEFAULT_MAX: usize = 65536;

/// Most slots one packet's garbage collection step looks at. Linux: `gc_worker`'s batches.
const GC_STEP: usize = 8;

/// Most slots `early_drop` examines for a victim. Linux: `NF_CT_EVICTION_RANGE` (8) buckets.
const EVICTION_RANGE: usize = 64;

/// A connection's identity in one direction. Linux: `struct nf_conntrack_tuple`.
/// For ICMP, `sport` is the identifier and `dport` holds `type << 8 | code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tuple {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol number.
    pub proto: u8,
    /// Source port / ICMP identifier.
    pub sport: u16,
    /// Destination port / ICMP type and code.
    pub dport: u16,
}

impl Tuple {
    /// The tuple of the answer to a packet with this tuple. Linux: `nf_ct_invert_tuple`
    /// (for ICMP: same identifier, the reply type).
    pub fn invert(&self) -> Option<Tuple> {
        let (sport, dport) = if self.proto == proto::ICMP {
            let t = icmp_reply_type((self.dport >> 8) as u8)?;
            (self.sport, u16::from(t) << 8 | (self.dport & 0xff))
        } else {
            (self.dport, self.sport)
        };
        Some(Tuple {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport,
            dport,
        })
    }
}

/// The reply type of an ICMP query (and the query of a reply). Linux: `invmap` in
/// nf_conntrack_proto_icmp.c.
fn icmp_reply_type(t: u8) -> Option<u8> {
    Some(match t {
        8 => 0,
        0 => 8,
        13 => 14,
        14 => 13,
        15 => 16,
        16 => 15,
        17 => 18,
        18 => 17,
        _ => return None,
    })
}

/// Whether an ICMP type is an error that quotes a datagram.
pub fn icmp_is_error(t: u8) -> bool {
    matches!(t, 3 | 4 | 5 | 11 | 12)
}

/// Direction of a packet relative to its connection. Linux: `enum ip_conntrack_dir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Dir {
    /// The direction of the first packet.
    Original = 0,
    /// The other.
    Reply = 1,
}

impl Dir {
    /// The other direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::Original => Dir::Reply,
            Dir::Reply => Dir::Original,
        }
    }
}

/// A packet's relation to its connection. Linux: `enum ip_conntrack_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtInfo {
    /// First packets of a connection (original direction, no reply yet).
    New,
    /// Part of a connection that has seen both directions (or a reply).
    Established,
    /// An ICMP error about a tracked connection.
    Related,
}

/// A reference to a connection, carried in `meta.nfct` (0 = none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtRef {
    /// Slot in the table.
    pub slot: u32,
    /// Generation of the slot when the reference was made.
    pub gen: u16,
    /// Direction of the packet.
    pub dir: Dir,
    /// Its relation.
    pub info: CtInfo,
}

impl CtRef {
    /// Pack into a `meta.nfct` value (never 0).
    pub fn encode(self) -> u32 {
        let info = match self.info {
            CtInfo::New => 0,
            CtInfo::Established => 1,
            CtInfo::Related => 2,
        };
        1 + ((self.slot << 14) | (u32::from(self.gen & 0x3ff) << 4) | (info << 1) | self.dir as u32)
    }

    /// Unpack a `meta.nfct` value.
    pub fn decode(v: u32) -> Option<CtRef> {
        let v = v.checked_sub(1)?;
        Some(CtRef {
            slot: v >> 14,
            gen: ((v >> 4) & 0x3ff) as u16,
            dir: if v & 1 == 0 {
                Dir::Original
            } else {
                Dir::Reply
            },
            info: match (v >> 1) & 3 {
                0 => CtInfo::New,
                1 => CtInfo::Established,
                _ => CtInfo::Related,
            },
        })
    }

    /// The `--ctstate` bit of the packet.
    pub fn state_bit(self) -> u8 {
        match self.info {
            CtInfo::New => ctstate::NEW,
            CtInfo::Established => ctstate::ESTABLISHED,
            CtInfo::Related => ctstate::RELATED,
        }
    }
}

/// The most slots a [`CtRef`] can address.
const MAX_SLOTS: usize = 1 << 18;

/// TCP connection states. Linux: `enum tcp_conntrack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TcpCtState {
    /// SYN seen.
    SynSent,
    /// SYN-ACK seen.
    SynRecv,
    /// Handshake completed.
    Established,
    /// FIN seen one way.
    FinWait,
    /// FIN acknowledged.
    CloseWait,
    /// FIN seen both ways.
    LastAck,
    /// Last ACK seen.
    TimeWait,
    /// Reset.
    Close,
}

impl TcpCtState {
    /// The name `conntrack -L` prints.
    pub fn name(self) -> &'static str {
        match self {
            TcpCtState::SynSent => "SYN_SENT",
            TcpCtState::SynRecv => "SYN_RECV",
            TcpCtState::Established => "ESTABLISHED",
            TcpCtState::FinWait => "FIN_WAIT",
            TcpCtState::CloseWait => "CLOSE_WAIT",
            TcpCtState::LastAck => "LAST_ACK",
            TcpCtState::TimeWait => "TIME_WAIT",
            TcpCtState::Close => "CLOSE",
        }
    }
}

/// Timeouts. Linux's defaults (`net.netfilter.nf_conntrack_*_timeout*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CtTimeouts {
    /// `tcp_timeout_syn_sent` (120 s).
    pub tcp_syn_sent: Duration,
    /// `tcp_timeout_syn_recv` (60 s).
    pub tcp_syn_recv: Duration,
    /// `tcp_timeout_established` (5 days).
    pub tcp_established: Duration,
    /// `tcp_timeout_fin_wait` (120 s).
    pub tcp_fin_wait: Duration,
    /// `tcp_timeout_close_wait` (60 s).
    pub tcp_close_wait: Duration,
    /// `tcp_timeout_last_ack` (30 s).
    pub tcp_last_ack: Duration,
    /// `tcp_timeout_time_wait` (120 s).
    pub tcp_time_wait: Duration,
    /// `tcp_timeout_close` (10 s).
    pub tcp_close: Duration,
    /// `udp_timeout` (30 s): no reply yet.
    pub udp: Duration,
    /// `udp_timeout_stream` (120 s): replies seen.
    pub udp_stream: Duration,
    /// `icmp_timeout` (30 s).
    pub icmp: Duration,
    /// `generic_timeout` (600 s).
    pub generic: Duration,
}

impl Default for CtTimeouts {
    fn default() -> Self {
        let s = Duration::from_secs;
        CtTimeouts {
            tcp_syn_sent: s(120),
            tcp_syn_recv: s(60),
            tcp_established: s(432_000),
            tcp_fin_wait: s(120),
            tcp_close_wait: s(60),
            tcp_last_ack: s(30),
            tcp_time_wait: s(120),
            tcp_close: s(10),
            udp: s(30),
            udp_stream: s(120),
            icmp: s(30),
            generic: s(600),
        }
    }
}

/// One tracked connection. Linux: `struct nf_conn`.
#[derive(Debug, Clone)]
pub struct Conn {
    /// Original and reply tuples (the reply one as rewritten by NAT).
    pub tuple: [Tuple; 2],
    /// When it expires.
    pub expires: Instant,
    /// A reply was seen (`IPS_SEEN_REPLY`).
    pub seen_reply: bool,
    /// Established for good; evicted last (`IPS_ASSURED`).
    pub assured: bool,
    /// In the hash table (`IPS_CONFIRMED`).
    pub confirmed: bool,
    /// Source NAT applies (`IPS_SRC_NAT`).
    pub snat: bool,
    /// Destination NAT applies (`IPS_DST_NAT`).
    pub dnat: bool,
    /// NAT bindings made, source and destination (`IPS_SRC_NAT_DONE`, `IPS_DST_NAT_DONE`).
    pub nat_done: [bool; 2],
    /// TCP state.
    pub tcp: Option<TcpCtState>,
    /// Direction of the first FIN (TCP).
    fin_dir: Option<Dir>,
    /// Packets and bytes per direction.
    pub counters: [(u64, u64); 2],
    /// The output device MASQUERADE took the address of (0: none). Linux: `nat.masq_index`.
    pub masq_ifindex: u32,
    gen: u16,
}

/// A connection as `conntrack -L` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtEntryInfo {
    /// Protocol number.
    pub proto: u8,
    /// Seconds left.
    pub timeout: u64,
    /// TCP state.
    pub state: Option<TcpCtState>,
    /// Original tuple.
    pub orig: Tuple,
    /// Reply tuple.
    pub reply: Tuple,
    /// No reply yet.
    pub unreplied: bool,
    /// Assured.
    pub assured: bool,
    /// Packets and bytes, original then reply.
    pub counters: [(u64, u64); 2],
}

impl CtEntryInfo {
    /// One line in `conntrack -L`'s format.
    pub fn line(&self) -> String {
        let name = match self.proto {
            proto::TCP => "tcp",
            proto::UDP => "udp",
            proto::ICMP => "icmp",
            _ => "unknown",
        };
        let mut s = format!("{name:<8} {} {} ", self.proto, self.timeout);
        if let Some(st) = self.state {
            s.push_str(st.name());
            s.push(' ');
        }
        let tuple = |t: &Tuple| {
            if t.proto == proto::ICMP {
                format!(
                    "src={} dst={} type={} code={} id={}",
                    t.src,
                    t.dst,
                    t.dport >> 8,
                    t.dport & 0xff,
                    t.sport
                )
            } else if t.proto == proto::TCP || t.proto == proto::UDP {
                format!(
                    "src={} dst={} sport={} dport={}",
                    t.src, t.dst, t.sport, t.dport
                )
            } else {
                format!("src={} dst={}", t.src, t.dst)
            }
        };
        s.push_str(&tuple(&self.orig));
        s.push_str(&format!(
            " packets={} bytes={}",
            self.counters[0].0, self.counters[0].1
        ));
        if self.unreplied {
            s.push_str(" [UNREPLIED]");
        }
        s.push(' ');
        s.push_str(&tuple(&self.reply));
        s.push_str(&format!(
            " packets={} bytes={}",
            self.counters[1].0, self.counters[1].1
        ));
        if self.assured {
            s.push_str(" [ASSURED]");
        }
        s.push_str(" mark=0 use=1");
        s
    }
}

/// Conntrack counters. Linux: `/proc/net/stat/nf_conntrack`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtStats {
    /// Packets of known connections.
    pub found: u64,
    /// Connections created.
    pub new: u64,
    /// Packets that could not be tracked.
    pub invalid: u64,
    /// Connections evicted to make room.
    pub early_drop: u64,
    /// Packets dropped because the table was full of assured connections.
    pub drop: u64,
    /// Connections that timed out.
    pub expired: u64,
}

/// The connection table. Linux: `nf_conntrack_hash` and friends.
#[derive(Debug)]
pub struct Conntrack {
    map: HashMap<Tuple, (u32, Dir)>,
    slots: Vec<Option<Conn>>,
    gens: Vec<u16>,
    free: Vec<u32>,
    unconfirmed: Vec<u32>,
    count: usize,
    /// Most connections (`nf_conntrack_max`).
    pub max: usize,
    /// Timeouts.
    pub timeouts: CtTimeouts,
    /// Counters.
    pub stats: CtStats,
    gc_pos: usize,
}

impl Default for Conntrack {
    fn default() -> Self {
        Conntrack::new(DEFAULT_MAX)
    }
}

/// Why a packet could not be tracked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtError {
    /// INVALID: let the rules decide (`--ctstate INVALID`).
    Invalid,
    /// The table is full of connections that may not be evicted: drop.
    Full,
}

impl Conntrack {
    /// An empty table of at most `max` connections.
    pub fn new(max: usize) -> Conntrack {
        Conntrack {
            map: HashMap::new(),
            slots: Vec::new(),
            gens: Vec::new(),
            free: Vec::new(),
            unconfirmed: Vec::new(),
            count: 0,
            max: max.min(MAX_SLOTS),
            timeouts: CtTimeouts::default(),
            stats: CtStats::default(),
            gc_pos: 0,
        }
    }

    /// Connections in the table (confirmed or not).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The connection a reference points at, if it still exists.
    pub fn get(&self, r: CtRef) -> Option<&Conn> {
        let c = self.slots.get(r.slot as usize)?.as_ref()?;
        (c.gen == r.gen).then_some(c)
    }

    /// The connection a reference points at, mutable.
    pub fn get_mut(&mut self, r: CtRef) -> Option<&mut Conn> {
        let c = self.slots.get_mut(r.slot as usize)?.as_mut()?;
        (c.gen == r.gen).then_some(c)
    }

    /// Whether `t` is in use as either tuple of a confirmed connection (NAT's uniqueness
    /// test). Linux: `nf_conntrack_tuple_taken`.
    pub fn tuple_taken(&self, t: &Tuple) -> bool {
        self.map.contains_key(t)
    }

    /// Remove a connection. Linux: `nf_ct_delete`.
    pub fn remove(&mut self, slot: u32) {
        let Some(c) = self.slots.get_mut(slot as usize).and_then(|s| s.take()) else {
            return;
        };
        if c.confirmed {
            for t in &c.tuple {
                if self.map.get(t).is_some_and(|(s, _)| *s == slot) {
                    self.map.remove(t);
                }
            }
        }
        self.gens[slot as usize] = (self.gens[slot as usize] + 1) & 0x3ff;
        self.free.push(slot);
        self.count -= 1;
    }

    /// Remove every connection `pred` selects; returns how many.
    /// Linux: `nf_ct_iterate_cleanup_net`.
    pub fn remove_if(&mut self, mut pred: impl FnMut(&Conn) -> bool) -> usize {
        let mut n = 0;
        for s in 0..self.slots.len() {
            if self.slots[s].as_ref().is_some_and(&mut pred) {
                self.remove(s as u32);
                n += 1;
            }
        }
        n
    }

    /// Forget every connection.
    pub fn flush(&mut self) {
        for s in 0..self.slots.len() {
            self.remove(s as u32);
        }
        self.unconfirmed.clear();
    }

    /// Put an unconfirmed connection into the hash table, as its first packet leaves the
    /// last hook. Linux: `__nf_conntrack_confirm`.
    pub fn confirm(&mut self, r: CtRef) {
        let slot = r.slot;
        let Some(c) = self.get_mut(r) else {
            return;
        };
        if c.confirmed {
            return;
        }
        c.confirmed = true;
        let (o, rep) = (c.tuple[0], c.tuple[1]);
        if self.map.contains_key(&o) || self.map.contains_key(&rep) {
            // Lost a race with an identical tuple (cannot happen single-threaded, but NAT
            // bindings made elsewhere could clash): drop this one.
            self.remove(slot);
            return;
        }
        self.map.insert(o, (slot, Dir::Original));
        self.map.insert(rep, (slot, Dir::Reply));
        self.unconfirmed.retain(|s| *s != slot);
    }

    /// Look at a few slots and remove expired connections. Linux: `gc_worker`.
    fn gc_step(&mut self, now: Instant) {
        if self.slots.is_empty() {
            return;
        }
        let n = self.slots.len();
        for _ in 0..GC_STEP.min(n) {
            // (A compare, not a division: this runs for every tracked packet.)
            self.gc_pos += 1;
            if self.gc_pos >= n {
                self.gc_pos = 0;
            }
            let expired = self.slots[self.gc_pos]
                .as_ref()
                .is_some_and(|c| c.confirmed && c.expires <= now);
            if expired {
                self.stats.expired += 1;
                self.remove(self.gc_pos as u32);
            }
        }
    }

    /// Make room for a new connection: an expired one, else one never assured, near the
    /// GC position. Linux: `early_drop`.
    fn early_drop(&mut self, now: Instant) -> bool {
        let n = self.slots.len();
        for i in 0..EVICTION_RANGE.min(n) {
            let s = (self.gc_pos + i) % n;
            let victim = self.slots[s]
                .as_ref()
                .is_some_and(|c| c.confirmed && (c.expires <= now || !c.assured));
            if victim {
                self.remove(s as u32);
                self.stats.early_drop += 1;
                self.gc_pos = s;
                return true;
            }
        }
        false
    }

    /// Create an unconfirmed connection for `t`. Linux: `init_conntrack`.
    fn init_conntrack(&mut self, t: Tuple, now: Instant) -> Result<u32, CtError> {
        // A connection left unconfirmed by an earlier packet was dropped on the way.
        while let Some(s) = self.unconfirmed.pop() {
            if self.slots[s as usize]
                .as_ref()
                .is_some_and(|c| !c.confirmed)
            {
                self.remove(s);
            }
        }
        if self.count >= self.max && !self.early_drop(now) {
            self.stats.drop += 1;
            return Err(CtError::Full);
        }
        let reply = t.invert().ok_or(CtError::Invalid)?;
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                if self.slots.len() >= MAX_SLOTS {
                    self.stats.drop += 1;
                    return Err(CtError::Full);
                }
                if self.map.capacity() == 0 {
                    self.map.reserve(self.max.min(1024) * 2);
                }
                self.slots.push(None);
                self.gens.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        self.slots[slot as usize] = Some(Conn {
            tuple: [t, reply],
            expires: now,
            seen_reply: false,
            assured: false,
            confirmed: false,
            snat: false,
            dnat: false,
            nat_done: [false; 2],
            tcp: None,
            fin_dir: None,
            counters: [(0, 0); 2],
            masq_ifindex: 0,
            gen: self.gens[slot as usize],
        });
        self.count += 1;
        self.unconfirmed.push(slot);
        self.stats.new += 1;
        Ok(slot)
    }

    /// Track a packet (data at its IPv4 header, not a fragment): find or create its
    /// connection, update the protocol state and timeout. Linux: `nf_conntrack_in` →
    /// `resolve_normal_ct` → `nf_conntrack_handle_packet`, or `icmp_error_message` for an
    /// ICMP error (RELATED).
    pub fn nf_conntrack_in(
        &mut self,
        p: &PktInfo,
        data: &[u8],
        now: Instant,
    ) -> Result<CtRef, CtError> {
        self.gc_step(now);
        if p.frag || (!p.has_l4 && matches!(p.proto, proto::TCP | proto::UDP | proto::ICMP)) {
            self.stats.invalid += 1;
            return Err(CtError::Invalid);
        }
        if p.proto == proto::ICMP && icmp_is_error(p.icmp_type) {
            return self.icmp_error_message(p, data);
        }
        if p.proto == proto::TCP && !tcp_valid_flags(p.tcp_flags) {
            // NULL, XMAS, SYN+FIN... Linux: tcp_error.
            self.stats.invalid += 1;
            return Err(CtError::Invalid);
        }
        let t = pkt_tuple(p);
        if p.proto == proto::ICMP && icmp_reply_type(p.icmp_type).is_none() {
            self.stats.invalid += 1;
            return Err(CtError::Invalid);
        }
        let mut found = self.map.get(&t).copied();
        if let Some((slot, _)) = found {
            let stale = self.slots[slot as usize]
                .as_ref()
                .is_none_or(|c| c.expires <= now);
            // A new SYN on a closed or closing connection starts over. Linux: tcp_packet's
            // "reopen" of TIME_WAIT / CLOSE.
            let reopen = p.proto == proto::TCP
                && p.tcp_flags & 0x17 == 0x02
                && self.slots[slot as usize].as_ref().is_some_and(|c| {
                    matches!(c.tcp, Some(TcpCtState::TimeWait | TcpCtState::Close))
                });
            if stale || reopen {
                if stale {
                    self.stats.expired += 1;
                }
                self.remove(slot);
                found = None;
            }
        }
        let (slot, dir, created) = match found {
            Some((slot, dir)) => {
                self.stats.found += 1;
                (slot, dir, false)
            }
            None => {
                if p.proto == proto::TCP && !tcp_new(p.tcp_flags) {
                    self.stats.invalid += 1;
                    return Err(CtError::Invalid);
                }
                if p.proto == proto::ICMP && !matches!(p.icmp_type, 8 | 13 | 15 | 17) {
                    // A reply with no request.
                    self.stats.invalid += 1;
                    return Err(CtError::Invalid);
                }
                (self.init_conntrack(t, now)?, Dir::Original, true)
            }
        };
        let c = self.slots[slot as usize].as_mut().expect("live slot");
        let d = dir as usize;
        c.counters[d].0 += 1;
        c.counters[d].1 += p.len as u64;
        if dir == Dir::Reply && !c.seen_reply {
            c.seen_reply = true;
        }
        match p.proto {
            proto::TCP if !tcp_packet(c, dir, p.tcp_flags, created) => {
                self.stats.invalid += 1;
                return Err(CtError::Invalid);
            }
            proto::UDP if c.seen_reply && dir == Dir::Original => c.assured = true,
            _ => {}
        }
        let gen = c.gen;
        let info = if dir == Dir::Reply || c.seen_reply {
            CtInfo::Established
        } else {
            CtInfo::New
        };
        c.expires = now + ct_timeout(&self.timeouts, c);
        Ok(CtRef {
            slot,
            gen,
            dir,
            info,
        })
    }

    /// An ICMP error is RELATED to the connection of the datagram it quotes: find that
    /// connection by the quoted (inverted) tuple. Linux: `icmp_error_message` /
    /// `nf_conntrack_inet_error`.
    fn icmp_error_message(&mut self, p: &PktInfo, data: &[u8]) -> Result<CtRef, CtError> {
        let inner = data
            .get(p.ihl + 8..p.len)
            .and_then(PktInfo::parse)
            .filter(|i| i.has_l4 || i.proto != proto::TCP && i.proto != proto::UDP);
        let Some(inner) = inner else {
            self.stats.invalid += 1;
            return Err(CtError::Invalid);
        };
        // The quoted datagram went the other way: its inverse is what this error's
        // direction looks like.
        let Some(t) = pkt_tuple(&inner).invert() else {
            self.stats.invalid += 1;
            return Err(CtError::Invalid);
        };
        let Some(&(slot, dir)) = self.map.get(&t) else {
            self.stats.invalid += 1;
            return Err(CtError::Invalid);
        };
        let c = self.slots[slot as usize].as_ref().expect("live slot");
        self.stats.found += 1;
        Ok(CtRef {
            slot,
            gen: c.gen,
            dir,
            info: CtInfo::Related,
        })
    }

    /// Every connection, for `conntrack -L`.
    pub fn list(&self, now: Instant) -> Vec<CtEntryInfo> {
        self.slots
            .iter()
            .flatten()
            .filter(|c| c.confirmed && c.expires > now)
            .map(|c| CtEntryInfo {
                proto: c.tuple[0].proto,
                timeout: c.expires.saturating_since(now).as_secs(),
                state: c.tcp,
                orig: c.tuple[0],
                reply: c.tuple[1],
                unreplied: !c.seen_reply,
                assured: c.assured,
                counters: c.counters,
            })
            .collect()
    }
}

/// The timeout of a connection in its present state.
fn ct_timeout(t: &CtTimeouts, c: &Conn) -> Duration {
    match c.tuple[0].proto {
        proto::TCP => match c.tcp.unwrap_or(TcpCtState::Close) {
            TcpCtState::SynSent => t.tcp_syn_sent,
            TcpCtState::SynRecv => t.tcp_syn_recv,
            TcpCtState::Established => t.tcp_established,
            TcpCtState::FinWait => t.tcp_fin_wait,
            TcpCtState::CloseWait => t.tcp_close_wait,
            TcpCtState::LastAck => t.tcp_last_ack,
            TcpCtState::TimeWait => t.tcp_time_wait,
            TcpCtState::Close => t.tcp_close,
        },
        proto::UDP if c.seen_reply => t.udp_stream,
        proto::UDP => t.udp,
        proto::ICMP => t.icmp,
        _ => t.generic,
    }
}

/// The tuple of a packet. Linux: `nf_ct_get_tuple`.
pub fn pkt_tuple(p: &PktInfo) -> Tuple {
    let (sport, dport) = match p.proto {
        proto::TCP | proto::UDP => (p.sport, p.dport),
        proto::ICMP => (
            p.sport,
            u16::from(p.icmp_type) << 8 | u16::from(p.icmp_code),
        ),
        _ => (0, 0),
    };
    Tuple {
        src: p.src,
        dst: p.dst,
        proto: p.proto,
        sport,
        dport,
    }
}

/// Whether a flag combination is one TCP can send (PSH, ECE and CWR aside).
/// Linux: `tcp_valid_flags` in nf_conntrack_proto_tcp.c.
fn tcp_valid_flags(flags: u8) -> bool {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    const URG: u8 = 0x20;
    let f = flags & (FIN | SYN | RST | ACK | URG);
    [
        SYN,
        SYN | URG,
        SYN | ACK,
        RST,
        RST | ACK,
        FIN | ACK,
        FIN | ACK | URG,
        ACK,
        ACK | URG,
    ]
    .contains(&f)
}

/// Whether a TCP segment may start tracking: a SYN, or with loose pick-up
/// (`nf_conntrack_tcp_loose`, on by default) a plain ACK of a connection already running.
/// Linux: `tcp_new`.
fn tcp_new(flags: u8) -> bool {
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    const FIN: u8 = 0x01;
    matches!(flags & (SYN | RST | ACK | FIN), SYN | ACK)
}

/// Advance a connection's TCP state for a segment going `dir`; false if the segment is
/// INVALID in that state. Linux: `tcp_packet` with the `tcp_conntracks` table (flags
/// considered in the order RST, SYN, FIN, ACK).
fn tcp_packet(c: &mut Conn, dir: Dir, flags: u8, created: bool) -> bool {
    use TcpCtState::*;
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const ACK: u8 = 0x10;
    let st = c.tcp;
    let next = if flags & RST != 0 {
        Some(Close)
    } else if flags & SYN != 0 && flags & ACK == 0 {
        match (st, dir) {
            (None, _) => Some(SynSent),
            (Some(SynSent), Dir::Original) => Some(SynSent),
            // Simultaneous open or a stray SYN: keep the state.
            (s, _) => s,
        }
    } else if flags & SYN != 0 {
        match (st, dir) {
            (Some(SynSent), Dir::Reply) => Some(SynRecv),
            (Some(SynRecv), _) | (Some(Established), _) => st,
            _ => return false,
        }
    } else if flags & FIN != 0 {
        match st {
            Some(SynRecv) | Some(Established) => {
                c.fin_dir = Some(dir);
                Some(FinWait)
            }
            Some(FinWait) | Some(CloseWait) if c.fin_dir != Some(dir) => Some(LastAck),
            Some(SynSent) => return false,
            s => s,
        }
    } else if flags & ACK != 0 {
        match st {
            None if created => Some(Established),
            Some(SynRecv) if dir == Dir::Original => Some(Established),
            Some(FinWait) if c.fin_dir != Some(dir) => Some(CloseWait),
            Some(LastAck) if c.fin_dir == Some(dir) => Some(TimeWait),
            s => s,
        }
    } else {
        return false;
    };
    if next == Some(Established) && st == Some(SynRecv) {
        c.assured = true;
    }
    c.tcp = next;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8) -> PktInfo {
        PktInfo {
            src: src.into(),
            dst: dst.into(),
            proto: proto::TCP,
            len: 40,
            has_l4: true,
            sport,
            dport,
            tcp_flags: flags,
            ..PktInfo::default()
        }
    }

    const A: [u8; 4] = [192, 0, 2, 2];
    const B: [u8; 4] = [198, 51, 100, 2];

    fn track(ct: &mut Conntrack, p: &PktInfo, t: Instant) -> Result<CtRef, CtError> {
        let r = ct.nf_conntrack_in(p, &[], t)?;
        ct.confirm(r);
        Ok(r)
    }

    #[test]
    fn tcp_handshake_and_close_walk_the_states() {
        let mut ct = Conntrack::default();
        let t = Instant::from_secs(1);
        let r = track(&mut ct, &pkt(A, B, 1000, 80, 0x02), t).unwrap();
        assert_eq!((r.info, r.dir), (CtInfo::New, Dir::Original));
        assert_eq!(ct.get(r).unwrap().tcp, Some(TcpCtState::SynSent));
        let r = track(&mut ct, &pkt(B, A, 80, 1000, 0x12), t).unwrap();
        assert_eq!((r.info, r.dir), (CtInfo::Established, Dir::Reply));
        assert_eq!(ct.get(r).unwrap().tcp, Some(TcpCtState::SynRecv));
        let r = track(&mut ct, &pkt(A, B, 1000, 80, 0x10), t).unwrap();
        assert_eq!(r.info, CtInfo::Established);
        let c = ct.get(r).unwrap();
        assert_eq!(c.tcp, Some(TcpCtState::Established));
        assert!(c.assured);
        assert_eq!(c.expires, t + Duration::from_secs(432_000));
        track(&mut ct, &pkt(A, B, 1000, 80, 0x11), t).unwrap();
        track(&mut ct, &pkt(B, A, 80, 1000, 0x11), t).unwrap();
        assert_eq!(ct.get(r).unwrap().tcp, Some(TcpCtState::LastAck));
        track(&mut ct, &pkt(A, B, 1000, 80, 0x10), t).unwrap();
        assert_eq!(ct.get(r).unwrap().tcp, Some(TcpCtState::TimeWait));
        assert_eq!(ct.get(r).unwrap().expires, t + Duration::from_secs(120));
        assert_eq!(ct.len(), 1);
        // Flag combinations TCP never sends are INVALID, whatever the connection.
        for bad in [0x00, 0x03, 0x29, 0x01, 0x06] {
            assert_eq!(
                ct.nf_conntrack_in(&pkt(A, B, 1000, 80, bad), &[], t),
                Err(CtError::Invalid),
                "flags {bad:#x}"
            );
        }
        // A SYN-ACK or RST with no connection is INVALID; so is a bare FIN.
        assert_eq!(
            ct.nf_conntrack_in(&pkt(B, A, 81, 1000, 0x12), &[], t),
            Err(CtError::Invalid)
        );
        assert_eq!(
            ct.nf_conntrack_in(&pkt(B, A, 81, 1000, 0x04), &[], t),
            Err(CtError::Invalid)
        );
    }

    #[test]
    fn timeouts_expire_connections() {
        let mut ct = Conntrack::default();
        let mut u = pkt(A, B, 5000, 53, 0);
        u.proto = proto::UDP;
        let t0 = Instant::from_secs(1);
        let r = track(&mut ct, &u, t0).unwrap();
        assert_eq!(ct.get(r).unwrap().expires, t0 + Duration::from_secs(30));
        assert_eq!(ct.list(t0).len(), 1);
        let t1 = t0 + Duration::from_secs(31);
        assert!(ct.list(t1).is_empty());
        let r2 = track(&mut ct, &u, t1).unwrap();
        assert_eq!(r2.info, CtInfo::New, "expired: a new flow");
        assert_eq!(ct.stats.expired, 1);
    }

    #[test]
    fn the_table_is_bounded_and_evicts_unassured_first() {
        let mut ct = Conntrack::new(4);
        let t = Instant::from_secs(1);
        for port in 0..4 {
            track(&mut ct, &pkt(A, B, 1000 + port, 80, 0x02), t).unwrap();
        }
        assert_eq!(ct.len(), 4);
        track(&mut ct, &pkt(A, B, 2000, 80, 0x02), t).unwrap();
        assert_eq!(ct.len(), 4, "one unassured connection made room");
        assert_eq!(ct.stats.early_drop, 1);
        // Assure them all: no room any more.
        let mut full = Conntrack::new(2);
        for port in 0..2 {
            track(&mut full, &pkt(A, B, 1000 + port, 80, 0x02), t).unwrap();
            track(&mut full, &pkt(B, A, 80, 1000 + port, 0x12), t).unwrap();
            track(&mut full, &pkt(A, B, 1000 + port, 80, 0x10), t).unwrap();
        }
        assert_eq!(
            full.nf_conntrack_in(&pkt(A, B, 3000, 80, 0x02), &[], t),
            Err(CtError::Full)
        );
        assert_eq!(full.stats.drop, 1);
    }

    #[test]
    fn unconfirmed_connections_do_not_linger() {
        let mut ct = Conntrack::default();
        let t = Instant::from_secs(1);
        ct.nf_conntrack_in(&pkt(A, B, 1000, 80, 0x02), &[], t)
            .unwrap();
        assert_eq!(ct.len(), 1);
        // The SYN was dropped before confirmation; the next packet cleans it up.
        track(&mut ct, &pkt(A, B, 1001, 80, 0x02), t).unwrap();
        assert_eq!(ct.len(), 1);
    }

    #[test]
    fn references_round_trip() {
        for info in [CtInfo::New, CtInfo::Established, CtInfo::Related] {
            let r = CtRef {
                slot: 123_456,
                gen: 1000,
                dir: Dir::Reply,
                info,
            };
            assert_eq!(CtRef::decode(r.encode()), Some(r));
        }
        assert_eq!(CtRef::decode(0), None);
    }
}
