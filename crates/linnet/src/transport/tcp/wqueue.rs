//! The write queue's skbs as Linux would have built them, and where TCP sets PSH.
//!
//! Linnet's send queue is a byte ring; Linux's is a list of skbs, and the PSH flag is a
//! property of an skb: `tcp_push` marks the tail skb at the end of each `sendmsg` (unless
//! `MSG_MORE`), `forced_push` marks a filled skb once more than half the largest window was
//! written since the last mark, and a write appends to the tail skb until it holds
//! `size_goal` bytes (never past a `MSG_EOR` mark). When an skb is sent in pieces
//! (`tso_fragment`, `tcp_fragment`) PSH stays with the last piece. On the wire an skb that
//! goes out as more than one segment carries PSH on its last segment whatever its flag
//! (`__tcp_transmit_skb` sets PSH on every GSO packet), and a retransmission keeps the
//! skb's flags. This module keeps the boundaries and flags of the unsent skbs, and the bursts
//! (the skbs `tcp_write_xmit` hands to GSO) that output cuts into MSS-sized segments.
//!
//! Linux: `tcp_sendmsg_locked`, `tcp_push`, `tcp_mark_push`, `forced_push`,
//! `tcp_skb_entail` (net/ipv4/tcp.c), `tcp_mss_split_point`, `tcp_cwnd_test`,
//! `tcp_tso_segs`, `tcp_tso_autosize`, `__tcp_transmit_skb` (net/ipv4/tcp_output.c),
//! `tcp_update_pacing_rate` (net/ipv4/tcp_input.c).

use super::sock::TcpSock;
use crate::wire::tcp::SeqNumber;
use std::collections::VecDeque;

/// Fragments an skb holds at most. Linux: `sysctl_max_skb_frags` (`MAX_SKB_FRAGS`, 17).
const MAX_SKB_FRAGS: u8 = 17;

/// Largest GSO packet, bytes (Linux: `sk_gso_max_size`, `GSO_LEGACY_MAX_SIZE`).
const GSO_MAX_SIZE: u64 = 65536;

/// One unsent skb: where it ends and its flags. Linux: `TCP_SKB_CB(skb)->end_seq`,
/// `tcp_flags & TCPHDR_PSH`, `eor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WqSkb {
    /// One past its last byte.
    pub end: SeqNumber,
    /// Marked PSH.
    pub psh: bool,
    /// Ends a record (`MSG_EOR`): nothing is appended to it.
    pub eor: bool,
    /// Page fragments holding its bytes. Linux: `skb_shinfo(skb)->nr_frags`.
    pub frags: u8,
}

/// What [`TcpSock::tcp_xmit_psh`] decided for a segment of new data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmitPsh {
    /// The segment carries PSH.
    pub psh: bool,
    /// Its skb is marked PSH: a retransmission carries it too.
    pub psh_kept: bool,
    /// It ends its burst (one GSO packet, an skb on Linux's retransmit queue).
    pub burst_done: bool,
}

/// The unsent skbs in order (each begins where the one before ends, the first at or below
/// `snd_nxt`), and the burst output is cutting into segments.
#[derive(Debug, Default)]
pub struct WriteQueue {
    skbs: VecDeque<WqSkb>,
    /// `write_seq` at the last PSH mark (the start of the first write until then). Linux:
    /// `tp->pushed_seq` (`write_seq` when the connection is set up).
    pub pushed_seq: Option<SeqNumber>,
    /// The burst being sent: start, end, and whether it is more than one segment.
    burst: Option<(SeqNumber, SeqNumber, bool)>,
    /// The rest of the retransmission burst in progress: from, to, more than one segment.
    pub rtx_burst: Option<(SeqNumber, SeqNumber, bool)>,
}

impl WriteQueue {
    /// The segment of the burst in progress was not sent: the next one starts a new burst.
    pub fn cancel_burst(&mut self) {
        self.burst = None;
    }

    /// Forget everything (a new connection starts on the socket).
    pub fn clear(&mut self) {
        self.skbs.clear();
        self.pushed_seq = None;
        self.burst = None;
        self.rtx_burst = None;
    }
}

