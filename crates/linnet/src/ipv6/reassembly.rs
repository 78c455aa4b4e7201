//! IPv6 reassembly of fragments addressed to this host, as pure logic: a fragment goes in
//! with `now`, and out comes the datagram, a verdict, or the ICMPv6 error to send.
//!
//! Linux: net/ipv6/reassembly.c (`ipv6_frag_rcv`, `fq_find`, `ip6_frag_queue`,
//! `ip6_frag_reasm`, `ip6_frag_expire`) and include/net/ipv6_frag.h
//! (`ip6frag_expire_frag_queue`), on the queues shared with IPv4 in
//! [`crate::ip::inet_fragment`]; the sysctls `net.ipv6.ip6frag_high_thresh` (4 MiB),
//! `ip6frag_low_thresh` (3 MiB) and `ip6frag_time` (60 s).
//!
//! Rules (RFC 8200 section 4.5, as Linux applies them):
//! - a queue is keyed by (source, destination, identification, user), and the arrival
//!   interface when the destination is link-local or multicast (`struct frag_v6_compare_key`);
//! - an atomic fragment (offset 0, M clear) is not queued: it is the datagram (RFC 6946);
//! - the first fragment must hold the whole header chain up to and including the
//!   upper-layer header (RFC 7112): otherwise ICMPv6 parameter problem code 3, pointer 0;
//! - a fragment whose payload length is not a multiple of 8 with M set: parameter problem
//!   code 0 pointing at the payload length field (the queue lives on);
//! - fragments reaching past 65535 bytes of payload: parameter problem code 0 pointing at the
//!   fragment offset field, and the queue is dropped;
//! - overlapping fragments drop the whole datagram (RFC 5722); an exact duplicate is dropped
//!   alone (and counted as a failure, as Linux does for IPv6);
//! - a queue not completed `ip6frag_time` after its first fragment arrived is dropped, with
//!   ICMPv6 time exceeded code 1 quoting the first fragment if that one had arrived.
//!
//! Once complete the datagram is put together as `ip6_frag_reasm` does: the first fragment's
//! unfragmentable part, its last next-header field now naming what the fragment header named,
//! the fragment header removed, the payload length and the combined ECN codepoint set.
//!
//! One difference from Linux: the headers in front of the fragment header of the first
//! fragment may take at most [`MAX_UNFRAG_LEN`] bytes (Linux has no bound), so that they fit
//! in front of the assembly area and the datagram is built without a further copy.

use crate::buf::{PacketBuf, MAX_HEADER};
use crate::ip::inet_fragment::{ip_frag_ecn, FragError, FragLimits, InetFragQueue, InetFrags};
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{param_problem, time_exceeded};
use crate::wire::ipv6::{ipv6_addr_type, Ipv6AddrKind, Ipv6Scope, HEADER_LEN};
use crate::wire::ipv6ext::{ipv6_skip_exthdr, Ipv6FragHeader, FRAG_HEADER_LEN};
use crate::wire::{Icmpv6Message, IpProtocol, Ipv6Addr, Ipv6Packet};
use std::time::Duration;

/// Largest payload length an IPv6 datagram without a jumbo option may have (`IPV6_MAXPLEN`).
pub const IPV6_MAXPLEN: usize = 65535;

/// Most bytes the first fragment may carry in front of its fragment header: the fixed header
/// and 512 bytes of hop-by-hop, destination options and routing headers.
pub const MAX_UNFRAG_LEN: usize = HEADER_LEN + 512;

/// Where payload offset 0 sits in an assembly area: headroom, then the first fragment's
/// headers up to and including its fragment header.
const DATA_START: usize = MAX_HEADER + MAX_UNFRAG_LEN + FRAG_HEADER_LEN;

/// Where the fragment offset sits in a fragment header.
const FRAG_OFF_FIELD: usize = 2;

/// Where the payload length sits in the fixed header.
const PAYLOAD_LEN_FIELD: usize = 4;

/// Reassembly tunables. Linux: `net.ipv6.ip6frag_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip6FragParams {
    /// `ip6frag_high_thresh` (4 MiB): most memory all queues may hold.
    pub high_thresh: usize,
    /// `ip6frag_low_thresh` (3 MiB): what lowering `high_thresh` under the memory held
    /// evicts the oldest queues down to.
    pub low_thresh: usize,
    /// `ip6frag_time` (60 s): how long a queue waits for its missing fragments.
    pub time: Duration,
}

impl Default for Ip6FragParams {
    fn default() -> Self {
        Ip6FragParams {
            high_thresh: 4 << 20,
            low_thresh: 3 << 20,
            time: Duration::from_secs(60),
        }
    }
}

