//! The receiver's SACK and D-SACK blocks (RFC 2018, RFC 2883): which out-of-order data to
//! report on the next ACKs, most recent first, and the duplicate that arrived last.
//!
//! Linux: net/ipv4/tcp_input.c (`tcp_sack_new_ofo_skb`, `tcp_sack_extend`,
//! `tcp_sack_maybe_coalesce`, `tcp_sack_remove`, `tcp_dsack_set`, `tcp_dsack_extend`,
//! `tcp_sack_reset`) and the SACK part of `tcp_options_write` (tcp_output.c). As in Linux, up
//! to four blocks are remembered (`TCP_NUM_SACKS`): the block the newest segment went into
//! comes first, blocks it joins are merged into it, and the oldest falls off when a fifth
//! is needed.

use crate::wire::tcp::SeqNumber;

/// Blocks remembered. Linux: `TCP_NUM_SACKS`.
pub const NUM_SACKS: usize = 4;

/// A `[start, end)` block of sequence space.
pub type Block = (SeqNumber, SeqNumber);

/// Linux: `tp->selective_acks`, `tp->rx_opt.num_sacks`, `tp->duplicate_sack` and
/// `tp->rx_opt.dsack`.
#[derive(Debug, Clone, Copy)]
pub struct RxSack {
    blocks: [Block; NUM_SACKS],
    num: usize,
    dsack: Option<Block>,
}

impl Default for RxSack {
    fn default() -> Self {
        RxSack {
            blocks: [(SeqNumber(0), SeqNumber(0)); NUM_SACKS],
            num: 0,
            dsack: None,
        }
    }
}

/// Grow `b` by `[seq, end)` if they overlap or touch. Linux: `tcp_sack_extend`.
fn tcp_sack_extend(b: &mut Block, seq: SeqNumber, end: SeqNumber) -> bool {
    if seq <= b.1 && b.0 <= end {
        if seq < b.0 {
            b.0 = seq;
        }
        if end > b.1 {
            b.1 = end;
        }
        return true;
    }
    false
}

impl RxSack {
    /// The SACK blocks, most recent first.
    pub fn sacks(&self) -> &[Block] {
        &self.blocks[..self.num]
    }

    /// The pending D-SACK block, if any.
    pub fn dsack(&self) -> Option<Block> {
        self.dsack
    }

    /// Forget every block. Linux: `tcp_sack_reset`.
    pub fn tcp_sack_reset(&mut self) {
        self.num = 0;
        self.dsack = None;
    }

    /// Where the out-of-order segment `[seq, end)` would go in the list: the index of the
    /// first block it extends, or the number of blocks when it starts a new one (Linux:
    /// `this_sack` in `tcp_sack_new_ofo_skb`).
    pub fn block_for(&self, seq: SeqNumber, end: SeqNumber) -> usize {
        self.sacks()
            .iter()
            .position(|b| seq <= b.1 && b.0 <= end)
            .unwrap_or(self.num)
    }

    /// Report the out-of-order segment `[seq, end)`: it extends a block (which moves to the
    /// front and swallows the blocks it now touches) or starts a new one at the front.
    /// Linux: `tcp_sack_new_ofo_skb`.
    pub fn tcp_sack_new_ofo_skb(&mut self, seq: SeqNumber, end: SeqNumber) {
        for i in 0..self.num {
            if tcp_sack_extend(&mut self.blocks[i], seq, end) {
                self.blocks[..=i].rotate_right(1);
                self.tcp_sack_maybe_coalesce();
                return;
            }
        }
        if self.num == NUM_SACKS {
            self.num -= 1;
        }
        self.blocks[..=self.num].rotate_right(1);
        self.blocks[0] = (seq, end);
        self.num += 1;
    }

