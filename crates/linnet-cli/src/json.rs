//! JSON output shaped as iproute2's `ip -j` prints it, key for key, so tools written for Linux's
//! `ip -j link|addr|route|neigh|rule` read Linnet's too; and `ss -j` with ss's own column and
//! `-i` field names.

use linnet::control::route::RouteGetReply;
use linnet::ip::fib::Route;
use linnet::ip::route::{RouteProto, RouteScope, RouteType, RT_TABLE_MAIN};
use linnet::ip::rules::{FibRule, RuleAction};
use linnet::link::neighbour::NeighInfo;
use linnet::socket::SocketInfo;
use linnet::stack::{LinkInfo, LinkKind};
use serde_json::{json, Map, Value};

/// Infinite address lifetime, as iproute2 prints it (`INFINITY_LIFE_TIME`).
const FOREVER: u32 = u32::MAX;

/// A routing table's name as iproute2 prints it (`rtnl_rttable_n2a`).
pub fn table_name(t: u32) -> String {
    match t {
        255 => "local".into(),
        254 => "main".into(),
        253 => "default".into(),
        n => n.to_string(),
    }
}

/// The interface flags iproute2 lists (`print_link_flags`).
pub fn link_flags(l: &LinkInfo) -> Vec<&'static str> {
    let mut f = Vec::new();
    if l.kind == LinkKind::Loopback {
        f.push("LOOPBACK");
    } else {
        f.push("BROADCAST");
        f.push("MULTICAST");
    }
    if l.up {
        f.push("UP");
        f.push("LOWER_UP");
    }
    f
}

/// RFC 2863 operational state as iproute2 names it (`oper_state`).
pub fn operstate(l: &LinkInfo) -> &'static str {
    match (l.up, l.kind) {
        (false, _) => "DOWN",
        (true, LinkKind::Loopback) => "UNKNOWN",
        (true, LinkKind::Ether) => "UP",
    }
}

/// `link/ether` or `link/loopback`, and the link broadcast address.
fn link_type(l: &LinkInfo) -> (&'static str, &'static str) {
    if l.kind == LinkKind::Loopback {
        ("loopback", "00:00:00:00:00:00")
    } else {
        ("ether", "ff:ff:ff:ff:ff:ff")
    }
}

/// One interface as `ip -j link` (or, with `addrs`, `ip -j addr`) prints it; `stats` adds
/// `stats64` as `ip -s -j` does.
pub fn link(l: &LinkInfo, addrs: bool, stats: bool) -> Value {
    let (kind, brd) = link_type(l);
    let mut m = Map::new();
    m.insert("ifindex".into(), json!(l.ifindex));
    m.insert("ifname".into(), json!(l.name));
    m.insert("flags".into(), json!(link_flags(l)));
    m.insert("mtu".into(), json!(l.mtu));
    m.insert("qdisc".into(), json!(l.qdisc));
    m.insert("operstate".into(), json!(operstate(l)));
    if !addrs {
        m.insert("linkmode".into(), json!("DEFAULT"));
    }
    m.insert("group".into(), json!("default"));
    m.insert("txqlen".into(), json!(1000));
    m.insert("link_type".into(), json!(kind));
    m.insert("address".into(), json!(l.mac.to_string()));
    m.insert("broadcast".into(), json!(brd));
    if stats {
        let s = &l.stats;
        m.insert(
            "stats64".into(),
            json!({
                "rx": {"bytes": s.rx_bytes, "packets": s.rx_packets, "errors": s.rx_errors,
                       "dropped": s.rx_dropped, "over_errors": 0, "multicast": 0},
                "tx": {"bytes": s.tx_bytes, "packets": s.tx_packets, "errors": s.tx_errors,
                       "dropped": s.tx_dropped + l.qdisc_stats.drops, "carrier_errors": 0,
                       "collisions": 0},
            }),
        );
    }
    if addrs {
        let info: Vec<Value> = l
            .addrs
            .iter()
            .map(|c| {
                let mut a = Map::new();
                a.insert("family".into(), json!("inet"));
                a.insert("local".into(), json!(c.addr.to_string()));
                a.insert("prefixlen".into(), json!(c.prefix_len));
                if let Some(b) = c.broadcast().filter(|_| l.kind == LinkKind::Ether) {
                    a.insert("broadcast".into(), json!(b.to_string()));
                }
                let scope = if c.addr.is_loopback() {
                    "host"
                } else {
                    "global"
                };
                a.insert("scope".into(), json!(scope));
                a.insert("label".into(), json!(l.name));
                a.insert("valid_life_time".into(), json!(FOREVER));
                a.insert("preferred_life_time".into(), json!(FOREVER));
                Value::Object(a)
            })
            .collect();
        m.insert("addr_info".into(), Value::Array(info));
    }
    Value::Object(m)
}

