//! Route, rule and sysctl requests: the `doit` handlers of `RTM_NEWROUTE`/`RTM_DELROUTE`/
//! `RTM_GETROUTE`, `RTM_NEWRULE`/`RTM_DELRULE`, and the `net.ipv4.*` sysctls.
//!
//! Linux: net/ipv4/fib_frontend.c (`inet_rtm_newroute`, `inet_rtm_delroute`),
//! net/ipv4/route.c (`inet_rtm_getroute`), net/core/fib_rules.c (`fib_nl_newrule`).

use super::{errno_response, Response};
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

/// A sysctl value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysctlValue {
    /// Dotted name, e.g. `net.ipv4.ip_forward`.
    pub key: String,
    /// Value as text.
    pub value: String,
}

/// The sysctls the stack knows, with their current values.
pub fn sysctls(stack: &Stack) -> Vec<SysctlValue> {
    let c = stack.config();
    let t = &c.tcp;
    let b = |v: bool| if v { "1" } else { "0" }.to_string();
    vec![
        SysctlValue {
            key: "net.core.somaxconn".into(),
            value: t.somaxconn.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.ip_forward".into(),
            value: b(stack.ip_forward_enabled()),
        },
        SysctlValue {
            key: "net.ipv4.tcp_timestamps".into(),
            value: b(t.timestamps),
        },
        SysctlValue {
            key: "net.ipv4.tcp_sack".into(),
            value: b(t.sack),
        },
        SysctlValue {
            key: "net.ipv4.tcp_window_scaling".into(),
            value: b(t.window_scaling),
        },
        SysctlValue {
            key: "net.ipv4.tcp_moderate_rcvbuf".into(),
            value: b(t.moderate_rcvbuf),
        },
        SysctlValue {
            key: "net.ipv4.tcp_reordering".into(),
            value: t.reordering.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_max_reordering".into(),
            value: t.max_reordering.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_frto".into(),
            value: if t.frto { "2" } else { "0" }.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_ecn".into(),
            value: t.ecn.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_comp_sack_nr".into(),
            value: t.comp_sack_nr.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_comp_sack_delay_ns".into(),
            value: t.comp_sack_delay.as_nanos().to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_comp_sack_slack_ns".into(),
            value: t.comp_sack_slack.as_nanos().to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_congestion_control".into(),
            value: t.congestion_control.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_available_congestion_control".into(),
            value: crate::transport::tcp::cong::CcAlgorithm::ALL
                .iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(" "),
        },
        SysctlValue {
            key: "net.ipv4.tcp_rmem".into(),
            value: format!("{}\t{}\t{}", TCP_MEM_MIN, t.rmem_default, t.rmem_max),
        },
        SysctlValue {
            key: "net.ipv4.tcp_wmem".into(),
            value: format!("{}\t{}\t{}", TCP_MEM_MIN, t.wmem_default, t.wmem_max),
        },
        SysctlValue {
            key: "net.ipv4.tcp_fastopen".into(),
            value: t.fastopen.to_string(),
        },
        SysctlValue {
            key: "net.ipv4.tcp_fastopen_key".into(),
            value: stack.tcp_fastopen_keys().format(),
        },
    ]
}

/// Parse an integer sysctl as Linux's `proc_dointvec` does: decimal, or hex with `0x`.
fn parse_int(key: &str, v: &str) -> Result<u32, Response> {
    let t = v.trim();
    let n = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => t.parse(),
    };
    n.map_err(|_| {
        error(
            libc::EINVAL,
            format!("sysctl: {key}: \"{v}\" is not a number"),
        )
    })
}

/// The first number of `tcp_rmem`/`tcp_wmem`: the smallest buffer (Linux: one page).
const TCP_MEM_MIN: usize = 4096;

/// Largest buffer `tcp_rmem`/`tcp_wmem` accept here (64 MiB, SO_RCVBUF's limit too).
const TCP_MEM_LIMIT: usize = 64 << 20;

