//! BBR congestion control, version 1: a model of the path's bottleneck bandwidth (BtlBw, a
//! windowed maximum of delivery rate samples over 10 round trips) and round-trip
//! propagation time (RTprop, a windowed minimum of RTT samples over 10 s), from which the
//! sender paces at `pacing_gain × BtlBw` and keeps at most `cwnd_gain × BDP` in flight.
//! States: STARTUP (gain 2/ln 2 until the bandwidth stops growing by 25% for three rounds),
//! DRAIN (the inverse gain until the queue STARTUP built is gone), PROBE_BW (the eight-phase
//! gain cycle 5/4, 3/4, 1 ×6) and PROBE_RTT (four segments in flight for 200 ms and a round
//! when RTprop was not refreshed for 10 s).
//!
//! Linux: net/ipv4/tcp_bbr.c (`bbr_main`, `bbr_update_model`, `bbr_update_bw`,
//! `bbr_update_cycle_phase`, `bbr_check_full_bw_reached`, `bbr_check_drain`,
//! `bbr_update_min_rtt`, `bbr_set_pacing_rate`, `bbr_set_cwnd`, `bbr_update_ack_aggregation`)
//! with lib/minmax.c. Units here are bytes, bytes per second and microseconds. Not modelled:
//! the long-term (policer) bandwidth sampling.

use super::cong::{CongestionControl, INIT_CWND_SEGS};
use super::rate::RateSample;
use crate::time::Instant;
use std::time::Duration;

/// Gains in 1/256 (Linux: `BBR_SCALE` 8, `BBR_UNIT`).
const BBR_UNIT: u64 = 256;
/// 2/ln(2): the smallest gain that doubles the sending rate each round (`bbr_high_gain`).
const HIGH_GAIN: u64 = BBR_UNIT * 2885 / 1000 + 1;
/// Its inverse, to drain the queue STARTUP made (`bbr_drain_gain`).
const DRAIN_GAIN: u64 = BBR_UNIT * 1000 / 2885;
/// In-flight allowance over the BDP in PROBE_BW (`bbr_cwnd_gain`).
const CWND_GAIN: u64 = BBR_UNIT * 2;
/// The PROBE_BW pacing gains (`bbr_pacing_gain`).
const PACING_GAIN: [u64; CYCLE_LEN] = [
    BBR_UNIT * 5 / 4,
    BBR_UNIT * 3 / 4,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
    BBR_UNIT,
];
const CYCLE_LEN: usize = 8;
/// Rounds of the bandwidth max filter (`bbr_bw_rtts`).
const BW_RTTS: u32 = CYCLE_LEN as u32 + 2;
/// Window of the RTprop min filter (`bbr_min_rtt_win_sec`).
const MIN_RTT_WIN_US: u64 = 10_000_000;
/// Time in PROBE_RTT (`bbr_probe_rtt_mode_ms`).
const PROBE_RTT_MODE_US: u64 = 200_000;
/// Bandwidth growth that counts as still growing in STARTUP: 25% (`bbr_full_bw_thresh`).
const FULL_BW_THRESH: u64 = BBR_UNIT * 5 / 4;
/// Rounds without that growth that end STARTUP (`bbr_full_bw_cnt`).
const FULL_BW_CNT: u32 = 3;
/// Smallest window, segments (`bbr_cwnd_min_target`).
const CWND_MIN_TARGET: u32 = 4;
/// Pace 1% below the estimate, to keep the bottleneck queue drained (`bbr_pacing_margin_percent`).
const PACING_MARGIN_PERCENT: u64 = 1;
/// Pacing rates below this get 1-segment bursts (`bbr_min_tso_rate`, 1.2 Mbit/s), in bytes/s.
const MIN_TSO_RATE: u64 = 1_200_000 / 8;
/// Segments a GSO burst may not exceed here (Linux's cap, 0x7f).
const MAX_TSO_SEGS: u64 = 0x7f;
/// Rounds an ACK-aggregation estimate is kept (`bbr_extra_acked_win_rtts`).
const EXTRA_ACKED_WIN_RTTS: u32 = 5;
/// The aggregation allowance is at most this much time at BtlBw (`bbr_extra_acked_max_us`).
const EXTRA_ACKED_MAX_US: u64 = 100_000;
/// An aggregation epoch this large is stale and restarts (`bbr_ack_epoch_acked_reset_thresh`,
/// 2^20 segments), bytes here.
const ACK_EPOCH_ACKED_RESET_SEGS: u64 = 1 << 20;
/// `sk_pacing_shift`: a burst carries at most 1/2^10 s (~1 ms) of the pacing rate.
pub const PACING_SHIFT: u32 = 10;