/// One route as `ip -j route` prints it.
pub fn route(r: &Route, dev: &str) -> Value {
    let mut m = Map::new();
    if r.kind != RouteType::Unicast {
        m.insert("type".into(), json!(r.kind.name()));
    }
    let dst = if r.dst.prefix_len == 0 {
        "default".to_string()
    } else if r.dst.prefix_len == 32 {
        r.dst.addr.to_string()
    } else {
        r.dst.to_string()
    };
    m.insert("dst".into(), json!(dst));
    if let Some(gw) = r.gateway {
        m.insert("gateway".into(), json!(gw.to_string()));
    }
    if !r.kind.is_deviceless() {
        m.insert("dev".into(), json!(dev));
    }
    if r.table != RT_TABLE_MAIN {
        m.insert("table".into(), json!(table_name(r.table)));
    }
    let proto = match r.protocol {
        RouteProto::Kernel => "kernel",
        RouteProto::Boot => "boot",
        RouteProto::Static => "static",
    };
    m.insert("protocol".into(), json!(proto));
    match r.scope {
        RouteScope::Link => {
            m.insert("scope".into(), json!("link"));
        }
        RouteScope::Host => {
            m.insert("scope".into(), json!("host"));
        }
        RouteScope::Universe => {}
    }
    if let Some(src) = r.prefsrc {
        m.insert("prefsrc".into(), json!(src.to_string()));
    }
    if r.metric != 0 {
        m.insert("metric".into(), json!(r.metric));
    }
    m.insert("flags".into(), json!([]));
    if !r.metrics.is_empty() {
        // iproute2: "metrics": [{"mtu": N, ...}], a locked one as {"lock": ["mtu"]} too.
        let mut mx = Map::new();
        let mut locks = Vec::new();
        for x in linnet::ip::metrics::Rtax::ALL {
            let v = r.metrics.get(x);
            if v != 0 {
                mx.insert(x.name().into(), json!(v));
                if r.metrics.locked(x) {
                    locks.push(json!(x.name()));
                }
            }
        }
        if !locks.is_empty() {
            mx.insert("lock".into(), Value::Array(locks));
        }
        m.insert("metrics".into(), json!([mx]));
    }
    Value::Object(m)
}

/// The answer to `ip -j route get` (iproute2 prints a one-element list).
pub fn route_get(r: &RouteGetReply) -> Value {
    let mut m = Map::new();
    if r.kind != "unicast" {
        m.insert("type".into(), json!(r.kind));
    }
    m.insert("dst".into(), json!(r.dst.to_string()));
    if let Some(f) = r.from {
        m.insert("from".into(), json!(f.to_string()));
    }
    if let Some(gw) = r.gateway {
        m.insert("gateway".into(), json!(gw.to_string()));
    }
    if let Some(i) = &r.iif {
        m.insert("iif".into(), json!(i));
    }
    m.insert("dev".into(), json!(r.dev));
    if r.table != RT_TABLE_MAIN {
        m.insert("table".into(), json!(table_name(r.table)));
    }
    if let Some(s) = r.src {
        m.insert("prefsrc".into(), json!(s.to_string()));
    }
    m.insert("flags".into(), json!([]));
    m.insert("uid".into(), json!(0));
    m.insert("cache".into(), json!([]));
    json!([Value::Object(m)])
}

