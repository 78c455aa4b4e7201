//! IPv6 reassembly of fragments addressed to this host (RFC 8200 section 4.5), with RFC 5722's
//! rule that overlapping fragments drop the whole datagram and RFC 7112's that the first
//! fragment holds the whole header chain.
//!
//! Linux: net/ipv6/reassembly.c (`ipv6_frag_rcv`, `ip6_frag_queue`, `ip6_frag_reasm`,
//! `ip6_frag_expire`) on net/ipv4/inet_fragment.c's queues, with `ip6frag_high_thresh`
//! (4 MiB) and `ip6frag_time` (60 s).
//!
//! A queue is keyed by (source, destination, identification, and the interface for a
//! link-local pair). Each fragment's data is copied into the queue's assembly area at its
//! offset and its buffer goes back to the pool at once; the first fragment also leaves its
//! unfragmentable part (the fixed header and the extension headers before the fragment
//! header). Rules, as Linux applies them:
//! - a fragment entirely inside data already received is a duplicate: dropped, the queue
//!   lives on; one overlapping received data partially drops the whole queue;
//! - a last fragment fixes the length: data beyond it, or a different last fragment, drops
//!   the queue; a non-last fragment whose length is not a multiple of 8 gets a parameter
//!   problem pointing at the payload length, one ending past 65535 bytes one pointing at its
//!   fragment offset;
//! - memory (assembly areas plus a fixed cost per queue) never exceeds the threshold: a
//!   fragment that would need more is dropped; a queue with more than [`MAX_RUNS`] separate
//!   received ranges is dropped;
//! - a queue expires 60 s after its first fragment; if the first fragment had arrived, the
//!   sender gets ICMPv6 time exceeded, code 1 (fragment reassembly time exceeded).

use crate::buf::{PacketBuf, MAX_HEADER};
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::time::Instant;
use crate::wire::icmpv6::{param_problem, time_exceeded, Icmpv6Message};
use crate::wire::ipv6::{ipv6_addr_type, Ipv6Scope, HEADER_LEN};
use crate::wire::ipv6ext::{ipv6_skip_exthdr, Ipv6FragHeader, FRAG_HEADER_LEN};
use crate::wire::{IpProtocol, Ipv6Packet, WireError};
use std::collections::{HashMap, VecDeque};
use std::net::Ipv6Addr;
use std::time::Duration;

/// `ip6frag_high_thresh` (4 MiB): most memory all queues may hold.
pub const IP6FRAG_HIGH_THRESH: usize = 4 * 1024 * 1024;
/// `ip6frag_time` (60 s): how long a queue waits for its missing fragments.
pub const IP6FRAG_TIME: Duration = Duration::from_secs(60);
/// Most separate received ranges a queue may hold.
pub const MAX_RUNS: usize = 64;
/// Memory charged for a queue besides its assembly area.
const QUEUE_COST: usize = 256;
/// Largest IPv6 payload (no jumbograms).
const IPV6_MAXPLEN: usize = 65535;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Frag6Key {
    src: Ipv6Addr,
    dst: Ipv6Addr,
    ident: u32,
    /// The interface, for link-local addresses (they are per link); 0 otherwise.
    ifindex: u32,
}

#[derive(Debug)]
struct Frag6Queue {
    /// The first fragment's unfragmentable part, the offset in it of the next header field
    /// that named the fragment header, and the header the fragment header names.
    unfrag: Option<(Vec<u8>, usize, IpProtocol)>,
    data: Vec<u8>,
    /// Received ranges of the fragmentable part, sorted, merged when adjacent.
    runs: Vec<(usize, usize)>,
    /// The length of the fragmentable part, once the last fragment came.
    total: Option<usize>,
    expires: Instant,
    ifindex: u32,
    mem: usize,
}

/// The reassembly queues. Linux: `net->ipv6.fqdir`.
#[derive(Debug, Default)]
pub struct Frag6Table {
    queues: HashMap<Frag6Key, Frag6Queue>,
    /// Queues in creation order with their expiry (they expire in that order).
    timers: VecDeque<(Instant, Frag6Key)>,
    mem: usize,
}

