//! Fragment queues shared by IPv4 and IPv6 reassembly.
//!
//! Linux: net/ipv4/inet_fragment.c (`struct fqdir`, `struct inet_frag_queue`,
//! `inet_frag_find`, `inet_frag_queue_insert`, `inet_frag_kill`, `ip_frag_ecn_table`), which
//! `ip_fragment.c` and `net/ipv6/reassembly.c` both build on. What differs between the
//! families (the key, the header kept, the checks of a fragment before it is queued, how the
//! datagram is put back together) stays with each family; this file holds what is the same:
//!
//! - a table of queues keyed by a family's key, with their memory charged against
//!   `high_thresh`: a fragment that would take the table over it is refused (Linux since 4.17;
//!   `inet_frag_find` returns nothing above the limit);
//! - `low_thresh`: when the limit is lowered below what the queues already hold, the oldest
//!   queues are evicted until the table is under `low_thresh` (Linux's `inet_frag_evictor`
//!   before 4.17 did this on every overflow; the sysctl remains, as the floor of
//!   `high_thresh`);
//! - one expiry per queue, `timeout` after its first fragment;
//! - the received ranges ("runs" of contiguous fragments, Linux's rb-tree of runs) with
//!   Linux's insertion rule: a fragment entirely inside received data is a duplicate, one that
//!   overlaps it partly kills the whole queue (RFC 5722, applied to IPv4 too);
//! - a last fragment (no more-fragments flag) fixes the length: data beyond it, or a second
//!   different last fragment, kills the queue;
//! - one assembly area per queue into which each fragment's payload is copied at its offset,
//!   with the first fragment's headers (`head`) stored just in front of offset 0, so that a
//!   complete area *is* the datagram without another copy.

use crate::time::Instant;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Duration;

/// Most separate received ranges (runs of contiguous fragments) a queue may hold.
pub const MAX_RUNS: usize = 64;

/// ECN codepoints as a bit each, for combining fragments (RFC 3168 section 5.3).
pub(crate) const ECN_NOT_ECT: u8 = 1 << 0;
pub(crate) const ECN_CE: u8 = 1 << 3;

/// The ECN field of a reassembled datagram from the codepoints its fragments carried, or
/// `None` for a mix of ECN-capable and not-ECN-capable fragments, which must be dropped
/// (RFC 3168 section 5.3; Linux: `ip_frag_ecn_table`).
pub(crate) fn ip_frag_ecn(seen: u8, first: u8) -> Option<u8> {
    if seen & ECN_NOT_ECT != 0 {
        return (seen == ECN_NOT_ECT).then_some(first);
    }
    Some(if seen & ECN_CE != 0 { 3 } else { first })
}

/// Limits of one family's fragment table, its reassembly sysctls. Linux: `struct fqdir`
/// (`high_thresh`, `low_thresh`, `timeout`), set per family by `ipv4_frags_init_net` and
/// `ipv6_frags_init_net`; IPv4 names it `FragParams`, IPv6 `Ip6FragParams`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragLimits {
    /// `ipfrag_high_thresh` / `ip6frag_high_thresh` (4 MiB): most memory all queues may hold.
    pub high_thresh: usize,
    /// `ipfrag_low_thresh` / `ip6frag_low_thresh` (3 MiB): what lowering `high_thresh` under
    /// the memory held evicts the oldest queues down to.
    pub low_thresh: usize,
    /// `ipfrag_time` (30 s) / `ip6frag_time` (60 s): how long a queue waits for its missing
    /// fragments.
    pub time: Duration,
}

impl FragLimits {
    /// IPv4's defaults (`net.ipv4.ipfrag_*`). Linux: `ipv4_frags_init_net`.
    pub const IPV4: FragLimits = FragLimits {
        high_thresh: 4 << 20,
        low_thresh: 3 << 20,
        time: Duration::from_secs(30),
    };

