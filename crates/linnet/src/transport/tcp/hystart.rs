//! Hybrid slow start as Linux's CUBIC runs it: slow start ends (ssthresh = cwnd) before the
//! window overflows the path's queue, when either
//! - the ACK train of a round, ACKs arriving less than 2 ms apart since the round began,
//!   lasts longer than half the minimum RTT (plus a small allowance for ACK compression):
//!   the pipe is full, a longer train only builds a queue; or
//! - the smallest of a round's RTT samples (at least eight) exceeds the minimum RTT by
//!   clamp(min RTT / 8, 4 ms, 16 ms): the queue is building.
//!
//! A round ends when the cumulative ACK passes what was sent when it began. Once found,
//! slow start is over for the connection until a timeout resets it. On a LAN path (an RTT of
//! 0.1 ms, a router's queue of a thousand frames) the ACK train ends slow start at a few tens
//! of segments; the delay rule alone would let the window grow until 4 ms of queue.
//!
//! Linux: `hystart_update`, `bictcp_hystart_reset`, `hystart_ack_delay` and the
//! `hystart_detect`, `hystart_low_window`, `hystart_ack_delta_us` parameters
//! (net/ipv4/tcp_cubic.c).

use super::cong::AckSample;
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use std::time::Duration;

/// RTT samples a round needs before the delay rule applies. Linux: `HYSTART_MIN_SAMPLES`.
const HYSTART_MIN_SAMPLES: u32 = 8;
/// Least and most RTT increase that ends slow start. Linux: `HYSTART_DELAY_MIN`, `_MAX`.
const HYSTART_DELAY_MIN: Duration = Duration::from_millis(4);
const HYSTART_DELAY_MAX: Duration = Duration::from_millis(16);
/// Below this window (segments) slow start runs unchecked. Linux: `hystart_low_window`.
pub const HYSTART_LOW_WINDOW: u32 = 16;
/// ACKs closer than this belong to one train. Linux: `hystart_ack_delta_us`.
const HYSTART_ACK_DELTA: Duration = Duration::from_millis(2);
/// Largest GSO burst, bytes, for the ACK-compression allowance. Linux: `sk_gso_max_size`.
const GSO_MAX_SIZE: u64 = 65536;

/// What ended slow start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// The ACK train outlasted half the minimum RTT (`TCPHystartTrainDetect`).
    AckTrain,
    /// The round's RTT grew past the threshold (`TCPHystartDelayDetect`).
    Delay,
}

/// HyStart's state. Linux: the `round_start`, `last_ack`, `end_seq`, `curr_rtt`,
/// `sample_cnt` and `found` fields of `struct bictcp`.
#[derive(Debug, Clone, Copy)]
pub struct HyStart {
    /// Enabled (Linux: the `hystart` module parameter).
    pub on: bool,
    /// Slow start already ended this way; nothing more until [`HyStart::reset_found`].
    found: bool,
    /// A round is being measured (false until the first ACK).
    started: bool,
    round_start: Instant,
    last_ack: Instant,
    /// The round ends when the cumulative ACK passes this.
    end_seq: SeqNumber,
    /// The smallest RTT sample of this round.
    curr_rtt: Option<Duration>,
    sample_cnt: u32,
    /// Slow starts ended by the delay rule and by the ACK train.
    pub delay_exits: u64,
    pub train_exits: u64,
}

impl Default for HyStart {
    fn default() -> Self {
        HyStart {
            on: true,
            found: false,
            started: false,
            round_start: Instant::ZERO,
            last_ack: Instant::ZERO,
            end_seq: SeqNumber(0),
            curr_rtt: None,
            sample_cnt: 0,
            delay_exits: 0,
            train_exits: 0,
        }
    }
}

/// The allowance for ACK compression in the train rule: the time four full GSO bursts take
/// at the pacing rate, at most 1 ms (none without a rate). Linux: `hystart_ack_delay`.
fn hystart_ack_delay(pacing_rate: u64) -> Duration {
    if pacing_rate == 0 {
        return Duration::ZERO;
    }
    let us = (GSO_MAX_SIZE * 4 * 1_000_000 / pacing_rate).min(1000);
    Duration::from_micros(us)
}

impl HyStart {
    /// Start measuring a round at `now`, ending when everything sent so far is acknowledged.
    /// Linux: `bictcp_hystart_reset`.
    fn hystart_reset(&mut self, now: Instant, snd_nxt: SeqNumber) {
        self.started = true;
        self.round_start = now;
        self.last_ack = now;
        self.end_seq = snd_nxt;
        self.curr_rtt = None;
        self.sample_cnt = 0;
    }

    /// Look for a reason to end slow start again, from a fresh round (after a timeout, as
    /// Linux's `bictcp_reset` on entering the Loss state).
    pub fn reset_found(&mut self) {
        self.found = false;
        self.started = false;
    }

