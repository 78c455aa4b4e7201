//! SNMP-style counters, as `netstat -s` and `/proc/net/snmp` show them, and drop reasons.
//!
//! Linux: `IPSTATS_MIB_*`, `ICMP_MIB_*` (include/uapi/linux/snmp.h) and
//! `enum skb_drop_reason` (include/net/dropreason-core.h).

use serde::{Deserialize, Serialize};

/// The `Ip:` group of `/proc/net/snmp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpStats {
    /// `Forwarding`: 1 when this host forwards, 2 when it does not (RFC 1213 ipForwarding).
    pub forwarding: u64,
    /// Datagrams handed to `ip_rcv`.
    pub in_receives: u64,
    /// Dropped for header errors (version, IHL, checksum, length).
    pub in_hdr_errors: u64,
    /// Dropped because the destination is not ours and we do not forward.
    pub in_addr_errors: u64,
    /// Forwarded datagrams.
    pub forw_datagrams: u64,
    /// Delivered locally to an unknown protocol.
    pub in_unknown_protos: u64,
    /// Dropped for lack of resources.
    pub in_discards: u64,
    /// Delivered to a local protocol.
    pub in_delivers: u64,
    /// Datagrams handed to IP by local protocols for transmission.
    pub out_requests: u64,
    /// Outgoing datagrams dropped for lack of resources.
    pub out_discards: u64,
    /// Outgoing datagrams with no route.
    pub out_no_routes: u64,
    /// `ReasmTimeout`: fragment queues given up after `ipfrag_time`.
    pub reasm_timeout: u64,
    /// `ReasmReqds`: fragments received needing reassembly.
    pub reasm_reqds: u64,
    /// `ReasmOKs`: datagrams reassembled.
    #[serde(rename = "ReasmOKs")]
    pub reasm_oks: u64,
    /// `ReasmFails`: reassembly failures (timeouts, overlaps, limits, malformed fragments).
    pub reasm_fails: u64,
    /// `ReasmOverlaps`: fragment queues dropped because fragments overlapped.
    pub reasm_overlaps: u64,
    /// `FragOKs`: datagrams fragmented on output.
    #[serde(rename = "FragOKs")]
    pub frag_oks: u64,
    /// `FragFails`: datagrams that needed fragmentation but could not be fragmented (DF).
    pub frag_fails: u64,
    /// `FragCreates`: fragments created on output.
    pub frag_creates: u64,
    /// Datagrams whose length field exceeds the received frame.
    pub in_truncated_pkts: u64,
    /// Header checksum errors (also counted in InHdrErrors).
    pub in_csum_errors: u64,
    /// `InNoRoutes` (IpExt): received datagrams with no route to forward them by.
    pub in_no_routes: u64,
    /// `InNoECTPkts` (IpExt): received datagrams (segments of a GRO train each) not ECN-capable.
    #[serde(default, rename = "InNoECTPkts")]
    pub in_noect_pkts: u64,
    /// `InECT1Pkts` (IpExt): received with ECT(1).
    #[serde(default, rename = "InECT1Pkts")]
    pub in_ect1_pkts: u64,
    /// `InECT0Pkts` (IpExt): received with ECT(0).
    #[serde(default, rename = "InECT0Pkts")]
    pub in_ect0_pkts: u64,
    /// `InCEPkts` (IpExt): received with Congestion Experienced.
    #[serde(default, rename = "InCEPkts")]
    pub in_ce_pkts: u64,
}

/// The `Icmp:` group of `/proc/net/snmp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IcmpStats {
    /// ICMP messages received.
    pub in_msgs: u64,
    /// Received messages with errors (checksum, length).
    pub in_errors: u64,
    /// Received messages with a bad checksum.
    pub in_csum_errors: u64,
    /// Destination unreachable received.
    pub in_dest_unreachs: u64,
    /// Time exceeded received.
    pub in_time_excds: u64,
    /// Echo requests received.
    pub in_echos: u64,
    /// Echo replies received.
    pub in_echo_reps: u64,
    /// ICMP messages sent.
    pub out_msgs: u64,
    /// Messages not sent because of errors (no route, queue full).
    pub out_errors: u64,
    /// Error messages suppressed by the rate limit.
    pub out_rate_limit_global: u64,
    /// `OutRateLimitHost`: error messages suppressed by the per-destination limit.
    pub out_rate_limit_host: u64,
    /// Destination unreachable sent.
    pub out_dest_unreachs: u64,
    /// Time exceeded sent.
    pub out_time_excds: u64,
    /// Echo requests sent.
    pub out_echos: u64,
    /// Echo replies sent.
    pub out_echo_reps: u64,
}

/// The `Udp:` group of `/proc/net/snmp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UdpStats {
    /// `RcvbufErrors`: datagrams dropped on a full socket buffer.
    pub rcvbuf_errors: u64,
    /// Datagrams delivered to sockets.
    pub in_datagrams: u64,
    /// Datagrams to a port with no socket (answered with ICMP port unreachable).
    pub no_ports: u64,
    /// Malformed datagrams (length, checksum).
    pub in_errors: u64,
    /// Datagrams sent.
    pub out_datagrams: u64,
    /// Datagrams with a bad checksum (also counted in InErrors).
    pub in_csum_errors: u64,
}

/// ARP and neighbour counters (Linux: `/proc/net/stat/arp_cache`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct ArpStats {
    /// ARP packets received.
    pub rx: u64,
    /// ARP requests received for our addresses, answered.
    pub replies_sent: u64,
    /// ARP requests sent (solicitations and gratuitous).
    pub requests_sent: u64,
    /// Resolutions that failed (entry went to FAILED).
    pub res_failed: u64,
    /// Packets dropped because a neighbour's queue was full.
    pub unresolved_discards: u64,
    /// Entries that could not be created because the table was full.
    pub table_fulls: u64,
    /// Neighbour entries allocated.
    pub allocs: u64,
}