/// BBR's states. Linux: `enum bbr_mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BbrMode {
    /// Ramp up the sending rate fast.
    Startup,
    /// Drain the queue STARTUP created.
    Drain,
    /// Cycle the pacing gain around BtlBw.
    ProbeBw,
    /// Cut in-flight data to refresh RTprop.
    ProbeRtt,
}

/// The congestion state as BBR sees it (Linux: `icsk_ca_state`, the part BBR looks at).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum CaState {
    Open,
    Recovery,
    Loss,
}

/// What `ss -ti` shows in `bbr:(...)`. Linux: `struct tcp_bbr_info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BbrInfo {
    /// BtlBw estimate, bytes per second.
    pub bw: u64,
    /// RTprop estimate, µs.
    pub min_rtt_us: u64,
    /// Current pacing gain, in 1/256.
    pub pacing_gain: u32,
    /// Current cwnd gain, in 1/256.
    pub cwnd_gain: u32,
}

/// A windowed running maximum keeping the best, second and third best samples of their
/// sub-windows (Kathleen Nichols' algorithm). Linux: lib/minmax.c `minmax_running_max`.
#[derive(Debug, Clone, Copy, Default)]
struct MinMax {
    /// (time, value), best first.
    s: [(u32, u64); 3],
}

impl MinMax {
    fn get(&self) -> u64 {
        self.s[0].1
    }

    fn reset(&mut self, t: u32, v: u64) {
        self.s = [(t, v); 3];
    }

    /// Linux: `minmax_running_max` with `minmax_subwin_update`.
    fn running_max(&mut self, win: u32, t: u32, v: u64) -> u64 {
        if v >= self.s[0].1 || t.wrapping_sub(self.s[2].0) > win {
            self.reset(t, v);
            return v;
        }
        if v >= self.s[1].1 {
            self.s[1] = (t, v);
            self.s[2] = (t, v);
        } else if v >= self.s[2].1 {
            self.s[2] = (t, v);
        }
        let dt = t.wrapping_sub(self.s[0].0);
        if dt > win {
            // The best is too old: the others move up.
            self.s[0] = self.s[1];
            self.s[1] = self.s[2];
            self.s[2] = (t, v);
            if t.wrapping_sub(self.s[0].0) > win {
                self.s[0] = self.s[1];
                self.s[1] = self.s[2];
                self.s[2] = (t, v);
            }
        } else if self.s[1].0 == self.s[0].0 && dt > win / 4 {
            // A quarter of the window without a second choice: take one.
            self.s[1] = (t, v);
            self.s[2] = (t, v);
        } else if self.s[2].0 == self.s[1].0 && dt > win / 2 {
            self.s[2] = (t, v);
        }
        self.s[0].1
    }
}

