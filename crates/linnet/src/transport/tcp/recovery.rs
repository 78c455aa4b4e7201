//! RACK-TLP loss detection (RFC 8985): a segment is lost when one sent sufficiently later
//! has been delivered (time-based, with a reordering window of min_rtt/4 widened by D-SACKs),
//! and a tail loss probe makes the peer tell us about losses at the end of a flight.
//!
//! Linux: net/ipv4/tcp_recovery.c (`tcp_rack_advance`, `tcp_rack_detect_loss`,
//! `tcp_rack_mark_lost`, `tcp_rack_reo_wnd`, `tcp_rack_update_reo_wnd`,
//! `tcp_rack_reo_timeout`), with the probe timeout of tcp_output.c
//! (`tcp_schedule_loss_probe`).

use super::rtx_queue::{TCPCB_EVER_RETRANS, TCPCB_LOST, TCPCB_SACKED_ACKED, TCPCB_SACKED_RETRANS};
use super::sock::TcpSock;
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use std::time::Duration;

/// Recoveries a widened reordering window is kept for. Linux: `TCP_RACK_RECOVERY_THRESH`.
pub const TCP_RACK_RECOVERY_THRESH: u32 = 16;

/// Slack added to RACK's and the probe's timers. Linux: `TCP_TIMEOUT_MIN` (2 jiffies).
pub const TCP_TIMEOUT_MIN: Duration = Duration::from_millis(2);

/// RACK's state. Linux: `struct tcp_rack` (`tp->rack`).
#[derive(Debug, Clone, Copy)]
pub struct Rack {
    /// Transmit time of the most recently sent segment delivered.
    pub mstamp: Instant,
    /// Its end sequence.
    pub end_seq: SeqNumber,
    /// Its transmission order (ties in time broken by it, then by sequence).
    pub tx_order: u64,
    /// The RTT of that delivery.
    pub rtt: Duration,
    /// Reordering window in multiples of min_rtt/4.
    pub reo_wnd_steps: u32,
    /// A D-SACK arrived since the window was last adjusted.
    pub dsack_seen: bool,
    /// Recoveries left before the window falls back to one step.
    pub reo_wnd_persist: u32,
    /// `delivered` when the window was last widened.
    pub last_delivered: u64,
    /// `mstamp` moved since the last loss detection.
    pub advanced: bool,
    /// Whether anything was ever delivered (`mstamp` is meaningful).
    pub valid: bool,
}

impl Default for Rack {
    fn default() -> Self {
        Rack {
            mstamp: Instant::ZERO,
            end_seq: SeqNumber(0),
            tx_order: 0,
            rtt: Duration::ZERO,
            reo_wnd_steps: 1,
            dsack_seen: false,
            reo_wnd_persist: 0,
            last_delivered: 0,
            advanced: false,
            valid: false,
        }
    }
}

/// Whether a segment sent at `t1` (transmission order `o1`, ending at `seq1`) went out
/// after one at `t2`/`o2`/`seq2`. Linux: `tcp_skb_sent_after` (time, then sequence; the
/// order stands in for the nanoseconds Linux's clock has and Linnet's does not).
fn sent_after(
    t1: Instant,
    t2: Instant,
    o1: u64,
    o2: u64,
    seq1: SeqNumber,
    seq2: SeqNumber,
) -> bool {
    t1 > t2 || (t1 == t2 && (o1 > o2 || (o1 == o2 && seq1 > seq2)))
}

impl Rack {
    /// A segment (with bits `sacked` before this ACK) sent at `xmit` was delivered: move
    /// RACK's clock to it if it is the most recently sent so far. A retransmission
    /// delivered faster than the minimum RTT is ambiguous (the original may have arrived)
    /// and ignored. Linux: `tcp_rack_advance`.
    pub fn tcp_rack_advance(
        &mut self,
        sacked: u8,
        end_seq: SeqNumber,
        xmit: Instant,
        tx_order: u64,
        now: Instant,
        min_rtt: Option<Duration>,
    ) {
        let rtt = now.saturating_since(xmit);
        if sacked & TCPCB_EVER_RETRANS != 0 && min_rtt.is_some_and(|m| rtt < m) {
            return;
        }
        self.advanced = true;
        self.rtt = rtt;
        if !self.valid
            || sent_after(
                xmit,
                self.mstamp,
                tx_order,
                self.tx_order,
                end_seq,
                self.end_seq,
            )
        {
            self.mstamp = xmit;
            self.end_seq = end_seq;
            self.tx_order = tx_order;
            self.valid = true;
        }
    }

