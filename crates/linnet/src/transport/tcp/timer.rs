//! TCP timers: retransmission, zero-window probe, delayed ACK, keepalive, TIME-WAIT and the
//! FIN-WAIT-2 timeout of orphans.
//!
//! Linux: net/ipv4/tcp_timer.c (`tcp_retransmit_timer`, `tcp_probe_timer`,
//! `tcp_delack_timer_handler`, `tcp_keepalive_timer`) and tcp_minisocks.c (TIME-WAIT).
//!
//! Each socket keeps its own deadlines; the stack keeps one heap entry per socket at its
//! earliest deadline (`Stack::tcp_sched`), so a poll costs O(log n) per due socket.

use super::fastretrans::{CaState, XmitTimer};
use super::rtx_queue::TCPCB_SACKED_ACKED;
use super::sock::TcpState;
use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::time::Instant;
use std::cmp::Reverse;

/// The earlier of two optional deadlines.
#[inline(always)]
fn earlier(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (Some(x), None) => Some(x),
        (None, y) => y,
    }
}

impl Stack {
    /// Make sure the timer heap holds an entry at the socket's earliest deadline.
    pub(crate) fn tcp_sched(&mut self, id: SockId) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        // Pairwise in registers (an array of options walked by an iterator went through the
        // stack, and its reload stalled on the stores just made).
        let next = earlier(
            earlier(sk.rto_at, sk.persist_at),
            earlier(earlier(sk.delack_at, sk.keepalive_at), sk.tw_at),
        );
        let next = earlier(earlier(next, sk.pacing.timer), sk.compressed_ack_at);
        let Some(t) = next else { return };
        if sk.scheduled_at.is_none_or(|s| t < s) {
            sk.scheduled_at = Some(t);
            self.tcp.timers.push(Reverse((t, id)));
        }
    }

    /// Run the timers that are due; returns the next deadline. Linux: the timer wheel firing
    /// `tcp_write_timer` / `tcp_delack_timer` / `tcp_keepalive_timer`.
    pub(crate) fn tcp_timers_run(&mut self, now: Instant) -> Option<Instant> {
        // Bounded per call: a socket re-armed for `now` waits for the next poll.
        for _ in 0..100_000 {
            let Some(&Reverse((t, id))) = self.tcp.timers.peek() else {
                break;
            };
            if t > now {
                break;
            }
            self.tcp.timers.pop();
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                continue;
            };
            if sk.scheduled_at != Some(t) {
                continue; // stale entry
            }
            sk.scheduled_at = None;
            self.tcp_timer(id, now);
            self.tcp_sched(id);
        }
        self.tcp.timers.peek().map(|Reverse((t, _))| *t)
    }

    /// Everything due on one socket.
    fn tcp_timer(&mut self, id: SockId, now: Instant) {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if due(sk.tw_at) {
            sk.tw_at = None;
            if sk.state == TcpState::FinWait2 {
                self.tcp.stats.abort_on_linger += 1;
            }
            self.tcp_done(id);
            return;
        }
        if due(sk.rto_at) {
            sk.rto_at = None;
            match std::mem::take(&mut sk.xmit_timer) {
                XmitTimer::Retrans => self.tcp_retransmit_timer(id, now),
                XmitTimer::ReoTimeout => self.tcp_rack_reo_timeout(id, now),
                XmitTimer::LossProbe => self.tcp_send_loss_probe(id, now),
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if due(sk.persist_at) {
            sk.persist_at = None;
            if sk.tcp_probe_timer_expired(now) {
                self.tcp.stats.abort_on_timeout += 1;
                self.tcp_reset(id, Errno::ETIMEDOUT);
                return;
            }
            sk.probes += 1;
            if sk.snd_wnd == 0 {
                self.tcp.stats.win_probes += 1;
                self.tcp_send_probe(id, now);
            } else {
                // A window too small for a full segment: send what fits (the SWS override).
                sk.force_push = true;
            }
            // tcp_write_xmit re-arms the timer (with backoff) while the window stays shut.
            self.tcp_write_xmit(id, now);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if due(sk.pacing.timer) {
            self.tcp_pace_kick(id, now);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if due(sk.compressed_ack_at) {
            self.tcp_compressed_ack_kick(id, now);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if due(sk.delack_at) {
            sk.delack_at = None;
            if sk.rcv_unacked_segs > 0 || sk.ack_now {
                // Delayed ACK missed: leave interactive mode. Linux:
                // tcp_delack_timer_handler (inet_csk_exit_pingpong_mode).
                sk.pingpong = false;
                self.tcp.stats.delayed_acks += 1;
                self.tcp_send_ack(id, now);
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if due(sk.keepalive_at) {
            sk.keepalive_at = None;
            self.tcp_keepalive_timer(id, now);
        }
    }

    /// The retransmission timer fired. Linux: `tcp_retransmit_timer` (+ `tcp_write_timeout`).
    fn tcp_retransmit_timer(&mut self, id: SockId, now: Instant) {
        let cfg_syn = self.config.tcp.syn_retries;
        let cfg_synack = self.config.tcp.synack_retries;
        let cfg_retries2 = self.config.tcp.retries2;
        let frto = self.config.tcp.frto;
        let reordering = self.config.tcp.reordering;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        match sk.state {
            TcpState::SynSent | TcpState::SynReceived => {
                let limit = if sk.state == TcpState::SynSent {
                    // Linux: icsk_syn_retries ? : sysctl_tcp_syn_retries.
                    if sk.syn_count != 0 {
                        u32::from(sk.syn_count)
                    } else {
                        cfg_syn
                    }
                } else {
                    cfg_synack
                };
                if sk.syn_retries == 0 {
                    let rto = sk.rtt.rto();
                    sk.tcp_mark_retrans_stamp(rto, now);
                }
                if sk.tcp_write_timeout(sk.syn_retries, limit, now) {
                    self.tcp.stats.attempt_fails += 1;
                    self.tcp.stats.abort_on_timeout += 1;
                    self.tcp_reset(id, Errno::ETIMEDOUT);
                    return;
                }
                sk.syn_retries += 1;
                sk.rtt.backoff();
                sk.rtt_seq = None;
                sk.total_retrans += 1;
                self.tcp.stats.retrans_segs += 1;
                self.tcp.stats.timeouts += 1;
                self.tcp_send_syn(id, now);
            }
            TcpState::Closed | TcpState::Listen | TcpState::TimeWait => {}
            _ => {
                if sk.rtx.is_empty() {
                    return;
                }
                let rto = sk.rtt.rto();
                sk.tcp_mark_retrans_stamp(rto, now);
                if sk.tcp_write_timeout(sk.retransmits, cfg_retries2, now) {
                    self.tcp.stats.abort_on_timeout += 1;
                    if matches!(sk.state, TcpState::Established | TcpState::CloseWait) {
                        self.tcp.stats.estab_resets += 1;
                    }
                    self.tcp_reset(id, Errno::ETIMEDOUT);
                    return;
                }
                // Timeouts on and on: perhaps a black hole for our larger segments. Linux:
                // tcp_write_timeout → tcp_mtu_probing once retries1 are used up (counted in
                // retransmissions here, as for retries2).
                if sk.retransmits >= super::mtup::TCP_RETRIES1 {
                    sk.tcp_mtu_probing(&self.config.tcp, now);
                }
                let stats = &mut self.tcp.stats;
                stats.timeouts += 1;
                if sk.retransmits == 0 {
                    match sk.ca_state {
                        CaState::Recovery if sk.sack_ok => stats.sack_recovery_fail += 1,
                        CaState::Recovery => stats.reno_recovery_fail += 1,
                        CaState::Loss => stats.loss_failures += 1,
                        _ if sk.ca_state == CaState::Disorder || sk.rtx.sacked_out > 0 => {
                            if sk.sack_ok {
                                stats.sack_failures += 1;
                            } else {
                                stats.reno_failures += 1;
                            }
                        }
                        _ => {}
                    }
                }
                sk.tcp_enter_loss(frto, reordering, now, stats);
                sk.retransmits += 1;
                sk.rtt_seq = None;
                sk.rtt.backoff();
                let mss = sk.mss as usize;
                // Retransmit the head (a zero window makes it the probe). Linux:
                // tcp_retransmit_skb(sk, tcp_rtx_queue_head(sk), 1).
                if self.tcp_retransmit_skb(id, 0, mss, false, now) {
                    self.tcp.stats.slow_start_retrans += 1;
                }
                let Ok(sk) = self.sockets.tcp_mut(id) else {
                    return;
                };
                sk.rto_at = Some(now + sk.tcp_clamp_rto_to_user_timeout(sk.rtt.rto(), now));
                sk.xmit_timer = XmitTimer::Retrans;
            }
        }
    }

    /// RACK's reordering timer: segments waited out the reordering window and are lost now;
    /// enter recovery if not in it and retransmit them. Linux: `tcp_rack_reo_timeout`.
    fn tcp_rack_reo_timeout(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.rtx.is_empty() {
            return;
        }
        let stats = &mut self.tcp.stats;
        let prior_inflight = sk.tcp_packets_in_flight();
        let (timeout, lost) = sk.tcp_rack_detect_loss(now);
        stats.lost_retransmit += u64::from(lost.div_ceil(sk.mss.max(1)));
        let mut rearm = None;
        if timeout > std::time::Duration::ZERO {
            rearm = Some(now + timeout + super::recovery::TCP_TIMEOUT_MIN);
        }
        if prior_inflight != sk.tcp_packets_in_flight() {
            if sk.ca_state != CaState::Recovery {
                sk.tcp_enter_recovery(now, stats);
                sk.tcp_cwnd_reduction(sk.mss.max(1), false, false);
            }
            self.tcp_xmit_retransmit_queue(id, now);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if let Some(at) = rearm {
            sk.rto_at = Some(at);
            sk.xmit_timer = XmitTimer::ReoTimeout;
        } else if sk.xmit_timer != XmitTimer::Retrans || sk.rto_at.is_none() {
            sk.xmit_timer = XmitTimer::ReoTimeout;
            self.tcp_rearm_rto(id, now);
        }
    }

    /// The tail loss probe: send one new segment if the windows allow, else retransmit the
    /// last one (its last MSS), so that the peer's ACK (with SACK) reveals a tail loss
    /// without waiting for the RTO. Linux: `tcp_send_loss_probe` (RFC 8985 section 7.3).
    fn tcp_send_loss_probe(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.rtx.is_empty() {
            return self.tcp_rearm_rto(id, now);
        }
        if sk.tlp_high_seq.is_some() {
            sk.xmit_timer = XmitTimer::LossProbe;
            return self.tcp_rearm_rto(id, now);
        }
        sk.tlp_retrans = false;
        let mss = sk.current_mss().max(1);
        let wnd_end = sk.tcp_wnd_end();
        let new_data = sk.data_end() > sk.snd_nxt
            && wnd_end >= sk.snd_nxt + mss.min((sk.data_end() - sk.snd_nxt) as u32) as usize;
        let mut sent = false;
        if new_data {
            let before = sk.snd_nxt;
            // The probe may exceed cwnd by one segment (Linux: push_one = 2).
            let cwnd = sk.cc.cwnd();
            let need = sk.tcp_packets_in_flight() + mss;
            if cwnd < need {
                sk.cc.set_cwnd(need);
            }
            self.tcp_write_xmit_new(id, now, false);
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return;
            };
            if cwnd < need {
                sk.cc.set_cwnd(cwnd);
            }
            sent = sk.snd_nxt > before;
        } else {
            let last = sk.rtx.len() - 1;
            let Some(&e) = sk.rtx.get(last) else { return };
            if e.sacked & TCPCB_SACKED_ACKED == 0 {
                let mut i = last;
                if e.len() > mss {
                    // Probe with the last segment only.
                    let at = e.end_seq - (e.len() - (e.len() - 1) / mss * mss) as usize;
                    sk.rtx.tcp_fragment(last, at);
                    i = last + 1;
                }
                if self.tcp_retransmit_skb(id, i, mss as usize, false, now) {
                    sent = true;
                    if let Ok(sk) = self.sockets.tcp_mut(id) {
                        sk.tlp_retrans = true;
                    }
                }
            }
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sent {
            sk.tlp_high_seq = Some(sk.snd_nxt);
            self.tcp.stats.loss_probes += 1;
            sk.xmit_timer = XmitTimer::Retrans;
        } else {
            sk.xmit_timer = XmitTimer::LossProbe;
        }
        self.tcp_rearm_rto(id, now);
    }

    /// Keepalive. Linux: `tcp_keepalive_timer`.
    fn tcp_keepalive_timer(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !sk.keepalive
            || !matches!(
                sk.state,
                TcpState::Established | TcpState::CloseWait | TcpState::FinWait2
            )
        {
            return;
        }
        let idle = now.saturating_since(sk.last_rcv);
        if idle < sk.keep_idle && sk.keepalive_probes_sent == 0 {
            sk.keepalive_at = Some(sk.last_rcv + sk.keep_idle);
            return;
        }
        if sk.keepalive_probes_sent > 0 && now.saturating_since(sk.last_rcv) < sk.keep_intvl {
            // Heard from the peer since the last probe.
            sk.keepalive_probes_sent = 0;
            sk.keepalive_at = Some(sk.last_rcv + sk.keep_idle);
            return;
        }
        if sk.keepalive_probes_sent >= sk.keep_cnt {
            self.tcp.stats.abort_on_timeout += 1;
            self.tcp_send_active_reset(id, now);
            self.tcp_reset(id, Errno::ETIMEDOUT);
            return;
        }
        sk.keepalive_probes_sent += 1;
        sk.keepalive_at = Some(now + sk.keep_intvl);
        self.tcp.stats.keepalive_probes += 1;
        self.tcp_send_probe(id, now);
    }
}