/// Why the stack dropped a packet. Linux: `enum skb_drop_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DropReason {
    /// Frame too short for its headers.
    PktTooSmall,
    /// Frame addressed to another host's MAC.
    OtherHost,
    /// EtherType not handled.
    UnhandledProto,
    /// Arrived on a down or unknown interface.
    DevReady,
    /// Bad IPv4 header (version, IHL, length).
    IpInhdr,
    /// Bad IPv4 header checksum.
    IpCsum,
    /// Source address invalid (martian: multicast, broadcast, loopback from outside).
    IpInvalidSource,
    /// Not for us and forwarding is off. Linux: `IP_INADDRERRORS`.
    IpNotForUs,
    /// No route to forward by, or an unreachable route. Linux: `IP_INNOROUTES`.
    IpInnoroutes,
    /// Destination no route may take (multicast), or a link-level broadcast to forward.
    /// Linux: `IP_INVALID_DEST`.
    IpInvalidDest,
    /// Forwarding would exceed the TTL (Linux counts it under `IP_INHDR`).
    IpTtlExpired,
    /// Discarded by a blackhole route or rule.
    IpBlackhole,
    /// Refused by a prohibit route or rule.
    IpProhibited,
    /// Fragment entirely inside data already queued for reassembly (`SKB_DROP_REASON_DUP_FRAG`).
    DupFrag,
    /// Fragment overlapping queued data partially: the whole queue goes (RFC 5722's rule,
    /// applied to IPv4 by Linux since 2018).
    FragOverlap,
    /// Fragment queue given up after `ipfrag_time` (`SKB_DROP_REASON_FRAG_REASM_TIMEOUT`).
    FragReasmTimeout,
    /// Fragment queue with too many holes (`SKB_DROP_REASON_FRAG_TOO_FAR`).
    FragTooFar,
    /// Memory limit reached (`SKB_DROP_REASON_NOMEM`; for fragments, `ipfrag_high_thresh`).
    Nomem,
    /// Local delivery to an unknown protocol.
    IpNoproto,
    /// No route for an outgoing packet.
    IpOutnoroutes,
    /// Packet larger than the MTU with DF set or unfragmentable.
    PktTooBig,
    /// Malformed ICMP (length, checksum).
    IcmpCsum,
    /// ICMP message not handled or ignored by policy.
    IcmpIgnored,
    /// Bad UDP checksum.
    UdpCsum,
    /// Socket receive buffer full.
    SocketRcvbuff,
    /// Bad TCP checksum.
    TcpCsum,
    /// Malformed TCP header or options.
    TcpHdr,
    /// TCP segment outside the receive window.
    TcpInvalidSequence,
    /// TCP segment failing the PAWS timestamp check.
    TcpRfc7323Paws,
    /// TCP ACK for data never sent, or too old.
    TcpAckUnsent,
    /// TCP segment with flags invalid in the socket's state.
    TcpFlags,
    /// TCP out-of-order segment that could not be kept.
    TcpOfoDrop,
    /// TCP SYN dropped: SYN or accept queue full.
    TcpListenOverflow,
    /// TCP RST that did not match exactly (RFC 5961).
    TcpReset,
    /// TCP segment without the MD5 signature its socket expects (RFC 2385).
    TcpMd5NotFound,
    /// TCP segment signed, to a socket with no key for the peer.
    TcpMd5Unexpected,
    /// TCP segment with a wrong MD5 signature.
    TcpMd5Failure,
    /// Malformed ARP.
    ArpInvalid,
    /// Neighbour resolution failed.
    NeighFailed,
    /// Neighbour queue full.
    NeighQueuefull,
    /// Neighbour table full.
    NeighCreatefail,
    /// Egress queue full.
    QdiscDrop,
    /// No local socket wanted it.
    NoSocket,
    /// Refused by a netfilter rule or policy (DROP, REJECT). Linux: `NETFILTER_DROP`.
    NetfilterDrop,
    /// Conntrack could not track it: table full, or no free NAT port. Linux: `NF_DROP` from
    /// `nf_conntrack_in`.
    NfConntrackDrop,
}

impl DropReason {
    /// Every reason.
    pub const ALL: [DropReason; 45] = [
        DropReason::PktTooSmall,
        DropReason::OtherHost,
        DropReason::UnhandledProto,
        DropReason::DevReady,
        DropReason::IpInhdr,
        DropReason::IpCsum,
        DropReason::IpInvalidSource,
        DropReason::IpNotForUs,
        DropReason::IpInnoroutes,
        DropReason::IpInvalidDest,
        DropReason::IpTtlExpired,
        DropReason::IpBlackhole,
        DropReason::IpProhibited,
        DropReason::DupFrag,
        DropReason::FragOverlap,
        DropReason::FragReasmTimeout,
        DropReason::FragTooFar,
        DropReason::Nomem,
        DropReason::IpNoproto,
        DropReason::IpOutnoroutes,
        DropReason::PktTooBig,
        DropReason::IcmpCsum,
        DropReason::IcmpIgnored,
        DropReason::UdpCsum,
        DropReason::SocketRcvbuff,
        DropReason::TcpCsum,
        DropReason::TcpHdr,
        DropReason::TcpInvalidSequence,
        DropReason::TcpRfc7323Paws,
        DropReason::TcpAckUnsent,
        DropReason::TcpFlags,
        DropReason::TcpOfoDrop,
        DropReason::TcpListenOverflow,
        DropReason::TcpReset,
        DropReason::TcpMd5NotFound,
        DropReason::TcpMd5Unexpected,
        DropReason::TcpMd5Failure,
        DropReason::ArpInvalid,
        DropReason::NeighFailed,
        DropReason::NeighQueuefull,
        DropReason::NeighCreatefail,
        DropReason::QdiscDrop,
        DropReason::NoSocket,
        DropReason::NetfilterDrop,
        DropReason::NfConntrackDrop,
    ];

