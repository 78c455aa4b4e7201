//! The IPv6 routing table: longest prefix over 128 bits, then the lowest metric.
//!
//! Linux: net/ipv6/route.c and ip6_fib.c (`fib6_add`, `fib6_del`, `fib6_lookup`,
//! `ip6_route_add`, `rt6_add_dflt_router`, `fib6_set_expires`). Routes live in
//! `PrefixTrie` (ip/prefix_trie.rs) with `u128` keys, the trie IPv4's tables use with `u32` keys.

use crate::errno::Errno;
use crate::ip::prefix_trie::PrefixTrie;
use crate::time::Instant;
use crate::wire::ipv6::Ipv6Cidr;
use serde::{Deserialize, Serialize};
use std::net::Ipv6Addr;

/// Metric of the routes the kernel adds for addresses (Linux: `IP6_RT_PRIO_ADDRCONF`, 256).
pub const IP6_RT_PRIO_ADDRCONF: u32 = 256;
/// Metric of routes added by hand without one (Linux: `IP6_RT_PRIO_USER`, 1024).
pub const IP6_RT_PRIO_USER: u32 = 1024;

/// Who added a route (Linux: `RTPROT_*`), as `ip -6 route` prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rt6Proto {
    /// For an address (`proto kernel`).
    Kernel,
    /// By hand (`proto boot`, iproute2's default).
    Boot,
    /// From a router advertisement (`proto ra`).
    Ra,
}

impl Rt6Proto {
    /// The word `ip -6 route` prints.
    pub fn name(self) -> &'static str {
        match self {
            Rt6Proto::Kernel => "kernel",
            Rt6Proto::Boot => "boot",
            Rt6Proto::Ra => "ra",
        }
    }
}

/// One route. Linux: `struct fib6_info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rt6Info {
    /// Destination prefix.
    pub dst: Ipv6Cidr,
    /// Gateway (`via`), or `None` for an on-link route.
    pub gateway: Option<Ipv6Addr>,
    /// Output interface.
    pub ifindex: u32,
    /// Metric: among routes of the same prefix the lowest wins.
    pub metric: u32,
    /// Who added it.
    pub proto: Rt6Proto,
    /// When it expires (routes from router advertisements), `None`: never.
    pub expires: Option<Instant>,
}

/// One route as `ip -6 route show` lists it. Linux: an `RTM_NEWROUTE` message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route6Info {
    /// Destination prefix.
    pub dst: Ipv6Cidr,
    /// Gateway (`via`).
    pub gateway: Option<Ipv6Addr>,
    /// Output interface index.
    pub ifindex: u32,
    /// Metric.
    pub metric: u32,
    /// Who added it.
    pub proto: Rt6Proto,
    /// Seconds until it expires (`expires Ns`), if it does.
    pub expires_secs: Option<u64>,
}

impl Rt6Info {
    /// The route as `ip -6 route show` lists it at `now`.
    pub fn info(&self, now: Instant) -> Route6Info {
        Route6Info {
            dst: self.dst,
            gateway: self.gateway,
            ifindex: self.ifindex,
            metric: self.metric,
            proto: self.proto,
            expires_secs: self.expires.map(|t| t.saturating_since(now).as_secs()),
        }
    }
}

/// A routing decision for a destination. Linux: what `ip6_route_output` leaves in the dst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rt6Result {
    /// Output interface.
    pub ifindex: u32,
    /// The neighbour to send to: the gateway, or the destination itself.
    pub nexthop: Ipv6Addr,
}

/// The table. Linux: `fib6_table` (main).
#[derive(Debug, Default)]
pub struct Fib6 {
    trie: PrefixTrie<u128, Rt6Info>,
}

impl Fib6 {
    /// Adds a route; one with the same prefix, gateway, device and metric is `EEXIST`
    /// unless `replace`. Linux: `fib6_add` (`NLM_F_EXCL` / `NLM_F_REPLACE`).
    pub fn fib6_add(&mut self, rt: Rt6Info, replace: bool) -> Result<(), Errno> {
        let dst = rt.dst.network();
        let rt = Rt6Info { dst, ..rt };
        let key = u128::from(dst.addr);
        let v = self.trie.entries_mut(key, dst.prefix_len);
        if let Some(old) = v
            .iter_mut()
            .find(|o| o.metric == rt.metric && o.ifindex == rt.ifindex && o.gateway == rt.gateway)
        {
            if !replace {
                return Err(Errno::EEXIST);
            }
            *old = rt;
            return Ok(());
        }
        let pos = v
            .iter()
            .position(|o| o.metric > rt.metric)
            .unwrap_or(v.len());
        v.insert(pos, rt);
        self.trie.inserted();
        Ok(())
    }

