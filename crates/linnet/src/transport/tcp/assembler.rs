//! Out-of-order receive bookkeeping: which byte ranges beyond `RCV.NXT` have arrived.
//!
//! Linux: the out-of-order rbtree (`tcp_data_queue_ofo`, `tcp_ofo_queue`,
//! `tcp_prune_ofo_queue`). The data itself sits in the receive ring; only the ranges are
//! kept here, in an ordered map (O(log n) per segment, like the rbtree). Their number is
//! bounded by memory, not by a fixed count: each range is charged [`OFO_RANGE_TRUESIZE`]
//! bytes against the receive buffer, as Linux charges each out-of-order skb its truesize,
//! and when a new range would exceed the budget the ranges furthest from `RCV.NXT` go first
//! (`tcp_prune_ofo_queue`). The SACK blocks that describe the ranges are kept by
//! [`super::rx_sack`].

use std::collections::BTreeMap;

/// What one out-of-order range costs against the receive buffer: about the truesize of a
/// small skb in Linux (so a peer sending one-byte segments with gaps can pin no more ranges
/// than Linux would let it pin skbs).
pub const OFO_RANGE_TRUESIZE: usize = 1024;
/// Ranges always allowed, however small the buffer.
pub const OFO_MIN_RANGES: usize = 32;

/// The new range was beyond every other and there was no room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

/// What [`Assembler::add`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Added {
    /// Ranges furthest from the origin dropped to make room (Linux: `OfoPruned`).
    pub pruned: usize,
    /// Whether the new bytes merged with (touched or overlapped) an existing range
    /// (Linux: `TCPOFOMerge` counts the overlaps).
    pub merged: bool,
}

/// Received ranges, offsets relative to the in-order point.
#[derive(Debug, Default)]
pub struct Assembler {
    /// Start → end, in absolute positions (`base` + offset).
    ranges: BTreeMap<u64, u64>,
    /// Absolute position of offset 0 (the in-order point).
    base: u64,
}

impl Assembler {
    /// Nothing received out of order.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// No ranges.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Forget everything.
    pub fn clear(&mut self) {
        self.ranges.clear();
    }

    /// Number of disjoint ranges.
    pub fn range_count(&self) -> usize {
        self.ranges.len()
    }

    /// How far beyond the origin the furthest range reaches (0 when empty). Linux: the
    /// `end_seq` of `ooo_last_skb` less `rcv_nxt`.
    pub fn end_offset(&self) -> usize {
        self.ranges
            .last_key_value()
            .map_or(0, |(_, &e)| (e - self.base) as usize)
    }

    /// Most ranges a receive buffer of `rcvbuf` bytes may hold.
    pub fn max_ranges(rcvbuf: usize) -> usize {
        (rcvbuf / OFO_RANGE_TRUESIZE).max(OFO_MIN_RANGES)
    }

    /// The part of `[offset, offset + len)` already held: the span from the first to the
    /// last byte of it that some range covers, as offsets (for a D-SACK block).
    pub fn overlap(&self, offset: usize, len: usize) -> Option<(usize, usize)> {
        if len == 0 {
            return None;
        }
        let (s, e) = (self.base + offset as u64, self.base + (offset + len) as u64);
        let mut lo = None;
        let mut hi = 0;
        let before = self.ranges.range(..s).next_back();
        for (&rs, &re) in before.into_iter().chain(self.ranges.range(s..e)) {
            let (a, b) = (rs.max(s), re.min(e));
            if a < b {
                lo.get_or_insert(a);
                hi = b;
            }
        }
        lo.map(|l| ((l - self.base) as usize, (hi - self.base) as usize))
    }

    /// Record `[offset, offset + len)`, merging with overlapping or adjacent ranges. A new
    /// range beyond `max_ranges` first prunes the ranges above it, furthest first; if it is
    /// itself the furthest, it is refused. Linux: `tcp_data_queue_ofo` (coalescing) and
    /// `tcp_prune_ofo_queue`.
    pub fn add(
        &mut self,
        offset: usize,
        len: usize,
        max_ranges: usize,
    ) -> Result<Added, TooManyRanges> {
        let mut out = Added::default();
        if len == 0 {
            return Ok(out);
        }
        let (mut s, mut e) = (self.base + offset as u64, self.base + (offset + len) as u64);
        // A range starting before s that reaches s.
        if let Some((&ps, &pe)) = self.ranges.range(..s).next_back() {
            if pe >= s {
                s = ps;
                e = e.max(pe);
                self.ranges.remove(&ps);
                out.merged = true;
            }
        }
        // Ranges starting within [s, e].
        while let Some((&rs, &re)) = self.ranges.range(s..=e).next() {
            e = e.max(re);
            self.ranges.remove(&rs);
            out.merged = true;
        }
        if !out.merged && self.ranges.len() >= max_ranges.max(1) {
            // Prune from the far end, never below the new range.
            while self.ranges.len() >= max_ranges.max(1) {
                match self.ranges.last_key_value() {
                    Some((&ls, _)) if ls > s => {
                        self.ranges.remove(&ls);
                        out.pruned += 1;
                    }
                    _ => return Err(TooManyRanges),
                }
            }
        }
        self.ranges.insert(s, e);
        Ok(out)
    }

    /// Move the origin forward by `n` (in-order data was accepted): ranges below it go,
    /// partly covered ones are cut.
    pub fn shift(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.base += n as u64;
        while let Some((&s, &e)) = self.ranges.first_key_value() {
            if s >= self.base {
                break;
            }
            self.ranges.remove(&s);
            if e > self.base {
                self.ranges.insert(self.base, e);
                break;
            }
        }
    }