impl TcpSock {
    /// Account `n` bytes just appended to the send ring at `start` (`start + n` is the new
    /// `write_seq`): they fill the tail skb up to `size_goal`, then new skbs; a filled skb
    /// is marked PSH when `forced_push` holds. Copied data shares the skb's page fragment.
    /// Linux: the copy loop of `tcp_sendmsg_locked` (`tcp_skb_entail`, `forced_push` →
    /// `tcp_mark_push`).
    pub fn tcp_skb_entail(&mut self, start: SeqNumber, n: usize) {
        self.tcp_skb_append(start, n, false);
    }

    /// [`TcpSock::tcp_skb_entail`] for a `MSG_ZEROCOPY` send whose bytes come from the user's
    /// buffers `frags` (lengths, in order): each becomes a fragment of its own, and an skb
    /// that holds `MAX_SKB_FRAGS` of them is marked PSH and closed. Linux: the zerocopy path
    /// of `tcp_sendmsg_locked` (`skb_zerocopy_iter_stream`, `tcp_mark_push` on
    /// `sysctl_max_skb_frags`).
    pub fn tcp_skb_entail_frags(&mut self, start: SeqNumber, n: usize, frags: &[usize]) {
        let mut at = start;
        let end = start + n;
        for &f in frags {
            let take = f.min((end - at).max(0) as usize);
            if take > 0 {
                self.tcp_skb_append(at, take, true);
                at += take;
            }
        }
        if at < end {
            self.tcp_skb_append(at, (end - at) as usize, false);
        }
    }

    /// Append `n` bytes at `start` to the write queue; `new_frag`: they are a fragment of
    /// their own (a zerocopy buffer), not merged into the skb's last one.
    fn tcp_skb_append(&mut self, start: SeqNumber, n: usize, new_frag: bool) {
        if n == 0 {
            return;
        }
        self.wq.pushed_seq.get_or_insert(start);
        let goal = self.tcp_xmit_size_goal().max(1);
        let nxt = self.snd_nxt;
        let half = (self.max_snd_wnd / 2) as usize;
        let mut at = start;
        let end = start + n;
        let mut frag_open = !new_frag;
        // Bounded: each round fills one skb by at least a byte.
        while at < end {
            let k = self.wq.skbs.len();
            let mut used = match k {
                0 => None,
                _ => {
                    let t = self.wq.skbs[k - 1];
                    let ts = if k >= 2 { self.wq.skbs[k - 2].end } else { nxt };
                    // Appendable: unsent, ends where the new data begins, no record end.
                    (t.end == at && t.end > nxt && !t.eor)
                        .then(|| (at - ts.max(nxt)).max(0) as usize)
                }
            };
            if !frag_open && used.is_some() && self.wq.skbs[k - 1].frags >= MAX_SKB_FRAGS {
                // Out of fragments: push it and open a new skb.
                self.wq.skbs[k - 1].psh = true;
                self.wq.pushed_seq = Some(at);
                used = None;
            }
            if used.is_none_or(|u| u >= goal) {
                self.wq.skbs.push_back(WqSkb {
                    end: at,
                    psh: false,
                    eor: false,
                    frags: 0,
                });
                used = Some(0);
                frag_open = false;
            }
            let room = goal - used.unwrap_or(0);
            let take = room.min((end - at) as usize);
            at += take;
            if let Some(t) = self.wq.skbs.back_mut() {
                t.end = at;
                if !frag_open || t.frags == 0 {
                    t.frags += 1;
                }
            }
            frag_open = true;
            if take == room && at < end {
                self.tcp_skb_filled(at, half);
            }
        }
    }

    /// A write filled the tail skb ending at `write_seq` and goes on: mark it PSH if more than
    /// half the largest window was written since the last mark. Linux: `forced_push` →
    /// `tcp_mark_push` in `tcp_sendmsg_locked`.
    fn tcp_skb_filled(&mut self, write_seq: SeqNumber, half_window: usize) {
        if self
            .wq
            .pushed_seq
            .is_none_or(|p| write_seq - p > half_window as i32)
        {
            if let Some(t) = self.wq.skbs.back_mut() {
                t.psh = true;
            }
            self.wq.pushed_seq = Some(write_seq);
        }
    }

