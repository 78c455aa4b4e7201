//! Pacing in the stack: segments leave no faster than the congestion control's pacing rate,
//! each one's departure time advanced by its length over the rate; `tcp_write_xmit` stops
//! while the next departure time is in the future and the pacing timer resumes it. Bursts
//! (TSO/GSO super-segments) are sized to about a millisecond of the rate.
//!
//! Linux: `tcp_pacing_check`, `tcp_update_skb_after_send` (with the `tcp_wstamp_ns` update of
//! `__tcp_transmit_skb`), `tcp_pace_kick` (the pacing hrtimer) and `tcp_tso_autosize`
//! (net/ipv4/tcp_output.c). Linux paces internally only when the congestion control asks for
//! it (`SK_PACING_NEEDED`, BBR) and no `fq` qdisc does it; so here: only when
//! [`super::cong::CongestionControl::pacing_rate`] is `Some`.

use super::bbr::PACING_SHIFT;
use super::sock::TcpSock;
use crate::core::sock::SockId;
use crate::stack::Stack;
use crate::time::Instant;

/// Segments sent before pacing starts (Linux: the `tp->data_segs_out >= 10` of
/// `tcp_update_skb_after_send`: the initial window goes out at once).
const UNPACED_SEGS: u64 = 10;

/// Largest burst, bytes (Linux: `sk_gso_max_size`, 64 KiB).
const GSO_MAX_SIZE: u64 = 65536;

/// A connection's pacing state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacing {
    /// Earliest departure time of the next segment, ns. Linux: `tp->tcp_wstamp_ns`.
    pub wstamp_ns: u64,
    /// The pacing timer: output resumes then. Linux: `tp->pacing_timer`.
    pub timer: Option<Instant>,
    /// Data segments sent. Linux: `tp->data_segs_out`.
    pub data_segs_out: u64,
}

impl TcpSock {
    /// The rate to pace at, bytes per second, when the stack paces this connection.
    /// Linux: `tcp_needs_internal_pacing` with `sk_pacing_rate`.
    pub fn tcp_pacing_rate(&self) -> Option<u64> {
        self.cc.pacing_rate().filter(|&r| r > 0)
    }

    /// Largest burst in bytes at the pacing rate: about 1 ms of it (`rate >> sk_pacing_shift`),
    /// plus a share of 64 KiB on short paths, at least `min_tso_segs` segments, whole
    /// segments. Unlimited when not pacing. Linux: `tcp_tso_autosize`.
    pub fn tcp_tso_autosize(&self, mss: usize) -> usize {
        let Some(rate) = self.tcp_pacing_rate() else {
            return usize::MAX;
        };
        let mut bytes = rate >> PACING_SHIFT;
        // Linux: `tcp_min_rtt >> sysctl_tcp_tso_rtt_log` (9): below ~512 µs of RTT, more.
        let r = self.rtt.srtt().map_or(64, |d| (d.as_micros() as u64) >> 9);
        if r < 64 {
            bytes += GSO_MAX_SIZE >> r;
        }
        let bytes = bytes.min(GSO_MAX_SIZE) as usize;
        let segs = (bytes / mss.max(1)).max(self.cc.min_tso_segs() as usize);
        segs * mss
    }

    /// A segment of `len` bytes (TCP header and payload) leaves at `now`: the departure time
    /// moves on by its length at the pacing rate, less up to half of that as credit for time
    /// the sender was late. Linux: `__tcp_transmit_skb`'s `tcp_wstamp_ns` update and
    /// `tcp_update_skb_after_send`.
    pub fn tcp_update_skb_after_send(&mut self, len: usize, now: Instant) {
        let Some(rate) = self.tcp_pacing_rate() else {
            return;
        };
        let now_ns = now.total_micros().saturating_mul(1000);
        let prior = self.pacing.wstamp_ns;
        self.pacing.wstamp_ns = prior.max(now_ns);
        self.pacing.data_segs_out += 1;
        if self.pacing.data_segs_out < UNPACED_SEGS {
            return;
        }
        let mut len_ns = (len as u64).saturating_mul(1_000_000_000) / rate;
        let credit = self.pacing.wstamp_ns - prior;
        len_ns -= (len_ns / 2).min(credit);
        self.pacing.wstamp_ns = self.pacing.wstamp_ns.saturating_add(len_ns);
    }
}

impl Stack {
    /// Whether pacing holds the next segment back; if so the pacing timer is armed for its
    /// departure time. Linux: `tcp_pacing_check`.
    pub(crate) fn tcp_pacing_check(&mut self, id: SockId, now: Instant) -> bool {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return false;
        };
        if sk.tcp_pacing_rate().is_none() {
            return false;
        }
        let now_ns = now.total_micros().saturating_mul(1000);
        if sk.pacing.wstamp_ns <= now_ns {
            return false;
        }
        if sk.pacing.timer.is_none() {
            sk.pacing.timer = Some(Instant::from_micros(sk.pacing.wstamp_ns.div_ceil(1000)));
        }
        true
    }

    /// The pacing timer fired: send what is due. Linux: `tcp_pace_kick` → `tcp_tsq_handler`
    /// → `tcp_write_xmit`.
    pub(crate) fn tcp_pace_kick(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        sk.pacing.timer = None;
        self.tcp_write_xmit(id, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp::cong::{new_cc, CcAlgorithm};
    use crate::transport::tcp::sock::TcpConfig;

    #[test]
    fn departures_follow_the_rate_after_the_initial_window() {
        let mut sk = TcpSock::new(&TcpConfig::default(), 4096, 4096);
        assert_eq!(sk.tcp_pacing_rate(), None, "CUBIC is not paced");
        assert_eq!(sk.tcp_tso_autosize(1000), usize::MAX);
        sk.tcp_update_skb_after_send(1000, Instant::from_millis(1));
        assert_eq!(sk.pacing, Pacing::default());
        sk.cc = new_cc(CcAlgorithm::Bbr, 1000);
        let rate = sk.tcp_pacing_rate().expect("BBR paces");
        let t = Instant::from_millis(5);
        for _ in 0..UNPACED_SEGS - 1 {
            sk.tcp_update_skb_after_send(1000, t);
        }
        assert_eq!(
            sk.pacing.wstamp_ns, 5_000_000,
            "the initial window is not paced"
        );
        sk.tcp_update_skb_after_send(1000, t);
        sk.tcp_update_skb_after_send(1000, t);
        let gap = 1000 * 1_000_000_000 / rate;
        assert_eq!(sk.pacing.wstamp_ns, 5_000_000 + 2 * gap);
        // Late by more than a gap: half of the next one is forgiven, no more.
        let late = Instant::from_micros((sk.pacing.wstamp_ns + 10 * gap) / 1000);
        sk.tcp_update_skb_after_send(1000, late);
        let now_ns = late.total_micros() * 1000;
        assert_eq!(sk.pacing.wstamp_ns, now_ns + gap - gap / 2);
        // Bursts: about 1 ms of the rate, at least two segments.
        let burst = sk.tcp_tso_autosize(1000);
        assert!(burst >= 2000 && burst.is_multiple_of(1000), "{burst}");
    }
}
