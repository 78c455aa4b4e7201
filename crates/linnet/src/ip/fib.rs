//! The forwarding information base: routes, and routing tables kept as path-compressed
//! binary tries (one per table id).
//!
//! Linux: net/ipv4/fib_trie.c (`fib_table_insert`, `fib_table_delete`, `fib_table_lookup`,
//! `fib_table_dump`), the route types `RTN_*` and tables `RT_TABLE_*` of
//! include/uapi/linux/rtnetlink.h, and `fib_props` (net/ipv4/fib_semantics.c).
//!
//! The tries are `PrefixTrie`s (shared with IPv6): a lookup visits at most 33 nodes however
//! many routes the table holds, and takes, longest prefix first, the first route the caller
//! finds usable (Linux backtracks the same way when a next hop is dead).

use super::prefix_trie::PrefixTrie;
use crate::errno::Errno;
use crate::wire::{Ipv4Addr, Ipv4Cidr};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The table of rules' default "lookup default". Linux: `RT_TABLE_DEFAULT`.
pub const RT_TABLE_DEFAULT: u32 = 253;
/// The table ordinary routes go to. Linux: `RT_TABLE_MAIN`.
pub const RT_TABLE_MAIN: u32 = 254;
/// The table of local and broadcast routes the kernel keeps per address. Linux: `RT_TABLE_LOCAL`.
pub const RT_TABLE_LOCAL: u32 = 255;

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

/// What a route does with a packet. Linux: `RTN_*`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RouteType {
    /// A gateway or direct route. Linux: `RTN_UNICAST`.
    #[default]
    Unicast,
    /// An address of this host. Linux: `RTN_LOCAL`.
    Local,
    /// A broadcast address accepted and sent as link broadcast. Linux: `RTN_BROADCAST`.
    Broadcast,
    /// Silently discard. Linux: `RTN_BLACKHOLE`.
    Blackhole,
    /// Discard with ICMP host unreachable (EHOSTUNREACH locally). Linux: `RTN_UNREACHABLE`.
    Unreachable,
    /// Discard with ICMP administratively prohibited (EACCES locally). Linux: `RTN_PROHIBIT`.
    Prohibit,
}

impl RouteType {
    /// The error a lookup ending on this type reports, if any. Linux: `fib_props[type].error`.
    pub fn error(self) -> Option<Errno> {
        match self {
            RouteType::Unicast | RouteType::Local | RouteType::Broadcast => None,
            RouteType::Blackhole => Some(Errno::EINVAL),
            RouteType::Unreachable => Some(Errno::EHOSTUNREACH),
            RouteType::Prohibit => Some(Errno::EACCES),
        }
    }

    /// Whether routes of this type carry no device (`ip route add blackhole 10.0.0.0/8`).
    pub fn is_deviceless(self) -> bool {
        self.error().is_some()
    }

    /// The keyword `ip route` prints for the type.
    pub fn name(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Broadcast => "broadcast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
        }
    }
}

fn default_table() -> u32 {
    RT_TABLE_MAIN
}

/// A route. Linux: `struct fib_info` + `struct fib_alias`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Route {
    /// Destination prefix (host bits clear).
    pub dst: Ipv4Cidr,
    /// Next hop, if not directly connected.
    pub gateway: Option<Ipv4Addr>,
    /// Output interface; 0 for the device-less types (blackhole, unreachable, prohibit).
    pub ifindex: u32,
    /// Preference among equal prefixes (lower wins).
    pub metric: u32,
    /// Scope.
    pub scope: RouteScope,
    /// Preferred source address.
    pub prefsrc: Option<Ipv4Addr>,
    /// Origin.
    pub protocol: RouteProto,
    /// Routing table id (`RT_TABLE_MAIN` unless said otherwise).
    #[serde(default = "default_table")]
    pub table: u32,
    /// Route type.
    #[serde(default)]
    pub kind: RouteType,
    /// Metrics (`mtu`, `advmss`, `initcwnd`...). Linux: `fib_info->fib_metrics`.
    #[serde(default)]
    pub metrics: super::metrics::RouteMetrics,
}

