//! CUBIC as Linux 6.18 runs it (net/ipv4/tcp_cubic.c), in its own units: windows in segments,
//! time in milliseconds (jiffies at HZ=1000) and 1/1024 s for the cubic curve, integer
//! arithmetic throughout, so the growth is Linux's to the segment.
//!
//! After a reduction the cubic curve W(t) = C·(t − K)³ + W_max (C = 0.4, K the time it takes
//! to return to W_max) sets `cnt`, the segments acknowledged per +1 segment; on a short path
//! it is flat for seconds and the Reno-friendly estimate governs instead, growing by
//! 3(1−β)/(1+β) ≈ 0.53 segment per round trip below the window of the last loss and by 1
//! above it (RFC 9438 4.3, Linux since 6.11), taken one round trip ahead. `cnt` is at least 2
//! (never more than 1.5× per round trip), at most 20 before the first loss (5 % per round
//! trip after HyStart), and recomputed at least once a round trip.
//!
//! Linux: `bictcp_update`, `cubictcp_cong_avoid`, `cubictcp_recalc_ssthresh`,
//! `cubictcp_state` (`bictcp_reset`), `cubictcp_acked`, and `tcp_cong_avoid_ai`,
//! `tcp_slow_start` (net/ipv4/tcp_cong.c).

use super::cong::{AckSample, CongestionControl, INIT_CWND_SEGS};
use super::hystart::HyStart;
use crate::time::Instant;
use std::time::Duration;

/// β, of 1024. Linux: `beta` (717).
const BETA: u32 = 717;
/// Linux: `BICTCP_BETA_SCALE`.
const BETA_SCALE: u32 = 1024;
/// 2^BICTCP_HZ units a second for the cubic curve. Linux: `BICTCP_HZ` (10).
const BICTCP_HZ: u32 = 10;
/// Clock ticks a second. Linux: `HZ` (1000 on the distributions' kernels).
const HZ: u64 = 1000;
/// C·2^10 = 410. Linux: `bic_scale * 10` (`cube_rtt_scale`).
const CUBE_RTT_SCALE: u64 = 410;
/// 2^(10+3·BICTCP_HZ) / (bic_scale·10). Linux: `cube_factor`.
const CUBE_FACTOR: u64 = (1u64 << (10 + 3 * BICTCP_HZ)) / CUBE_RTT_SCALE;
/// 8·(1024+β)/3/(1024−β) = 15: acknowledged segments per +1 of the Reno estimate, times 8.
/// Linux: `beta_scale`.
const BETA_SCALE_FRIENDLY: u32 = 8 * (BETA_SCALE + BETA) / 3 / (BETA_SCALE - BETA);

/// CUBIC. Linux: `struct bictcp` with `snd_cwnd`, `snd_ssthresh` and `snd_cwnd_cnt`.
#[derive(Debug, Clone)]
pub struct Cubic {
    mss: u32,
    /// Congestion window and slow-start threshold, segments.
    cwnd: u32,
    ssthresh: u32,
    /// Segments acknowledged towards the next +1. Linux: `snd_cwnd_cnt`.
    cwnd_cnt: u32,
    /// Bytes acknowledged short of a whole segment, carried to the next ACK.
    acked_rem: u32,
    /// Segments acknowledged per +1 segment. Linux: `cnt`.
    cnt: u32,
    /// Window before the last reduction, after fast convergence. Linux: `last_max_cwnd`.
    last_max_cwnd: u32,
    /// Window and time (ms) of the last update. Linux: `last_cwnd`, `last_time`.
    last_cwnd: u32,
    last_time: u64,
    /// The curve's origin and K (1/1024 s). Linux: `bic_origin_point`, `bic_K`.
    origin: u32,
    bic_k: u64,
    /// Smallest RTT sample. Linux: `delay_min`.
    delay_min: Option<Duration>,
    /// Start of the epoch, ms. Linux: `epoch_start` (0: none).
    epoch_start: Option<u64>,
    /// Segments acknowledged in the epoch. Linux: `ack_cnt`.
    ack_cnt: u32,
    /// The Reno-friendly estimate, segments. Linux: `tcp_cwnd`.
    tcp_cwnd: u32,
    /// The window when ssthresh was last set. Linux: `cwnd_prior`.
    cwnd_prior: u32,
    /// Hybrid slow start.
    hs: HyStart,
}

