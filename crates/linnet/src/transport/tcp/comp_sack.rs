//! SACK compression: when out-of-order data keeps arriving behind the same hole, the receiver
//! answers the first three segments at once (the duplicate ACKs a sender counts for fast
//! retransmit), then holds the following SACKs back for a moment (5% of the round trip, at
//! most `tcp_comp_sack_delay_ns`, plus the timer's `tcp_comp_sack_slack_ns`) or until
//! `tcp_comp_sack_nr` are held, and sends one ACK carrying all of them.
//!
//! Held SACKs are ACK clock in reserve: when the sender retransmits the hole, the SACKs of
//! what it sent before still arrive after the retransmission and let it send new data behind
//! it, so a lost retransmission is detected by RACK rather than by a retransmission timeout.
//! A receiver that SACKs every segment at once leaves the sender nothing to send after the
//! retransmission when its window is small (issue 14: a Linux sender through 5% loss took
//! three to four times as many timeouts against such a receiver as against Linux).
//!
//! Linux: net/ipv4/tcp_input.c (the out-of-order branch of `__tcp_ack_snd_check`,
//! `tcp_sack_compress_send_ack`, `TCP_SACK_BLOCKS_EXPECTED` in `tcp_sack_new_ofo_skb`),
//! tcp_timer.c (`tcp_compressed_ack_kick`), tcp_output.c (`tcp_event_ack_sent`).

use super::sock::{TcpSock, TcpState};
use crate::core::sock::SockId;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::tcp::SeqNumber;
use std::time::Duration;

/// Duplicate ACKs always sent at once before SACKs are compressed. Linux:
/// `TCP_FASTRETRANS_THRESH`.
pub const TCP_FASTRETRANS_THRESH: u32 = 3;

/// The SACK blocks a sender is expected to have heard of (an ACK carrying SACKs may be lost,
/// so two rather than the three that fit): out-of-order data that lands in a block further
/// down the list, or opens a new one behind two others, first flushes the held ACK. Linux:
/// `TCP_SACK_BLOCKS_EXPECTED`.
pub const TCP_SACK_BLOCKS_EXPECTED: usize = 2;

/// `net.ipv4.tcp_comp_sack_nr` (44): most SACKs held back; 0 turns compression off.
pub const COMP_SACK_NR: u32 = 44;
/// `net.ipv4.tcp_comp_sack_delay_ns` (1 ms): longest a SACK is held.
pub const COMP_SACK_DELAY: Duration = Duration::from_millis(1);
/// `net.ipv4.tcp_comp_sack_slack_ns` (100 us): the slack of Linux's compression hrtimer,
/// which fires at the end of its range unless something else wakes the CPU in it.
pub const COMP_SACK_SLACK: Duration = Duration::from_micros(100);

/// How the ACK for an out-of-order segment goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfoAck {
    /// At once.
    Now,
    /// Held back until the compression timer (or any other ACK) sends it.
    Compressed,
}

impl TcpSock {
    /// Decide the ACK of out-of-order data (with a SACK block to report): at once in quick-ACK
    /// mode, without SACK, for the first `TCP_FASTRETRANS_THRESH` segments behind the same
    /// `RCV.NXT`, or once `nr` are held; otherwise held back, arming the compression timer
    /// at 5% of the round trip (the receiver's estimate, or the smoothed RTT if shorter), at
    /// most `delay`, plus `slack`. Linux: the out-of-order branch of `__tcp_ack_snd_check`.
    pub fn tcp_ofo_ack_check(
        &mut self,
        nr: u32,
        delay: Duration,
        slack: Duration,
        now: Instant,
    ) -> OfoAck {
        if self.quickack > 0 && !self.pingpong {
            self.quickack -= 1;
            return OfoAck::Now;
        }
        if !self.sack_ok || self.compressed_ack >= nr {
            return OfoAck::Now;
        }
        if self.compressed_ack_rcv_nxt != Some(self.rcv_nxt) {
            self.compressed_ack_rcv_nxt = Some(self.rcv_nxt);
            self.dup_ack_counter = 0;
        }
        if self.dup_ack_counter < TCP_FASTRETRANS_THRESH {
            self.dup_ack_counter += 1;
            return OfoAck::Now;
        }
        self.compressed_ack += 1;
        if self.compressed_ack_at.is_none() {
            let mut rtt_us = u64::from(self.rcv_rtt_us8 >> 3);
            if let Some(srtt) = self.rtt.srtt() {
                let s = srtt.as_micros() as u64;
                if s > 0 && s < rtt_us {
                    rtt_us = s;
                }
            }
            let wait = Duration::from_nanos(rtt_us * 1000 / 20).min(delay);
            self.compressed_ack_at = Some(now + wait + slack);
        }
        OfoAck::Compressed
    }

    /// An ACK is going out: it carries whatever was held back. Returns how many held ACKs it
    /// replaces (Linux counts them as `TCPAckCompressed`). Linux: `tcp_event_ack_sent`.
    pub fn tcp_event_ack_sent_compressed(&mut self) -> u32 {
        self.compressed_ack_at = None;
        std::mem::take(&mut self.compressed_ack)
    }
}

impl Stack {
    /// Send the held ACK now, if any (out-of-order data landed where the sender may not
    /// have heard of it). Linux: `tcp_sack_compress_send_ack`.
    pub(crate) fn tcp_sack_compress_send_ack(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.compressed_ack == 0 {
            return;
        }
        // The ACK sent is one of those held: it is not counted as compressed.
        sk.compressed_ack -= 1;
        self.tcp_send_ack(id, now);
    }

    /// Out-of-order data `[seq, end)` arrived (queued, or already held): report it in the
    /// SACK blocks and decide its ACK. A segment that lands beyond the blocks the sender is
    /// expected to know of first sends the held ACK, with the blocks as they were. Linux:
    /// `tcp_sack_new_ofo_skb` (from `tcp_data_queue_ofo`'s `add_sack`), then
    /// `tcp_ack_snd_check`.
    pub(crate) fn tcp_ofo_sack_and_ack(
        &mut self,
        id: SockId,
        seq: SeqNumber,
        end: SeqNumber,
        now: Instant,
    ) {
        let c = &self.config.tcp;
        let (nr, delay, slack) = (c.comp_sack_nr, c.comp_sack_delay, c.comp_sack_slack);
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.sack_ok {
            if sk.compressed_ack > 0 && sk.rx_sack.block_for(seq, end) >= TCP_SACK_BLOCKS_EXPECTED {
                self.tcp_sack_compress_send_ack(id, now);
            }
            let Ok(sk) = self.sockets.tcp_mut(id) else {
                return;
            };
            sk.rx_sack.tcp_sack_new_ofo_skb(seq, end);
        }
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if sk.tcp_ofo_ack_check(nr, delay, slack, now) == OfoAck::Now {
            sk.ack_now = true;
        }
    }

    /// The compression timer fired: send the held ACK. Linux: `tcp_compressed_ack_kick`.
    pub(crate) fn tcp_compressed_ack_kick(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        sk.compressed_ack_at = None;
        if !sk.state.is_synchronized() || sk.state == TcpState::TimeWait {
            sk.compressed_ack = 0;
            return;
        }
        self.tcp_sack_compress_send_ack(id, now);
    }
}