impl Route {
    /// A static unicast route in the main table: scope link when direct, universe via a gateway.
    pub fn unicast(dst: Ipv4Cidr, gateway: Option<Ipv4Addr>, ifindex: u32) -> Route {
        Route {
            dst,
            gateway,
            ifindex,
            metric: 0,
            scope: if gateway.is_some() {
                RouteScope::Universe
            } else {
                RouteScope::Link
            },
            prefsrc: None,
            protocol: RouteProto::Static,
            table: RT_TABLE_MAIN,
            kind: RouteType::Unicast,
            metrics: Default::default(),
        }
    }

    /// A static device-less route of `kind` (blackhole, unreachable, prohibit) in the main table,
    /// as `ip route add blackhole 10.0.0.0/8` makes.
    pub fn special(kind: RouteType, dst: Ipv4Cidr) -> Route {
        Route {
            dst,
            gateway: None,
            ifindex: 0,
            metric: 0,
            scope: RouteScope::Universe,
            prefsrc: None,
            protocol: RouteProto::Static,
            table: RT_TABLE_MAIN,
            kind,
            metrics: Default::default(),
        }
    }
}

/// What `ip route del` names: the prefix, and any other fields that must match too.
/// Linux: the `fib_config` that `fib_table_delete` compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteMatch {
    /// Destination prefix (required).
    pub dst: Ipv4Cidr,
    /// Table; `None` means main (or local for local/broadcast types), as iproute2 chooses.
    pub table: Option<u32>,
    /// Gateway, if it must match.
    pub gateway: Option<Ipv4Addr>,
    /// Interface, if it must match.
    pub ifindex: Option<u32>,
    /// Metric, if it must match.
    pub metric: Option<u32>,
    /// Scope, if it must match.
    pub scope: Option<RouteScope>,
    /// Preferred source, if it must match.
    pub prefsrc: Option<Ipv4Addr>,
    /// Protocol, if it must match.
    pub protocol: Option<RouteProto>,
    /// Type, if it must match.
    pub kind: Option<RouteType>,
}

impl RouteMatch {
    /// Match any route to exactly `dst` in the main table.
    pub fn new(dst: Ipv4Cidr) -> RouteMatch {
        RouteMatch {
            dst,
            table: None,
            gateway: None,
            ifindex: None,
            metric: None,
            scope: None,
            prefsrc: None,
            protocol: None,
            kind: None,
        }
    }

    /// The table this match applies to.
    pub fn table_id(&self) -> u32 {
        self.table.unwrap_or(match self.kind {
            Some(RouteType::Local | RouteType::Broadcast) => RT_TABLE_LOCAL,
            _ => RT_TABLE_MAIN,
        })
    }

    /// Whether `r` (already known to be in the table, with the same prefix) matches.
    pub fn matches(&self, r: &Route) -> bool {
        self.gateway.is_none_or(|g| r.gateway == Some(g))
            && self.ifindex.is_none_or(|i| r.ifindex == i)
            && self.metric.is_none_or(|m| r.metric == m)
            && self.scope.is_none_or(|s| r.scope == s)
            && self.prefsrc.is_none_or(|p| r.prefsrc == Some(p))
            && self.protocol.is_none_or(|p| r.protocol == p)
            && self.kind.is_none_or(|k| r.kind == k)
    }
}

/// One routing table. Linux: `struct fib_table` with its trie; each prefix keeps its routes
/// by metric (equal metrics in insertion order).
#[derive(Debug, Default)]
pub struct FibTable {
    trie: PrefixTrie<u32, Route>,
}

impl FibTable {
    /// Insert a route. Exclusive (`ip route add`): a route to the same prefix with the same
    /// metric is refused with `EEXIST`. Append (`ip route append`, and the kernel's own
    /// routes): only an identical route is refused. Linux: `fib_table_insert`.
    pub fn insert(&mut self, route: Route, append: bool) -> Result<(), Errno> {
        if route.dst.prefix_len > 32 {
            return Err(Errno::EINVAL);
        }
        let routes = self
            .trie
            .entries_mut(u32::from(route.dst.addr), route.dst.prefix_len);
        let clash = routes.iter().any(|r| {
            if append {
                *r == route
            } else {
                r.metric == route.metric
            }
        });
        if clash {
            return Err(Errno::EEXIST);
        }
        let pos = routes
            .iter()
            .position(|r| r.metric > route.metric)
            .unwrap_or(routes.len());
        routes.insert(pos, route);
        self.trie.inserted();
        Ok(())
    }

