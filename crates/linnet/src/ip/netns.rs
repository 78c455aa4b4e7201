//! IPv4's share of a network namespace: routing tables and rules, the route cache,
//! fragments, path MTU, ICMP rate limits, counters.
//!
//! Linux: `struct netns_ipv4` (include/net/netns/ipv4.h), `net->ipv4`. IPv6 would sit beside
//! it as `netns_ipv6`.

use crate::buf::PacketBuf;
use crate::errno::Errno;
use crate::ip::fib::Fib;
use crate::ip::fib::Route;
use crate::ip::icmp_ratelimit::{PeerRateLimit, RateLimit};
use crate::ip::pmtu::{PmtuCache, PmtuParams};
use crate::ip::reassembly::{FragParams, FragTable};
use crate::ip::route::Flowi4;
use crate::ip::rtcache::RouteCache;
use crate::ip::rules::FibRules;
use crate::stats::{IcmpStats, IpStats};
use std::cell::RefCell;
use std::time::Duration;

/// IPv4 state of one stack. Linux: `struct netns_ipv4`. Private to `ip` but for the counters,
/// which every layer bumps (as Linux's `__IP_INC_STATS(net, …)` does).
#[derive(Debug)]
pub(crate) struct NetnsIpv4 {
    /// The routing tables (main, local). Linux: `fib_main`, `fib_local`.
    pub(super) fib: Fib,
    /// Policy routing rules. Linux: `rules_ops`.
    pub(super) rules: FibRules,
    /// Output route cache (Linux: the nexthop exception cache / `dst` cache).
    pub(super) rt_cache: RefCell<RouteCache>,
    /// Bumped on every routing change; cached routes of an older generation are stale.
    /// Linux: `rt_genid`.
    pub(super) rt_genid: u64,
    /// Per-destination ICMP error limits. Linux: `inet_peer`'s `rate_tokens`.
    pub(super) icmp_peers: PeerRateLimit,
    /// Global ICMP error limit. Linux: `icmp_global`.
    pub(super) icmp_rate: RateLimit,
    /// Per-destination interval between ICMP errors. Linux: `sysctl_icmp_ratelimit`.
    pub(super) sysctl_icmp_ratelimit: Duration,
    /// ICMP types the per-destination limit applies to. Linux: `sysctl_icmp_ratemask`.
    pub(super) sysctl_icmp_ratemask: u32,
    /// Next IP identification. Linux: `ip_idents`.
    pub(super) ip_ident: u16,
    /// IP counters. Linux: `mib.ip_statistics`.
    pub(crate) ip_stats: IpStats,
    /// ICMP counters. Linux: `mib.icmp_statistics`.
    pub(crate) icmp_stats: IcmpStats,
    /// Reassembly queues. Linux: `fqdir`.
    pub(super) frags: FragTable,
    /// Learned path MTUs.
    pub(super) pmtu: PmtuCache,
    /// Fragments of one output datagram, reused between calls.
    pub(super) frag_scratch: Vec<PacketBuf>,
}

impl NetnsIpv4 {
    /// IPv4 state for a new stack. Linux: `ipv4_mib_init_net`, `fib_net_init`...
    pub(crate) fn new(
        seed: u64,
        icmp_rate: RateLimit,
        ipfrag: FragParams,
        pmtu: PmtuParams,
    ) -> NetnsIpv4 {
        NetnsIpv4 {
            fib: Fib::default(),
            rules: FibRules::default(),
            rt_cache: RefCell::new(RouteCache::new(seed)),
            rt_genid: 0,
            icmp_peers: PeerRateLimit::default(),
            icmp_rate,
            sysctl_icmp_ratelimit: Duration::from_millis(1000),
            sysctl_icmp_ratemask: 0x1818,
            ip_ident: (seed >> 16) as u16,
            ip_stats: IpStats::default(),
            icmp_stats: IcmpStats::default(),
            frags: FragTable::new(ipfrag),
            pmtu: PmtuCache::new(pmtu),
            frag_scratch: Vec::new(),
        }
    }

    /// The next IP identification, for one datagram. Linux: `ip_select_ident`.
    #[inline]
    pub(crate) fn ip_select_ident(&mut self) -> u16 {
        let ident = self.ip_ident;
        self.ip_ident = ident.wrapping_add(1);
        ident
    }

    /// Reserve `more` identifications after the one a GSO super-packet took: its segments
    /// take consecutive ones. Linux: `ip_select_ident_segs`.
    #[inline]
    pub(crate) fn ip_ident_skip(&mut self, more: u16) {
        self.ip_ident = self.ip_ident.wrapping_add(more);
    }