impl Ip6FragParams {
    fn limits(&self) -> FragLimits {
        FragLimits {
            high_thresh: self.high_thresh,
            low_thresh: self.low_thresh,
            timeout: self.time,
        }
    }
}

/// Who asks for reassembly: local delivery, or connection tracking before it can look at
/// ports. Linux: `enum ip6_defrag_users`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ip6DefragUser {
    /// `IP6_DEFRAG_LOCAL_DELIVER`: `ipv6_frag_rcv` on the way to a socket.
    LocalDeliver,
    /// `IP6_DEFRAG_CONNTRACK_IN`: conntrack at PREROUTING.
    ConntrackIn,
    /// `IP6_DEFRAG_CONNTRACK_OUT`: conntrack at OUTPUT.
    ConntrackOut,
}

/// What identifies the fragments of one datagram. Linux: `struct frag_v6_compare_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FragKey {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u32,
    user: Ip6DefragUser,
    /// The arrival interface for link-local and multicast destinations, else 0.
    iif: u32,
}

/// What an IPv6 queue keeps besides the shared part. Linux: `struct frag_queue`.
#[derive(Debug, Default)]
struct FragQueue6 {
    /// ECN codepoints seen, one bit each.
    ecn: u8,
    /// Largest fragment (Linux: `max_size`).
    max_size: usize,
    /// In the first fragment: where the next-header byte naming the fragment header is
    /// (Linux: `nhoffset`).
    nhoff: usize,
    /// Interface the last fragment came in on (Linux: `iif`), for the ICMP on expiry.
    iif: u32,
}

/// The IPv6 reassembly counters. Linux: the `Ip6Reasm*` lines of /proc/net/snmp6 and
/// `Ip6InHdrErrors` for the fragments answered with a parameter problem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ip6ReasmStats {
    /// `Ip6ReasmReqds`: fragments received (atomic ones included).
    pub reasm_reqds: u64,
    /// `Ip6ReasmOKs`: datagrams reassembled (atomic fragments included).
    pub reasm_oks: u64,
    /// `Ip6ReasmFails`: failures (dropped fragments and queues, timeouts).
    pub reasm_fails: u64,
    /// `Ip6ReasmTimeout`: queues given up after `ip6frag_time`.
    pub reasm_timeout: u64,
    /// `Ip6ReasmOverlaps`: queues dropped for overlapping fragments.
    pub reasm_overlaps: u64,
    /// `Ip6InHdrErrors`: fragments refused with a parameter problem.
    pub in_hdr_errors: u64,
}

/// An ICMPv6 error the receiver of a fragment should send, quoting the fragment as it came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Icmp6Error {
    /// Message type (parameter problem here).
    pub msg_type: Icmpv6Message,
    /// Code.
    pub code: u8,
    /// The pointer field: the offset of the faulty field from the start of the packet.
    pub pointer: u32,
}

/// What became of a fragment handed to [`Ip6FragTable::ipv6_frag_rcv`].
#[derive(Debug)]
pub enum Ip6Defrag {
    /// The datagram is whole: network header at the data start, the fragment header gone.
    /// The header walk goes on at `offset` with the next header written at `nhoff`.
    Complete {
        /// The datagram.
        buf: PacketBuf,
        /// Where the next-header byte naming the fragmentable part sits (Linux: `nhoff`).
        nhoff: usize,
        /// Where the fragmentable part starts.
        offset: usize,
        /// Largest fragment received (Linux: `frag_max_size`), for forwarding it again.
        frag_max_size: usize,
    },
    /// An atomic fragment (offset 0, M clear): not queued; the packet as given is the
    /// datagram and the header walk goes on after the fragment header. Linux: the early
    /// return of `ipv6_frag_rcv` (RFC 6946).
    Atomic {
        /// The next header the fragment header names.
        next_header: IpProtocol,
        /// Where it starts: just after the fragment header.
        offset: usize,
    },
    /// Held until the rest arrives.
    Queued,
    /// Dropped silently for `reason`; `killed` fragments held in the queue it took down
    /// with it were dropped too.
    Drop {
        /// Why.
        reason: DropReason,
        /// Fragments of a killed queue.
        killed: u64,
    },
    /// Dropped, and this error goes back to the source quoting the fragment; `killed` as
    /// for [`Ip6Defrag::Drop`].
    Icmp {
        /// The error.
        error: Icmp6Error,
        /// Fragments of a killed queue.
        killed: u64,
    },
}

