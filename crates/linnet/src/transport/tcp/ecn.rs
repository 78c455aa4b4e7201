//! Explicit Congestion Notification for TCP (RFC 3168), as Linux does it.
//!
//! Linux: the `tcp_ecn_*` helpers of net/ipv4/tcp_input.c and tcp_output.c, with
//! `tcp_enter_cwr`. Negotiation: the active opener asks with ECE|CWR on its first SYN (only
//! with `net.ipv4.tcp_ecn = 1`; retransmitted SYNs go without, `tcp_ecn_fallback`), the
//! passive side agrees with ECE on the SYN-ACK (with `tcp_ecn` 1 or 2, Linux's default 2
//! only accepts). On an ECN connection new data goes out ECT(0) in the IP header (pure ACKs,
//! SYNs and retransmissions not-ECT); a receiver that sees CE echoes ECE on every segment
//! until a data segment with CWR arrives; the sender reduces its window once per window of
//! data on ECE and sets CWR on its next new data segment.
//!
//! Connections opened by a SYN cookie do not use ECN (Linux keeps the bit in the timestamp;
//! Linnet's cookies do not carry it).

use super::sock::TcpSock;
use crate::core::sock::SockId;
use crate::stack::Stack;
use crate::stats::TcpStats;
use crate::time::Instant;
use crate::wire::tcp::{SeqNumber, TcpFlags, TcpRepr};

/// ECN field of the IP header: not ECN-capable transport.
pub const INET_ECN_NOT_ECT: u8 = 0;
/// ECN field: ECT(0), what TCP sends.
pub const INET_ECN_ECT_0: u8 = 2;
/// ECN field: congestion experienced.
pub const INET_ECN_CE: u8 = 3;
/// The ECN bits of the TOS byte.
pub const INET_ECN_MASK: u8 = 3;

/// One connection's ECN state. Linux: `tp->ecn_flags` (`TCP_ECN_OK`, `TCP_ECN_QUEUE_CWR`,
/// `TCP_ECN_DEMAND_CWR`, `TCP_ECN_SEEN`) and the `high_seq` of the CWR state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpEcn {
    /// ECN negotiated (or asked for, in SYN-SENT).
    pub ok: bool,
    /// Set CWR on the next new data segment.
    pub queue_cwr: bool,
    /// A CE mark was seen: set ECE on everything until the peer's CWR.
    pub demand_cwr: bool,
    /// ECT or CE seen on a received segment.
    pub seen: bool,
    /// In the CWR state: the window was reduced for ECE, not again until this is acked.
    pub cwr_high: Option<SeqNumber>,
    /// End of the highest data sent so far: data starting there or beyond is new.
    pub sent_high: Option<SeqNumber>,
}

/// What the first SYN of an active open asks for. Linux: `tcp_ecn_send_syn`.
/// `first`: not a retransmission (retransmitted SYNs go without ECE|CWR, Linux's
/// `tcp_ecn_fallback` default, in case a middlebox drops ECN SYNs).
pub fn tcp_ecn_send_syn(sk: &mut TcpSock, sysctl_ecn: u8, first: bool) -> TcpFlags {
    if first {
        sk.ecn.ok = sysctl_ecn == 1;
    }
    if sk.ecn.ok && first {
        TcpFlags(TcpFlags::ECE.0 | TcpFlags::CWR.0)
    } else {
        TcpFlags(0)
    }
}

/// ECE on a SYN-ACK of a connection that agreed to ECN. Linux: `tcp_ecn_make_synack`.
pub fn tcp_ecn_make_synack(sk: &TcpSock) -> TcpFlags {
    if sk.ecn.ok {
        TcpFlags::ECE
    } else {
        TcpFlags(0)
    }
}

/// The SYN-ACK answers our request: ECN only if it carries ECE and not CWR.
/// Linux: `tcp_ecn_rcv_synack`.
pub fn tcp_ecn_rcv_synack(sk: &mut TcpSock, seg: &TcpRepr) {
    if sk.ecn.ok && (!seg.flags.contains(TcpFlags::ECE) || seg.flags.contains(TcpFlags::CWR)) {
        sk.ecn.ok = false;
    }
}

/// A SYN in SYN-SENT (simultaneous open): ECN only if it asks with ECE and CWR.
/// Linux: `tcp_ecn_rcv_syn`.
pub fn tcp_ecn_rcv_syn(sk: &mut TcpSock, seg: &TcpRepr) {
    if sk.ecn.ok && !(seg.flags.contains(TcpFlags::ECE) && seg.flags.contains(TcpFlags::CWR)) {
        sk.ecn.ok = false;
    }
}

/// Whether a connection request agrees to ECN: the SYN asks with ECE|CWR, `tcp_ecn` is 1 or
/// 2, and the SYN itself is not ECN-capable in IP (RFC 3168 6.1.1: a SYN must be not-ECT; one
/// that is was mangled on the way). Linux: `tcp_ecn_create_request`.
pub fn tcp_ecn_create_request(sysctl_ecn: u8, seg: &TcpRepr, ip_ecn: u8) -> bool {
    let th_ecn = seg.flags.contains(TcpFlags::ECE) && seg.flags.contains(TcpFlags::CWR);
    th_ecn && sysctl_ecn != 0 && ip_ecn & INET_ECN_MASK == INET_ECN_NOT_ECT
}