    /// Widen the reordering window by a step after a D-SACK (at most once a round trip),
    /// keeping it for the next 16 recoveries; otherwise fall back to one step once those
    /// are over. `prior_delivered`: the delivered count before this ACK. Linux:
    /// `tcp_rack_update_reo_wnd`.
    pub fn tcp_rack_update_reo_wnd(&mut self, prior_delivered: u64, delivered: u64) {
        if prior_delivered == 0 {
            return;
        }
        if prior_delivered < self.last_delivered {
            self.dsack_seen = false;
        }
        if self.dsack_seen {
            self.reo_wnd_steps = (self.reo_wnd_steps + 1).min(0xff);
            self.dsack_seen = false;
            self.last_delivered = delivered;
            self.reo_wnd_persist = TCP_RACK_RECOVERY_THRESH;
        } else if self.reo_wnd_persist == 0 {
            self.reo_wnd_steps = 1;
        }
    }
}

impl TcpSock {
    /// The reordering window: none while no reordering was ever seen and we are already
    /// recovering or the duplicate-ACK threshold is met (be quick), else min_rtt/4 times the
    /// steps, at most the smoothed RTT. Linux: `tcp_rack_reo_wnd`.
    pub fn tcp_rack_reo_wnd(&self) -> Duration {
        if self.reord_seen == 0 {
            if self.ca_state.in_recovery_or_loss() {
                return Duration::ZERO;
            }
            if self.rtx.sacked_out >= self.reordering * self.mss {
                return Duration::ZERO;
            }
        }
        let min_rtt = self.rtt.min_rtt().unwrap_or(Duration::ZERO);
        let srtt = self.rtt.srtt().unwrap_or(Duration::ZERO);
        (min_rtt / 4 * self.rack.reo_wnd_steps).min(srtt)
    }

    /// Mark lost every unacknowledged segment sent before the most recently delivered one
    /// by more than RACK's RTT plus the reordering window. Returns how long until the next
    /// one of the others would be (zero: none pending), and the bytes of retransmissions
    /// found lost again. Linux: `tcp_rack_detect_loss` (which walks a time-sorted list; the
    /// walk here is in sequence order and stops early when no retransmission is out).
    pub fn tcp_rack_detect_loss(&mut self, now: Instant) -> (Duration, u32) {
        if !self.rack.valid {
            return (Duration::ZERO, 0);
        }
        let reo_wnd = self.tcp_rack_reo_wnd();
        let mut timeout = Duration::ZERO;
        let mut lost_retrans = 0;
        let mut i = 0;
        while let Some(&e) = self.rtx.get(i) {
            i += 1;
            if e.sacked & TCPCB_SACKED_ACKED != 0 {
                continue;
            }
            if e.sacked & TCPCB_LOST != 0 && e.sacked & TCPCB_SACKED_RETRANS == 0 {
                continue;
            }
            if !sent_after(
                self.rack.mstamp,
                e.tstamp,
                self.rack.tx_order,
                e.tx_order,
                self.rack.end_seq,
                e.end_seq,
            ) {
                // Originals go out in sequence order: past the first one sent after RACK's
                // clock only retransmissions can still qualify.
                if e.sacked & TCPCB_EVER_RETRANS == 0 && self.rtx.retrans_out == 0 {
                    break;
                }
                continue;
            }
            let deadline = e.tstamp + self.rack.rtt + reo_wnd;
            if deadline <= now {
                lost_retrans += self.rtx.tcp_mark_skb_lost(i - 1);
            } else {
                timeout = timeout.max(deadline.saturating_since(now));
            }
        }
        (timeout, lost_retrans)
    }

