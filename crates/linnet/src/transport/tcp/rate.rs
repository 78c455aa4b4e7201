//! Delivery rate: how fast the peer is acknowledging data, as `ss -ti` shows it in
//! `delivery_rate`.
//!
//! Linux: `tcp_rate_skb_sent` / `tcp_rate_gen` (net/ipv4/tcp_rate.c, after
//! draft-cheng-iccrg-delivery-rate-estimation) take one sample per ACK from state stored in
//! each sent skb. Linnet keeps no per-segment send records, so it samples at the connection
//! level instead: bytes newly acknowledged over an interval of at least one smoothed RTT. An
//! idle gap (no ACK for two RTTs) restarts the interval, so idleness is not counted as slow
//! delivery (Linux's "application-limited" samples serve the same end).

use crate::time::Instant;
use std::time::Duration;

/// Shortest sampling interval when no RTT is known yet.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// The running estimate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryRate {
    start: Option<Instant>,
    start_delivered: u64,
    last_ack: Instant,
    /// The latest sample, in bytes per second (0 until the first).
    pub bytes_per_sec: u64,
}

impl DeliveryRate {
    /// `acked` more bytes were acknowledged at `now`, making `delivered` in all.
    /// Linux: `tcp_rate_gen`.
    pub fn tcp_rate_gen(
        &mut self,
        delivered: u64,
        acked: u64,
        now: Instant,
        srtt: Option<Duration>,
    ) {
        if acked == 0 {
            return;
        }
        let interval = srtt.unwrap_or(MIN_INTERVAL).max(MIN_INTERVAL);
        let idle = now.saturating_since(self.last_ack) > 2 * interval;
        self.last_ack = now;
        let Some(start) = self.start.filter(|_| !idle) else {
            // Begin an interval at the previous ACK: this one's bytes count in it.
            self.start = Some(now);
            self.start_delivered = delivered.saturating_sub(acked);
            return;
        };
        let elapsed = now.saturating_since(start);
        if elapsed < interval {
            return;
        }
        let bytes = delivered.saturating_sub(self.start_delivered);
        self.bytes_per_sec = (bytes as u128 * 1_000_000 / elapsed.as_micros().max(1)) as u64;
        self.start = Some(now);
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
            r.tcp_rate_gen(delivered, 10_000, ms(t), rtt);
        }
        assert_eq!(r.bytes_per_sec, 10_000_000);
        // A second of silence, then 1 KB/ms: the new rate, not a mix with the idle time.
        for t in 1200..=1240 {
            delivered += 1_000;
            r.tcp_rate_gen(delivered, 1_000, ms(t), rtt);
        }
        assert_eq!(r.bytes_per_sec, 1_000_000);
        // Pure ACKs (nothing new acknowledged) change nothing.
        r.tcp_rate_gen(delivered, 0, ms(5000), rtt);
        assert_eq!(r.bytes_per_sec, 1_000_000);
    }
}
