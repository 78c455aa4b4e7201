//! Round-trip time estimation and the retransmission timeout (RFC 6298).
//!
//! Linux: `tcp_rtt_estimator` and `tcp_set_rto` (net/ipv4/tcp_input.c). Like Linux, the
//! variance term is floored at `rto_min`: RTO = SRTT + max(4·RTTVAR, rto_min), so a LAN
//! connection gets about 200 ms rather than RFC 6298's 1 s minimum. Karn's rule (no samples
//! from retransmitted segments) is the caller's job.

use std::time::Duration;

/// The estimator.
#[derive(Debug, Clone)]
pub struct RttEstimator {
    srtt: Option<Duration>,
    rttvar: Duration,
    min_rtt: Option<Duration>,
    rto_min: Duration,
    rto_max: Duration,
    rto_initial: Duration,
    backoff: u32,
    /// [`RttEstimator::rto`], recomputed when an input changes (it is read on every ACK).
    /// Linux keeps `icsk_rto` the same way, set by `tcp_set_rto`.
    rto: Duration,
}

impl Default for RttEstimator {
    fn default() -> Self {
        RttEstimator::new()
    }
}

impl RttEstimator {
    /// Linux's bounds: initial 1 s (`TCP_TIMEOUT_INIT`), minimum 200 ms (`TCP_RTO_MIN`),
    /// maximum 120 s (`TCP_RTO_MAX`).
    pub fn new() -> RttEstimator {
        Self::with_bounds(
            Duration::from_millis(200),
            Duration::from_secs(120),
            Duration::from_secs(1),
        )
    }

    /// Custom bounds.
    pub fn with_bounds(
        rto_min: Duration,
        rto_max: Duration,
        rto_initial: Duration,
    ) -> RttEstimator {
        let mut e = RttEstimator {
            srtt: None,
            rttvar: Duration::ZERO,
            min_rtt: None,
            rto_min,
            rto_max,
            rto_initial,
            backoff: 0,
            rto: rto_initial,
        };
        e.set_rto();
        e
    }

    /// Recompute the cached timeout. Linux: `tcp_set_rto` (and the backoff shift of
    /// `inet_csk_rto_backoff`).
    fn set_rto(&mut self) {
        let base = match self.srtt {
            None => self.rto_initial,
            Some(s) => s + (self.rttvar * 4).max(self.rto_min),
        };
        let base = base.clamp(self.rto_min, self.rto_max);
        self.rto = base
            .saturating_mul(1u32 << self.backoff.min(16))
            .min(self.rto_max);
    }

    /// Feed one measurement (RFC 6298 2.2 and 2.3).
    pub fn sample(&mut self, r: Duration) {
        self.sample_ack(r, r);
    }

    /// Feed an ACK's samples: `seq_rtt` (from the oldest segment it acknowledges) into the
    /// smoothed RTT, `ca_rtt` (from the newest) into the minimum. Linux: `tcp_ack_update_rtt`
    /// → `tcp_update_rtt_min` and `tcp_rtt_estimator`.
    pub fn sample_ack(&mut self, seq_rtt: Duration, ca_rtt: Duration) {
        let ca = ca_rtt.max(Duration::from_micros(1));
        self.min_rtt = Some(self.min_rtt.map_or(ca, |m| m.min(ca)));
        let r = seq_rtt;
        let before = (self.srtt, self.rttvar);
        match self.srtt {
            None => {
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(s) => {
                let diff = s.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                self.srtt = Some((s * 7 + r) / 8);
            }
        }
        // The cached timeout depends on nothing else that a sample changes: a steady path
        // (timestamps of a LAN round trip read 0 ms every time) leaves it as it is.
        if (self.srtt, self.rttvar) != before {
            self.set_rto();
        }
    }

    /// The current timeout, backoff included.
    pub fn rto(&self) -> Duration {
        self.rto
    }

    /// Double the timeout (RFC 6298 5.5).
    pub fn backoff(&mut self) {
        self.backoff = (self.backoff + 1).min(16);
        self.set_rto();
    }

    /// Forget the backoff (new data was acknowledged).
    pub fn reset_backoff(&mut self) {
        if self.backoff != 0 {
            self.backoff = 0;
            self.set_rto();
        }
    }

    /// Times backed off.
    pub fn backoff_count(&self) -> u32 {
        self.backoff
    }

    /// Smoothed RTT, once measured.
    pub fn srtt(&self) -> Option<Duration> {
        self.srtt
    }

    /// RTT variation.
    pub fn rttvar(&self) -> Duration {
        self.rttvar
    }

    /// Smallest RTT seen.
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn rfc6298_formulas() {
        let mut e = RttEstimator::new();
        assert_eq!(e.rto(), ms(1000));
        e.sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50));
        assert_eq!(e.rto(), ms(300)); // 100 + max(200, 200)
        e.sample(ms(200));
        // rttvar = 3/4*50 + 1/4*100 = 62.5; srtt = 7/8*100 + 1/8*200 = 112.5
        assert_eq!(e.rttvar(), Duration::from_micros(62_500));
        assert_eq!(e.srtt(), Some(Duration::from_micros(112_500)));
        assert_eq!(e.rto(), Duration::from_micros(112_500 + 250_000));
        assert_eq!(e.min_rtt(), Some(ms(100)));
    }

    #[test]
    fn lan_rtt_floors_at_rto_min() {
        let mut e = RttEstimator::new();
        for _ in 0..50 {
            e.sample(Duration::from_micros(100));
        }
        assert!(e.rto() >= ms(200) && e.rto() < ms(201));
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut e = RttEstimator::new();
        e.backoff();
        assert_eq!(e.rto(), ms(2000));
        for _ in 0..20 {
            e.backoff();
        }
        assert_eq!(e.rto(), Duration::from_secs(120));
        e.reset_backoff();
        assert_eq!(e.rto(), ms(1000));
    }
}
