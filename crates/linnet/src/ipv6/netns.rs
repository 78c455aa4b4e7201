//! IPv6's share of a network namespace: each interface's address configuration, the
//! multicast groups joined, the routing table, the neighbour discovery table, ICMPv6 rate
//! limits, ping sockets and the counters.
//!
//! Linux: `struct netns_ipv6` (include/net/netns/ipv6.h), `net->ipv6`, beside
//! `net->ipv4` ([`crate::ip::netns`]); `nd_tbl` (net/ipv6/ndisc.c) is the same generic
//! neighbour table ARP uses, keyed by IPv6 addresses.

use super::addrconf::Inet6Dev;
use super::ping::Ping6Table;
use super::pmtu::Ip6PmtuParams;
use super::reassembly::Ip6FragParams;
use super::route::Fib6;
use crate::ip::icmp_ratelimit::RateLimit;
use crate::link::{NeighKey, NeighParams, NeighTable};
use crate::stats::{Icmp6Stats, Ip6Stats};
use crate::time::Instant;
use std::collections::{BTreeMap, HashMap};
use std::net::Ipv6Addr;

impl NeighKey for Ipv6Addr {}

/// Most routes router advertisements may add (on-link prefixes, default routers): a flood
/// of advertisements cannot grow the table without bound. Linux: `net.ipv6.route.max_size`
/// (4096).
pub(crate) const MAX_RA_ROUTES: usize = 4096;

/// Most per-destination ICMPv6 error buckets kept (older ones are forgotten first).
pub(crate) const MAX_ICMP6_PEERS: usize = 4096;

/// One multicast group joined on an interface. Linux: `struct ifmcaddr6`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ifmcaddr6 {
    /// The group.
    pub group: Ipv6Addr,
    /// How many addresses (or users) hold it. Linux: `mca_users`.
    pub users: u32,
}

/// IPv6 state of one stack. Linux: `struct netns_ipv6`.
#[derive(Debug)]
pub(crate) struct NetnsIpv6 {
    /// Per-interface address configuration. Linux: `dev->ip6_ptr`.
    pub(crate) devs: BTreeMap<u32, Inet6Dev>,
    /// Multicast groups joined, per interface. Linux: `idev->mc_list`.
    pub(crate) mc: BTreeMap<u32, Vec<Ifmcaddr6>>,
    /// State-change records still to be repeated, per interface: (group, record type), and
    /// when. Linux: `idev->mc_tomb` / `mc_ifc_count` with `mc_ifc_work`.
    pub(crate) mld_pending: BTreeMap<u32, (Vec<(Ipv6Addr, u8)>, Instant)>,
    /// The routing table. Linux: `fib6_main_tbl`.
    pub(crate) fib6: Fib6,
    /// When the next route expires (`None`: no route does). Linux: the `ip6_fib_timer`.
    pub(crate) fib6_gc_at: Option<Instant>,
    /// Neighbour discovery's table. Linux: `nd_tbl`.
    pub(crate) nd_tbl: NeighTable<Ipv6Addr>,
    /// Inside the ND event loop: re-entrant calls return at once.
    pub(crate) in_nd_events: bool,
    /// `net.ipv6.conf.all.forwarding` (0).
    pub(crate) forwarding: bool,
    /// Forwarding changed: ff02::2 is joined or left at the next poll.
    pub(crate) forwarding_changed: bool,
    /// `net.ipv6.conf.all.hop_limit` (64).
    pub(crate) hop_limit: u8,
    /// The global ICMPv6 error limit. Linux: `icmp_global_allow` (shared with IPv4 there).
    pub(crate) icmp_rate: RateLimit,
    /// Per-destination ICMPv6 error buckets: (tokens in µs, last refill).
    /// Linux: `inet_peer`'s `rate_tokens`.
    pub(crate) icmp_peers: HashMap<Ipv6Addr, (u64, Instant)>,
    /// `net.ipv6.bindv6only` (0): the `IPV6_V6ONLY` of new sockets.
    pub(crate) bindv6only: bool,
    /// `net.ipv6.icmp.ratelimit` (1000 ms).
    pub(crate) icmp_ratelimit: std::time::Duration,
    /// ICMPv6 echo sockets.
    pub(crate) pings: Ping6Table,
    /// Learnt path MTUs. Linux: the PMTU exceptions of the fib6 routes.
    pub(crate) pmtu: super::pmtu::Rt6Pmtu,
    /// Reassembly queues. Linux: `net->ipv6.fqdir`.
    pub(crate) frags: super::reassembly::Ip6FragTable,
    /// Identifications of the datagrams we fragment. Linux: `ipv6_select_ident`.
    pub(crate) ident: super::fragment::Ip6IdentGen,
    /// `Ip6*` counters. Linux: `mib.ipv6_statistics`.
    pub(crate) stats: Ip6Stats,
    /// `Icmp6*` counters. Linux: `mib.icmpv6_statistics`.
    pub(crate) icmp6: Icmp6Stats,
    /// Random numbers for address configuration (DAD delays and nonces, RS backoff).
    pub(crate) rng: u64,
}

