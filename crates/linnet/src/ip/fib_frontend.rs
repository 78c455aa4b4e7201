//! The routing configuration API (what `ip route`, `ip rule` and the `ip_forward` sysctl do),
//! and the kernel routes that follow addresses.
//!
//! Linux: net/ipv4/fib_frontend.c (`inet_rtm_newroute`, `inet_rtm_delroute`, `fib_add_ifaddr`,
//! `fib_del_ifaddr`, `fib_magic`), net/core/fib_rules.c (`fib_nl_newrule`, `fib_nl_delrule`)
//! and the `net.ipv4.ip_forward` sysctl (`devinet_sysctl_forward`).

use super::fib::{
    Route, RouteMatch, RouteProto, RouteScope, RouteType, RT_TABLE_LOCAL, RT_TABLE_MAIN,
};
use super::netns::NetnsIpv4;
use super::rules::{FibRule, RuleMatch};
use crate::device::netns::NetnsDev;
use crate::errno::Errno;
use crate::stack::{LinkKind, Stack};
use crate::wire::{Ipv4Addr, Ipv4Cidr};

/// A /32 prefix.
fn host(a: Ipv4Addr) -> Ipv4Cidr {
    Ipv4Cidr::new(a, 32).expect("valid prefix")
}

/// The kernel route `fib_magic` installs for an address.
fn kernel_route(
    kind: RouteType,
    dst: Ipv4Cidr,
    ifindex: u32,
    scope: RouteScope,
    src: Ipv4Addr,
) -> Route {
    Route {
        dst,
        gateway: None,
        ifindex,
        metric: 0,
        scope,
        prefsrc: Some(src),
        protocol: RouteProto::Kernel,
        table: if kind == RouteType::Unicast {
            RT_TABLE_MAIN
        } else {
            RT_TABLE_LOCAL
        },
        kind,
        metrics: Default::default(),
    }
}

impl NetnsIpv4 {
    /// The main table's routes (`ip route show`).
    pub(crate) fn routes(&self) -> Vec<Route> {
        self.fib.dump(RT_TABLE_MAIN)
    }

    /// One table's routes (`ip route show table N`).
    pub(crate) fn table_routes(&self, table: u32) -> Vec<Route> {
        self.fib.dump(table)
    }

    /// Ids of the tables holding routes.
    pub(crate) fn route_tables(&self) -> Vec<u32> {
        self.fib.table_ids().collect()
    }

    /// The interface through which gateway `gw` is directly reachable: the route to it (in
    /// `table`, else main) must be a connected unicast one, on `ifindex` if that is nonzero.
    /// Linux: `fib_check_nh_v4_gw` ("Nexthop has invalid gateway").
    pub(crate) fn fib_check_nh_gw(
        &self,
        dev: &NetnsDev,
        gw: Ipv4Addr,
        ifindex: u32,
        table: u32,
    ) -> Result<u32, Errno> {
        if gw.is_unspecified() || gw.is_multicast() || gw.is_broadcast() || dev.is_local_addr(gw) {
            return Err(Errno::EINVAL);
        }
        if ifindex != 0 && dev.dev_get_by_index(ifindex).is_none() {
            return Err(Errno::ENODEV);
        }
        let found = self
            .fib
            .lookup(table, gw, |_| true)
            .or_else(|| self.fib.lookup(RT_TABLE_MAIN, gw, |_| true));
        match found {
            Some(r)
                if r.kind == RouteType::Unicast
                    && r.gateway.is_none()
                    && (ifindex == 0 || r.ifindex == ifindex) =>
            {
                Ok(r.ifindex)
            }
            _ => Err(Errno::EINVAL),
        }
    }

