//! SNMP-style counters, as `netstat -s` and `/proc/net/snmp` show them, and drop reasons.
//!
//! Linux: `IPSTATS_MIB_*`, `ICMP_MIB_*` (include/uapi/linux/snmp.h) and
//! `enum skb_drop_reason` (include/net/dropreason-core.h).

use serde::{Deserialize, Serialize};

/// The `Ip:` group of `/proc/net/snmp`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct IpStats {
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
    /// Fragments received needing reassembly.
    pub reasm_reqds: u64,
    /// Reassembly failures.
    pub reasm_fails: u64,
    /// Datagrams that needed fragmentation but could not be fragmented.
    pub frag_fails: u64,
    /// Datagrams whose length field exceeds the received frame.
    pub in_truncated_pkts: u64,
    /// Header checksum errors (also counted in InHdrErrors).
    pub in_csum_errors: u64,
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
    /// Not for us and forwarding is off.
    IpNotForUs,
    /// IPv4 fragment (reassembly not supported yet).
    IpFragment,
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
    /// ARP / neighbour.
    pub arp: ArpStats,
    /// Drops by reason, nonzero ones only, sorted.
    pub drops: Vec<(DropReason, u64)>,
}

/// Drop counters indexed by reason.
#[derive(Debug, Clone, Default)]
pub struct DropCounters {
    counts: std::collections::BTreeMap<DropReason, u64>,
}

impl DropCounters {
    /// Count one drop.
    pub fn count(&mut self, reason: DropReason) {
        *self.counts.entry(reason).or_insert(0) += 1;
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