    /// IPv6's defaults (`net.ipv6.ip6frag_*`). Linux: `ipv6_frags_init_net`.
    pub const IPV6: FragLimits = FragLimits {
        time: Duration::from_secs(60),
        ..FragLimits::IPV4
    };
}

/// Where a fragment goes in the received ranges. Linux: `IPFRAG_OK`, `IPFRAG_DUP`,
/// `IPFRAG_OVERLAP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Insert {
    /// Recorded.
    Ok,
    /// Entirely inside received data.
    Dup,
    /// Partly overlapping received data.
    Overlap,
    /// Would make one separate range too many.
    TooFar,
}

/// Why the table refused a fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FragError {
    /// The memory limit (`high_thresh`).
    Nomem,
    /// Its end contradicts the last fragment's (the queue was killed).
    Inconsistent,
    /// Entirely inside received data (the queue lives on).
    Dup,
    /// Partly overlapping received data (the queue was killed).
    Overlap,
    /// One separate range too many (the queue was killed).
    TooFar,
    /// The first fragment's headers do not fit in front of the area.
    HeadTooLong,
}

/// A refused fragment: why, and the queue it took down with it, if any.
pub(crate) type Refused<P> = (FragError, Option<Box<InetFragQueue<P>>>);

/// One datagram being reassembled. Linux: `struct inet_frag_queue`, with the family's part
/// (`struct ipq`, `struct frag_queue`) in `proto`.
#[derive(Debug)]
pub(crate) struct InetFragQueue<P> {
    /// `data_start` bytes of room (the first fragment's headers end at `data_start`), then
    /// the payload at its offsets.
    area: Vec<u8>,
    /// Received payload ranges: sorted, disjoint and not adjacent (contiguous fragments merge).
    runs: [(u32, u32); MAX_RUNS],
    nruns: usize,
    /// Length of the first fragment's headers kept in front of offset 0; 0 until the first
    /// fragment arrives (Linux: `INET_FRAG_FIRST_IN`).
    hlen: usize,
    /// Payload bytes the first fragment brought (for the ICMP quote on expiry).
    first_len: usize,
    /// Payload length: the end of the last fragment, or the furthest end seen so far.
    len: usize,
    /// The last fragment (no more-fragments flag) has arrived (Linux: `INET_FRAG_LAST_IN`).
    last_in: bool,
    /// Fragments accepted.
    pub(crate) nfrags: u64,
    /// Expiry and sequence number: the queue's key in the timer map.
    timer: (Instant, u64),
    /// Memory charged for this queue.
    charged: usize,
    /// What the family keeps besides.
    pub(crate) proto: P,
}

impl<P: Default> InetFragQueue<P> {
    fn new(timer: (Instant, u64), charged: usize) -> Self {
        InetFragQueue {
            area: Vec::new(),
            runs: [(0, 0); MAX_RUNS],
            nruns: 0,
            hlen: 0,
            first_len: 0,
            len: 0,
            last_in: false,
            nfrags: 0,
            timer,
            charged,
            proto: P::default(),
        }
    }
}

impl<P> InetFragQueue<P> {
    /// Record `[start, end)` among the received ranges, merging with neighbours it touches.
    /// Linux: `inet_frag_queue_insert` (which keeps runs of fragments in an rbtree).
    pub(crate) fn inet_frag_queue_insert(&mut self, start: u32, end: u32) -> Insert {
        let n = self.nruns;
        let runs = &mut self.runs;
        // The first range reaching `start` (it may end exactly there).
        let i = runs[..n].partition_point(|r| r.1 < start);
        if i < n && runs[i].0 <= start && end <= runs[i].1 {
            return Insert::Dup;
        }
        let merge_left = i < n && runs[i].1 == start;
        let j = if merge_left { i + 1 } else { i };
        if j < n && runs[j].0 < end {
            return Insert::Overlap;
        }
        let merge_right = j < n && runs[j].0 == end;
        match (merge_left, merge_right) {
            (true, true) => {
                runs[i].1 = runs[j].1;
                runs.copy_within(j + 1..n, j);
                self.nruns -= 1;
            }
            (true, false) => runs[i].1 = end,
            (false, true) => runs[j].0 = start,
            (false, false) => {
                if n == MAX_RUNS {
                    return Insert::TooFar;
                }
                runs.copy_within(j..n, j + 1);
                runs[j] = (start, end);
                self.nruns += 1;
            }
        }
        Insert::Ok
    }