    /// The counters a drop for this reason moves, as Linux moves them where it drops for
    /// it: one table, so `netstat -s` agrees with the drop list (at least one of them moves
    /// with every drop; which one depends on the layer, e.g. a runt IP header is an
    /// `InHdrErrors`, a runt UDP header a UDP `InErrors`). Linux: the `__IP_INC_STATS`,
    /// `__UDP_INC_STATS`, `__TCP_INC_STATS`, `__NET_INC_STATS` and `dev_core_stats_*` calls
    /// beside each `kfree_skb_reason`.
    pub fn mibs(self) -> &'static [Mib] {
        use Mib::*;
        match self {
            DropReason::PktTooSmall => &[
                IpInHdrErrors,
                IpInTruncatedPkts,
                UdpInErrors,
                Udp6InErrors,
                IpOutDiscards,
                DevRxDropped,
                DevTxDropped,
                Ip6InHdrErrors,
                Ip6InTruncatedPkts,
                Ip6OutDiscards,
            ],
            DropReason::OtherHost => &[DevRxOtherhostDropped],
            DropReason::UnhandledProto => &[DevRxNohandler],
            DropReason::DevReady => &[DevRxDropped, DevTxDropped, IpOutDiscards, Ip6OutDiscards],
            DropReason::IpInhdr => &[IpInHdrErrors, IpReasmFails, Ip6InHdrErrors, Ip6ReasmFails],
            DropReason::IpCsum => &[IpInHdrErrors, IpInCsumErrors],
            DropReason::IpInvalidSource => &[RtMartians, Ip6InHdrErrors, Ip6InAddrErrors],
            DropReason::IpNotForUs => &[IpInAddrErrors, Ip6InAddrErrors],
            DropReason::IpInnoroutes => &[IpInNoRoutes, Ip6InNoRoutes],
            DropReason::IpInvalidDest => &[
                IpInAddrErrors,
                Ip6InHdrErrors,
                Ip6InAddrErrors,
                Ip6InDiscards,
            ],
            DropReason::IpTtlExpired => &[IpInHdrErrors, Ip6InHdrErrors],
            DropReason::IpBlackhole => &[IpInNoRoutes, IpOutNoRoutes],
            DropReason::IpProhibited => &[IpInNoRoutes, IpOutNoRoutes],
            DropReason::DupFrag => &[IpReasmReqds, Ip6ReasmReqds],
            DropReason::FragOverlap => &[IpReasmOverlaps, IpReasmFails, Ip6ReasmFails],
            DropReason::FragReasmTimeout => &[IpReasmTimeout, IpReasmFails, Ip6ReasmFails],
            DropReason::FragTooFar => &[IpReasmFails, Ip6ReasmFails],
            DropReason::Nomem => &[IpReasmFails, Ip6ReasmFails],
            DropReason::IpNoproto => &[IpInUnknownProtos, Ip6InUnknownProtos, Ip6InDiscards],
            DropReason::IpOutnoroutes => &[IpOutNoRoutes],
            DropReason::PktTooBig => {
                &[IpFragFails, Ip6InTooBigErrors, Ip6OutDiscards, Ip6FragFails]
            }
            DropReason::IcmpCsum => &[IcmpInErrors, IcmpInCsumErrors, Icmp6InErrors],
            DropReason::IcmpIgnored => &[IcmpInMsgs, Icmp6InMsgs],
            DropReason::UdpCsum => &[UdpInErrors, UdpInCsumErrors, Udp6InErrors, Udp6InCsumErrors],
            DropReason::SocketRcvbuff => &[UdpRcvbufErrors, Udp6RcvbufErrors, TcpExtOfoDrop],
            DropReason::TcpCsum => &[TcpInErrs, TcpInCsumErrors],
            DropReason::TcpHdr => &[TcpInErrs],
            DropReason::TcpInvalidSequence => &[TcpExtDupSegs, TcpInSegs],
            DropReason::TcpRfc7323Paws => &[TcpExtPawsEstab],
            DropReason::TcpAckUnsent => &[TcpInSegs],
            DropReason::TcpFlags => &[TcpInSegs],
            DropReason::TcpOfoDrop => &[TcpExtOfoDrop],
            DropReason::TcpListenOverflow => &[TcpExtListenDrops, TcpExtListenOverflows],
            DropReason::TcpReset => &[TcpInSegs],
            DropReason::TcpMd5NotFound => &[TcpExtMd5NotFound],
            DropReason::TcpMd5Unexpected => &[TcpExtMd5Unexpected],
            DropReason::TcpMd5Failure => &[TcpExtMd5Failure],
            DropReason::ArpInvalid => &[ArpRx],
            DropReason::NeighFailed => &[ArpResFailed, Ip6OutDiscards],
            DropReason::NeighQueuefull => &[ArpUnresolvedDiscards, Ip6OutDiscards],
            DropReason::NeighCreatefail => &[ArpTableFulls, Ip6OutDiscards],
            DropReason::QdiscDrop => &[QdiscDrops],
            DropReason::NoSocket => &[UdpNoPorts, Udp6NoPorts, TcpOutRsts, TcpInSegs],
            DropReason::NetfilterDrop => &[NfDrops],
            DropReason::NfConntrackDrop => &[CtDrops],
        }
    }
}

