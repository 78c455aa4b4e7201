//! The sender's loss recovery state machine: when to enter fast recovery, how fast to send
//! during it (Proportional Rate Reduction, RFC 6937), the RTO's Loss state with F-RTO
//! (RFC 5682), undoing reductions that turn out spurious (Eifel, RFC 3522 / RFC 3708, and
//! D-SACK), the reordering degree, and NewReno for peers without SACK (RFC 6582).
//!
//! Linux: net/ipv4/tcp_input.c (`tcp_fastretrans_alert`, `tcp_enter_recovery`,
//! `tcp_cwnd_reduction`, `tcp_try_undo_*`, `tcp_process_loss`, `tcp_enter_loss`,
//! `tcp_check_sack_reordering`, `tcp_add_reno_sack`, `tcp_newreno_mark_lost`,
//! `tcp_process_tlp_ack`) and tcp_output.c (`tcp_cwnd_validate`, `tcp_is_cwnd_limited`).

use super::rtx_queue::{TCPCB_EVER_RETRANS, TCPCB_LOST, TCPCB_SACKED_ACKED};
use super::sock::TcpSock;
use crate::stats::TcpStats;
use crate::time::Instant;
use crate::wire::tcp::{SeqNumber, TcpFlags, TcpRepr};
use std::time::Duration;

/// The congestion-avoidance state. Linux: `enum tcp_ca_state` (`TCP_CA_Open`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum CaState {
    /// Nothing unusual.
    #[default]
    Open,
    /// SACKs or duplicate ACKs seen, no loss decided yet.
    Disorder,
    /// The window is being reduced for a reason other than loss (a repaired tail loss).
    Cwr,
    /// Fast recovery.
    Recovery,
    /// After a retransmission timeout.
    Loss,
}

impl CaState {
    /// Recovery or Loss.
    pub fn in_recovery_or_loss(self) -> bool {
        self >= CaState::Recovery
    }

    /// Open or CWR (where a tail loss probe may be scheduled).
    pub fn open_or_cwr(self) -> bool {
        matches!(self, CaState::Open | CaState::Cwr)
    }

    /// The name `ss` would print.
    pub fn name(self) -> &'static str {
        match self {
            CaState::Open => "open",
            CaState::Disorder => "disorder",
            CaState::Cwr => "cwr",
            CaState::Recovery => "recovery",
            CaState::Loss => "loss",
        }
    }
}

/// Which event the retransmission timer entry stands for. Linux: `icsk_pending`
/// (`ICSK_TIME_RETRANS`, `ICSK_TIME_REO_TIMEOUT`, `ICSK_TIME_LOSS_PROBE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum XmitTimer {
    /// The retransmission timeout.
    #[default]
    Retrans,
    /// RACK's reordering timer.
    ReoTimeout,
    /// The tail loss probe.
    LossProbe,
}

/// What an ACK did. Linux: the `FLAG_*` bits of tcp_input.c.
#[derive(Debug, Clone, Copy, Default)]
pub struct AckFlag {
    /// The segment carried data (`FLAG_DATA`).
    pub data: bool,
    /// It changed the send window (`FLAG_WIN_UPDATE`).
    pub win_update: bool,
    /// `snd_una` moved (`FLAG_SND_UNA_ADVANCED`).
    pub snd_una_advanced: bool,
    /// New data was acknowledged (`FLAG_DATA_ACKED`).
    pub data_acked: bool,
    /// New data was SACKed (`FLAG_DATA_SACKED`).
    pub data_sacked: bool,
    /// It carried a D-SACK (`FLAG_DSACKING_ACK`).
    pub dsack: bool,
    /// The D-SACK reports our loss probe's duplicate (`FLAG_DSACK_TLP`).
    pub dsack_tlp: bool,
    /// Never-retransmitted data was (S)ACKed (`FLAG_ORIG_SACK_ACKED`).
    pub orig_sack_acked: bool,
    /// Retransmissions were found lost again (`FLAG_LOST_RETRANS`).
    pub lost_retrans: bool,
}

impl AckFlag {
    /// `FLAG_NOT_DUP`: not a duplicate ACK.
    pub fn not_dup(&self) -> bool {
        self.data || self.win_update || self.data_acked
    }

    /// `FLAG_FORWARD_PROGRESS`.
    pub fn forward_progress(&self) -> bool {
        self.data_acked || self.data_sacked
    }
}

/// What to retransmit after an ACK. Linux: `REXMIT_NONE` / `REXMIT_LOST` / `REXMIT_NEW`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rexmit {
    /// Nothing special.
    None,
    /// The segments marked lost.
    Lost,
    /// New data first (F-RTO step 2b).
    New,
    /// The MTU probe was lost: resend what exceeds the MSS (`tcp_simple_retransmit`).
    MtuProbeLost,
}

impl TcpSock {
    /// Bytes in the network: outstanding, less SACKed and lost, plus retransmitted (RFC 6675
    /// "pipe"). Linux: `tcp_packets_in_flight` (in segments there).
    pub fn tcp_packets_in_flight(&self) -> u32 {
        (self.rtx.packets_out() + self.rtx.retrans_out)
            .saturating_sub(self.rtx.sacked_out + self.rtx.lost_out)
    }

