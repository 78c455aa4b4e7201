//! IPv4 reassembly of fragments addressed to this host.
//!
//! RFC 791 section 3.2 (reassembly), with RFC 815's hole bookkeeping kept as the list of
//! received ranges. Linux: net/ipv4/ip_fragment.c (`ip_defrag`, `ip_frag_queue`,
//! `ip_frag_reasm`, `ip_expire`) on the queues shared with IPv6 in
//! [`crate::ip::inet_fragment`] (Linux's net/ipv4/inet_fragment.c: `inet_frag_find`,
//! `inet_frag_queue_insert`, `inet_frag_kill`), with the tunables of ip-sysctl.txt
//! (`ipfrag_high_thresh`, `ipfrag_low_thresh`, `ipfrag_time`).
//!
//! A queue is keyed by (source, destination, identification, protocol). It copies each
//! fragment's payload into one growing assembly area at its offset, leaving room in front for
//! headroom and the header, and gives the fragment's buffer back to the pool at once. When the
//! last hole closes the area *is* the datagram: it becomes a [`PacketBuf`] without a further
//! copy, up to 64 KiB, with headroom for a reply to be built in place.
//!
//! Rules, as Linux applies them:
//! - a fragment lying entirely inside data already received is a duplicate: dropped, the queue
//!   lives on; one that overlaps received data partially kills the whole queue (`ReasmOverlaps`);
//! - a last fragment (MF clear) fixes the length: data beyond it, or a second different last
//!   fragment, kills the queue; non-last fragments are cut to a multiple of 8 bytes;
//! - a datagram may not exceed 65535 bytes;
//! - queues expire `ipfrag_time` (30 s) after their first fragment; if the first fragment
//!   (offset 0) had arrived, the sender gets ICMP time exceeded, code 1 (fragment reassembly
//!   time exceeded);
//! - memory — what the queues really hold: their areas plus a fixed cost each — never exceeds
//!   `ipfrag_high_thresh` (4 MiB): a fragment that would need more is dropped; lowering the
//!   limit under what is held evicts the oldest queues down to `ipfrag_low_thresh` (3 MiB);
//! - a queue with more than [`MAX_RUNS`] separate received ranges (a flood of scattered
//!   fragments) is killed, in the spirit of Linux's `ipfrag_max_dist`.

use crate::buf::{BufPool, PacketBuf, MAX_HEADER};
#[cfg(test)]
pub(crate) use crate::ip::inet_fragment::ECN_NOT_ECT;
#[cfg(test)]
pub(crate) use crate::ip::inet_fragment::MAX_RUNS;
use crate::ip::inet_fragment::{ip_frag_ecn, FragError, FragLimits, InetFragQueue, InetFrags};
use crate::ip::netns::NetnsIpv4;
use crate::stack::Stack;
use crate::stats::{DropCounters, DropReason};
use crate::time::Instant;
use crate::wire::icmpv4::time_exceeded;
use crate::wire::ipv4::{HEADER_LEN, MAX_HEADER_LEN};
use crate::wire::{Icmpv4Message, Ipv4Addr, Ipv4Packet};

/// Largest IPv4 datagram.
const IP_MAX_LEN: usize = 65535;

/// Where payload offset 0 sits in an assembly area: headroom plus the largest header.
const DATA_START: usize = MAX_HEADER + MAX_HEADER_LEN;

/// Reassembly tunables (`net.ipv4.ipfrag_*`); defaults `FragParams::IPV4`.
pub type FragParams = FragLimits;

/// What identifies the fragments of one datagram (opaque outside this file). Linux:
/// `struct frag_v4_compare_key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragKey {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    id: u16,
    protocol: u8,
}

/// What an IPv4 queue keeps besides the shared part. Linux: `struct ipq`.
#[derive(Debug, Default)]
pub struct Ipq {
    /// ECN codepoints seen, one bit each.
    ecn: u8,
    /// Largest fragment, and largest with DF set (Linux: `max_size`, `max_df_size`).
    max_size: usize,
    max_df_size: usize,
}

