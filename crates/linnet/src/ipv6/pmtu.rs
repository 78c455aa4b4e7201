//! IPv6 path MTU: what ICMPv6 Packet Too Big taught us about the MTU towards a destination
//! (RFC 8201), kept per destination for `ip6_rt_mtu_expires` in the exception table IPv4 uses
//! (`ip/pmtu.rs`'s `PmtuCache`, keyed by IPv6 address here).
//!
//! Linux: net/ipv6/route.c (`ip6_update_pmtu`, `__ip6_rt_update_pmtu`, `rt6_do_update_pmtu`,
//! `rt6_insert_exception`, `ip6_mtu`) with the sysctl `net.ipv6.route.mtu_expires` (600 s).
//!
//! As in Linux and unlike IPv4:
//! - a report below the minimum link MTU lowers the path MTU to 1280, never below
//!   (RFC 8201 section 4; no more atomic fragments, RFC 8021);
//! - a route's `mtu lock` does not stop the update: path MTU discovery is not optional
//!   in IPv6;
//! - a report not below the current path MTU changes nothing and does not refresh the
//!   expiry.

use crate::ip::pmtu::{PmtuCache, PmtuException, PmtuParams};
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ipv6::{HEADER_LEN, MIN_MTU};
use crate::wire::{Ipv6Addr, Ipv6Packet};
use std::time::Duration;

/// IPv6 path MTU tunables. Linux: `net.ipv6.route.mtu_expires`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ip6PmtuParams {
    /// `route.mtu_expires` (`ip6_rt_mtu_expires`, 600 s): how long a learned path MTU is
    /// kept.
    pub mtu_expires: Duration,
    /// Most exceptions kept; when full, expired ones go first, then the one expiring soonest.
    pub max_entries: usize,
}

impl Default for Ip6PmtuParams {
    fn default() -> Self {
        Ip6PmtuParams {
            mtu_expires: Duration::from_secs(600),
            max_entries: 1024,
        }
    }
}

impl Ip6PmtuParams {
    fn cache_params(&self) -> PmtuParams {
        PmtuParams {
            mtu_expires: self.mtu_expires,
            min_pmtu: MIN_MTU as u32,
            max_entries: self.max_entries,
        }
    }
}

/// What the Packet Too Big reports did (Linnet's counters; Linux counts the messages
/// themselves as `Icmp6InPktTooBigs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ip6PmtuStats {
    /// Reports that lowered a path MTU.
    pub updates: u64,
    /// Reports below 1280, taken as 1280.
    pub below_min_mtu: u64,
    /// Reports that changed nothing (not below the current path MTU).
    pub ignored: u64,
}

/// The IPv6 path MTU exceptions of a namespace. Linux: the exception buckets of the fib6
/// routes.
#[derive(Debug)]
pub struct Rt6Pmtu {
    params: Ip6PmtuParams,
    cache: PmtuCache<Ipv6Addr>,
    stats: Ip6PmtuStats,
}

impl Default for Rt6Pmtu {
    fn default() -> Self {
        Rt6Pmtu::new(Ip6PmtuParams::default())
    }
}

impl Rt6Pmtu {
    /// No exceptions.
    pub fn new(params: Ip6PmtuParams) -> Rt6Pmtu {
        Rt6Pmtu {
            params,
            cache: PmtuCache::new(params.cache_params()),
            stats: Ip6PmtuStats::default(),
        }
    }

    /// Change the tunables; exceptions keep their expiry. Linux: a write to
    /// `net.ipv6.route.mtu_expires`.
    pub fn set_params(&mut self, params: Ip6PmtuParams) {
        self.params = params;
        self.cache.set_params(params.cache_params());
    }

    /// The tunables.
    pub fn params(&self) -> &Ip6PmtuParams {
        &self.params
    }

    /// The counters.
    pub fn stats(&self) -> &Ip6PmtuStats {
        &self.stats
    }

    /// The MTU towards `dst` along a route whose own MTU (device's, or the route's `mtu`
    /// metric) is `route_mtu`: lowered by a live exception. Linux: `ip6_mtu` on the
    /// `RTF_CACHE` route `rt6_find_cached_rt` returns.
    pub fn ip6_mtu(&self, dst: Ipv6Addr, route_mtu: usize, now: Instant) -> usize {
        if self.cache.is_empty() {
            return route_mtu;
        }
        match self.cache.find_exception(dst, now) {
            Some(e) => route_mtu.min(e.mtu as usize),
            None => route_mtu,
        }
    }

    /// A Packet Too Big about a datagram to `dst` reported `mtu`; the route there has MTU
    /// `route_mtu`. Lowers the path MTU (never below 1280) and (re)starts its expiry; returns
    /// the MTU towards `dst` afterwards. Linux: `ip6_update_pmtu` → `__ip6_rt_update_pmtu`
    /// → `rt6_do_update_pmtu`.
    pub fn ip6_update_pmtu(
        &mut self,
        dst: Ipv6Addr,
        mtu: u32,
        route_mtu: usize,
        now: Instant,
    ) -> usize {
        let min = MIN_MTU as u32;
        if mtu < min {
            self.stats.below_min_mtu += 1;
        }
        let mtu = mtu.max(min);
        let current = self.ip6_mtu(dst, route_mtu, now);
        if mtu as usize >= current {
            self.stats.ignored += 1;
            return current;
        }
        self.cache.update_or_create_fnhe(dst, mtu, false, now);
        self.stats.updates += 1;
        self.ip6_mtu(dst, route_mtu, now)
    }

    /// The path MTU learnt for `dst`, if still live at `now`. Linux: `rt6_find_cached_rt`.
    pub fn find(&self, dst: Ipv6Addr, now: Instant) -> Option<usize> {
        self.cache.find_exception(dst, now).map(|e| e.mtu as usize)
    }

