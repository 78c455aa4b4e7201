//! Reading the peer's SACK blocks into the scoreboard (RFC 2018, RFC 6675), with D-SACK
//! detection (RFC 2883 section 4) and the reordering it reveals.
//!
//! Linux: net/ipv4/tcp_input.c `tcp_sacktag_write_queue`, `tcp_check_dsack`,
//! `tcp_is_sackblock_valid`, `tcp_sacktag_one`, `tcp_match_skb_to_sack`.

use super::rtx_queue::{TCPCB_EVER_RETRANS, TCPCB_LOST, TCPCB_SACKED_ACKED, TCPCB_SACKED_RETRANS};
use super::sock::TcpSock;
use crate::stats::TcpStats;
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;

/// What one ACK's SACK blocks did. Linux: the `flag` bits and `struct tcp_sacktag_state`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SackTag {
    /// Bytes newly SACKed (delivered by this ACK out of order).
    pub newly_sacked: u32,
    /// Segments newly SACKed (Linux's `tcp_sacktag_one` `pcount`).
    pub newly_sacked_segs: u32,
    /// The first block was a D-SACK (`FLAG_DSACKING_ACK`).
    pub dsack: bool,
    /// The D-SACK reported the duplicate of our tail loss probe (`FLAG_DSACK_TLP`).
    pub dsack_tlp: bool,
    /// A never-retransmitted segment below `high_seq` was SACKed (`FLAG_ORIG_SACK_ACKED`).
    pub orig_sacked: bool,
    /// Lowest never-retransmitted segment SACKed below the highest SACK seen before it:
    /// evidence of reordering.
    pub reord: Option<SeqNumber>,
}

impl TcpSock {
    /// Whether the first SACK block reports a duplicate (RFC 2883 section 4): below the
    /// cumulative ACK, or inside the second block. Counts it, tells RACK, and gives the
    /// retransmission it reports back to the undo count when the data is already
    /// acknowledged. Linux: `tcp_check_dsack` (`tcp_dsack_seen`).
    fn tcp_check_dsack(
        &mut self,
        blocks: &[(SeqNumber, SeqNumber)],
        ack: SeqNumber,
        prior_snd_una: SeqNumber,
        stats: &mut TcpStats,
    ) -> bool {
        let Some(&(s0, e0)) = blocks.first() else {
            return false;
        };
        if e0 <= s0 {
            return false;
        }
        let dup = if s0 < ack {
            stats.dsack_recv += 1;
            true
        } else if let Some(&(s1, e1)) = blocks.get(1) {
            let ofo = e0 <= e1 && s0 >= s1;
            if ofo {
                stats.dsack_ofo_recv += 1;
            }
            ofo
        } else {
            false
        };
        if !dup {
            return false;
        }
        self.rack.dsack_seen = true;
        self.dsack_dups += 1;
        // Data already gone from the queue: do the counting here.
        if let Some(marker) = self.undo_marker {
            if self.undo_retrans > 0 && e0 <= prior_snd_una && e0 > marker {
                let n = (e0 - s0.max(marker)).max(0) as i64;
                self.undo_retrans = (self.undo_retrans - n).max(0);
            }
        }
        true
    }

