//! `TCP_USER_TIMEOUT`: how long transmitted data may stay unacknowledged (or a zero window
//! stay shut while we probe it) before the connection is dropped with `ETIMEDOUT`; the
//! retransmission and probe timers are clamped so that they fire when it runs out.
//!
//! Linux: `retransmits_timed_out`, `tcp_write_timeout`, `tcp_probe_timer`,
//! `tcp_clamp_rto_to_user_timeout` (net/ipv4/tcp_timer.c) and
//! `tcp_clamp_probe0_to_user_timeout`.

use super::sock::TcpSock;
use crate::time::Instant;
use std::time::Duration;

/// The shortest a clamped timer waits. Linux: `TCP_TIMEOUT_MIN` (2 jiffies).
const TCP_TIMEOUT_MIN: Duration = Duration::from_millis(2);

impl TcpSock {
    /// Note the first retransmission when no retransmission noted it yet (the SYN's): the
    /// user timeout runs from when it was first sent (the timer that fired was armed then,
    /// `rto` ago). Linux: `tp->retrans_stamp`
    /// set in `tcp_retransmit_skb` from the skb's send time.
    pub(crate) fn tcp_mark_retrans_stamp(&mut self, rto: Duration, now: Instant) {
        if self.rto_stamp.is_none() {
            let rto = u64::try_from(rto.as_micros()).unwrap_or(u64::MAX);
            self.rto_stamp = Some(Instant::from_micros(now.total_micros().saturating_sub(rto)));
        }
    }

    /// Whether the retransmissions have gone on long enough to give up: `count` retries
    /// reached the limit, or, with `TCP_USER_TIMEOUT` set, the time since the first
    /// retransmitted segment was sent reached it (then for a synchronized connection only
    /// the time counts). Linux: `tcp_write_timeout` → `retransmits_timed_out`.
    pub(crate) fn tcp_write_timeout(&self, count: u32, limit: u32, now: Instant) -> bool {
        let synchronized = self.state.is_synchronized();
        if self.user_timeout.is_zero() {
            return count >= limit;
        }
        if !synchronized && count >= limit {
            return true;
        }
        if self.retransmits == 0 && synchronized {
            return false;
        }
        self.rto_stamp
            .is_some_and(|t| now.saturating_since(t) >= self.user_timeout)
    }

    /// The next retransmission timeout, cut short so that it fires when the user timeout
    /// runs out. Linux: `tcp_clamp_rto_to_user_timeout`.
    pub(crate) fn tcp_clamp_rto_to_user_timeout(&self, rto: Duration, now: Instant) -> Duration {
        let Some(start) = self.rto_stamp.filter(|_| !self.user_timeout.is_zero()) else {
            return rto;
        };
        let elapsed = now.saturating_since(start);
        match self.user_timeout.checked_sub(elapsed) {
            Some(rest) if !rest.is_zero() => rto.min(rest),
            _ => Duration::from_millis(1), // passed: fire as soon as possible
        }
    }

    /// The zero-window probe timer fired: whether to give up because probing has gone on
    /// for the user timeout (counted from the first probe). Linux: `tcp_probe_timer`'s
    /// `icsk_probes_tstamp` test.
    pub(crate) fn tcp_probe_timer_expired(&mut self, now: Instant) -> bool {
        if self.probes == 0 || self.probes_tstamp.is_none() {
            self.probes_tstamp = Some(now);
            return false;
        }
        !self.user_timeout.is_zero()
            && self
                .probes_tstamp
                .is_some_and(|t| now.saturating_since(t) >= self.user_timeout)
    }

    /// The next probe interval, cut short so that it fires when the user timeout runs out
    /// (at least [`TCP_TIMEOUT_MIN`]). Linux: `tcp_clamp_probe0_to_user_timeout`.
    pub(crate) fn tcp_clamp_probe0_to_user_timeout(
        &self,
        when: Duration,
        now: Instant,
    ) -> Duration {
        let Some(start) = self.probes_tstamp.filter(|_| !self.user_timeout.is_zero()) else {
            return when;
        };
        if self.probes == 0 {
            return when;
        }
        let rest = self
            .user_timeout
            .saturating_sub(now.saturating_since(start));
        when.min(rest.max(TCP_TIMEOUT_MIN))
    }
}
