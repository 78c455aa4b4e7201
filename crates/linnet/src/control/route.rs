//! Route, rule and sysctl requests: the `doit` handlers of `RTM_NEWROUTE`/`RTM_DELROUTE`/
//! `RTM_GETROUTE`, `RTM_NEWRULE`/`RTM_DELRULE` (the sysctls are in [`super::sysctl`]).
//!
//! Linux: net/ipv4/fib_frontend.c (`inet_rtm_newroute`, `inet_rtm_delroute`),
//! net/ipv4/route.c (`inet_rtm_getroute`), net/core/fib_rules.c (`fib_nl_newrule`).

use super::iface_name as name;
use super::{errno_response, error, Response};
use crate::errno::Errno;
use crate::ip::fib::{Route, RouteMatch};
use crate::ip::route::InputRoute;
use crate::ip::rules::{FibRule, RuleMatch};
use crate::stack::{Stack, LOOPBACK_IFINDEX};
use crate::wire::Ipv4Addr;
use serde::{Deserialize, Serialize};

/// What `ip route get` found. Linux: the `RTM_NEWROUTE` reply of `inet_rtm_getroute`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteGetReply {
    /// The destination asked about.
    pub dst: Ipv4Addr,
    /// Route type name (`unicast`, `local`, `broadcast`).
    pub kind: String,
    /// The source given (`from`), if any.
    pub from: Option<Ipv4Addr>,
    /// Next hop, when not the destination itself.
    pub gateway: Option<Ipv4Addr>,
    /// Output device name.
    pub dev: String,
    /// Source address the stack would use (output lookups).
    pub src: Option<Ipv4Addr>,
    /// Table the route came from.
    pub table: u32,
    /// Input device name (`iif` lookups).
    pub iif: Option<String>,
}

fn rtnl_error(e: Errno) -> Response {
    match e {
        Errno::EEXIST => error(libc::EEXIST, "RTNETLINK answers: File exists"),
        Errno::ESRCH => error(libc::ESRCH, "RTNETLINK answers: No such process"),
        Errno::ENETUNREACH => error(
            libc::ENETUNREACH,
            "RTNETLINK answers: Network is unreachable",
        ),
        Errno::EINVAL => error(libc::EINVAL, "RTNETLINK answers: Invalid argument"),
        Errno::ENODEV => error(libc::ENODEV, "RTNETLINK answers: No such device"),
        e => errno_response(e),
    }
}

fn ifindex(stack: &Stack, dev: Option<&str>) -> Result<Option<u32>, Response> {
    match dev {
        None => Ok(None),
        Some(d) => stack
            .ifindex_by_name(d)
            .map(Some)
            .ok_or_else(|| error(libc::ENODEV, format!("Cannot find device \"{d}\""))),
    }
}

/// `ip route add|replace`. Linux: `inet_rtm_newroute` (`NLM_F_REPLACE` for replace).
pub fn route_add(
    stack: &mut Stack,
    mut route: Route,
    dev: Option<&str>,
    replace: bool,
) -> Response {
    match ifindex(stack, dev) {
        Ok(Some(i)) => route.ifindex = i,
        Ok(None) => {}
        Err(r) => return r,
    }
    // Replace swaps the route with the same destination, table and metric for the new one,
    // all or nothing: a new route the stack refuses (a gateway it cannot reach, say) leaves
    // the old one in place, as Linux checks the new one (`fib_create_info`) before
    // `fib_table_insert` replaces.
    let old = if replace {
        let mut m = RouteMatch::new(route.dst);
        m.table = Some(route.table);
        m.metric = Some(route.metric);
        stack.del_route(&m).ok()
    } else {
        None
    };
    match stack.add_route(route) {
        Ok(()) => Response::Ok,
        Err(e) => {
            if let Some(o) = old {
                // It was in the table a moment ago, against the same routes and addresses.
                let _ = stack.add_route(o);
            }
            rtnl_error(e)
        }
    }
}

