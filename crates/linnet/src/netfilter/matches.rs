//! What a rule can match on: addresses, protocol, ports, interfaces, TCP flags, ICMP type,
//! conntrack state, multiport and limit.
//!
//! Linux: `ip_packet_match` (net/ipv4/netfilter/ip_tables.c) for the header fields, and the
//! match extensions xt_tcpudp.c, xt_conntrack.c / xt_state.c, xt_multiport.c, xt_limit.c,
//! and the icmp match of ip_tables.c.

use crate::time::Instant;
use crate::wire::tcp::TcpPacket;
use crate::wire::udp::UdpPacket;
use crate::wire::{ipv4, Icmpv4Packet, Ipv4Addr, Ipv4Packet};
use serde::{Deserialize, Serialize};

/// IP protocol numbers used by the matches.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
}

/// Conntrack state bits, as `--ctstate` / `--state` name them.
/// Linux: `XT_CONNTRACK_STATE_BIT` / `XT_STATE_BIT`.
pub mod ctstate {
    /// INVALID: the packet belongs to no connection that could be tracked.
    pub const INVALID: u8 = 1 << 0;
    /// ESTABLISHED: packets were seen both ways.
    pub const ESTABLISHED: u8 = 1 << 1;
    /// RELATED: an ICMP error about a tracked connection.
    pub const RELATED: u8 = 1 << 2;
    /// NEW: the first packets of a connection, no reply seen yet.
    pub const NEW: u8 = 1 << 3;
    /// UNTRACKED: exempt from tracking (never set by Linnet, accepted for syntax).
    pub const UNTRACKED: u8 = 1 << 4;
    /// Names in the order iptables prints them.
    pub const NAMES: [(u8, &str); 5] = [
        (INVALID, "INVALID"),
        (NEW, "NEW"),
        (RELATED, "RELATED"),
        (ESTABLISHED, "ESTABLISHED"),
        (UNTRACKED, "UNTRACKED"),
    ];
}

/// The header fields the matches look at, parsed once per hook.
/// Linux: what `ipt_do_table` reads through `ip_hdr(skb)` and `skb_header_pointer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PktInfo {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// Protocol number.
    pub proto: u8,
    /// IPv4 header length.
    pub ihl: usize,
    /// Total length.
    pub len: usize,
    /// TTL.
    pub ttl: u8,
    /// TOS.
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Non-first fragment: no transport header to match.
    pub frag: bool,
    /// The transport header fields below are present.
    pub has_l4: bool,
    /// Source port (TCP/UDP), or the ICMP identifier for queries.
    pub sport: u16,
    /// Destination port (TCP/UDP).
    pub dport: u16,
    /// TCP flags.
    pub tcp_flags: u8,
    /// ICMP type.
    pub icmp_type: u8,
    /// ICMP code.
    pub icmp_code: u8,
}

impl Default for PktInfo {
    fn default() -> Self {
        PktInfo {
            src: Ipv4Addr::UNSPECIFIED,
            dst: Ipv4Addr::UNSPECIFIED,
            proto: 0,
            ihl: 20,
            len: 0,
            ttl: 0,
            tos: 0,
            ident: 0,
            frag: false,
            has_l4: false,
            sport: 0,
            dport: 0,
            tcp_flags: 0,
            icmp_type: 0,
            icmp_code: 0,
        }
    }
}

