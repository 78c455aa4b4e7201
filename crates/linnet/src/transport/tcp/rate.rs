//! Delivery rate: how fast the peer is acknowledging data.
//!
//! Linux: `tcp_rate_skb_sent` / `tcp_rate_gen` (net/ipv4/tcp_rate.c, after
//! draft-cheng-iccrg-delivery-rate-estimation) take one sample per ACK from state stored in
//! each sent skb. Two estimators here:
//! - [`DeliveryRate`], always on, for `ss -ti`'s `delivery_rate`: at the connection level,
//!   bytes newly acknowledged over an interval of at least one smoothed RTT. An idle gap (no
//!   ACK for two RTTs) restarts the interval, so idleness is not counted as slow delivery,
//!   and a sample taken when nothing was left to send (application-limited, as Linux marks
//!   it) only raises the estimate.
//! - [`TcpRateSampler`], Linux's per-ACK [`RateSample`], for congestion controls that run on
//!   them (BBR): a send record per segment of new data in a queue beside the send buffer,
//!   kept only while the congestion control asks for samples
//!   ([`super::cong::CongestionControl::wants_rate_samples`]).

use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use std::time::Duration;

/// Shortest sampling interval (and the interval while no RTT is known), in microseconds.
const MIN_INTERVAL_US: u64 = 1000;

/// The running estimate. Times are kept in microseconds: this runs on every ACK.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRate {
    /// Start of the current interval (0: none).
    start_us: u64,
    start_delivered: u64,
    last_ack_us: u64,
    /// The latest sample, in bytes per second (0 until the first).
    pub bytes_per_sec: u64,
}

impl DeliveryRate {
    /// `acked` more bytes were acknowledged at `now`, making `delivered` in all.
    /// `app_limited`: the sender had nothing more to send, so a sample ending now may show
    /// the application's pace rather than the path's; such a sample only replaces a lower
    /// estimate (Linux: `tcp_rate_gen` with `rs->is_app_limited`).
    pub fn tcp_rate_gen(
        &mut self,
        delivered: u64,
        acked: u64,
        now: Instant,
        srtt: Option<Duration>,
        app_limited: bool,
    ) {
        if acked == 0 {
            return;
        }
        // +1 so that time zero is a valid start.
        let now_us = now.total_micros() + 1;
        let interval = srtt
            .map_or(0, |d| d.as_micros() as u64)
            .max(MIN_INTERVAL_US);
        let idle = now_us.saturating_sub(self.last_ack_us) > 2 * interval;
        self.last_ack_us = now_us;
        if self.start_us == 0 || idle {
            // Begin an interval: this ACK's bytes count in it.
            self.start_us = now_us;
            self.start_delivered = delivered.saturating_sub(acked);
            return;
        }
        let elapsed = now_us - self.start_us;
        if elapsed < interval {
            return;
        }
        let bytes = delivered.saturating_sub(self.start_delivered);
        let rate = bytes.saturating_mul(1_000_000) / elapsed;
        if !app_limited || rate >= self.bytes_per_sec {
            self.bytes_per_sec = rate;
        }
        self.start_us = now_us;
        self.start_delivered = delivered;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    #[test]
    fn steady_acks_give_the_rate_and_idle_gaps_do_not_drag_it_down() {
        let rtt = Some(Duration::from_millis(10));
        let mut r = DeliveryRate::default();
        let mut delivered = 0;
        // 10 KB every millisecond: 10 MB/s.
        for t in 100..=130 {
            delivered += 10_000;
            r.tcp_rate_gen(delivered, 10_000, ms(t), rtt, false);
        }
        assert_eq!(r.bytes_per_sec, 10_000_000);
        // A second of silence, then 1 KB/ms: the new rate, not a mix with the idle time.
        for t in 1200..=1240 {
            delivered += 1_000;
            r.tcp_rate_gen(delivered, 1_000, ms(t), rtt, false);
        }
        assert_eq!(r.bytes_per_sec, 1_000_000);
        // Pure ACKs (nothing new acknowledged) change nothing.
        r.tcp_rate_gen(delivered, 0, ms(5000), rtt, false);
        assert_eq!(r.bytes_per_sec, 1_000_000);
    }

    #[test]
    fn an_application_limited_tail_does_not_lower_the_rate() {
        let rtt = Some(Duration::from_millis(10));
        let mut r = DeliveryRate::default();
        let mut delivered = 0;
        for t in 100..=130 {
            delivered += 10_000;
            r.tcp_rate_gen(delivered, 10_000, ms(t), rtt, false);
        }
        assert_eq!(r.bytes_per_sec, 10_000_000);
        // The last segment, ACKed late (a delayed ACK) once nothing was left to send.
        delivered += 1_000;
        r.tcp_rate_gen(delivered, 1_000, ms(145), rtt, true);
        assert_eq!(r.bytes_per_sec, 10_000_000);
        // The same sample while data was waiting is the path's rate, and counts.
        delivered += 1_000;
        r.tcp_rate_gen(delivered, 1_000, ms(160), rtt, false);
        assert_eq!(r.bytes_per_sec, 66_666);
    }
}

/// Largest number of send records a connection keeps (one per transmitted segment or
/// super-segment of new data); beyond it the oldest is forgotten, which only costs a sample.
const MAX_TX_RECORDS: usize = 4096;

/// The delivery state a segment of new data was sent with. Linux: `TCP_SKB_CB(skb)->tx`
/// with the skb's send time (`skb_mstamp_ns`), kept here in a queue beside the send buffer.
#[derive(Debug, Clone, Copy)]
struct TxRecord {
    /// Sequence number just past the segment.
    end_seq: SeqNumber,
    /// When it was sent, µs.
    sent_us: u64,
    /// `tx.first_tx_mstamp`: send time of the most recently delivered data when it was sent.
    first_tx_us: u64,
    /// `tx.delivered_mstamp`: when `delivered` last grew, as of sending.
    delivered_us: u64,
    /// `tx.delivered`: bytes delivered when it was sent.
    delivered: u64,
    /// `tx.is_app_limited`.
    is_app_limited: bool,
}

/// One ACK's delivery rate sample. Linux: `struct rate_sample` (include/net/tcp.h), in bytes
/// and microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateSample {
    /// `delivered` when the sampled segment was sent.
    pub prior_delivered: u64,
    /// Bytes delivered over the interval (-1: no sample).
    pub delivered: i64,
    /// The interval, the longer of the send and ACK phases, µs (-1: no valid sample).
    pub interval_us: i64,
    /// RTT of the most recently sent segment this ACK delivered, µs (-1: none).
    pub rtt_us: i64,
    /// The sample was taken while the application did not fill the window.
    pub is_app_limited: bool,
    /// Bytes this ACK newly acknowledged or SACKed.
    pub acked_sacked: u32,
    /// Bytes in flight before this ACK.
    pub prior_in_flight: u32,
    /// Bytes in flight now.
    pub in_flight: u32,
    /// Bytes newly marked lost (an RTO or the start of recovery).
    pub losses: u32,
    /// Total bytes delivered on the connection (`tp->delivered`).
    pub tp_delivered: u64,
    /// When `tp_delivered` last grew, µs (`tp->delivered_mstamp`).
    pub delivered_us: u64,
    /// The connection is in fast recovery.
    pub in_recovery: bool,
    /// Smoothed RTT, µs (0: none).
    pub srtt_us: u64,
    /// Sender MSS.
    pub mss: u32,
}