    /// SACKed plus lost bytes. Linux: `tcp_left_out`.
    pub fn tcp_left_out(&self) -> u32 {
        self.rtx.sacked_out + self.rtx.lost_out
    }

    /// The peer does not SACK: duplicate ACKs stand in for SACKs. Linux: `tcp_is_reno`.
    pub fn tcp_is_reno(&self) -> bool {
        !self.sack_ok
    }

    /// Whether any retransmission may still be outstanding. Linux: `tcp_any_retrans_done`.
    pub fn tcp_any_retrans_done(&self) -> bool {
        self.rtx.retrans_out > 0
            || self
                .rtx
                .head()
                .is_some_and(|h| h.sacked & TCPCB_EVER_RETRANS != 0)
    }

    /// Start counting retransmissions for a possible undo. Linux: `tcp_init_undo`.
    pub fn tcp_init_undo(&mut self) {
        self.undo_marker = Some(self.snd_una);
        self.undo_retrans = if self.rtx.retrans_out > 0 {
            i64::from(self.rtx.retrans_out)
        } else {
            -1
        };
    }

    /// The ACK echoes a timestamp older than our first retransmission: the original got
    /// through (Eifel, RFC 3522). Linux: `tcp_packet_delayed`.
    pub fn tcp_packet_delayed(&self) -> bool {
        match (self.retrans_stamp, self.rcv_tsecr) {
            (Some(stamp), Some(ecr)) if self.ts_ok && ecr != 0 => {
                (ecr.wrapping_sub(stamp) as i32) < 0
            }
            _ => false,
        }
    }

    /// Every retransmission was unnecessary (all reported duplicate by D-SACK), or the ACK
    /// shows the originals arrived. Linux: `tcp_may_undo`.
    pub fn tcp_may_undo(&self) -> bool {
        self.undo_marker.is_some() && (self.undo_retrans == 0 || self.tcp_packet_delayed())
    }

    /// Put the window back as it was before the reduction. Linux:
    /// `tcp_undo_cwnd_reduction`.
    pub fn tcp_undo_cwnd_reduction(&mut self, unmark_loss: bool) {
        if unmark_loss {
            self.rtx.clear_lost();
        }
        if self.prior_ssthresh > 0 {
            self.cc.undo_cwnd(self.prior_cwnd, self.prior_ssthresh);
        }
        self.undo_marker = None;
        self.rack.advanced = true;
    }

    /// Full ACK of a recovery: undo if it was spurious, else leave. Returns true to hold
    /// the state (a NewReno sender waits for an ACK above `high_seq`). Linux:
    /// `tcp_try_undo_recovery`.
    pub fn tcp_try_undo_recovery(&mut self, stats: &mut TcpStats) -> bool {
        if self.tcp_may_undo() {
            self.tcp_undo_cwnd_reduction(false);
            if self.ca_state == super::fastretrans::CaState::Loss {
                stats.loss_undo += 1;
            } else {
                stats.full_undo += 1;
            }
        } else if self.rack.reo_wnd_persist > 0 {
            self.rack.reo_wnd_persist -= 1;
        }
        if self.snd_una == self.high_seq && self.tcp_is_reno() {
            if !self.tcp_any_retrans_done() {
                self.retrans_stamp = None;
                self.rto_stamp = None;
            }
            return true;
        }
        self.ca_state = CaState::Open;
        false
    }

    /// D-SACKs reported every retransmission a duplicate: undo. Linux: `tcp_try_undo_dsack`.
    pub fn tcp_try_undo_dsack(&mut self, stats: &mut TcpStats) -> bool {
        if self.undo_marker.is_some() && self.undo_retrans == 0 {
            self.rack.reo_wnd_persist =
                (self.rack.reo_wnd_persist + 1).min(super::recovery::TCP_RACK_RECOVERY_THRESH);
            self.tcp_undo_cwnd_reduction(false);
            stats.dsack_undo += 1;
            return true;
        }
        false
    }

    /// A partial ACK in recovery for data that was only delayed: note the reordering and,
    /// with no retransmission out, undo. Returns true when the caller should stop (clock out
    /// new data, mark nothing more lost). Linux: `tcp_try_undo_partial`.
    pub fn tcp_try_undo_partial(&mut self, prior_snd_una: SeqNumber, stats: &mut TcpStats) -> bool {
        if self.undo_marker.is_some() && self.tcp_packet_delayed() {
            self.tcp_check_sack_reordering(prior_snd_una, true, stats);
            if self.rtx.retrans_out > 0 {
                return true;
            }
            if !self.tcp_any_retrans_done() {
                self.retrans_stamp = None;
                self.rto_stamp = None;
            }
            self.tcp_undo_cwnd_reduction(true);
            stats.partial_undo += 1;
            self.tcp_try_keep_open();
        }
        false
    }