/// BBR. Linux: `struct bbr`.
#[derive(Debug, Clone)]
pub struct Bbr {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    mode: BbrMode,
    /// BtlBw filter, bytes/s over round counts.
    bw: MinMax,
    /// Round trips counted (`rtt_cnt`).
    rtt_cnt: u32,
    /// `delivered` that ends the current round (`next_rtt_delivered`).
    next_rtt_delivered: u64,
    round_start: bool,
    /// RTprop, µs (`u64::MAX`: none yet).
    min_rtt_us: u64,
    min_rtt_stamp: u64,
    probe_rtt_done_stamp: u64,
    probe_rtt_round_done: bool,
    /// The window before recovery or PROBE_RTT, restored after (`prior_cwnd`).
    prior_cwnd: u32,
    packet_conservation: bool,
    ca_state: CaState,
    prev_ca_state: CaState,
    /// A round count at which a timeout's loss state is over.
    loss_end_round: u32,
    idle_restart: bool,
    pacing_gain: u64,
    cwnd_gain: u64,
    cycle_idx: usize,
    cycle_stamp: u64,
    full_bw: u64,
    full_bw_cnt: u32,
    full_bw_reached: bool,
    has_seen_rtt: bool,
    /// `sk_pacing_rate`, bytes/s.
    pacing_rate: u64,
    /// `tp->app_limited` requested by PROBE_RTT (read by the caller's rate sampler).
    probe_rtt_app_limited: bool,
    /// Data delivered beyond BtlBw's expectation, two windows of rounds (`extra_acked`).
    extra_acked: [u64; 2],
    extra_acked_win_idx: usize,
    extra_acked_win_rtts: u32,
    /// Start of the current aggregation epoch, µs, and bytes acknowledged in it.
    ack_epoch_us: u64,
    ack_epoch_acked: u64,
}

impl Bbr {
    /// A fresh controller. Linux: `bbr_init`.
    pub fn new(mss: u32) -> Bbr {
        let mss = mss.max(1);
        let cwnd = INIT_CWND_SEGS * mss;
        let mut b = Bbr {
            mss,
            cwnd,
            ssthresh: u32::MAX,
            mode: BbrMode::Startup,
            bw: MinMax::default(),
            rtt_cnt: 0,
            next_rtt_delivered: 0,
            round_start: false,
            min_rtt_us: u64::MAX,
            min_rtt_stamp: 0,
            probe_rtt_done_stamp: 0,
            probe_rtt_round_done: false,
            prior_cwnd: 0,
            packet_conservation: false,
            ca_state: CaState::Open,
            prev_ca_state: CaState::Open,
            loss_end_round: 0,
            idle_restart: false,
            pacing_gain: HIGH_GAIN,
            cwnd_gain: HIGH_GAIN,
            cycle_idx: 0,
            cycle_stamp: 0,
            full_bw: 0,
            full_bw_cnt: 0,
            full_bw_reached: false,
            has_seen_rtt: false,
            pacing_rate: 0,
            probe_rtt_app_limited: false,
            extra_acked: [0; 2],
            extra_acked_win_idx: 0,
            extra_acked_win_rtts: 0,
            ack_epoch_us: 0,
            ack_epoch_acked: 0,
        };
        b.init_pacing_rate_from_rtt(0);
        b
    }

    #[cfg(test)]
    /// The current state.
    pub fn mode(&self) -> BbrMode {
        self.mode
    }

    /// BtlBw, bytes/s. Linux: `bbr_max_bw` / `bbr_bw`.
    fn max_bw(&self) -> u64 {
        self.bw.get()
    }

    /// `rate × gain`, less the pacing margin. Linux: `bbr_rate_bytes_per_sec`.
    fn rate_with_gain(bw: u64, gain: u64) -> u64 {
        bw.saturating_mul(gain) / BBR_UNIT * (100 - PACING_MARGIN_PERCENT) / 100
    }

    /// Before any bandwidth sample: the initial window over the handshake RTT (1 ms without
    /// one), at the high gain. Linux: `bbr_init_pacing_rate_from_rtt`.
    fn init_pacing_rate_from_rtt(&mut self, srtt_us: u64) {
        let rtt_us = if srtt_us > 0 {
            self.has_seen_rtt = true;
            srtt_us
        } else {
            1000
        };
        let bw = u64::from(self.cwnd) * 1_000_000 / rtt_us;
        self.pacing_rate = Self::rate_with_gain(bw, HIGH_GAIN);
    }

    /// Linux: `bbr_set_pacing_rate`: only ever lower it once the pipe was seen full.
    fn set_pacing_rate(&mut self, bw: u64, gain: u64, srtt_us: u64) {
        let rate = Self::rate_with_gain(bw, gain);
        if !self.has_seen_rtt && srtt_us > 0 {
            self.init_pacing_rate_from_rtt(srtt_us);
        }
        if bw > 0 && (self.full_bw_reached || rate > self.pacing_rate) {
            self.pacing_rate = rate;
        }
    }