/// The per-connection delivery rate sampler. Linux: net/ipv4/tcp_rate.c (`tcp_rate_skb_sent`,
/// `tcp_rate_skb_delivered`, `tcp_rate_gen`, `tcp_rate_check_app_limited`) with
/// `tp->delivered`, `delivered_mstamp`, `first_tx_mstamp` and `app_limited`.
#[derive(Debug, Clone, Default)]
pub struct TcpRateSampler {
    records: std::collections::VecDeque<TxRecord>,
    /// End of the highest data sent: data starting there or beyond is new.
    sent_high: Option<SeqNumber>,
    /// `tp->delivered`: bytes acknowledged or SACKed, in total.
    pub delivered: u64,
    /// `tp->delivered_mstamp`, µs.
    pub delivered_us: u64,
    /// `tp->first_tx_mstamp`, µs.
    first_tx_us: u64,
    /// `tp->app_limited`: `delivered` at the end of the application-limited bubble (0: none).
    pub app_limited: u64,
    /// Smallest RTT seen, µs (0: none).
    min_rtt_us: u64,
}

impl TcpRateSampler {
    /// Data `[seq, seq + len)` was sent at `now`; `nothing_in_flight`: nothing was
    /// outstanding before it. Only new data is recorded (a retransmission's ACK then yields
    /// no sample). Returns whether it was new. Linux: `tcp_rate_skb_sent`.
    pub fn tcp_rate_skb_sent(
        &mut self,
        seq: SeqNumber,
        len: usize,
        now: Instant,
        nothing_in_flight: bool,
    ) -> bool {
        let end_seq = seq + len;
        if len == 0 || self.sent_high.is_some_and(|h| seq < h) {
            return false;
        }
        self.sent_high = Some(end_seq);
        let now_us = now.total_micros() + 1;
        if nothing_in_flight || self.delivered_us == 0 {
            // The send and ACK phases of the first sample start now.
            self.first_tx_us = now_us;
            self.delivered_us = now_us;
        }
        if self.records.len() >= MAX_TX_RECORDS {
            self.records.pop_front();
        }
        self.records.push_back(TxRecord {
            end_seq,
            sent_us: now_us,
            first_tx_us: self.first_tx_us,
            delivered_us: self.delivered_us,
            delivered: self.delivered,
            is_app_limited: self.app_limited != 0,
        });
        true
    }

    /// Whether the sender is application-limited after a send: less than a segment left to
    /// send and room in the window; the bubble lasts until what is in flight now is
    /// delivered. Linux: `tcp_rate_check_app_limited`.
    pub fn tcp_rate_check_app_limited(&mut self, unsent: u32, mss: u32, in_flight: u32, cwnd: u32) {
        if unsent < mss && in_flight < cwnd {
            self.app_limited = (self.delivered + u64::from(in_flight)).max(1);
        }
    }

