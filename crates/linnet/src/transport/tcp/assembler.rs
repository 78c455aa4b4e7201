//! Out-of-order receive bookkeeping: which byte ranges beyond `RCV.NXT` have arrived, and the
//! SACK blocks (RFC 2018) that describe them.
//!
//! Linux: the out-of-order rbtree (`tcp_data_queue_ofo`, `tcp_ofo_queue`) and
//! `tcp_sack_new_ofo_skb` / `tcp_sack_maybe_coalesce` for the SACK list. The data itself sits
//! in the receive ring; only offsets are kept here.

/// Most disjoint ranges remembered; a segment that would need more is dropped.
pub const MAX_RANGES: usize = 32;

/// A new range would exceed [`MAX_RANGES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManyRanges;

#[derive(Debug, Clone, Copy)]
struct Range {
    start: usize,
    end: usize,
    /// When this range last grew (for SACK ordering, most recent first).
    stamp: u64,
}

/// Received ranges, offsets relative to the in-order point.
#[derive(Debug)]
pub struct Assembler {
    ranges: Vec<Range>,
    clock: u64,
}

impl Default for Assembler {
    fn default() -> Self {
        Assembler::new()
    }
}

impl Assembler {
    /// Nothing received out of order.
    pub fn new() -> Assembler {
        Assembler {
            ranges: Vec::with_capacity(MAX_RANGES + 1),
            clock: 0,
        }
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

    /// Record `[offset, offset + len)`, merging with overlapping or adjacent ranges.
    pub fn add(&mut self, offset: usize, len: usize) -> Result<(), TooManyRanges> {
        if len == 0 {
            return Ok(());
        }
        let (mut start, mut end) = (offset, offset + len);
        // Ranges touching [start, end] are merged into it.
        let first = self.ranges.iter().position(|r| r.end >= start);
        let Some(first) = first else {
            return self.insert_at(self.ranges.len(), start, end);
        };
        if self.ranges[first].start > end {
            return self.insert_at(first, start, end);
        }
        let mut last = first;
        while last + 1 < self.ranges.len() && self.ranges[last + 1].start <= end {
            last += 1;
        }
        start = start.min(self.ranges[first].start);
        end = end.max(self.ranges[last].end);
        self.clock += 1;
        self.ranges[first] = Range {
            start,
            end,
            stamp: self.clock,
        };
        self.ranges.drain(first + 1..=last);
        Ok(())
    }

    fn insert_at(&mut self, i: usize, start: usize, end: usize) -> Result<(), TooManyRanges> {
        if self.ranges.len() >= MAX_RANGES {
            return Err(TooManyRanges);
        }
        self.clock += 1;
        self.ranges.insert(
            i,
            Range {
                start,
                end,
                stamp: self.clock,
            },
        );
        Ok(())
    }

    /// Move the origin forward by `n` (in-order data was accepted): ranges below it go,
    /// partly covered ones are cut.
    pub fn shift(&mut self, n: usize) {
        if n == 0 {
            return;
        }
        self.ranges.retain(|r| r.end > n);
        for r in &mut self.ranges {
            r.start = r.start.saturating_sub(n);
            r.end -= n;
        }
    }

    /// If a range starts at the origin, remove it and move the origin past it; returns its
    /// length (bytes that just became in order), else 0.
    pub fn remove_front(&mut self) -> usize {
        match self.ranges.first() {
            Some(r) if r.start == 0 => {
                let n = r.end;
                self.ranges.remove(0);
                self.shift(n);
                n
            }
            _ => 0,
        }
    }

    /// Ranges in ascending order, as `(start, end)` offsets.
    pub fn ranges(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.ranges.iter().map(|r| (r.start, r.end))
    }

    /// Whether `[offset, offset + len)` has been received already.
    pub fn contains(&self, offset: usize, len: usize) -> bool {
        self.ranges
            .iter()
            .any(|r| r.start <= offset && offset + len <= r.end)
    }

    /// Up to `max` (≤ 4) ranges for SACK, most recently updated first (RFC 2018 section 4).
    pub fn sack_blocks(&self, max: usize) -> impl Iterator<Item = (usize, usize)> {
        let mut out = [None; 4];
        let mut taken = [false; MAX_RANGES];
        for slot in out.iter_mut().take(max.min(4)) {
            let best = self
                .ranges
                .iter()
                .enumerate()
                .filter(|(i, _)| !taken[*i])
                .max_by_key(|(_, r)| r.stamp);
            if let Some((i, r)) = best {
                taken[i] = true;
                *slot = Some((r.start, r.end));
            }
        }
        out.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn v(a: &Assembler) -> Vec<(usize, usize)> {
        a.ranges().collect()
    }

    #[test]
    fn merges_and_fills_holes() {
        let mut a = Assembler::new();
        a.add(10, 5).unwrap();
        a.add(20, 5).unwrap();
        assert_eq!(v(&a), vec![(10, 15), (20, 25)]);
        a.add(15, 5).unwrap(); // adjacent both sides
        assert_eq!(v(&a), vec![(10, 25)]);
        a.add(5, 30).unwrap(); // spanning
        assert_eq!(v(&a), vec![(5, 35)]);
        assert_eq!(a.remove_front(), 0);
        a.add(0, 5).unwrap();
        assert_eq!(a.remove_front(), 35);
        assert!(a.is_empty());
    }

    #[test]
    fn shift_cuts_and_drops() {
        let mut a = Assembler::new();
        a.add(10, 10).unwrap();
        a.add(30, 5).unwrap();
        a.shift(15);
        assert_eq!(v(&a), vec![(0, 5), (15, 20)]);
        assert_eq!(a.remove_front(), 5);
        assert_eq!(v(&a), vec![(10, 15)]);
        a.shift(100);
        assert!(a.is_empty());
    }

    #[test]
    fn bounded_ranges() {
        let mut a = Assembler::new();
        for i in 0..MAX_RANGES {
            a.add(i * 10 + 1, 1).unwrap();
        }
        assert_eq!(a.add(1000, 1), Err(TooManyRanges));
        assert_eq!(a.range_count(), MAX_RANGES);
        // Merging into an existing range is still fine.
        a.add(2, 1).unwrap();
    }

    #[test]
    fn sack_order_is_most_recent_first() {
        // RFC 2018 section 4 example shape: blocks reported newest first.
        let mut a = Assembler::new();
        a.add(500, 500).unwrap();
        a.add(1500, 500).unwrap();
        a.add(2500, 500).unwrap();
        let blocks: Vec<_> = a.sack_blocks(3).collect();
        assert_eq!(blocks, vec![(2500, 3000), (1500, 2000), (500, 1000)]);
        a.add(1000, 200).unwrap(); // grows the first range
        let blocks: Vec<_> = a.sack_blocks(2).collect();
        assert_eq!(blocks, vec![(500, 1200), (2500, 3000)]);
    }

    proptest! {
        #[test]
        fn matches_a_bitmap(adds in proptest::collection::vec((0usize..2000, 1usize..100), 1..40), shift in 0usize..300) {
            let mut a = Assembler::new();
            let mut bits = vec![false; 2200];
            for (off, len) in adds {
                if a.add(off, len).is_ok() {
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