/// Milliseconds (Linux: `tcp_jiffies32` at HZ=1000).
fn jiffies(now: Instant) -> u64 {
    now.total_millis()
}

/// Linux: `usecs_to_jiffies` (rounds up).
fn usecs_to_jiffies(d: Duration) -> u64 {
    (d.as_micros() as u64).div_ceil(1_000_000 / HZ)
}

impl Cubic {
    /// A fresh controller (initial window of ten segments).
    pub fn new(mss: u32) -> Cubic {
        Cubic {
            mss: mss.max(1),
            cwnd: INIT_CWND_SEGS,
            ssthresh: u32::MAX,
            cwnd_cnt: 0,
            acked_rem: 0,
            cnt: 0,
            last_max_cwnd: 0,
            last_cwnd: 0,
            last_time: 0,
            origin: 0,
            bic_k: 0,
            delay_min: None,
            epoch_start: None,
            ack_cnt: 0,
            tcp_cwnd: 0,
            cwnd_prior: 0,
            hs: HyStart::default(),
        }
    }

    /// Forget the curve (a timeout, a new connection). Linux: `bictcp_reset`.
    fn bictcp_reset(&mut self) {
        self.cnt = 0;
        self.last_max_cwnd = 0;
        self.last_cwnd = 0;
        self.last_time = 0;
        self.origin = 0;
        self.bic_k = 0;
        self.delay_min = None;
        self.epoch_start = None;
        self.ack_cnt = 0;
        self.tcp_cwnd = 0;
        self.hs.reset_found();
    }

    /// Compute `cnt` for window `cwnd` with `acked` segments just acknowledged.
    /// Linux: `bictcp_update`.
    fn bictcp_update(&mut self, cwnd: u32, acked: u32, now: Instant) {
        let now_j = jiffies(now);
        self.ack_cnt = self.ack_cnt.saturating_add(acked);
        let gate = (HZ / 32).min(self.delay_min.map_or(0, usecs_to_jiffies));
        if self.last_cwnd == cwnd && now_j.saturating_sub(self.last_time) <= gate {
            return;
        }
        // The curve at most once a tick; the Reno estimate on every call.
        if !(self.epoch_start.is_some() && now_j == self.last_time) {
            self.last_cwnd = cwnd;
            self.last_time = now_j;
            let epoch = match self.epoch_start {
                Some(e) => e,
                None => {
                    self.epoch_start = Some(now_j);
                    self.ack_cnt = acked;
                    self.tcp_cwnd = cwnd;
                    if self.last_max_cwnd <= cwnd {
                        self.bic_k = 0;
                        self.origin = cwnd;
                    } else {
                        let a = CUBE_FACTOR * u64::from(self.last_max_cwnd - cwnd);
                        self.bic_k = (a as f64).cbrt() as u64;
                        self.origin = self.last_max_cwnd;
                    }
                    now_j
                }
            };
            // t since the epoch, plus a minimum RTT, in 1/1024 s.
            let mut t = now_j.saturating_sub(epoch) + self.delay_min.map_or(0, usecs_to_jiffies);
            t = (t << BICTCP_HZ) / HZ;
            let offs = t.abs_diff(self.bic_k);
            let delta = (CUBE_RTT_SCALE.saturating_mul(offs.saturating_pow(3))
                >> (10 + 3 * BICTCP_HZ))
                .min(u64::from(u32::MAX)) as u32;
            let target = if t < self.bic_k {
                self.origin.saturating_sub(delta)
            } else {
                self.origin.saturating_add(delta)
            };
            self.cnt = if target > cwnd {
                cwnd / (target - cwnd)
            } else {
                // Very small increment.
                100u32.saturating_mul(cwnd)
            };
            // Before any loss, at least 5 % a round trip (the bandwidth is still unknown).
            if self.last_max_cwnd == 0 && self.cnt > 20 {
                self.cnt = 20;
            }
        }
        // The Reno-friendly region: α = 3(1−β)/(1+β) below the window of the last loss, 1
        // above it, estimated one round trip ahead.
        let delta = if cwnd < self.cwnd_prior {
            ((cwnd * BETA_SCALE_FRIENDLY) >> 3).max(1)
        } else {
            cwnd.max(1)
        };
        while self.ack_cnt > delta {
            self.ack_cnt -= delta;
            self.tcp_cwnd += 1;
        }
        let next_rtt = self.tcp_cwnd + (self.ack_cnt + cwnd) / delta;
        if next_rtt > cwnd {
            let max_cnt = cwnd / (next_rtt - cwnd);
            self.cnt = self.cnt.min(max_cnt);
        }
        // At most 1.5× a round trip.
        self.cnt = self.cnt.max(2);
    }