    /// Segments per burst at the pacing rate. Linux: `bbr_tso_segs_goal` (with
    /// `bbr_min_tso_segs`).
    fn tso_segs_goal(&self) -> u64 {
        let min = if self.pacing_rate < MIN_TSO_RATE {
            1
        } else {
            2
        };
        let bytes = (self.pacing_rate >> PACING_SHIFT).min(65536);
        (bytes / u64::from(self.mss)).max(min).min(MAX_TSO_SEGS)
    }

    /// `bw × RTprop × gain`, bytes. Linux: `bbr_bdp`.
    fn bdp(&self, bw: u64, gain: u64) -> u64 {
        if self.min_rtt_us == u64::MAX {
            return u64::from(INIT_CWND_SEGS * self.mss);
        }
        let w = bw.saturating_mul(self.min_rtt_us) / 1_000_000;
        w.saturating_mul(gain).div_ceil(BBR_UNIT)
    }

    /// Room for the bursts pacing sends at once, an even number of segments, and extra in
    /// the probing phase. Linux: `bbr_quantization_budget`.
    fn quantization_budget(&self, cwnd: u64) -> u64 {
        let mss = u64::from(self.mss);
        let mut segs = cwnd.div_ceil(mss) + 3 * self.tso_segs_goal();
        segs = (segs + 1) & !1;
        if self.mode == BbrMode::ProbeBw && self.cycle_idx == 0 {
            segs += 2;
        }
        segs * mss
    }

    /// Linux: `bbr_inflight`.
    fn inflight(&self, bw: u64, gain: u64) -> u64 {
        self.quantization_budget(self.bdp(bw, gain))
    }

    fn cwnd_min(&self) -> u32 {
        CWND_MIN_TARGET * self.mss
    }

    /// Linux: `bbr_save_cwnd`.
    fn save_cwnd(&mut self) {
        if self.ca_state < CaState::Recovery && self.mode != BbrMode::ProbeRtt {
            self.prior_cwnd = self.cwnd;
        } else {
            self.prior_cwnd = self.prior_cwnd.max(self.cwnd);
        }
    }

    /// Linux: `bbr_reset_startup_mode` / `bbr_reset_probe_bw_mode` (`bbr_reset_mode`).
    fn reset_mode(&mut self, now_us: u64) {
        if !self.full_bw_reached {
            self.mode = BbrMode::Startup;
        } else {
            self.reset_probe_bw_mode(now_us);
        }
    }

    /// Enter PROBE_BW at a random phase other than the draining one. Linux:
    /// `bbr_reset_probe_bw_mode` (`CYCLE_LEN - 1 - prandom_u32_max(bbr_cycle_rand)`).
    fn reset_probe_bw_mode(&mut self, now_us: u64) {
        self.mode = BbrMode::ProbeBw;
        let r = (now_us.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59) as usize % (CYCLE_LEN - 1);
        self.cycle_idx = CYCLE_LEN - 1 - r;
        self.advance_cycle_phase(now_us);
    }

    /// Linux: `bbr_advance_cycle_phase`.
    fn advance_cycle_phase(&mut self, now_us: u64) {
        self.cycle_idx = (self.cycle_idx + 1) % CYCLE_LEN;
        self.cycle_stamp = now_us;
    }

    /// Linux: `bbr_is_next_cycle_phase`.
    fn is_next_cycle_phase(&self, rs: &RateSample) -> bool {
        let full_length = rs.delivered_us.saturating_sub(self.cycle_stamp) > self.min_rtt_us;
        let gain = self.pacing_gain;
        if gain == BBR_UNIT {
            return full_length;
        }
        let inflight = u64::from(rs.prior_in_flight);
        let bw = self.max_bw();
        if gain > BBR_UNIT {
            return full_length && (rs.losses > 0 || inflight >= self.inflight(bw, gain));
        }
        full_length || inflight <= self.inflight(bw, BBR_UNIT)
    }

