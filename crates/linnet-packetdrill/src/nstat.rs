//! The stack's SNMP counters for the harness's `nstat` shim. Scripts run `nstat` on the host
//! (`nstat | grep TcpExtOutOfWindowIcmps`) to see what the stack under test counted; the
//! stack lives in this library, so the library keeps a file of its counters up to date (one
//! `Name value` line each, in nstat's names) and the shim reads it in place of the kernel's
//! `/proc/net/snmp` and `/proc/net/netstat`.
//!
//! Linux: the `Tcp:` (`TCP_MIB_*`) and `TcpExt:` (`LINUX_MIB_*`) rows of those files, which
//! nstat prefixes with their table's name.

use linnet::stats::TcpStats;
use linnet_posix::Posix;
use std::sync::Mutex;

/// The counters in nstat's names: `Tcp*` from `/proc/net/snmp`, `TcpExt*` from
/// `/proc/net/netstat`.
pub fn tcp_counters(t: &TcpStats) -> Vec<(&'static str, u64)> {
    vec![
        ("TcpActiveOpens", t.active_opens),
        ("TcpPassiveOpens", t.passive_opens),
        ("TcpAttemptFails", t.attempt_fails),
        ("TcpEstabResets", t.estab_resets),
        ("TcpCurrEstab", t.curr_estab),
        ("TcpInSegs", t.in_segs),
        ("TcpOutSegs", t.out_segs),
        ("TcpRetransSegs", t.retrans_segs),
        ("TcpInErrs", t.in_errs),
        ("TcpOutRsts", t.out_rsts),
        ("TcpInCsumErrors", t.in_csum_errors),
        ("TcpExtSyncookiesSent", t.syncookies_sent),
        ("TcpExtSyncookiesRecv", t.syncookies_recv),
        ("TcpExtSyncookiesFailed", t.syncookies_failed),
        ("TcpExtOutOfWindowIcmps", t.out_of_window_icmps),
        ("TcpExtTW", t.tw),
        ("TcpExtPAWSActive", t.paws_active_rejected),
        ("TcpExtPAWSEstab", t.paws_estab_rejected),
        ("TcpExtDelayedACKs", t.delayed_acks),
        ("TcpExtListenOverflows", t.listen_overflows),
        ("TcpExtListenDrops", t.listen_drops),
        ("TcpExtTCPHPHits", t.hp_hits),
        ("TcpExtTCPHPAcks", t.hp_acks),
        ("TcpExtTCPRenoRecovery", t.reno_recovery),
        ("TcpExtTCPSackRecovery", t.sack_recovery),
        ("TcpExtTCPSACKReneging", t.sack_reneging),
        ("TcpExtTCPSACKReorder", t.sack_reorder),
        ("TcpExtTCPRenoReorder", t.reno_reorder),
        ("TcpExtTCPTSReorder", t.ts_reorder),
        ("TcpExtTCPFullUndo", t.full_undo),
        ("TcpExtTCPPartialUndo", t.partial_undo),
        ("TcpExtTCPDSACKUndo", t.dsack_undo),
        ("TcpExtTCPLossUndo", t.loss_undo),
        ("TcpExtTCPLostRetransmit", t.lost_retransmit),
        ("TcpExtTCPRenoFailures", t.reno_failures),
        ("TcpExtTCPSackFailures", t.sack_failures),
        ("TcpExtTCPLossFailures", t.loss_failures),
        ("TcpExtTCPFastRetrans", t.fast_retrans),
        ("TcpExtTCPSlowStartRetrans", t.slow_start_retrans),
        ("TcpExtTCPTimeouts", t.timeouts),
        ("TcpExtTCPLossProbes", t.loss_probes),
        ("TcpExtTCPMTUPFail", t.mtup_fail),
        ("TcpExtTCPMTUPSuccess", t.mtup_success),
        ("TcpExtTCPLossProbeRecovery", t.loss_probe_recovery),
        ("TcpExtTCPRenoRecoveryFail", t.reno_recovery_fail),
        ("TcpExtTCPSackRecoveryFail", t.sack_recovery_fail),
        ("TcpExtTCPRcvQDrop", t.rcvq_drop),
        ("TcpExtTCPDSACKOldSent", t.dsack_old_sent),
        ("TcpExtTCPDSACKOfoSent", t.dsack_ofo_sent),
        ("TcpExtTCPDSACKRecv", t.dsack_recv),
        ("TcpExtTCPDSACKOfoRecv", t.dsack_ofo_recv),
        ("TcpExtTCPAbortOnData", t.abort_on_data),
        ("TcpExtTCPAbortOnClose", t.abort_on_close),
        ("TcpExtTCPAbortOnTimeout", t.abort_on_timeout),
        ("TcpExtTCPAbortOnLinger", t.abort_on_linger),
        ("TcpExtTCPSACKDiscard", t.sack_discard),
        ("TcpExtTCPSpuriousRTOs", t.spurious_rtos),
        ("TcpExtTCPOFOQueue", t.ofo_queue),
        ("TcpExtTCPOFODrop", t.ofo_drop),
        ("TcpExtTCPOFOMerge", t.ofo_merge),
        ("TcpExtTCPAckCompressed", t.ack_compressed),
        ("TcpExtOfoPruned", t.ofo_pruned),
        ("TcpExtTCPChallengeACK", t.challenge_acks),
        ("TcpExtTCPSYNChallenge", t.syn_challenges),
        ("TcpExtTCPFastOpenActive", t.fastopen_active),
        ("TcpExtTCPFastOpenActiveFail", t.fastopen_active_fail),
        ("TcpExtTCPFastOpenPassive", t.fastopen_passive),
        ("TcpExtTCPFastOpenPassiveFail", t.fastopen_passive_fail),
        (
            "TcpExtTCPFastOpenListenOverflow",
            t.fastopen_listen_overflow,
        ),
        ("TcpExtTCPFastOpenCookieReqd", t.fastopen_cookie_reqd),
        ("TcpExtTCPFastOpenPassiveAltKey", t.fastopen_passive_altkey),
        ("TcpExtTCPHystartDelayDetect", t.hystart_exits),
        ("TcpExtTCPHystartTrainDetect", t.hystart_train_exits),
        ("TcpExtTCPKeepAlive", t.keepalive_probes),
        ("TcpExtTCPWinProbe", t.win_probes),
        ("TcpExtTCPReqQFullDoCookies", t.req_qfull_do_cookies),
        ("TcpExtTCPReqQFullDrop", t.req_qfull_drop),
        ("TcpExtTCPMD5NotFound", t.md5_not_found),
        ("TcpExtTCPMD5Unexpected", t.md5_unexpected),
        ("TcpExtTCPMD5Failure", t.md5_failure),
    ]
}