/// A queue given up after `ip6frag_time`, as [`Ip6FragTable::ip6_frag_expire`] reports it.
#[derive(Debug)]
pub struct Ip6FragExpired<'a> {
    /// The first fragment as it arrived, to quote in ICMPv6 time exceeded code 1
    /// ([`time_exceeded::FRAG_TIME`]); `None` if the first fragment never came (no error is
    /// sent then).
    pub quote: Option<&'a [u8]>,
    /// The interface the last fragment came in on.
    pub iif: u32,
    /// Fragments the queue held (dropped with `FragReasmTimeout`).
    pub nfrags: u64,
}

/// The ICMPv6 error and parameters Linux sends on expiry: time exceeded, fragment reassembly
/// time exceeded.
pub const EXPIRE_ICMP: (Icmpv6Message, u8) =
    (Icmpv6Message::TIME_EXCEEDED, time_exceeded::FRAG_TIME);

/// All IPv6 fragment queues of a namespace, their memory and counters. Linux: the `fqdir` of
/// `net->ipv6`.
#[derive(Debug)]
pub struct Ip6FragTable {
    params: Ip6FragParams,
    q: InetFrags<FragKey, FragQueue6>,
    stats: Ip6ReasmStats,
}

impl Default for Ip6FragTable {
    fn default() -> Self {
        Ip6FragTable::new(Ip6FragParams::default())
    }
}

/// Finds the fragment header of an IPv6 packet (fixed header at the start): where the
/// next-header byte naming it sits, and where it starts. `None` without one, or if the
/// headers before it run past the packet. (Linux meets it on the header walk of
/// `ip6_input_finish`, which hands `ipv6_frag_rcv` both offsets.)
pub fn ipv6_find_frag_hdr(packet: &[u8]) -> Option<(usize, usize)> {
    let mut nh = IpProtocol(*packet.get(6)?);
    let mut nhoff = 6;
    let mut off = HEADER_LEN;
    // Each step takes at least 8 bytes, so the walk ends.
    loop {
        match nh {
            IpProtocol::FRAGMENT => return Some((nhoff, off)),
            IpProtocol::HOPOPTS | IpProtocol::ROUTING | IpProtocol::DSTOPTS => {
                let h = packet.get(off..off + 2)?;
                nhoff = off;
                nh = IpProtocol(h[0]);
                off += (usize::from(h[1]) + 1) * 8;
            }
            _ => return None,
        }
    }
}

/// Whether a first fragment misses part of its header chain: the extension headers after the
/// fragment header and the upper-layer header (TCP's 20 bytes, UDP's and ICMPv6's 8, one
/// byte of anything else) must all be in it. `frag` starts at the fragment header and ends
/// with the packet. Linux: `ipv6frag_thdr_truncated` (which lets a chain whose extension
/// headers are cut pass; RFC 8200 and RFC 7112 want it refused too, and so it is here).
fn ipv6frag_thdr_truncated(frag: &[u8]) -> bool {
    let Ok(ext) = ipv6_skip_exthdr(frag, IpProtocol::FRAGMENT) else {
        return true;
    };
    if ext.frag.is_some_and(|f| f.frag_offset != 0) {
        return false;
    }
    let upper = match ext.protocol {
        IpProtocol::TCP => 20,
        IpProtocol::UDP | IpProtocol::ICMPV6 => 8,
        _ => 1,
    };
    ext.offset + upper > frag.len()
}

impl Ip6FragTable {
    /// No queues.
    pub fn new(params: Ip6FragParams) -> Ip6FragTable {
        Ip6FragTable {
            params,
            q: InetFrags::new(params.limits(), DATA_START, IPV6_MAXPLEN),
            stats: Ip6ReasmStats::default(),
        }
    }

    /// Change the tunables; queues keep their timers. If `high_thresh` is now under the
    /// memory held, the oldest queues are evicted down to `low_thresh` (each a failed
    /// reassembly); returns their fragments, dropped. Linux: a write to `ip6frag_*`.
    pub fn set_params(&mut self, params: Ip6FragParams) -> u64 {
        self.params = params;
        let evicted = self.q.set_limits(params.limits());
        self.stats.reasm_fails += evicted.len() as u64;
        evicted.iter().map(|q| q.nfrags).sum()
    }

    /// The tunables.
    pub fn params(&self) -> &Ip6FragParams {
        &self.params
    }

    /// The counters.
    pub fn stats(&self) -> &Ip6ReasmStats {
        &self.stats
    }

    /// Memory the queues hold, in bytes (Linux: /proc/net/sockstat6 "FRAG6: memory").
    pub fn mem(&self) -> usize {
        self.q.mem()
    }