/// One datagram being reassembled.
type FragQueue = InetFragQueue<Ipq>;

/// The facts of one received fragment.
#[derive(Debug, Clone, Copy)]
struct FragInfo {
    key: FragKey,
    ihl: usize,
    offset: usize,
    end: usize,
    more: bool,
    df: bool,
    ecn: u8,
}

/// What became of a fragment.
#[derive(Debug)]
enum Queued {
    /// Held; the datagram is still incomplete.
    Incomplete,
    /// The last hole closed: the queue, out of the table.
    Complete(Box<FragQueue>),
    /// Dropped for `reason`; `fail` counts a reassembly failure; `killed` is the queue it
    /// took down with it; `overlap` counts `ReasmOverlaps`.
    Dropped {
        reason: DropReason,
        fail: bool,
        overlap: bool,
        killed: Option<Box<FragQueue>>,
    },
}

/// All IPv4 fragment queues of a stack and their memory. Linux: `struct fqdir` of
/// `ip4_frags`.
#[derive(Debug)]
pub struct FragTable {
    q: InetFrags<FragKey, Ipq>,
}

impl Default for FragTable {
    fn default() -> Self {
        FragTable::new(FragParams::IPV4)
    }
}

/// The shared queues' read side (`params`, `mem`, `queue_count`, `next_expiry`), without a
/// wrapper per family. Linux: the `fqdir` both families read.
impl std::ops::Deref for FragTable {
    type Target = InetFrags<FragKey, Ipq>;

    fn deref(&self) -> &Self::Target {
        &self.q
    }
}

impl FragTable {
    /// No queues.
    pub fn new(params: FragParams) -> FragTable {
        FragTable {
            q: InetFrags::new(params, DATA_START, IP_MAX_LEN),
        }
    }

    /// Change the tunables; queues already held keep their timers. If `high_thresh` is now
    /// under the memory held, the oldest queues are evicted down to `low_thresh`; returns how
    /// many (each a failed reassembly). Linux: a write to `ipfrag_high_thresh`/`ipfrag_time`.
    pub(crate) fn set_params(&mut self, params: FragParams) -> u64 {
        self.q.set_limits(params).len() as u64
    }

    /// Take a queue out of the table, releasing its memory. Linux: `inet_frag_kill`.
    fn inet_frag_kill(&mut self, key: &FragKey) -> Option<Box<FragQueue>> {
        self.q.inet_frag_kill(key)
    }