impl Frag6Table {
    /// Memory the queues hold.
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Number of queues.
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    fn kill(&mut self, key: &Frag6Key) -> Option<Frag6Queue> {
        let q = self.queues.remove(key)?;
        self.mem -= q.mem;
        Some(q)
    }
}

/// How a fragment went into its queue.
enum Insert {
    Ok,
    Dup,
    Overlap,
}

fn insert_run(runs: &mut Vec<(usize, usize)>, start: usize, end: usize) -> Insert {
    if runs.iter().any(|&(s, e)| s <= start && end <= e) {
        return Insert::Dup;
    }
    if runs.iter().any(|&(s, e)| start < e && s < end) {
        return Insert::Overlap;
    }
    let pos = runs
        .iter()
        .position(|&(s, _)| s > start)
        .unwrap_or(runs.len());
    runs.insert(pos, (start, end));
    // Merge neighbours that touch.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(runs.len());
    for &(s, e) in runs.iter() {
        match merged.last_mut() {
            Some(last) if last.1 == s => last.1 = e,
            _ => merged.push((s, e)),
        }
    }
    *runs = merged;
    Insert::Ok
}

/// What queueing one fragment led to.
enum Step {
    /// Kept; the datagram is not whole yet.
    Queued,
    /// Inside data already received: dropped, the queue lives on.
    Dup,
    /// Dropped, and its queue with it (or no queue could be made).
    Fail(DropReason),
    /// The last hole closed: the queue, taken out of the table.
    Done(Frag6Queue),
}

/// Put one fragment (`buf`'s, its fragment header at `frag_off`) into its queue.
/// Linux: `ip6_frag_queue` with `inet_frag_queue_insert`.
#[allow(clippy::too_many_arguments)]
fn frag6_queue(
    t: &mut Frag6Table,
    key: Frag6Key,
    buf: &PacketBuf,
    frag_off: usize,
    nh_field: usize,
    nh: IpProtocol,
    offset: usize,
    more: bool,
    now: Instant,
) -> Step {
    let d = buf.data();
    let data_at = frag_off + FRAG_HEADER_LEN;
    let len = d.len() - data_at;
    let end = offset + len;
    if !t.queues.contains_key(&key) {
        if t.mem + QUEUE_COST > IP6FRAG_HIGH_THRESH {
            return Step::Fail(DropReason::Nomem);
        }
        let expires = now + IP6FRAG_TIME;
        t.queues.insert(
            key,
            Frag6Queue {
                unfrag: None,
                data: Vec::new(),
                runs: Vec::new(),
                total: None,
                expires,
                ifindex: buf.meta.ifindex,
                mem: QUEUE_COST,
            },
        );
        t.timers.push_back((expires, key));
        t.mem += QUEUE_COST;
    }
    let q = t.queues.get_mut(&key).expect("queue just ensured");
    // What kills the queue: a zero-length piece, a length past a known end, a second end.
    let bad_end = len == 0
        || (!more
            && (q.total.is_some_and(|t| t != end) || q.runs.last().is_some_and(|r| r.1 > end)))
        || (more && q.total.is_some_and(|t| end > t));
    let verdict = if bad_end {
        Err(DropReason::FragOverlap)
    } else {
        match insert_run(&mut q.runs, offset, end) {
            Insert::Dup => return Step::Dup,
            Insert::Overlap => Err(DropReason::FragOverlap),
            Insert::Ok if q.runs.len() > MAX_RUNS => Err(DropReason::FragTooFar),
            Insert::Ok => Ok(()),
        }
    };
    if let Err(reason) = verdict {
        t.kill(&key);
        return Step::Fail(reason);
    }
    // Room for the data, within the memory limit.
    if end > q.data.len() {
        let grow = end - q.data.len();
        if t.mem + grow > IP6FRAG_HIGH_THRESH {
            t.kill(&key);
            return Step::Fail(DropReason::Nomem);
        }
        q.data.resize(end, 0);
        q.mem += grow;
        t.mem += grow;
    }
    q.data[offset..end].copy_from_slice(&d[data_at..]);
    if !more {
        q.total = Some(end);
    }
    if offset == 0 {
        let unfrag = d[..frag_off].to_vec();
        q.mem += unfrag.len();
        t.mem += unfrag.len();
        q.unfrag = Some((unfrag, nh_field, nh));
    }
    let done = q.unfrag.is_some()
        && q.total
            .is_some_and(|total| q.runs.as_slice() == [(0, total)]);
    if !done {
        return Step::Queued;
    }
    Step::Done(t.kill(&key).expect("queue exists"))
}