    /// Undo an RTO that the ACKs show was spurious (`frto_undo`: F-RTO decided so). Linux:
    /// `tcp_try_undo_loss`.
    pub fn tcp_try_undo_loss(&mut self, frto_undo: bool, stats: &mut TcpStats) -> bool {
        if frto_undo || self.tcp_may_undo() {
            self.tcp_undo_cwnd_reduction(true);
            stats.loss_undo += 1;
            if frto_undo {
                stats.spurious_rtos += 1;
            }
            self.retransmits = 0;
            self.rtt.reset_backoff();
            if frto_undo || !self.tcp_is_reno() {
                self.ca_state = CaState::Open;
            }
            return true;
        }
        false
    }

    /// Open, or Disorder while SACKs or retransmissions are outstanding. Linux:
    /// `tcp_try_keep_open`.
    pub fn tcp_try_keep_open(&mut self) {
        let state = if self.tcp_left_out() > 0 || self.tcp_any_retrans_done() {
            CaState::Disorder
        } else {
            CaState::Open
        };
        if self.ca_state != state {
            self.ca_state = state;
            self.high_seq = self.snd_nxt;
        }
    }

    /// Linux: `tcp_try_to_open`.
    pub fn tcp_try_to_open(&mut self) {
        if !self.tcp_any_retrans_done() {
            self.retrans_stamp = None;
            self.rto_stamp = None;
        }
        if self.ca_state != CaState::Cwr {
            self.tcp_try_keep_open();
        }
    }

    /// Begin a window reduction: remember the window, take the new ssthresh. Linux:
    /// `tcp_init_cwnd_reduction`.
    pub fn tcp_init_cwnd_reduction(&mut self, now: Instant) {
        self.high_seq = self.snd_nxt;
        self.tlp_high_seq = None;
        self.prior_cwnd = self.cc.cwnd();
        self.prr_delivered = 0;
        self.prr_out = 0;
        let flight = self.tcp_packets_in_flight();
        self.cc.on_congestion_event(flight, now);
        // PRR brings the window down ACK by ACK from where it was.
        self.cc.set_cwnd(self.prior_cwnd);
    }

    /// Congestion signalled without a loss (ECE): take the congestion control's ssthresh
    /// and bring the window down to it ACK by ACK, as in recovery, in the CWR state until
    /// everything sent so far is acknowledged; never undone. An ECE during a reduction or a
    /// recovery changes nothing. Linux: `tcp_enter_cwr` (with `tcp_init_cwnd_reduction`).
    pub fn tcp_enter_cwr(&mut self, now: Instant) {
        self.prior_ssthresh = 0;
        if self.ca_state >= CaState::Cwr {
            return;
        }
        self.undo_marker = None;
        self.high_seq = self.snd_nxt;
        self.tlp_high_seq = None;
        self.prior_cwnd = self.cc.cwnd();
        self.prr_delivered = 0;
        self.prr_out = 0;
        let flight = self.tcp_packets_in_flight();
        self.cc.on_cwr(flight, now);
        // PRR brings the window down from where it was (tcp_cwnd_reduction).
        self.cc.set_cwnd(self.prior_cwnd);
        self.ca_state = CaState::Cwr;
    }

    /// Proportional Rate Reduction (RFC 6937) with slow-start reduction bound: per ACK,
    /// send in proportion to what was delivered while the pipe is above ssthresh, then
    /// grow back towards ssthresh no faster than slow start. Linux: `tcp_cwnd_reduction`.
    pub fn tcp_cwnd_reduction(
        &mut self,
        newly_acked_sacked: u32,
        newly_lost: bool,
        una_advanced: bool,
    ) {
        if newly_acked_sacked == 0 || self.prior_cwnd == 0 {
            return;
        }
        let mss = self.mss.max(1);
        let ssthresh = self.cc.ssthresh();
        let flight = self.tcp_packets_in_flight();
        self.prr_delivered += newly_acked_sacked;
        let sndcnt = if flight > ssthresh {
            let dividend = u64::from(ssthresh) * u64::from(self.prr_delivered)
                + u64::from(self.prior_cwnd)
                - 1;
            ((dividend / u64::from(self.prior_cwnd)) as u32).saturating_sub(self.prr_out)
        } else {
            let delta = ssthresh - flight;
            let mut s = self
                .prr_delivered
                .saturating_sub(self.prr_out)
                .max(newly_acked_sacked);
            if una_advanced && !newly_lost {
                s += mss;
            }
            s.min(delta)
        };
        // Force a fast retransmit upon entering recovery.
        let sndcnt = sndcnt.max(if self.prr_out > 0 { 0 } else { mss });
        self.cc.set_cwnd(flight + sndcnt);
    }

    /// End a reduction: cwnd = ssthresh unless undone. Linux: `tcp_end_cwnd_reduction`.
    pub fn tcp_end_cwnd_reduction(&mut self, now: Instant) {
        if self.cc.ssthresh() != u32::MAX
            && (self.ca_state == CaState::Cwr || self.undo_marker.is_some())
        {
            self.cc.on_recovery_exit(now);
        }
    }