    /// Run loss detection if RACK's clock moved; returns the reordering timer to arm (if
    /// any) and the bytes of retransmissions lost again. Linux: `tcp_rack_mark_lost`.
    pub fn tcp_rack_mark_lost(&mut self, now: Instant) -> (Option<Duration>, u32) {
        if !self.rack.advanced {
            return (None, 0);
        }
        self.rack.advanced = false;
        let (t, lost) = self.tcp_rack_detect_loss(now);
        let t = (t > Duration::ZERO).then_some(t + TCP_TIMEOUT_MIN);
        (t, lost)
    }

    /// When to send a tail loss probe, if one is due: about two smoothed RTTs after the
    /// last transmission (plus 200 ms for a lone segment, to wait out a delayed ACK), never
    /// later than the RTO would fire; only for a SACK peer in the Open or CWR state with
    /// data outstanding. `advancing_rto`: an ACK just moved the RTO to a full period from
    /// now. Linux: `tcp_schedule_loss_probe` (PTO of RFC 8985 section 7.2).
    pub fn tcp_loss_probe_timeout(
        &self,
        now: Instant,
        rto_min: Duration,
        advancing_rto: bool,
    ) -> Option<Instant> {
        if self.rtx.is_empty() || !self.sack_ok || !self.ca_state.open_or_cwr() {
            return None;
        }
        let pto = match self.rtt.srtt() {
            Some(srtt) => {
                let base = srtt * 2;
                if self.rtx.packets_out() <= self.mss {
                    base + rto_min
                } else {
                    base + TCP_TIMEOUT_MIN
                }
            }
            None => Duration::from_secs(1),
        };
        let rto_left = if advancing_rto {
            self.rtt.rto()
        } else {
            self.tcp_rto_delta(now)
        };
        Some(now + pto.min(rto_left.max(Duration::from_micros(1))))
    }

    /// How far in the future the RTO of the oldest outstanding segment is (from its last
    /// transmission). Linux: `tcp_rto_delta_us`.
    pub fn tcp_rto_delta(&self, now: Instant) -> Duration {
        match self.rtx.head() {
            Some(h) => (h.tstamp + self.rtt.rto()).saturating_since(now),
            None => self.rtt.rto(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rack_clock_follows_the_most_recently_sent_delivery() {
        let mut r = Rack::default();
        let t = |ms| Instant::from_millis(ms);
        r.tcp_rack_advance(0, SeqNumber(200), t(10), 5, t(30), None);
        assert_eq!(
            (r.mstamp, r.end_seq, r.rtt),
            (t(10), SeqNumber(200), Duration::from_millis(20))
        );
        // Sent earlier: the clock stays.
        r.tcp_rack_advance(0, SeqNumber(100), t(5), 2, t(31), None);
        assert_eq!(r.mstamp, t(10));
        // A retransmission "delivered" faster than min_rtt is ignored.
        r.tcp_rack_advance(
            TCPCB_EVER_RETRANS,
            SeqNumber(50),
            t(30),
            9,
            t(31),
            Some(Duration::from_millis(15)),
        );
        assert_eq!(r.mstamp, t(10));
        // Sent at the same instant but later: transmission order decides, not sequence.
        r.tcp_rack_advance(0, SeqNumber(150), t(10), 6, t(32), None);
        assert_eq!((r.end_seq, r.tx_order), (SeqNumber(150), 6));
        r.tcp_rack_advance(0, SeqNumber(900), t(10), 4, t(32), None);
        assert_eq!(r.end_seq, SeqNumber(150));
        // A D-SACK widens the window once per round trip and keeps it for 16 recoveries.
        r.dsack_seen = true;
        r.tcp_rack_update_reo_wnd(10, 20);
        assert_eq!(
            (r.reo_wnd_steps, r.reo_wnd_persist),
            (2, TCP_RACK_RECOVERY_THRESH)
        );
        r.dsack_seen = true;
        r.tcp_rack_update_reo_wnd(15, 25);
        assert_eq!(
            r.reo_wnd_steps, 2,
            "a D-SACK within the same round trip is disregarded"
        );
    }
}
