//! IPv6 and ICMPv6 counters, named as Linux's `/proc/net/snmp6` names them.
//!
//! Linux: `ipv6_statistics` and `icmpv6_statistics` / `icmpv6msg_statistics`
//! (include/net/ipv6.h, net/ipv6/proc.c `snmp6_ipstats_list`, `snmp6_icmp6_list`).

use serde::{Deserialize, Serialize};

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
    pub fn lines(&self) -> [(&'static str, u64); 15] {
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
            ("Ip6InMcastPkts", self.in_mcast_pkts),
            ("Ip6OutMcastPkts", self.out_mcast_pkts),
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
