//! The `Tcp:` and `TcpExt:` sections of `netstat -s`, in net-tools' wording.

use linnet::stats::TcpStats;

/// The lines of the `Tcp:` and `TcpExt:` sections. Linux: `/proc/net/snmp` `Tcp:` and
/// `/proc/net/netstat` `TcpExt:` as net-tools' `netstat -s` prints them.
pub fn tcp_lines(t: &TcpStats) -> Vec<String> {
    let mut v = vec![
        "Tcp:".to_string(),
        format!("    {} active connection openings", t.active_opens),
        format!("    {} passive connection openings", t.passive_opens),
        format!("    {} failed connection attempts", t.attempt_fails),
        format!("    {} connection resets received", t.estab_resets),
        format!("    {} connections established", t.curr_estab),
        format!("    {} segments received", t.in_segs),
        format!("    {} segments sent out", t.out_segs),
        format!("    {} segments retransmitted", t.retrans_segs),
        format!("    {} bad segments received", t.in_errs),
        format!("    {} resets sent", t.out_rsts),
        format!("    InCsumErrors: {}", t.in_csum_errors),
        "TcpExt:".to_string(),
    ];
    for (n, line) in [
        (t.syncookies_sent, "SYN cookies sent"),
        (t.syncookies_recv, "SYN cookies received"),
        (t.syncookies_failed, "invalid SYN cookies received"),
        (
            t.paws_estab_rejected,
            "packets rejected in established connections because of timestamp",
        ),
        (
            t.paws_active_rejected,
            "active connections rejected because of time stamp",
        ),
        (t.tw, "TCP sockets finished time wait in slow timer"),
        (t.delayed_acks, "delayed acks sent"),
        (
            t.listen_overflows,
            "times the listen queue of a socket overflowed",
        ),
        (t.listen_drops, "SYNs to LISTEN sockets dropped"),
        (
            t.sack_recovery,
            "times recovered from packet loss by selective acknowledgements",
        ),
        (
            t.reno_recovery,
            "times recovered from packet loss due to fast retransmit",
        ),
        (t.sack_reorder, "Detected reordering times using SACK"),
        (
            t.reno_reorder,
            "Detected reordering times using reno fast retransmit",
        ),
        (t.ts_reorder, "Detected reordering times using time stamp"),
        (
            t.full_undo,
            "congestion windows fully recovered without slow start",
        ),
        (
            t.partial_undo,
            "congestion windows partially recovered using Hoe heuristic",
        ),
        (
            t.dsack_undo,
            "congestion window recovered without slow start using DSACK",
        ),
        (
            t.loss_undo,
            "congestion windows recovered without slow start after partial ack",
        ),
        (t.sack_recovery_fail, "timeouts after SACK recovery"),
        (t.reno_recovery_fail, "timeouts after reno fast retransmit"),
        (t.sack_failures, "SACK retransmits failed"),
        (t.loss_failures, "timeouts in loss state"),
        (t.reno_failures, "classic Reno fast retransmits failed"),
        (t.hp_hits, "packet headers predicted"),
        (t.hp_acks, "predicted acknowledgments"),
        (t.fast_retrans, "fast retransmits"),
        (t.slow_start_retrans, "retransmits in slow start"),
        (t.lost_retransmit, "retransmits lost"),
        (
            t.hystart_exits,
            "slow starts ended by HyStart delay detection",
        ),
        (
            t.hystart_train_exits,
            "slow starts ended by HyStart ACK train detection",
        ),
        (t.ecn_ce_rcvd, "data segments received with ECN CE"),
        (t.ecn_ece_rcvd, "ACKs received with ECN-Echo"),
        (t.ecn_cwr, "congestion windows reduced for ECN-Echo"),
        (t.timeouts, "other TCP timeouts"),
        (t.dsack_old_sent, "DSACKs sent for old packets"),
        (t.dsack_ofo_sent, "DSACKs sent for out of order packets"),
        (t.ofo_queue, "packets queued to out-of-order queue"),
        (
            t.ofo_drop,
            "packets dropped from out-of-order queue because of socket buffer overrun",
        ),
        (t.abort_on_data, "connections reset due to unexpected data"),
        (
            t.abort_on_close,
            "connections reset due to early user close",
        ),
        (t.abort_on_timeout, "connections aborted due to timeout"),
        (
            t.out_of_window_icmps,
            "ICMP packets dropped because they were out-of-window",
        ),
    ] {
        if n > 0 {
            v.push(format!("    {n} {line}"));
        }
    }
    for (n, name) in [
        (t.challenge_acks, "TCPChallengeACK"),
        (t.syn_challenges, "TCPSYNChallenge"),
        (t.abort_on_linger, "TCPAbortOnLinger"),
        (t.keepalive_probes, "TCPKeepAlive"),
        (t.win_probes, "TCPWinProbe"),
        (t.loss_probes, "TCPLossProbes"),
        (t.mtup_fail, "TCPMTUPFail"),
        (t.mtup_success, "TCPMTUPSuccess"),
        (t.loss_probe_recovery, "TCPLossProbeRecovery"),
        (t.dsack_recv, "TCPDSACKRecv"),
        (t.dsack_ofo_recv, "TCPDSACKOfoRecv"),
        (t.spurious_rtos, "TCPSpuriousRTOs"),
        (t.sack_discard, "TCPSACKDiscard"),
        (t.sack_reneging, "TCPSACKReneging"),
        (t.fastopen_active, "TCPFastOpenActive"),
        (t.fastopen_active_fail, "TCPFastOpenActiveFail"),
        (t.fastopen_passive, "TCPFastOpenPassive"),
        (t.fastopen_passive_fail, "TCPFastOpenPassiveFail"),
        (t.fastopen_passive_altkey, "TCPFastOpenPassiveAltKey"),
        (t.fastopen_listen_overflow, "TCPFastOpenListenOverflow"),
        (t.fastopen_cookie_reqd, "TCPFastOpenCookieReqd"),
        (t.md5_not_found, "TCPMD5NotFound"),
        (t.md5_unexpected, "TCPMD5Unexpected"),
        (t.md5_failure, "TCPMD5Failure"),
        (t.ofo_merge, "TCPOFOMerge"),
        (t.ack_compressed, "TCPAckCompressed"),
        (t.ofo_pruned, "OfoPruned"),
        (t.rcvq_drop, "TCPRcvQDrop"),
        (t.req_qfull_do_cookies, "TCPReqQFullDoCookies"),
        (t.req_qfull_drop, "TCPReqQFullDrop"),
    ] {
        if n > 0 {
            v.push(format!("    {name}: {n}"));
        }
    }
    v
}

/// Print the `Tcp:` and `TcpExt:` sections.
pub fn print_tcp(t: &TcpStats) {
    for l in tcp_lines(t) {
        println!("{l}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_nonzero_ext_counters() {
        let t = TcpStats {
            active_opens: 3,
            timeouts: 2,
            challenge_acks: 1,
            fastopen_passive: 4,
            ..TcpStats::default()
        };
        let l = tcp_lines(&t);
        assert_eq!(l[0], "Tcp:");
        assert!(l.contains(&"    3 active connection openings".to_string()));
        assert!(l.contains(&"TcpExt:".to_string()));
        assert!(l.contains(&"    2 other TCP timeouts".to_string()));
        assert!(l.contains(&"    TCPChallengeACK: 1".to_string()));
        assert!(l.contains(&"    TCPFastOpenPassive: 4".to_string()));
        assert!(!l.iter().any(|x| x.contains("TCPFastOpenActive")));
        assert!(!l.iter().any(|x| x.contains("fast retransmits")));
    }
}
