//! Congestion control: the interface, and Reno/NewReno (RFC 5681, RFC 3465 byte counting);
//! CUBIC is in `super::cubic`, BBR in `super::bbr`.
//!
//! Linux: `struct tcp_congestion_ops` with net/ipv4/tcp_cong.c (`tcp_reno_cong_avoid`,
//! `tcp_slow_start`, `tcp_cong_avoid_ai`) and tcp_cubic.c. Windows are in bytes here. Loss
//! recovery itself (what to retransmit, the RFC 6582 "recover" point) lives in the TCP code;
//! these objects only answer "how large may the window be".

pub use crate::core::sockopt::CcAlgorithm;
use crate::time::Instant;

use std::fmt;
use std::time::Duration;

/// Initial window in segments (RFC 6928, Linux `TCP_INIT_CWND`).
pub const INIT_CWND_SEGS: u32 = 10;

/// The algorithm interface. Linux: `struct tcp_congestion_ops`.
pub trait CongestionControl: fmt::Debug + Send {
    /// Name as `sysctl net.ipv4.tcp_congestion_control` spells it.
    fn name(&self) -> &'static str;
    /// Congestion window, bytes.
    fn cwnd(&self) -> u32;
    /// Slow-start threshold, bytes (`u32::MAX` until the first loss).
    fn ssthresh(&self) -> u32;
    /// The sender's MSS changed.
    fn set_mss(&mut self, mss: u32);
    /// An ACK acknowledged data, with an RTT sample: delay-based state (CUBIC's minimum RTT
    /// and hybrid slow start) learns from it. Runs on every such ACK, before
    /// [`CongestionControl::on_ack`], in recovery too and whether or not the window may
    /// grow. Linux: `pkts_acked` (`cubictcp_acked`), called from `tcp_clean_rtx_queue`.
    fn pkts_acked(&mut self, _s: &AckSample) {}
    /// New data was cumulatively acknowledged outside recovery. Linux: `cong_avoid`.
    fn on_ack(&mut self, acked: u32, rtt: Option<Duration>, bytes_in_flight: u32, now: Instant);
    /// Loss detected by duplicate ACKs or SACK: set ssthresh and the recovery window.
    /// Linux: `ssthresh` + `tcp_enter_recovery`.
    fn on_congestion_event(&mut self, bytes_in_flight: u32, now: Instant);
    /// A congestion signal that is not a loss (ECE): reduce once, as for a loss, by default.
    /// Linux: `tcp_enter_cwr` → `ssthresh` (BBR leaves its model alone).
    fn on_cwr(&mut self, bytes_in_flight: u32, now: Instant) {
        self.on_congestion_event(bytes_in_flight, now);
    }
    /// Recovery is over (full ACK): cwnd = ssthresh (RFC 6582).
    fn on_recovery_exit(&mut self, now: Instant);
    /// Retransmission timeout: ssthresh = max(flight/2, 2·MSS), cwnd = 1 MSS (RFC 5681 (4)).
    fn on_rto(&mut self, bytes_in_flight: u32, now: Instant);
    /// Sending resumes after an idle period longer than the RTO (RFC 5681 4.1).
    fn on_idle_restart(&mut self, rto: Duration, now: Instant);
    /// Turn hybrid slow start on or off (algorithms without it ignore this). Linux: the
    /// `hystart` parameter of `tcp_cubic`.
    fn set_hystart(&mut self, _on: bool) {}
    /// Times hybrid slow start ended slow start before a loss did, by the RTT's growth
    /// (`TCPHystartDelayDetect`).
    fn hystart_exits(&self) -> u64 {
        0
    }
    /// Times hybrid slow start ended slow start by the ACK train (`TCPHystartTrainDetect`).
    fn hystart_train_exits(&self) -> u64 {
        0
    }
    /// Loss recovery sets the window itself (Proportional Rate Reduction, RFC 6937, and the
    /// RTO's in-flight-plus-one). Algorithms that pace by their own model ignore this.
    /// Linux: `tcp_snd_cwnd_set` from `tcp_cwnd_reduction` / `tcp_enter_loss`.
    fn set_cwnd(&mut self, _cwnd: u32) {}
    /// A reduction proved spurious: back to at least the window and ssthresh from before
    /// it. Linux: `undo_cwnd` (`tcp_reno_undo_cwnd`) with `tcp_undo_cwnd_reduction`.
    fn undo_cwnd(&mut self, _prior_cwnd: u32, _prior_ssthresh: u32) {}
    /// Whether the algorithm runs on delivery rate samples ([`CongestionControl::cong_control`]);
    /// the connection only keeps per-segment send records then.
    fn wants_rate_samples(&self) -> bool {
        false
    }
    /// One ACK's rate sample, after the ACK was processed: the algorithm sets its window and
    /// pacing rate itself. Linux: `cong_control` (called from `tcp_cong_control`).
    fn cong_control(&mut self, _rs: &super::rate::RateSample, _now: Instant) {}
    /// The pacing rate in bytes per second when the algorithm needs the stack to pace
    /// (Linux: `sk_pacing_rate` with `SK_PACING_NEEDED`); `None`: no pacing.
    fn pacing_rate(&self) -> Option<u64> {
        None
    }
    /// Fewest segments in a TSO burst. Linux: `min_tso_segs` (default 2).
    fn min_tso_segs(&self) -> u32 {
        2
    }
    /// The algorithm asks for the samples now being taken to count as application-limited
    /// (BBR's PROBE_RTT). Linux: BBR setting `tp->app_limited`.
    fn app_limited_request(&self) -> bool {
        false
    }
    /// BBR's model, for `ss -ti`. Linux: `get_info` (`INET_DIAG_BBRINFO`).
    fn bbr_info(&self) -> Option<super::bbr::BbrInfo> {
        None
    }
}

