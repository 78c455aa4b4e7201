//! Route lookups: the walk through rules and tables (with its cache), the choice of interface,
//! next hop and source for locally generated packets, and the classification of received ones.
//!
//! Linux: net/ipv4/route.c (`ip_route_output_key_hash_rcu`, `ip_route_input_slow`,
//! `ip_route_input_noref`, `rt_cache_flush`) and include/net/ip_fib.h (`fib_lookup`). The
//! tables themselves are in [`super::fib`], the rules in [`super::rules`].

pub use super::fib::{
    Route, RouteMatch, RouteProto, RouteScope, RouteType, RT_TABLE_DEFAULT, RT_TABLE_LOCAL,
    RT_TABLE_MAIN,
};
pub use super::rtcache::RtCacheStats;
use crate::device::netns::NetnsDev;
use crate::errno::Errno;
use crate::stack::{LinkKind, Stack, LOOPBACK_IFINDEX};
use crate::wire::Ipv4Addr;

/// The key of a route lookup. Linux: `struct flowi4` (the fields Linnet's rules can select on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flowi4 {
    /// Destination.
    pub dst: Ipv4Addr,
    /// Source (unspecified for a local sender that has not chosen one).
    pub src: Ipv4Addr,
    /// Input interface; `LOOPBACK_IFINDEX` for locally generated packets, as in Linux.
    pub iif: u32,
    /// Firewall mark.
    pub mark: u32,
}

/// The result of an output route lookup. Linux: `struct rtable` for output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputRoute {
    /// Output interface.
    pub ifindex: u32,
    /// Next hop to resolve on that interface (the gateway, or the destination itself).
    pub nexthop: Ipv4Addr,
    /// Source address to use.
    pub src: Ipv4Addr,
    /// The destination is a broadcast address on that link.
    pub broadcast: bool,
    /// The route's metrics (`mtu`, `advmss`, `initcwnd`...). Linux: `dst_metric` on the
    /// `rtable`, shared with its `fib_info`.
    pub metrics: super::metrics::RouteMetrics,
}

impl OutputRoute {
    /// The route's MTU over a device of `dev_mtu`: its `mtu` metric when set (never above
    /// the device's), else the device's. Linux: `ipv4_mtu` without an exception.
    pub fn mtu(&self, dev_mtu: usize) -> usize {
        match self.metrics.mtu {
            0 => dev_mtu,
            m => dev_mtu.min(m as usize),
        }
    }
}

/// Where a received packet goes. Linux: the `dst.input` that `ip_route_input_noref` installs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRoute {
    /// For this host. Linux: `RTN_LOCAL` → `ip_local_deliver`.
    Local,
    /// A broadcast we accept. Linux: `RTN_BROADCAST` → `ip_local_deliver`.
    Broadcast,
    /// Someone else's, to be forwarded by this route. Linux: `ip_forward`.
    Forward(Route),
    /// Neither: dropped by `ip_error` with this error (`ENETUNREACH` no route,
    /// `EHOSTUNREACH` unreachable or not forwarding, `EACCES` prohibited, `EINVAL` blackhole).
    Error(Errno),
    /// A destination no route can take (multicast: there is no multicast routing).
    /// Linux: `martian_destination` / an unjoined group.
    Martian,
}

impl InputRoute {
    /// How the decision reads in a packet trace (`ip_route_input: local`).
    pub(crate) fn trace_name(&self) -> &'static str {
        match self {
            InputRoute::Local => "local",
            InputRoute::Broadcast => "broadcast",
            InputRoute::Forward(_) => "forward",
            InputRoute::Error(Errno::ENETUNREACH) => "error (no route)",
            InputRoute::Error(Errno::EHOSTUNREACH) => "error (unreachable)",
            InputRoute::Error(Errno::EACCES) => "error (prohibit)",
            InputRoute::Error(Errno::EINVAL) => "error (blackhole)",
            InputRoute::Error(_) => "error",
            InputRoute::Martian => "martian destination",
        }
    }
}