    /// The first fragment and the last are in, and every byte between (Linux: `flags ==
    /// (INET_FRAG_FIRST_IN | INET_FRAG_LAST_IN) && meat == len`).
    pub(crate) fn complete(&self) -> bool {
        self.last_in && self.hlen != 0 && self.nruns == 1 && self.runs[0] == (0, self.len as u32)
    }

    /// The first fragment has arrived (Linux: `INET_FRAG_FIRST_IN`).
    pub(crate) fn first_in(&self) -> bool {
        self.hlen != 0
    }

    /// Payload length so far (the whole datagram's once complete).
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Length of the first fragment's headers.
    pub(crate) fn hlen(&self) -> usize {
        self.hlen
    }

    /// The first fragment as it arrived: its headers and its payload, contiguous in the area
    /// (for the quote of an ICMP error). Empty before the first fragment.
    pub(crate) fn first_fragment(&self, data_start: usize) -> &[u8] {
        if self.hlen == 0 {
            return &[];
        }
        self.area
            .get(data_start - self.hlen..data_start + self.first_len)
            .unwrap_or(&[])
    }

    /// The area, for the family to put the datagram together: headers end at `data_start`,
    /// payload follows up to `data_start + len()`.
    pub(crate) fn into_area(self) -> Vec<u8> {
        self.area
    }
}

/// All fragment queues of one family in one namespace, and their memory. Linux: `struct
/// fqdir` with its rhashtable.
#[derive(Debug)]
pub struct InetFrags<K, P> {
    limits: FragLimits,
    /// Where payload offset 0 sits in each area (room for headroom and the headers).
    data_start: usize,
    /// Largest payload a datagram may have once reassembled (areas never grow past it).
    max_len: usize,
    queues: HashMap<K, Box<InetFragQueue<P>>>,
    timers: BTreeMap<(Instant, u64), K>,
    seq: u64,
    mem: usize,
}

impl<K: Copy + Eq + Hash, P: Default> InetFrags<K, P> {
    /// Memory charged for a queue besides its area: the queue itself, its map and timer
    /// entries.
    pub(crate) const QUEUE_COST: usize =
        std::mem::size_of::<InetFragQueue<P>>() + 2 * std::mem::size_of::<K>() + 64;

    /// No queues. `data_start` is where payload offset 0 sits in an area, `max_len` the
    /// largest reassembled payload.
    pub(crate) fn new(limits: FragLimits, data_start: usize, max_len: usize) -> Self {
        InetFrags {
            limits,
            data_start,
            max_len,
            queues: HashMap::new(),
            timers: BTreeMap::new(),
            seq: 0,
            mem: 0,
        }
    }

    /// Change the limits; queues keep their timers. If the queues now hold more than
    /// `high_thresh`, the oldest go until they hold at most `low_thresh`: they are returned
    /// for the family to count. Linux: a write to `*frag_high_thresh` (eviction as
    /// `inet_frag_evictor`).
    pub(crate) fn set_limits(&mut self, limits: FragLimits) -> Vec<Box<InetFragQueue<P>>> {
        self.limits = limits;
        let mut evicted = Vec::new();
        if self.mem > limits.high_thresh {
            while self.mem > limits.low_thresh.min(limits.high_thresh) {
                let Some(q) = self.inet_frag_evict_oldest() else {
                    break;
                };
                evicted.push(q);
            }
        }
        evicted
    }