/// The ECN marks of an outgoing segment: the IP ECN field and TCP flags to add. New data is
/// ECT(0) and carries a queued CWR; ACKs and retransmissions are not-ECT; ECE goes on every
/// segment while the peer owes us a CWR. Linux: `tcp_ecn_send` (with `INET_ECN_xmit` /
/// `INET_ECN_dontxmit`).
pub fn tcp_ecn_send(
    sk: &mut TcpSock,
    seq: SeqNumber,
    flags: TcpFlags,
    data_len: usize,
) -> (u8, TcpFlags) {
    if !sk.ecn.ok || flags.contains(TcpFlags::SYN) {
        return (INET_ECN_NOT_ECT, TcpFlags(0));
    }
    let mut add = TcpFlags(0);
    let mut ect = INET_ECN_NOT_ECT;
    if data_len > 0 {
        let end = seq + data_len;
        let new = sk.ecn.sent_high.is_none_or(|h| seq >= h);
        if new {
            ect = INET_ECN_ECT_0;
            if sk.ecn.queue_cwr {
                sk.ecn.queue_cwr = false;
                add.insert(TcpFlags::CWR);
            }
        }
        if sk.ecn.sent_high.is_none_or(|h| end > h) {
            sk.ecn.sent_high = Some(end);
        }
    }
    if sk.ecn.demand_cwr {
        add.insert(TcpFlags::ECE);
    }
    (ect, add)
}

/// Whether an ACK echoes congestion: ECE, not on a SYN, on an ECN connection.
/// Linux: `tcp_ecn_rcv_ecn_echo` (`FLAG_ECE`).
pub fn tcp_ecn_rcv_ecn_echo(sk: &TcpSock, seg: &TcpRepr) -> bool {
    sk.ecn.ok && seg.flags.contains(TcpFlags::ECE) && !seg.flags.contains(TcpFlags::SYN)
}

/// Whether the window may grow on this ACK: not while a reduction for ECE runs (until data
/// beyond its start is acknowledged), nor on an ACK that echoes congestion, which starts one.
/// Linux: `tcp_cong_control` skipping `cong_avoid` in `TCP_CA_CWR`.
pub fn tcp_ecn_may_raise_cwnd(sk: &TcpSock, seg: &TcpRepr, ack: SeqNumber) -> bool {
    !tcp_ecn_rcv_ecn_echo(sk, seg) && sk.ecn.cwr_high.is_none_or(|h| ack > h)
}

impl Stack {
    /// The ECN side of a received segment on a synchronized connection, before the segment
    /// is processed (so a quick ACK it calls for is the one it gets): a data segment with
    /// CWR ends our ECE echo and is ACKed at once (`tcp_ecn_accept_cwr`); CE on a data
    /// segment starts the echo and quick ACKs; not-ECT after ECT was seen is probably a
    /// retransmission and quick-ACKed too (`tcp_ecn_check_ce`).
    /// Linux: `tcp_ecn_accept_cwr` + `__tcp_ecn_check_ce` (net/ipv4/tcp_input.c).
    pub(crate) fn tcp_ecn_check_ce(&mut self, id: SockId, ip_ecn: u8, seg: &TcpRepr) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !sk.ecn.ok || !sk.state.is_synchronized() || seg.payload_len == 0 {
            return;
        }
        if seg.flags.contains(TcpFlags::CWR) {
            sk.ecn.demand_cwr = false;
            sk.ack_now = true;
        }
        match ip_ecn & INET_ECN_MASK {
            INET_ECN_NOT_ECT => {
                if sk.ecn.seen {
                    sk.quickack = sk.quickack.max(2);
                }
            }
            INET_ECN_CE => {
                if !sk.ecn.demand_cwr {
                    // Better not delay ACKs: the sender may have a very small window.
                    sk.quickack = sk.quickack.max(2);
                    sk.ecn.demand_cwr = true;
                }
                sk.ecn.seen = true;
                self.tcp.stats.ecn_ce_rcvd += 1;
            }
            _ => sk.ecn.seen = true,
        }
    }
}