    /// The end of a write: mark the unsent tail skb PSH unless the write said `MSG_MORE`
    /// (then only if `forced_push`). Linux: `tcp_push` → `tcp_mark_push`.
    pub fn tcp_push_mark(&mut self, more: bool) {
        let write_seq = self.data_end();
        let forced = self
            .wq
            .pushed_seq
            .is_none_or(|p| write_seq - p > (self.max_snd_wnd / 2) as i32);
        if more && !forced {
            return;
        }
        let nxt = self.snd_nxt;
        if let Some(t) = self.wq.skbs.back_mut() {
            if t.end > nxt && t.end == write_seq {
                t.psh = true;
                self.wq.pushed_seq = Some(write_seq);
            }
        }
    }

    /// `MSG_EOR`: the unsent tail skb takes no more data. Linux: `TCP_SKB_CB(skb)->eor = 1`.
    pub fn tcp_skb_mark_eor(&mut self) {
        let (nxt, write_seq) = (self.snd_nxt, self.data_end());
        if let Some(t) = self.wq.skbs.back_mut() {
            if t.end > nxt && t.end == write_seq {
                t.eor = true;
            }
        }
    }

    /// The first unsent skb's end and PSH flag (data the queue does not describe, as a Fast
    /// Open SYN's, counts as one pushed skb up to `write_seq`).
    pub fn tcp_send_head_skb(&self) -> (SeqNumber, bool) {
        let nxt = self.snd_nxt;
        match self.wq.skbs.iter().find(|s| s.end > nxt) {
            Some(s) => (s.end, s.psh),
            None => (self.data_end(), true),
        }
    }

    /// Whether the segment `[seq, end)` of new data gets PSH, and record what was sent: the
    /// skbs it finishes leave the queue. `cwnd_room`/`wnd_room` are the bytes the congestion
    /// and receive windows allow from `seq`; `limited` says output cannot send beyond `end`
    /// now. [`TcpSock::tcp_wq_sent`] follows once the segment is out.
    /// Linux: `tcp_write_xmit` (`tcp_cwnd_test`, `tcp_mss_split_point`, `tso_fragment`) and
    /// `__tcp_transmit_skb`'s PSH on GSO packets.
    pub fn tcp_xmit_psh(
        &mut self,
        seq: SeqNumber,
        end: SeqNumber,
        cwnd_room: usize,
        wnd_room: usize,
        limited: bool,
    ) -> XmitPsh {
        let mss = (self.current_mss() as usize).max(1);
        let len = (end - seq).max(0) as usize;
        let (skb_end, skb_psh) = self.tcp_send_head_skb();
        let burst = match self.wq.burst {
            Some((s, e, m)) if s <= seq && seq < e => (s, e, m),
            _ => {
                let l = self
                    .tcp_burst_len(seq, skb_end, cwnd_room, wnd_room)
                    .max(len);
                (seq, seq + l, l > mss)
            }
        };
        let at_skb_end = end >= skb_end;
        let burst_done = end >= burst.1 || limited || at_skb_end;
        // More than one segment of the burst went out: it was one GSO packet.
        let multi = burst.2 && (end - burst.0) as usize > mss;
        let psh_kept = at_skb_end && skb_psh;
        let psh = psh_kept || (burst_done && multi) || len > mss;
        self.wq.burst = if burst_done {
            None
        } else {
            Some((burst.0, burst.1, burst.2))
        };
        XmitPsh {
            psh,
            psh_kept,
            burst_done,
        }
    }

    /// Whether an MTU probe of the unsent bytes `[seq, end)` carries PSH: it takes the flags
    /// of the skbs it eats whole (not of one it only takes the front of). Linux:
    /// `tcp_mtu_probe`'s merge of `TCP_SKB_CB(skb)->tcp_flags`.
    pub fn tcp_probe_psh(&self, seq: SeqNumber, end: SeqNumber) -> bool {
        self.wq
            .skbs
            .iter()
            .any(|s| s.end > seq && s.end <= end && s.psh)
    }

    /// New data up to `end` went out: the skbs it finished leave the queue (a partly sent one
    /// stays: its unsent part keeps its flags, as `tso_fragment` leaves PSH on the second
    /// piece). Linux: `tcp_event_new_data_sent` moving the skb to the retransmit queue.
    pub fn tcp_wq_sent(&mut self, end: SeqNumber) {
        while self.wq.skbs.front().is_some_and(|s| s.end <= end) {
            self.wq.skbs.pop_front();
        }
    }