    /// Linux: `bbr_update_bw`: the round count, and the sample into the max filter.
    fn update_bw(&mut self, rs: &RateSample) {
        self.round_start = false;
        if rs.delivered < 0 || rs.interval_us <= 0 {
            return;
        }
        if rs.prior_delivered >= self.next_rtt_delivered {
            self.next_rtt_delivered = rs.tp_delivered;
            self.rtt_cnt = self.rtt_cnt.wrapping_add(1);
            self.round_start = true;
            self.packet_conservation = false;
        }
        let bw = (rs.delivered as u64).saturating_mul(1_000_000) / rs.interval_us as u64;
        if !rs.is_app_limited || bw >= self.max_bw() {
            self.bw.running_max(BW_RTTS, self.rtt_cnt, bw);
        }
    }

    /// How much more was acknowledged than BtlBw accounts for since the aggregation epoch
    /// began (receivers and links that ACK in bursts), a windowed maximum over 5-10 rounds.
    /// Linux: `bbr_update_ack_aggregation`.
    fn update_ack_aggregation(&mut self, rs: &RateSample) {
        if rs.acked_sacked == 0 || rs.delivered < 0 || rs.interval_us <= 0 {
            return;
        }
        if self.round_start {
            self.extra_acked_win_rtts = (self.extra_acked_win_rtts + 1).min(0x1f);
            if self.extra_acked_win_rtts >= EXTRA_ACKED_WIN_RTTS {
                self.extra_acked_win_rtts = 0;
                self.extra_acked_win_idx ^= 1;
                self.extra_acked[self.extra_acked_win_idx] = 0;
            }
        }
        let epoch_us = rs.delivered_us.saturating_sub(self.ack_epoch_us);
        let mut expected = self.max_bw().saturating_mul(epoch_us) / 1_000_000;
        let acked = u64::from(rs.acked_sacked);
        let reset = ACK_EPOCH_ACKED_RESET_SEGS * u64::from(self.mss);
        if self.ack_epoch_acked <= expected || self.ack_epoch_acked + acked >= reset {
            self.ack_epoch_acked = 0;
            self.ack_epoch_us = rs.delivered_us;
            expected = 0;
        }
        self.ack_epoch_acked = (self.ack_epoch_acked + acked).min(reset);
        let extra = self
            .ack_epoch_acked
            .saturating_sub(expected)
            .min(u64::from(self.cwnd));
        let slot = &mut self.extra_acked[self.extra_acked_win_idx];
        *slot = (*slot).max(extra);
    }

    /// The window allowance for ACK aggregation, once the pipe was seen full: the recent
    /// maximum excess, at most 100 ms at BtlBw. Linux: `bbr_ack_aggregation_cwnd`.
    fn ack_aggregation_cwnd(&self) -> u64 {
        if !self.full_bw_reached {
            return 0;
        }
        let max = self.max_bw().saturating_mul(EXTRA_ACKED_MAX_US) / 1_000_000;
        self.extra_acked[0].max(self.extra_acked[1]).min(max)
    }

    /// Linux: `bbr_check_full_bw_reached`.
    fn check_full_bw_reached(&mut self, rs: &RateSample) {
        if self.full_bw_reached || !self.round_start || rs.is_app_limited {
            return;
        }
        let bw = self.max_bw();
        if bw >= self.full_bw.saturating_mul(FULL_BW_THRESH) / BBR_UNIT {
            self.full_bw = bw;
            self.full_bw_cnt = 0;
            return;
        }
        self.full_bw_cnt += 1;
        self.full_bw_reached = self.full_bw_cnt >= FULL_BW_CNT;
    }

    /// Linux: `bbr_check_drain`.
    fn check_drain(&mut self, rs: &RateSample) {
        if self.mode == BbrMode::Startup && self.full_bw_reached {
            self.mode = BbrMode::Drain;
            self.ssthresh = self
                .inflight(self.max_bw(), BBR_UNIT)
                .min(u64::from(u32::MAX)) as u32;
        }
        if self.mode == BbrMode::Drain
            && u64::from(rs.in_flight) <= self.inflight(self.max_bw(), BBR_UNIT)
        {
            self.reset_probe_bw_mode(rs.delivered_us);
        }
    }