    /// The ssthresh to come back to on an undo: during a reduction the current one, else at
    /// least three quarters of cwnd. Linux: `tcp_current_ssthresh`.
    pub fn tcp_current_ssthresh(&self) -> u32 {
        let ssthresh = self.cc.ssthresh();
        if matches!(self.ca_state, CaState::Cwr | CaState::Recovery) {
            return ssthresh;
        }
        let cwnd = self.cc.cwnd();
        ssthresh.max((cwnd >> 1) + (cwnd >> 2))
    }

    /// Enter fast recovery. Linux: `tcp_enter_recovery`.
    pub fn tcp_enter_recovery(&mut self, now: Instant, stats: &mut TcpStats) {
        if self.tcp_is_reno() {
            stats.reno_recovery += 1;
        } else {
            stats.sack_recovery += 1;
        }
        stats.recoveries += 1;
        self.prior_ssthresh = 0;
        self.tcp_init_undo();
        if !matches!(self.ca_state, CaState::Cwr | CaState::Recovery) {
            self.prior_ssthresh = self.tcp_current_ssthresh();
            self.tcp_init_cwnd_reduction(now);
        }
        self.ca_state = CaState::Recovery;
    }

    /// Data at `low_seq` arrived after data above it: raise the reordering degree to the
    /// distance (in segments) to the highest SACK, at most `max_reordering`. Linux:
    /// `tcp_check_sack_reordering`.
    pub fn tcp_check_sack_reordering(
        &mut self,
        low_seq: SeqNumber,
        ts: bool,
        stats: &mut TcpStats,
    ) {
        let fack = self.tcp_highest_sack_seq();
        if low_seq >= fack {
            return;
        }
        let mss = self.mss.max(1);
        let metric = (fack - low_seq) as u32;
        if metric > self.reordering * mss {
            self.reordering = metric.div_ceil(mss).min(self.max_reordering);
        }
        self.reord_seen += 1;
        if ts {
            stats.ts_reorder += 1;
        } else {
            stats.sack_reorder += 1;
        }
    }

    /// A peer without SACK: more duplicate ACKs than holes could explain mean reordering.
    /// Linux: `tcp_limit_reno_sacked` + `tcp_check_reno_reordering`.
    fn tcp_check_reno_reordering(&mut self, stats: &mut TcpStats) {
        let mss = self.mss.max(1);
        let out = self.rtx.packets_out();
        let holes = self.rtx.lost_out.max(mss).min(out);
        if self.rtx.sacked_out + holes > out {
            self.rtx.sacked_out = out - holes;
            let segs = (out / mss).max(1);
            if segs + 1 > self.reordering {
                self.reordering = (segs + 1).min(self.max_reordering);
            }
            self.reord_seen += 1;
            stats.reno_reorder += 1;
        }
    }

    /// Count duplicate ACKs as SACKed segments. Linux: `tcp_add_reno_sack`.
    pub fn tcp_add_reno_sack(&mut self, num_dupack: u32, stats: &mut TcpStats) {
        if num_dupack == 0 {
            return;
        }
        let prior = self.rtx.sacked_out;
        self.rtx.sacked_out += num_dupack * self.mss.max(1);
        self.tcp_check_reno_reordering(stats);
        let added = self.rtx.sacked_out.saturating_sub(prior);
        self.delivered += u64::from(added);
        self.delivered_segs = self.delivered_segs.wrapping_add(added / self.mss.max(1));
    }

    /// A cumulative ACK of `acked` bytes takes back the duplicate ACKs counted for them
    /// (one segment is the hole it filled); what was not counted before is delivered now.
    /// Linux: `tcp_remove_reno_sacks`.
    pub fn tcp_remove_reno_sacks(&mut self, acked: u32) {
        let mss = self.mss.max(1);
        if acked > 0 {
            let fresh = acked
                .saturating_sub(self.rtx.sacked_out)
                .max(acked.min(mss));
            self.delivered += u64::from(fresh);
            // Linux: tcp_count_delivered(max(pkts_acked - sacked_out, 1)).
            let segs = acked
                .div_ceil(mss)
                .saturating_sub(self.rtx.sacked_out / mss)
                .max(1);
            self.delivered_segs = self.delivered_segs.wrapping_add(segs);
            let segs = acked.div_ceil(mss);
            if segs > self.rtx.sacked_out / mss {
                self.rtx.sacked_out = 0;
            } else {
                self.rtx.sacked_out -= (segs - 1) * mss;
            }
        }
    }

    /// Linux: `tcp_reset_reno_sack`.
    pub fn tcp_reset_reno_sack(&mut self) {
        self.rtx.sacked_out = 0;
    }

    /// NewReno: the head is lost once enough duplicate ACKs came in, or on a partial ACK
    /// in recovery (RFC 6582). Linux: `tcp_newreno_mark_lost`.
    fn tcp_newreno_mark_lost(&mut self, snd_una_advanced: bool) {
        let trigger = (self.ca_state < CaState::Recovery
            && self.rtx.sacked_out >= self.reordering * self.mss.max(1))
            || (self.ca_state == CaState::Recovery && snd_una_advanced);
        if !trigger {
            return;
        }
        let Some(&h) = self.rtx.head() else { return };
        if h.sacked & TCPCB_LOST != 0 {
            return;
        }
        let mss = self.mss.max(1);
        if h.len() > mss {
            self.rtx.tcp_fragment(0, h.seq + mss as usize);
        }
        self.rtx.tcp_mark_skb_lost(0);
    }