/// Parse "MIN DEFAULT MAX" (blanks or tabs between) for `tcp_rmem`/`tcp_wmem`: the
/// default and maximum buffer sizes, with MIN <= DEFAULT <= MAX.
fn parse_tcp_mem(key: &str, v: &str) -> Result<(usize, usize), Response> {
    let bad = |why: &str| error(libc::EINVAL, format!("sysctl: {key}: \"{v}\": {why}"));
    let nums: Vec<&str> = v.split_whitespace().collect();
    if nums.len() != 3 {
        return Err(bad("want three numbers: min default max"));
    }
    let mut n = [0usize; 3];
    for (slot, w) in n.iter_mut().zip(&nums) {
        *slot = w
            .parse()
            .map_err(|_| bad(&format!("\"{w}\" is not a number of bytes")))?;
    }
    if n[0] == 0 || n[0] > n[1] || n[1] > n[2] {
        return Err(bad("want 0 < min <= default <= max"));
    }
    if n[2] > TCP_MEM_LIMIT {
        return Err(bad(&format!("max is above {TCP_MEM_LIMIT}")));
    }
    Ok((n[1].max(TCP_MEM_MIN), n[2].max(TCP_MEM_MIN)))
}

fn error(errno: i32, message: impl Into<String>) -> Response {
    Response::Error {
        errno: Some(errno),
        message: message.into(),
    }
}