/// `ip route del`. Linux: `inet_rtm_delroute`.
pub fn route_del(stack: &mut Stack, mut m: RouteMatch, dev: Option<&str>) -> Response {
    match ifindex(stack, dev) {
        Ok(i) => m.ifindex = i.or(m.ifindex),
        Err(r) => return r,
    }
    match stack.del_route(&m) {
        Ok(_) => Response::Ok,
        Err(e) => rtnl_error(e),
    }
}

/// `ip route get DST [from SRC] [iif DEV] [mark N]`. Linux: `inet_rtm_getroute`: an output
/// lookup, or with `iif` an input lookup as if the packet had arrived there.
pub fn route_get(
    stack: &Stack,
    dst: Ipv4Addr,
    from: Option<Ipv4Addr>,
    iif: Option<&str>,
    mark: u32,
) -> Response {
    let iif_index = match ifindex(stack, iif) {
        Ok(i) => i,
        Err(r) => return r,
    };
    if let Some(i) = iif_index {
        let src = from.unwrap_or(Ipv4Addr::UNSPECIFIED);
        let (kind, route) = match stack.ip_route_input(dst, src, i, mark) {
            InputRoute::Local => ("local", None),
            InputRoute::Broadcast => ("broadcast", None),
            InputRoute::Forward(r) => ("unicast", Some(r)),
            InputRoute::Error(e) => return rtnl_error(e),
            InputRoute::Martian => return rtnl_error(Errno::EINVAL),
        };
        return Response::RouteGot {
            reply: RouteGetReply {
                dst,
                kind: kind.into(),
                from,
                gateway: route.and_then(|r| r.gateway),
                dev: name(stack, route.map_or(LOOPBACK_IFINDEX, |r| r.ifindex)),
                src: None,
                table: route.map_or(255, |r| r.table),
                iif: iif.map(String::from),
            },
        };
    }
    match stack.ip_route_output(dst, from) {
        Ok(o) => {
            let kind = if o.ifindex == LOOPBACK_IFINDEX && stack.is_local_addr(dst) {
                "local"
            } else if o.broadcast {
                "broadcast"
            } else {
                "unicast"
            };
            Response::RouteGot {
                reply: RouteGetReply {
                    dst,
                    kind: kind.into(),
                    from,
                    gateway: (o.nexthop != dst).then_some(o.nexthop),
                    dev: name(stack, o.ifindex),
                    src: Some(o.src),
                    table: if kind == "local" { 255 } else { 254 },
                    iif: None,
                },
            }
        }
        Err(e) => rtnl_error(e),
    }
}

/// `ip rule add`; priority 0 asks for the next free one below the last user rule, as
/// iproute2 leaves it to the kernel. Linux: `fib_nl_newrule`.
pub fn rule_add(
    stack: &mut Stack,
    mut rule: FibRule,
    iif: Option<&str>,
    auto_priority: bool,
) -> Response {
    match ifindex(stack, iif) {
        Ok(i) => rule.iif = i.or(rule.iif),
        Err(r) => return r,
    }
    if auto_priority {
        rule.priority = stack.next_rule_priority();
    }
    match stack.add_rule(rule) {
        Ok(()) => Response::Ok,
        Err(e) => rtnl_error(e),
    }
}

/// `ip rule del`. Linux: `fib_nl_delrule`.
pub fn rule_del(stack: &mut Stack, mut m: RuleMatch, iif: Option<&str>) -> Response {
    match ifindex(stack, iif) {
        Ok(i) => m.iif = i.or(m.iif),
        Err(r) => return r,
    }
    match stack.del_rule(&m) {
        Ok(_) => Response::Ok,
        Err(e) => rtnl_error(e),
    }
}

/// `ip rule show`: rules with their input interface names.
pub fn rule_show(stack: &Stack) -> Response {
    Response::Rules {
        rules: stack
            .rules()
            .iter()
            .map(|r| (*r, r.iif.map(|i| name(stack, i))))
            .collect(),
    }
}

/// `ip route show [table T|all]`: routes with device names; `Some(0)` is every table.
pub fn route_list(stack: &Stack, table: Option<u32>) -> Response {
    let tables = match table {
        Some(0) => stack.ipv4.route_tables(),
        Some(t) => vec![t],
        None => vec![254],
    };
    let routes = tables
        .into_iter()
        .flat_map(|t| stack.ipv4.table_routes(t))
        .map(|r| (r, name(stack, r.ifindex)))
        .collect();
    Response::Routes { routes }
}