/// What [`CongestionControl::pkts_acked`] learns from an ACK. Linux: `struct ack_sample`
/// with the socket fields `hystart_update` reads.
#[derive(Debug, Clone, Copy)]
pub struct AckSample {
    /// RTT of the newest segment the ACK covers (Linux: `rs->rtt_us`, `ca_rtt_us`).
    pub rtt: Option<Duration>,
    /// The cumulative ACK, after this one.
    pub snd_una: crate::wire::tcp::SeqNumber,
    /// The next sequence to send.
    pub snd_nxt: crate::wire::tcp::SeqNumber,
    /// The connection's pacing rate, bytes per second (Linux keeps `sk_pacing_rate` for every
    /// algorithm; 0: unknown).
    pub pacing_rate: u64,
    /// Something paces the connection (Linux: `sk_pacing_status != SK_PACING_NONE`).
    pub paced: bool,
    /// When the ACK arrived.
    pub now: Instant,
}

/// A new controller. Linux: `tcp_init_congestion_control`.
pub fn new_cc(alg: CcAlgorithm, mss: u32) -> Box<dyn CongestionControl> {
    match alg {
        CcAlgorithm::Reno => Box::new(Reno::new(mss)),
        CcAlgorithm::Cubic => Box::new(Cubic::new(mss)),
        CcAlgorithm::Bbr => Box::new(super::bbr::Bbr::new(mss)),
    }
}

/// Shared slow start / AIMD bookkeeping.
#[derive(Debug, Clone)]
struct Window {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    /// Bytes acknowledged towards the next +1 MSS in congestion avoidance.
    acked_accum: u32,
}

impl Window {
    fn new(mss: u32) -> Window {
        let mss = mss.max(1);
        Window {
            mss,
            cwnd: INIT_CWND_SEGS * mss,
            ssthresh: u32::MAX,
            acked_accum: 0,
        }
    }

