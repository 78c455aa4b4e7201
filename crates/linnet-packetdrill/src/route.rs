//! `ip route` lines of a script's shell commands, applied to the stack under test. The
//! harness's `ip` shim appends each IPv4 `ip route ...` invocation (its arguments after
//! `route`) as one line to the file `.ip_route` of the sysctl directory; before every socket
//! call the library applies the new lines to Linnet's routing table, metrics included
//! (`ip route change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 mtu lock 640 initcwnd 11`
//! in the `mtu_probe` scripts). A gateway named is made a neighbour answered at the
//! device's peer address, as every address on the raw-IP link is.
//!
//! packetdrill on Linux routes the remote address through its tun device itself
//! (`ip route add REMOTE/32 dev tun0 via GATEWAY`, netdev.c `route_traffic_to_device`), so
//! there `ip route change` finds that route; here the stack has an on-link default route
//! instead, and `change` adds the host route when it is missing (as `replace` does).
//!
//! Linux: `inet_rtm_newroute` / `inet_rtm_delroute` behind iproute2's `ip route`.

use crate::iface::PEER_MAC;
use linnet::control::route::{route_add, route_del};
use linnet::ip::fib::{Route, RouteMatch};
use linnet::ip::metrics::RouteMetrics;
use linnet::Response;
use linnet::{Instant, Stack};
use linnet::{Ipv4Addr, Ipv4Cidr};

/// The file the `ip` shim appends `ip route` lines to (the words after `route`).
pub const IP_ROUTE_FILE: &str = ".ip_route";

/// What one `ip route` line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteLine {
    /// `add`, `change`, `replace`, `append`, `del`.
    pub verb: String,
    /// Destination prefix.
    pub dst: Ipv4Cidr,
    /// Gateway.
    pub via: Option<Ipv4Addr>,
    /// Output device.
    pub dev: Option<String>,
    /// Preference (`metric`).
    pub metric: u32,
    /// Metrics (`mtu`, `advmss`, `initcwnd`...).
    pub metrics: RouteMetrics,
}

/// A prefix, `default`, or an address (a /32).
fn prefix(w: &str) -> Result<Ipv4Cidr, String> {
    if w == "default" {
        return Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).ok_or_else(|| "bad prefix".into());
    }
    let (a, len) = w.split_once('/').unwrap_or((w, "32"));
    let addr: Ipv4Addr = a.parse().map_err(|_| format!("bad prefix \"{w}\""))?;
    let len: u8 = len.parse().map_err(|_| format!("bad prefix \"{w}\""))?;
    Ipv4Cidr::new(addr, len).ok_or_else(|| format!("bad prefix \"{w}\""))
}

/// Parse the words after `ip route`: `VERB [to] PREFIX [via A] [dev D] [metric N]
/// [proto P] [scope S] [METRIC [lock] N]...`.
pub fn parse(line: &str) -> Result<RouteLine, String> {
    let mut words = line.split_whitespace();
    let verb = match words.next() {
        Some("add" | "a") => "add",
        Some("change" | "chg") => "change",
        Some("replace") => "replace",
        Some("append") => "append",
        Some("del" | "delete" | "d") => "del",
        Some(v) => return Err(format!("ip route {v}: not applied")),
        None => return Err("ip route: no command".into()),
    };
    let (mut dst, mut via, mut dev, mut metric) = (None, None, None, 0);
    let mut metrics = RouteMetrics::default();
    while let Some(w) = words.next() {
        let mut value = |what: &str| {
            words
                .next()
                .ok_or_else(|| format!("\"{what}\" needs a value"))
        };
        match w {
            "via" => {
                let a = value("via")?;
                via = Some(a.parse().map_err(|_| format!("bad gateway \"{a}\""))?);
            }
            "dev" | "oif" => dev = Some(value("dev")?.to_string()),
            "metric" | "preference" | "priority" => {
                let n = value("metric")?;
                metric = n.parse().map_err(|_| format!("bad metric \"{n}\""))?;
            }
            "proto" | "protocol" | "scope" | "src" | "table" => {
                value(w)?;
            }
            "to" => dst = Some(prefix(value("to")?)?),
            _ if metrics.parse_word(w, &mut words)? => {}
            _ if dst.is_none() => dst = Some(prefix(w)?),
            _ => return Err(format!("\"{w}\" is garbage")),
        }
    }
    Ok(RouteLine {
        verb: verb.to_string(),
        dst: dst.ok_or("destination prefix is required")?,
        via,
        dev,
        metric,
        metrics,
    })
}

/// Apply one `ip route` line to the stack (routes of the main table on `tun0` unless a
/// device is named). Returns the error `ip` would print.
pub fn apply(stack: &mut Stack, line: &str, now: Instant) -> Result<(), String> {
    let r = parse(line)?;
    let dev = r.dev.clone().unwrap_or_else(|| "tun0".to_string());
    let ifindex = stack
        .ifindex_by_name(&dev)
        .ok_or_else(|| format!("Cannot find device \"{dev}\""))?;
    let resp = if r.verb == "del" {
        let mut m = RouteMatch::new(r.dst);
        m.gateway = r.via;
        route_del(stack, m, Some(&dev))
    } else {
        if let Some(gw) = r.via {
            // Every address on the link answers at the peer's address.
            let _ = stack.add_neighbour(ifindex, gw, PEER_MAC, now);
        }
        let mut route = Route::unicast(r.dst, r.via, ifindex);
        route.metric = r.metric;
        route.metrics = r.metrics;
        route_add(stack, route, Some(&dev), r.verb != "add")
    };
    match resp {
        Response::Error { message, .. } => Err(message),
        _ => Ok(()),
    }
}

/// Apply (and forget) the lines the shim queued in `dir`.
pub fn apply_queued(stack: &mut Stack, dir: &str, now: Instant) {
    let path = format!("{dir}/{IP_ROUTE_FILE}");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return;
    };
    let _ = std::fs::remove_file(&path);
    for line in text.lines() {
        if let Err(e) = apply(stack, line, now) {
            eprintln!("linnet-packetdrill: ip route {line}: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mtu_probe_scripts_route_lines_parse() {
        let r =
            parse("change 192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 mtu lock 640 initcwnd 11")
                .unwrap();
        assert_eq!(r.verb, "change");
        assert_eq!(r.dst, "192.0.2.1/32".parse().unwrap());
        assert_eq!(r.via, Some(Ipv4Addr::new(192, 168, 0, 2)));
        assert_eq!(r.dev.as_deref(), Some("tun0"));
        assert_eq!(
            (r.metrics.advmss, r.metrics.mtu, r.metrics.initcwnd),
            (600, 640, 11)
        );
        assert!(r.metrics.mtu_locked());
        assert!(parse("show").is_err());
        assert!(parse("add 192.0.2.1 frobnicate").is_err());
        assert!(parse("add 192.0.2.1 mtu").is_err());
    }
}
