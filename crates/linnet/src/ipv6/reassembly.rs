//! IPv6 reassembly of fragments addressed to this host, as pure logic: a fragment goes in
//! with `now`, and out comes the datagram, a verdict, or the ICMPv6 error to send.
//!
//! Linux: net/ipv6/reassembly.c (`ipv6_frag_rcv`, `fq_find`, `ip6_frag_queue`,
//! `ip6_frag_reasm`, `ip6_frag_expire`) and include/net/ipv6_frag.h
//! (`ip6frag_expire_frag_queue`), on the queues shared with IPv4 in
//! `ip/inet_fragment.rs`; the sysctls `net.ipv6.ip6frag_high_thresh` (4 MiB),
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
//! Differences from Linux: the headers in front of the fragment header of the first fragment
//! may take at most [`MAX_UNFRAG_LEN`] bytes (Linux has no bound), so that they fit in front of
//! the assembly area and the datagram is built without a further copy; and a queue holding
//! more than 64 separate ranges (`MAX_RUNS`) is dropped, as for IPv4
//! (Linux bounds only IPv4's, with `ipfrag_max_dist`).
//!
//! How the receive path calls it (Linux: `ip6_input_finish` meeting `NEXTHDR_FRAGMENT`), as
//! `Stack::ipv6_frag_rcv` and `Stack::ip6_frag_expire` at the end of this file do:
//!
//! ```text
//! match frags.ipv6_frag_rcv(buf.data(), nhoff, frag_off, ifindex, LocalDeliver, now) {
//!     Complete { buf, nhoff, offset, .. } => go on with `buf`: next header buf[nhoff] at offset,
//!     Atomic { next_header, offset }      => go on with the same buffer,
//!     Queued                              => give the buffer back to the pool,
//!     Drop { reason, killed }             => count `reason` for 1 + killed packets,
//!     Icmp { error, killed }              => icmpv6_send(&buf, error.msg_type, error.code,
//!                                            error.pointer), count the drop,
//! }
//! // from poll:
//! frags.ip6_frag_expire(now, |e| if let Some(q) = e.quote {
//!     icmpv6_send(q, TIME_EXCEEDED, FRAG_TIME, 0) // out of e.iif
//! });
//! ```

use crate::buf::{PacketBuf, MAX_HEADER};
use crate::ip::inet_fragment::{ip_frag_ecn, FragError, FragLimits, InetFragQueue, InetFrags};
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{param_problem, time_exceeded};
use crate::wire::ipv6::{ipv6_addr_type, Ipv6AddrKind, Ipv6Scope, HEADER_LEN};
use crate::wire::ipv6ext::{ipv6_skip_exthdr, Ipv6FragHeader, FRAG_HEADER_LEN};
use crate::wire::{Icmpv6Message, IpProtocol, Ipv6Addr, Ipv6Packet};

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

/// Reassembly tunables (`net.ipv6.ip6frag_*`); defaults `Ip6FragParams::IPV6`.
pub type Ip6FragParams = FragLimits;

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

/// What identifies the fragments of one datagram (opaque outside this file). Linux:
/// `struct frag_v6_compare_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    id: u32,
    user: Ip6DefragUser,
    /// The arrival interface for link-local and multicast destinations, else 0.
    iif: u32,
}

/// What an IPv6 queue keeps besides the shared part. Linux: `struct frag_queue`.
#[derive(Debug, Default)]
pub struct FragQueue6 {
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
    q: InetFrags<FragKey, FragQueue6>,
    stats: Ip6ReasmStats,
}