/// Whether a route's next hop can be used now: a unicast route needs its interface up.
/// Linux: the `RTNH_F_DEAD` / `RTNH_F_LINKDOWN` checks of `fib_table_lookup`.
fn fib_nh_usable(dev: &NetnsDev, r: &Route) -> bool {
    r.kind != RouteType::Unicast || dev.dev_get_by_index(r.ifindex).is_some_and(|i| i.up)
}

impl Stack {
    /// Find the route for `flow`: walk the rules in priority order through their tables,
    /// skipping unicast routes whose interface is down, and remember the answer until the
    /// next change. Linux: `fib_lookup` → `fib_rules_lookup`.
    pub fn fib_lookup(&self, flow: &Flowi4) -> Result<Route, Errno> {
        self.ipv4.fib_lookup(flow, |r| fib_nh_usable(&self.dev, r))
    }

    /// The generation cached lookups must match: it moves on every change to the tables,
    /// the rules, or a link's state. Linux: `rt_genid_ipv4`.
    pub(crate) fn rt_genid(&self) -> u64 {
        self.ipv4.rt_genid()
    }

    /// Route cache counters. Linux: `/proc/net/stat/rt_cache`.
    pub fn route_cache_stats(&self) -> RtCacheStats {
        self.ipv4.rt_cache.borrow().stats()
    }

    /// Choose interface, next hop and source address for a locally generated packet.
    /// Linux: `ip_route_output_key` → `ip_route_output_key_hash_rcu`.
    pub fn ip_route_output(
        &self,
        dst: Ipv4Addr,
        src: Option<Ipv4Addr>,
    ) -> Result<OutputRoute, Errno> {
        if let Some(s) = src {
            if !s.is_unspecified() && !self.is_local_addr(s) {
                return Err(Errno::EADDRNOTAVAIL);
            }
        }
        let src = src.filter(|s| !s.is_unspecified());
        if dst.is_broadcast() {
            // Limited broadcast: out of the interface of the source, or the first Ethernet one.
            let iface = self
                .dev
                .for_each_netdev()
                .filter(|i| i.kind == LinkKind::Ether && i.up)
                .find(|i| src.is_none_or(|s| i.addrs.iter().any(|c| c.addr == s)))
                .ok_or(Errno::ENETUNREACH)?;
            let s = src
                .or_else(|| iface.addrs.first().map(|c| c.addr))
                .unwrap_or(Ipv4Addr::UNSPECIFIED);
            return Ok(OutputRoute {
                ifindex: iface.ifindex,
                nexthop: dst,
                src: s,
                broadcast: true,
                metrics: Default::default(),
            });
        }
        let flow = Flowi4 {
            dst,
            src: src.unwrap_or(Ipv4Addr::UNSPECIFIED),
            iif: LOOPBACK_IFINDEX,
            mark: 0,
        };
        let route = self.fib_lookup(&flow)?;
        if route.kind == RouteType::Local {
            // Traffic to ourselves goes through the loopback device.
            return Ok(OutputRoute {
                ifindex: LOOPBACK_IFINDEX,
                nexthop: dst,
                src: src.or(route.prefsrc).unwrap_or(dst),
                broadcast: false,
                metrics: route.metrics,
            });
        }
        let iface = self.iface(route.ifindex).ok_or(Errno::ENETUNREACH)?;
        if !iface.up {
            return Err(Errno::ENETUNREACH);
        }
        let nexthop = route.gateway.unwrap_or(dst);
        let src = match src {
            Some(s) => s,
            None => route
                .prefsrc
                .or_else(|| iface.source_for(nexthop))
                .ok_or(Errno::EADDRNOTAVAIL)?,
        };
        Ok(OutputRoute {
            ifindex: route.ifindex,
            nexthop,
            src,
            broadcast: route.kind == RouteType::Broadcast
                || (route.gateway.is_none() && iface.is_subnet_broadcast(dst)),
            metrics: route.metrics,
        })
    }