/// TCP counters, as `netstat -s` prints `Tcp:` and `TcpExt:`. Linux: `TCP_MIB_*`, `LINUX_MIB_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpStats {
    /// `ActiveOpens`: connections that went SYN-SENT.
    pub active_opens: u64,
    /// `PassiveOpens`: connections that went SYN-RECEIVED from LISTEN.
    pub passive_opens: u64,
    /// `AttemptFails`: SYN-SENT/SYN-RECEIVED connections that failed.
    pub attempt_fails: u64,
    /// `EstabResets`: ESTABLISHED/CLOSE-WAIT connections reset.
    pub estab_resets: u64,
    /// `CurrEstab`: connections in ESTABLISHED or CLOSE-WAIT now.
    pub curr_estab: u64,
    /// `InSegs`.
    pub in_segs: u64,
    /// `OutSegs` (excluding retransmissions).
    pub out_segs: u64,
    /// `RetransSegs`.
    pub retrans_segs: u64,
    /// `InErrs`: bad segments (checksum, header).
    pub in_errs: u64,
    /// `OutRsts`.
    pub out_rsts: u64,
    /// `InCsumErrors`.
    pub in_csum_errors: u64,
    /// `SyncookiesSent`.
    pub syncookies_sent: u64,
    /// `SyncookiesRecv`.
    pub syncookies_recv: u64,
    /// `SyncookiesFailed`.
    pub syncookies_failed: u64,
    /// `ListenOverflows`: accept queue full.
    pub listen_overflows: u64,
    /// `ListenDrops`: SYNs dropped by a listener.
    pub listen_drops: u64,
    /// `TCPChallengeACK` (RFC 5961).
    pub challenge_acks: u64,
    /// `TCPSYNChallenge`: challenge ACKs sent for a SYN.
    pub syn_challenges: u64,
    /// `PAWSEstab`: segments rejected by PAWS.
    pub paws_estab_rejected: u64,
    /// `PAWSActive`: SYN-ACKs rejected for echoing a timestamp we never sent.
    #[serde(default)]
    pub paws_active_rejected: u64,
    /// `TCPOFOQueue`: segments queued out of order.
    pub ofo_queue: u64,
    /// `TCPOFODrop`.
    pub ofo_drop: u64,
    /// `TCPTimeouts`: retransmission timeouts.
    pub timeouts: u64,
    /// `TCPFastRetrans`.
    pub fast_retrans: u64,
    /// `TCPSackRecovery` + `TCPRenoRecovery`: recovery episodes.
    pub recoveries: u64,
    /// `DelayedACKs`.
    pub delayed_acks: u64,
    /// `TCPAbortOnData`: reset on close with unread data.
    pub abort_on_data: u64,
    /// `TCPAbortOnClose` / linger-0 aborts.
    pub abort_on_close: u64,
    /// `TCPAbortOnTimeout`.
    pub abort_on_timeout: u64,
    /// `TCPAbortOnLinger`: orphans in FIN-WAIT-2 timed out.
    pub abort_on_linger: u64,
    /// `TCPKeepAlive` probes sent.
    pub keepalive_probes: u64,
    /// `TCPWinProbe`: zero-window probes sent.
    pub win_probes: u64,
    /// `TW`: connections that finished TIME-WAIT.
    pub tw: u64,
    /// `TCPDSACKRecv`-like: duplicate segments received.
    pub dup_segs: u64,
    /// `TCPHPHits`: in-order data segments taken by header prediction (the fast path).
    #[serde(default)]
    pub hp_hits: u64,
    /// `TCPHPAcks`: pure ACKs of new data taken by header prediction.
    #[serde(default)]
    pub hp_acks: u64,
    /// `TCPLostRetransmit`: retransmissions lost again (an RTO fired while data
    /// retransmitted in fast recovery was still unacknowledged).
    #[serde(default)]
    pub lost_retransmit: u64,
    /// `TCPHystartDelayDetect`: slow starts ended by CUBIC's hybrid slow start when the
    /// RTT grew.
    #[serde(default)]
    pub hystart_exits: u64,
    /// `TCPHystartTrainDetect`: slow starts ended by CUBIC's hybrid slow start when a
    /// round's ACK train outlasted half the minimum RTT.
    #[serde(default)]
    pub hystart_train_exits: u64,
    /// `TCPSackRecovery`: fast recoveries of a SACK connection.
    #[serde(default)]
    pub sack_recovery: u64,
    /// `TCPRenoRecovery`: fast recoveries of a connection without SACK.
    #[serde(default)]
    pub reno_recovery: u64,
    /// `TCPSackRecoveryFail`: RTOs during SACK recovery.
    #[serde(default)]
    pub sack_recovery_fail: u64,
    /// `TCPRenoRecoveryFail`: RTOs during NewReno recovery.
    #[serde(default)]
    pub reno_recovery_fail: u64,
    /// `TCPSackFailures`: RTOs in the Disorder state of a SACK connection.
    #[serde(default)]
    pub sack_failures: u64,
    /// `TCPRenoFailures`: RTOs in the Disorder state without SACK.
    #[serde(default)]
    pub reno_failures: u64,
    /// `TCPLossFailures`: RTOs in the Loss state (an RTO after an RTO).
    #[serde(default)]
    pub loss_failures: u64,
    /// `TCPLossProbes`: tail loss probes sent.
    #[serde(default)]
    pub loss_probes: u64,
    /// `TCPMTUPSuccess`: path MTU probes acknowledged (the MSS went up).
    #[serde(default)]
    pub mtup_success: u64,
    /// `TCPMTUPFail`: path MTU probes lost (the search's upper bound came down).
    #[serde(default)]
    pub mtup_fail: u64,
    /// `TCPLossProbeRecovery`: losses repaired by a tail loss probe.
    #[serde(default)]
    pub loss_probe_recovery: u64,
    /// `TCPDSACKRecv`: D-SACKs received for data below the cumulative ACK.
    #[serde(default)]
    pub dsack_recv: u64,
    /// `TCPDSACKOfoRecv`: D-SACKs received for out-of-order data.
    #[serde(default)]
    pub dsack_ofo_recv: u64,
    /// `TCPSpuriousRTOs`: RTOs F-RTO found spurious.
    #[serde(default)]
    pub spurious_rtos: u64,
    /// `TCPFullUndo`: recoveries undone at their end (Eifel timestamps or D-SACK).
    #[serde(default)]
    pub full_undo: u64,
    /// `TCPPartialUndo`: recoveries undone by a partial ACK of delayed data.
    #[serde(default)]
    pub partial_undo: u64,
    /// `TCPDSACKUndo`: recoveries undone because D-SACKs reported every retransmission a duplicate.
    #[serde(default)]
    pub dsack_undo: u64,
    /// `TCPLossUndo`: RTO reductions undone.
    #[serde(default)]
    pub loss_undo: u64,
    /// `TCPSACKReorder`: reordering detected by SACK.
    #[serde(default)]
    pub sack_reorder: u64,
    /// `TCPRenoReorder`: reordering detected by duplicate ACKs (no SACK).
    #[serde(default)]
    pub reno_reorder: u64,
    /// `TCPTSReorder`: reordering detected by timestamps.
    #[serde(default)]
    pub ts_reorder: u64,
    /// `TCPSlowStartRetrans`: retransmissions in the Loss state (after an RTO).
    #[serde(default)]
    pub slow_start_retrans: u64,
    /// `TCPSACKDiscard`: invalid SACK blocks ignored.
    #[serde(default)]
    pub sack_discard: u64,
    /// `TCPSACKReneging`: times the peer dropped data it had SACKed.
    #[serde(default)]
    pub sack_reneging: u64,
    /// `TCPFastOpenActive`: SYNs with data whose data the SYN-ACK acknowledged.
    #[serde(default)]
    pub fastopen_active: u64,
    /// `TCPFastOpenActiveFail`: SYNs with data whose data had to be sent again.
    #[serde(default)]
    pub fastopen_active_fail: u64,
    /// `TCPFastOpenPassive`: SYNs whose data a listener accepted.
    #[serde(default)]
    pub fastopen_passive: u64,
    /// `TCPFastOpenPassiveFail`: SYNs with a bad Fast Open cookie.
    #[serde(default)]
    pub fastopen_passive_fail: u64,
    /// `TCPFastOpenPassiveAltKey`: cookies valid only under the backup key.
    #[serde(default)]
    pub fastopen_passive_altkey: u64,
    /// `TCPFastOpenListenOverflow`: Fast Open refused, the listener's Fast Open queue full.
    #[serde(default)]
    pub fastopen_listen_overflow: u64,
    /// `TCPFastOpenCookieReqd`: SYNs asking for a cookie.
    #[serde(default)]
    pub fastopen_cookie_reqd: u64,
    /// `TCPMD5NotFound`: segments without the MD5 signature their socket expects.
    #[serde(default)]
    pub md5_not_found: u64,
    /// `TCPMD5Unexpected`: signed segments to a socket with no key for the peer.
    #[serde(default)]
    pub md5_unexpected: u64,
    /// `TCPMD5Failure`: segments whose MD5 signature is wrong.
    #[serde(default)]
    pub md5_failure: u64,
    /// Data segments received CE-marked on ECN connections (the receiver then echoes ECE).
    /// Linnet's count; Linux has it only per IP (`InCEPkts`).
    #[serde(default)]
    pub ecn_ce_rcvd: u64,
    /// ACKs received with ECE on ECN connections.
    #[serde(default)]
    pub ecn_ece_rcvd: u64,
    /// Window reductions for ECE (entries into the CWR state, `tcp_enter_cwr`).
    #[serde(default)]
    pub ecn_cwr: u64,
    /// `TCPDSACKOldSent`: D-SACK blocks sent for data below `RCV.NXT`.
    #[serde(default)]
    pub dsack_old_sent: u64,
    /// `TCPDSACKOfoSent`: D-SACK blocks sent for out-of-order data received twice.
    #[serde(default)]
    pub dsack_ofo_sent: u64,
    /// `TCPAckCompressed`: ACKs of out-of-order data never sent, replaced by a later one
    /// (SACK compression).
    #[serde(default)]
    pub ack_compressed: u64,
    /// `TCPOFOMerge`: out-of-order segments that joined (or were covered by) held data.
    #[serde(default)]
    pub ofo_merge: u64,
    /// `OfoPruned`: times out-of-order data was dropped to bound its memory.
    #[serde(default)]
    pub ofo_pruned: u64,
    /// `TCPRcvQDrop`: in-order data dropped because the receive buffer was full.
    #[serde(default)]
    pub rcvq_drop: u64,
    /// `TCPReqQFullDoCookies`: SYNs answered with a cookie because the SYN queue was full.
    #[serde(default)]
    pub req_qfull_do_cookies: u64,
    /// `TCPReqQFullDrop`: SYNs dropped because the SYN queue was full (no cookies).
    #[serde(default)]
    pub req_qfull_drop: u64,
    /// `OutOfWindowIcmps`: ICMP errors about a connection quoting a sequence number it has
    /// not sent or that is already acknowledged (ignored).
    pub out_of_window_icmps: u64,
}

