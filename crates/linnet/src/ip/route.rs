//! The forwarding information base and route lookups.
//!
//! Linux: net/ipv4/fib_trie.c (`fib_table_lookup`), route.c (`ip_route_input_noref`,
//! `ip_route_output_key`). For now the FIB is a list kept in longest-prefix-first order;
//! lookups scan it (the trie and policy rules come with the routing work).

use crate::errno::Errno;
use crate::stack::{LinkKind, Stack, LOOPBACK_IFINDEX};
use crate::wire::{Ipv4Addr, Ipv4Cidr};
use serde::{Deserialize, Serialize};

/// Route scope. Linux: `RT_SCOPE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteScope {
    /// Reaches beyond this link (via a gateway).
    Universe,
    /// Directly on a link.
    Link,
    /// This host.
    Host,
}

/// Who installed a route. Linux: `RTPROT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteProto {
    /// Added with an address.
    Kernel,
    /// Configured at start-up.
    Boot,
    /// Added by an administrator.
    Static,
}

/// A route. Linux: `struct fib_info` + `struct fib_alias`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix.
    pub dst: Ipv4Cidr,
    /// Next hop, if not directly connected.
    pub gateway: Option<Ipv4Addr>,
    /// Output interface.
    pub ifindex: u32,
    /// Preference among equal prefixes (lower wins).
    pub metric: u32,
    /// Scope.
    pub scope: RouteScope,
    /// Preferred source address.
    pub prefsrc: Option<Ipv4Addr>,
    /// Origin.
    pub protocol: RouteProto,
}

/// The main routing table. Linux: `RT_TABLE_MAIN`.
#[derive(Debug, Default)]
pub struct Fib {
    routes: Vec<Route>,
}

impl Fib {
    /// Insert a route; an identical destination+metric+interface is refused with EEXIST-like
    /// `EADDRINUSE`. Linux: `fib_table_insert`.
    pub fn add(&mut self, route: Route) -> Result<(), Errno> {
        if self
            .routes
            .iter()
            .any(|r| r.dst == route.dst && r.metric == route.metric && r.ifindex == route.ifindex)
        {
            return Err(Errno::EADDRINUSE);
        }
        let pos = self
            .routes
            .iter()
            .position(|r| {
                (r.dst.prefix_len, std::cmp::Reverse(r.metric))
                    < (route.dst.prefix_len, std::cmp::Reverse(route.metric))
            })
            .unwrap_or(self.routes.len());
        self.routes.insert(pos, route);
        Ok(())
    }

    /// Remove every route matching `pred`; returns how many went.
    pub fn remove(&mut self, pred: impl Fn(&Route) -> bool) -> usize {
        let before = self.routes.len();
        self.routes.retain(|r| !pred(r));
        before - self.routes.len()
    }

    /// The best route to `dst`: longest prefix, then lowest metric. Linux: `fib_lookup`.
    pub fn lookup(&self, dst: Ipv4Addr) -> Option<&Route> {
        self.routes.iter().find(|r| r.dst.contains(dst))
    }

    /// All routes, best first.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }
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
}

/// How a received packet's destination is classified. Linux: `rt_type` after `ip_route_input`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputRoute {
    /// For this host. Linux: `RTN_LOCAL`.
    Local,
    /// A broadcast we accept. Linux: `RTN_BROADCAST`.
    Broadcast,
    /// Someone else's. Linux: forwarding, or `RTN_UNREACHABLE` with forwarding off.
    NotLocal,
}

impl Stack {
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
        if self.is_local_addr(dst) {
            // Traffic to ourselves goes through the loopback device.
            return Ok(OutputRoute {
                ifindex: LOOPBACK_IFINDEX,
                nexthop: dst,
                src: src.unwrap_or(dst),
                broadcast: false,
            });
        }
        if dst.is_broadcast() {
            // Limited broadcast: out of the interface of the source, or the first Ethernet one.
            let iface = self
                .ifaces
                .iter()
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
            });
        }
        let route = self.fib.lookup(dst).ok_or(Errno::ENETUNREACH)?;
        let iface = self.iface(route.ifindex).ok_or(Errno::ENETUNREACH)?;
        if !iface.up {
            return Err(Errno::ENETUNREACH);
        }
        let nexthop = route.gateway.unwrap_or(dst);
        let src = match src {
            Some(s) if !s.is_unspecified() => s,
            _ => route
                .prefsrc
                .or_else(|| iface.source_for(nexthop))
                .ok_or(Errno::EADDRNOTAVAIL)?,
        };
        Ok(OutputRoute {
            ifindex: route.ifindex,
            nexthop,
            src,
            broadcast: route.gateway.is_none() && iface.is_subnet_broadcast(dst),
        })
    }

    /// Classify a received packet's destination. Linux: `ip_route_input_slow`.
    pub fn ip_route_input(&self, dst: Ipv4Addr, _ifindex: u32) -> InputRoute {
        if self.is_broadcast_addr(dst) {
            InputRoute::Broadcast
        } else if self.is_local_addr(dst) {
            InputRoute::Local
        } else {
            InputRoute::NotLocal
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, ifindex: u32, metric: u32) -> Route {
        Route {
            dst: dst.parse().unwrap(),
            gateway: None,
            ifindex,
            metric,
            scope: RouteScope::Link,
            prefsrc: None,
            protocol: RouteProto::Static,
        }
    }

    #[test]
    fn longest_prefix_then_metric() {
        let mut fib = Fib::default();
        fib.add(route("0.0.0.0/0", 1, 0)).unwrap();
        fib.add(route("198.51.100.0/24", 2, 10)).unwrap();
        fib.add(route("198.51.100.0/24", 3, 5)).unwrap();
        fib.add(route("198.51.100.128/25", 4, 0)).unwrap();
        assert!(fib.add(route("198.51.100.0/24", 3, 5)).is_err());
        let l = |fib: &Fib, a: &str| fib.lookup(a.parse().unwrap()).unwrap().ifindex;
        assert_eq!(l(&fib, "198.51.100.200"), 4);
        assert_eq!(l(&fib, "198.51.100.7"), 3);
        assert_eq!(l(&fib, "203.0.113.1"), 1);
        assert_eq!(fib.remove(|r| r.ifindex == 3), 1);
        assert_eq!(l(&fib, "198.51.100.7"), 2);
    }
}