    /// Decide what is lost now: NewReno's rule without SACK, RACK with it. Returns the
    /// reordering timer RACK wants armed. Linux: `tcp_identify_packet_loss`.
    fn tcp_identify_packet_loss(
        &mut self,
        flag: &mut AckFlag,
        now: Instant,
        stats: &mut TcpStats,
    ) -> Option<Duration> {
        if self.rtx.is_empty() {
            return None;
        }
        if self.tcp_is_reno() {
            self.tcp_newreno_mark_lost(flag.snd_una_advanced);
            return None;
        }
        let (timer, lost_retrans) = self.tcp_rack_mark_lost(now);
        if lost_retrans > 0 {
            flag.lost_retrans = true;
            stats.lost_retransmit += u64::from(lost_retrans.div_ceil(self.mss.max(1)));
        }
        timer
    }

    /// Linux: `tcp_time_to_recover` (RACK marks the losses; without SACK, the duplicate ACK
    /// threshold does).
    fn tcp_time_to_recover(&self) -> bool {
        self.rtx.lost_out > 0
    }

    /// The ACK in the Loss state (after an RTO), with F-RTO (RFC 5682 section 3.1, the SACK
    /// variant): ACKs of never-retransmitted data prove the timeout spurious. Linux:
    /// `tcp_process_loss`.
    fn tcp_process_loss(
        &mut self,
        flag: &AckFlag,
        num_dupack: u32,
        stats: &mut TcpStats,
    ) -> Rexmit {
        let recovered = self.snd_una >= self.high_seq;
        if flag.snd_una_advanced && self.tcp_try_undo_loss(false, stats) {
            return Rexmit::None;
        }
        if self.frto {
            // Step 3.b: never-retransmitted data was (S)ACKed.
            if flag.orig_sack_acked && self.tcp_try_undo_loss(true, stats) {
                return Rexmit::None;
            }
            if self.snd_nxt > self.high_seq {
                // Step 3.a: new data went out and the hole is still there: loss was real.
                if flag.data_sacked || num_dupack > 0 {
                    self.frto = false;
                }
            } else if flag.snd_una_advanced && !recovered {
                self.high_seq = self.snd_nxt;
                // Step 2.b: send new data rather than retransmitting.
                let wnd_end = self.tcp_wnd_end();
                if self.data_end() > self.snd_nxt && wnd_end > self.snd_nxt {
                    return Rexmit::New;
                }
                self.frto = false;
            }
        }
        if recovered {
            // Step 2.a and the first part of 3.a.
            self.tcp_try_undo_recovery(stats);
            return Rexmit::None;
        }
        if self.tcp_is_reno() {
            if self.snd_nxt > self.high_seq && num_dupack > 0 {
                self.tcp_add_reno_sack(num_dupack, stats);
            } else if flag.snd_una_advanced {
                self.tcp_reset_reno_sack();
            }
        }
        Rexmit::Lost
    }

    /// The heart of loss recovery, run for every "dubious" ACK (duplicate, SACKing, or out
    /// of the Open state): leave a state whose end is acknowledged (undoing a spurious
    /// reduction), detect losses, enter recovery. Returns what to retransmit and RACK's
    /// reordering timer. Linux: `tcp_fastretrans_alert`.
    pub fn tcp_fastretrans_alert(
        &mut self,
        prior_snd_una: SeqNumber,
        num_dupack: u32,
        flag: &mut AckFlag,
        now: Instant,
        stats: &mut TcpStats,
    ) -> (Rexmit, Option<Duration>) {
        if self.rtx.is_empty() && self.rtx.sacked_out > 0 {
            self.rtx.sacked_out = 0;
        }
        // D. Exit conditions: the end of the episode is acknowledged.
        if self.ca_state == CaState::Open {
            self.retrans_stamp = None;
            self.rto_stamp = None;
        } else if self.snd_una >= self.high_seq {
            match self.ca_state {
                CaState::Cwr if self.snd_una != self.high_seq => {
                    self.tcp_end_cwnd_reduction(now);
                    self.ca_state = CaState::Open;
                }
                CaState::Recovery => {
                    if self.tcp_is_reno() {
                        self.tcp_reset_reno_sack();
                    }
                    if self.tcp_try_undo_recovery(stats) {
                        return (Rexmit::None, None);
                    }
                    self.tcp_end_cwnd_reduction(now);
                }
                _ => {}
            }
        }
        // E. Process the state.
        let mut reo = None;
        match self.ca_state {
            CaState::Recovery => {
                if !flag.snd_una_advanced {
                    if self.tcp_is_reno() {
                        self.tcp_add_reno_sack(num_dupack, stats);
                    }
                } else if self.tcp_try_undo_partial(prior_snd_una, stats) {
                    return (Rexmit::None, None);
                }
                if self.tcp_try_undo_dsack(stats) {
                    self.tcp_try_to_open();
                }
                reo = self.tcp_identify_packet_loss(flag, now, stats);
                if self.ca_state != CaState::Recovery {
                    if !self.tcp_time_to_recover() {
                        return (Rexmit::None, reo);
                    }
                    self.tcp_enter_recovery(now, stats);
                }
            }
            CaState::Loss => {
                let r = self.tcp_process_loss(flag, num_dupack, stats);
                reo = self.tcp_identify_packet_loss(flag, now, stats);
                if !(self.ca_state == CaState::Open || flag.lost_retrans) {
                    return (r, reo);
                }
                if let Some(r) =
                    self.tcp_fastretrans_default(num_dupack, flag, now, stats, &mut reo)
                {
                    return (r, reo);
                }
            }
            _ => {
                if let Some(r) =
                    self.tcp_fastretrans_default(num_dupack, flag, now, stats, &mut reo)
                {
                    return (r, reo);
                }
            }
        }
        (Rexmit::Lost, reo)
    }