impl Default for Ip6FragTable {
    fn default() -> Self {
        Ip6FragTable::new(Ip6FragParams::IPV6)
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

/// The shared queues' read side (`params`, `mem`, `queue_count`, `next_expiry`), without a
/// wrapper per family. Linux: the `fqdir` both families read.
impl std::ops::Deref for Ip6FragTable {
    type Target = InetFrags<FragKey, FragQueue6>;

    fn deref(&self) -> &Self::Target {
        &self.q
    }
}

impl Ip6FragTable {
    /// No queues.
    pub fn new(params: Ip6FragParams) -> Ip6FragTable {
        Ip6FragTable {
            q: InetFrags::new(params, DATA_START, IPV6_MAXPLEN),
            stats: Ip6ReasmStats::default(),
        }
    }

    /// Change the tunables; queues keep their timers. If `high_thresh` is now under the
    /// memory held, the oldest queues are evicted down to `low_thresh` (each a failed
    /// reassembly); returns their fragments, dropped. Linux: a write to `ip6frag_*`.
    pub fn set_params(&mut self, params: Ip6FragParams) -> u64 {
        let evicted = self.q.set_limits(params);
        self.stats.reasm_fails += evicted.len() as u64;
        evicted.iter().map(|q| q.nfrags).sum()
    }

    /// The counters.
    pub fn stats(&self) -> &Ip6ReasmStats {
        &self.stats
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

impl Stack {
    /// A fragment header at `frag_off` named by the byte at `nhoff` (offsets from the IPv6
    /// header at the data start): hand the fragment to the reassembly queues and act on the
    /// outcome. When the datagram is whole (or the fragment was atomic) it comes back with
    /// where the header walk goes on: the field naming the next header, and that header's
    /// offset. Linux: `ipv6_frag_rcv`.
    pub(crate) fn ipv6_frag_rcv(
        &mut self,
        buf: PacketBuf,
        nhoff: usize,
        frag_off: usize,
        now: Instant,
    ) -> Option<(PacketBuf, usize, usize)> {
        let iif = buf.meta.ifindex;
        let user = Ip6DefragUser::LocalDeliver;
        let out = self
            .ipv6
            .frags
            .ipv6_frag_rcv(buf.data(), nhoff, frag_off, iif, user, now);
        match out {
            Ip6Defrag::Complete {
                buf: mut whole,
                nhoff,
                offset,
                ..
            } => {
                whole.meta = buf.meta;
                self.pool.put(buf);
                Some((whole, nhoff, offset))
            }
            Ip6Defrag::Atomic { offset, .. } => Some((buf, frag_off, offset)),
            Ip6Defrag::Queued => {
                self.pool.put(buf);
                None
            }
            Ip6Defrag::Drop { reason, killed } => {
                self.drops.add(reason, killed);
                self.drop_pkt(buf, reason);
                None
            }
            Ip6Defrag::Icmp { error, killed } => {
                self.drops.add(DropReason::IpInhdr, killed);
                let (t, c, ptr) = (error.msg_type, error.code, error.pointer);
                self.icmp6_send(&buf, t, c, ptr, now);
                self.drop_pkt(buf, DropReason::IpInhdr);
                None
            }
        }
    }

    /// Give up the queues older than `ip6frag_time`: their fragments are dropped, and the
    /// sender of a datagram whose first fragment came hears ICMPv6 time exceeded (fragment
    /// reassembly time exceeded) quoting it. Returns when the next queue expires.
    /// Linux: `ip6_frag_expire` → `ip6frag_expire_frag_queue`.
    pub(crate) fn ip6_frag_expire(&mut self, now: Instant) -> Option<Instant> {
        let mut quotes = Vec::new();
        let (frags, pool, drops) = (&mut self.ipv6.frags, &mut self.pool, &mut self.drops);
        let next = frags.ip6_frag_expire(now, |e| {
            drops.add(DropReason::FragReasmTimeout, e.nfrags);
            if let Some(first) = e.quote {
                let mut q = pool.copy_of(first);
                q.meta.ifindex = e.iif;
                quotes.push(q);
            }
        });
        for q in quotes {
            let (t, c) = EXPIRE_ICMP;
            self.icmp6_send(&q, t, c, 0, now);
            self.pool.put(q);
        }
        next
    }

    /// The IPv6 reassembly queues (memory, queue count, counters, tunables).
    pub fn frag6_queues(&self) -> &Ip6FragTable {
        &self.ipv6.frags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipv6::fragment::ip6_fragment;
    use crate::wire::captures::{from_hex, PORT_UNREACH6};
    use proptest::prelude::*;
    use std::time::Duration;

    const PEER: &str = "2001:db8::1";
    const ME: &str = "2001:db8::2";
    const LOCAL: Ip6DefragUser = Ip6DefragUser::LocalDeliver;

    /// A UDP datagram PEER -> ME of `len` patterned payload bytes, traffic class `tc`.
    fn datagram(len: usize, tc: u8) -> Vec<u8> {
        let mut d = vec![0u8; 48 + len];
        {
            let mut p = Ipv6Packet::new_unchecked(&mut d[..]);
            p.set_version_tc_flow(6, tc, 0x1796e);
            p.set_payload_len((8 + len) as u16);
            p.set_next_header(IpProtocol::UDP);
            p.set_hop_limit(64);
            p.set_src_addr(PEER.parse().unwrap());
            p.set_dst_addr(ME.parse().unwrap());
        }
        d[40..42].copy_from_slice(&1234u16.to_be_bytes());
        d[42..44].copy_from_slice(&9u16.to_be_bytes());
        d[44..46].copy_from_slice(&((8 + len) as u16).to_be_bytes());
        for (i, x) in d[48..].iter_mut().enumerate() {
            *x = (i * 7 % 251) as u8;
        }
        d
    }

    fn cut(d: &[u8], mtu: usize, id: u32) -> Vec<Vec<u8>> {
        ip6_fragment(d, mtu, id)
            .unwrap()
            .map(|f| {
                let mut b = vec![0; f.len()];
                f.emit(&mut b).unwrap();
                b
            })
            .collect()
    }

    /// A hand-made fragment PEER -> ME: `len` bytes of `fill` at `offset`, no extension
    /// headers but the fragment header.
    fn raw(id: u32, offset: usize, len: usize, more: bool, fill: u8) -> Vec<u8> {
        let mut d = datagram(0, 0);
        d.truncate(40);
        d[6] = IpProtocol::FRAGMENT.0;
        d.extend([0; 8]);
        Ipv6FragHeader::new_unchecked(&mut d[40..]).set(IpProtocol::UDP, offset, more, id);
        d.extend(vec![fill; len]);
        let plen = (d.len() - 40) as u16;
        d[4..6].copy_from_slice(&plen.to_be_bytes());
        d
    }

    fn rcv(t: &mut Ip6FragTable, f: &[u8], now: Instant) -> Ip6Defrag {
        let (nhoff, off) = ipv6_find_frag_hdr(f).expect("a fragment header");
        t.ipv6_frag_rcv(f, nhoff, off, 1, LOCAL, now)
    }

    fn feed(t: &mut Ip6FragTable, frags: &[Vec<u8>], now: Instant) -> Vec<Vec<u8>> {
        frags
            .iter()
            .filter_map(|f| match rcv(t, f, now) {
                Ip6Defrag::Complete { buf, .. } => Some(buf.data().to_vec()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn in_order_out_of_order_and_reversed() {
        let d = datagram(9000, 0);
        let frags = cut(&d, 1500, 77);
        assert_eq!(frags.len(), 7);
        for order in [
            vec![0, 1, 2, 3, 4, 5, 6],
            vec![6, 5, 4, 3, 2, 1, 0],
            vec![3, 0, 6, 1, 5, 2, 4],
        ] {
            let mut t = Ip6FragTable::default();
            let shuffled: Vec<Vec<u8>> = order.iter().map(|&i| frags[i].clone()).collect();
            for f in &shuffled[..6] {
                assert!(matches!(rcv(&mut t, f, Instant::ZERO), Ip6Defrag::Queued));
            }
            match rcv(&mut t, &shuffled[6], Instant::ZERO) {
                Ip6Defrag::Complete {
                    buf,
                    nhoff,
                    offset,
                    frag_max_size,
                } => {
                    assert_eq!(buf.data(), &d[..], "order {order:?}");
                    assert_eq!((nhoff, offset, frag_max_size), (6, 40, 1496));
                    assert!(buf.headroom() >= MAX_HEADER, "room to reply in place");
                }
                r => panic!("{r:?}"),
            }
            assert_eq!((t.mem(), t.queue_count(), t.next_expiry()), (0, 0, None));
            let s = t.stats();
            assert_eq!((s.reasm_reqds, s.reasm_oks, s.reasm_fails), (7, 1, 0));
        }
    }

    #[test]
    fn reassembles_linux_s_datagram_as_linux_quoted_it() {
        // Linux's port unreachable quotes the datagram it reassembled from FRAG6_LAST and its
        // two siblings; cutting that datagram as Linux does and putting it back gives the same.
        let quote = from_hex(PORT_UNREACH6)[48..].to_vec();
        let mut d = quote[..48].to_vec();
        d.extend((0..3072).map(|i| i as u8));
        let mut t = Ip6FragTable::default();
        let out = feed(&mut t, &cut(&d, 1500, 0x2dcc_9e84), Instant::ZERO);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0][..quote.len()], &quote[..]);
        assert_eq!(out[0], d);
    }

    #[test]
    fn duplicates_are_dropped_and_counted_as_failures() {
        let d = datagram(4000, 0);
        let f = cut(&d, 1500, 3);
        let mut t = Ip6FragTable::default();
        let now = Instant::ZERO;
        assert!(matches!(rcv(&mut t, &f[0], now), Ip6Defrag::Queued));
        for _ in 0..2 {
            assert!(matches!(
                rcv(&mut t, &f[0], now),
                Ip6Defrag::Drop {
                    reason: DropReason::DupFrag,
                    killed: 0
                }
            ));
        }
        // Inside received data with other bytes: a duplicate too, its bytes not taken.
        assert!(matches!(
            rcv(&mut t, &raw(3, 8, 16, true, 0xee), now),
            Ip6Defrag::Drop {
                reason: DropReason::DupFrag,
                ..
            }
        ));
        let out = feed(&mut t, &f[1..], now);
        assert_eq!(out, vec![d]);
        assert_eq!(
            t.stats().reasm_fails,
            3,
            "Linux counts IPv6 duplicates as failures"
        );
    }

    #[test]
    fn overlap_drops_the_whole_datagram() {
        let mut t = Ip6FragTable::default();
        let now = Instant::ZERO;
        assert!(matches!(
            rcv(&mut t, &raw(5, 0, 1448, true, 1), now),
            Ip6Defrag::Queued
        ));
        assert!(matches!(
            rcv(&mut t, &raw(5, 2896, 100, false, 3), now),
            Ip6Defrag::Queued
        ));
        match rcv(&mut t, &raw(5, 1440, 1456, true, 2), now) {
            Ip6Defrag::Drop { reason, killed } => {
                assert_eq!((reason, killed), (DropReason::FragOverlap, 2));
            }
            r => panic!("{r:?}"),
        }
        assert_eq!((t.queue_count(), t.mem()), (0, 0));
        let s = *t.stats();
        assert_eq!((s.reasm_overlaps, s.reasm_fails), (1, 1));
        // The rest cannot complete: it starts a new queue.
        assert!(matches!(
            rcv(&mut t, &raw(5, 1448, 1448, true, 2), now),
            Ip6Defrag::Queued
        ));
        assert_eq!(t.queue_count(), 1);
    }

    #[test]
    fn header_errors_answer_with_parameter_problems() {
        let mut t = Ip6FragTable::default();
        let now = Instant::ZERO;
        let prob = |r: Ip6Defrag| match r {
            Ip6Defrag::Icmp { error, killed } => {
                assert_eq!(error.msg_type, Icmpv6Message::PARAM_PROBLEM);
                (error.code, error.pointer, killed)
            }
            r => panic!("{r:?}"),
        };
        // A non-last fragment not a multiple of 8 long: pointer at the payload length.
        assert_eq!(prob(rcv(&mut t, &raw(1, 0, 1001, true, 0), now)), (0, 4, 0));
        // Beyond 65535 bytes: pointer at the offset field; the queue goes.
        assert!(matches!(
            rcv(&mut t, &raw(2, 0, 1448, true, 0), now),
            Ip6Defrag::Queued
        ));
        assert_eq!(
            prob(rcv(&mut t, &raw(2, 65528, 16, false, 0), now)),
            (0, 42, 1)
        );
        assert_eq!(t.queue_count(), 0);
        // A first fragment without the whole UDP header (RFC 7112): code 3, pointer 0.
        assert_eq!(prob(rcv(&mut t, &raw(3, 0, 4, true, 0), now)), (3, 0, 0));
        // TCP needs 20 bytes.
        let mut cut_short = raw(3, 0, 16, true, 0);
        cut_short[40] = IpProtocol::TCP.0;
        assert_eq!(prob(rcv(&mut t, &cut_short, now)), (3, 0, 0));
        // A first fragment whose destination options header after the fragment header is
        // cut off.
        let mut ext = raw(4, 0, 8, true, 0);
        ext[40] = IpProtocol::DSTOPTS.0;
        ext[48..50].copy_from_slice(&[17, 1]); // claims 16 bytes, 8 are there
        assert_eq!(prob(rcv(&mut t, &ext, now)), (3, 0, 0));
        // A non-first fragment needs no header chain.
        assert!(matches!(
            rcv(&mut t, &raw(6, 8, 8, true, 0), now),
            Ip6Defrag::Queued
        ));
        // A jumbo payload length (0) points at the fragment header.
        let mut jumbo = raw(7, 0, 16, true, 0);
        jumbo[4..6].copy_from_slice(&[0, 0]);
        assert_eq!(
            prob(t.ipv6_frag_rcv(&jumbo, 6, 40, 1, LOCAL, now)),
            (0, 40, 0)
        );
        assert_eq!(t.stats().in_hdr_errors, 6);
        // Inconsistent last fragments kill the queue.
        rcv(&mut t, &raw(8, 1448, 100, false, 0), now);
        match rcv(&mut t, &raw(8, 1448, 200, false, 0), now) {
            Ip6Defrag::Drop { reason, killed } => {
                assert_eq!((reason, killed), (DropReason::IpInhdr, 1));
            }
            r => panic!("{r:?}"),
        }
        assert_eq!(
            t.queue_count(),
            1,
            "only the fragment of datagram 6 is left"
        );
    }

    #[test]
    fn atomic_fragment_is_processed_at_once() {
        let mut t = Ip6FragTable::default();
        let f = raw(9, 0, 20, false, 0);
        match rcv(&mut t, &f, Instant::ZERO) {
            Ip6Defrag::Atomic {
                next_header,
                offset,
            } => assert_eq!((next_header, offset), (IpProtocol::UDP, 48)),
            r => panic!("{r:?}"),
        }
        assert_eq!(t.queue_count(), 0);
        let s = t.stats();
        assert_eq!((s.reasm_reqds, s.reasm_oks), (1, 1));
    }

    #[test]
    fn timeout_sends_time_exceeded_only_with_the_first_fragment() {
        let mut t = Ip6FragTable::default();
        let t0 = Instant::from_secs(5);
        let f = cut(&datagram(3000, 0), 1500, 11);
        assert!(matches!(rcv(&mut t, &f[0], t0), Ip6Defrag::Queued));
        assert!(matches!(
            rcv(&mut t, &raw(12, 1448, 8, false, 0), t0),
            Ip6Defrag::Queued
        ));
        let expiry = t0 + Duration::from_secs(60);
        assert_eq!(t.next_expiry(), Some(expiry));
        let mut seen = Vec::new();
        let before = Instant::from_micros(expiry.total_micros() - 1);
        assert_eq!(
            t.ip6_frag_expire(before, |e| seen.push(e.nfrags)),
            Some(expiry)
        );
        assert!(seen.is_empty());
        let mut quotes = Vec::new();
        assert_eq!(
            t.ip6_frag_expire(expiry, |e| quotes
                .push((e.quote.map(<[u8]>::to_vec), e.iif))),
            None
        );
        assert_eq!(quotes.len(), 2);
        assert_eq!(
            quotes[0],
            (Some(f[0].clone()), 1),
            "the first fragment, as it came"
        );
        assert_eq!(quotes[1], (None, 1));
        let s = *t.stats();
        assert_eq!((s.reasm_timeout, s.reasm_fails), (2, 2));
        assert_eq!((t.mem(), t.queue_count()), (0, 0));
        assert_eq!(EXPIRE_ICMP, (Icmpv6Message::TIME_EXCEEDED, 1));
        // A late fragment starts afresh.
        assert!(matches!(rcv(&mut t, &f[1], expiry), Ip6Defrag::Queued));
    }

    #[test]
    fn the_stack_evicts_on_a_lowered_sysctl_and_expires_what_is_left() {
        let mut s = Stack::new(crate::stack::StackConfig::default());
        for id in 0..100u32 {
            let b = PacketBuf::from_slice(&raw(id, 0, 1024, true, 0), MAX_HEADER);
            let now = Instant::from_secs(u64::from(id));
            assert!(s.ipv6_frag_rcv(b, 6, 40, now).is_none());
        }
        assert_eq!(s.frag6_queues().queue_count(), 100);
        let per_queue = s.frag6_queues().mem() / 100;
        s.config_mut().ip6frag.high_thresh = 50 * per_queue;
        s.config_mut().ip6frag.low_thresh = 30 * per_queue;
        s.sysctl_changed();
        assert_eq!(s.frag6_queues().queue_count(), 30);
        assert_eq!(s.snmp().ip6.reasm_fails, 70);
        assert_eq!(s.drops().get(DropReason::Nomem), 70);
        // The 30 newest expire ip6frag_time after their first fragment, each a drop.
        let next = s.ip6_frag_expire(Instant::from_secs(70 + 60));
        assert_eq!(next, Some(Instant::from_secs(71 + 60)));
        assert_eq!(s.ip6_frag_expire(Instant::from_secs(99 + 60)), None);
        let ip6 = s.snmp().ip6;
        assert_eq!((ip6.reasm_timeout, ip6.reasm_fails), (30, 100));
        assert_eq!(s.drops().get(DropReason::FragReasmTimeout), 30);
        assert_eq!(s.frag6_queues().mem(), 0);
    }

    #[test]
    fn twenty_thousand_incomplete_trains_stay_within_the_limit() {
        let p = Ip6FragParams::IPV6;
        let mut t = Ip6FragTable::new(p);
        let now = Instant::ZERO;
        let mut nomem = 0;
        for id in 0..20_000u32 {
            let f = if id % 2 == 0 {
                raw(id, 0, 1448, true, 0)
            } else {
                raw(id, 64_000, 1000, false, 0)
            };
            if let Ip6Defrag::Drop {
                reason: DropReason::Nomem,
                ..
            } = rcv(&mut t, &f, now)
            {
                nomem += 1;
            }
            assert!(t.mem() <= p.high_thresh, "{} > {}", t.mem(), p.high_thresh);
        }
        let held = t.queue_count();
        assert!(
            held > 100 && nomem > 10_000,
            "{held} queues, {nomem} refused"
        );
        // Lowering the limit evicts the oldest queues down to low_thresh.
        let low = 1 << 20;
        let dropped = t.set_params(Ip6FragParams {
            high_thresh: 2 << 20,
            low_thresh: low,
            ..p
        });
        assert!(t.mem() <= low);
        assert_eq!(dropped as usize, held - t.queue_count());
        // Everything else expires.
        t.ip6_frag_expire(now + p.time, |_| {});
        assert_eq!((t.mem(), t.queue_count()), (0, 0));
        // A whole datagram gets through again.
        let d = datagram(3000, 0);
        assert_eq!(feed(&mut t, &cut(&d, 1500, 1), now + p.time), vec![d]);
    }

    #[test]
    fn link_local_destinations_are_keyed_by_interface() {
        let mut t = Ip6FragTable::default();
        let now = Instant::ZERO;
        let ll = |mut f: Vec<u8>| {
            f[24..40].copy_from_slice(&"fe80::2".parse::<Ipv6Addr>().unwrap().octets());
            f
        };
        let a = ll(raw(1, 0, 8, true, 1));
        let b = ll(raw(1, 8, 8, false, 2));
        let (nhoff, off) = ipv6_find_frag_hdr(&a).unwrap();
        assert!(matches!(
            t.ipv6_frag_rcv(&a, nhoff, off, 1, LOCAL, now),
            Ip6Defrag::Queued
        ));
        assert!(matches!(
            t.ipv6_frag_rcv(&b, nhoff, off, 2, LOCAL, now),
            Ip6Defrag::Queued
        ));
        assert_eq!(t.queue_count(), 2);
        assert!(matches!(
            t.ipv6_frag_rcv(&b, nhoff, off, 1, LOCAL, now),
            Ip6Defrag::Complete { .. }
        ));
        // Global destinations are not, and users are kept apart.
        let (a, b) = (raw(2, 0, 8, true, 1), raw(2, 8, 8, false, 2));
        t.ipv6_frag_rcv(&a, nhoff, off, 1, LOCAL, now);
        let r = t.ipv6_frag_rcv(&b, nhoff, off, 2, Ip6DefragUser::ConntrackIn, now);
        assert!(matches!(r, Ip6Defrag::Queued));
        let r = t.ipv6_frag_rcv(&b, nhoff, off, 2, LOCAL, now);
        assert!(matches!(r, Ip6Defrag::Complete { .. }));
    }

    #[test]
    fn ecn_combines_or_drops() {
        let mut t = Ip6FragTable::default();
        let now = Instant::ZERO;
        let d = datagram(3000, 0x02);
        let mut f = cut(&d, 1500, 1);
        Ipv6Packet::new_unchecked(&mut f[1][..]).set_traffic_class(0x03);
        let out = feed(&mut t, &f, now);
        assert_eq!(Ipv6Packet::new_unchecked(&out[0][..]).ecn(), 3);
        let mut f = cut(&d, 1500, 2);
        Ipv6Packet::new_unchecked(&mut f[0][..]).set_traffic_class(0);
        assert!(feed(&mut t, &f, now).is_empty());
        assert_eq!(t.stats().reasm_fails, 1);
    }

    #[test]
    fn extension_headers_survive_and_the_fragment_header_goes() {
        // Hop-by-hop and routing headers in front: they come back, the routing header's next
        // header naming UDP again.
        let mut d = vec![0u8; 40];
        d[0] = 0x60;
        d[6] = 0;
        d[8..24].copy_from_slice(&PEER.parse::<Ipv6Addr>().unwrap().octets());
        d[24..40].copy_from_slice(&ME.parse::<Ipv6Addr>().unwrap().octets());
        d.extend([43, 0, 1, 4, 0, 0, 0, 0]);
        d.extend([17, 0, 4, 0, 0, 0, 0, 0]);
        d.extend((0..5000).map(|i| i as u8));
        let plen = (d.len() - 40) as u16;
        d[4..6].copy_from_slice(&plen.to_be_bytes());
        let f = cut(&d, 1280, 4);
        let mut t = Ip6FragTable::default();
        let mut done = None;
        for x in f.iter().rev() {
            if let Ip6Defrag::Complete {
                buf, nhoff, offset, ..
            } = rcv(&mut t, x, Instant::ZERO)
            {
                done = Some((buf.data().to_vec(), nhoff, offset));
            }
        }
        assert_eq!(done, Some((d, 48, 56)));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Any datagram cut for any MTU of at least 1280 and fed in any order comes back
        /// byte for byte.
        #[test]
        fn fragment_then_reassemble_round_trip(
            len in 1usize..20_000,
            mtu in 1280usize..9000,
            seed in any::<u64>(),
        ) {
            let d = datagram(len, 0);
            let Ok(it) = ip6_fragment(&d, mtu, 99) else {
                prop_assert!(d.len() <= mtu);
                return Ok(());
            };
            let mut frags: Vec<Vec<u8>> = it
                .map(|f| { let mut b = vec![0; f.len()]; f.emit(&mut b).unwrap(); b })
                .collect();
            // Fisher-Yates from the seed.
            let mut x = seed | 1;
            for i in (1..frags.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                frags.swap(i, (x % (i as u64 + 1)) as usize);
            }
            let mut t = Ip6FragTable::default();
            let out = feed(&mut t, &frags, Instant::ZERO);
            prop_assert_eq!(out.len(), 1);
            prop_assert_eq!(&out[0], &d);
            prop_assert_eq!(t.mem(), 0);
        }

        /// Arbitrary bytes, offsets and fragments never panic, never exceed the memory
        /// limit, and whatever completes is a well-formed packet.
        #[test]
        fn arbitrary_fragments_are_safe(
            frags in proptest::collection::vec(
                (0u32..4, 0usize..8200, 0usize..3000, any::<bool>(), any::<u8>(),
                 proptest::collection::vec(any::<u8>(), 0..64), 0usize..80, 0usize..80),
                1..80,
            )
        ) {
            let high = 64 << 10;
            let mut t = Ip6FragTable::new(Ip6FragParams {
                high_thresh: high,
                low_thresh: high / 2,
                ..Ip6FragParams::IPV6
            });
            for (i, (id, off8, len, more, fill, junk, nhoff, foff)) in
                frags.into_iter().enumerate()
            {
                let now = Instant::from_secs(i as u64 * 3);
                t.ip6_frag_expire(now, |_| {});
                let mut f = raw(id, off8 * 8, len, more, fill);
                // Scribble over the headers now and then.
                if !junk.is_empty() {
                    let at = usize::from(junk[0]) % f.len().min(64);
                    let n = (f.len() - at).min(junk.len() - 1);
                    f[at..at + n].copy_from_slice(&junk[1..=n]);
                }
                let r = match ipv6_find_frag_hdr(&f) {
                    Some((a, b)) if junk.len() % 2 == 0 => t.ipv6_frag_rcv(&f, a, b, 1, LOCAL, now),
                    _ => t.ipv6_frag_rcv(&f, nhoff, foff, 1, LOCAL, now),
                };
                if let Ip6Defrag::Complete { buf, .. } = r {
                    let p = Ipv6Packet::new_checked(buf.data()).unwrap();
                    prop_assert_eq!(usize::from(p.payload_len()) + 40, buf.len());
                }
                prop_assert!(t.mem() <= high);
            }
            t.ip6_frag_expire(Instant::from_secs(100_000), |_| {});
            prop_assert_eq!((t.mem(), t.queue_count()), (0, 0));
        }
    }
}