    /// Find or create the queue for a fragment and add the fragment to it.
    /// Linux: `inet_frag_find` + `ip_frag_queue`.
    fn ip_frag_queue(&mut self, f: &FragInfo, packet: &[u8], now: Instant) -> Queued {
        let head = &packet[..f.ihl];
        let payload = &packet[f.ihl..f.ihl + (f.end - f.offset)];
        let q = match self
            .q
            .inet_frag_queue(&f.key, f.offset, f.end, f.more, head, payload, now)
        {
            Ok(q) => q,
            Err((e, killed)) => {
                let (reason, fail) = match e {
                    FragError::Nomem => (DropReason::Nomem, true),
                    FragError::Inconsistent | FragError::HeadTooLong => (DropReason::IpInhdr, true),
                    FragError::Dup => (DropReason::DupFrag, false),
                    FragError::Overlap => (DropReason::FragOverlap, true),
                    FragError::TooFar => (DropReason::FragTooFar, true),
                };
                return Queued::Dropped {
                    reason,
                    fail,
                    overlap: e == FragError::Overlap,
                    killed,
                };
            }
        };
        q.proto.ecn |= 1 << f.ecn;
        let fragsize = f.ihl + payload.len();
        q.proto.max_size = q.proto.max_size.max(fragsize);
        if f.df {
            q.proto.max_df_size = q.proto.max_df_size.max(fragsize);
        }
        match self.q.inet_frag_complete(&f.key) {
            Some(q) => Queued::Complete(q),
            None => Queued::Incomplete,
        }
    }
}
impl NetnsIpv4 {
    /// Turn a complete queue into the datagram: the first fragment's header goes in front of
    /// the payload, with the total length, the combined ECN field and DF set only if every
    /// fragment had it; the area becomes the buffer. `last` is the fragment that completed it
    /// (its metadata is kept); it goes back to `pool`, and the fragments of a datagram that cannot
    /// be rebuilt are counted in `drops`. Linux: `ip_frag_reasm`.
    fn ip_frag_reasm(
        &mut self,
        q: Box<FragQueue>,
        last: PacketBuf,
        pool: &mut BufPool,
        drops: &mut DropCounters,
    ) -> Option<PacketBuf> {
        let meta = last.meta;
        pool.put(last);
        let hlen = q.hlen();
        let total = hlen + q.len();
        // The first fragment's header, as `ip_defrag` checked it on arrival.
        let first_ecn = Ipv4Packet::new_unchecked(&q.first_fragment(DATA_START)[..hlen]).ecn();
        let ecn = ip_frag_ecn(q.proto.ecn, first_ecn);
        let (Some(ecn), true) = (ecn, total <= IP_MAX_LEN) else {
            self.ip_stats.reasm_fails += 1;
            drops.add(DropReason::IpInhdr, q.nfrags);
            return None;
        };
        let dont_frag = q.proto.max_df_size == q.proto.max_size;
        let end = DATA_START + q.len();
        let mut area = q.into_area();
        area.truncate(end);
        // The first fragment's header already sits in front of the payload.
        let head = DATA_START - hlen;
        let mut buf = PacketBuf::build(area.into_boxed_slice(), head, end);
        buf.meta = meta;
        {
            let mut p = Ipv4Packet::new_unchecked(buf.data_mut());
            p.set_total_len(total as u16);
            p.set_flags_frag(dont_frag, false, 0);
            let tos = p.tos();
            p.set_tos((tos & !0x03) | ecn);
            p.fill_checksum();
        }
        buf.reset_network_header();
        self.ip_stats.reasm_oks += 1;
        Some(buf)
    }
}

impl Stack {
    /// A fragment for this host arrived: queue it, and when it completes its datagram return
    /// the reassembled datagram (network header at the data start). Linux: `ip_defrag`.
    pub(crate) fn ip_defrag(&mut self, buf: PacketBuf, now: Instant) -> Option<PacketBuf> {
        self.ipv4.ip_stats.reasm_reqds += 1;
        let pkt = Ipv4Packet::new_unchecked(buf.data());
        let ihl = pkt.header_len();
        let offset = pkt.frag_offset();
        let more = pkt.more_frags();
        let mut end = offset + buf.len().saturating_sub(ihl);
        if more {
            // Non-last fragments carry multiples of 8 bytes; Linux cuts the excess.
            end &= !7;
        }
        let f = FragInfo {
            key: FragKey {
                src: pkt.src_addr(),
                dst: pkt.dst_addr(),
                id: pkt.ident(),
                protocol: pkt.protocol().0,
            },
            ihl,
            offset,
            end,
            more,
            df: pkt.dont_frag(),
            ecn: pkt.ecn(),
        };
        if end <= offset || end > IP_MAX_LEN - HEADER_LEN {
            // Empty, or beyond the largest datagram: the queue is corrupt.
            if let Some(q) = self.ipv4.frags.inet_frag_kill(&f.key) {
                self.drops.add(DropReason::IpInhdr, q.nfrags);
            }
            self.ipv4.ip_stats.reasm_fails += 1;
            self.drop_pkt(buf, DropReason::IpInhdr);
            return None;
        }
        match self.ipv4.frags.ip_frag_queue(&f, buf.data(), now) {
            Queued::Incomplete => {
                self.pool.put(buf);
                None
            }
            Queued::Complete(q) => self
                .ipv4
                .ip_frag_reasm(q, buf, &mut self.pool, &mut self.drops),
            Queued::Dropped {
                reason,
                fail,
                overlap,
                killed,
            } => {
                if let Some(q) = killed {
                    self.drops.add(reason, q.nfrags);
                }
                if fail {
                    self.ipv4.ip_stats.reasm_fails += 1;
                }
                if overlap {
                    self.ipv4.ip_stats.reasm_overlaps += 1;
                }
                self.drop_pkt(buf, reason);
                None
            }
        }
    }