    /// The default branch of [`TcpSock::tcp_fastretrans_alert`] (Open, Disorder, CWR, and a
    /// Loss state that was undone): `Some` to return early, `None` when recovery was entered.
    fn tcp_fastretrans_default(
        &mut self,
        num_dupack: u32,
        flag: &mut AckFlag,
        now: Instant,
        stats: &mut TcpStats,
        reo: &mut Option<Duration>,
    ) -> Option<Rexmit> {
        if self.tcp_is_reno() {
            if flag.snd_una_advanced {
                self.tcp_reset_reno_sack();
            }
            self.tcp_add_reno_sack(num_dupack, stats);
        }
        if self.ca_state <= CaState::Disorder {
            self.tcp_try_undo_dsack(stats);
        }
        if let Some(t) = self.tcp_identify_packet_loss(flag, now, stats) {
            *reo = Some(t);
        }
        if !self.tcp_time_to_recover() {
            self.tcp_try_to_open();
            return Some(Rexmit::None);
        }
        // The MTU probe was lost, not the path congested: no reduction; what does not fit
        // the MSS goes again in MSS-sized pieces. Linux: "MTU probe failure: don't reduce
        // cwnd" (tcp_mtup_probe_failed, then tcp_simple_retransmit).
        if self.tcp_mtup_probe_lost() {
            self.tcp_mtup_probe_failed(stats);
            return Some(Rexmit::MtuProbeLost);
        }
        self.tcp_enter_recovery(now, stats);
        None
    }

    /// The ACK of a tail loss probe: if the probe repaired a loss, reduce the window (CWR);
    /// if both original and probe arrived, nothing was lost. Linux: `tcp_process_tlp_ack`.
    pub fn tcp_process_tlp_ack(
        &mut self,
        ack: SeqNumber,
        flag: &AckFlag,
        now: Instant,
        stats: &mut TcpStats,
    ) {
        let Some(high) = self.tlp_high_seq else {
            return;
        };
        if ack < high {
            return;
        }
        if !self.tlp_retrans || flag.dsack_tlp {
            self.tlp_high_seq = None;
        } else if ack > high {
            // The probe repaired a loss: reduce the window once.
            self.tcp_init_cwnd_reduction(now);
            self.ca_state = CaState::Cwr;
            self.tcp_end_cwnd_reduction(now);
            self.tcp_try_keep_open();
            stats.loss_probe_recovery += 1;
        } else if !(flag.snd_una_advanced || flag.not_dup() || flag.data_sacked) {
            self.tlp_high_seq = None;
        }
    }

    /// A retransmission timeout: every segment not SACKed (and not sent too recently for
    /// RACK to call lost) is lost, cwnd drops to what is in flight plus one segment, the
    /// reduction is remembered for an undo, and F-RTO is armed. Linux: `tcp_enter_loss`
    /// with `tcp_timeout_mark_lost`.
    pub fn tcp_enter_loss(
        &mut self,
        frto: bool,
        sysctl_reordering: u32,
        now: Instant,
        stats: &mut TcpStats,
    ) {
        let new_recovery = self.ca_state < CaState::Recovery;
        // tcp_timeout_mark_lost.
        let reneged = self
            .rtx
            .head()
            .is_some_and(|h| h.sacked & TCPCB_SACKED_ACKED != 0);
        if reneged {
            stats.sack_reneging += 1;
            self.rtx.clear_sacked();
            self.highest_sack = None;
        } else if self.tcp_is_reno() {
            self.tcp_reset_reno_sack();
        }
        let reo_wnd_zero = Duration::ZERO;
        for i in 0..self.rtx.len() {
            let Some(&e) = self.rtx.get(i) else { break };
            if !reneged && i > 0 && self.rack.valid && !self.tcp_is_reno() {
                // Don't mark recently sent ones lost yet.
                if e.tstamp + self.rack.rtt + reo_wnd_zero > now {
                    continue;
                }
            }
            let lost = self.rtx.tcp_mark_skb_lost(i);
            stats.lost_retransmit += u64::from(lost.div_ceil(self.mss.max(1)));
        }
        // Reduce ssthresh unless already done in this window.
        if self.ca_state <= CaState::Disorder
            || self.high_seq <= self.snd_una
            || (self.ca_state == CaState::Loss && self.retransmits == 0)
        {
            self.prior_ssthresh = self.tcp_current_ssthresh();
            self.prior_cwnd = self.cc.cwnd();
            let flight = self.rtx.packets_out();
            self.cc.on_rto(flight, now);
            self.tcp_init_undo();
        }
        let flight = self.tcp_packets_in_flight();
        self.cc.set_cwnd(flight + self.mss.max(1));
        if self.ca_state <= CaState::Disorder
            && self.rtx.sacked_out >= sysctl_reordering * self.mss.max(1)
        {
            self.reordering = self.reordering.min(sysctl_reordering);
        }
        self.ca_state = CaState::Loss;
        self.high_seq = self.snd_nxt;
        self.tlp_high_seq = None;
        self.frto = frto && (new_recovery || self.retransmits > 0);
    }