    /// The burst `tcp_write_xmit` would send from `seq`: the skb's bytes, at most half the
    /// congestion window and the autosized GSO burst, within the receive window.
    /// Linux: `tcp_cwnd_test`, `tcp_tso_segs`, `tcp_mss_split_point`.
    fn tcp_burst_len(
        &self,
        seq: SeqNumber,
        skb_end: SeqNumber,
        cwnd_room: usize,
        wnd_room: usize,
    ) -> usize {
        let mss = (self.current_mss() as usize).max(1);
        let skb_len = (skb_end - seq).max(0) as usize;
        let cwnd_segs = (self.cc.cwnd() as usize / mss).max(1);
        let quota = (cwnd_segs / 2).max(1).min(cwnd_room / mss).max(1);
        let max_segs = quota.min(self.tcp_tso_segs(mss));
        let max_len = mss * max_segs;
        let tail = skb_end >= self.data_end();
        if max_len <= wnd_room && !tail {
            return max_len.min(skb_len);
        }
        let needed = skb_len.min(wnd_room);
        max_len.min(needed)
    }

    /// The rate `tcp_tso_autosize` reads: the congestion control's pacing rate, else 200 %
    /// (slow start) or 120 % of `cwnd * mss / srtt`, unlimited before an RTT sample.
    /// Linux: `sk->sk_pacing_rate` as `tcp_update_pacing_rate` sets it.
    pub fn sk_pacing_rate(&self) -> u64 {
        if let Some(r) = self.cc.pacing_rate().filter(|&r| r > 0) {
            return r;
        }
        let Some(srtt) = self.rtt.srtt() else {
            return u64::MAX;
        };
        let srtt_us = (srtt.as_micros() as u64).max(1);
        let cwnd = u64::from(self.cc.cwnd().max(self.rtx.packets_out()));
        let ratio = if self.cc.cwnd() < self.cc.ssthresh() / 2 {
            200
        } else {
            120
        };
        cwnd.saturating_mul(1_000_000).saturating_mul(ratio) / 100 / srtt_us
    }

    /// Segments in one GSO burst: about a millisecond of the pacing rate (more on short
    /// paths), at least `min_tso_segs`. Linux: `tcp_tso_segs` → `tcp_tso_autosize`.
    pub fn tcp_tso_segs(&self, mss: usize) -> usize {
        let mut bytes = self.sk_pacing_rate() >> 10;
        // Linux: `tcp_min_rtt >> sysctl_tcp_tso_rtt_log` (9).
        let r = self
            .rtt
            .min_rtt()
            .map_or(u64::MAX, |d| (d.as_micros() as u64) >> 9);
        if r < 32 {
            bytes = bytes.saturating_add(GSO_MAX_SIZE >> r);
        }
        let bytes = bytes.min(GSO_MAX_SIZE) as usize;
        (bytes / mss.max(1)).max(self.cc.min_tso_segs() as usize)
    }