/// The ECN side of an ACK, after its SACK and loss processing and before its congestion
/// control (so the ACK that echoes congestion takes the reduction's first PRR step, as in
/// Linux): the end of our CWR echo once data beyond the reduction point is acknowledged,
/// and on ECE (not on a SYN) a window reduction unless one is under way or loss recovery
/// runs. Linux: `tcp_ecn_rcv_ecn_echo` (`FLAG_ECE`) → `tcp_fastretrans_alert` →
/// `tcp_try_to_open` → `tcp_enter_cwr`, with `tcp_ecn_queue_cwr`.
pub fn tcp_ecn_ack(sk: &mut TcpSock, seg: &TcpRepr, now: Instant, stats: &mut TcpStats) {
    if !sk.ecn.ok {
        return;
    }
    // Held until something *above* the reduction point is acknowledged: the data at it
    // carries our CWR, and ECE on ACKs of what came before is for the same congestion.
    if let Some(high) = sk.ecn.cwr_high {
        if sk.snd_una > high {
            sk.ecn.cwr_high = None;
        }
    }
    if tcp_ecn_rcv_ecn_echo(sk, seg) {
        stats.ecn_ece_rcvd += 1;
        if sk.ecn.cwr_high.is_none() && !sk.in_recovery() {
            // PRR brings the window down to the new ssthresh ACK by ACK in the CWR state
            // (not an instant cut and a silence); CWR goes on the next new data.
            sk.tcp_enter_cwr(now);
            sk.ecn.cwr_high = Some(sk.snd_nxt);
            sk.ecn.queue_cwr = true;
            stats.ecn_cwr += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp::sock::{TcpConfig, TcpState};

    fn sock() -> TcpSock {
        let mut sk = TcpSock::new(&TcpConfig::default(), 4096, 4096);
        sk.state = TcpState::Established;
        sk
    }

    fn flags(f: &[TcpFlags]) -> TcpFlags {
        TcpFlags(f.iter().fold(0, |a, x| a | x.0))
    }

    fn syn(f: TcpFlags) -> TcpRepr {
        TcpRepr {
            src_port: 1,
            dst_port: 2,
            flags: f,
            seq_number: SeqNumber(0),
            ack_number: None,
            window_len: 0,
            max_seg_size: None,
            window_scale: None,
            sack_permitted: false,
            sack_ranges: [None; 4],
            timestamp: None,
            payload_len: 0,
            fastopen: None,
        }
    }

    #[test]
    fn negotiation_follows_the_sysctl_and_the_peer() {
        let mut sk = sock();
        // Linux's default 2: never asks.
        assert_eq!(tcp_ecn_send_syn(&mut sk, 2, true), TcpFlags(0));
        assert!(!sk.ecn.ok);
        // 1: asks on the first SYN only.
        assert_eq!(
            tcp_ecn_send_syn(&mut sk, 1, true),
            flags(&[TcpFlags::ECE, TcpFlags::CWR])
        );
        assert_eq!(tcp_ecn_send_syn(&mut sk, 1, false), TcpFlags(0));
        assert!(sk.ecn.ok);
        // A SYN-ACK with ECE|CWR (a reflector) is not agreement.
        let mut s2 = sk.clone_ecn();
        tcp_ecn_rcv_synack(
            &mut s2,
            &syn(flags(&[TcpFlags::SYN, TcpFlags::ECE, TcpFlags::CWR])),
        );
        assert!(!s2.ecn.ok);
        tcp_ecn_rcv_synack(&mut sk, &syn(flags(&[TcpFlags::SYN, TcpFlags::ECE])));
        assert!(sk.ecn.ok);
        // Passive side: agrees with 1 or 2, only to ECE|CWR, only on a not-ECT SYN.
        let ask = syn(flags(&[TcpFlags::SYN, TcpFlags::ECE, TcpFlags::CWR]));
        assert!(tcp_ecn_create_request(2, &ask, INET_ECN_NOT_ECT));
        assert!(tcp_ecn_create_request(1, &ask, INET_ECN_NOT_ECT));
        assert!(!tcp_ecn_create_request(0, &ask, INET_ECN_NOT_ECT));
        assert!(!tcp_ecn_create_request(2, &ask, INET_ECN_ECT_0));
        assert!(!tcp_ecn_create_request(
            2,
            &syn(flags(&[TcpFlags::SYN, TcpFlags::ECE])),
            0
        ));
    }

    #[test]
    fn new_data_is_ect0_with_one_cwr_and_the_rest_is_not_ect() {
        let mut sk = sock();
        sk.ecn.ok = true;
        let a = TcpFlags::ACK;
        // Pure ACK.
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(1), a, 0),
            (INET_ECN_NOT_ECT, TcpFlags(0))
        );
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(1), a, 1000),
            (INET_ECN_ECT_0, TcpFlags(0))
        );
        sk.ecn.queue_cwr = true;
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(1001), a, 1000),
            (INET_ECN_ECT_0, TcpFlags::CWR)
        );
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(2001), a, 1000).1,
            TcpFlags(0)
        );
        // A retransmission is not-ECT and carries no CWR.
        sk.ecn.queue_cwr = true;
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(1001), a, 1000),
            (INET_ECN_NOT_ECT, TcpFlags(0))
        );
        assert!(sk.ecn.queue_cwr);
        // ECE on everything while we demand CWR.
        sk.ecn.demand_cwr = true;
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(3001), a, 0),
            (INET_ECN_NOT_ECT, TcpFlags::ECE)
        );
        // Without ECN, nothing.
        sk.ecn.ok = false;
        assert_eq!(
            tcp_ecn_send(&mut sk, SeqNumber(3001), a, 10),
            (INET_ECN_NOT_ECT, TcpFlags(0))
        );
    }

    impl TcpSock {
        fn clone_ecn(&self) -> TcpSock {
            let mut s = sock();
            s.ecn = self.ecn;
            s
        }
    }
}
