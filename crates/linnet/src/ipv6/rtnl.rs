//! The rtnetlink side of IPv6: routes added and removed by hand, neighbour entries, the
//! `net.ipv6` switches, and the dumps `ip -6 route|neigh` and `netstat -s` print.
//!
//! Linux: net/ipv6/route.c (`inet6_rtm_newroute`, `inet6_rtm_delroute`, `inet6_dump_fib`),
//! net/core/neighbour.c on `nd_tbl` (`neigh_add`, `neigh_delete`, `neigh_dump_table`),
//! `addrconf_fixup_forwarding`.

use super::route::{Route6Info, Rt6Info, Rt6Proto, IP6_RT_PRIO_USER};
use crate::errno::Errno;
use crate::link::neighbour::NeighInfo;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::ipv6::{ipv6_addr_type, Ipv6AddrKind, Ipv6Scope, ALL_ROUTERS};
use crate::wire::{EthernetAddress, Ipv6Cidr};
use std::net::Ipv6Addr;

/// A route to add or delete (`ip -6 route add|del PREFIX [via GW] [dev D] [metric N]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Route6Config {
    /// Destination prefix (`default` is `::/0`).
    pub dst: Ipv6Cidr,
    /// Gateway.
    pub via: Option<Ipv6Addr>,
    /// Output interface; found from the gateway's route when not given.
    pub ifindex: Option<u32>,
    /// Metric (1024 when not given, as iproute2 leaves it to the kernel).
    pub metric: Option<u32>,
}

impl Stack {
    /// Add a route. The gateway must be link-local or reachable by an on-link route; the
    /// device is the one that route goes through when not given. Linux:
    /// `inet6_rtm_newroute` → `ip6_route_add` (`ip6_validate_gw`).
    pub fn ip6_route_add(&mut self, c: Route6Config, replace: bool) -> Result<(), Errno> {
        let ifindex = match (c.via, c.ifindex) {
            (_, Some(i)) => {
                self.iface(i).ok_or(Errno::ENODEV)?;
                i
            }
            (Some(gw), None) => {
                if ipv6_addr_type(&gw).1 == Ipv6Scope::LinkLocal {
                    return Err(Errno::EINVAL);
                }
                self.ipv6
                    .fib6
                    .fib6_lookup(&gw, |r| r.gateway.is_none())
                    .ok_or(Errno::ENETUNREACH)?
                    .ifindex
            }
            (None, None) => return Err(Errno::ENODEV),
        };
        if let Some(gw) = c.via {
            let (kind, _) = ipv6_addr_type(&gw);
            if kind != Ipv6AddrKind::Unicast || self.ipv6.ipv6_chk_addr(&gw) {
                return Err(Errno::EINVAL);
            }
        }
        let rt = Rt6Info {
            dst: c.dst.network(),
            gateway: c.via,
            ifindex,
            metric: c.metric.unwrap_or(IP6_RT_PRIO_USER),
            proto: Rt6Proto::Boot,
            expires: None,
        };
        self.ipv6.fib6.fib6_add(rt, replace)
    }

    /// Delete the first route matching what is given. Linux: `inet6_rtm_delroute` →
    /// `ip6_route_del`.
    pub fn ip6_route_del(&mut self, c: Route6Config) -> Result<(), Errno> {
        self.ipv6
            .fib6
            .fib6_del(c.dst, |r| {
                c.via.is_none_or(|g| r.gateway == Some(g))
                    && c.ifindex.is_none_or(|i| r.ifindex == i)
                    && c.metric.is_none_or(|m| r.metric == m)
            })
            .map(|_| ())
            .ok_or(Errno::ESRCH)
    }

    /// The IPv6 routes, as `ip -6 route show` lists them.
    pub fn ip6_routes(&self, now: Instant) -> Vec<Route6Info> {
        self.ipv6.fib6.iter().map(|r| r.info(now)).collect()
    }

    /// The route `ip -6 route get` would report: interface and next hop.
    pub fn ip6_route_get(
        &self,
        dst: Ipv6Addr,
        oif: Option<u32>,
    ) -> Result<(u32, Ipv6Addr, Option<Ipv6Addr>), Errno> {
        let rt = self.ip6_route_output(&dst, oif)?;
        let src = self.ipv6_dev_get_saddr(rt.ifindex, &dst);
        Ok((rt.ifindex, rt.nexthop, src))
    }

