//! The retransmit queue's scoreboard: one record per transmitted (super-)segment, metadata
//! only (the bytes stay in the send ring), with the SACKED / LOST / RETRANS bits loss
//! recovery reads and writes, and the byte counts of each kind.
//!
//! Linux: the `tcp_rtx_queue` rbtree of skbs and their `struct tcp_skb_cb` (`seq`,
//! `end_seq`, `sacked`, the skb's transmit time), `tcp_fragment`, `tcp_clean_rtx_queue`,
//! `tcp_mark_skb_lost`, with `tp->sacked_out`, `tp->lost_out`, `tp->retrans_out`. Linux counts
//! segments; Linnet's windows are in bytes, so the counts here are bytes too.

use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use std::collections::VecDeque;

/// The peer holds it out of order (SACKed). Linux: `TCPCB_SACKED_ACKED`.
pub const TCPCB_SACKED_ACKED: u8 = 0x01;
/// Retransmitted and that retransmission not yet acknowledged or SACKed. Linux:
/// `TCPCB_SACKED_RETRANS`.
pub const TCPCB_SACKED_RETRANS: u8 = 0x02;
/// Deemed lost. Linux: `TCPCB_LOST`.
pub const TCPCB_LOST: u8 = 0x04;
/// Retransmitted at least once. Linux: `TCPCB_EVER_RETRANS`.
pub const TCPCB_EVER_RETRANS: u8 = 0x80;

/// One transmitted segment (or TSO super-segment). Linux: `struct tcp_skb_cb` of an skb on
/// the retransmit queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpSkbCb {
    /// First sequence number.
    pub seq: SeqNumber,
    /// One past the last (counting the FIN).
    pub end_seq: SeqNumber,
    /// Carries our FIN (the last sequence number).
    pub fin: bool,
    /// When it was last (re)transmitted. Linux: `skb->skb_mstamp_ns`.
    pub tstamp: Instant,
    /// Transmission order on this connection, counting every (re)transmission: tells apart
    /// segments sent at the same instant of Linnet's microsecond clock (Linux's nanosecond
    /// clock rarely ties).
    pub tx_order: u64,
    /// `TCPCB_*` bits.
    pub sacked: u8,
    /// The skb's PSH mark (what `tcp_push` set, not the PSH every GSO packet carries):
    /// retransmissions keep it. Linux: `tcp_flags & TCPHDR_PSH`.
    pub psh: bool,
    /// Ends one of the bursts output sent as one GSO packet (an skb of Linux's rtx queue):
    /// a retransmission does not join it with the next record.
    pub skb_tail: bool,
}

impl TcpSkbCb {
    /// Sequence space covered, bytes (the FIN counts one).
    pub fn len(&self) -> u32 {
        (self.end_seq - self.seq).max(0) as u32
    }

    /// Whether it covers nothing (never on the queue).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Payload bytes (without the FIN).
    pub fn data_len(&self) -> u32 {
        self.len() - u32::from(self.fin)
    }

    /// Segments it stands for at `mss` (a bare FIN is one). Linux: `tcp_skb_pcount`.
    pub fn pcount(&self, mss: u32) -> u32 {
        tcp_pcount(self.data_len(), mss)
    }
}

/// Segments `data_len` payload bytes make at `mss`, at least one. Linux:
/// `tcp_set_skb_tso_segs`.
pub fn tcp_pcount(data_len: u32, mss: u32) -> u32 {
    data_len.div_ceil(mss.max(1)).max(1)
}

/// What acknowledging a prefix of the queue found. Linux: the `flag` bits and samples that
/// `tcp_clean_rtx_queue` returns.
#[derive(Debug, Clone, Copy, Default)]
pub struct CleanOutcome {
    /// Bytes removed from the queue.
    pub acked: u32,
    /// Of those, bytes that were not SACKed before (newly delivered).
    pub newly_delivered: u32,
    /// A never-retransmitted segment was acknowledged (`FLAG_ORIG_SACK_ACKED` with
    /// `high_seq` checked by the caller through `orig_acked_end`).
    pub orig_acked_end: Option<SeqNumber>,
    /// Retransmitted data was acknowledged (`FLAG_RETRANS_DATA_ACKED`).
    pub retrans_acked: bool,
    /// Lowest start of a never-retransmitted, un-SACKed segment acknowledged: below the
    /// highest SACK it says the segment was reordered, not lost.
    pub reord: Option<SeqNumber>,
    /// When the oldest never-retransmitted, un-SACKed segment acknowledged was sent (the
    /// RTT sample's start when no retransmitted data was acknowledged). Linux: `first_ackt`.
    pub first_ackt: Option<Instant>,
    /// When the last (highest) such segment was sent: the sample of the newest data, for the
    /// minimum RTT and congestion control. Linux: `last_ackt` (`ca_rtt_us`).
    pub last_ackt: Option<Instant>,
}