    /// Queues in use (Linux: /proc/net/sockstat6 "FRAG6: inuse").
    pub fn queue_count(&self) -> usize {
        self.q.queue_count()
    }

    /// When the oldest queue expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.q.next_expiry()
    }

    /// A fragment arrived on interface `iif`: `packet` is the whole IPv6 packet (fixed
    /// header at its start, at least `40 + payload length` bytes; anything beyond is
    /// ignored), `nhoff` where the next-header byte naming the fragment header is and
    /// `frag_off` where the fragment header starts (as [`ipv6_find_frag_hdr`] finds them).
    /// Linux: `ipv6_frag_rcv` (+ `fq_find`, `ip6_frag_queue`, `ip6_frag_reasm`).
    pub fn ipv6_frag_rcv(
        &mut self,
        packet: &[u8],
        nhoff: usize,
        frag_off: usize,
        iif: u32,
        user: Ip6DefragUser,
        now: Instant,
    ) -> Ip6Defrag {
        self.stats.reasm_reqds += 1;
        let hdr_error = |stats: &mut Ip6ReasmStats, code, pointer: usize| {
            stats.in_hdr_errors += 1;
            Ip6Defrag::Icmp {
                error: Icmp6Error {
                    msg_type: Icmpv6Message::PARAM_PROBLEM,
                    code,
                    pointer: pointer as u32,
                },
                killed: 0,
            }
        };
        let Ok(ip) = Ipv6Packet::new_checked(packet) else {
            self.stats.reasm_fails += 1;
            return Ip6Defrag::Drop {
                reason: DropReason::IpInhdr,
                killed: 0,
            };
        };
        let plen = usize::from(ip.payload_len());
        let packet = &packet[..HEADER_LEN + plen];
        // A jumbogram cannot be fragmented; a fragment header must fit, and `nhoff` name it.
        if plen == 0
            || frag_off < HEADER_LEN
            || nhoff >= frag_off
            || packet.get(nhoff) != Some(&IpProtocol::FRAGMENT.0)
            || packet.len() < frag_off + FRAG_HEADER_LEN
        {
            return hdr_error(&mut self.stats, param_problem::HDR_FIELD, frag_off);
        }
        let fh = Ipv6FragHeader::new_unchecked(&packet[frag_off..]);
        let (offset, more) = (fh.frag_offset(), fh.more_frags());
        if offset == 0 && !more {
            // RFC 6946: an atomic fragment is processed at once, never queued.
            self.stats.reasm_oks += 1;
            return Ip6Defrag::Atomic {
                next_header: fh.next_header(),
                offset: frag_off + FRAG_HEADER_LEN,
            };
        }
        if offset == 0 && ipv6frag_thdr_truncated(&packet[frag_off..]) {
            return hdr_error(&mut self.stats, param_problem::HDR_INCOMPLETE, 0);
        }
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let (kind, scope) = ipv6_addr_type(&dst);
        let key = FragKey {
            src,
            dst,
            id: fh.ident(),
            user,
            iif: if kind == Ipv6AddrKind::Multicast || scope == Ipv6Scope::LinkLocal {
                iif
            } else {
                0
            },
        };
        let payload_start = frag_off + FRAG_HEADER_LEN;
        let end = offset + (packet.len() - payload_start);
        if end > IPV6_MAXPLEN {
            // Linux: `ip6_frag_queue` kills the queue and points at the offset field.
            let killed = self.q.inet_frag_kill(&key).map_or(0, |q| q.nfrags);
            let mut r = hdr_error(
                &mut self.stats,
                param_problem::HDR_FIELD,
                frag_off + FRAG_OFF_FIELD,
            );
            if let Ip6Defrag::Icmp { killed: k, .. } = &mut r {
                *k = killed;
            }
            return r;
        }
        if more && end & 7 != 0 {
            // RFC 8200: a non-last fragment's length is a multiple of 8.
            return hdr_error(&mut self.stats, param_problem::HDR_FIELD, PAYLOAD_LEN_FIELD);
        }
        if end == offset {
            let killed = self.q.inet_frag_kill(&key).map_or(0, |q| q.nfrags);
            self.stats.reasm_fails += 1;
            return Ip6Defrag::Drop {
                reason: DropReason::IpInhdr,
                killed,
            };
        }
        if offset == 0 && payload_start > MAX_UNFRAG_LEN + FRAG_HEADER_LEN {
            let killed = self.q.inet_frag_kill(&key).map_or(0, |q| q.nfrags);
            self.stats.reasm_fails += 1;
            return Ip6Defrag::Drop {
                reason: DropReason::IpInhdr,
                killed,
            };
        }
        let head = &packet[..payload_start];
        let q = match self.q.inet_frag_queue(
            &key,
            offset,
            end,
            more,
            head,
            &packet[payload_start..],
            now,
        ) {
            Ok(q) => q,
            Err((e, killed)) => {
                self.stats.reasm_fails += 1;
                let reason = match e {
                    FragError::Nomem => DropReason::Nomem,
                    FragError::Inconsistent | FragError::HeadTooLong => DropReason::IpInhdr,
                    FragError::Dup => DropReason::DupFrag,
                    FragError::Overlap => {
                        self.stats.reasm_overlaps += 1;
                        DropReason::FragOverlap
                    }
                    FragError::TooFar => DropReason::FragTooFar,
                };
                return Ip6Defrag::Drop {
                    reason,
                    killed: killed.map_or(0, |q| q.nfrags),
                };
            }
        };
        q.proto.iif = iif;
        q.proto.ecn |= 1 << ip.ecn();
        q.proto.max_size = q.proto.max_size.max(packet.len());
        if offset == 0 {
            q.proto.nhoff = nhoff;
        }
        match self.q.inet_frag_complete(&key) {
            Some(q) => self.ip6_frag_reasm(q),
            None => Ip6Defrag::Queued,
        }
    }

    /// Put a complete queue together: the first fragment's headers without its fragment
    /// header in front of the payload, the next header it named written where it was named,
    /// the payload length and the combined ECN codepoint set. Linux: `ip6_frag_reasm`.
    fn ip6_frag_reasm(&mut self, q: Box<InetFragQueue<FragQueue6>>) -> Ip6Defrag {
        let nfrags = q.nfrags;
        let fail = |stats: &mut Ip6ReasmStats| {
            stats.reasm_fails += 1;
            Ip6Defrag::Drop {
                reason: DropReason::IpInhdr,
                killed: nfrags,
            }
        };
        let hlen = q.hlen();
        let len = q.len();
        let FragQueue6 {
            ecn: seen,
            max_size,
            nhoff,
            ..
        } = q.proto;
        let first = q.first_fragment(DATA_START);
        let first_ecn = first[1] >> 4 & 0x03;
        let Some(ecn) = ip_frag_ecn(seen, first_ecn) else {
            return fail(&mut self.stats);
        };
        let unfrag = hlen - FRAG_HEADER_LEN;
        let payload_len = unfrag - HEADER_LEN + len;
        if payload_len > IPV6_MAXPLEN {
            return fail(&mut self.stats);
        }
        let next_header = first[unfrag];
        let mut area = q.into_area();
        area.truncate(DATA_START + len);
        // Linux's memmove of the headers over the fragment header.
        let start = DATA_START - unfrag;
        area.copy_within(DATA_START - hlen..DATA_START - FRAG_HEADER_LEN, start);
        area[start + nhoff] = next_header;
        let mut buf = PacketBuf::build(area.into_boxed_slice(), start, DATA_START + len);
        {
            let mut p = Ipv6Packet::new_unchecked(buf.data_mut());
            p.set_payload_len(payload_len as u16);
            let tc = p.traffic_class();
            p.set_traffic_class((tc & !0x03) | ecn);
        }
        buf.reset_network_header();
        self.stats.reasm_oks += 1;
        Ip6Defrag::Complete {
            buf,
            nhoff,
            offset: unfrag,
            frag_max_size: max_size,
        }
    }

    /// Give up the queues whose `ip6frag_time` has passed by `now`: each counts as a failed
    /// reassembly and a timeout, and is handed to `expired` (with the first fragment to quote
    /// in ICMPv6 time exceeded code 1, if it had arrived). Returns when the next queue
    /// expires. Linux: `ip6_frag_expire` → `ip6frag_expire_frag_queue`.
    pub fn ip6_frag_expire(
        &mut self,
        now: Instant,
        mut expired: impl FnMut(Ip6FragExpired<'_>),
    ) -> Option<Instant> {
        if self.q.is_empty() {
            return None;
        }
        while let Some(q) = self.q.inet_frag_expired(now) {
            self.stats.reasm_fails += 1;
            self.stats.reasm_timeout += 1;
            let first = q.first_fragment(DATA_START);
            expired(Ip6FragExpired {
                quote: (!first.is_empty()).then_some(first),
                iif: q.proto.iif,
                nfrags: q.nfrags,
            });
        }
        self.q.next_expiry()
    }
}