    /// Neighbour discovery's entries, as `ip -6 neigh show` lists them.
    pub fn ipv6_neighbours(&self) -> Vec<NeighInfo<Ipv6Addr>> {
        self.ipv6.nd_tbl.dump()
    }

    /// Add a permanent neighbour entry (`ip -6 neigh add A lladdr M dev D`).
    pub fn ipv6_neigh_add(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
        mac: EthernetAddress,
        now: Instant,
    ) -> Result<(), Errno> {
        self.iface(ifindex).ok_or(Errno::ENODEV)?;
        if ip.is_multicast() || ip.is_unspecified() {
            return Err(Errno::EINVAL);
        }
        self.ipv6.nd_tbl.add_permanent(ifindex, ip, mac, now);
        self.neigh_run_events::<Ipv6Addr>(now);
        Ok(())
    }

    /// Delete a neighbour entry (`ip -6 neigh del A dev D`).
    pub fn ipv6_neigh_del(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
        now: Instant,
    ) -> Result<(), Errno> {
        let found = self.ipv6.nd_tbl.delete(ifindex, ip);
        self.neigh_run_events::<Ipv6Addr>(now);
        if found {
            Ok(())
        } else {
            Err(Errno::ENOENT)
        }
    }

    /// Whether IPv6 forwarding is on (`net.ipv6.conf.all.forwarding`).
    pub fn ip6_forward_enabled(&self) -> bool {
        self.ipv6.forwarding
    }

    /// Turn IPv6 forwarding on or off (`net.ipv6.conf.all.forwarding`): a router joins
    /// ff02::2 (at the next poll) and ignores router advertisements.
    /// Linux: `addrconf_fixup_forwarding` → `dev_forward_change`.
    pub fn set_ip6_forward(&mut self, on: bool) {
        if self.ipv6.forwarding != on {
            self.ipv6.forwarding = on;
            self.ipv6.forwarding_changed = true;
        }
    }

    /// Join or leave ff02::2 on every up interface after a forwarding change.
    pub(crate) fn dev_forward_change(&mut self, now: Instant) {
        self.ipv6.forwarding_changed = false;
        let on = self.ipv6.forwarding;
        let ifs: Vec<u32> = self
            .interfaces()
            .filter(|i| i.up && i.kind == crate::stack::LinkKind::Ether)
            .map(|i| i.ifindex)
            .collect();
        for i in ifs {
            if !self.ipv6.devs.contains_key(&i) || self.config.disable_ipv6 {
                continue;
            }
            if on {
                self.ipv6_dev_mc_inc(i, ALL_ROUTERS, now);
            } else {
                self.ipv6_dev_mc_dec(i, ALL_ROUTERS, now);
            }
        }
    }

    /// `net.ipv6.conf.all.hop_limit`: the hop limit of our datagrams (64).
    pub fn ip6_hop_limit(&self) -> u8 {
        self.ipv6.hop_limit
    }

    /// Set `net.ipv6.conf.all.hop_limit` (1-255).
    pub fn set_ip6_hop_limit(&mut self, h: u8) {
        self.ipv6.hop_limit = h.max(1);
    }

    /// `net.ipv6.bindv6only`: whether new sockets start with `IPV6_V6ONLY` (off).
    pub fn ipv6_bindv6only(&self) -> bool {
        self.ipv6.bindv6only
    }

    /// Set `net.ipv6.bindv6only`.
    pub fn set_ipv6_bindv6only(&mut self, on: bool) {
        self.ipv6.bindv6only = on;
    }

    /// `net.ipv6.icmp.ratelimit`: the per-destination interval between ICMPv6 errors.
    pub fn icmpv6_ratelimit(&self) -> std::time::Duration {
        self.ipv6.icmp_ratelimit
    }

    /// Set `net.ipv6.icmp.ratelimit` (zero: no per-destination limit).
    pub fn set_icmpv6_ratelimit(&mut self, d: std::time::Duration) {
        self.ipv6.icmp_ratelimit = d;
    }
}