    /// Give up the queues whose `ipfrag_time` has passed: each counts as a failed reassembly
    /// (`ReasmTimeout`, `ReasmFails`), and if its first fragment had arrived the sender gets
    /// ICMP time exceeded, code 1, quoting it. Returns when the next queue expires.
    /// Linux: `ip_expire`.
    pub(crate) fn ip_expire(&mut self, now: Instant) -> Option<Instant> {
        // Nothing being reassembled (every poll but a few): no tree to look into.
        if self.ipv4.frags.q.is_empty() {
            return None;
        }
        while let Some(q) = self.ipv4.frags.q.inet_frag_expired(now) {
            self.ipv4.ip_stats.reasm_timeout += 1;
            self.ipv4.ip_stats.reasm_fails += 1;
            self.drops.add(DropReason::FragReasmTimeout, q.nfrags);
            if q.first_in() {
                self.ip_frag_expire_icmp(&q, now);
            }
        }
        self.ipv4.frags.next_expiry()
    }

    /// Send ICMP "fragment reassembly time exceeded" about a queue, quoting its first
    /// fragment. Linux: the `icmp_send` at the end of `ip_expire`.
    fn ip_frag_expire_icmp(&mut self, q: &FragQueue, now: Instant) {
        let first = q.first_fragment(DATA_START);
        let len = first.len();
        if len == 0 {
            return;
        }
        let mut quote = self.pool.copy_of(first);
        {
            let mut p = Ipv4Packet::new_unchecked(quote.data_mut());
            p.set_total_len(len as u16);
            p.fill_checksum();
        }
        self.icmp_send_error(
            &quote,
            Icmpv4Message::TIME_EXCEEDED,
            time_exceeded::REASSEMBLY,
            0,
            now,
        );
        self.pool.put(quote);
    }