/// All of a stack's counters, for `netstat -s` and the control plane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snmp {
    /// `Ip:`
    pub ip: IpStats,
    /// `Icmp:`
    pub icmp: IcmpStats,
    /// `Udp:`
    pub udp: UdpStats,
    /// `Tcp:` and `TcpExt:`
    pub tcp: TcpStats,
    /// ARP / neighbour.
    pub arp: ArpStats,
    /// `Ip6*` of `/proc/net/snmp6`.
    #[serde(default)]
    pub ip6: Ip6Stats,
    /// `Icmp6*` of `/proc/net/snmp6`.
    #[serde(default)]
    pub icmp6: Icmp6Stats,
    /// `Udp6*` of `/proc/net/snmp6`.
    #[serde(default)]
    pub udp6: UdpStats,
    /// Drops Linux counts outside `/proc/net/snmp` (devices, qdiscs, netfilter, routing).
    #[serde(default)]
    pub core: CoreStats,
    /// Drops by reason, nonzero ones only, sorted.
    pub drops: Vec<(DropReason, u64)>,
}

/// Drop counters that Linux keeps outside `/proc/net/snmp`, summed over the stack: the
/// device core counters `ip -s link` shows, the qdiscs' drops (`tc -s qdisc`), netfilter's
/// and conntrack's (`iptables -L -v`, `conntrack -S`) and the routing cache's martians
/// (`/proc/net/stat/rt_cache`). Each moves with exactly the drop reasons
/// [`DropReason::mibs`] maps to it, counted where the drop is (`Stack::drop_pkt`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoreStats {
    /// `rx_dropped`: frames the receive path dropped (device down, runt frames).
    /// Linux: `dev_core_stats_rx_dropped_inc`.
    pub rx_dropped: u64,
    /// `tx_dropped`: packets the transmit path dropped (device down or gone, a packet it
    /// could not segment or checksum). Linux: `dev_core_stats_tx_dropped_inc`.
    pub tx_dropped: u64,
    /// `rx_nohandler`: frames of a protocol nobody handles. Linux: `rx_nohandler`.
    pub rx_nohandler: u64,
    /// `rx_otherhost_dropped`: frames for another host's MAC.
    /// Linux: `dev_core_stats_rx_otherhost_dropped_inc`.
    pub rx_otherhost_dropped: u64,
    /// Packets dropped by a queueing discipline (`tc -s qdisc`'s "dropped").
    pub qdisc_drops: u64,
    /// Packets refused by a netfilter rule or policy (the DROP/REJECT counters).
    pub nf_drops: u64,
    /// Packets conntrack could not track (`conntrack -S`'s `drop`).
    pub ct_drops: u64,
    /// `in_martian_src` / `in_martian_dst` of `/proc/net/stat/rt_cache`.
    pub martians: u64,
}

impl CoreStats {
    /// Count a drop of a reason that maps to one of these counters alone (device-down and
    /// runt-frame drops are counted where they happen, as `rx_dropped` only on receive).
    /// Linux: the counters bumped beside `kfree_skb_reason` in those subsystems.
    pub fn count(&mut self, reason: DropReason, n: u64) {
        let c = match reason {
            DropReason::UnhandledProto => &mut self.rx_nohandler,
            DropReason::OtherHost => &mut self.rx_otherhost_dropped,
            DropReason::QdiscDrop => &mut self.qdisc_drops,
            DropReason::NetfilterDrop => &mut self.nf_drops,
            DropReason::NfConntrackDrop => &mut self.ct_drops,
            DropReason::IpInvalidSource => &mut self.martians,
            _ => return,
        };
        *c += n;
    }
}