    /// An ACK brought the connection's delivered total to `delivered` (never lower), covering
    /// data up to `high_seq` (the highest newly acknowledged or SACKed byte). Takes the
    /// newest segment it delivered as the sample's start. Linux: `tcp_rate_skb_delivered` for
    /// the most recently sent skb, then `tcp_rate_gen`.
    pub fn tcp_rate_gen(
        &mut self,
        delivered: u64,
        high_seq: SeqNumber,
        now: Instant,
    ) -> RateSample {
        let now_us = now.total_micros() + 1;
        let newly = delivered.saturating_sub(self.delivered);
        let mut rs = RateSample {
            delivered: -1,
            interval_us: -1,
            rtt_us: -1,
            acked_sacked: newly.min(u64::from(u32::MAX)) as u32,
            ..RateSample::default()
        };
        if newly == 0 {
            rs.tp_delivered = self.delivered;
            rs.delivered_us = self.delivered_us;
            return rs;
        }
        let mut newest = None;
        while let Some(r) = self.records.front() {
            if r.end_seq > high_seq {
                break;
            }
            newest = self.records.pop_front();
        }
        self.delivered = delivered;
        self.delivered_us = now_us;
        if self.app_limited != 0 && self.delivered > self.app_limited {
            self.app_limited = 0;
        }
        rs.tp_delivered = self.delivered;
        rs.delivered_us = now_us;
        let Some(r) = newest else {
            return rs;
        };
        self.first_tx_us = r.sent_us;
        let rtt = now_us.saturating_sub(r.sent_us);
        rs.rtt_us = rtt as i64;
        if self.min_rtt_us == 0 || rtt < self.min_rtt_us {
            self.min_rtt_us = rtt;
        }
        rs.prior_delivered = r.delivered;
        rs.is_app_limited = r.is_app_limited;
        rs.delivered = (self.delivered - r.delivered) as i64;
        let snd_us = r.sent_us.saturating_sub(r.first_tx_us);
        let ack_us = now_us.saturating_sub(r.delivered_us);
        let interval = snd_us.max(ack_us);
        // Shorter than the minimum RTT: ACK compression or a stretched send phase, not the
        // path's rate.
        if interval < self.min_rtt_us || interval == 0 {
            return rs;
        }
        rs.interval_us = interval as i64;
        rs
    }
}

impl crate::stack::Stack {
    /// A segment of `id` was handed to IP: record new data for rate samples, and whether
    /// the application now leaves the window unfilled. Linux: `tcp_rate_skb_sent` and
    /// `tcp_rate_check_app_limited`.
    pub(crate) fn tcp_rate_sent(
        &mut self,
        id: crate::core::sock::SockId,
        seq: SeqNumber,
        len: usize,
        now: Instant,
    ) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if len == 0 || !sk.cc.wants_rate_samples() {
            return;
        }
        let nothing_in_flight = seq <= sk.snd_una;
        if sk.rate.tcp_rate_skb_sent(seq, len, now, nothing_in_flight) {
            let unsent = (sk.data_end() - sk.snd_nxt).max(0) as u32;
            let (mss, flight, cwnd) = (sk.mss, sk.pipe(), sk.cc.cwnd());
            sk.rate
                .tcp_rate_check_app_limited(unsent, mss, flight, cwnd);
        }
    }

    /// After an ACK was processed: a rate sample for a congestion control that runs on
    /// them, which then sets its window and pacing rate. Linux: `tcp_rate_gen` +
    /// `tcp_cong_control` (the end of `tcp_ack`).
    pub(crate) fn tcp_cong_control(
        &mut self,
        id: crate::core::sock::SockId,
        seg: &crate::wire::tcp::TcpRepr,
        now: Instant,
    ) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !sk.cc.wants_rate_samples() {
            return;
        }
        // Delivered: acknowledged plus SACKed data (for a peer without SACK, duplicate
        // ACKs count as segments, as Linux's `tcp_add_reno_sack`).
        let delivered = (sk.bytes_acked + u64::from(sk.rtx.sacked_out)).max(sk.rate.delivered);
        let mut high = sk.snd_una;
        for &(_, r) in seg.sack_ranges.iter().flatten() {
            if r > high && r <= sk.snd_max {
                high = r;
            }
        }
        let mut rs = sk.rate.tcp_rate_gen(delivered, high, now);
        rs.in_flight = sk.pipe();
        rs.prior_in_flight = rs.in_flight.saturating_add(rs.acked_sacked);
        rs.in_recovery = sk.in_recovery();
        rs.srtt_us = sk.rtt.srtt().map_or(0, |d| d.as_micros() as u64);
        rs.mss = sk.mss;
        sk.cc.cong_control(&rs, now);
        if sk.cc.app_limited_request() {
            sk.rate.app_limited = (sk.rate.delivered + u64::from(rs.in_flight)).max(1);
        }
    }
}
