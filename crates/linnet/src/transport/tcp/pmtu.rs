//! TCP's answer to a smaller path MTU (RFC 1191 section 6.3, RFC 1122 4.2.2.6): when ICMP
//! "fragmentation needed" reports that a segment was too big, the send MSS shrinks to fit the
//! new path MTU and what is outstanding is sent again at once, without waiting for the
//! retransmission timer and without touching the congestion window (the amount of data in
//! the network did not change, only its packaging).
//!
//! Linux: net/ipv4/tcp_ipv4.c (`tcp_v4_mtu_reduced`), tcp_output.c (`tcp_mtu_to_mss`,
//! `tcp_sync_mss`), tcp_input.c (`tcp_simple_retransmit`).

use super::fastretrans::CaState;
use super::sock::{TcpSock, TcpState};
use crate::core::sock::SockId;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ipv4::HEADER_LEN as IP_HEADER_LEN;

/// TCP header without options.
const TCP_HEADER_LEN: u32 = 20;
/// Smallest send MSS, whatever the path MTU claims. Linux: `TCP_MIN_SND_MSS`.
pub const TCP_MIN_SND_MSS: u32 = 48;

/// Payload bytes per segment for a path MTU: the IPv4 and TCP headers come off (never more
/// than the peer's MSS is left), and the option bytes every segment carries (timestamp,
/// MD5). Linux: `tcp_mtu_to_mss` (`__tcp_mtu_to_mss`).
pub fn tcp_mtu_to_mss(sk: &TcpSock, pmtu: usize) -> u32 {
    let pmtu = u32::try_from(pmtu).unwrap_or(u32::MAX);
    let mss = pmtu
        .saturating_sub(IP_HEADER_LEN as u32 + TCP_HEADER_LEN)
        .min(sk.mss_clamp);
    mss.saturating_sub(sk.tcp_header_opts_len())
        .max(TCP_MIN_SND_MSS)
}

impl Stack {
    /// "Fragmentation needed" for connection `id`, with the next-hop MTU `mtu`: record the
    /// path MTU towards the peer, and if the MSS must shrink, shrink it and resend what is
    /// outstanding. Linux: `tcp_v4_mtu_reduced`.
    pub(crate) fn tcp_v4_mtu_reduced(&mut self, id: SockId, mtu: u32, now: Instant) {
        let Ok(sk) = self.sockets.tcp(id) else {
            return;
        };
        if matches!(sk.state, TcpState::Listen | TcpState::Closed) {
            return;
        }
        let dst = sk.inet_daddr();
        let Some(pmtu) = self.ip_rt_update_pmtu(dst, mtu, now) else {
            return;
        };
        if self.tcp_fastopen_syn_too_big(id, pmtu, now) {
            return;
        }
        // Sized for a larger path MTU before (or never sized, as a connection set up
        // before its first route): size it for this one and resend what no longer fits.
        let pmtu = self.tcp_mtu_cap(pmtu) as u32;
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        let cookie = match sk.mtup.pmtu_cookie {
            0 => u32::MAX,
            c => c,
        };
        if cookie > pmtu {
            sk.tcp_sync_mss(pmtu);
            self.tcp_simple_retransmit(id, now);
        }
    }

    /// Resend what no longer fits: records larger than the new MSS are marked lost and
    /// retransmitted in MSS-sized pieces; the congestion window is left alone (the data in
    /// flight did not grow, only its units shrank). Linux: `tcp_simple_retransmit`.
    pub(crate) fn tcp_simple_retransmit(&mut self, id: SockId, now: Instant) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !sk.state.is_synchronized() || sk.rtx.is_empty() {
            return;
        }
        let mss = sk.mss;
        for i in 0..sk.rtx.len() {
            if sk.rtx.get(i).is_some_and(|e| e.data_len() > mss) {
                sk.rtx.tcp_mark_skb_lost(i);
            }
        }
        if sk.rtx.lost_out == 0 {
            return;
        }
        if sk.ca_state != CaState::Loss {
            sk.high_seq = sk.snd_nxt;
            sk.prior_ssthresh = 0;
            sk.undo_marker = None;
            sk.ca_state = CaState::Loss;
        }
        sk.rtt_seq = None;
        self.tcp_xmit_retransmit_queue(id, now);
        self.tcp_sched(id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::tcp::TcpConfig;

    #[test]
    fn mss_for_a_path_mtu() {
        let mut sk = TcpSock::new(&TcpConfig::default(), 65536, 65536);
        sk.mss_clamp = 1460;
        assert_eq!(tcp_mtu_to_mss(&sk, 1280), 1240);
        assert_eq!(tcp_mtu_to_mss(&sk, 9000), 1460, "the peer's MSS caps it");
        assert_eq!(tcp_mtu_to_mss(&sk, 1500), 1460);
        sk.ts_ok = true;
        assert_eq!(tcp_mtu_to_mss(&sk, 1280), 1228);
        assert_eq!(tcp_mtu_to_mss(&sk, 68), TCP_MIN_SND_MSS);
        assert_eq!(tcp_mtu_to_mss(&sk, 0), TCP_MIN_SND_MSS);
        let segs = sk.cc.cwnd() / sk.mss;
        sk.tcp_sync_mss(1280);
        assert_eq!(sk.mss, 1228);
        assert_eq!(sk.cc.cwnd(), segs * 1228);
    }
}