impl PktInfo {
    /// Parse the headers of a datagram starting at its IPv4 header; `None` if it is too
    /// short to carry one.
    pub fn parse(d: &[u8]) -> Option<PktInfo> {
        if d.len() < ipv4::HEADER_LEN {
            return None;
        }
        // Unchecked: the 20-byte header is there (checked above), its length is checked
        // next; the total length is only capped at the buffer's, as before (no
        // `new_checked`, which would refuse a datagram cut short of it).
        let iph = Ipv4Packet::new_unchecked(d);
        if iph.version() != 4 {
            return None;
        }
        let ihl = iph.header_len();
        if ihl < ipv4::HEADER_LEN || d.len() < ihl {
            return None;
        }
        let len = usize::from(iph.total_len()).min(d.len());
        let frag = iph.frag_offset() != 0;
        let mut p = PktInfo {
            src: iph.src_addr(),
            dst: iph.dst_addr(),
            proto: iph.protocol().0,
            ihl,
            len,
            ttl: iph.ttl(),
            tos: iph.tos(),
            ident: iph.ident(),
            frag,
            ..PktInfo::default()
        };
        if frag {
            return Some(p);
        }
        let l4 = &d[ihl..len.max(ihl)];
        // Unchecked views: each arm's length test covers the fields it reads.
        match p.proto {
            proto::TCP if l4.len() >= 14 => {
                let th = TcpPacket::new_unchecked(l4);
                p.has_l4 = true;
                p.sport = th.src_port();
                p.dport = th.dst_port();
                p.tcp_flags = th.flags().0;
            }
            proto::UDP if l4.len() >= 8 => {
                let uh = UdpPacket::new_unchecked(l4);
                p.has_l4 = true;
                p.sport = uh.src_port();
                p.dport = uh.dst_port();
            }
            proto::ICMP if l4.len() >= 8 => {
                let ih = Icmpv4Packet::new_unchecked(l4);
                p.has_l4 = true;
                p.icmp_type = ih.msg_type().0;
                p.icmp_code = ih.msg_code();
                p.sport = ih.echo_ident();
            }
            _ => {}
        }
        Some(p)
    }
}

/// An address with a mask (`-s 192.0.2.0/24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrMatch {
    /// Network address (already masked).
    pub addr: Ipv4Addr,
    /// Prefix length.
    pub prefix: u8,
    /// `!`: match everything else.
    pub invert: bool,
}

impl AddrMatch {
    /// The mask for the prefix.
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    fn matches(&self, a: Ipv4Addr) -> bool {
        (u32::from(a) & self.mask() == u32::from(self.addr)) != self.invert
    }
}

/// An interface name, `eth+` being a prefix wildcard (`-i eth0`, `-o eth+`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IfMatch {
    /// The name as given.
    pub name: String,
    /// `!`.
    pub invert: bool,
}

impl IfMatch {
    fn matches(&self, dev: &str) -> bool {
        let hit = match self.name.strip_suffix('+') {
            Some(prefix) => dev.starts_with(prefix),
            None => dev == self.name,
        };
        hit != self.invert
    }
}

/// A port or an inclusive range of ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRange {
    /// First port.
    pub lo: u16,
    /// Last port.
    pub hi: u16,
}

impl PortRange {
    /// Whether `p` is in the range.
    pub fn contains(&self, p: u16) -> bool {
        (self.lo..=self.hi).contains(&p)
    }
}

/// Which ports `-m multiport` looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MultiportKind {
    /// `--sports`.
    Source,
    /// `--dports`.
    Destination,
    /// `--ports`: either.
    Either,
}

/// `-m limit --limit R/unit --limit-burst B`: a token bucket. Linux: xt_limit.c.
/// Two limits are equal when configured alike: the bucket's state is not part of a rule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Limit {
    /// How many packets...
    pub count: u32,
    /// ...per this many seconds.
    pub per_secs: u32,
    /// Burst.
    pub burst: u32,
    /// Tokens, in units where one packet costs `per_secs * 1_000_000`.
    #[serde(skip)]
    credit: u64,
    /// Last refill.
    #[serde(skip)]
    last: Option<Instant>,
}

impl PartialEq for Limit {
    fn eq(&self, o: &Limit) -> bool {
        (self.count, self.per_secs, self.burst) == (o.count, o.per_secs, o.burst)
    }
}

impl Eq for Limit {}

impl Limit {
    /// A full bucket allowing `count` packets per `per_secs` seconds, bursts of `burst`.
    pub fn new(count: u32, per_secs: u32, burst: u32) -> Limit {
        Limit {
            count,
            per_secs,
            burst,
            credit: 0,
            last: None,
        }
    }

    fn cost(&self) -> u64 {
        u64::from(self.per_secs) * 1_000_000
    }

    /// Take one token if there is one. Linux: `limit_mt`.
    fn allow(&mut self, now: Instant) -> bool {
        let cap = self.cost() * u64::from(self.burst.max(1));
        match self.last {
            None => self.credit = cap,
            Some(t) => {
                let us = now.saturating_since(t).as_micros() as u64;
                self.credit = self
                    .credit
                    .saturating_add(us.saturating_mul(u64::from(self.count)))
                    .min(cap);
            }
        }
        self.last = Some(now);
        if self.credit >= self.cost() {
            self.credit -= self.cost();
            true
        } else {
            false
        }
    }
}