#[cfg(test)]
mod tests {
    use super::super::{handle, Request};
    use super::*;
    use crate::ip::fib::RouteType;
    use crate::ip::rules::RuleAction;
    use crate::time::Instant;
    use crate::wire::EthernetAddress;

    fn stack() -> Stack {
        let mut s = Stack::default();
        let i = s.add_interface("eth0", EthernetAddress::local_from_seed(1), 1500);
        s.add_addr(i, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.set_link_up(i, true, Instant::ZERO).unwrap();
        s
    }

    fn req(s: &mut Stack, r: Request) -> Response {
        handle(s, r, Instant::ZERO)
    }

    #[test]
    fn route_metrics_are_kept_replaced_and_used() {
        let mut s = stack();
        let dst = Ipv4Addr::new(198, 51, 100, 9);
        assert_eq!(s.tcp_route_mss(dst), 1460);
        let mut r = Route::unicast(
            "198.51.100.0/24".parse().unwrap(),
            Some(Ipv4Addr::new(192, 0, 2, 1)),
            0,
        );
        r.metrics.mtu = 1280;
        r.metrics.locks = 1 << crate::ip::metrics::Rtax::Mtu.number();
        r.metrics.advmss = 1000;
        let add = |r: Route, replace| Request::RouteAdd {
            route: r,
            dev: Some("eth0".into()),
            replace,
        };
        assert_eq!(req(&mut s, add(r, false)), Response::Ok);
        match req(&mut s, Request::RouteList { table: None }) {
            Response::Routes { routes } => {
                let (got, _) = routes.iter().find(|x| x.0.dst == r.dst).expect("route");
                assert_eq!(got.metrics.show(), " mtu lock 1280 advmss 1000");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s.tcp_route_mss(dst), 1000, "advmss");
        assert_eq!(s.ipv4_mtu(dst, Instant::ZERO), Some(1280));
        // A locked MTU learns nothing from "fragmentation needed".
        assert_eq!(s.ip_rt_update_pmtu(dst, 1000, Instant::ZERO), Some(1280));
        // `ip route replace` (and `change`) swaps the metrics: without advmss the MSS comes
        // from the MTU.
        r.metrics = Default::default();
        r.metrics.mtu = 1400;
        assert_eq!(req(&mut s, add(r, true)), Response::Ok);
        assert_eq!(s.tcp_route_mss(dst), 1360);
        assert_eq!(s.ip_rt_update_pmtu(dst, 1300, Instant::ZERO), Some(1300));
    }

    #[test]
    fn a_refused_replace_keeps_the_old_route() {
        let mut s = stack();
        let r = Route::unicast(
            "198.51.100.0/24".parse().unwrap(),
            Some(Ipv4Addr::new(192, 0, 2, 1)),
            0,
        );
        let add = |r: Route, replace| Request::RouteAdd {
            route: r,
            dev: None,
            replace,
        };
        assert_eq!(req(&mut s, add(r, false)), Response::Ok);
        let before = s.ipv4.table_routes(254);
        // The same destination through a gateway on no connected network.
        let mut bad = r;
        bad.gateway = Some(Ipv4Addr::new(203, 0, 113, 1));
        assert!(matches!(
            req(&mut s, add(bad, true)),
            Response::Error { .. }
        ));
        assert_eq!(s.ipv4.table_routes(254), before, "the old route stays");
        assert_eq!(
            s.ip_route_output(Ipv4Addr::new(198, 51, 100, 9), None)
                .map(|o| o.nexthop),
            Ok(Ipv4Addr::new(192, 0, 2, 1))
        );
        // A good replacement still replaces.
        let mut good = r;
        good.gateway = Some(Ipv4Addr::new(192, 0, 2, 254));
        assert_eq!(req(&mut s, add(good, true)), Response::Ok);
        assert_eq!(
            s.ip_route_output(Ipv4Addr::new(198, 51, 100, 9), None)
                .map(|o| o.nexthop),
            Ok(Ipv4Addr::new(192, 0, 2, 254))
        );
    }

    #[test]
    fn route_add_get_del_and_errors() {
        let mut s = stack();
        let r = Route::unicast(
            "198.51.100.0/24".parse().unwrap(),
            Some(Ipv4Addr::new(192, 0, 2, 1)),
            0,
        );
        let add = Request::RouteAdd {
            route: r,
            dev: None,
            replace: false,
        };
        assert_eq!(req(&mut s, add.clone()), Response::Ok);
        match req(&mut s, add) {
            Response::Error { errno, message } => {
                assert_eq!(errno, Some(libc::EEXIST));
                assert!(message.contains("File exists"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        let get = Request::RouteGet {
            dst: Ipv4Addr::new(198, 51, 100, 9),
            from: None,
            iif: None,
            mark: 0,
        };
        match req(&mut s, get.clone()) {
            Response::RouteGot { reply } => {
                assert_eq!(reply.gateway, Some(Ipv4Addr::new(192, 0, 2, 1)));
                assert_eq!(reply.dev, "eth0");
                assert_eq!(reply.src, Some(Ipv4Addr::new(192, 0, 2, 2)));
            }
            other => panic!("{other:?}"),
        }
        let m = RouteMatch::new("198.51.100.0/24".parse().unwrap());
        let del = Request::RouteDel {
            route: m,
            dev: Some("eth0".into()),
        };
        assert_eq!(req(&mut s, del.clone()), Response::Ok);
        assert!(
            matches!(req(&mut s, del), Response::Error { errno: Some(e), .. } if e == libc::ESRCH)
        );
        assert!(
            matches!(req(&mut s, get), Response::Error { errno: Some(e), .. } if e == libc::ENETUNREACH)
        );
        let bad_dev = Request::RouteAdd {
            route: r,
            dev: Some("nope0".into()),
            replace: false,
        };
        assert!(
            matches!(req(&mut s, bad_dev), Response::Error { message, .. } if message.contains("\"nope0\""))
        );
    }

    #[test]
    fn rules_tables_and_sysctl() {
        let mut s = stack();
        let mut bh = Route::unicast("203.0.113.0/24".parse().unwrap(), None, 0);
        bh.kind = RouteType::Blackhole;
        bh.table = 100;
        assert_eq!(
            req(
                &mut s,
                Request::RouteAdd {
                    route: bh,
                    dev: None,
                    replace: false
                }
            ),
            Response::Ok
        );
        match req(&mut s, Request::RouteList { table: Some(100) }) {
            Response::Routes { routes } => assert_eq!(routes.len(), 1),
            other => panic!("{other:?}"),
        }
        let rule = FibRule::lookup(0, 100);
        let add = Request::RuleAdd {
            rule,
            iif_dev: Some("eth0".into()),
            auto_priority: true,
        };
        assert_eq!(req(&mut s, add), Response::Ok);
        let Response::Rules { rules } = req(&mut s, Request::RuleShow) else {
            panic!()
        };
        let (added, iif) = rules
            .iter()
            .find(|(r, _)| r.action == RuleAction::Lookup(100))
            .expect("rule listed");
        assert_eq!(iif.as_deref(), Some("eth0"));
        assert!(added.priority > 0 && added.priority < 32766);

        let w = Request::Sysctl {
            key: Some("net.ipv4.ip_forward".into()),
            value: Some("1".into()),
        };
        assert!(matches!(req(&mut s, w), Response::Sysctl { values } if values[0].value == "1"));
        assert!(s.ip_forward_enabled());
        let bad = Request::Sysctl {
            key: Some("net.ipv4.ip_forward".into()),
            value: Some("yes".into()),
        };
        assert!(matches!(req(&mut s, bad), Response::Error { .. }));
        assert!(s.ip_forward_enabled(), "a bad value changes nothing");
        let unknown = Request::Sysctl {
            key: Some("net.ipv4.nonsense".into()),
            value: None,
        };
        assert!(
            matches!(req(&mut s, unknown), Response::Error { message, .. } if message.contains("nonsense"))
        );
    }
}