/// The scoreboard. Entries are sorted by sequence, contiguous from `snd_una` to `snd_max`,
/// so it never holds more records than bytes outstanding (bounded by the send buffer).
#[derive(Debug, Default)]
pub struct RtxQueue {
    q: VecDeque<TcpSkbCb>,
    /// SACKed bytes. Linux: `tp->sacked_out` (for a peer without SACK: duplicate ACKs
    /// counted as segments, see `tcp_add_reno_sack`).
    pub sacked_out: u32,
    /// Bytes marked lost. Linux: `tp->lost_out`.
    pub lost_out: u32,
    /// Bytes retransmitted and not yet acknowledged. Linux: `tp->retrans_out`.
    pub retrans_out: u32,
    /// The `tx_order` the next transmission gets.
    next_order: u64,
}

impl RtxQueue {
    /// Records on the queue.
    pub fn len(&self) -> usize {
        self.q.len()
    }

    /// Whether nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    /// Bytes outstanding (sent, not cumulatively acknowledged). Linux: `tp->packets_out`.
    pub fn packets_out(&self) -> u32 {
        match (self.q.front(), self.q.back()) {
            (Some(f), Some(b)) => (b.end_seq - f.seq).max(0) as u32,
            _ => 0,
        }
    }

    /// The oldest record. Linux: `tcp_rtx_queue_head`.
    pub fn head(&self) -> Option<&TcpSkbCb> {
        self.q.front()
    }

    /// The newest record. Linux: `skb_rb_last(&sk->tcp_rtx_queue)`.
    pub fn tail(&self) -> Option<&TcpSkbCb> {
        self.q.back()
    }

    /// Record `i`.
    pub fn get(&self, i: usize) -> Option<&TcpSkbCb> {
        self.q.get(i)
    }