/// The text of the counters file: `Name value` a line.
pub fn format_counters(t: &TcpStats) -> String {
    let mut s = String::new();
    for (name, v) in tcp_counters(t) {
        s.push_str(name);
        s.push(' ');
        s.push_str(&v.to_string());
        s.push('\n');
    }
    s
}

/// Keeps the counters file current: rewritten (atomically, by rename) when a counter changed.
#[derive(Debug)]
pub struct NstatFile {
    path: String,
    last: Mutex<Option<TcpStats>>,
}

impl NstatFile {
    /// Keep `path` current.
    pub fn new(path: String) -> NstatFile {
        NstatFile {
            path,
            last: Mutex::new(None),
        }
    }

    /// Write the file if the counters changed since the last write.
    pub fn refresh(&self, posix: &Posix) {
        let t = posix.with_net(|n| n.stack.snmp().tcp);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.as_ref() == Some(&t) {
            return;
        }
        let tmp = format!("{}.tmp", self.path);
        if std::fs::write(&tmp, format_counters(&t)).is_ok()
            && std::fs::rename(&tmp, &self.path).is_ok()
        {
            *last = Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_values_follow_the_counters() {
        let t = TcpStats {
            out_of_window_icmps: 3,
            passive_opens: 1,
            ..TcpStats::default()
        };
        let c = tcp_counters(&t);
        let mut names: Vec<_> = c.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), c.len());
        let text = format_counters(&t);
        assert!(text.contains("TcpExtOutOfWindowIcmps 3\n"));
        assert!(text.contains("TcpPassiveOpens 1\n"));
        assert!(text.contains("TcpExtListenDrops 0\n"));
    }
}