/// A counter of `netstat -s` (group and Linux name) or of [`CoreStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Mib {
    IpInHdrErrors,
    IpInAddrErrors,
    IpInNoRoutes,
    IpInUnknownProtos,
    IpInTruncatedPkts,
    IpInCsumErrors,
    IpOutDiscards,
    IpOutNoRoutes,
    IpReasmReqds,
    IpReasmFails,
    IpReasmTimeout,
    IpReasmOverlaps,
    IpFragFails,
    IcmpInErrors,
    IcmpInCsumErrors,
    IcmpInMsgs,
    UdpInErrors,
    UdpInCsumErrors,
    UdpNoPorts,
    UdpRcvbufErrors,
    Udp6InErrors,
    Udp6InCsumErrors,
    Udp6NoPorts,
    Udp6RcvbufErrors,
    TcpInErrs,
    TcpInCsumErrors,
    TcpOutRsts,
    TcpInSegs,
    TcpExtListenDrops,
    TcpExtListenOverflows,
    TcpExtOfoDrop,
    TcpExtPawsEstab,
    TcpExtChallengeAck,
    TcpExtDupSegs,
    TcpExtMd5NotFound,
    TcpExtMd5Unexpected,
    TcpExtMd5Failure,
    ArpResFailed,
    ArpUnresolvedDiscards,
    ArpTableFulls,
    ArpRx,
    DevRxDropped,
    DevTxDropped,
    DevRxNohandler,
    DevRxOtherhostDropped,
    QdiscDrops,
    NfDrops,
    CtDrops,
    RtMartians,
    Ip6InHdrErrors,
    Ip6InAddrErrors,
    Ip6InNoRoutes,
    Ip6InUnknownProtos,
    Ip6InTruncatedPkts,
    Ip6InDiscards,
    Ip6InTooBigErrors,
    Ip6OutDiscards,
    Icmp6InErrors,
    Icmp6InMsgs,
    Ip6ReasmReqds,
    Ip6ReasmFails,
    Ip6FragFails,
}

impl Snmp {
    /// The value of one counter.
    pub fn get(&self, m: Mib) -> u64 {
        let (ip, ic, u, t, a, c) = (
            &self.ip, &self.icmp, &self.udp, &self.tcp, &self.arp, &self.core,
        );
        match m {
            Mib::IpInHdrErrors => ip.in_hdr_errors,
            Mib::IpInAddrErrors => ip.in_addr_errors,
            Mib::IpInNoRoutes => ip.in_no_routes,
            Mib::IpInUnknownProtos => ip.in_unknown_protos,
            Mib::IpInTruncatedPkts => ip.in_truncated_pkts,
            Mib::IpInCsumErrors => ip.in_csum_errors,
            Mib::IpOutDiscards => ip.out_discards,
            Mib::IpOutNoRoutes => ip.out_no_routes,
            Mib::IpReasmReqds => ip.reasm_reqds,
            Mib::IpReasmFails => ip.reasm_fails,
            Mib::IpReasmTimeout => ip.reasm_timeout,
            Mib::IpReasmOverlaps => ip.reasm_overlaps,
            Mib::IpFragFails => ip.frag_fails,
            Mib::IcmpInErrors => ic.in_errors,
            Mib::IcmpInCsumErrors => ic.in_csum_errors,
            Mib::IcmpInMsgs => ic.in_msgs,
            Mib::UdpInErrors => u.in_errors,
            Mib::UdpInCsumErrors => u.in_csum_errors,
            Mib::UdpNoPorts => u.no_ports,
            Mib::UdpRcvbufErrors => u.rcvbuf_errors,
            Mib::Udp6InErrors => self.udp6.in_errors,
            Mib::Udp6InCsumErrors => self.udp6.in_csum_errors,
            Mib::Udp6NoPorts => self.udp6.no_ports,
            Mib::Udp6RcvbufErrors => self.udp6.rcvbuf_errors,
            Mib::TcpInErrs => t.in_errs,
            Mib::TcpInCsumErrors => t.in_csum_errors,
            Mib::TcpOutRsts => t.out_rsts,
            Mib::TcpInSegs => t.in_segs,
            Mib::TcpExtListenDrops => t.listen_drops,
            Mib::TcpExtListenOverflows => t.listen_overflows,
            Mib::TcpExtOfoDrop => t.ofo_drop,
            Mib::TcpExtPawsEstab => t.paws_estab_rejected,
            Mib::TcpExtChallengeAck => t.challenge_acks,
            Mib::TcpExtDupSegs => t.dup_segs,
            Mib::TcpExtMd5NotFound => t.md5_not_found,
            Mib::TcpExtMd5Unexpected => t.md5_unexpected,
            Mib::TcpExtMd5Failure => t.md5_failure,
            Mib::ArpResFailed => a.res_failed,
            Mib::ArpUnresolvedDiscards => a.unresolved_discards,
            Mib::ArpTableFulls => a.table_fulls,
            Mib::ArpRx => a.rx,
            Mib::DevRxDropped => c.rx_dropped,
            Mib::DevTxDropped => c.tx_dropped,
            Mib::DevRxNohandler => c.rx_nohandler,
            Mib::DevRxOtherhostDropped => c.rx_otherhost_dropped,
            Mib::QdiscDrops => c.qdisc_drops,
            Mib::NfDrops => c.nf_drops,
            Mib::CtDrops => c.ct_drops,
            Mib::RtMartians => c.martians,
            Mib::Ip6InHdrErrors => self.ip6.in_hdr_errors,
            Mib::Ip6InAddrErrors => self.ip6.in_addr_errors,
            Mib::Ip6InNoRoutes => self.ip6.in_no_routes,
            Mib::Ip6InUnknownProtos => self.ip6.in_unknown_protos,
            Mib::Ip6InTruncatedPkts => self.ip6.in_truncated_pkts,
            Mib::Ip6InDiscards => self.ip6.in_discards,
            Mib::Ip6InTooBigErrors => self.ip6.in_too_big_errors,
            Mib::Ip6OutDiscards => self.ip6.out_discards,
            Mib::Icmp6InErrors => self.icmp6.in_errors,
            Mib::Icmp6InMsgs => self.icmp6.in_msgs,
            Mib::Ip6ReasmReqds => self.ip6.reasm_reqds,
            Mib::Ip6ReasmFails => self.ip6.reasm_fails,
            Mib::Ip6FragFails => self.ip6.frag_fails,
        }
    }