impl Stack {
    /// A datagram with a fragment header at `frag_off` (from the IPv6 header), named by the
    /// field at `nh_field`. An atomic fragment (offset 0, no more) is the datagram itself;
    /// otherwise it is queued, and the datagram comes back whole (without fragment header)
    /// when its last hole closes. Linux: `ipv6_frag_rcv` → `ip6_frag_queue` /
    /// `ip6_frag_reasm`.
    pub(crate) fn ipv6_frag_rcv(
        &mut self,
        buf: PacketBuf,
        frag_off: usize,
        nh_field: usize,
        now: Instant,
    ) -> Option<PacketBuf> {
        let d = buf.data();
        let Ok(fh) = Ipv6FragHeader::new_checked(&d[frag_off..]) else {
            self.ipv6.stats.in_hdr_errors += 1;
            self.drop_pkt(buf, DropReason::IpInhdr);
            return None;
        };
        let (offset, more, ident, nh) = (
            fh.frag_offset(),
            fh.more_frags(),
            fh.ident(),
            fh.next_header(),
        );
        let data_at = frag_off + FRAG_HEADER_LEN;
        let len = d.len() - data_at;
        if offset == 0 && !more {
            // RFC 6946: an atomic fragment is processed as a whole datagram.
            let unfrag = d[..frag_off].to_vec();
            return self.ip6_frag_build(buf, &unfrag, nh_field, nh, data_at, None);
        }
        self.ipv6.stats.reasm_reqds += 1;
        let p = Ipv6Packet::new_unchecked(d);
        let (src, dst) = (p.src_addr(), p.dst_addr());
        if more && !len.is_multiple_of(8) {
            // Linux: icmpv6_param_prob(ICMPV6_HDR_FIELD, payload_len).
            self.ipv6.stats.in_hdr_errors += 1;
            self.icmp6_send(
                &buf,
                Icmpv6Message::PARAM_PROBLEM,
                param_problem::HDR_FIELD,
                4,
                now,
            );
            self.drop_pkt(buf, DropReason::IpInhdr);
            return None;
        }
        let end = offset + len;
        if end > IPV6_MAXPLEN {
            let ptr = (frag_off + 2) as u32;
            self.ipv6.stats.in_hdr_errors += 1;
            self.icmp6_send(
                &buf,
                Icmpv6Message::PARAM_PROBLEM,
                param_problem::HDR_FIELD,
                ptr,
                now,
            );
            self.drop_pkt(buf, DropReason::IpInhdr);
            return None;
        }
        if offset == 0 && ipv6_skip_exthdr(&d[data_at..], nh) == Err(WireError::Truncated) {
            // RFC 7112: the first fragment must hold the whole header chain.
            self.ipv6.stats.in_hdr_errors += 1;
            let c = param_problem::HDR_INCOMPLETE;
            self.icmp6_send(&buf, Icmpv6Message::PARAM_PROBLEM, c, 0, now);
            self.drop_pkt(buf, DropReason::IpInhdr);
            return None;
        }
        let link_local = ipv6_addr_type(&src).1 == Ipv6Scope::LinkLocal
            || ipv6_addr_type(&dst).1 == Ipv6Scope::LinkLocal;
        let key = Frag6Key {
            src,
            dst,
            ident,
            ifindex: if link_local { buf.meta.ifindex } else { 0 },
        };
        let step = {
            let t = &mut self.ipv6.frags;
            frag6_queue(t, key, &buf, frag_off, nh_field, nh, offset, more, now)
        };
        match step {
            Step::Queued => {
                self.pool.put(buf);
                None
            }
            Step::Dup => {
                self.drop_pkt(buf, DropReason::DupFrag);
                None
            }
            Step::Fail(reason) => {
                self.ipv6.stats.reasm_fails += 1;
                self.drop_pkt(buf, reason);
                None
            }
            Step::Done(q) => {
                let (unfrag, nh_field, nh) = q.unfrag.expect("first fragment seen");
                let total = q.total.expect("last fragment seen");
                self.ip6_frag_build(buf, &unfrag, nh_field, nh, 0, Some(&q.data[..total]))
            }
        }
    }