    /// Take the queue that would expire first out of the table.
    fn inet_frag_evict_oldest(&mut self) -> Option<Box<InetFragQueue<P>>> {
        let (_, key) = self.timers.pop_first()?;
        let q = self.queues.remove(&key)?;
        self.mem -= q.charged;
        Some(q)
    }

    /// The limits (Linux: the `fqdir`'s `high_thresh`, `low_thresh`, `timeout`).
    pub fn params(&self) -> &FragLimits {
        &self.limits
    }

    /// Memory the queues hold, in bytes (Linux: `/proc/net/sockstat` "FRAG: memory",
    /// `/proc/net/sockstat6` "FRAG6: memory").
    pub fn mem(&self) -> usize {
        self.mem
    }

    /// Queues in use (Linux: `/proc/net/sockstat` "FRAG: inuse", `sockstat6` "FRAG6: inuse").
    pub fn queue_count(&self) -> usize {
        self.queues.len()
    }

    /// When the oldest queue expires.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.timers.keys().next().map(|k| k.0)
    }

    /// Nothing is being reassembled.
    pub(crate) fn is_empty(&self) -> bool {
        self.queues.is_empty()
    }

    /// Take a queue out of the table, releasing its memory. Linux: `inet_frag_kill`.
    pub(crate) fn inet_frag_kill(&mut self, key: &K) -> Option<Box<InetFragQueue<P>>> {
        let q = self.queues.remove(key)?;
        self.timers.remove(&q.timer);
        self.mem -= q.charged;
        Some(q)
    }

    /// Take out one queue whose timeout has passed by `now`, if any. Linux: the queue timer
    /// firing (`ip_expire`, `ip6_frag_expire`).
    pub(crate) fn inet_frag_expired(&mut self, now: Instant) -> Option<Box<InetFragQueue<P>>> {
        let (&(t, _), _) = self.timers.first_key_value()?;
        if t > now {
            return None;
        }
        self.inet_frag_evict_oldest()
    }

    /// If the queue of `key` is complete, take it out of the table for the family to put the
    /// datagram together.
    pub(crate) fn inet_frag_complete(&mut self, key: &K) -> Option<Box<InetFragQueue<P>>> {
        if self.queues.get(key)?.complete() {
            self.inet_frag_kill(key)
        } else {
            None
        }
    }

    /// Find or create the queue for a fragment of payload `[offset, end)` and add the
    /// fragment to it: `head` is every byte of the fragment before its payload (kept when
    /// `offset` is 0), `payload` its `end - offset` payload bytes. On success the queue is
    /// returned for the family to note what it keeps; [`InetFrags::inet_frag_complete`] then
    /// tells whether the datagram is whole. On failure, the queue is returned if it was
    /// killed. Linux: `inet_frag_find` + the common part of `ip_frag_queue` /
    /// `ip6_frag_queue`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn inet_frag_queue(
        &mut self,
        key: &K,
        offset: usize,
        end: usize,
        more: bool,
        head: &[u8],
        payload: &[u8],
        now: Instant,
    ) -> Result<&mut InetFragQueue<P>, Refused<P>> {
        debug_assert_eq!(payload.len(), end - offset);
        let high = self.limits.high_thresh;
        let data_start = self.data_start;
        if offset == 0 && head.len() > data_start {
            return Err((FragError::HeadTooLong, None));
        }
        if !self.queues.contains_key(key) {
            if self.mem + Self::QUEUE_COST > high {
                return Err((FragError::Nomem, None));
            }
            let timer = (now + self.limits.time, self.seq);
            self.seq += 1;
            self.timers.insert(timer, *key);
            self.queues
                .insert(*key, Box::new(InetFragQueue::new(timer, Self::QUEUE_COST)));
            self.mem += Self::QUEUE_COST;
        }
        let mem = self.mem;
        let max_len = self.max_len;
        let added = match self.queues.get_mut(key) {
            None => Err(FragError::Nomem),
            Some(q) => Self::add(
                q, mem, high, data_start, max_len, offset, end, more, head, payload,
            ),
        };
        match added {
            Ok(grown) => self.mem += grown,
            Err(e @ (FragError::Inconsistent | FragError::Overlap | FragError::TooFar)) => {
                return Err((e, self.inet_frag_kill(key)));
            }
            Err(e) => return Err((e, None)),
        }
        match self.queues.get_mut(key) {
            Some(q) => Ok(q),
            None => Err((FragError::Nomem, None)),
        }
    }

    /// Add a fragment to its queue: the checks against what the queue holds, the insertion
    /// among its runs, the copy into its area. Returns how much the area grew.
    #[allow(clippy::too_many_arguments)]
    fn add(
        q: &mut InetFragQueue<P>,
        mem: usize,
        high: usize,
        data_start: usize,
        max_len: usize,
        offset: usize,
        end: usize,
        more: bool,
        head: &[u8],
        payload: &[u8],
    ) -> Result<usize, FragError> {
        // A last fragment fixes the length; nothing may lie beyond it.
        let inconsistent = if more {
            q.last_in && end > q.len
        } else {
            end < q.len || (q.last_in && end != q.len)
        };
        if inconsistent {
            return Err(FragError::Inconsistent);
        }
        // Room in the area, within the memory limit. Once the length is known the area is
        // sized exactly; before, it grows by doubling.
        let need = data_start + end;
        let cap = q.area.capacity();
        let new_cap = if need <= cap {
            cap
        } else if !more || q.last_in {
            data_start + if more { q.len } else { end }
        } else {
            need.max((2 * cap).min(data_start + max_len))
        };
        if mem + (new_cap - cap) > high {
            return Err(FragError::Nomem);
        }
        if !more {
            q.last_in = true;
            q.len = end;
        } else if end > q.len {
            q.len = end;
        }
        match q.inet_frag_queue_insert(offset as u32, end as u32) {
            Insert::Ok => {}
            Insert::Dup => return Err(FragError::Dup),
            Insert::Overlap => return Err(FragError::Overlap),
            Insert::TooFar => return Err(FragError::TooFar),
        }
        let mut grown = 0;
        if new_cap > cap {
            q.area.reserve_exact(new_cap - q.area.len());
            grown = q.area.capacity() - cap;
            q.charged += grown;
        }
        if q.area.len() < data_start {
            q.area.resize(data_start, 0);
        }
        let at = data_start + offset;
        if q.area.len() == at {
            // In order: append without zeroing first.
            q.area.extend_from_slice(payload);
        } else {
            if q.area.len() < at + payload.len() {
                q.area.resize(at + payload.len(), 0);
            }
            q.area[at..at + payload.len()].copy_from_slice(payload);
        }
        if offset == 0 {
            q.area[data_start - head.len()..data_start].copy_from_slice(head);
            q.hlen = head.len();
            q.first_len = payload.len();
        }
        q.nfrags += 1;
        Ok(grown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Table = InetFrags<u32, ()>;

    fn table(high: usize, low: usize) -> Table {
        InetFrags::new(
            FragLimits {
                high_thresh: high,
                low_thresh: low,
                time: Duration::from_secs(30),
            },
            64,
            65535,
        )
    }

    #[test]
    fn runs_merge_and_detect_dups_and_overlaps() {
        let mut q: InetFragQueue<()> = InetFragQueue::new((Instant::ZERO, 0), 0);
        assert_eq!(q.inet_frag_queue_insert(16, 24), Insert::Ok);
        assert_eq!(q.inet_frag_queue_insert(0, 8), Insert::Ok);
        assert_eq!(q.nruns, 2);
        assert_eq!(q.inet_frag_queue_insert(8, 16), Insert::Ok);
        assert_eq!((q.nruns, q.runs[0]), (1, (0, 24)));
        assert_eq!(q.inet_frag_queue_insert(8, 16), Insert::Dup);
        assert_eq!(q.inet_frag_queue_insert(0, 24), Insert::Dup);
        assert_eq!(q.inet_frag_queue_insert(16, 32), Insert::Overlap);
        assert_eq!(q.inet_frag_queue_insert(24, 32), Insert::Ok);
        assert_eq!(q.runs[0], (0, 32));
    }

    #[test]
    fn completes_with_head_in_front_of_the_payload() {
        let mut t = table(1 << 20, 1 << 19);
        let now = Instant::ZERO;
        t.inet_frag_queue(&1, 8, 16, false, &[], &[2; 8], now)
            .unwrap();
        assert!(t.inet_frag_complete(&1).is_none());
        t.inet_frag_queue(&1, 0, 8, true, &[9, 9, 9], &[1; 8], now)
            .unwrap();
        let q = t.inet_frag_complete(&1).unwrap();
        assert_eq!((t.mem(), t.queue_count(), t.next_expiry()), (0, 0, None));
        assert_eq!(q.first_fragment(64), &[9, 9, 9, 1, 1, 1, 1, 1, 1, 1, 1]);
        let area = q.into_area();
        assert_eq!(
            &area[61..80],
            &[9, 9, 9, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2]
        );
    }

    #[test]
    fn memory_limit_refuses_and_lowering_it_evicts_the_oldest_to_low_thresh() {
        let cost = Table::QUEUE_COST;
        let mut t = table(1 << 20, 1 << 19);
        for id in 0..100u32 {
            let now = Instant::from_secs(u64::from(id));
            t.inet_frag_queue(&id, 0, 1000, true, &[0; 40], &[0; 1000], now)
                .unwrap();
        }
        let per_queue = t.mem() / 100;
        assert!(per_queue >= cost + 1064, "{per_queue}");
        // Lowered to 40 queues' worth, with low_thresh at 20: the 80 oldest go.
        let evicted = t.set_limits(FragLimits {
            high_thresh: 40 * per_queue,
            low_thresh: 20 * per_queue,
            time: Duration::from_secs(30),
        });
        assert_eq!(evicted.len(), 80);
        assert_eq!(t.queue_count(), 20);
        assert!(t.mem() <= 20 * per_queue);
        assert_eq!(t.next_expiry(), Some(Instant::from_secs(80 + 30)));
        // At the limit, a new queue is refused rather than anything evicted.
        let mut n = 0;
        while t
            .inet_frag_queue(&(1000 + n), 0, 1000, true, &[], &[0; 1000], Instant::ZERO)
            .is_ok()
        {
            n += 1;
            assert!(n < 100);
        }
        assert!(t.mem() <= 40 * per_queue);
        assert_eq!(t.queue_count() as u32, 20 + n);
        // Raising it evicts nothing.
        assert!(t
            .set_limits(FragLimits {
                high_thresh: 1 << 20,
                low_thresh: 0,
                time: Duration::from_secs(30),
            })
            .is_empty());
    }

    #[test]
    fn expiry_takes_queues_oldest_first() {
        let mut t = table(1 << 20, 0);
        for id in 0..3u32 {
            let now = Instant::from_secs(u64::from(10 - id));
            t.inet_frag_queue(&id, 8, 16, true, &[], &[0; 8], now)
                .unwrap();
        }
        assert!(t.inet_frag_expired(Instant::from_secs(37)).is_none());
        let at = Instant::from_secs(39);
        let got: Vec<u64> = std::iter::from_fn(|| t.inet_frag_expired(at))
            .map(|q| q.timer.0.total_micros() / 1_000_000)
            .collect();
        assert_eq!(got, vec![38, 39]);
        assert_eq!(t.queue_count(), 1);
    }
}