    /// Linux: `bbr_update_min_rtt` (with `bbr_check_probe_rtt_done`).
    fn update_min_rtt(&mut self, rs: &RateSample, now_us: u64) {
        let expired = now_us > self.min_rtt_stamp.saturating_add(MIN_RTT_WIN_US);
        if rs.rtt_us >= 0 && ((rs.rtt_us as u64) < self.min_rtt_us || expired) {
            self.min_rtt_us = rs.rtt_us as u64;
            self.min_rtt_stamp = now_us;
        }
        if expired && !self.idle_restart && self.mode != BbrMode::ProbeRtt {
            self.mode = BbrMode::ProbeRtt;
            self.save_cwnd();
            self.probe_rtt_done_stamp = 0;
        }
        if self.mode == BbrMode::ProbeRtt {
            // Samples taken while in flight is cut are not the path's rate.
            self.probe_rtt_app_limited = true;
            if self.probe_rtt_done_stamp == 0 && rs.in_flight <= self.cwnd_min() {
                self.probe_rtt_done_stamp = now_us + PROBE_RTT_MODE_US;
                self.probe_rtt_round_done = false;
                self.next_rtt_delivered = rs.tp_delivered;
            } else if self.probe_rtt_done_stamp != 0 {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done && now_us > self.probe_rtt_done_stamp {
                    self.min_rtt_stamp = now_us;
                    self.cwnd = self.cwnd.max(self.prior_cwnd);
                    self.reset_mode(now_us);
                }
            }
        }
        if rs.delivered > 0 {
            self.idle_restart = false;
        }
    }

    /// Linux: `bbr_update_gains`.
    fn update_gains(&mut self) {
        (self.pacing_gain, self.cwnd_gain) = match self.mode {
            BbrMode::Startup => (HIGH_GAIN, HIGH_GAIN),
            BbrMode::Drain => (DRAIN_GAIN, HIGH_GAIN),
            BbrMode::ProbeBw => (PACING_GAIN[self.cycle_idx], CWND_GAIN),
            BbrMode::ProbeRtt => (BBR_UNIT, BBR_UNIT),
        };
    }

    /// Packet conservation on entering recovery, the old window back after it. Returns the
    /// window and whether conservation decides it. Linux: `bbr_set_cwnd_to_recover_or_restore`.
    fn recover_or_restore(&mut self, rs: &RateSample) -> (u32, bool) {
        let mut cwnd = self.cwnd;
        if rs.losses > 0 {
            cwnd = cwnd.saturating_sub(rs.losses).max(self.mss);
        }
        let state = self.ca_state;
        if state == CaState::Recovery && self.prev_ca_state != CaState::Recovery {
            self.packet_conservation = true;
            self.next_rtt_delivered = rs.tp_delivered;
            cwnd = rs.in_flight + rs.acked_sacked;
        } else if self.prev_ca_state >= CaState::Recovery && state < CaState::Recovery {
            cwnd = cwnd.max(self.prior_cwnd);
            self.packet_conservation = false;
        }
        self.prev_ca_state = state;
        if self.packet_conservation {
            return (cwnd.max(rs.in_flight + rs.acked_sacked), true);
        }
        (cwnd, false)
    }

    /// Linux: `bbr_set_cwnd`.
    fn set_cwnd(&mut self, rs: &RateSample, bw: u64, gain: u64) {
        let acked = rs.acked_sacked;
        if acked > 0 {
            let (cwnd, decided) = self.recover_or_restore(rs);
            if decided {
                self.cwnd = cwnd;
            } else {
                let target =
                    self.quantization_budget(self.bdp(bw, gain) + self.ack_aggregation_cwnd());
                let target = target.min(u64::from(u32::MAX)) as u32;
                let mut cwnd = cwnd;
                if self.full_bw_reached {
                    cwnd = cwnd.saturating_add(acked).min(target);
                } else if cwnd < target || rs.tp_delivered < u64::from(INIT_CWND_SEGS * self.mss) {
                    cwnd = cwnd.saturating_add(acked);
                }
                self.cwnd = cwnd.max(self.cwnd_min());
            }
        }
        if self.mode == BbrMode::ProbeRtt {
            self.cwnd = self.cwnd.min(self.cwnd_min());
        }
    }