    /// One ACK in slow start with RTT sample `delay`, the window `cwnd_segs` and CUBIC's
    /// minimum RTT `delay_min`; `Some` when slow start should end now (the caller sets
    /// ssthresh = cwnd). Linux: `hystart_update`.
    pub fn hystart_update(
        &mut self,
        s: &AckSample,
        delay: Duration,
        delay_min: Duration,
        cwnd_segs: u32,
    ) -> Option<Found> {
        if !self.on || self.found {
            return None;
        }
        if !self.started || s.snd_una > self.end_seq {
            self.hystart_reset(s.now, s.snd_nxt);
        }
        if cwnd_segs < HYSTART_LOW_WINDOW {
            return None;
        }
        // The ACK train.
        if s.now.saturating_since(self.last_ack) <= HYSTART_ACK_DELTA {
            self.last_ack = s.now;
            let mut threshold = delay_min + hystart_ack_delay(s.pacing_rate);
            // Paced by another layer (fq, BBR), the train is spread out: the whole allowance.
            if !s.paced {
                threshold /= 2;
            }
            if s.now.saturating_since(self.round_start) > threshold {
                self.found = true;
                self.train_exits += 1;
                return Some(Found::AckTrain);
            }
        }
        // The delay increase.
        self.curr_rtt = Some(self.curr_rtt.map_or(delay, |c| c.min(delay)));
        if self.sample_cnt < HYSTART_MIN_SAMPLES {
            self.sample_cnt += 1;
        } else {
            let thresh = (delay_min / 8).clamp(HYSTART_DELAY_MIN, HYSTART_DELAY_MAX);
            if self.curr_rtt.is_some_and(|c| c > delay_min + thresh) {
                self.found = true;
                self.delay_exits += 1;
                return Some(Found::Delay);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1448;

    fn ack(now: Instant, una: u32, nxt: u32, rate: u64) -> AckSample {
        AckSample {
            rtt: None,
            snd_una: SeqNumber(una),
            snd_nxt: SeqNumber(nxt),
            pacing_rate: rate,
            paced: false,
            now,
        }
    }

    #[test]
    fn an_ack_train_longer_than_half_the_min_rtt_ends_slow_start() {
        let mut h = HyStart::default();
        let rtt = Duration::from_micros(100);
        // Round 1: 20 segments sent at t=0, their ACKs 8 µs apart from t=100 µs.
        let t0 = Instant::ZERO + Duration::from_millis(1);
        assert_eq!(
            h.hystart_update(&ack(t0, 0, 20 * MSS, 0), rtt, rtt, 20),
            None
        );
        let mut found = None;
        for i in 1..40u32 {
            let now = t0 + Duration::from_micros(8 * u64::from(i));
            found = h.hystart_update(&ack(now, i * MSS, 40 * MSS, 0), rtt, rtt, 20);
            if found.is_some() {
                // Past delay_min / 2 = 50 µs of train: the seventh ACK.
                assert_eq!(i, 7);
                break;
            }
        }
        assert_eq!(found, Some(Found::AckTrain));
        assert_eq!((h.train_exits, h.delay_exits), (1, 0));
        // Found: nothing more until reset.
        assert_eq!(h.hystart_update(&ack(t0, 0, 0, 0), rtt, rtt, 20), None);
    }

    #[test]
    fn acks_far_apart_or_a_small_window_do_not_count_as_a_train() {
        let mut h = HyStart::default();
        let rtt = Duration::from_millis(20);
        let mut now = Instant::ZERO + Duration::from_secs(1);
        for i in 0..100u32 {
            // 3 ms apart: each ACK starts a new train.
            now += Duration::from_millis(3);
            assert_eq!(
                h.hystart_update(&ack(now, i * MSS, 1000 * MSS, 0), rtt, rtt, 100),
                None
            );
        }
        // Close together but below the low window.
        let mut h = HyStart::default();
        for i in 0..100u32 {
            now += Duration::from_micros(10);
            assert_eq!(
                h.hystart_update(&ack(now, i * MSS, 1000 * MSS, 0), rtt, rtt, 15),
                None
            );
        }
    }

    #[test]
    fn the_round_minimum_past_delay_min_plus_4ms_ends_slow_start() {
        let mut h = HyStart::default();
        let base = Duration::from_millis(20);
        let mut now = Instant::ZERO + Duration::from_secs(1);
        // ACKs 3 ms apart (no train); eight samples at 20 ms + 3.9 ms: under the threshold.
        for i in 0..20u32 {
            now += Duration::from_millis(3);
            let d = base + Duration::from_micros(3900);
            assert_eq!(
                h.hystart_update(&ack(now, i * MSS, 10_000 * MSS, 0), d, base, 50),
                None
            );
        }
        // A new round (the cumulative ACK passes end_seq) whose samples are 24.1 ms.
        let mut found = None;
        for i in 0..20u32 {
            now += Duration::from_millis(3);
            let d = base + Duration::from_micros(4100);
            found = found.or(h.hystart_update(
                &ack(now, (10_001 + i) * MSS, 20_000 * MSS, 0),
                d,
                base,
                50,
            ));
        }
        assert_eq!(found, Some(Found::Delay));
        assert_eq!(h.delay_exits, 1);
    }

    #[test]
    fn the_ack_compression_allowance_follows_the_pacing_rate() {
        assert_eq!(hystart_ack_delay(0), Duration::ZERO);
        // 4 × 64 KiB at 1 GB/s: 262 µs.
        assert_eq!(hystart_ack_delay(1_000_000_000), Duration::from_micros(262));
        // Slow: capped at 1 ms.
        assert_eq!(hystart_ack_delay(1_000_000), Duration::from_millis(1));
    }
}