    /// Install the kernel routes for a new address: `local <addr>` in the local table; for a
    /// primary address (the first on its subnet) also the subnet route (main table; on
    /// loopback a `local` route in the local table) and `broadcast <subnet broadcast>`.
    /// Linux: `fib_add_ifaddr` → `fib_magic`.
    pub(crate) fn fib_add_ifaddr(&mut self, dev: &NetnsDev, ifindex: u32, cidr: Ipv4Cidr) {
        let Some(iface) = dev.dev_get_by_index(ifindex) else {
            return;
        };
        let loopback = iface.kind == LinkKind::Loopback;
        let primary = !iface.addrs.iter().any(|c| {
            c.addr != cidr.addr && c.prefix_len == cidr.prefix_len && c.network() == cidr.network()
        });
        let a = cidr.addr;
        // Append: kernel routes coexist with equal ones on other interfaces. An identical one
        // already present (the same address on the same interface again) is no error.
        let local = kernel_route(RouteType::Local, host(a), ifindex, RouteScope::Host, a);
        let _ = self.fib.insert(local, true);
        if !primary || cidr.prefix_len >= 32 {
            return;
        }
        let (kind, scope) = if loopback {
            (RouteType::Local, RouteScope::Host)
        } else {
            (RouteType::Unicast, RouteScope::Link)
        };
        let _ = self
            .fib
            .insert(kernel_route(kind, cidr.network(), ifindex, scope, a), true);
        if let Some(bcast) = cidr.broadcast() {
            let b = kernel_route(
                RouteType::Broadcast,
                host(bcast),
                ifindex,
                RouteScope::Link,
                a,
            );
            let _ = self.fib.insert(b, true);
        }
    }

    /// Remove the kernel routes of a deleted address (already gone from the interface's list).
    /// If it was the primary and another address remains on the subnet, that one takes over
    /// the subnet's routes. Linux: `fib_del_ifaddr` (with `promote_secondaries`).
    pub(crate) fn fib_del_ifaddr(&mut self, dev: &NetnsDev, ifindex: u32, cidr: Ipv4Cidr) {
        let a = cidr.addr;
        let kernel = |dst: Ipv4Cidr, table: u32, kind: RouteType| RouteMatch {
            table: Some(table),
            ifindex: Some(ifindex),
            prefsrc: Some(a),
            protocol: Some(RouteProto::Kernel),
            kind: Some(kind),
            ..RouteMatch::new(dst)
        };
        let _ = self
            .fib
            .delete(&kernel(host(a), RT_TABLE_LOCAL, RouteType::Local));
        let net = cidr.network();
        let was_primary = [
            kernel(net, RT_TABLE_MAIN, RouteType::Unicast),
            kernel(net, RT_TABLE_LOCAL, RouteType::Local),
        ]
        .iter()
        .any(|m| self.fib.delete(m).is_ok());
        if let Some(bcast) = cidr.broadcast() {
            let _ = self
                .fib
                .delete(&kernel(host(bcast), RT_TABLE_LOCAL, RouteType::Broadcast));
        }
        if !was_primary {
            return;
        }
        let heir = dev.dev_get_by_index(ifindex).and_then(|i| {
            i.addrs
                .iter()
                .find(|c| c.prefix_len == cidr.prefix_len && c.network() == net)
                .copied()
        });
        if let Some(h) = heir {
            self.fib_add_ifaddr(dev, ifindex, h);
        }
    }
}

impl Stack {
    /// Add a route (`ip route add`). The prefix must have its host bits clear; device-less
    /// types (blackhole, unreachable, prohibit) take neither device nor gateway; a gateway must
    /// be on a directly connected subnet (of `ifindex` if given, which is then filled in).
    /// A route to the same prefix with the same metric in the same table is `EEXIST`.
    /// Linux: `inet_rtm_newroute` → `fib_create_info` (`fib_check_nh`) → `fib_table_insert`.
    pub fn add_route(&mut self, mut route: Route) -> Result<(), Errno> {
        if route.dst.prefix_len > 32 || route.dst.network() != route.dst || route.table == 0 {
            return Err(Errno::EINVAL);
        }
        if route.kind.is_deviceless() {
            if route.gateway.is_some() || route.ifindex != 0 {
                return Err(Errno::EINVAL);
            }
        } else if let Some(gw) = route.gateway {
            route.ifindex = self
                .ipv4
                .fib_check_nh_gw(&self.dev, gw, route.ifindex, route.table)?;
        } else if self.iface(route.ifindex).is_none() {
            return Err(Errno::ENODEV);
        }
        self.ipv4.fib.insert(route, false)
    }

    /// Delete the first route matching `m` (`ip route del`); `ESRCH` if none does.
    /// Linux: `inet_rtm_delroute` → `fib_table_delete`.
    pub fn del_route(&mut self, m: &RouteMatch) -> Result<Route, Errno> {
        if m.dst.prefix_len > 32 || m.dst.network() != m.dst {
            return Err(Errno::EINVAL);
        }
        self.ipv4.fib.delete(m)
    }