    /// The whole datagram: the unfragmentable part with the header after it renamed, and the
    /// data (`from`'s bytes from `data_at`, or `data`). Linux: `ip6_frag_reasm`.
    fn ip6_frag_build(
        &mut self,
        from: PacketBuf,
        unfrag: &[u8],
        nh_field: usize,
        nh: IpProtocol,
        data_at: usize,
        data: Option<&[u8]>,
    ) -> Option<PacketBuf> {
        let data = data.unwrap_or(&from.data()[data_at..]);
        let plen = unfrag.len() - HEADER_LEN + data.len();
        if plen > IPV6_MAXPLEN {
            self.ipv6.stats.reasm_fails += 1;
            self.drop_pkt(from, DropReason::IpInhdr);
            return None;
        }
        let len = unfrag.len() + data.len();
        let mut out = if MAX_HEADER + len <= self.pool.buf_size() {
            self.pool.get(MAX_HEADER)
        } else {
            PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER)
        };
        let b = out.put(len);
        b[..unfrag.len()].copy_from_slice(unfrag);
        b[unfrag.len()..].copy_from_slice(data);
        b[nh_field] = nh.0;
        Ipv6Packet::new_unchecked(&mut b[..HEADER_LEN]).set_payload_len(plen as u16);
        out.reset_network_header();
        out.meta.ifindex = from.meta.ifindex;
        out.meta.pkt_type = from.meta.pkt_type;
        out.meta.timestamp = from.meta.timestamp;
        out.meta.protocol = from.meta.protocol;
        if data_at == 0 {
            self.ipv6.stats.reasm_oks += 1;
        }
        self.pool.put(from);
        Some(out)
    }

    /// Give up on queues older than `ip6frag_time`; the sender of a datagram whose first
    /// fragment came hears time exceeded (fragment reassembly). Returns the next expiry.
    /// Linux: `ip6_frag_expire` → `icmpv6_send(ICMPV6_TIME_EXCEED, ICMPV6_EXC_FRAGTIME)`.
    pub(crate) fn ip6_frag_expire(&mut self, now: Instant) -> Option<Instant> {
        loop {
            let t = &mut self.ipv6.frags;
            let (at, key) = *t.timers.front()?;
            let live = t.queues.get(&key).is_some_and(|q| q.expires == at);
            if live && at > now {
                return Some(at);
            }
            t.timers.pop_front();
            if !live {
                continue;
            }
            let q = t.kill(&key).expect("live queue");
            self.ipv6.stats.reasm_timeout += 1;
            self.ipv6.stats.reasm_fails += 1;
            self.count_drop(DropReason::FragReasmTimeout);
            if let Some((unfrag, nh_field, nh)) = q.unfrag {
                // Quote the first fragment's headers and as much of its data as came.
                let first = q.runs.first().map_or(0, |r| if r.0 == 0 { r.1 } else { 0 });
                let data = &q.data[..first.min(q.data.len()).min(crate::wire::ipv6::MIN_MTU)];
                let len = unfrag.len() + data.len();
                let mut quoted = PacketBuf::with_headroom(MAX_HEADER + len, MAX_HEADER);
                let b = quoted.put(len);
                b[..unfrag.len()].copy_from_slice(&unfrag);
                b[unfrag.len()..].copy_from_slice(data);
                b[nh_field] = nh.0;
                let plen = (b.len() - HEADER_LEN).min(IPV6_MAXPLEN) as u16;
                Ipv6Packet::new_unchecked(&mut b[..HEADER_LEN]).set_payload_len(plen);
                quoted.meta.ifindex = q.ifindex;
                let c = time_exceeded::FRAG_TIME;
                self.icmp6_send(&quoted, Icmpv6Message::TIME_EXCEEDED, c, 0, now);
            }
        }
    }

    /// The IPv6 reassembly queues.
    pub fn frag6_queues(&self) -> &Frag6Table {
        &self.ipv6.frags
    }
}