    /// +1 segment per `w` acknowledged. Linux: `tcp_cong_avoid_ai`.
    fn tcp_cong_avoid_ai(&mut self, w: u32, acked: u32) {
        let w = w.max(1);
        // Credits accumulated at a higher w are applied gently now.
        if self.cwnd_cnt >= w {
            self.cwnd_cnt = 0;
            self.cwnd += 1;
        }
        self.cwnd_cnt += acked;
        if self.cwnd_cnt >= w {
            let d = self.cwnd_cnt / w;
            self.cwnd_cnt -= d * w;
            self.cwnd += d;
        }
    }
}

impl CongestionControl for Cubic {
    fn name(&self) -> &'static str {
        "cubic"
    }
    fn cwnd(&self) -> u32 {
        self.cwnd.saturating_mul(self.mss)
    }
    fn ssthresh(&self) -> u32 {
        if self.ssthresh == u32::MAX {
            u32::MAX
        } else {
            self.ssthresh.saturating_mul(self.mss)
        }
    }
    fn set_mss(&mut self, mss: u32) {
        self.mss = mss.max(1);
    }
    /// Linux: `cubictcp_acked`.
    fn pkts_acked(&mut self, s: &AckSample) {
        let Some(rtt) = s.rtt else {
            return;
        };
        // Samples right after a reduction are discarded.
        if self
            .epoch_start
            .is_some_and(|e| jiffies(s.now).saturating_sub(e) < HZ)
        {
            return;
        }
        let delay = rtt.max(Duration::from_micros(1));
        let delay_min = *self
            .delay_min
            .insert(self.delay_min.map_or(delay, |m| m.min(delay)));
        if self.cwnd < self.ssthresh
            && self
                .hs
                .hystart_update(s, delay, delay_min, self.cwnd)
                .is_some()
        {
            // The pipe is full or the queue building: leave slow start at this window.
            self.ssthresh = self.cwnd;
        }
    }
    /// Linux: `cubictcp_cong_avoid` (the caller checked `tcp_is_cwnd_limited`).
    fn on_ack(&mut self, acked: u32, _rtt: Option<Duration>, _flight: u32, now: Instant) {
        let bytes = acked.saturating_add(self.acked_rem);
        let mut acked = bytes / self.mss;
        self.acked_rem = bytes % self.mss;
        if acked == 0 {
            return;
        }
        if self.cwnd < self.ssthresh {
            // Linux: tcp_slow_start.
            let cwnd = self.cwnd.saturating_add(acked).min(self.ssthresh);
            acked -= cwnd - self.cwnd;
            self.cwnd = cwnd;
            if acked == 0 {
                return;
            }
        }
        let cwnd = self.cwnd;
        self.bictcp_update(cwnd, acked, now);
        self.tcp_cong_avoid_ai(self.cnt, acked);
    }
    /// Linux: `cubictcp_recalc_ssthresh` (with fast convergence), then the window the
    /// recovery starts from.
    fn on_congestion_event(&mut self, _flight: u32, _now: Instant) {
        let cwnd = self.cwnd;
        self.epoch_start = None;
        self.last_max_cwnd = if cwnd < self.last_max_cwnd {
            cwnd * (BETA_SCALE + BETA) / (2 * BETA_SCALE)
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        self.ssthresh = (cwnd * BETA / BETA_SCALE).max(2);
        self.cwnd = self.ssthresh;
        self.cwnd_cnt = 0;
    }
    fn on_recovery_exit(&mut self, _now: Instant) {
        self.cwnd = self.ssthresh;
    }
    /// Linux: `tcp_enter_loss` → `ssthresh` (recalc), then `cubictcp_state(TCP_CA_Loss)` →
    /// `bictcp_reset`; the window restarts from one segment.
    fn on_rto(&mut self, _flight: u32, now: Instant) {
        self.on_congestion_event(0, now);
        self.bictcp_reset();
        self.cwnd = 1;
        self.cwnd_cnt = 0;
    }
    fn on_idle_restart(&mut self, _rto: Duration, _now: Instant) {
        // Linux: tcp_cwnd_restart to at most the initial window; the curve starts afresh.
        self.cwnd = self.cwnd.min(INIT_CWND_SEGS);
        self.epoch_start = None;
    }
    fn set_hystart(&mut self, on: bool) {
        self.hs.on = on;
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = (cwnd / self.mss).max(1);
    }
    fn undo_cwnd(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        // Linux: tcp_undo_cwnd_reduction with tcp_reno_undo_cwnd.
        self.cwnd = self.cwnd.max(prior_cwnd / self.mss);
        if prior_ssthresh != u32::MAX {
            self.ssthresh = self.ssthresh.max(prior_ssthresh / self.mss);
        } else {
            self.ssthresh = u32::MAX;
        }
    }
    fn hystart_exits(&self) -> u64 {
        self.hs.delay_exits
    }
    fn hystart_train_exits(&self) -> u64 {
        self.hs.train_exits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// One round trip at a 200 µs RTT: the window's segments acknowledged one by one.
    fn round(cc: &mut Cubic, now: &mut Instant) {
        for _ in 0..cc.cwnd {
            cc.on_ack(MSS, None, 0, *now);
        }
        *now += Duration::from_micros(200);
    }

    #[test]
    fn after_a_loss_on_a_short_path_growth_is_reno_friendly_then_reno() {
        let mut cc = Cubic::new(MSS);
        cc.set_cwnd(40 * MSS);
        cc.on_congestion_event(0, Instant::ZERO);
        assert_eq!((cc.cwnd, cc.ssthresh, cc.cwnd_prior), (28, 28, 40));
        let mut now = Instant::ZERO + Duration::from_millis(1);
        // Below the window of the loss: the Reno-friendly α ≈ 0.53 a round trip at most (the
        // cubic curve itself is flat here, K ≈ 2.2 s; with no RTT sample the estimate is
        // refreshed only when the window moves or a tick passes), well under Reno's 1.
        for _ in 0..15 {
            round(&mut cc, &mut now);
        }
        assert!(
            (31..=37).contains(&cc.cwnd),
            "below cwnd_prior, 15 RTTs from 28: {}",
            cc.cwnd
        );
        // Past it (40), one segment a round trip, as Reno.
        while cc.cwnd < 41 {
            round(&mut cc, &mut now);
        }
        let at = cc.cwnd;
        for _ in 0..10 {
            round(&mut cc, &mut now);
        }
        assert!(
            (at + 8..=at + 11).contains(&cc.cwnd),
            "1/RTT above cwnd_prior: {at} -> {}",
            cc.cwnd
        );
    }

    #[test]
    fn before_any_loss_avoidance_grows_at_least_five_percent_a_round_trip() {
        // HyStart ended slow start at 100 segments; no loss yet (last_max_cwnd 0).
        let mut cc = Cubic::new(MSS);
        cc.set_cwnd(100 * MSS);
        cc.ssthresh = 100;
        let mut now = Instant::ZERO + Duration::from_millis(1);
        for _ in 0..10 {
            round(&mut cc, &mut now);
        }
        // cnt is at most 20: at least +5 a round trip, far from slow start's doubling.
        assert!((150..=200).contains(&cc.cwnd), "{}", cc.cwnd);
    }

    #[test]
    fn a_timeout_forgets_the_curve_and_restarts_from_one_segment() {
        let mut cc = Cubic::new(MSS);
        cc.set_cwnd(50 * MSS);
        cc.on_rto(0, Instant::ZERO);
        assert_eq!((cc.cwnd, cc.ssthresh, cc.last_max_cwnd), (1, 35, 0));
        assert!(cc.epoch_start.is_none() && cc.delay_min.is_none());
    }
}