    /// Add a default route via `gateway`, on the interface whose subnet holds it.
    pub fn add_default_gateway(&mut self, gateway: Ipv4Addr) -> Result<(), Errno> {
        let ifindex = self
            .dev
            .for_each_netdev()
            .find(|i| i.kind == LinkKind::Ether && i.addrs.iter().any(|c| c.contains(gateway)))
            .map(|i| i.ifindex)
            .ok_or(Errno::ENETUNREACH)?;
        self.add_route(Route {
            protocol: RouteProto::Boot,
            ..Route::unicast(
                Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("valid prefix"),
                Some(gateway),
                ifindex,
            )
        })
    }

    /// Add a policy rule (`ip rule add`). `EEXIST` for an identical rule, `EINVAL` for a
    /// prefix with host bits set or `lookup 0`, `ENODEV` for an unknown `iif`.
    /// Linux: `fib_nl_newrule`.
    pub fn add_rule(&mut self, rule: FibRule) -> Result<(), Errno> {
        if rule.iif.is_some_and(|i| self.iface(i).is_none()) {
            return Err(Errno::ENODEV);
        }
        self.ipv4.rules.add(rule)
    }

    /// Delete the first rule matching `m` (`ip rule del`); `ESRCH` if none does.
    /// Linux: `fib_nl_delrule`.
    pub fn del_rule(&mut self, m: &RuleMatch) -> Result<FibRule, Errno> {
        self.ipv4.rules.delete(m)
    }

    /// The rules, in priority order (`ip rule show`).
    pub fn rules(&self) -> &[FibRule] {
        self.ipv4.rules.rules()
    }

    /// The priority `ip rule add` without `pref` would use. Linux: `fib_default_rule_pref`.
    pub fn next_rule_priority(&self) -> u32 {
        self.ipv4.rules.default_pref()
    }