    /// If a range starts at the origin, remove it and move the origin past it; returns its
    /// length (bytes that just became in order), else 0.
    pub fn remove_front(&mut self) -> usize {
        match self.ranges.first_key_value() {
            Some((&s, &e)) if s == self.base => {
                self.ranges.remove(&s);
                let n = (e - s) as usize;
                self.base = e;
                n
            }
            _ => 0,
        }
    }

    /// Ranges in ascending order, as `(start, end)` offsets.
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges
            .iter()
            .map(|(&s, &e)| ((s - self.base) as usize, (e - self.base) as usize))
    }

    /// Whether `[offset, offset + len)` has been received already.
    pub fn contains(&self, offset: usize, len: usize) -> bool {
        let (s, e) = (self.base + offset as u64, self.base + (offset + len) as u64);
        self.ranges
            .range(..=s)
            .next_back()
            .is_some_and(|(&rs, &re)| rs <= s && e <= re)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MAX: usize = 1 << 20;

    fn v(a: &Assembler) -> Vec<(usize, usize)> {
        a.ranges().collect()
    }

    #[test]
    fn merges_and_fills_holes() {
        let mut a = Assembler::new();
        a.add(10, 5, MAX).unwrap();
        a.add(20, 5, MAX).unwrap();
        assert_eq!(v(&a), vec![(10, 15), (20, 25)]);
        assert!(a.add(15, 5, MAX).unwrap().merged); // adjacent both sides
        assert_eq!(v(&a), vec![(10, 25)]);
        a.add(5, 30, MAX).unwrap(); // spanning
        assert_eq!(v(&a), vec![(5, 35)]);
        assert_eq!(a.remove_front(), 0);
        a.add(0, 5, MAX).unwrap();
        assert_eq!(a.remove_front(), 35);
        assert!(a.is_empty());
    }

    #[test]
    fn shift_cuts_and_drops() {
        let mut a = Assembler::new();
        a.add(10, 10, MAX).unwrap();
        a.add(30, 5, MAX).unwrap();
        a.shift(15);
        assert_eq!(v(&a), vec![(0, 5), (15, 20)]);
        assert_eq!(a.remove_front(), 5);
        assert_eq!(v(&a), vec![(10, 15)]);
        a.shift(100);
        assert!(a.is_empty());
    }

    #[test]
    fn overlap_reports_the_held_part() {
        let mut a = Assembler::new();
        a.add(10, 10, MAX).unwrap();
        a.add(30, 10, MAX).unwrap();
        assert_eq!(a.overlap(0, 5), None);
        assert_eq!(a.overlap(12, 4), Some((12, 16)));
        assert_eq!(a.overlap(5, 30), Some((10, 35)));
        assert!(a.contains(30, 10));
        assert!(!a.contains(29, 2));
    }

    #[test]
    fn far_ranges_are_pruned_first_and_the_furthest_new_one_refused() {
        let mut a = Assembler::new();
        for i in 0..40 {
            a.add(i * 10 + 1, 1, 40).unwrap();
        }
        // Beyond the others and no room: refused.
        assert_eq!(a.add(1000, 1, 40), Err(TooManyRanges));
        // Merging into an existing range is always fine.
        assert_eq!(a.add(2, 1, 40).unwrap().pruned, 0);
        // Nearer than the furthest: the furthest goes.
        let r = a.add(5, 1, 40).unwrap();
        assert_eq!(r.pruned, 1);
        assert_eq!(a.range_count(), 40);
        assert!(!a.contains(391, 1));
        assert!(a.contains(381, 1));
    }

    #[test]
    fn the_bound_scales_with_the_buffer() {
        assert_eq!(Assembler::max_ranges(4096), OFO_MIN_RANGES);
        assert_eq!(
            Assembler::max_ranges(6 << 20),
            (6 << 20) / OFO_RANGE_TRUESIZE
        );
        // A 6 MiB buffer takes thousands of holes (Linux: as many skbs as fit sk_rcvbuf).
        let mut a = Assembler::new();
        let max = Assembler::max_ranges(6 << 20);
        for i in 0..max {
            a.add(i * 3000 + 1000, 1448, max).unwrap();
        }
        assert_eq!(a.range_count(), max);
    }

    proptest! {
        #[test]
        fn pruning_keeps_the_bound_and_only_received_bytes(
            adds in proptest::collection::vec((0usize..3000, 1usize..50), 1..200),
            max in 1usize..8,
        ) {
            let mut a = Assembler::new();
            let mut bits = vec![false; 3100];
            for (off, len) in adds {
                if a.add(off, len, max).is_ok() {
                    for b in &mut bits[off..off + len] { *b = true; }
                }
                let v = v(&a);
                prop_assert!(v.len() <= max);
                // Sorted, disjoint, never touching, and every byte one that arrived.
                for w in v.windows(2) {
                    prop_assert!(w[0].1 < w[1].0);
                }
                for &(s, e) in &v {
                    prop_assert!(s < e && bits[s..e].iter().all(|&b| b));
                }
            }
        }

        #[test]
        fn matches_a_bitmap(adds in proptest::collection::vec((0usize..2000, 1usize..100), 1..40), shift in 0usize..300) {
            let mut a = Assembler::new();
            let mut bits = vec![false; 2200];
            for (off, len) in adds {
                if a.add(off, len, MAX).is_ok() {
                    for b in &mut bits[off..off + len] { *b = true; }
                }
            }
            a.shift(shift);
            let bits = &bits[shift..];
            let mut want = Vec::new();
            let mut i = 0;
            while i < bits.len() {
                if bits[i] {
                    let s = i;
                    while i < bits.len() && bits[i] { i += 1; }
                    want.push((s, i));
                } else { i += 1; }
            }
            prop_assert_eq!(v(&a), want);
        }
    }
}