/// Read or write one sysctl (`sysctl KEY` / `sysctl -w KEY=VALUE`).
pub fn sysctl(stack: &mut Stack, key: &str, value: Option<&str>) -> Response {
    if let (Some(v), "net.core.somaxconn") = (value, key) {
        // Linux: any positive int; the backlog of listen() is capped by it.
        match v.trim().parse::<u32>() {
            Ok(n) if (1..=i32::MAX as u32).contains(&n) => stack.tcp_config_mut().somaxconn = n,
            _ => {
                return error(
                    libc::EINVAL,
                    format!("sysctl: {key}: \"{v}\" is not a positive number"),
                )
            }
        }
    } else if let (Some(v), "net.ipv4.tcp_fastopen") = (value, key) {
        match parse_int(key, v) {
            Ok(n) => stack.tcp_config_mut().fastopen = n,
            Err(r) => return r,
        }
    } else if let (Some(v), "net.ipv4.tcp_fastopen_key") = (value, key) {
        // Linux: `proc_tcp_fastopen_key`: a primary key, optionally ",backup".
        match crate::transport::tcp::fastopen::FastOpenKeys::parse(v) {
            Some(k) => stack.set_tcp_fastopen_keys(k),
            None => {
                return error(
                    libc::EINVAL,
                    format!(
                        "sysctl: {key}: \"{v}\": want xxxxxxxx-xxxxxxxx-xxxxxxxx-xxxxxxxx[,...]"
                    ),
                )
            }
        }
    } else if let (Some(v), "net.ipv4.tcp_rmem" | "net.ipv4.tcp_wmem") = (value, key) {
        let (def, max) = match parse_tcp_mem(key, v) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let t = stack.tcp_config_mut();
        if key == "net.ipv4.tcp_rmem" {
            (t.rmem_default, t.rmem_max) = (def, max);
        } else {
            (t.wmem_default, t.wmem_max) = (def, max);
        }
    } else if let (
        Some(v),
        "net.ipv4.tcp_reordering" | "net.ipv4.tcp_max_reordering" | "net.ipv4.tcp_frto",
    ) = (value, key)
    {
        // Linux: proc_dointvec_minmax, 1..=300 for the reordering degrees; tcp_frto 0..=2.
        let max = if key == "net.ipv4.tcp_frto" { 2 } else { 300 };
        let min = if key == "net.ipv4.tcp_frto" { 0 } else { 1 };
        let n = match v.trim().parse::<u32>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                return error(
                    libc::EINVAL,
                    format!("sysctl: \"{v}\" is not a number in {min}..={max} for {key}"),
                )
            }
        };
        let t = stack.tcp_config_mut();
        match key {
            "net.ipv4.tcp_reordering" => t.reordering = n,
            "net.ipv4.tcp_max_reordering" => t.max_reordering = n,
            _ => t.frto = n > 0,
        }
    } else if let (
        Some(v),
        "net.ipv4.tcp_comp_sack_nr"
        | "net.ipv4.tcp_comp_sack_delay_ns"
        | "net.ipv4.tcp_comp_sack_slack_ns",
    ) = (value, key)
    {
        // Linux: proc_dou8vec_minmax (0..=255) for the count, proc_doulongvec_minmax for
        // the nanoseconds.
        let n = match v.trim().parse::<u64>() {
            Ok(n) if key != "net.ipv4.tcp_comp_sack_nr" || n <= 255 => n,
            _ => {
                return error(
                    libc::EINVAL,
                    format!("sysctl: \"{v}\" is not a valid value for {key}"),
                )
            }
        };
        let t = stack.tcp_config_mut();
        match key {
            "net.ipv4.tcp_comp_sack_nr" => t.comp_sack_nr = n as u32,
            "net.ipv4.tcp_comp_sack_delay_ns" => {
                t.comp_sack_delay = std::time::Duration::from_nanos(n)
            }
            _ => t.comp_sack_slack = std::time::Duration::from_nanos(n),
        }
    } else if let (Some(v), "net.ipv4.tcp_ecn") = (value, key) {
        match v {
            "0" | "1" | "2" => stack.tcp_config_mut().ecn = v.as_bytes()[0] - b'0',
            _ => {
                return error(
                    libc::EINVAL,
                    format!("sysctl: \"{v}\" is not 0, 1 or 2 for {key}"),
                )
            }
        }
    } else if let (Some(v), "net.ipv4.tcp_congestion_control") = (value, key) {
        match v.parse() {
            Ok(alg) => stack.tcp_config_mut().congestion_control = alg,
            Err(_) => {
                return error(
                    libc::ENOENT,
                    format!("sysctl: setting key \"{key}\": No such file or directory"),
                )
            }
        }
    } else if let Some(v) = value {
        let on = match v {
            "0" => false,
            "1" => true,
            _ => {
                return error(
                    libc::EINVAL,
                    format!("sysctl: \"{v}\" is not 0 or 1 for {key}"),
                )
            }
        };
        match key {
            "net.ipv4.ip_forward" => stack.set_ip_forward(on),
            "net.ipv4.tcp_timestamps" => stack.tcp_config_mut().timestamps = on,
            "net.ipv4.tcp_sack" => stack.tcp_config_mut().sack = on,
            "net.ipv4.tcp_window_scaling" => stack.tcp_config_mut().window_scaling = on,
            "net.ipv4.tcp_moderate_rcvbuf" => stack.tcp_config_mut().moderate_rcvbuf = on,
            _ => {
                return error(
                    libc::ENOENT,
                    format!(
                        "sysctl: cannot stat /proc/sys/{}: No such file or directory",
                        key.replace('.', "/")
                    ),
                )
            }
        }
    }
    match sysctls(stack).into_iter().find(|s| s.key == key) {
        Some(s) => Response::Sysctl { values: vec![s] },
        None => error(
            libc::ENOENT,
            format!(
                "sysctl: cannot stat /proc/sys/{}: No such file or directory",
                key.replace('.', "/")
            ),
        ),
    }
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
    if replace {
        let mut m = RouteMatch::new(route.dst);
        m.table = Some(route.table);
        m.metric = Some(route.metric);
        let _ = stack.del_route(&m);
    }
    match stack.add_route(route) {
        Ok(()) => Response::Ok,
        Err(e) => rtnl_error(e),
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

fn name(stack: &Stack, ifindex: u32) -> String {
    stack
        .iface(ifindex)
        .map(|i| i.name.clone())
        .unwrap_or_else(|| format!("if{ifindex}"))
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
        Some(0) => stack.route_tables(),
        Some(t) => vec![t],
        None => vec![254],
    };
    let routes = tables
        .into_iter()
        .flat_map(|t| stack.table_routes(t))
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
    fn tcp_fastopen_and_its_key_are_sysctls() {
        let mut s = stack();
        let get = |s: &mut Stack, k: &str| match sysctl(s, k, None) {
            Response::Sysctl { values } => values[0].value.clone(),
            r => panic!("{r:?}"),
        };
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen"), "1");
        // packetdrill's defaults write it in hex; it reads back in decimal as in Linux.
        assert!(matches!(
            sysctl(&mut s, "net.ipv4.tcp_fastopen", Some("0x70403")),
            Response::Sysctl { .. }
        ));
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen"), "459779");
        assert_eq!(s.config().tcp.fastopen, 0x70403);
        let key = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4";
        sysctl(&mut s, "net.ipv4.tcp_fastopen_key", Some(key));
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen_key"), key);
        for bad in ["x", "1-2-3", "0xz"] {
            let k = if bad == "0xz" {
                "net.ipv4.tcp_fastopen"
            } else {
                "net.ipv4.tcp_fastopen_key"
            };
            assert!(matches!(
                sysctl(&mut s, k, Some(bad)),
                Response::Error { .. }
            ));
        }
        assert_eq!(get(&mut s, "net.ipv4.tcp_fastopen_key"), key);
    }

    #[test]
    fn tcp_rmem_and_wmem_take_three_numbers() {
        let mut s = stack();
        let r = sysctl(&mut s, "net.ipv4.tcp_rmem", Some("4096 131072  1048576"));
        assert!(matches!(r, Response::Sysctl { .. }), "{r:?}");
        assert_eq!(s.config().tcp.rmem_default, 131072);
        assert_eq!(s.config().tcp.rmem_max, 1048576);
        let Response::Sysctl { values } = sysctl(&mut s, "net.ipv4.tcp_rmem", None) else {
            panic!("read back");
        };
        assert_eq!(values[0].value, "4096\t131072\t1048576");
        assert!(matches!(
            sysctl(&mut s, "net.ipv4.tcp_wmem", Some("4096\t65536\t65536")),
            Response::Sysctl { .. }
        ));
        assert_eq!(s.config().tcp.wmem_max, 65536);
        for bad in [
            "1 2",
            "4096 x 8192",
            "4096 8192 4096",
            "0 1 2",
            "4096 8192 999999999999",
        ] {
            let r = sysctl(&mut s, "net.ipv4.tcp_rmem", Some(bad));
            assert!(
                matches!(
                    r,
                    Response::Error {
                        errno: Some(libc::EINVAL),
                        ..
                    }
                ),
                "{bad}: {r:?}"
            );
        }
        assert_eq!(
            s.config().tcp.rmem_max,
            1048576,
            "a refused value changes nothing"
        );
        sysctl(&mut s, "net.ipv4.tcp_moderate_rcvbuf", Some("0"));
        assert!(!s.config().tcp.moderate_rcvbuf);
    }

    #[test]
    fn loss_recovery_sysctls_take_numbers_in_range() {
        let mut s = stack();
        assert_eq!(s.config().tcp.reordering, 3);
        let r = sysctl(&mut s, "net.ipv4.tcp_reordering", Some("10"));
        assert!(matches!(r, Response::Sysctl { .. }), "{r:?}");
        assert_eq!(s.config().tcp.reordering, 10);
        sysctl(&mut s, "net.ipv4.tcp_frto", Some("0"));
        assert!(!s.config().tcp.frto);
        let Response::Sysctl { values } = sysctl(&mut s, "net.ipv4.tcp_frto", None) else {
            panic!("read back");
        };
        assert_eq!(values[0].value, "0");
        for (k, bad) in [
            ("net.ipv4.tcp_reordering", "0"),
            ("net.ipv4.tcp_max_reordering", "301"),
            ("net.ipv4.tcp_frto", "3"),
            ("net.ipv4.tcp_reordering", "x"),
        ] {
            let r = sysctl(&mut s, k, Some(bad));
            assert!(
                matches!(
                    r,
                    Response::Error {
                        errno: Some(libc::EINVAL),
                        ..
                    }
                ),
                "{k}={bad}: {r:?}"
            );
        }
        assert_eq!(s.config().tcp.max_reordering, 300);
    }

    #[test]
    fn sack_compression_sysctls_read_and_set() {
        let mut s = stack();
        let read = |s: &mut Stack, k: &str| match sysctl(s, k, None) {
            Response::Sysctl { values } => values[0].value.clone(),
            r => panic!("{k}: {r:?}"),
        };
        // Linux's defaults.
        assert_eq!(read(&mut s, "net.ipv4.tcp_comp_sack_nr"), "44");
        assert_eq!(read(&mut s, "net.ipv4.tcp_comp_sack_delay_ns"), "1000000");
        assert_eq!(read(&mut s, "net.ipv4.tcp_comp_sack_slack_ns"), "100000");
        sysctl(&mut s, "net.ipv4.tcp_comp_sack_nr", Some("0"));
        sysctl(&mut s, "net.ipv4.tcp_comp_sack_delay_ns", Some("250000"));
        assert_eq!(s.config().tcp.comp_sack_nr, 0);
        assert_eq!(
            s.config().tcp.comp_sack_delay,
            std::time::Duration::from_micros(250)
        );
        for bad in ["256", "-1", "x"] {
            let r = sysctl(&mut s, "net.ipv4.tcp_comp_sack_nr", Some(bad));
            assert!(
                matches!(
                    r,
                    Response::Error {
                        errno: Some(libc::EINVAL),
                        ..
                    }
                ),
                "{bad}: {r:?}"
            );
        }
        assert_eq!(s.config().tcp.comp_sack_nr, 0);
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