/// Everything a rule may require of a packet; `None` means "any".
/// Linux: `struct ipt_ip` plus the rule's `xt_entry_match` list.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleMatch {
    /// `-s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src: Option<AddrMatch>,
    /// `-d`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<AddrMatch>,
    /// `-p` (protocol number, invert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<(u8, bool)>,
    /// `-i`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_if: Option<IfMatch>,
    /// `-o`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub out_if: Option<IfMatch>,
    /// `--sport` (range, invert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<(PortRange, bool)>,
    /// `--dport`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<(PortRange, bool)>,
    /// `--tcp-flags mask comp` (or `--syn`), invert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<(u8, u8, bool)>,
    /// `--icmp-type` (type, code or any, invert).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<(u8, Option<u8>, bool)>,
    /// `-m conntrack --ctstate` / `-m state --state` (bits, invert, given as `-m state`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctstate: Option<(u8, bool, bool)>,
    /// `-m multiport`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multiport: Option<(MultiportKind, Vec<PortRange>, bool)>,
    /// `-m limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<Limit>,
    /// `-m comment --comment TEXT` (matches everything; for people).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The packet's context at a hook: devices and conntrack state.
#[derive(Debug, Clone, Copy)]
pub struct MatchCtx<'a> {
    /// Input device name ("" when none).
    pub in_dev: &'a str,
    /// Output device name ("" when none).
    pub out_dev: &'a str,
    /// Conntrack state bit (one of [`ctstate`]).
    pub ctstate: u8,
}

impl RuleMatch {
    /// Whether the rule needs connection tracking.
    pub fn needs_conntrack(&self) -> bool {
        self.ctstate.is_some()
    }