    /// Merge into the first block every other block it now overlaps or touches.
    /// Linux: `tcp_sack_maybe_coalesce`.
    fn tcp_sack_maybe_coalesce(&mut self) {
        let mut i = 1;
        while i < self.num {
            let (s, e) = self.blocks[i];
            if tcp_sack_extend(&mut self.blocks[0], s, e) {
                self.blocks[i..self.num].rotate_left(1);
                self.num -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// `RCV.NXT` moved to `rcv_nxt`: blocks it reached are gone (all of them once nothing
    /// is out of order). Linux: `tcp_sack_remove`.
    pub fn tcp_sack_remove(&mut self, rcv_nxt: SeqNumber, ofo_empty: bool) {
        if ofo_empty {
            self.num = 0;
            return;
        }
        let mut i = 0;
        while i < self.num {
            if rcv_nxt >= self.blocks[i].0 {
                self.blocks[i..self.num].rotate_left(1);
                self.num -= 1;
            } else {
                i += 1;
            }
        }
    }

    /// Report `[seq, end)` as received twice in the first block of the next ACK. Returns
    /// whether it lies below `rcv_nxt` (Linux counts `TCPDSACKOldSent`, else
    /// `TCPDSACKOfoSent`). Linux: `tcp_dsack_set`.
    pub fn tcp_dsack_set(&mut self, seq: SeqNumber, end: SeqNumber, rcv_nxt: SeqNumber) -> bool {
        self.dsack = Some((seq, end));
        seq < rcv_nxt
    }

    /// Widen the pending D-SACK block by `[seq, end)`, or set it. Returns whether a new one
    /// was set below `rcv_nxt` (for the counters, as [`RxSack::tcp_dsack_set`]), `None`
    /// when an existing one was extended. Linux: `tcp_dsack_extend`.
    pub fn tcp_dsack_extend(
        &mut self,
        seq: SeqNumber,
        end: SeqNumber,
        rcv_nxt: SeqNumber,
    ) -> Option<bool> {
        match &mut self.dsack {
            None => Some(self.tcp_dsack_set(seq, end, rcv_nxt)),
            Some(b) => {
                tcp_sack_extend(b, seq, end);
                None
            }
        }
    }

    /// How many blocks the next segment carries when `max` fit its option space: the
    /// D-SACK block, then the SACK blocks. Linux: `tcp_established_options` (`eff_sacks`).
    pub fn option_blocks(&self, max: usize) -> usize {
        (self.num + usize::from(self.dsack.is_some())).min(max)
    }

    /// Fill `out` with the blocks of the next segment (D-SACK first) and forget the D-SACK
    /// block, which is sent once. Linux: the SACK part of `tcp_options_write`.
    pub fn take_option_blocks(&mut self, max: usize, out: &mut [Option<Block>; 4]) {
        let n = self.option_blocks(max.min(4));
        let mut it = self
            .dsack
            .take()
            .into_iter()
            .chain(self.sacks().iter().copied());
        for slot in out.iter_mut().take(n) {
            *slot = it.next();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: u32, e: u32) -> Block {
        (SeqNumber(s), SeqNumber(e))
    }

    #[test]
    fn newest_first_extend_moves_to_front_and_coalesces() {
        let mut r = RxSack::default();
        r.tcp_sack_new_ofo_skb(SeqNumber(200), SeqNumber(300));
        r.tcp_sack_new_ofo_skb(SeqNumber(400), SeqNumber(500));
        r.tcp_sack_new_ofo_skb(SeqNumber(600), SeqNumber(700));
        assert_eq!(r.sacks(), &[b(600, 700), b(400, 500), b(200, 300)]);
        // Extending the oldest brings it to the front.
        r.tcp_sack_new_ofo_skb(SeqNumber(300), SeqNumber(350));
        assert_eq!(r.sacks(), &[b(200, 350), b(600, 700), b(400, 500)]);
        // Filling the gap between two blocks merges them.
        r.tcp_sack_new_ofo_skb(SeqNumber(350), SeqNumber(400));
        assert_eq!(r.sacks(), &[b(200, 500), b(600, 700)]);
    }

    #[test]
    fn a_fifth_block_pushes_out_the_oldest() {
        let mut r = RxSack::default();
        for i in 0..5 {
            r.tcp_sack_new_ofo_skb(SeqNumber(i * 200 + 100), SeqNumber(i * 200 + 200));
        }
        assert_eq!(
            r.sacks(),
            &[b(900, 1000), b(700, 800), b(500, 600), b(300, 400)]
        );
        r.tcp_sack_remove(SeqNumber(600), false);
        assert_eq!(r.sacks(), &[b(900, 1000), b(700, 800)]);
        r.tcp_sack_remove(SeqNumber(1000), true);
        assert!(r.sacks().is_empty());
    }

    #[test]
    fn dsack_goes_first_once() {
        let mut r = RxSack::default();
        r.tcp_sack_new_ofo_skb(SeqNumber(200), SeqNumber(300));
        r.tcp_sack_new_ofo_skb(SeqNumber(400), SeqNumber(500));
        r.tcp_sack_new_ofo_skb(SeqNumber(600), SeqNumber(700));
        assert!(r.tcp_dsack_set(SeqNumber(50), SeqNumber(100), SeqNumber(100)));
        assert_eq!(
            r.tcp_dsack_extend(SeqNumber(100), SeqNumber(120), SeqNumber(100)),
            None
        );
        assert_eq!(r.option_blocks(3), 3);
        let mut out = [None; 4];
        r.take_option_blocks(3, &mut out);
        assert_eq!(
            out,
            [Some(b(50, 120)), Some(b(600, 700)), Some(b(400, 500)), None]
        );
        let mut out = [None; 4];
        r.take_option_blocks(3, &mut out);
        assert_eq!(
            out,
            [
                Some(b(600, 700)),
                Some(b(400, 500)),
                Some(b(200, 300)),
                None
            ]
        );
        // Above RCV.NXT: an out-of-order duplicate.
        assert!(!r.tcp_dsack_set(SeqNumber(400), SeqNumber(500), SeqNumber(100)));
    }
}