    /// Turn forwarding on or off (`sysctl net.ipv4.ip_forward`).
    /// Linux: `devinet_sysctl_forward` → `inet_forward_change`.
    pub fn set_ip_forward(&mut self, on: bool) {
        self.config.ip_forward = on;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::rules::RuleAction;
    use crate::stack::LOOPBACK_IFINDEX;
    use crate::wire::EthernetAddress;
    use crate::Instant;

    fn stack() -> (Stack, u32) {
        let mut s = Stack::default();
        let i = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
        s.add_addr(i, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        (s, i)
    }

    fn show(routes: &[Route]) -> Vec<String> {
        routes
            .iter()
            .map(|r| {
                format!(
                    "{} {} dev {} src {}",
                    r.kind.name(),
                    r.dst,
                    r.ifindex,
                    r.prefsrc.map(|a| a.to_string()).unwrap_or_default()
                )
            })
            .collect()
    }

    #[test]
    fn addresses_bring_kernel_routes_like_linux() {
        let (mut s, i) = stack();
        assert_eq!(
            show(&s.ipv4.routes()),
            [format!("unicast 192.0.2.0/24 dev {i} src 192.0.2.1")]
        );
        assert_eq!(
            show(&s.ipv4.table_routes(RT_TABLE_LOCAL)),
            [
                "local 127.0.0.0/8 dev 1 src 127.0.0.1".to_string(),
                "local 127.0.0.1/32 dev 1 src 127.0.0.1".to_string(),
                "broadcast 127.255.255.255/32 dev 1 src 127.0.0.1".to_string(),
                format!("local 192.0.2.1/32 dev {i} src 192.0.2.1"),
                format!("broadcast 192.0.2.255/32 dev {i} src 192.0.2.1"),
            ]
        );
        // A secondary address adds only its local route; deleting the primary promotes it.
        s.add_addr(i, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        assert_eq!(s.ipv4.routes().len(), 1);
        assert_eq!(s.ipv4.table_routes(RT_TABLE_LOCAL).len(), 6);
        s.del_addr(i, "192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(
            show(&s.ipv4.routes()),
            [format!("unicast 192.0.2.0/24 dev {i} src 192.0.2.2")]
        );
        assert_eq!(
            show(&s.ipv4.table_routes(RT_TABLE_LOCAL))[3..],
            [
                format!("local 192.0.2.2/32 dev {i} src 192.0.2.2"),
                format!("broadcast 192.0.2.255/32 dev {i} src 192.0.2.2"),
            ]
        );
        s.del_addr(i, "192.0.2.2".parse().unwrap()).unwrap();
        assert!(s.ipv4.routes().is_empty());
        assert_eq!(s.ipv4.table_routes(RT_TABLE_LOCAL).len(), 3);
        // A /32 address brings only its local route.
        s.add_addr(i, "203.0.113.5/32".parse().unwrap(), Instant::ZERO)
            .unwrap();
        assert!(s.ipv4.routes().is_empty());
        assert_eq!(s.ipv4.table_routes(RT_TABLE_LOCAL).len(), 4);
    }

    #[test]
    fn add_route_checks_its_input() {
        let (mut s, i) = stack();
        let net: Ipv4Cidr = "10.0.0.0/8".parse().unwrap();
        let gw: Ipv4Addr = "192.0.2.254".parse().unwrap();
        let bad_prefix: Ipv4Cidr = "10.0.0.1/8".parse().unwrap();
        assert_eq!(
            s.add_route(Route::unicast(bad_prefix, Some(gw), i)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            s.add_route(Route::unicast(net, None, 99)),
            Err(Errno::ENODEV)
        );
        let too_long = Ipv4Cidr {
            addr: "10.0.0.0".parse().unwrap(),
            prefix_len: 40,
        };
        assert_eq!(
            s.add_route(Route::unicast(too_long, None, i)),
            Err(Errno::EINVAL)
        );
        assert_eq!(s.del_route(&RouteMatch::new(too_long)), Err(Errno::EINVAL));
        assert_eq!(
            s.add_route(Route::unicast(
                net,
                Some("198.51.100.1".parse().unwrap()),
                0
            )),
            Err(Errno::EINVAL),
            "gateway not on a connected subnet"
        );
        assert_eq!(
            s.add_route(Route::unicast(net, Some("192.0.2.1".parse().unwrap()), 0)),
            Err(Errno::EINVAL),
            "gateway is our own address"
        );
        assert_eq!(
            s.add_route(Route::unicast(net, Some(gw), LOOPBACK_IFINDEX)),
            Err(Errno::EINVAL),
            "gateway not on that device"
        );
        assert_eq!(
            s.add_route(Route {
                ifindex: i,
                ..Route::special(RouteType::Blackhole, net)
            }),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            s.add_route(Route {
                table: 0,
                ..Route::unicast(net, Some(gw), 0)
            }),
            Err(Errno::EINVAL)
        );
        // Without a device, the gateway's connected route supplies it.
        s.add_route(Route::unicast(net, Some(gw), 0)).unwrap();
        assert_eq!(s.ipv4.routes()[0].ifindex, i);
        assert_eq!(
            s.add_route(Route::unicast(net, Some(gw), 0)),
            Err(Errno::EEXIST)
        );
        assert_eq!(
            s.add_route(Route::special(RouteType::Blackhole, net)),
            Err(Errno::EEXIST),
            "same prefix and metric, as Linux refuses without append"
        );
        s.add_route(Route {
            metric: 10,
            ..Route::special(RouteType::Blackhole, net)
        })
        .unwrap();
        assert_eq!(s.ipv4.routes().len(), 3);
        s.add_route(Route {
            table: 100,
            ..Route::unicast(net, Some(gw), 0)
        })
        .unwrap();
        assert_eq!(s.ipv4.route_tables(), [100, RT_TABLE_MAIN, RT_TABLE_LOCAL]);
        assert_eq!(s.ipv4.table_routes(100).len(), 1);
        assert_eq!(
            s.del_route(&RouteMatch::new(bad_prefix)),
            Err(Errno::EINVAL)
        );
        let mut m = RouteMatch::new(net);
        m.kind = Some(RouteType::Unreachable);
        assert_eq!(s.del_route(&m), Err(Errno::ESRCH));
        m.kind = None;
        assert_eq!(s.del_route(&m).unwrap().gateway, Some(gw));
        assert_eq!(s.del_route(&m).unwrap().kind, RouteType::Blackhole);
        assert_eq!(s.del_route(&m), Err(Errno::ESRCH));
    }

    #[test]
    fn rule_api() {
        let (mut s, i) = stack();
        assert_eq!(s.rules().len(), 3);
        let mut r = FibRule::lookup(s.next_rule_priority(), 100);
        r.iif = Some(99);
        assert_eq!(s.add_rule(r), Err(Errno::ENODEV));
        r.iif = Some(i);
        s.add_rule(r).unwrap();
        assert_eq!(s.rules()[1].priority, 32765);
        assert_eq!(s.next_rule_priority(), 32764);
        assert_eq!(s.add_rule(r), Err(Errno::EEXIST));
        let m = RuleMatch {
            action: Some(RuleAction::Lookup(100)),
            ..RuleMatch::default()
        };
        assert_eq!(s.del_rule(&m), Ok(r));
        assert_eq!(s.del_rule(&m), Err(Errno::ESRCH));
    }
}