    /// Slow start with byte counting: the window grows by what the ACK covers, up to
    /// ssthresh, with no per-ACK limit (RFC 3465's L = 2·SMSS would let a receiver that
    /// coalesces ACKs per batch, as GRO does, stall the window's growth); returns the bytes
    /// not used. Linux: `tcp_slow_start`.
    fn slow_start(&mut self, acked: u32) -> u32 {
        let inc = acked;
        let room = self.ssthresh.saturating_sub(self.cwnd);
        let used = inc.min(room);
        self.cwnd = self.cwnd.saturating_add(used);
        acked - used.min(acked)
    }

    /// +1 MSS per `w_bytes` acknowledged. Linux: `tcp_cong_avoid_ai`.
    fn avoid(&mut self, w_bytes: u32, acked: u32) {
        self.acked_accum = self.acked_accum.saturating_add(acked);
        let w = w_bytes.max(self.mss);
        if self.acked_accum >= w {
            let n = self.acked_accum / w;
            self.acked_accum -= n * w;
            self.cwnd = self.cwnd.saturating_add(n * self.mss);
        }
    }

    fn on_rto(&mut self, flight: u32) {
        self.ssthresh = (flight / 2).max(2 * self.mss);
        self.cwnd = self.mss;
        self.acked_accum = 0;
    }

    fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(self.mss);
    }

    fn undo(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.cwnd = self.cwnd.max(prior_cwnd);
        if prior_ssthresh > self.ssthresh {
            self.ssthresh = prior_ssthresh;
        }
    }

    fn restart(&mut self) {
        let iw = INIT_CWND_SEGS * self.mss;
        self.cwnd = self.cwnd.min(iw);
    }
}

/// Reno (RFC 5681) with byte counting.
#[derive(Debug, Clone)]
pub struct Reno {
    w: Window,
}

impl Reno {
    /// A fresh controller.
    pub fn new(mss: u32) -> Reno {
        Reno {
            w: Window::new(mss),
        }
    }
}

impl CongestionControl for Reno {
    fn name(&self) -> &'static str {
        "reno"
    }
    fn cwnd(&self) -> u32 {
        self.w.cwnd
    }
    fn ssthresh(&self) -> u32 {
        self.w.ssthresh
    }
    fn set_mss(&mut self, mss: u32) {
        let segs = (self.w.cwnd / self.w.mss).max(1);
        self.w.mss = mss.max(1);
        self.w.cwnd = segs * self.w.mss;
    }
    fn on_ack(&mut self, acked: u32, _rtt: Option<Duration>, _flight: u32, _now: Instant) {
        let mut acked = acked;
        if self.w.cwnd < self.w.ssthresh {
            acked = self.w.slow_start(acked);
            if acked == 0 {
                return;
            }
        }
        let cwnd = self.w.cwnd;
        self.w.avoid(cwnd, acked);
    }
    fn on_congestion_event(&mut self, flight: u32, _now: Instant) {
        self.w.ssthresh = (flight / 2).max(2 * self.w.mss);
        self.w.cwnd = self.w.ssthresh;
        self.w.acked_accum = 0;
    }
    fn on_recovery_exit(&mut self, _now: Instant) {
        self.w.cwnd = self.w.ssthresh;
    }
    fn on_rto(&mut self, flight: u32, _now: Instant) {
        self.w.on_rto(flight);
    }
    fn on_idle_restart(&mut self, _rto: Duration, _now: Instant) {
        self.w.restart();
    }
    fn set_cwnd(&mut self, cwnd: u32) {
        self.w.set_cwnd(cwnd);
    }
    fn undo_cwnd(&mut self, prior_cwnd: u32, prior_ssthresh: u32) {
        self.w.undo(prior_cwnd, prior_ssthresh);
    }
}