    /// Whether `p` matches every part of the rule. Linux: `ip_packet_match` and each
    /// extension's `match` function, in order; `limit` is last so that it only spends
    /// tokens on packets that matched everything else.
    pub fn matches(&mut self, p: &PktInfo, ctx: &MatchCtx, now: Instant) -> bool {
        if let Some(a) = &self.src {
            if !a.matches(p.src) {
                return false;
            }
        }
        if let Some(a) = &self.dst {
            if !a.matches(p.dst) {
                return false;
            }
        }
        if let Some((pr, inv)) = self.proto {
            if (p.proto == pr) == inv {
                return false;
            }
        }
        if let Some(i) = &self.in_if {
            if !i.matches(ctx.in_dev) {
                return false;
            }
        }
        if let Some(o) = &self.out_if {
            if !o.matches(ctx.out_dev) {
                return false;
            }
        }
        // Transport matches never match a packet without its transport header
        // (a non-first fragment, a truncated header). Linux: tcp_mt's `par->fragoff` check.
        let l4 = self.sport.is_some()
            || self.dport.is_some()
            || self.tcp_flags.is_some()
            || self.icmp_type.is_some()
            || self.multiport.is_some();
        if l4 && !p.has_l4 {
            return false;
        }
        if let Some((r, inv)) = self.sport {
            if r.contains(p.sport) == inv {
                return false;
            }
        }
        if let Some((r, inv)) = self.dport {
            if r.contains(p.dport) == inv {
                return false;
            }
        }
        if let Some((mask, comp, inv)) = self.tcp_flags {
            if (p.tcp_flags & mask == comp) == inv {
                return false;
            }
        }
        if let Some((t, code, inv)) = self.icmp_type {
            let hit = p.icmp_type == t && code.is_none_or(|c| c == p.icmp_code);
            if hit == inv {
                return false;
            }
        }
        if let Some((bits, inv, _)) = self.ctstate {
            if (bits & ctx.ctstate != 0) == inv {
                return false;
            }
        }
        if let Some((kind, ports, inv)) = &self.multiport {
            let hit = ports.iter().any(|r| match kind {
                MultiportKind::Source => r.contains(p.sport),
                MultiportKind::Destination => r.contains(p.dport),
                MultiportKind::Either => r.contains(p.sport) || r.contains(p.dport),
            });
            if hit == *inv {
                return false;
            }
        }
        if let Some(l) = &mut self.limit {
            if !l.allow(now) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_syn() -> Vec<u8> {
        let mut d = vec![0u8; 40];
        d[0] = 0x45;
        d[2..4].copy_from_slice(&40u16.to_be_bytes());
        d[8] = 64;
        d[9] = proto::TCP;
        d[12..16].copy_from_slice(&[192, 0, 2, 2]);
        d[16..20].copy_from_slice(&[198, 51, 100, 7]);
        d[20..22].copy_from_slice(&40000u16.to_be_bytes());
        d[22..24].copy_from_slice(&22u16.to_be_bytes());
        d[33] = 0x02;
        d
    }

    const CTX: MatchCtx = MatchCtx {
        in_dev: "eth0",
        out_dev: "",
        ctstate: ctstate::NEW,
    };

    #[test]
    fn header_fields_ports_and_inversions() {
        let p = PktInfo::parse(&tcp_syn()).unwrap();
        assert_eq!((p.sport, p.dport, p.tcp_flags), (40000, 22, 0x02));
        let now = Instant::ZERO;
        let mut m = RuleMatch {
            src: Some(AddrMatch {
                addr: Ipv4Addr::new(192, 0, 2, 0),
                prefix: 24,
                invert: false,
            }),
            proto: Some((proto::TCP, false)),
            dport: Some((PortRange { lo: 20, hi: 25 }, false)),
            in_if: Some(IfMatch {
                name: "eth+".into(),
                invert: false,
            }),
            tcp_flags: Some((0x17, 0x02, false)),
            ..RuleMatch::default()
        };
        assert!(m.matches(&p, &CTX, now));
        m.dport = Some((PortRange { lo: 20, hi: 25 }, true));
        assert!(!m.matches(&p, &CTX, now), "! --dport");
        m.dport = None;
        m.src.as_mut().unwrap().invert = true;
        assert!(!m.matches(&p, &CTX, now), "! -s");
        m.src = None;
        m.in_if = Some(IfMatch {
            name: "eth1".into(),
            invert: false,
        });
        assert!(!m.matches(&p, &CTX, now), "-i eth1");
        m.in_if = None;
        m.tcp_flags = Some((0x12, 0x12, false));
        assert!(!m.matches(&p, &CTX, now), "SYN,ACK SYN,ACK");
        m.tcp_flags = None;
        m.ctstate = Some((ctstate::ESTABLISHED | ctstate::RELATED, false, false));
        assert!(!m.matches(&p, &CTX, now));
        m.ctstate = Some((ctstate::NEW, false, false));
        assert!(m.matches(&p, &CTX, now));
        m.multiport = Some((
            MultiportKind::Destination,
            vec![PortRange { lo: 80, hi: 80 }, PortRange { lo: 443, hi: 443 }],
            false,
        ));
        assert!(!m.matches(&p, &CTX, now));
        m.multiport = Some((
            MultiportKind::Either,
            vec![PortRange { lo: 22, hi: 22 }],
            false,
        ));
        assert!(m.matches(&p, &CTX, now));
    }

    #[test]
    fn fragments_never_match_ports() {
        let mut d = tcp_syn();
        d[6..8].copy_from_slice(&3u16.to_be_bytes());
        let p = PktInfo::parse(&d).unwrap();
        assert!(p.frag && !p.has_l4);
        let mut m = RuleMatch {
            dport: Some((PortRange { lo: 0, hi: 65535 }, true)),
            ..RuleMatch::default()
        };
        assert!(!m.matches(&p, &CTX, Instant::ZERO));
        assert!(PktInfo::parse(&d[..19]).is_none());
    }

    #[test]
    fn limit_allows_a_burst_then_the_rate() {
        let p = PktInfo::parse(&tcp_syn()).unwrap();
        let mut m = RuleMatch {
            limit: Some(Limit::new(2, 1, 3)),
            ..RuleMatch::default()
        };
        let t0 = Instant::from_secs(10);
        let hits = (0..10).filter(|_| m.matches(&p, &CTX, t0)).count();
        assert_eq!(hits, 3, "the burst");
        let t1 = Instant::from_millis(10_500);
        assert!(m.matches(&p, &CTX, t1), "one more token after 0.5 s at 2/s");
        assert!(!m.matches(&p, &CTX, t1));
    }
}