    /// The retransmissions `tcp_xmit_retransmit_queue` sends as one packet from record `i`:
    /// how many records (consecutive, lost and not SACKed or retransmitted, within one skb),
    /// at most `max_segs`.
    pub fn tcp_rtx_burst(&self, i: usize, max_segs: usize) -> usize {
        use super::rtx_queue::{TCPCB_LOST, TCPCB_SACKED_ACKED, TCPCB_SACKED_RETRANS};
        let mss = (self.current_mss() as usize).max(1);
        let mut segs = 0usize;
        let mut n = 0usize;
        let mut prev_end = None;
        for e in self.rtx.iter().skip(i) {
            if e.sacked & TCPCB_LOST == 0
                || e.sacked & (TCPCB_SACKED_ACKED | TCPCB_SACKED_RETRANS) != 0
                || prev_end.is_some_and(|p| p != e.seq)
            {
                break;
            }
            segs += (e.data_len() as usize).div_ceil(mss).max(1);
            if n > 0 && segs > max_segs {
                break;
            }
            n += 1;
            prev_end = Some(e.end_seq);
            if e.skb_tail || segs >= max_segs {
                break;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::super::sock::{TcpConfig, TcpSock};
    use crate::wire::tcp::SeqNumber;

    fn sock() -> TcpSock {
        let mut sk = TcpSock::new(&TcpConfig::default(), 1 << 16, 1 << 16);
        sk.mss = 1000;
        sk.max_snd_wnd = 1 << 20;
        sk
    }

    fn write(sk: &mut TcpSock, n: usize, more: bool) {
        let start = sk.data_end();
        assert_eq!(sk.sndbuf.enqueue_slice(&vec![0u8; n]), n);
        sk.tcp_skb_entail(start, n);
        sk.tcp_push_mark(more);
    }

    #[test]
    fn each_write_ends_in_a_pushed_skb_and_records_do_not_merge() {
        let mut sk = sock();
        let base = sk.data_end();
        write(&mut sk, 400, false);
        write(&mut sk, 400, false);
        // Appended to the same unsent skb: one skb, pushed.
        assert_eq!(sk.wq.skbs.len(), 1);
        assert!(sk.wq.skbs[0].psh);
        sk.tcp_skb_mark_eor();
        write(&mut sk, 400, true);
        assert_eq!(sk.wq.skbs.len(), 2, "nothing is appended past MSG_EOR");
        assert_eq!(sk.wq.skbs[1].end, base + 1200);
        assert!(!sk.wq.skbs[1].psh, "MSG_MORE leaves the tail unpushed");
    }

    #[test]
    fn forced_push_marks_a_filled_skb_past_half_the_window() {
        let mut sk = sock();
        sk.max_snd_wnd = 4000; // size goal 2000, forced push past 2000 bytes
        let base = sk.data_end();
        write(&mut sk, 7000, false);
        let ends: Vec<_> = sk.wq.skbs.iter().map(|s| (s.end - base, s.psh)).collect();
        assert_eq!(
            ends,
            vec![(2000, false), (4000, true), (6000, false), (7000, true)]
        );
    }

    #[test]
    fn a_gso_burst_ends_pushed_and_a_lone_segment_keeps_the_skb_flag() {
        let mut sk = sock();
        let base = sk.data_end();
        sk.snd_nxt = base;
        write(&mut sk, 3000, false);
        // A two-segment burst: PSH on its last segment only, not kept by the skb.
        let s = base;
        let x1 = sk.tcp_xmit_psh(s, s + 1000, 2000, 10_000, false);
        sk.tcp_wq_sent(s + 1000);
        let x2 = sk.tcp_xmit_psh(s + 1000, s + 2000, 1000, 10_000, true);
        sk.tcp_wq_sent(s + 2000);
        assert!(!x1.psh && !x1.burst_done);
        assert!(x2.psh && !x2.psh_kept && x2.burst_done);
        // The last segment ends the pushed skb.
        let x3 = sk.tcp_xmit_psh(s + 2000, s + 3000, 0, 10_000, true);
        assert!(x3.psh && x3.psh_kept);
    }

    #[test]
    fn a_retransmission_burst_stops_at_an_skb_end_a_sacked_record_or_the_limit() {
        use super::super::rtx_queue::{TCPCB_LOST, TCPCB_SACKED_ACKED};
        use crate::time::Instant;
        let mut sk = sock();
        let now = Instant::from_secs(1);
        let base = SeqNumber(5000);
        // Two bursts of three segments each; the fifth segment SACKed.
        for k in 0..6usize {
            sk.rtx
                .push(base + k * 1000, base + (k + 1) * 1000, false, now);
            sk.rtx.set_tail_flags(false, k == 2 || k == 5);
        }
        for k in 0..6 {
            let bits = if k == 4 {
                TCPCB_SACKED_ACKED
            } else {
                TCPCB_LOST
            };
            sk.rtx.set_bits(k, bits);
        }
        assert_eq!(sk.tcp_rtx_burst(0, 10), 3, "up to the first skb's end");
        assert_eq!(sk.tcp_rtx_burst(0, 2), 2, "at most max_segs");
        assert_eq!(sk.tcp_rtx_burst(3, 10), 1, "the SACKed record cuts the skb");
        assert_eq!(sk.tcp_rtx_burst(5, 10), 1);
    }
}