    /// The live exceptions, sorted by destination (`ip -6 route show cache`).
    pub fn exceptions(&self, now: Instant) -> Vec<PmtuException<Ipv6Addr>> {
        self.cache.live(now)
    }
}

impl Stack {
    /// A Packet Too Big quoting one of our datagrams (`quoted`, its IPv6 header first)
    /// reported `mtu`: lower the path MTU towards its destination.
    /// Linux: `icmpv6_rcv` → `ip6_update_pmtu` → `__ip6_rt_update_pmtu`.
    pub(crate) fn ip6_update_pmtu(&mut self, quoted: &[u8], mtu: u32, now: Instant) {
        // The quote is cut short of the datagram: only its fixed header is needed.
        if quoted.len() < HEADER_LEN {
            return;
        }
        let ip = Ipv6Packet::new_unchecked(quoted);
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        if !self.ipv6.ipv6_chk_addr(&src) || dst.is_multicast() {
            return;
        }
        let Ok(rt) = self.ip6_route_output(&dst, None) else {
            return;
        };
        if let Some(link) = self.iface(rt.ifindex).map(|i| i.mtu) {
            self.ipv6.pmtu.ip6_update_pmtu(dst, mtu, link, now);
        }
    }

    /// The MTU our datagrams to `dst` leaving on a link of `link_mtu` are cut to.
    /// Linux: `ip6_skb_dst_mtu` → `ip6_mtu`.
    pub(crate) fn ip6_path_mtu(&self, dst: &Ipv6Addr, link_mtu: usize, now: Instant) -> usize {
        self.ipv6.pmtu.ip6_mtu(*dst, link_mtu, now)
    }

    /// The path MTU learnt for `dst`, if any (`ip -6 route get` shows it as `mtu`).
    pub fn ip6_pmtu(&self, dst: &Ipv6Addr, now: Instant) -> Option<usize> {
        self.ipv6.pmtu.find(*dst, now)
    }

    /// The IPv6 path MTU store (exceptions, counters, tunables).
    pub fn ip6_pmtu_cache(&self) -> &Rt6Pmtu {
        &self.ipv6.pmtu
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Ipv6Addr {
        s.parse().unwrap()
    }

    #[test]
    fn lowers_never_raises_never_below_1280_and_expires() {
        let mut p = Rt6Pmtu::default();
        let dst = a("2001:db8:1::7");
        let t0 = Instant::from_secs(10);
        assert_eq!(p.ip6_mtu(dst, 1500, t0), 1500);
        assert_eq!(p.ip6_update_pmtu(dst, 1400, 1500, t0), 1400);
        assert_eq!(p.ip6_update_pmtu(dst, 1480, 1500, t0), 1400, "never raised");
        assert_eq!(p.ip6_update_pmtu(dst, 9000, 1500, t0), 1400);
        // RFC 8201: a report below the minimum link MTU stops at 1280.
        assert_eq!(p.ip6_update_pmtu(dst, 576, 1500, t0), 1280);
        assert_eq!(p.ip6_update_pmtu(dst, 0, 1500, t0), 1280);
        assert_eq!(
            *p.stats(),
            Ip6PmtuStats {
                updates: 2,
                below_min_mtu: 2,
                ignored: 3
            }
        );
        // Other destinations are untouched; a smaller route MTU still wins.
        assert_eq!(p.ip6_mtu(a("2001:db8:1::8"), 1500, t0), 1500);
        assert_eq!(p.ip6_mtu(dst, 1280, t0), 1280);
        let e = p.exceptions(t0);
        assert_eq!(e.len(), 1);
        assert_eq!((e[0].dst, e[0].mtu), (dst, 1280));
        assert_eq!(e[0].expires, t0 + Duration::from_secs(600));
        // ip6_rt_mtu_expires later the route's MTU is back.
        let later = t0 + Duration::from_secs(600);
        assert_eq!(p.ip6_mtu(dst, 1500, later), 1500);
        assert!(p.exceptions(later).is_empty());
    }

    #[test]
    fn only_a_lower_report_refreshes_the_expiry() {
        let mut p = Rt6Pmtu::new(Ip6PmtuParams {
            mtu_expires: Duration::from_secs(100),
            ..Ip6PmtuParams::default()
        });
        let dst = a("2001:db8::9");
        let t0 = Instant::from_secs(1);
        p.ip6_update_pmtu(dst, 1400, 1500, t0);
        p.ip6_update_pmtu(dst, 1400, 1500, t0 + Duration::from_secs(90));
        assert_eq!(p.exceptions(t0)[0].expires, t0 + Duration::from_secs(100));
        let t1 = t0 + Duration::from_secs(95);
        p.ip6_update_pmtu(dst, 1300, 1500, t1);
        assert_eq!(p.exceptions(t1)[0].expires, t1 + Duration::from_secs(100));
        assert_eq!(p.ip6_mtu(dst, 1500, t1 + Duration::from_secs(99)), 1300);
    }

    #[test]
    fn table_is_bounded() {
        let mut p = Rt6Pmtu::new(Ip6PmtuParams {
            max_entries: 8,
            ..Ip6PmtuParams::default()
        });
        for i in 0..1000u32 {
            let now = Instant::from_secs(u64::from(i));
            let dst = Ipv6Addr::from((0x2001_0db8u128 << 96) | u128::from(i));
            p.ip6_update_pmtu(dst, 1300, 1500, now);
            assert!(p.exceptions(now).len() <= 8);
        }
        let live = p.exceptions(Instant::from_secs(1000));
        assert_eq!(live.len(), 8);
        assert_eq!(
            live[0].dst,
            Ipv6Addr::from((0x2001_0db8u128 << 96) | 992),
            "the newest are kept"
        );
    }
}