    /// The drop count of one reason.
    pub fn drops_of(&self, r: DropReason) -> u64 {
        self.drops
            .iter()
            .find(|(x, _)| *x == r)
            .map_or(0, |(_, n)| *n)
    }

    /// Reasons whose drops rose from `before` to `self` without any counter
    /// [`DropReason::mibs`] maps them to moving: each names the reason and its counters.
    /// Empty when `netstat -s` agrees with the drop list.
    pub fn uncounted_drops(&self, before: &Snmp) -> Vec<String> {
        DropReason::ALL
            .iter()
            .filter(|&&r| self.drops_of(r) > before.drops_of(r))
            .filter(|&&r| r.mibs().iter().all(|&m| self.get(m) == before.get(m)))
            .map(|r| {
                format!(
                    "{r:?} rose by {} but none of {:?} moved",
                    self.drops_of(*r) - before.drops_of(*r),
                    r.mibs()
                )
            })
            .collect()
    }
}

/// Drop counters indexed by reason.
#[derive(Debug, Clone, Default)]
pub struct DropCounters {
    counts: std::collections::BTreeMap<DropReason, u64>,
    /// The counters outside `/proc/net/snmp` that move with drops.
    pub core: CoreStats,
}

impl DropCounters {
    /// Count one drop.
    pub fn count(&mut self, reason: DropReason) {
        *self.counts.entry(reason).or_insert(0) += 1;
        self.core.count(reason, 1);
    }

    /// Count `n` drops at once (the fragments of a queue given up).
    pub fn add(&mut self, reason: DropReason, n: u64) {
        if n > 0 {
            *self.counts.entry(reason).or_insert(0) += n;
            self.core.count(reason, n);
        }
    }

    /// The count for one reason.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts.get(&reason).copied().unwrap_or(0)
    }

    /// Total drops.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Nonzero counts, in reason order.
    pub fn to_vec(&self) -> Vec<(DropReason, u64)> {
        self.counts.iter().map(|(r, n)| (*r, *n)).collect()
    }
}

// ----- IPv6: `/proc/net/snmp6` (Linux: `ipv6_statistics`, `icmpv6_statistics`, net/ipv6/proc.c) -----

/// The `Ip6*` lines of `/proc/net/snmp6`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ip6Stats {
    /// `Ip6InReceives`: datagrams that reached `ipv6_rcv`.
    pub in_receives: u64,
    /// `Ip6InHdrErrors`: bad version, truncated header, hop limit exceeded when forwarding.
    pub in_hdr_errors: u64,
    /// `Ip6InTooBigErrors`: too big to forward.
    pub in_too_big_errors: u64,
    /// `Ip6InNoRoutes`: no route to forward by.
    pub in_no_routes: u64,
    /// `Ip6InAddrErrors`: not for us (forwarding off), or an address no packet may carry.
    pub in_addr_errors: u64,
    /// `Ip6InUnknownProtos`: no handler for the upper-layer protocol.
    pub in_unknown_protos: u64,
    /// `Ip6InTruncatedPkts`: payload length past the end of the frame.
    pub in_truncated_pkts: u64,
    /// `Ip6InDiscards`: dropped without an error in the packet (e.g. a multicast group not
    /// joined, an RFC 4291 rule).
    pub in_discards: u64,
    /// `Ip6InDelivers`: datagrams handed to an upper layer (ICMPv6).
    pub in_delivers: u64,
    /// `Ip6OutForwDatagrams`: datagrams forwarded.
    pub out_forw_datagrams: u64,
    /// `Ip6OutRequests`: datagrams our upper layers gave IPv6 to send.
    pub out_requests: u64,
    /// `Ip6OutDiscards`: datagrams dropped on the way out (no buffer room, device down).
    pub out_discards: u64,
    /// `Ip6OutNoRoutes`: datagrams of ours with no route.
    pub out_no_routes: u64,
    /// `Ip6InMcastPkts`: multicast datagrams received.
    pub in_mcast_pkts: u64,
    /// `Ip6OutMcastPkts`: multicast datagrams sent.
    pub out_mcast_pkts: u64,
    /// `Ip6ReasmTimeout`: reassembly queues given up after `ip6frag_time`.
    #[serde(default)]
    pub reasm_timeout: u64,
    /// `Ip6ReasmReqds`: fragments received for reassembly.
    #[serde(default)]
    pub reasm_reqds: u64,
    /// `Ip6ReasmOKs`: datagrams reassembled.
    #[serde(default, rename = "ReasmOKs")]
    pub reasm_oks: u64,
    /// `Ip6ReasmFails`: reassembly failures (overlaps, timeouts, memory, bad fragments).
    #[serde(default)]
    pub reasm_fails: u64,
    /// `Ip6FragOKs`: datagrams we fragmented.
    #[serde(default, rename = "FragOKs")]
    pub frag_oks: u64,
    /// `Ip6FragCreates`: fragments we made.
    #[serde(default)]
    pub frag_creates: u64,
    /// `Ip6FragFails`: datagrams of ours that could not be fragmented or sent whole.
    #[serde(default)]
    pub frag_fails: u64,
}