/// One neighbour entry as `ip -j neigh` (and `ip -j -6 neigh`) prints it.
pub fn neigh<A: std::fmt::Display>(n: &NeighInfo<A>, dev: &str) -> Value {
    let mut m = Map::new();
    m.insert("dst".into(), json!(n.ip.to_string()));
    m.insert("dev".into(), json!(dev));
    if let Some(mac) = n.lladdr {
        m.insert("lladdr".into(), json!(mac.to_string()));
    }
    m.insert("state".into(), json!([n.state.name()]));
    Value::Object(m)
}

/// One policy rule as `ip -j rule` prints it.
pub fn rule(r: &FibRule, iif: Option<&str>) -> Value {
    let mut m = Map::new();
    m.insert("priority".into(), json!(r.priority));
    match r.from {
        Some(c) if c.prefix_len > 0 => {
            m.insert("src".into(), json!(c.addr.to_string()));
            if c.prefix_len != 32 {
                m.insert("srclen".into(), json!(c.prefix_len));
            }
        }
        _ => {
            m.insert("src".into(), json!("all"));
        }
    }
    if let Some(c) = r.to {
        m.insert("dst".into(), json!(c.addr.to_string()));
        if c.prefix_len != 32 {
            m.insert("dstlen".into(), json!(c.prefix_len));
        }
    }
    if let Some(i) = iif {
        m.insert("iif".into(), json!(i));
    }
    if let Some(f) = r.fwmark {
        m.insert("fwmark".into(), json!(format!("{:#x}", f.value)));
        if f.mask != u32::MAX {
            m.insert("fwmask".into(), json!(format!("{:#x}", f.mask)));
        }
    }
    match r.action {
        RuleAction::Lookup(t) => {
            m.insert("table".into(), json!(table_name(t)));
        }
        RuleAction::Blackhole => {
            m.insert("type".into(), json!("blackhole"));
        }
        RuleAction::Unreachable => {
            m.insert("type".into(), json!("unreachable"));
        }
        RuleAction::Prohibit => {
            m.insert("type".into(), json!("prohibit"));
        }
    }
    Value::Object(m)
}

/// One socket for `ss -j`: ss's columns (`netid`, `state`, `recv_q`, `send_q`, `local_address`,
/// `local_port`, `peer_address`, `peer_port`) and, for TCP with `-i`, the fields `ss -i` prints
/// under their ss names.
pub fn socket(s: &SocketInfo, info: bool) -> Value {
    let mut m = Map::new();
    m.insert("netid".into(), json!(s.proto));
    m.insert("state".into(), json!(s.state));
    m.insert("recv_q".into(), json!(s.recv_q));
    m.insert("send_q".into(), json!(s.send_q));
    m.insert("local_address".into(), json!(s.local.ip().to_string()));
    m.insert("local_port".into(), json!(port(s.local.port())));
    let peer_unset = s.remote.ip().is_unspecified() && s.remote.port() == 0;
    m.insert("peer_address".into(), json!(s.remote.ip().to_string()));
    m.insert(
        "peer_port".into(),
        if peer_unset {
            json!("*")
        } else {
            json!(s.remote.port())
        },
    );
    if let (true, Some(t)) = (info, &s.tcp) {
        let mss = t.mss.max(1);
        let ms = |us: u64| us as f64 / 1000.0;
        let mut i = Map::new();
        i.insert("ts".into(), json!(t.ts));
        i.insert("sack".into(), json!(t.sack));
        i.insert("ecn".into(), json!(t.ecn));
        i.insert("ecnseen".into(), json!(t.ecn_seen));
        i.insert("cong_alg".into(), json!(t.cc));
        i.insert(
            "wscale".into(),
            json!(format!("{},{}", t.wscale.1, t.wscale.0)),
        );
        i.insert("rto".into(), json!(ms(t.rto_us)));
        i.insert("rtt".into(), json!(ms(t.rtt_us)));
        i.insert("rttvar".into(), json!(ms(t.rttvar_us)));
        i.insert("mss".into(), json!(t.mss));
        i.insert("cwnd".into(), json!(t.cwnd / mss));
        if t.ssthresh != u32::MAX {
            i.insert("ssthresh".into(), json!(t.ssthresh / mss));
        }
        i.insert("bytes_sent".into(), json!(t.bytes_sent));
        i.insert("bytes_acked".into(), json!(t.bytes_acked));
        i.insert("bytes_received".into(), json!(t.bytes_received));
        i.insert("retrans".into(), json!(t.retrans_out));
        i.insert("retrans_total".into(), json!(t.retrans));
        i.insert("lost".into(), json!(t.lost));
        i.insert("sacked".into(), json!(t.sacked));
        i.insert("dsack_dups".into(), json!(t.dsack_dups));
        i.insert("reordering".into(), json!(t.reordering));
        i.insert("reord_seen".into(), json!(t.reord_seen));
        i.insert("rcv_space".into(), json!(t.rcv_wnd));
        i.insert("snd_wnd".into(), json!(t.snd_wnd));
        i.insert("pacing_rate".into(), json!(t.pacing_rate * 8));
        i.insert("delivery_rate".into(), json!(t.delivery_rate * 8));
        i.insert("ca_state".into(), json!(t.ca_state));
        m.insert("tcp_info".into(), Value::Object(i));
    }
    Value::Object(m)
}