    /// Mark what the SACK blocks of an ACK (before `tcp_clean_rtx_queue` removes what it
    /// acknowledges) cover: split records at the blocks' edges (whole segments only), set
    /// SACKED, clear LOST and RETRANS, advance RACK, detect D-SACKs and reordering.
    /// Invalid blocks (beyond `snd_max`, empty, or below `snd_una` unless a D-SACK) are
    /// ignored. Linux: `tcp_sacktag_write_queue`.
    pub fn tcp_sacktag_write_queue(
        &mut self,
        sack: &[Option<(SeqNumber, SeqNumber)>; 4],
        ack: SeqNumber,
        now: Instant,
        stats: &mut TcpStats,
    ) -> SackTag {
        let mut out = SackTag::default();
        let mut blocks = [(SeqNumber(0), SeqNumber(0)); 4];
        let mut n = 0;
        for b in sack.iter().flatten() {
            blocks[n] = *b;
            n += 1;
        }
        if n == 0 || self.rtx.is_empty() {
            return out;
        }
        let prior_snd_una = self.snd_una;
        let dup = self.tcp_check_dsack(&blocks[..n], ack, prior_snd_una, stats);
        out.dsack = dup;
        if dup {
            if let Some(t) = self.tlp_high_seq {
                out.dsack_tlp = blocks[0].1 <= t && self.tlp_retrans;
            }
        }
        // Ascending order, the D-SACK block (if any) kept apart.
        let (dsack, rest) = if dup {
            (Some(blocks[0]), &mut blocks[1..n])
        } else {
            (None, &mut blocks[..n])
        };
        rest.sort_unstable_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal));
        if let Some((s, e)) = dsack {
            self.tcp_sacktag_block(s, e, true, now, &mut out);
        }
        for &(s, e) in rest.iter() {
            if e > self.snd_max || e <= s || e <= self.snd_una || s >= self.snd_max {
                // Old blocks of an ACK that was overtaken are not counted.
                if !(ack != self.snd_una && e <= self.snd_una) {
                    stats.sack_discard += 1;
                }
                continue;
            }
            self.tcp_sacktag_block(s.max(self.snd_una), e, false, now, &mut out);
        }
        out
    }

    /// Tag the records inside `[start, end)`. A plain block splits a record it covers in part
    /// at whole-segment boundaries (Linux: `tcp_match_skb_to_sack`); a D-SACK block only
    /// looks at records it covers whole.
    fn tcp_sacktag_block(
        &mut self,
        start: SeqNumber,
        end: SeqNumber,
        dup: bool,
        now: Instant,
        out: &mut SackTag,
    ) {
        let mss = self.mss.max(1);
        let mut i = self.rtx.find(start);
        // Bounded by the records in the block (each step moves on or splits once).
        while let Some(&e) = self.rtx.get(i) {
            if e.seq >= end {
                break;
            }
            if e.seq < start || e.end_seq > end {
                if dup || e.sacked & TCPCB_SACKED_ACKED != 0 {
                    i += 1;
                    continue;
                }
                if e.seq < start {
                    let k = ((start - e.seq) as u32).div_ceil(mss);
                    let at = e.seq + (k * mss) as usize;
                    if at >= e.end_seq || at >= end {
                        i += 1;
                        continue;
                    }
                    self.rtx.tcp_fragment(i, at);
                    i += 1;
                    continue;
                }
                // Covers the front of the record only.
                let k = ((end - e.seq) as u32) / mss;
                let at = e.seq + (k * mss) as usize;
                if at <= e.seq {
                    break;
                }
                self.rtx.tcp_fragment(i, at);
            }
            self.tcp_sacktag_one(i, dup, now, out);
            i += 1;
        }
    }

    /// Tag one record wholly inside a block. Linux: `tcp_sacktag_one`.
    fn tcp_sacktag_one(&mut self, i: usize, dup: bool, now: Instant, out: &mut SackTag) {
        let Some(&e) = self.rtx.get(i) else { return };
        let s = e.sacked;
        let len = e.len();
        if dup && s & TCPCB_EVER_RETRANS != 0 {
            if let Some(marker) = self.undo_marker {
                if self.undo_retrans > 0 && e.end_seq > marker {
                    self.undo_retrans = (self.undo_retrans - i64::from(len)).max(0);
                }
            }
            if s & TCPCB_SACKED_ACKED != 0 {
                out.reord = Some(out.reord.map_or(e.seq, |r| r.min(e.seq)));
            }
        }
        if e.end_seq <= self.snd_una {
            return;
        }
        if s & TCPCB_SACKED_ACKED == 0 {
            let min_rtt = self.rtt.min_rtt();
            self.rack
                .tcp_rack_advance(s, e.end_seq, e.tstamp, e.tx_order, now, min_rtt);
            if s & TCPCB_EVER_RETRANS == 0 {
                if e.seq < self.tcp_highest_sack_seq() {
                    out.reord = Some(out.reord.map_or(e.seq, |r| r.min(e.seq)));
                }
                if e.end_seq <= self.high_seq {
                    out.orig_sacked = true;
                }
            }
            let new = (s | TCPCB_SACKED_ACKED) & !(TCPCB_LOST | TCPCB_SACKED_RETRANS);
            self.rtx.set_bits(i, new);
            out.newly_sacked += len;
            out.newly_sacked_segs += e.pcount(self.mss);
            if self.highest_sack.is_none_or(|h| e.end_seq > h) {
                self.highest_sack = Some(e.end_seq);
            }
        } else if dup && s & TCPCB_SACKED_RETRANS != 0 {
            self.rtx.set_bits(i, s & !TCPCB_SACKED_RETRANS);
        }
    }

    /// One past the highest SACKed sequence, or `snd_una`. Linux: `tcp_highest_sack_seq`.
    pub fn tcp_highest_sack_seq(&self) -> SeqNumber {
        match self.highest_sack {
            Some(h) if h > self.snd_una => h,
            _ => self.snd_una,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp::fastretrans::AckFlag;
    use crate::transport::tcp::sock::{TcpConfig, TcpState};
    use proptest::prelude::*;

    proptest! {
        /// Whatever SACK blocks and ACKs a peer sends (out of range, overlapping, D-SACKs,
        /// partial segments), the scoreboard stays contiguous, its counts match its bits,
        /// the pipe never exceeds what is outstanding, and recovery never panics.
        #[test]
        fn any_sack_blocks_keep_the_scoreboard_consistent(
            acks in proptest::collection::vec(
                (0u32..80_000, proptest::collection::vec((5_000u32..90_000, 0u32..9000), 0..4)),
                1..60,
            ),
            segs in 1u32..25,
        ) {
            let mut sk = TcpSock::new(&TcpConfig::default(), 65536, 65536);
            sk.state = TcpState::Established;
            sk.sack_ok = true;
            sk.mss = 1000;
            sk.cc.set_mss(1000);
            sk.snd_una = SeqNumber(10_000);
            let mut now = Instant::from_millis(1);
            for k in 0..segs {
                // TSO-sized records of three segments, so that SACKs split them.
                sk.rtx.push(
                    SeqNumber(10_000 + k * 3000),
                    SeqNumber(13_000 + k * 3000),
                    false,
                    now,
                );
            }
            sk.snd_nxt = SeqNumber(10_000 + segs * 3000);
            sk.snd_max = sk.snd_nxt;
            let mut st = TcpStats::default();
            for (ack_off, blocks) in acks {
                now += std::time::Duration::from_millis(3);
                let ack = (SeqNumber(10_000) + ack_off as usize).min(sk.snd_max).max(sk.snd_una);
                let mut sack = [None; 4];
                for (slot, (l, n)) in sack.iter_mut().zip(blocks) {
                    let left = SeqNumber(l);
                    *slot = Some((left, left + n as usize));
                }
                let prior = sk.snd_una;
                let tag = sk.tcp_sacktag_write_queue(&sack, ack, now, &mut st);
                let mut flag = AckFlag {
                    data_sacked: tag.newly_sacked > 0,
                    dsack: tag.dsack,
                    ..AckFlag::default()
                };
                if ack > sk.snd_una {
                    flag.snd_una_advanced = true;
                    flag.data_acked = true;
                    sk.snd_una = ack;
                    sk.rtx.tcp_clean_rtx_queue(ack, |_| {});
                }
                let dup = u32::from(!flag.snd_una_advanced);
                sk.tcp_fastretrans_alert(prior, dup, &mut flag, now, &mut st);
                sk.tcp_cwnd_reduction(tag.newly_sacked, false, flag.snd_una_advanced);
                prop_assert!(sk.rtx.counts_consistent());
                let sacked: u32 = sk
                    .rtx
                    .iter()
                    .filter(|e| e.sacked & super::super::rtx_queue::TCPCB_SACKED_ACKED != 0)
                    .map(|e| e.len())
                    .sum();
                prop_assert_eq!(sacked, sk.rtx.sacked_out);
                prop_assert!(sk.tcp_packets_in_flight() <= sk.rtx.packets_out() + sk.rtx.retrans_out);
                // Split at segment boundaries only: never more records than segments.
                prop_assert!(sk.rtx.len() as u32 <= segs * 3);
                if let Some(h) = sk.rtx.head() {
                    prop_assert_eq!(h.seq, sk.snd_una);
                }
            }
        }
    }
}