pub use super::cubic::Cubic;

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: u32 = 1000;

    /// One RTT: every segment of the window acknowledged one by one.
    fn round(cc: &mut dyn CongestionControl, now: Instant) {
        let segs = cc.cwnd() / MSS;
        for _ in 0..segs {
            cc.on_ack(MSS, Some(Duration::from_millis(100)), cc.cwnd(), now);
        }
    }

    #[test]
    fn slow_start_doubles_per_rtt() {
        for alg in [CcAlgorithm::Reno, CcAlgorithm::Cubic] {
            let mut cc = new_cc(alg, MSS);
            assert_eq!(cc.cwnd(), 10 * MSS);
            round(cc.as_mut(), Instant::ZERO);
            assert_eq!(cc.cwnd(), 20 * MSS, "{alg}");
            round(cc.as_mut(), Instant::ZERO);
            assert_eq!(cc.cwnd(), 40 * MSS, "{alg}");
        }
    }

    /// One round of ACKs for the whole window, each with RTT `rtt`, spaced `gap` apart,
    /// as the stack delivers them: `pkts_acked` then `on_ack`. `una`/`now` carry over.
    fn round_rtt(
        cc: &mut dyn CongestionControl,
        rtt: Duration,
        gap: Duration,
        una: &mut u32,
        now: &mut Instant,
    ) {
        let segs = cc.cwnd() / MSS;
        let nxt = *una + 2 * segs * MSS;
        for _ in 0..segs {
            *una += MSS;
            *now += gap;
            cc.pkts_acked(&AckSample {
                rtt: Some(rtt),
                snd_una: crate::wire::tcp::SeqNumber(*una),
                snd_nxt: crate::wire::tcp::SeqNumber(nxt),
                pacing_rate: 0,
                paced: false,
                now: *now,
            });
            cc.on_ack(MSS, Some(rtt), cc.cwnd(), *now);
        }
    }

    #[test]
    fn hystart_ends_slow_start_when_the_rtt_grows() {
        let run = |cc: &mut dyn CongestionControl, rtts: &[u64]| {
            let (mut una, mut now) = (0, Instant::ZERO + Duration::from_secs(1));
            for &ms in rtts {
                // ACKs 3 ms apart: never an ACK train.
                let gap = Duration::from_millis(3);
                round_rtt(cc, Duration::from_millis(ms), gap, &mut una, &mut now);
            }
        };
        let mut cc = Cubic::new(MSS);
        // Flat RTT: slow start keeps doubling.
        run(&mut cc, &[20, 20, 20]);
        assert_eq!(cc.cwnd(), 80 * MSS);
        assert_eq!(cc.ssthresh(), u32::MAX);
        // The queue builds: 20 ms → 25 ms is past delay_min + max(20/8, 4 ms).
        run(&mut cc, &[25, 25]);
        assert_ne!(cc.ssthresh(), u32::MAX, "slow start ended");
        assert_eq!((cc.hystart_exits(), cc.hystart_train_exits()), (1, 0));
        assert!(
            cc.cwnd() < 320 * MSS,
            "stopped doubling: {}",
            cc.cwnd() / MSS
        );
        // Off, the same rounds keep slow start going.
        let mut off = Cubic::new(MSS);
        off.set_hystart(false);
        run(&mut off, &[20, 20, 20, 25, 25]);
        assert_eq!(off.ssthresh(), u32::MAX);
        assert_eq!(off.cwnd(), 320 * MSS);
        // Jitter under the threshold (3 ms at 20 ms) does not end it either.
        let mut jit = Cubic::new(MSS);
        run(&mut jit, &[20, 20, 20, 23, 23]);
        assert_eq!(jit.ssthresh(), u32::MAX);
    }

    #[test]
    fn hystart_ends_slow_start_on_a_long_ack_train_at_a_short_rtt() {
        // A 0.1 ms path whose ACKs come back 10 µs apart (a full pipe): the train of a round
        // outlasts delay_min / 2 once the window is past the low window of 16.
        let mut cc = Cubic::new(MSS);
        let (mut una, mut now) = (0, Instant::ZERO + Duration::from_secs(1));
        let rtt = Duration::from_micros(100);
        for _ in 0..4 {
            round_rtt(&mut cc, rtt, Duration::from_micros(10), &mut una, &mut now);
        }
        assert_eq!((cc.hystart_exits(), cc.hystart_train_exits()), (0, 1));
        let ss = cc.ssthresh() / MSS;
        assert!((16..=40).contains(&ss), "slow start ended at {ss} segments");
        // Off: slow start runs on (16 times the initial window after 4 rounds).
        let mut off = Cubic::new(MSS);
        off.set_hystart(false);
        let (mut una, mut now) = (0, Instant::ZERO + Duration::from_secs(1));
        for _ in 0..4 {
            round_rtt(&mut off, rtt, Duration::from_micros(10), &mut una, &mut now);
        }
        assert_eq!(off.cwnd(), 160 * MSS);
    }

    #[test]
    fn reno_avoidance_adds_one_mss_per_rtt_and_halves_on_loss() {
        let mut cc = Reno::new(MSS);
        cc.on_congestion_event(40 * MSS, Instant::ZERO);
        assert_eq!(cc.ssthresh(), 20 * MSS);
        assert_eq!(cc.cwnd(), 20 * MSS);
        round(&mut cc, Instant::ZERO);
        assert_eq!(cc.cwnd(), 21 * MSS);
        round(&mut cc, Instant::ZERO);
        assert_eq!(cc.cwnd(), 22 * MSS);
        cc.on_rto(22 * MSS, Instant::ZERO);
        assert_eq!(cc.cwnd(), MSS);
        assert_eq!(cc.ssthresh(), 11 * MSS);
    }

    #[test]
    fn cubic_returns_to_wmax_near_k() {
        let mut cc = Cubic::new(MSS);
        // Grow to 100 segments, then lose.
        cc.set_cwnd(100 * MSS);
        cc.on_congestion_event(100 * MSS, Instant::ZERO);
        assert_eq!(cc.cwnd(), 70 * MSS);
        let k = (100.0f64 * 0.3 / 0.4).cbrt(); // ≈ 4.2 s
        let mut now = Instant::ZERO;
        let rtt = Duration::from_millis(100);
        let mut at_k = 0;
        for i in 0..80 {
            round(&mut cc, now);
            now += rtt;
            if (i as f64 + 1.0) * 0.1 >= k && at_k == 0 {
                at_k = cc.cwnd() / MSS;
            }
        }
        assert!((95..=106).contains(&at_k), "cwnd at K: {at_k}");
        assert!(
            cc.cwnd() / MSS > 110,
            "grows beyond W_max after K: {}",
            cc.cwnd() / MSS
        );
    }

    #[test]
    fn cubic_uses_the_reno_friendly_region_at_small_rtt() {
        let mut cubic = Cubic::new(MSS);
        let mut reno = Reno::new(MSS);
        cubic.set_cwnd(20 * MSS);
        reno.set_cwnd(20 * MSS);
        cubic.on_congestion_event(20 * MSS, Instant::ZERO);
        reno.on_congestion_event(28 * MSS, Instant::ZERO);
        let mut now = Instant::ZERO;
        for _ in 0..50 {
            cubic.on_ack(MSS, Some(Duration::from_micros(200)), 0, now);
            round(&mut cubic, now);
            round(&mut reno, now);
            now += Duration::from_micros(200);
        }
        // The cubic curve alone stays near 14 segments for seconds (K ≈ 2.5 s); the
        // Reno-friendly estimate grows ~0.53 segment per RTT from there (RFC 9438 4.3).
        assert!(
            cubic.cwnd() >= 35 * MSS,
            "cubic {} reno {}",
            cubic.cwnd(),
            reno.cwnd()
        );
        assert!(cubic.cwnd() < reno.cwnd());
    }

    #[test]
    fn names_parse() {
        assert_eq!("cubic".parse::<CcAlgorithm>(), Ok(CcAlgorithm::Cubic));
        assert!("vegas".parse::<CcAlgorithm>().is_err());
        assert_eq!(new_cc(CcAlgorithm::Reno, MSS).name(), "reno");
    }
}