impl NetnsIpv6 {
    /// IPv6 state for a new stack. Linux: `ipv6_init_mibs`, `ndisc_net_init`,
    /// `ip6_route_net_init`.
    pub(crate) fn new(
        seed: u64,
        neigh: NeighParams,
        ip6frag: Ip6FragParams,
        pmtu: Ip6PmtuParams,
    ) -> NetnsIpv6 {
        NetnsIpv6 {
            devs: BTreeMap::new(),
            mc: BTreeMap::new(),
            mld_pending: BTreeMap::new(),
            fib6: Fib6::default(),
            fib6_gc_at: None,
            nd_tbl: NeighTable::new(neigh, seed ^ 0x6e64_5f74_626c),
            in_nd_events: false,
            forwarding: false,
            forwarding_changed: false,
            hop_limit: 64,
            icmp_rate: RateLimit::new(1000, 50),
            icmp_peers: HashMap::new(),
            icmp_ratelimit: std::time::Duration::from_millis(1000),
            bindv6only: false,
            pings: Ping6Table::default(),
            frags: super::reassembly::Ip6FragTable::new(ip6frag),
            pmtu: super::pmtu::Rt6Pmtu::new(pmtu),
            ident: super::fragment::Ip6IdentGen::new(seed ^ 0x6970_365f_6964),
            stats: Ip6Stats::default(),
            icmp6: Icmp6Stats::default(),
            rng: seed ^ 0x6970_7636_6164_6472,
        }
    }

    /// The `Ip6*` counters, with those the reassembly queues keep.
    pub(crate) fn snmp(&self) -> Ip6Stats {
        let r = self.frags.stats();
        Ip6Stats {
            in_hdr_errors: self.stats.in_hdr_errors + r.in_hdr_errors,
            reasm_reqds: r.reasm_reqds,
            reasm_oks: r.reasm_oks,
            reasm_fails: r.reasm_fails,
            reasm_timeout: r.reasm_timeout,
            ..self.stats
        }
    }

    /// Take changed sysctls (`ip6frag_*`, `route.mtu_expires`) at once; returns the
    /// fragments dropped by queues evicted under a lowered `ip6frag_high_thresh`.
    pub(crate) fn set_sysctls(&mut self, ip6frag: Ip6FragParams, pmtu: Ip6PmtuParams) -> u64 {
        self.pmtu.set_params(pmtu);
        self.frags.set_params(ip6frag)
    }

    /// A pseudo-random number (splitmix64) for timers' jitter.
    pub(crate) fn random_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Whether `addr` is a usable (not tentative) address of any interface (the weak host
    /// model Linux follows for IPv6 too). Linux: `ipv6_chk_addr(net, addr, NULL, 0)`.
    pub(crate) fn ipv6_chk_addr(&self, addr: &Ipv6Addr) -> bool {
        self.devs.values().any(|d| d.ipv6_chk_addr(addr))
    }

    /// Whether another route learnt from a router advertisement may be added.
    pub(crate) fn ra_route_room(&self) -> bool {
        self.fib6.iter().filter(|r| r.expires.is_some()).count() < MAX_RA_ROUTES
    }

    /// A route expiring at `expires` was added: the expiry timer must see it.
    pub(crate) fn fib6_note_expiry(&mut self, expires: Option<Instant>) {
        if let Some(t) = expires {
            self.fib6_gc_at = Some(self.fib6_gc_at.map_or(t, |g| g.min(t)));
        }
    }

    /// Whether `ifindex` has joined `group`. Linux: `ipv6_chk_mcast_addr`.
    pub(crate) fn ipv6_chk_mcast_addr(&self, ifindex: u32, group: &Ipv6Addr) -> bool {
        self.mc
            .get(&ifindex)
            .is_some_and(|v| v.iter().any(|m| m.group == *group))
    }

    /// Whether an ICMPv6 error to `dst` may be sent now: the per-destination token bucket
    /// (`net.ipv6.icmp.ratelimit`, bursts of six) and the global one.
    /// Linux: `icmpv6_xrlim_allow` (`inet_peer_xrlim_allow`) and `icmp_global_allow`.
    pub(crate) fn icmpv6_xrlim_allow(&mut self, dst: &Ipv6Addr, now: Instant) -> bool {
        let cost = self.icmp_ratelimit.as_micros().min(u128::from(u32::MAX)) as u64;
        if cost > 0 {
            let burst = cost * 6;
            if !self.icmp_peers.contains_key(dst) && self.icmp_peers.len() >= MAX_ICMP6_PEERS {
                self.icmp_peers
                    .retain(|_, b| (now.saturating_since(b.1).as_micros() as u64) < burst);
            }
            if self.icmp_peers.len() < MAX_ICMP6_PEERS || self.icmp_peers.contains_key(dst) {
                let b = self.icmp_peers.entry(*dst).or_insert((burst, now));
                let elapsed = now.saturating_since(b.1).as_micros() as u64;
                b.0 = b.0.saturating_add(elapsed).min(burst);
                b.1 = now;
                if b.0 < cost {
                    return false;
                }
                b.0 -= cost;
            }
        }
        self.icmp_rate.allow(now)
    }
}