/// A port as ss prints it: `*` for none.
fn port(p: u16) -> Value {
    if p == 0 {
        json!("*")
    } else {
        json!(p)
    }
}

/// Print a JSON list: one line as iproute2 does by default, indented with `-p`/`-pretty`.
pub fn print(v: &Value, pretty: bool) -> Result<(), serde_json::Error> {
    let s = if pretty {
        serde_json::to_string_pretty(v)?
    } else {
        serde_json::to_string(v)?
    };
    println!("{s}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use linnet::device::DeviceStats;
    use linnet::qdisc::QdiscStats;
    use linnet::{EthernetAddress, Ipv4Addr, Ipv4Cidr};

    fn tap() -> LinkInfo {
        LinkInfo {
            ifindex: 2,
            name: "tap0".into(),
            mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
            mtu: 1500,
            up: true,
            kind: LinkKind::Ether,
            addrs: vec![Ipv4Cidr::new(Ipv4Addr::new(192, 0, 2, 2), 24).expect("a /24")],
            stats: DeviceStats::default(),
            qdisc: "pfifo_fast".into(),
            qdisc_stats: QdiscStats::default(),
        }
    }

    #[test]
    fn addr_json_has_iproute2_keys() {
        let v = link(&tap(), true, false);
        assert_eq!(v["ifindex"], 2);
        assert_eq!(v["ifname"], "tap0");
        assert_eq!(
            v["flags"],
            json!(["BROADCAST", "MULTICAST", "UP", "LOWER_UP"])
        );
        assert_eq!(v["operstate"], "UP");
        assert_eq!(v["link_type"], "ether");
        assert_eq!(v["address"], "02:00:00:00:00:01");
        let a = &v["addr_info"][0];
        assert_eq!(a["family"], "inet");
        assert_eq!(a["local"], "192.0.2.2");
        assert_eq!(a["prefixlen"], 24);
        assert_eq!(a["broadcast"], "192.0.2.255");
        assert_eq!(a["scope"], "global");
        assert_eq!(a["label"], "tap0");
        assert!(v.get("linkmode").is_none(), "ip -j addr has no linkmode");
        assert_eq!(link(&tap(), false, false)["linkmode"], "DEFAULT");
    }

    #[test]
    fn rule_json_names_src_and_table() {
        let r = FibRule {
            priority: 32766,
            from: None,
            to: None,
            iif: None,
            fwmark: None,
            action: RuleAction::Lookup(254),
        };
        assert_eq!(
            rule(&r, None),
            json!({"priority": 32766, "src": "all", "table": "main"})
        );
    }
}