    /// Decide where a received packet to `dst` goes: local delivery for the local table's
    /// local and broadcast routes, forwarding by a unicast route when forwarding is on,
    /// otherwise an error for `ip_error`. Linux: `ip_route_input_slow`.
    pub fn ip_route_input(
        &self,
        dst: Ipv4Addr,
        src: Ipv4Addr,
        ifindex: u32,
        mark: u32,
    ) -> InputRoute {
        if dst.is_broadcast() {
            return InputRoute::Broadcast;
        }
        if dst.is_multicast() {
            return InputRoute::Martian;
        }
        let flow = Flowi4 {
            dst,
            src,
            iif: ifindex,
            mark,
        };
        let forwarding = self.config.ip_forward;
        match self.fib_lookup(&flow) {
            Ok(r) if r.kind == RouteType::Local => InputRoute::Local,
            Ok(r) if r.kind == RouteType::Broadcast => InputRoute::Broadcast,
            // Not ours and we do not forward: Linux turns every such case into EHOSTUNREACH.
            _ if !forwarding => InputRoute::Error(Errno::EHOSTUNREACH),
            Ok(r) => InputRoute::Forward(r),
            Err(e) => InputRoute::Error(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::rules::{FibRule, RuleMatch};
    use crate::wire::{EthernetAddress, Ipv4Cidr};
    use crate::{Instant, StackConfig};

    fn stack(forward: bool) -> (Stack, u32, u32) {
        let mut s = Stack::new(StackConfig {
            ip_forward: forward,
            ..StackConfig::default()
        });
        let a = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
        let b = s.add_interface("eth1", EthernetAddress([2, 0, 0, 0, 0, 2]), 1500);
        s.add_addr(a, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.add_addr(b, "198.51.100.1/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.set_link_up(a, true, Instant::ZERO).unwrap();
        s.set_link_up(b, true, Instant::ZERO).unwrap();
        (s, a, b)
    }

    fn ip(a: &str) -> Ipv4Addr {
        a.parse().unwrap()
    }

    fn out(s: &Stack, dst: &str) -> Result<u32, Errno> {
        s.ip_route_output(ip(dst), None).map(|r| r.ifindex)
    }

    #[test]
    fn output_uses_local_table_and_prefsrc() {
        let (s, a, b) = stack(false);
        let rt = s.ip_route_output(ip("192.0.2.1"), None).unwrap();
        assert_eq!((rt.ifindex, rt.src), (LOOPBACK_IFINDEX, ip("192.0.2.1")));
        let rt = s.ip_route_output(ip("127.0.0.9"), None).unwrap();
        assert_eq!((rt.ifindex, rt.src), (LOOPBACK_IFINDEX, ip("127.0.0.1")));
        let rt = s.ip_route_output(ip("198.51.100.255"), None).unwrap();
        assert!(rt.broadcast);
        assert_eq!((rt.ifindex, rt.src), (b, ip("198.51.100.1")));
        assert_eq!(out(&s, "192.0.2.77"), Ok(a));
        assert_eq!(out(&s, "203.0.113.1"), Err(Errno::ENETUNREACH));
    }

    #[test]
    fn input_classification_follows_route_types_and_forwarding() {
        for forward in [false, true] {
            let (mut s, a, b) = stack(forward);
            let src = ip("192.0.2.50");
            let classify = |s: &Stack, d: &str| s.ip_route_input(ip(d), src, a, 0);
            assert_eq!(classify(&s, "198.51.100.1"), InputRoute::Local);
            assert_eq!(classify(&s, "192.0.2.255"), InputRoute::Broadcast);
            assert_eq!(classify(&s, "255.255.255.255"), InputRoute::Broadcast);
            assert_eq!(classify(&s, "224.0.0.1"), InputRoute::Martian);
            match classify(&s, "198.51.100.7") {
                InputRoute::Forward(r) => {
                    assert!(forward);
                    assert_eq!(r.ifindex, b);
                }
                other => {
                    assert!(!forward);
                    assert_eq!(other, InputRoute::Error(Errno::EHOSTUNREACH));
                }
            }
            let no_route = classify(&s, "203.0.113.1");
            let want = if forward {
                Errno::ENETUNREACH
            } else {
                Errno::EHOSTUNREACH
            };
            assert_eq!(no_route, InputRoute::Error(want));
            let dst: Ipv4Cidr = "203.0.113.0/24".parse().unwrap();
            for (kind, err) in [
                (RouteType::Blackhole, Errno::EINVAL),
                (RouteType::Unreachable, Errno::EHOSTUNREACH),
                (RouteType::Prohibit, Errno::EACCES),
            ] {
                s.add_route(Route::special(kind, dst)).unwrap();
                let want = if forward { err } else { Errno::EHOSTUNREACH };
                assert_eq!(classify(&s, "203.0.113.1"), InputRoute::Error(want));
                // Locally generated packets get the same error from the output lookup.
                assert_eq!(out(&s, "203.0.113.1"), Err(err));
                s.del_route(&RouteMatch::new(dst)).unwrap();
            }
        }
    }

    #[test]
    fn cache_is_used_and_invalidated_by_every_kind_of_change() {
        let (mut s, a, b) = stack(true);
        let gw = ip("198.51.100.254");
        let dst: Ipv4Cidr = "203.0.113.0/24".parse().unwrap();
        assert_eq!(out(&s, "203.0.113.1"), Err(Errno::ENETUNREACH));
        let before = s.route_cache_stats();
        assert_eq!(out(&s, "203.0.113.1"), Err(Errno::ENETUNREACH));
        let after = s.route_cache_stats();
        assert_eq!(after.hits, before.hits + 1, "a repeated lookup is a hit");
        assert_eq!(after.misses, before.misses);

        // A route change.
        s.add_route(Route::unicast(dst, Some(gw), b)).unwrap();
        assert_eq!(out(&s, "203.0.113.1"), Ok(b));
        let m = s.route_cache_stats().misses;
        assert_eq!(out(&s, "203.0.113.1"), Ok(b));
        assert_eq!(s.route_cache_stats().misses, m);

        // A link going down: the route's interface is dead, so nothing routes there.
        s.set_link_up(b, false, Instant::ZERO).unwrap();
        assert_eq!(out(&s, "203.0.113.1"), Err(Errno::ENETUNREACH));
        s.set_link_up(b, true, Instant::ZERO).unwrap();
        assert_eq!(out(&s, "203.0.113.1"), Ok(b));

        // A rule change, seen by the forwarding (input) lookup keyed on source and iif.
        let src = ip("192.0.2.9");
        let fwd = |s: &Stack| match s.ip_route_input(ip("203.0.113.1"), src, a, 0) {
            InputRoute::Forward(r) => Ok(r.ifindex),
            InputRoute::Error(e) => Err(e),
            other => panic!("{other:?}"),
        };
        assert_eq!(fwd(&s), Ok(b));
        let mut rule = FibRule::lookup(100, 100);
        rule.from = Some("192.0.2.0/24".parse().unwrap());
        s.add_rule(rule).unwrap();
        s.add_route(Route {
            table: 100,
            ..Route::special(RouteType::Prohibit, dst)
        })
        .unwrap();
        assert_eq!(fwd(&s), Err(Errno::EACCES));
        assert_eq!(
            out(&s, "203.0.113.1"),
            Ok(b),
            "local source 0 skips the rule"
        );
        s.del_rule(&RuleMatch {
            priority: Some(100),
            ..RuleMatch::default()
        })
        .unwrap();
        assert_eq!(fwd(&s), Ok(b));

        // An address change: the new address is local at once.
        assert!(matches!(
            s.ip_route_input(ip("203.0.113.1"), src, a, 0),
            InputRoute::Forward(_)
        ));
        s.add_addr(b, "203.0.113.1/32".parse().unwrap(), Instant::ZERO)
            .unwrap();
        assert_eq!(
            s.ip_route_input(ip("203.0.113.1"), src, a, 0),
            InputRoute::Local
        );
        s.del_addr(b, ip("203.0.113.1")).unwrap();
        assert!(matches!(
            s.ip_route_input(ip("203.0.113.1"), src, a, 0),
            InputRoute::Forward(_)
        ));
    }
}