    /// Removes the first route of prefix `dst` that `pick` accepts. Linux: `fib6_del`.
    pub fn fib6_del(
        &mut self,
        dst: Ipv6Cidr,
        pick: impl FnMut(&Rt6Info) -> bool,
    ) -> Option<Rt6Info> {
        let dst = dst.network();
        self.trie.remove(u128::from(dst.addr), dst.prefix_len, pick)
    }

    /// Removes every route through `ifindex` that `pick` accepts.
    pub fn fib6_flush_dev(&mut self, ifindex: u32, mut pick: impl FnMut(&Rt6Info) -> bool) {
        let gone: Vec<Rt6Info> = self
            .trie
            .iter()
            .filter(|r| r.ifindex == ifindex && pick(r))
            .copied()
            .collect();
        for r in gone {
            self.fib6_del(r.dst, |x| *x == r);
        }
    }

    /// Removes routes whose lifetime ran out by `now`; returns the next expiry.
    /// Linux: `fib6_run_gc` / `fib6_age`.
    pub fn fib6_run_gc(&mut self, now: Instant) -> Option<Instant> {
        let gone: Vec<Rt6Info> = self
            .trie
            .iter()
            .filter(|r| r.expires.is_some_and(|t| t <= now))
            .copied()
            .collect();
        for r in gone {
            self.fib6_del(r.dst, |x| *x == r);
        }
        self.trie.iter().filter_map(|r| r.expires).min()
    }

    /// The route for `dst`: the longest prefix with a route `usable` accepts, its lowest
    /// metric. Linux: `fib6_lookup` → `fib6_select_path`.
    pub fn fib6_lookup(
        &self,
        dst: &Ipv6Addr,
        usable: impl Fn(&Rt6Info) -> bool,
    ) -> Option<&Rt6Info> {
        self.trie.lookup(u128::from(*dst), usable)
    }

    /// Every route, in prefix order.
    pub fn iter(&self) -> impl Iterator<Item = &Rt6Info> + '_ {
        self.trie.iter()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    /// True when there is no route.
    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rt(dst: &str, gw: Option<&str>, ifindex: u32, metric: u32) -> Rt6Info {
        Rt6Info {
            dst: dst.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            ifindex,
            metric,
            proto: Rt6Proto::Boot,
            expires: None,
        }
    }

    #[test]
    fn longest_prefix_then_lowest_metric() {
        let mut f = Fib6::default();
        f.fib6_add(rt("::/0", Some("2001:db8::1"), 2, 1024), false)
            .unwrap();
        f.fib6_add(rt("2001:db8::/64", None, 2, 256), false)
            .unwrap();
        f.fib6_add(rt("2001:db8::/64", None, 3, 100), false)
            .unwrap();
        assert_eq!(
            f.fib6_add(rt("2001:db8::/64", None, 3, 100), false),
            Err(Errno::EEXIST)
        );
        let d: Ipv6Addr = "2001:db8::5".parse().unwrap();
        assert_eq!(f.fib6_lookup(&d, |_| true).unwrap().ifindex, 3);
        // A device that cannot be used falls back to the next metric.
        assert_eq!(f.fib6_lookup(&d, |r| r.ifindex != 3).unwrap().ifindex, 2);
        let far: Ipv6Addr = "2001:db8:1::5".parse().unwrap();
        let r = f.fib6_lookup(&far, |_| true).unwrap();
        assert_eq!(r.gateway, Some("2001:db8::1".parse().unwrap()));
        assert_eq!(f.len(), 3);
        f.fib6_flush_dev(3, |_| true);
        assert_eq!(f.fib6_lookup(&d, |_| true).unwrap().ifindex, 2);
        assert!(f.fib6_del("::/0".parse().unwrap(), |_| true).is_some());
        assert!(f.fib6_lookup(&far, |_| true).is_none());
    }

    #[test]
    fn expired_routes_go() {
        let mut f = Fib6::default();
        let mut r = rt("::/0", Some("fe80::1"), 2, 1024);
        r.expires = Some(Instant::from_millis(1_800_000));
        f.fib6_add(r, false).unwrap();
        assert_eq!(
            f.fib6_run_gc(Instant::from_millis(1000)),
            Some(Instant::from_millis(1_800_000))
        );
        assert_eq!(f.fib6_run_gc(Instant::from_millis(1_800_000)), None);
        assert!(f.is_empty());
    }
}