    /// The fragment queues (memory in use, queue count).
    pub fn frag_queues(&self) -> &FragTable {
        &self.ipv4.frags
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::{BufPool, DEFAULT_BUF_SIZE};
    use crate::ip::fragment::ip_do_fragment;
    use crate::stack::StackConfig;
    use crate::wire::{EthernetAddress, IpProtocol, Ipv4Repr};
    use proptest::prelude::*;
    use std::time::Duration;

    const ME: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
    const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

    fn stack_with(params: FragParams) -> (Stack, u32) {
        let mut s = Stack::new(StackConfig {
            ipfrag: params,
            // Only IPv4 frames on the wire: the tests take them one by one.
            disable_ipv6: true,
            ..StackConfig::default()
        });
        let now = Instant::ZERO;
        let i = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
        s.add_addr(i, "192.0.2.1/24".parse().unwrap(), now).unwrap();
        s.set_link_up(i, true, now).unwrap();
        s.add_neighbour(i, PEER, PEER_MAC, now).unwrap();
        // Forget the gratuitous ARP of address configuration.
        while let Some(b) = s.take_tx(i, now) {
            s.recycle(b);
        }
        (s, i)
    }

    fn stack() -> (Stack, u32) {
        stack_with(FragParams::IPV4)
    }

    /// A UDP-numbered datagram from PEER to ME with a patterned payload.
    fn datagram(id: u16, payload_len: usize, tos: u8, df: bool) -> PacketBuf {
        let mut b = PacketBuf::with_headroom(MAX_HEADER + HEADER_LEN + payload_len, MAX_HEADER);
        let d = b.put(HEADER_LEN + payload_len);
        Ipv4Repr {
            src_addr: PEER,
            dst_addr: ME,
            protocol: IpProtocol::UDP,
            payload_len,
            ttl: 64,
            tos,
            ident: id,
            dont_frag: df,
        }
        .emit(d);
        for (i, x) in d[HEADER_LEN..].iter_mut().enumerate() {
            *x = (i * 7 % 253) as u8 ^ id as u8;
        }
        b.reset_network_header();
        b
    }

    /// `datagram` cut for `mtu` (DF is cleared for the cut, then restored if asked).
    fn fragments(id: u16, payload_len: usize, mtu: usize, tos: u8, df: bool) -> Vec<PacketBuf> {
        let mut pool = BufPool::new(DEFAULT_BUF_SIZE, 64);
        let mut out = Vec::new();
        ip_do_fragment(
            datagram(id, payload_len, tos, false),
            mtu,
            &mut pool,
            &mut out,
        )
        .map_err(|(_, e)| e)
        .unwrap();
        if df {
            for f in &mut out {
                let mut p = Ipv4Packet::new_unchecked(f.data_mut());
                let (mf, off) = (p.more_frags(), p.frag_offset());
                p.set_flags_frag(true, mf, off);
                p.fill_checksum();
            }
        }
        out
    }

    /// A hand-made fragment: `len` payload bytes of `fill` at `offset`.
    fn raw(id: u16, offset: usize, len: usize, more: bool, fill: u8) -> PacketBuf {
        let mut b = datagram(id, len, 0, false);
        {
            let mut p = Ipv4Packet::new_unchecked(b.data_mut());
            p.set_flags_frag(false, more, offset);
            p.payload_mut().fill(fill);
            p.fill_checksum();
        }
        b
    }

    fn feed(s: &mut Stack, frags: Vec<PacketBuf>, now: Instant) -> Vec<PacketBuf> {
        frags
            .into_iter()
            .filter_map(|f| s.ip_defrag(f, now))
            .collect()
    }

    fn assert_whole(got: &PacketBuf, want: &PacketBuf) {
        let p = Ipv4Packet::new_checked(got.data()).unwrap();
        assert!(p.verify_checksum());
        assert!(!p.is_fragment());
        assert_eq!(got.data(), want.data());
        assert!(
            got.headroom() >= MAX_HEADER,
            "room to build a reply in place"
        );
    }

    #[test]
    fn in_order_reassembles_one_datagram() {
        let (mut s, _) = stack();
        let frags = fragments(7, 5000, 1500, 0, false);
        assert_eq!(frags.len(), 4);
        let out = feed(&mut s, frags, Instant::ZERO);
        assert_eq!(out.len(), 1);
        assert_whole(&out[0], &datagram(7, 5000, 0, false));
        let st = s.snmp().ip;
        assert_eq!((st.reasm_reqds, st.reasm_oks, st.reasm_fails), (4, 1, 0));
        assert_eq!(s.frag_queues().queue_count(), 0);
        assert_eq!(s.frag_queues().mem(), 0);
        assert_eq!(s.frag_queues().next_expiry(), None);
    }

    #[test]
    fn out_of_order_and_reversed() {
        let want = datagram(9, 9000, 0, false);
        for order in [
            vec![6, 5, 4, 3, 2, 1, 0],
            vec![3, 0, 6, 1, 5, 2, 4],
            vec![1, 2, 3, 4, 5, 6, 0],
        ] {
            let (mut s, _) = stack();
            let mut frags: Vec<Option<PacketBuf>> = fragments(9, 9000, 1500, 0, false)
                .into_iter()
                .map(Some)
                .collect();
            assert_eq!(frags.len(), 7);
            let shuffled = order.iter().map(|&i| frags[i].take().unwrap()).collect();
            let out = feed(&mut s, shuffled, Instant::ZERO);
            assert_eq!(out.len(), 1, "order {order:?}");
            assert_whole(&out[0], &want);
            assert_eq!(s.frag_queues().mem(), 0);
        }
    }

    #[test]
    fn duplicates_are_dropped_and_the_datagram_still_completes() {
        let (mut s, _) = stack();
        let f = fragments(3, 5000, 1500, 0, false);
        assert_eq!(f.len(), 4);
        let copy = |b: &PacketBuf| {
            let mut c = PacketBuf::from_slice(b.data(), 0);
            c.reset_network_header();
            c
        };
        let input = vec![
            copy(&f[0]),
            copy(&f[0]),
            copy(&f[1]),
            copy(&f[3]),
            copy(&f[1]),
        ];
        assert!(feed(&mut s, input, Instant::ZERO).is_empty());
        // Inside the run [0, 2960), straddling its two fragments: a duplicate too, and its
        // different bytes are not taken.
        let inner = raw(3, 1000, 800, true, 0xee);
        assert!(s.ip_defrag(inner, Instant::ZERO).is_none());
        assert!(feed(&mut s, vec![copy(&f[3])], Instant::ZERO).is_empty());
        assert_eq!(s.drops().get(DropReason::DupFrag), 4);
        let out = feed(&mut s, vec![copy(&f[2])], Instant::ZERO);
        assert_eq!(out.len(), 1);
        assert_whole(&out[0], &datagram(3, 5000, 0, false));
        assert_eq!(s.snmp().ip.reasm_fails, 0);
    }

    #[test]
    fn partial_overlap_drops_the_whole_queue() {
        let (mut s, _) = stack();
        let now = Instant::ZERO;
        assert!(s.ip_defrag(raw(5, 0, 1480, true, 1), now).is_none());
        assert!(s.ip_defrag(raw(5, 2960, 1000, false, 3), now).is_none());
        assert_eq!(s.frag_queues().queue_count(), 1);
        // Overlaps the end of the first fragment: Teardrop-style.
        assert!(s.ip_defrag(raw(5, 1472, 1488, true, 2), now).is_none());
        assert_eq!(s.frag_queues().queue_count(), 0);
        assert_eq!(s.frag_queues().mem(), 0);
        let st = s.snmp().ip;
        assert_eq!((st.reasm_overlaps, st.reasm_fails), (1, 1));
        assert_eq!(s.drops().get(DropReason::FragOverlap), 3);
        // What comes after starts afresh and cannot complete.
        assert!(s.ip_defrag(raw(5, 1480, 1480, true, 2), now).is_none());
        assert_eq!(s.frag_queues().queue_count(), 1);
    }

    #[test]
    fn inconsistent_ends_zero_length_and_oversize_are_refused() {
        let (mut s, _) = stack();
        let now = Instant::ZERO;
        // Two different last fragments.
        s.ip_defrag(raw(1, 1480, 100, false, 0), now);
        s.ip_defrag(raw(1, 1480, 200, false, 0), now);
        assert_eq!(s.frag_queues().queue_count(), 0);
        // Data beyond the last fragment's end.
        s.ip_defrag(raw(2, 800, 800, false, 0), now);
        s.ip_defrag(raw(2, 1600, 800, true, 0), now);
        assert_eq!(s.frag_queues().queue_count(), 0);
        // Less than 8 bytes in a non-last fragment: nothing left after the cut.
        s.ip_defrag(raw(3, 0, 5, true, 0), now);
        // Beyond 65535 bytes.
        s.ip_defrag(raw(4, 65528, 100, false, 0), now);
        assert_eq!(s.frag_queues().queue_count(), 0);
        assert_eq!(s.frag_queues().mem(), 0);
        assert_eq!(s.snmp().ip.reasm_fails, 4);
        // A non-last fragment of 13 bytes keeps 8 of them.
        let (mut s, _) = stack();
        s.ip_defrag(raw(5, 0, 13, true, 9), now);
        let out = s.ip_defrag(raw(5, 8, 4, false, 9), now).unwrap();
        assert_eq!(
            Ipv4Packet::new_checked(out.data()).unwrap().payload(),
            &[9; 12]
        );
    }

    #[test]
    fn timeout_sends_time_exceeded_only_with_the_first_fragment() {
        let (mut s, ifindex) = stack();
        let t0 = Instant::from_secs(1);
        let f = fragments(11, 3000, 1500, 0, false);
        let mut f = f.into_iter();
        let first = f.next().unwrap();
        let second = f.next().unwrap();
        assert!(s.ip_defrag(first, t0).is_none());
        // Another datagram whose first fragment never comes.
        assert!(s.ip_defrag(raw(12, 1480, 100, false, 0), t0).is_none());
        let expiry = t0 + Duration::from_secs(30);
        assert_eq!(s.frag_queues().next_expiry(), Some(expiry));
        // Not yet.
        let before = Instant::from_micros(expiry.total_micros() - 1);
        assert!(s.poll(before).is_some_and(|t| t <= expiry));
        assert_eq!(s.frag_queues().queue_count(), 2);
        s.poll(expiry);
        assert_eq!(s.frag_queues().queue_count(), 0);
        assert_eq!(s.frag_queues().mem(), 0);
        let st = s.snmp().ip;
        assert_eq!((st.reasm_timeout, st.reasm_fails), (2, 2));
        assert_eq!(s.drops().get(DropReason::FragReasmTimeout), 2);
        assert_eq!(s.snmp().icmp.out_time_excds, 1);
        // The one ICMP error goes to the peer, quoting the first fragment.
        let frame = s.take_tx(ifindex, expiry).expect("ICMP time exceeded");
        assert!(s.take_tx(ifindex, expiry).is_none());
        let ip = Ipv4Packet::new_checked(&frame.data()[14..]).unwrap();
        assert_eq!((ip.src_addr(), ip.dst_addr()), (ME, PEER));
        let icmp = ip.payload();
        assert_eq!((icmp[0], icmp[1]), (11, 1));
        let quoted = Ipv4Packet::new_unchecked(&icmp[8..]);
        assert_eq!(quoted.ident(), 11);
        assert!(quoted.more_frags());
        // A late fragment starts a new queue.
        assert!(s.ip_defrag(second, expiry).is_none());
        assert_eq!(s.frag_queues().queue_count(), 1);
    }

    #[test]
    fn a_flood_of_incomplete_fragments_stays_under_the_memory_limit() {
        let high = 256 << 10;
        let (mut s, _) = stack_with(FragParams {
            high_thresh: high,
            ..FragParams::IPV4
        });
        let now = Instant::ZERO;
        for id in 0..2000u16 {
            // First fragments of 1480 bytes, and far-out ones that would need 64 KiB each.
            let f = if id % 2 == 0 {
                raw(id, 0, 1480, true, 0)
            } else {
                raw(id, 64_000, 1000, false, 0)
            };
            s.ip_defrag(f, now);
            assert!(
                s.frag_queues().mem() <= high,
                "{} > {high}",
                s.frag_queues().mem()
            );
        }
        let held = s.frag_queues().queue_count();
        assert!(held > 10 && held < 2000, "{held} queues");
        assert!(s.drops().get(DropReason::Nomem) > 0);
        assert_eq!(
            s.snmp().ip.reasm_fails,
            s.drops().get(DropReason::Nomem),
            "every refused fragment is a failure"
        );
        // A complete datagram may not get through while memory is full...
        let full = fragments(4321, 3000, 1500, 0, false);
        assert!(feed(&mut s, full, now).is_empty());
        // ...but once the flood has expired it does.
        s.poll(now + Duration::from_secs(30));
        assert_eq!(s.frag_queues().mem(), 0);
        assert_eq!(s.snmp().ip.reasm_timeout as usize, held);
        let later = now + Duration::from_secs(31);
        let out = feed(&mut s, fragments(4321, 3000, 1500, 0, false), later);
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn too_many_holes_kill_the_queue() {
        let (mut s, _) = stack();
        let now = Instant::ZERO;
        for i in 0..MAX_RUNS {
            s.ip_defrag(raw(77, i * 16, 8, true, 0), now);
        }
        assert_eq!(s.frag_queues().queue_count(), 1);
        s.ip_defrag(raw(77, MAX_RUNS * 16, 8, true, 0), now);
        assert_eq!(s.frag_queues().queue_count(), 0);
        assert_eq!(s.drops().get(DropReason::FragTooFar), MAX_RUNS as u64 + 1);
        // Filling holes instead merges runs and never hits the bound.
        for i in (0..200).rev() {
            s.ip_defrag(raw(78, i * 8, 8, i != 199, i as u8), now);
        }
        assert_eq!(s.snmp().ip.reasm_oks, 1);
    }

    #[test]
    fn ecn_of_fragments_combines_or_drops() {
        let (mut s, _) = stack();
        let now = Instant::ZERO;
        // ECT(0) everywhere, CE on one: the datagram is CE.
        let mut f = fragments(1, 3000, 1500, 0x02, false);
        {
            let mut p = Ipv4Packet::new_unchecked(f[1].data_mut());
            p.set_tos(0x03);
            p.fill_checksum();
        }
        let out = feed(&mut s, f, now);
        assert_eq!(Ipv4Packet::new_unchecked(out[0].data()).ecn(), 3);
        // Not-ECT mixed with ECT(0): dropped.
        let mut f = fragments(2, 3000, 1500, 0x02, false);
        {
            let mut p = Ipv4Packet::new_unchecked(f[0].data_mut());
            p.set_tos(0);
            p.fill_checksum();
        }
        assert!(feed(&mut s, f, now).is_empty());
        assert_eq!(s.snmp().ip.reasm_fails, 1);
        assert_eq!(ip_frag_ecn(ECN_NOT_ECT, 0), Some(0));
        assert_eq!(ip_frag_ecn(1 << 2, 2), Some(2));
    }

    #[test]
    fn df_survives_only_if_every_fragment_had_it() {
        let (mut s, _) = stack();
        let out = feed(&mut s, fragments(1, 3000, 1500, 0, true), Instant::ZERO);
        assert!(Ipv4Packet::new_unchecked(out[0].data()).dont_frag());
        let out = feed(&mut s, fragments(2, 3000, 1500, 0, false), Instant::ZERO);
        assert!(!Ipv4Packet::new_unchecked(out[0].data()).dont_frag());
    }

    #[test]
    fn largest_datagram_reassembles() {
        let (mut s, _) = stack();
        let frags = fragments(65, 65515, 1500, 0, false);
        let out = feed(&mut s, frags, Instant::ZERO);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), 65535);
        assert_whole(&out[0], &datagram(65, 65515, 0, false));
    }