    /// Delete the first route matching `m` (same prefix; other fields where given).
    /// Linux: `fib_table_delete` (`ESRCH` when nothing matches).
    pub fn delete(&mut self, m: &RouteMatch) -> Result<Route, Errno> {
        if m.dst.prefix_len > 32 {
            return Err(Errno::EINVAL);
        }
        self.trie
            .remove(u32::from(m.dst.addr), m.dst.prefix_len, |r| m.matches(r))
            .ok_or(Errno::ESRCH)
    }

    /// The route to `dst`: the longest prefix holding a route `usable` accepts, and among its
    /// routes the first by metric. Linux: `fib_table_lookup` (with its backtracking).
    pub fn lookup(&self, dst: Ipv4Addr, usable: impl Fn(&Route) -> bool) -> Option<&Route> {
        self.trie.lookup(u32::from(dst), usable)
    }

    /// Every route, in prefix order (shorter first for the same address). Linux: `fib_table_dump`.
    pub fn dump(&self) -> Vec<Route> {
        self.trie.iter().cloned().collect()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.trie.len()
    }

    /// True when the table holds no route.
    pub fn is_empty(&self) -> bool {
        self.trie.is_empty()
    }

    /// Number of trie nodes (routes' prefixes plus branching points).
    pub fn nodes(&self) -> usize {
        self.trie.nodes()
    }
}

/// All routing tables by id, with a generation number that changes on every change.
/// Linux: the per-namespace `fib_table_hash` (`fib_new_table`, `fib_get_table`).
#[derive(Debug, Default)]
pub struct Fib {
    tables: BTreeMap<u32, FibTable>,
    genid: u64,
}

impl Fib {
    /// Insert `route` into its table (created if new). Linux: `fib_new_table` + `fib_table_insert`.
    pub fn insert(&mut self, route: Route, append: bool) -> Result<(), Errno> {
        if route.table == 0 {
            return Err(Errno::EINVAL);
        }
        self.tables
            .entry(route.table)
            .or_default()
            .insert(route, append)?;
        self.genid += 1;
        Ok(())
    }

    /// Delete the first route matching `m` from its table. Linux: `fib_table_delete`.
    pub fn delete(&mut self, m: &RouteMatch) -> Result<Route, Errno> {
        let id = m.table_id();
        let table = self.tables.get_mut(&id).ok_or(Errno::ESRCH)?;
        let r = table.delete(m)?;
        if table.is_empty() && id != RT_TABLE_MAIN && id != RT_TABLE_LOCAL {
            self.tables.remove(&id);
        }
        self.genid += 1;
        Ok(r)
    }

    /// Look `dst` up in table `id`. Linux: `fib_get_table` + `fib_table_lookup`.
    pub fn lookup(
        &self,
        id: u32,
        dst: Ipv4Addr,
        usable: impl Fn(&Route) -> bool,
    ) -> Option<&Route> {
        self.tables.get(&id)?.lookup(dst, usable)
    }

    /// Table `id`, if it holds routes.
    pub fn table(&self, id: u32) -> Option<&FibTable> {
        self.tables.get(&id)
    }