    /// What `ss` shows.
    pub fn bbr_info(&self) -> BbrInfo {
        BbrInfo {
            bw: self.max_bw(),
            min_rtt_us: if self.min_rtt_us == u64::MAX {
                0
            } else {
                self.min_rtt_us
            },
            pacing_gain: self.pacing_gain as u32,
            cwnd_gain: self.cwnd_gain as u32,
        }
    }
}

impl CongestionControl for Bbr {
    fn name(&self) -> &'static str {
        "bbr"
    }
    fn cwnd(&self) -> u32 {
        self.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    fn set_mss(&mut self, mss: u32) {
        let segs = (self.cwnd / self.mss).max(1);
        self.mss = mss.max(1);
        self.cwnd = segs * self.mss;
        if !self.has_seen_rtt {
            self.init_pacing_rate_from_rtt(0);
        }
    }
    /// BBR sets the window in [`CongestionControl::cong_control`]; `cong_avoid` is unused.
    fn on_ack(&mut self, _acked: u32, _rtt: Option<Duration>, _flight: u32, _now: Instant) {}
    /// Linux: `bbr_ssthresh` (save the window) as recovery starts; the window itself follows
    /// packet conservation from the next ACK.
    fn on_congestion_event(&mut self, _flight: u32, _now: Instant) {
        self.save_cwnd();
        self.ca_state = CaState::Recovery;
    }
    /// BBR v1 leaves its model alone on ECE (Linux: `cong_control` replaces the CWR
    /// reduction); only the window is remembered.
    fn on_cwr(&mut self, _flight: u32, _now: Instant) {
        self.save_cwnd();
    }
    fn on_recovery_exit(&mut self, _now: Instant) {
        self.ca_state = CaState::Open;
    }
    /// Linux: `bbr_set_state(TCP_CA_Loss)` after `tcp_enter_loss` set cwnd to one segment:
    /// the filter's round restarts and STARTUP's plateau count with it.
    fn on_rto(&mut self, _flight: u32, _now: Instant) {
        self.save_cwnd();
        self.cwnd = self.mss;
        self.ca_state = CaState::Loss;
        self.prev_ca_state = CaState::Loss;
        self.full_bw = 0;
        self.round_start = true;
        self.loss_end_round = self.rtt_cnt.wrapping_add(1);
    }
    /// Linux: `bbr_cwnd_event(CA_EVENT_TX_START)` after an idle period.
    fn on_idle_restart(&mut self, _rto: Duration, now: Instant) {
        self.idle_restart = true;
        self.ack_epoch_us = now.total_micros() + 1;
        self.ack_epoch_acked = 0;
        let bw = self.max_bw();
        if self.mode == BbrMode::ProbeBw && bw > 0 {
            self.pacing_rate = Self::rate_with_gain(bw, BBR_UNIT);
        }
    }
    fn wants_rate_samples(&self) -> bool {
        true
    }
    /// Linux: `bbr_main`.
    fn cong_control(&mut self, rs: &RateSample, now: Instant) {
        let now_us = now.total_micros() + 1;
        self.probe_rtt_app_limited = false;
        // A timeout's loss state lasts until a round has passed (the flight it found is
        // delivered); otherwise the connection says whether it is in recovery.
        let loss_over = (self.rtt_cnt.wrapping_sub(self.loss_end_round) as i32) >= 0;
        if self.ca_state != CaState::Loss || loss_over {
            self.ca_state = if rs.in_recovery {
                CaState::Recovery
            } else {
                CaState::Open
            };
        }
        // bbr_update_model.
        self.update_bw(rs);
        self.update_ack_aggregation(rs);
        if self.mode == BbrMode::ProbeBw && self.is_next_cycle_phase(rs) {
            self.advance_cycle_phase(rs.delivered_us);
        }
        self.check_full_bw_reached(rs);
        self.check_drain(rs);
        self.update_min_rtt(rs, now_us);
        self.update_gains();
        let bw = self.max_bw();
        self.set_pacing_rate(bw, self.pacing_gain, rs.srtt_us);
        self.set_cwnd(rs, bw, self.cwnd_gain);
    }
    fn pacing_rate(&self) -> Option<u64> {
        Some(self.pacing_rate.max(1))
    }
    fn min_tso_segs(&self) -> u32 {
        if self.pacing_rate < MIN_TSO_RATE {
            1
        } else {
            2
        }
    }
    fn app_limited_request(&self) -> bool {
        self.probe_rtt_app_limited
    }
    fn bbr_info(&self) -> Option<BbrInfo> {
        Some(Bbr::bbr_info(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// Feed `rounds` round trips of ACKs from a path of `bw` bytes/s and `rtt_us`, the sender
    /// keeping `cwnd` in flight (or what the path holds). Returns the time reached.
    fn run(b: &mut Bbr, bw: u64, rtt_us: u64, rounds: u32, t0: u64, delivered: &mut u64) -> u64 {
        let mut t = t0;
        for _ in 0..rounds {
            // One ACK per segment over the round.
            let bdp = bw * rtt_us / 1_000_000;
            let inflight = u64::from(b.cwnd()).min(bdp.max(u64::from(MSS)));
            let per_round = inflight.max(u64::from(MSS));
            let segs = per_round / u64::from(MSS);
            for i in 0..segs {
                let prior = *delivered;
                *delivered += u64::from(MSS);
                t += rtt_us / segs;
                let rs = RateSample {
                    prior_delivered: prior.saturating_sub(per_round),
                    delivered: per_round as i64,
                    interval_us: rtt_us.max(per_round * 1_000_000 / bw) as i64,
                    rtt_us: rtt_us as i64,
                    is_app_limited: false,
                    acked_sacked: MSS,
                    prior_in_flight: inflight as u32,
                    in_flight: (inflight - u64::from(MSS)) as u32,
                    losses: 0,
                    tp_delivered: *delivered,
                    delivered_us: t,
                    in_recovery: false,
                    srtt_us: rtt_us,
                    mss: MSS,
                };
                let _ = i;
                b.cong_control(&rs, Instant::from_micros(t));
            }
        }
        t
    }

    #[test]
    fn startup_finds_the_bandwidth_then_drains_into_probe_bw() {
        let mut b = Bbr::new(MSS);
        assert_eq!(b.mode(), BbrMode::Startup);
        let mut d = 0;
        // 1.25 MB/s (10 Mbit/s), 40 ms: BDP 50 KB.
        let t = run(&mut b, 1_250_000, 40_000, 30, 1, &mut d);
        assert_ne!(b.mode(), BbrMode::Startup);
        let _ = run(&mut b, 1_250_000, 40_000, 10, t, &mut d);
        assert_eq!(b.mode(), BbrMode::ProbeBw);
        let i = b.bbr_info();
        assert!((1_150_000..=1_300_000).contains(&i.bw), "bw {}", i.bw);
        assert_eq!(i.min_rtt_us, 40_000);
        // cwnd ≈ 2 × BDP plus the quantization budget.
        assert!((100_000..=130_000).contains(&b.cwnd()), "cwnd {}", b.cwnd());
        let rate = b.pacing_rate().unwrap();
        assert!((1_100_000..=1_600_000).contains(&rate), "pacing {rate}");
    }

    #[test]
    fn probe_rtt_after_ten_seconds_without_a_lower_rtt() {
        let mut b = Bbr::new(MSS);
        let mut d = 0;
        let mut t = run(&mut b, 1_250_000, 40_000, 40, 1, &mut d);
        let mut seen = false;
        // 12 s of rounds whose RTT is a little above the minimum.
        for _ in 0..300 {
            t = run(&mut b, 1_250_000, 41_000, 1, t, &mut d);
            seen |= b.mode() == BbrMode::ProbeRtt;
            if seen {
                assert!(b.cwnd() <= 4 * MSS || b.mode() != BbrMode::ProbeRtt);
            }
        }
        assert!(seen, "never entered PROBE_RTT");
        assert_eq!(b.mode(), BbrMode::ProbeBw, "left PROBE_RTT again");
    }

    #[test]
    fn the_max_filter_forgets_after_its_window() {
        let mut m = MinMax::default();
        m.running_max(10, 0, 100);
        assert_eq!(m.running_max(10, 5, 50), 100);
        assert_eq!(m.running_max(10, 11, 60), 60);
        assert_eq!(m.running_max(10, 12, 70), 70);
    }
}