    #[test]
    fn lowering_high_thresh_evicts_the_oldest_down_to_low_thresh() {
        let (mut s, _) = stack();
        for id in 0..100u16 {
            s.ip_defrag(raw(id, 0, 1480, true, 0), Instant::from_secs(u64::from(id)));
        }
        let per_queue = s.frag_queues().mem() / 100;
        s.config_mut().ipfrag.high_thresh = 50 * per_queue;
        s.config_mut().ipfrag.low_thresh = 30 * per_queue;
        s.sysctl_changed();
        assert_eq!(s.frag_queues().queue_count(), 30);
        assert!(s.frag_queues().mem() <= 30 * per_queue);
        assert_eq!(s.snmp().ip.reasm_fails, 70);
        // The newest are kept: the oldest left expires 30 s after fragment 70 came.
        assert_eq!(
            s.frag_queues().next_expiry(),
            Some(Instant::from_secs(70 + 30))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Arbitrary fragments never panic, never exceed the memory limit, and whatever comes
        /// out is a well-formed datagram.
        #[test]
        fn arbitrary_fragments_are_safe(
            frags in proptest::collection::vec(
                (0u16..4, 0usize..8200, 0usize..3000, any::<bool>(), any::<u8>()),
                1..120,
            )
        ) {
            let high = 64 << 10;
            let (mut s, _) = stack_with(FragParams { high_thresh: high, ..FragParams::IPV4 });
            for (i, (id, off8, len, more, fill)) in frags.into_iter().enumerate() {
                let now = Instant::from_secs(i as u64);
                s.poll(now);
                if let Some(d) = s.ip_defrag(raw(id, off8 * 8, len, more, fill), now) {
                    let p = Ipv4Packet::new_checked(d.data()).unwrap();
                    prop_assert!(p.verify_checksum());
                    prop_assert!(!p.is_fragment());
                    prop_assert_eq!(usize::from(p.total_len()), d.len());
                }
                prop_assert!(s.frag_queues().mem() <= high);
            }
            s.poll(Instant::from_secs(1000));
            prop_assert_eq!(s.frag_queues().mem(), 0);
            prop_assert_eq!(s.frag_queues().queue_count(), 0);
        }
    }
}