    /// A duplicate ACK overtaken by a later one (its timestamp older than TS.Recent, but by no
    /// more than an RTO): PAWS lets it through, so the SACK and D-SACK news it carries reach loss
    /// recovery. A pure ACK at `rcv_nxt`, acknowledging `snd_una`, not updating the window.
    /// Linux: `tcp_disordered_ack` (net/ipv4/tcp_input.c).
    pub fn tcp_disordered_ack(&self, seg: &TcpRepr, tsval: u32) -> bool {
        let sk = self;
        let Some(ack) = seg.ack_number else {
            return false;
        };
        let window = u32::from(seg.window_len) << sk.snd_wscale;
        // tcp_may_update_window
        let may_update = ack > sk.snd_una
            || seg.seq_number > sk.snd_wl1
            || (seg.seq_number == sk.snd_wl1 && (window > sk.snd_wnd || sk.snd_wnd == 0));
        let rto_ms = sk.rtt.rto().as_millis().min(u128::from(u32::MAX)) as u32;
        seg.payload_len == 0
            && !seg
                .flags
                .intersects(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::RST)
            && seg.seq_number == sk.rcv_nxt
            && ack == sk.snd_una
            && !may_update
            && sk.ts_recent.wrapping_sub(tsval) <= rto_ms
    }

    /// Track whether the sender is using its window, per window of data. Linux:
    /// `tcp_cwnd_validate`.
    pub fn tcp_cwnd_validate(&mut self, is_cwnd_limited: bool) {
        let out = self.rtx.packets_out();
        if self.snd_una >= self.cwnd_usage_seq
            || is_cwnd_limited
            || (!self.is_cwnd_limited && out > self.max_packets_out)
        {
            self.is_cwnd_limited = is_cwnd_limited;
            self.max_packets_out = out;
            self.cwnd_usage_seq = self.snd_nxt;
        }
    }