    /// Record `i`, to update its transmit time or bits (the caller keeps the counts right).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut TcpSkbCb> {
        self.q.get_mut(i)
    }

    /// All records, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &TcpSkbCb> {
        self.q.iter()
    }

    /// Index of the record holding `seq` (or the first after it).
    pub fn find(&self, seq: SeqNumber) -> usize {
        self.q.partition_point(|e| e.end_seq <= seq)
    }

    /// A new segment went out: `[seq, end_seq)` right after the last record. Linux:
    /// `tcp_event_new_data_sent` (`tcp_rbtree_insert` of the skb).
    pub fn push(&mut self, seq: SeqNumber, end_seq: SeqNumber, fin: bool, now: Instant) {
        if end_seq <= seq {
            return;
        }
        let tx_order = self.next_order;
        self.next_order += 1;
        self.q.push_back(TcpSkbCb {
            seq,
            end_seq,
            fin,
            tstamp: now,
            tx_order,
            sacked: 0,
            psh: false,
            skb_tail: false,
        });
    }

    /// Take back the newest record, just pushed for a segment that was not sent after all
    /// (the caller takes back what it counted for it).
    pub fn unpush(&mut self) {
        self.q.pop_back();
    }

    /// Set the newest record's skb flags (see [`TcpSkbCb::psh`], [`TcpSkbCb::skb_tail`]).
    pub fn set_tail_flags(&mut self, psh: bool, skb_tail: bool) {
        if let Some(e) = self.q.back_mut() {
            e.psh = psh;
            e.skb_tail = skb_tail;
        }
    }

    /// Record `i` was transmitted again now. Linux: `skb->skb_mstamp_ns` set by
    /// `tcp_transmit_skb`.
    pub fn stamp(&mut self, i: usize, now: Instant) {
        let order = self.next_order;
        if let Some(e) = self.q.get_mut(i) {
            e.tstamp = now;
            e.tx_order = order;
            self.next_order += 1;
        }
    }

    /// Split record `i` at `at` (strictly inside it) into two with the same bits and transmit
    /// time; the FIN and PSH stay with the second, and the first ends an skb. The byte counts do not change. Linux:
    /// `tcp_fragment`.
    pub fn tcp_fragment(&mut self, i: usize, at: SeqNumber) {
        let Some(e) = self.q.get_mut(i) else { return };
        if at <= e.seq || at >= e.end_seq {
            return;
        }
        let mut second = *e;
        second.seq = at;
        e.end_seq = at;
        e.fin = false;
        e.psh = false;
        e.skb_tail = true;
        self.q.insert(i + 1, second);
    }

    /// Change record `i`'s bits to `new`, keeping the byte counts in step.
    pub fn set_bits(&mut self, i: usize, new: u8) {
        let Some(e) = self.q.get_mut(i) else { return };
        let len = e.len();
        let old = e.sacked;
        e.sacked = new;
        for (bit, count) in [
            (TCPCB_SACKED_ACKED, &mut self.sacked_out),
            (TCPCB_LOST, &mut self.lost_out),
            (TCPCB_SACKED_RETRANS, &mut self.retrans_out),
        ] {
            match (old & bit != 0, new & bit != 0) {
                (false, true) => *count += len,
                (true, false) => *count = count.saturating_sub(len),
                _ => {}
            }
        }
    }

    /// Mark record `i` lost (never one the peer SACKed); a retransmission that was already
    /// lost once is lost again and counted. Returns the bytes of retransmission lost.
    /// Linux: `tcp_mark_skb_lost`.
    pub fn tcp_mark_skb_lost(&mut self, i: usize) -> u32 {
        let Some(e) = self.q.get(i) else { return 0 };
        let s = e.sacked;
        if s & TCPCB_SACKED_ACKED != 0 {
            return 0;
        }
        if s & TCPCB_LOST != 0 {
            if s & TCPCB_SACKED_RETRANS != 0 {
                let len = e.len();
                self.set_bits(i, s & !TCPCB_SACKED_RETRANS);
                return len;
            }
            return 0;
        }
        self.set_bits(i, s | TCPCB_LOST);
        0
    }

    /// Forget every SACK (the peer reneged, or it has no SACK and the counts restart).
    pub fn clear_sacked(&mut self) {
        for i in 0..self.q.len() {
            let s = self.q[i].sacked;
            if s & TCPCB_SACKED_ACKED != 0 {
                self.set_bits(i, s & !TCPCB_SACKED_ACKED);
            }
        }
    }

    /// Clear every LOST bit (an undo: the losses were not real). Linux: the `unmark_loss`
    /// walk of `tcp_undo_cwnd_reduction`.
    pub fn clear_lost(&mut self) {
        for i in 0..self.q.len() {
            let s = self.q[i].sacked;
            if s & TCPCB_LOST != 0 {
                self.set_bits(i, s & !TCPCB_LOST);
            }
        }
    }

    /// Remove what `una` acknowledges; a record acknowledged in part is trimmed at the
    /// front. `advance` sees each fully acknowledged record before it goes (RACK's clock).
    /// Linux: `tcp_clean_rtx_queue` (with `tcp_trim_head`).
    pub fn tcp_clean_rtx_queue(
        &mut self,
        una: SeqNumber,
        mut advance: impl FnMut(&TcpSkbCb),
    ) -> CleanOutcome {
        let mut out = CleanOutcome::default();
        while let Some(&e) = self.q.front() {
            if e.seq >= una {
                break;
            }
            let full = e.end_seq <= una;
            let end = if full { e.end_seq } else { una };
            let n = (end - e.seq) as u32;
            out.acked += n;
            if e.sacked & TCPCB_SACKED_ACKED != 0 {
                self.sacked_out = self.sacked_out.saturating_sub(n);
            } else {
                out.newly_delivered += n;
            }
            if e.sacked & TCPCB_LOST != 0 {
                self.lost_out = self.lost_out.saturating_sub(n);
            }
            if e.sacked & TCPCB_SACKED_RETRANS != 0 {
                self.retrans_out = self.retrans_out.saturating_sub(n);
            }
            if e.sacked & TCPCB_EVER_RETRANS != 0 {
                out.retrans_acked = true;
            } else if e.sacked & TCPCB_SACKED_ACKED == 0 {
                out.first_ackt.get_or_insert(e.tstamp);
                out.last_ackt = Some(e.tstamp);
                out.orig_acked_end = Some(end);
                if out.reord.is_none() {
                    out.reord = Some(e.seq);
                }
            }
            if !full {
                // tcp_trim_head: the rest stays, its bits and time unchanged.
                if let Some(h) = self.q.front_mut() {
                    h.seq = una;
                }
                break;
            }
            if e.sacked & TCPCB_SACKED_ACKED == 0 {
                advance(&e);
            }
            self.q.pop_front();
        }
        if self.q.is_empty() {
            self.sacked_out = 0;
            self.lost_out = 0;
            self.retrans_out = 0;
        }
        out
    }

    /// Drop every record (the connection is gone, or its queue was purged).
    pub fn purge(&mut self) {
        self.q.clear();
        self.sacked_out = 0;
        self.lost_out = 0;
        self.retrans_out = 0;
    }

    /// Check the counts against the bits (tests and debug builds). Linux:
    /// `tcp_verify_left_out`.
    pub fn counts_consistent(&self) -> bool {
        let mut c = [0u32; 3];
        for e in &self.q {
            let len = e.len();
            for (k, bit) in [TCPCB_SACKED_ACKED, TCPCB_LOST, TCPCB_SACKED_RETRANS]
                .into_iter()
                .enumerate()
            {
                if e.sacked & bit != 0 {
                    c[k] += len;
                }
            }
        }
        let contiguous = self
            .q
            .iter()
            .zip(self.q.iter().skip(1))
            .all(|(a, b)| a.end_seq == b.seq);
        contiguous && c[1] == self.lost_out && c[2] == self.retrans_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(n: u32, mss: u32) -> RtxQueue {
        let mut q = RtxQueue::default();
        for k in 0..n {
            q.push(
                SeqNumber(1000 + k * mss),
                SeqNumber(1000 + (k + 1) * mss),
                false,
                Instant::from_millis(k as u64),
            );
        }
        q
    }

    #[test]
    fn fragment_mark_and_clean_keep_the_counts() {
        let mut q = queue(4, 100);
        assert_eq!(q.packets_out(), 400);
        q.tcp_fragment(1, SeqNumber(1150));
        assert_eq!(q.len(), 5);
        assert_eq!(q.get(2).unwrap().seq, SeqNumber(1150));
        q.set_bits(2, TCPCB_SACKED_ACKED);
        assert_eq!(q.sacked_out, 50);
        assert_eq!(q.tcp_mark_skb_lost(0), 0);
        assert_eq!(q.tcp_mark_skb_lost(2), 0, "a SACKed record is never lost");
        assert_eq!(q.lost_out, 100);
        // Retransmitted, then lost again: counted as a lost retransmission.
        q.set_bits(0, TCPCB_LOST | TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS);
        assert_eq!(q.retrans_out, 100);
        assert_eq!(q.tcp_mark_skb_lost(0), 100);
        assert_eq!((q.lost_out, q.retrans_out), (100, 0));
        assert!(q.counts_consistent());
        let mut seen = 0;
        let o = q.tcp_clean_rtx_queue(SeqNumber(1175), |_| seen += 1);
        assert_eq!(o.acked, 175);
        assert_eq!(o.newly_delivered, 150);
        assert!(o.retrans_acked);
        assert_eq!(
            seen, 2,
            "each record acknowledged whole and not SACKed before advances RACK"
        );
        assert_eq!(q.head().unwrap().seq, SeqNumber(1175));
        assert_eq!((q.sacked_out, q.lost_out), (25, 0));
        assert!(q.counts_consistent());
        q.tcp_clean_rtx_queue(SeqNumber(1400), |_| {});
        assert!(q.is_empty());
        assert_eq!((q.sacked_out, q.lost_out, q.retrans_out), (0, 0, 0));
    }
}