/// The `Icmp6*` lines of `/proc/net/snmp6` (the per-type `Icmp6InType*`/`Icmp6OutType*`
/// lines are the named ones below).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Icmp6Stats {
    /// `Icmp6InMsgs`.
    pub in_msgs: u64,
    /// `Icmp6InErrors`: messages with a bad checksum or length, or an invalid ND message.
    pub in_errors: u64,
    /// `Icmp6OutMsgs`.
    pub out_msgs: u64,
    /// `Icmp6OutErrors`.
    pub out_errors: u64,
    /// `Icmp6InCsumErrors`.
    pub in_csum_errors: u64,
    /// `Icmp6OutRateLimitHost`: errors suppressed by `icmpv6_xrlim_allow`.
    pub out_rate_limit_host: u64,
    /// `Icmp6InDestUnreachs`.
    pub in_dest_unreachs: u64,
    /// `Icmp6InPktTooBigs`.
    pub in_pkt_too_bigs: u64,
    /// `Icmp6InTimeExcds`.
    pub in_time_excds: u64,
    /// `Icmp6InParmProblems`.
    pub in_parm_problems: u64,
    /// `Icmp6InEchos`.
    pub in_echos: u64,
    /// `Icmp6InEchoReplies`.
    pub in_echo_replies: u64,
    /// `Icmp6InGroupMembQueries`.
    pub in_group_memb_queries: u64,
    /// `Icmp6InRouterSolicits`.
    pub in_router_solicits: u64,
    /// `Icmp6InRouterAdvertisements`.
    pub in_router_advertisements: u64,
    /// `Icmp6InNeighborSolicits`.
    pub in_neighbor_solicits: u64,
    /// `Icmp6InNeighborAdvertisements`.
    pub in_neighbor_advertisements: u64,
    /// `Icmp6InRedirects`.
    pub in_redirects: u64,
    /// `Icmp6InMLDv2Reports`.
    #[serde(rename = "InMLDv2Reports")]
    pub in_mldv2_reports: u64,
    /// `Icmp6OutDestUnreachs`.
    pub out_dest_unreachs: u64,
    /// `Icmp6OutPktTooBigs`.
    pub out_pkt_too_bigs: u64,
    /// `Icmp6OutTimeExcds`.
    pub out_time_excds: u64,
    /// `Icmp6OutParmProblems`.
    pub out_parm_problems: u64,
    /// `Icmp6OutEchos`.
    pub out_echos: u64,
    /// `Icmp6OutEchoReplies`.
    pub out_echo_replies: u64,
    /// `Icmp6OutRouterSolicits`.
    pub out_router_solicits: u64,
    /// `Icmp6OutNeighborSolicits`.
    pub out_neighbor_solicits: u64,
    /// `Icmp6OutNeighborAdvertisements`.
    pub out_neighbor_advertisements: u64,
    /// `Icmp6OutMLDv2Reports`.
    #[serde(rename = "OutMLDv2Reports")]
    pub out_mldv2_reports: u64,
}

impl Ip6Stats {
    /// `(name, value)` in `/proc/net/snmp6` order.
    pub fn lines(&self) -> [(&'static str, u64); 22] {
        [
            ("Ip6InReceives", self.in_receives),
            ("Ip6InHdrErrors", self.in_hdr_errors),
            ("Ip6InTooBigErrors", self.in_too_big_errors),
            ("Ip6InNoRoutes", self.in_no_routes),
            ("Ip6InAddrErrors", self.in_addr_errors),
            ("Ip6InUnknownProtos", self.in_unknown_protos),
            ("Ip6InTruncatedPkts", self.in_truncated_pkts),
            ("Ip6InDiscards", self.in_discards),
            ("Ip6InDelivers", self.in_delivers),
            ("Ip6OutForwDatagrams", self.out_forw_datagrams),
            ("Ip6OutRequests", self.out_requests),
            ("Ip6OutDiscards", self.out_discards),
            ("Ip6OutNoRoutes", self.out_no_routes),
            ("Ip6ReasmTimeout", self.reasm_timeout),
            ("Ip6ReasmReqds", self.reasm_reqds),
            ("Ip6ReasmOKs", self.reasm_oks),
            ("Ip6ReasmFails", self.reasm_fails),
            ("Ip6FragOKs", self.frag_oks),
            ("Ip6FragCreates", self.frag_creates),
            ("Ip6FragFails", self.frag_fails),
            ("Ip6InMcastPkts", self.in_mcast_pkts),
            ("Ip6OutMcastPkts", self.out_mcast_pkts),
        ]
    }
}

impl UdpStats {
    /// The `Udp6*` lines of /proc/net/snmp6 (this struct holding UDP over IPv6's counts).
    /// Linux: `snmp6_udp6_list`.
    pub fn lines6(&self) -> [(&'static str, u64); 6] {
        [
            ("Udp6InDatagrams", self.in_datagrams),
            ("Udp6NoPorts", self.no_ports),
            ("Udp6InErrors", self.in_errors),
            ("Udp6OutDatagrams", self.out_datagrams),
            ("Udp6RcvbufErrors", self.rcvbuf_errors),
            ("Udp6InCsumErrors", self.in_csum_errors),
        ]
    }
}

impl Icmp6Stats {
    /// `(name, value)` in `/proc/net/snmp6` order.
    pub fn lines(&self) -> [(&'static str, u64); 29] {
        [
            ("Icmp6InMsgs", self.in_msgs),
            ("Icmp6InErrors", self.in_errors),
            ("Icmp6OutMsgs", self.out_msgs),
            ("Icmp6OutErrors", self.out_errors),
            ("Icmp6InCsumErrors", self.in_csum_errors),
            ("Icmp6OutRateLimitHost", self.out_rate_limit_host),
            ("Icmp6InDestUnreachs", self.in_dest_unreachs),
            ("Icmp6InPktTooBigs", self.in_pkt_too_bigs),
            ("Icmp6InTimeExcds", self.in_time_excds),
            ("Icmp6InParmProblems", self.in_parm_problems),
            ("Icmp6InEchos", self.in_echos),
            ("Icmp6InEchoReplies", self.in_echo_replies),
            ("Icmp6InGroupMembQueries", self.in_group_memb_queries),
            ("Icmp6InRouterSolicits", self.in_router_solicits),
            ("Icmp6InRouterAdvertisements", self.in_router_advertisements),
            ("Icmp6InNeighborSolicits", self.in_neighbor_solicits),
            (
                "Icmp6InNeighborAdvertisements",
                self.in_neighbor_advertisements,
            ),
            ("Icmp6InRedirects", self.in_redirects),
            ("Icmp6InMLDv2Reports", self.in_mldv2_reports),
            ("Icmp6OutDestUnreachs", self.out_dest_unreachs),
            ("Icmp6OutPktTooBigs", self.out_pkt_too_bigs),
            ("Icmp6OutTimeExcds", self.out_time_excds),
            ("Icmp6OutParmProblems", self.out_parm_problems),
            ("Icmp6OutEchos", self.out_echos),
            ("Icmp6OutEchoReplies", self.out_echo_replies),
            ("Icmp6OutRouterSolicits", self.out_router_solicits),
            ("Icmp6OutNeighborSolicits", self.out_neighbor_solicits),
            (
                "Icmp6OutNeighborAdvertisements",
                self.out_neighbor_advertisements,
            ),
            ("Icmp6OutMLDv2Reports", self.out_mldv2_reports),
        ]
    }
}