    /// The generation cached lookups must match: it moves on every change to the tables,
    /// the rules, or a link's state. Linux: `rt_genid_ipv4`.
    #[inline]
    pub(crate) fn rt_genid(&self) -> u64 {
        self.fib.genid() + self.rules.genid() + self.rt_genid
    }

    /// Invalidate every cached lookup. Linux: `rt_cache_flush` → `rt_genid_bump_ipv4`.
    pub(crate) fn rt_cache_flush(&mut self) {
        self.rt_genid += 1;
    }

    /// Find the route for `flow`: walk the rules in priority order through their tables,
    /// skipping routes `usable` refuses, and remember the answer until the next change.
    /// Linux: `fib_lookup` → `fib_rules_lookup`.
    #[inline]
    pub(crate) fn fib_lookup(
        &self,
        flow: &Flowi4,
        usable: impl Fn(&Route) -> bool,
    ) -> Result<Route, Errno> {
        let genid = self.rt_genid();
        if let Some(r) = self.rt_cache.borrow_mut().get(flow, genid) {
            return r;
        }
        let r = self.rules.lookup(&self.fib, flow, usable);
        self.rt_cache.borrow_mut().put(*flow, genid, r);
        r
    }

    /// Take changed sysctls (`ipfrag_*`, `route.*`, `icmp_msgs_*`) at once.
    pub(crate) fn set_sysctls(
        &mut self,
        ipfrag: FragParams,
        pmtu: PmtuParams,
        icmp_msgs_per_sec: u32,
        icmp_msgs_burst: u32,
    ) {
        self.ip_stats.reasm_fails += self.frags.set_params(ipfrag);
        self.pmtu.set_params(pmtu);
        self.icmp_rate.set_rate(icmp_msgs_per_sec, icmp_msgs_burst);
    }

    /// Take changed per-destination ICMP limits (`icmp_ratelimit`, `icmp_ratemask`).
    pub(crate) fn set_icmp_ratelimit(&mut self, ratelimit: Duration, ratemask: u32) {
        self.sysctl_icmp_ratelimit = ratelimit;
        self.sysctl_icmp_ratemask = ratemask;
    }

    /// The reassembly tunables in force.
    pub(crate) fn frag_params(&self) -> &FragParams {
        self.frags.params()
    }

    /// The path MTU tunables in force.
    pub(crate) fn pmtu_params(&self) -> &PmtuParams {
        self.pmtu.params()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{Ipv4Addr, Ipv4Cidr};

    fn ipv4() -> NetnsIpv4 {
        NetnsIpv4::new(
            7,
            RateLimit::new(1000, 50),
            FragParams::IPV4,
            PmtuParams::default(),
        )
    }

    fn flow(dst: Ipv4Addr) -> Flowi4 {
        Flowi4 {
            dst,
            src: Ipv4Addr::UNSPECIFIED,
            iif: 1,
            mark: 0,
        }
    }

    #[test]
    fn fib_lookup_caches_until_a_change_and_skips_unusable_next_hops() {
        let mut n = ipv4();
        let net = Ipv4Cidr::new(Ipv4Addr::new(198, 51, 100, 0), 24).unwrap();
        let dst = Ipv4Addr::new(198, 51, 100, 7);
        assert_eq!(n.fib_lookup(&flow(dst), |_| true), Err(Errno::ENETUNREACH));
        n.fib.insert(Route::unicast(net, None, 2), false).unwrap();
        // A change to the tables moves the generation: the cached miss is not served.
        assert_eq!(n.fib_lookup(&flow(dst), |_| true).map(|r| r.ifindex), Ok(2));
        let misses = n.rt_cache.borrow().stats().misses;
        assert_eq!(n.fib_lookup(&flow(dst), |_| true).map(|r| r.ifindex), Ok(2));
        assert_eq!(n.rt_cache.borrow().stats().misses, misses);
        assert_eq!(n.rt_cache.borrow().stats().hits, 1);
        // A link going down is a flush: the next lookup asks `usable` again.
        n.rt_cache_flush();
        assert_eq!(n.fib_lookup(&flow(dst), |_| false), Err(Errno::ENETUNREACH));
        assert_eq!(n.rt_cache.borrow().stats().misses, misses + 1);
    }

    #[test]
    fn idents_are_consecutive_and_segments_reserve_theirs() {
        let mut n = ipv4();
        let a = n.ip_select_ident();
        assert_eq!(n.ip_select_ident(), a.wrapping_add(1));
        n.ip_ident_skip(3);
        assert_eq!(n.ip_select_ident(), a.wrapping_add(5));
    }
}