    /// Whether the window may grow: in slow start while less than twice what was in flight,
    /// else only when sending was limited by the window. Linux: `tcp_is_cwnd_limited`.
    pub fn tcp_is_cwnd_limited(&self) -> bool {
        let cwnd = self.cc.cwnd();
        if cwnd < self.cc.ssthresh() {
            return cwnd < 2 * self.max_packets_out;
        }
        self.is_cwnd_limited
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp::rtx_queue::{
        TCPCB_EVER_RETRANS, TCPCB_SACKED_ACKED, TCPCB_SACKED_RETRANS,
    };
    use crate::transport::tcp::sock::{TcpConfig, TcpState};

    /// An established SACK sender with ten 1000-byte segments outstanding from seq 1000.
    fn sender() -> TcpSock {
        let mut sk = TcpSock::new(&TcpConfig::default(), 65536, 65536);
        sk.state = TcpState::Established;
        sk.sack_ok = true;
        sk.mss = 1000;
        sk.cc.set_mss(1000);
        sk.iss = SeqNumber(999);
        sk.snd_una = SeqNumber(1000);
        sk.snd_nxt = SeqNumber(11000);
        sk.snd_max = sk.snd_nxt;
        sk.snd_wnd = 65535;
        for k in 0..10u32 {
            sk.rtx.push(
                SeqNumber(1000 + k * 1000),
                SeqNumber(2000 + k * 1000),
                false,
                Instant::from_millis(u64::from(k)),
            );
        }
        sk
    }

    #[test]
    fn dsack_of_every_retransmission_undoes_the_recovery() {
        let mut sk = sender();
        let mut st = TcpStats::default();
        let now = Instant::from_millis(50);
        let cwnd = sk.cc.cwnd();
        sk.tcp_enter_recovery(now, &mut st);
        assert_eq!((st.sack_recovery, sk.ca_state), (1, CaState::Recovery));
        // Three segments SACKed, the head lost: PRR lets the pipe fall to ssthresh (7).
        for i in 1..4 {
            sk.rtx.set_bits(i, TCPCB_SACKED_ACKED);
        }
        sk.rtx.tcp_mark_skb_lost(0);
        sk.tcp_cwnd_reduction(3000, false, false);
        assert_eq!(sk.cc.cwnd(), 7000, "PRR reduced the window");
        // The head is retransmitted.
        sk.rtx
            .set_bits(0, TCPCB_LOST | TCPCB_SACKED_RETRANS | TCPCB_EVER_RETRANS);
        sk.undo_retrans = 1000;
        // The peer reports the retransmission a duplicate while acknowledging it.
        let blocks = [Some((SeqNumber(1000), SeqNumber(2000))), None, None, None];
        let tag = sk.tcp_sacktag_write_queue(&blocks, SeqNumber(2000), now, &mut st);
        assert!(tag.dsack);
        assert_eq!((st.dsack_recv, sk.dsack_dups, sk.undo_retrans), (1, 1, 0));
        assert!(sk.rack.dsack_seen);
        assert!(sk.tcp_try_undo_dsack(&mut st));
        assert_eq!(st.dsack_undo, 1);
        assert!(sk.cc.cwnd() >= cwnd, "the window is back");
        assert_eq!(sk.undo_marker, None);
    }

    #[test]
    fn sack_blocks_split_records_at_segment_boundaries_and_reveal_reordering() {
        let mut sk = sender();
        let mut st = TcpStats::default();
        let now = Instant::from_millis(30);
        // A block covering half of record 3 and all of 4..6: only whole segments count.
        let blocks = [Some((SeqNumber(4500), SeqNumber(7000))), None, None, None];
        let tag = sk.tcp_sacktag_write_queue(&blocks, SeqNumber(1000), now, &mut st);
        assert_eq!(tag.newly_sacked, 2000);
        assert_eq!(sk.rtx.sacked_out, 2000);
        assert_eq!(sk.tcp_highest_sack_seq(), SeqNumber(7000));
        // Record 2 arrives late: SACKed below the highest SACK, never retransmitted.
        let blocks = [
            Some((SeqNumber(3000), SeqNumber(4000))),
            Some((SeqNumber(5000), SeqNumber(7000))),
            None,
            None,
        ];
        let tag = sk.tcp_sacktag_write_queue(&blocks, SeqNumber(1000), now, &mut st);
        assert_eq!(tag.reord, Some(SeqNumber(3000)));
        sk.tcp_check_sack_reordering(SeqNumber(3000), false, &mut st);
        assert_eq!((sk.reordering, sk.reord_seen, st.sack_reorder), (4, 1, 1));
        assert_eq!(sk.tcp_packets_in_flight(), 10_000 - 3000);
        assert!(sk.rtx.counts_consistent());
        // A block beyond what was sent is ignored and counted.
        let blocks = [Some((SeqNumber(9000), SeqNumber(12000))), None, None, None];
        sk.tcp_sacktag_write_queue(&blocks, SeqNumber(1000), now, &mut st);
        assert_eq!((st.sack_discard, sk.rtx.sacked_out), (1, 3000));
    }

    #[test]
    fn rto_marks_everything_lost_and_cwnd_restarts_at_one_segment() {
        let mut sk = sender();
        let mut st = TcpStats::default();
        let now = Instant::from_millis(300);
        sk.tcp_enter_loss(true, 3, now, &mut st);
        assert_eq!(sk.ca_state, CaState::Loss);
        assert_eq!(sk.rtx.lost_out, 10_000);
        assert_eq!(sk.tcp_packets_in_flight(), 0);
        assert_eq!(sk.cc.cwnd(), 1000);
        assert!(sk.frto);
        assert_eq!(sk.undo_marker, Some(SeqNumber(1000)));
    }

    #[test]
    fn an_overtaken_duplicate_ack_passes_paws_and_nothing_else_does() {
        let mut sk = TcpSock::new(&TcpConfig::default(), 65536, 65536);
        sk.state = TcpState::Established;
        (sk.snd_una, sk.rcv_nxt, sk.snd_wl1) = (SeqNumber(5000), SeqNumber(700), SeqNumber(700));
        sk.snd_wnd = 65535;
        sk.ts_recent = 5000;
        let seg = TcpRepr {
            src_port: 1,
            dst_port: 2,
            flags: TcpFlags::ACK,
            seq_number: SeqNumber(700),
            ack_number: Some(SeqNumber(5000)),
            window_len: 65535,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [Some((SeqNumber(6000), SeqNumber(7000))), None, None, None],
            timestamp: Some((4990, 0)),
            payload_len: 0,
            fastopen: None,
        };
        assert!(sk.tcp_disordered_ack(&seg, 4990));
        // Older than an RTO (1 s before the first RTT sample): dropped as PAWS says.
        assert!(!sk.tcp_disordered_ack(&seg, 3999));
        // Acknowledging new data, or carrying data, or opening the window: not a dupack.
        let new_ack = TcpRepr {
            ack_number: Some(SeqNumber(6000)),
            ..seg
        };
        assert!(!sk.tcp_disordered_ack(&new_ack, 4990));
        let data = TcpRepr {
            payload_len: 10,
            ..seg
        };
        assert!(!sk.tcp_disordered_ack(&data, 4990));
        sk.snd_wnd = 1000;
        assert!(!sk.tcp_disordered_ack(&seg, 4990));
    }
}