    /// Ids of the tables that exist, ascending.
    pub fn table_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.tables.keys().copied()
    }

    /// Routes of table `id` (empty if it does not exist).
    pub fn dump(&self, id: u32) -> Vec<Route> {
        self.tables.get(&id).map(FibTable::dump).unwrap_or_default()
    }

    /// Changes so far: a cached lookup made at another generation is stale.
    pub fn genid(&self) -> u64 {
        self.genid
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::prefix_trie::PrefixKey;
    use proptest::prelude::*;

    fn route(dst: &str, ifindex: u32, metric: u32) -> Route {
        Route {
            metric,
            ..Route::unicast(dst.parse().unwrap(), None, ifindex)
        }
    }

    fn l(t: &FibTable, a: &str) -> Option<u32> {
        t.lookup(a.parse().unwrap(), |_| true).map(|r| r.ifindex)
    }

    #[test]
    fn longest_prefix_then_metric() {
        let mut t = FibTable::default();
        t.insert(route("0.0.0.0/0", 1, 0), false).unwrap();
        t.insert(route("198.51.100.0/24", 2, 10), false).unwrap();
        t.insert(route("198.51.100.0/24", 3, 5), false).unwrap();
        t.insert(route("198.51.100.128/25", 4, 0), false).unwrap();
        assert_eq!(
            t.insert(route("198.51.100.0/24", 3, 5), false),
            Err(Errno::EEXIST)
        );
        // `ip route add` refuses a second route with the same prefix and metric even on
        // another device; `append` takes it.
        assert_eq!(
            t.insert(route("198.51.100.0/24", 9, 5), false),
            Err(Errno::EEXIST)
        );
        t.insert(route("198.51.100.0/24", 9, 5), true).unwrap();
        assert_eq!(
            t.insert(route("198.51.100.0/24", 9, 5), true),
            Err(Errno::EEXIST)
        );
        assert_eq!(t.len(), 5);
        assert_eq!(l(&t, "198.51.100.200"), Some(4));
        assert_eq!(l(&t, "198.51.100.7"), Some(3));
        assert_eq!(l(&t, "203.0.113.1"), Some(1));
        let mut m = RouteMatch::new("198.51.100.0/24".parse().unwrap());
        m.ifindex = Some(3);
        assert_eq!(t.delete(&m).unwrap().ifindex, 3);
        assert_eq!(t.delete(&m), Err(Errno::ESRCH));
        // The appended route with metric 5 is now the best.
        assert_eq!(l(&t, "198.51.100.7"), Some(9));
    }

    #[test]
    fn lookup_backtracks_past_unusable_routes() {
        let mut t = FibTable::default();
        t.insert(route("0.0.0.0/0", 1, 0), false).unwrap();
        t.insert(route("10.0.0.0/8", 2, 0), false).unwrap();
        t.insert(route("10.1.0.0/16", 3, 0), false).unwrap();
        t.insert(route("10.1.0.0/16", 4, 7), false).unwrap();
        let a: Ipv4Addr = "10.1.2.3".parse().unwrap();
        let skip = |down: &'static [u32]| move |r: &Route| !down.contains(&r.ifindex);
        assert_eq!(t.lookup(a, skip(&[])).unwrap().ifindex, 3);
        assert_eq!(t.lookup(a, skip(&[3])).unwrap().ifindex, 4);
        assert_eq!(t.lookup(a, skip(&[3, 4])).unwrap().ifindex, 2);
        assert_eq!(t.lookup(a, skip(&[3, 4, 2])).unwrap().ifindex, 1);
        assert!(t.lookup(a, skip(&[3, 4, 2, 1])).is_none());
    }

    #[test]
    fn host_routes_default_and_empty() {
        let mut t = FibTable::default();
        assert_eq!(l(&t, "192.0.2.1"), None);
        t.insert(route("192.0.2.1/32", 5, 0), false).unwrap();
        t.insert(route("192.0.2.0/31", 6, 0), false).unwrap();
        assert_eq!(l(&t, "192.0.2.1"), Some(5));
        assert_eq!(l(&t, "192.0.2.0"), Some(6));
        assert_eq!(l(&t, "192.0.2.2"), None);
        assert_eq!(l(&t, "255.255.255.255"), None);
        t.insert(route("0.0.0.0/0", 1, 0), false).unwrap();
        assert_eq!(l(&t, "255.255.255.255"), Some(1));
        assert_eq!(l(&t, "0.0.0.0"), Some(1));
    }

    #[test]
    fn deletes_compact_the_trie_and_dump_is_ordered() {
        let mut t = FibTable::default();
        let prefixes = [
            "10.0.0.0/8",
            "10.0.0.0/24",
            "10.128.0.0/9",
            "192.0.2.0/24",
            "192.0.2.128/25",
            "0.0.0.0/0",
        ];
        for (i, p) in prefixes.iter().enumerate() {
            t.insert(route(p, i as u32 + 1, 0), false).unwrap();
        }
        let dumped: Vec<String> = t.dump().iter().map(|r| r.dst.to_string()).collect();
        assert_eq!(
            dumped,
            [
                "0.0.0.0/0",
                "10.0.0.0/8",
                "10.0.0.0/24",
                "10.128.0.0/9",
                "192.0.2.0/24",
                "192.0.2.128/25"
            ]
        );
        for p in prefixes {
            t.delete(&RouteMatch::new(p.parse().unwrap())).unwrap();
        }
        assert!(t.is_empty());
        assert_eq!(t.nodes(), 0, "no node left behind");
    }

    #[test]
    fn delete_matches_optional_fields() {
        let mut t = FibTable::default();
        let dst: Ipv4Cidr = "203.0.113.0/24".parse().unwrap();
        t.insert(
            Route::unicast(dst, Some("192.0.2.1".parse().unwrap()), 2),
            false,
        )
        .unwrap();
        t.insert(
            Route {
                metric: 100,
                ..Route::special(RouteType::Blackhole, dst)
            },
            false,
        )
        .unwrap();
        let mut m = RouteMatch::new(dst);
        m.kind = Some(RouteType::Unreachable);
        assert_eq!(t.delete(&m), Err(Errno::ESRCH));
        m.kind = Some(RouteType::Blackhole);
        m.metric = Some(5);
        assert_eq!(t.delete(&m), Err(Errno::ESRCH));
        m.metric = None;
        assert_eq!(t.delete(&m).unwrap().kind, RouteType::Blackhole);
        let mut m = RouteMatch::new(dst);
        m.gateway = Some("192.0.2.9".parse().unwrap());
        assert_eq!(t.delete(&m), Err(Errno::ESRCH));
        m.gateway = Some("192.0.2.1".parse().unwrap());
        assert_eq!(t.delete(&m).unwrap().ifindex, 2);
        // A prefix that is only a branching point has no routes to delete.
        assert_eq!(
            t.delete(&RouteMatch::new("0.0.0.0/0".parse().unwrap())),
            Err(Errno::ESRCH)
        );
    }

    #[test]
    fn tables_are_separate_and_table_zero_is_refused() {
        let mut fib = Fib::default();
        let dst: Ipv4Cidr = "10.0.0.0/8".parse().unwrap();
        fib.insert(Route::unicast(dst, None, 2), false).unwrap();
        fib.insert(
            Route {
                table: 100,
                ..Route::unicast(dst, None, 3)
            },
            false,
        )
        .unwrap();
        let g0 = fib.genid();
        assert_eq!(
            fib.insert(
                Route {
                    table: 0,
                    ..Route::unicast(dst, None, 3)
                },
                false
            ),
            Err(Errno::EINVAL)
        );
        assert_eq!(fib.genid(), g0, "a refused change is no change");
        let a = "10.1.1.1".parse().unwrap();
        assert_eq!(fib.lookup(RT_TABLE_MAIN, a, |_| true).unwrap().ifindex, 2);
        assert_eq!(fib.lookup(100, a, |_| true).unwrap().ifindex, 3);
        assert!(fib.lookup(101, a, |_| true).is_none());
        assert_eq!(fib.table_ids().collect::<Vec<_>>(), [100, RT_TABLE_MAIN]);
        let mut m = RouteMatch::new(dst);
        m.table = Some(100);
        fib.delete(&m).unwrap();
        assert!(fib.genid() > g0);
        assert_eq!(fib.table_ids().collect::<Vec<_>>(), [RT_TABLE_MAIN]);
        assert_eq!(fib.delete(&m), Err(Errno::ESRCH));
    }

    #[test]
    fn route_json_without_table_or_kind_reads_as_main_unicast() {
        let r = Route::unicast("10.0.0.0/8".parse().unwrap(), None, 2);
        let mut v = serde_json::to_value(r).unwrap();
        assert_eq!(v["kind"], "unicast");
        assert_eq!(v["table"], 254);
        let o = v.as_object_mut().unwrap();
        o.remove("kind");
        o.remove("table");
        let back: Route = serde_json::from_value(v).unwrap();
        assert_eq!(back, r);
    }

    /// The reference: scan every route.
    fn brute(routes: &[Route], dst: Ipv4Addr, down: &[u32]) -> Option<Route> {
        routes
            .iter()
            .filter(|r| r.dst.contains(dst) && !down.contains(&r.ifindex))
            .min_by_key(|r| (std::cmp::Reverse(r.dst.prefix_len), r.metric))
            .copied()
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add(u32, u8, u32, u32),
        Del(u32, u8, Option<u32>),
    }

    fn op() -> impl Strategy<Value = Op> {
        // Few distinct addresses and metrics, so prefixes nest, collide and get deleted.
        let addr = prop_oneof![
            any::<u32>(),
            (0u32..16).prop_map(|x| 0x0a00_0000 | (x << 20)),
            (0u32..16).prop_map(|x| 0xc000_0200 | x),
        ];
        prop_oneof![
            3 => (addr.clone(), 0u8..=32, 1u32..5, 0u32..3).prop_map(|(a, p, i, m)| Op::Add(a, p, i, m)),
            1 => (addr, 0u8..=32, prop::option::of(1u32..5)).prop_map(|(a, p, i)| Op::Del(a, p, i)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn trie_agrees_with_a_linear_scan(
            ops in prop::collection::vec(op(), 1..80),
            probes in prop::collection::vec(any::<u32>(), 0..40),
            down in prop::collection::vec(1u32..5, 0..2),
        ) {
            let mut t = FibTable::default();
            let mut reference: Vec<Route> = Vec::new();
            let mut probe_addrs: Vec<Ipv4Addr> = probes.into_iter().map(Ipv4Addr::from).collect();
            for o in ops {
                match o {
                    Op::Add(a, p, i, m) => {
                        let dst = Ipv4Cidr::new(Ipv4Addr::from(a), p).unwrap().network();
                        let r = Route { metric: m, ..Route::unicast(dst, None, i) };
                        let clash = reference.iter().any(|x| x.dst == dst && x.metric == m);
                        prop_assert_eq!(t.insert(r, false).is_err(), clash);
                        if !clash {
                            let pos = reference
                                .iter()
                                .position(|x| x.dst == dst && x.metric > m)
                                .unwrap_or(reference.len());
                            reference.insert(pos, r);
                        }
                        probe_addrs.push(dst.addr);
                        probe_addrs.push(Ipv4Addr::from(a | !u32::MAX.masked(p)));
                    }
                    Op::Del(a, p, i) => {
                        let dst = Ipv4Cidr::new(Ipv4Addr::from(a), p).unwrap().network();
                        let mut m = RouteMatch::new(dst);
                        m.ifindex = i;
                        let want = reference
                            .iter()
                            .position(|x| x.dst == dst && i.is_none_or(|i| x.ifindex == i));
                        match want {
                            Some(pos) => {
                                let r = reference.remove(pos);
                                prop_assert_eq!(t.delete(&m), Ok(r));
                            }
                            None => prop_assert_eq!(t.delete(&m), Err(Errno::ESRCH)),
                        }
                    }
                }
                prop_assert_eq!(t.len(), reference.len());
            }
            for a in probe_addrs {
                let got = t.lookup(a, |r| !down.contains(&r.ifindex)).copied();
                prop_assert_eq!(got, brute(&reference, a, &down), "lookup {}", a);
            }
            let mut dumped = t.dump();
            let mut want = reference.clone();
            let key = |r: &Route| (u32::from(r.dst.addr), r.dst.prefix_len, r.metric);
            dumped.sort_by_key(key);
            want.sort_by_key(key);
            prop_assert_eq!(dumped, want);
            // Path compression: never more nodes than twice the prefixes.
            let prefixes: std::collections::HashSet<_> = reference.iter().map(|r| r.dst).collect();
            prop_assert!(t.nodes() <= 2 * prefixes.len().max(1));
        }
    }
}
