//! IPv4's share of a network namespace: routing tables and rules, the route cache,
//! fragments, path MTU, ICMP rate limits, counters, ping sockets.
//!
//! Linux: `struct netns_ipv4` (include/net/netns/ipv4.h), `net->ipv4`. IPv6 would sit beside
//! it as `netns_ipv6`.

use crate::buf::PacketBuf;
use crate::ip::fib::Fib;
use crate::ip::icmp_ratelimit::{PeerRateLimit, RateLimit};
use crate::ip::pmtu::PmtuCache;
use crate::ip::reassembly::FragTable;
use crate::ip::rtcache::RouteCache;
use crate::ip::rules::FibRules;
use crate::stats::{IcmpStats, IpStats};
use crate::transport::ping::PingTable;
use std::cell::RefCell;

/// IPv4 state of one stack. Linux: `struct netns_ipv4`.
#[derive(Debug)]
pub(crate) struct NetnsIpv4 {
    /// The routing tables (main, local). Linux: `fib_main`, `fib_local`.
    pub(crate) fib: Fib,
    /// Policy routing rules. Linux: `rules_ops`.
    pub(crate) rules: FibRules,
    /// Output route cache (Linux: the nexthop exception cache / `dst` cache).
    pub(crate) rt_cache: RefCell<RouteCache>,
    /// Bumped on every routing change; cached routes of an older generation are stale.
    /// Linux: `rt_genid`.
    pub(crate) rt_genid: u64,
    /// Per-destination ICMP error limits. Linux: `inet_peer`'s `rate_tokens`.
    pub(crate) icmp_peers: PeerRateLimit,
    /// Global ICMP error limit. Linux: `icmp_global`.
    pub(crate) icmp_rate: RateLimit,
    /// Next IP identification. Linux: `ip_idents`.
    pub(crate) ip_ident: u16,
    /// IP counters. Linux: `mib.ip_statistics`.
    pub(crate) ip_stats: IpStats,
    /// ICMP counters. Linux: `mib.icmp_statistics`.
    pub(crate) icmp_stats: IcmpStats,
    /// Reassembly queues. Linux: `fqdir`.
    pub(crate) frags: FragTable,
    /// Learned path MTUs.
    pub(crate) pmtu: PmtuCache,
    /// Fragments of one output datagram, reused between calls.
    pub(crate) frag_scratch: Vec<PacketBuf>,
    /// ICMP echo ("ping") sockets. Linux: the ping table, `ping_group_range`.
    pub(crate) pings: PingTable,
}

impl NetnsIpv4 {
    /// IPv4 state for a new stack. Linux: `ipv4_mib_init_net`, `fib_net_init`...
    pub(crate) fn new(config: &crate::stack::StackConfig) -> NetnsIpv4 {
        NetnsIpv4 {
            fib: Fib::default(),
            rules: FibRules::default(),
            rt_cache: RefCell::new(RouteCache::new(config.seed)),
            rt_genid: 0,
            icmp_peers: PeerRateLimit::default(),
            icmp_rate: RateLimit::new(config.icmp_msgs_per_sec, config.icmp_msgs_burst),
            ip_ident: (config.seed >> 16) as u16,
            ip_stats: IpStats::default(),
            icmp_stats: IcmpStats::default(),
            frags: FragTable::new(config.ipfrag),
            pmtu: PmtuCache::new(config.pmtu),
            frag_scratch: Vec::new(),
            pings: PingTable::default(),
        }
    }
}
