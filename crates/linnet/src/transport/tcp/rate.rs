//! Delivery rate: how fast the peer is acknowledging data, as `ss -ti` shows it in
//! `delivery_rate`.
//!
//! Linux: `tcp_rate_skb_sent` / `tcp_rate_gen` (net/ipv4/tcp_rate.c, after
//! draft-cheng-iccrg-delivery-rate-estimation) take one sample per ACK from state stored in
//! each sent skb. Linnet keeps no per-segment send records, so it samples at the connection
//! level instead: bytes newly acknowledged over an interval of at least one smoothed RTT. An
//! idle gap (no ACK for two RTTs) restarts the interval, so idleness is not counted as slow
//! delivery, and a sample taken when nothing was left to send (application-limited, as
//! Linux marks it) only raises the estimate.

use crate::time::Instant;
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
