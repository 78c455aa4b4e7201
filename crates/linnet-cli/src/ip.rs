//! `linnet ip ...`: the iproute2 subset for links, addresses, routes and neighbours.

use crate::json::{self, table_name};
use crate::{call, route, Failure};
use linnet::ip::fib::{Route, RouteMatch};
use linnet::ip::route::{RouteProto, RouteScope, RouteType, RT_TABLE_MAIN};
use linnet::ip::rules::{FibRule, FwMark, RuleAction, RuleMatch};
use linnet::stack::{LinkInfo, LinkKind};
use linnet::Client;
use linnet::{EthernetAddress, Ipv4Addr, Ipv4Cidr};
use linnet::{Request, Response};

#[derive(Default)]
struct Opts {
    stats: bool,
    json: bool,
    pretty: bool,
    brief: bool,
    inet6: bool,
}

/// Does `word` abbreviate `full` the way iproute2 accepts (a prefix of at least `min` letters)?
fn matches(word: &str, full: &str, min: usize) -> bool {
    word.len() >= min && full.starts_with(word)
}

fn is_show(words: &[String]) -> Result<Option<&str>, Failure> {
    match words {
        [] => Ok(None),
        [w, rest @ ..] if ["show", "list", "lst", "sh", "ls", "l", "s"].contains(&w.as_str()) => {
            match rest {
                [] => Ok(None),
                [d, name] if d == "dev" => Ok(Some(name.as_str())),
                [name] if name != "dev" => Ok(Some(name.as_str())),
                [bad, ..] => Err(Failure(
                    format!("Error: argument \"{bad}\" is wrong: unknown selector"),
                    255,
                )),
            }
        }
        [w, ..] => Err(Failure(
            format!("Command \"{w}\" is unknown, try \"ip help\"."),
            255,
        )),
    }
}

/// Run `ip` with the words after it.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let mut opts = Opts::default();
    let mut i = 0;
    while i < words.len() && words[i].starts_with('-') {
        match words[i].as_str() {
            "-s" | "-stats" | "-statistics" => opts.stats = true,
            "-j" | "-json" => opts.json = true,
            "-p" | "-pretty" => opts.pretty = true,
            "-br" | "-brief" => opts.brief = true,
            "-6" => opts.inet6 = true,
            "-4" => opts.inet6 = false,
            other => {
                return Err(Failure(
                    format!("Option \"{other}\" is unknown, try \"ip -help\"."),
                    255,
                ))
            }
        }
        i += 1;
    }
    let Some(object) = words.get(i) else {
        return Err(Failure(
            "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\nwhere  OBJECT := { link | address | route | rule | neigh | tcp_metrics }".into(),
            255,
        ));
    };
    let rest = &words[i + 1..];
    let o = object.as_str();
    if opts.inet6 {
        return crate::ip6::run(o, rest, opts.json, connect);
    }
    if let Some(req) = parse_change(o, rest)? {
        call(&mut connect()?, req)?;
        return Ok(0);
    }
    if matches(o, "link", 1) {
        let dev = is_show(rest)?;
        links(&mut connect()?, &opts, dev, false)
    } else if matches(o, "address", 1) {
        let dev = is_show(rest)?;
        links(&mut connect()?, &opts, dev, true)
    } else if matches(o, "route", 1) {
        route_cmd(rest, &opts, &connect)
    } else if matches(o, "rule", 2) {
        rule_cmd(rest, &opts, &connect)
    } else if o == "tcp_metrics" || o == "tcpmetrics" {
        tcp_metrics(rest, &opts, &connect)
    } else if matches(o, "neighbour", 1) || matches(o, "neighbor", 1) {
        is_show(rest)?;
        neighbours(&mut connect()?, &opts)
    } else {
        Err(Failure(
            format!("Object \"{o}\" is unknown, try \"ip help\"."),
            255,
        ))
    }
}

fn garbage(word: &str) -> Failure {
    Failure(
        format!("Error: either \"dev\" is duplicate, or \"{word}\" is a garbage."),
        255,
    )
}

fn need<'a>(it: &mut std::slice::Iter<'a, String>, what: &str) -> Result<&'a str, Failure> {
    it.next()
        .map(String::as_str)
        .ok_or_else(|| Failure(format!("Error: argument \"{what}\" needs a value."), 255))
}

fn bad_arg(value: &str, what: &str) -> Failure {
    Failure(format!("Error: argument \"{value}\" is wrong: {what}"), 255)
}

/// An address with an optional prefix length; without one it is a /32, as iproute2 reads it.
fn parse_prefix(word: &str) -> Result<Ipv4Cidr, Failure> {
    let (a, len) = match word.split_once('/') {
        Some((a, l)) => (a, l),
        None => (word, "32"),
    };
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| bad_arg(word, "invalid IPv4 address"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| bad_arg(word, "invalid prefix length"))?;
    Ipv4Cidr::new(addr, len).ok_or_else(|| bad_arg(word, "invalid prefix length"))
}

fn parse_mac(word: &str) -> Result<EthernetAddress, Failure> {
    let parts: Vec<&str> = word.split(':').collect();
    if parts.len() != 6 {
        return Err(bad_arg(word, "invalid link address"));
    }
    let mut b = [0u8; 6];
    for (o, p) in b.iter_mut().zip(&parts) {
        if p.is_empty() || p.len() > 2 {
            return Err(bad_arg(word, "invalid link address"));
        }
        *o = u8::from_str_radix(p, 16).map_err(|_| bad_arg(word, "invalid link address"))?;
    }
    Ok(EthernetAddress(b))
}

/// Parse the commands that change something; `None` for a listing. Every word is checked
/// before anything is sent, so a malformed command changes nothing.
pub fn parse_change(object: &str, words: &[String]) -> Result<Option<Request>, Failure> {
    let Some((verb, args)) = words.split_first() else {
        return Ok(None);
    };
    let v = verb.as_str();
    let mut it = args.iter();
    if matches(object, "link", 1) && v == "set" {
        let (mut dev, mut up, mut mtu, mut address) = (None, None, None, None);
        while let Some(w) = it.next() {
            match w.as_str() {
                "dev" => dev = Some(need(&mut it, "dev")?.to_string()),
                "address" | "addr" | "lladdr" => {
                    address = Some(parse_mac(need(&mut it, "address")?)?)
                }
                "up" => up = Some(true),
                "down" => up = Some(false),
                "mtu" => {
                    let m = need(&mut it, "mtu")?;
                    mtu = Some(m.parse().map_err(|_| bad_arg(m, "invalid mtu"))?);
                }
                other if dev.is_none() => dev = Some(other.to_string()),
                other => return Err(garbage(other)),
            }
        }
        let dev = dev.ok_or_else(|| {
            Failure(
                "Not enough of information: \"dev\" argument is required.".into(),
                255,
            )
        })?;
        return Ok(Some(Request::LinkSet {
            dev,
            up,
            mtu,
            address,
        }));
    }
    if matches(object, "address", 1) {
        let add = matches(v, "add", 1) || v == "replace";
        let del = matches(v, "delete", 1);
        let flush = matches(v, "flush", 1);
        if !(add || del || flush) {
            return Ok(None);
        }
        let (mut dev, mut addr) = (None, None);
        while let Some(w) = it.next() {
            match w.as_str() {
                "dev" => dev = Some(need(&mut it, "dev")?.to_string()),
                // The broadcast is always derived from the prefix; "+" asks for just that.
                "brd" | "broadcast" => {
                    let b = need(&mut it, "broadcast")?;
                    if b != "+" {
                        return Err(bad_arg(b, "only \"brd +\" is supported"));
                    }
                }
                "local" => addr = Some(parse_prefix(need(&mut it, "local")?)?),
                other if addr.is_none() && !flush => addr = Some(parse_prefix(other)?),
                other => return Err(garbage(other)),
            }
        }
        let dev = dev.ok_or_else(|| {
            Failure(
                "Not enough information: \"dev\" argument is required.".into(),
                255,
            )
        })?;
        if flush {
            return Ok(Some(Request::AddrFlush { dev }));
        }
        let addr = addr
            .ok_or_else(|| Failure("Not enough information: address is required.".into(), 255))?;
        return Ok(Some(if add {
            Request::AddrAdd { dev, addr }
        } else {
            Request::AddrDel { dev, addr }
        }));
    }
    if matches(object, "neighbour", 1) || matches(object, "neighbor", 1) {
        let add = matches(v, "add", 1) || matches(v, "replace", 3) || v == "change";
        let del = matches(v, "delete", 1);
        let flush = matches(v, "flush", 1);
        if !(add || del || flush) {
            return Ok(None);
        }
        let (mut dev, mut ip, mut mac, mut all) = (None, None, None, false);
        while let Some(w) = it.next() {
            match w.as_str() {
                "dev" => dev = Some(need(&mut it, "dev")?.to_string()),
                "lladdr" => mac = Some(parse_mac(need(&mut it, "lladdr")?)?),
                "nud" => {
                    let n = need(&mut it, "nud")?;
                    if n != "permanent" && n != "perm" {
                        return Err(bad_arg(n, "only \"nud permanent\" entries can be added"));
                    }
                }
                "all" if flush => all = true,
                other if ip.is_none() && !flush => {
                    ip = Some(
                        other
                            .parse::<Ipv4Addr>()
                            .map_err(|_| bad_arg(other, "invalid IPv4 address"))?,
                    )
                }
                other => return Err(garbage(other)),
            }
        }
        if flush {
            if dev.is_none() && !all {
                return Err(Failure("Flush requires arguments.".into(), 255));
            }
            return Ok(Some(Request::NeighFlush { dev }));
        }
        let dev = dev
            .ok_or_else(|| Failure("Device and destination are required arguments.".into(), 255))?;
        let ip = ip
            .ok_or_else(|| Failure("Device and destination are required arguments.".into(), 255))?;
        if add {
            let lladdr = mac.ok_or_else(|| {
                Failure(
                    "Error: \"lladdr\" is required to add a neighbour.".into(),
                    255,
                )
            })?;
            return Ok(Some(Request::NeighAdd { dev, ip, lladdr }));
        }
        return Ok(Some(Request::NeighDel { dev, ip }));
    }
    Ok(None)
}

fn flags(l: &LinkInfo) -> String {
    format!("<{}>", json::link_flags(l).join(","))
}

fn print_link_header(l: &LinkInfo, with_mode: bool) {
    let state = json::operstate(l);
    let mode = if with_mode { " mode DEFAULT" } else { "" };
    println!(
        "{}: {}: {} mtu {} qdisc {} state {state}{mode} group default qlen 1000",
        l.ifindex,
        l.name,
        flags(l),
        l.mtu,
        l.qdisc
    );
    let kind = if l.kind == LinkKind::Loopback {
        "loopback"
    } else {
        "ether"
    };
    let brd = if l.kind == LinkKind::Loopback {
        "00:00:00:00:00:00"
    } else {
        "ff:ff:ff:ff:ff:ff"
    };
    println!("    link/{kind} {} brd {brd}", l.mac);
}

fn print_stats(l: &LinkInfo) {
    let s = &l.stats;
    println!("    RX:  bytes packets errors dropped  missed   mcast");
    println!(
        "    {:>10} {:>7} {:>6} {:>7} {:>7} {:>7}",
        s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped, 0, 0
    );
    println!("    TX:  bytes packets errors dropped carrier collsns");
    println!(
        "    {:>10} {:>7} {:>6} {:>7} {:>7} {:>7}",
        s.tx_bytes,
        s.tx_packets,
        s.tx_errors,
        s.tx_dropped + l.qdisc_stats.drops,
        0,
        0
    );
}

fn links(client: &mut Client, opts: &Opts, dev: Option<&str>, addrs: bool) -> Result<u8, Failure> {
    let Response::Links { links } = call(client, Request::LinkShow)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    let links: Vec<LinkInfo> = links
        .into_iter()
        .filter(|l| dev.is_none_or(|d| d == l.name))
        .collect();
    if let Some(d) = dev {
        if links.is_empty() {
            return Err(Failure(format!("Device \"{d}\" does not exist."), 1));
        }
    }
    if opts.json {
        let v: Vec<_> = links
            .iter()
            .map(|l| json::link(l, addrs, opts.stats))
            .collect();
        json::print(&serde_json::Value::Array(v), opts.pretty)?;
        return Ok(0);
    }
    if opts.brief {
        print!("{}", brief(&links, addrs));
        return Ok(0);
    }
    for l in &links {
        print_link_header(l, !addrs);
        if addrs {
            for c in &l.addrs {
                let scope = if c.addr.is_loopback() {
                    "host"
                } else {
                    "global"
                };
                let brd = c
                    .broadcast()
                    .filter(|_| l.kind == LinkKind::Ether)
                    .map(|b| format!(" brd {b}"))
                    .unwrap_or_default();
                println!("    inet {c}{brd} scope {scope} {}", l.name);
                println!("       valid_lft forever preferred_lft forever");
            }
        }
        if opts.stats {
            print_stats(l);
        }
    }
    Ok(0)
}

/// `ip -br link|addr`: one line per interface, as iproute2's brief mode prints it (name, state,
/// then the link address and flags, or the addresses).
fn brief(links: &[LinkInfo], addrs: bool) -> String {
    let mut out = String::new();
    for l in links {
        out.push_str(&format!("{:<16} {:<14} ", l.name, json::operstate(l)));
        if addrs {
            for c in &l.addrs {
                out.push_str(&format!("{c} "));
            }
        } else {
            out.push_str(&format!("{} {} ", l.mac, flags(l)));
        }
        out.push('\n');
    }
    out
}

/// `ip route [show [table T]] | add | replace | del | get`.
fn route_cmd(
    words: &[String],
    opts: &Opts,
    connect: &impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let (verb, args) = match words.split_first() {
        Some((v, a)) => (v.as_str(), a),
        None => ("show", &[][..]),
    };
    let req = if ["show", "list", "lst", "sh", "ls", "l", "s"].contains(&verb) {
        let table = match args {
            [] => None,
            [t, name] if t == "table" => Some(if name == "all" {
                0
            } else {
                route::table(name)?
            }),
            [bad, ..] => {
                return Err(Failure(
                    format!("Error: argument \"{bad}\" is wrong: only \"table T\" selects routes"),
                    255,
                ))
            }
        };
        return routes(&mut connect()?, opts, Request::RouteList { table });
    } else if matches(verb, "add", 1) || verb == "replace" || verb == "change" {
        let a = route::route_args(args)?;
        let (r, dev) = route_from_args(&a)?;
        Request::RouteAdd {
            route: r,
            dev,
            replace: verb != "add" && verb != "a" && verb != "ad",
        }
    } else if matches(verb, "delete", 1) {
        let a = route::route_args(args)?;
        let mut m = RouteMatch::new(a.dst.expect("route_args requires a destination"));
        let kind = a.kind.as_deref().map(route_type).transpose()?;
        m.table = a.table.or(match kind {
            Some(RouteType::Local | RouteType::Broadcast) => Some(255),
            _ => None,
        });
        m.gateway = a.via;
        m.metric = a.metric;
        m.prefsrc = a.src;
        m.kind = kind;
        m.scope = a.scope.as_deref().map(scope).transpose()?;
        m.protocol = a.proto.as_deref().map(proto).transpose()?;
        Request::RouteDel {
            route: m,
            dev: a.dev,
        }
    } else if matches(verb, "get", 1) {
        let g = route::get_args(args)?;
        let req = Request::RouteGet {
            dst: g.dst,
            from: g.from,
            iif: g.iif,
            mark: g.mark.unwrap_or(0),
        };
        let Response::RouteGot { reply } = call(&mut connect()?, req)? else {
            return Err(Failure("unexpected response from linnetd".into(), 1));
        };
        if opts.json {
            json::print(&json::route_get(&reply), opts.pretty)?;
            return Ok(0);
        }
        let mut line = match reply.kind.as_str() {
            "unicast" => String::new(),
            k => format!("{k} "),
        };
        line.push_str(&reply.dst.to_string());
        if let Some(f) = reply.from {
            line.push_str(&format!(" from {f}"));
        }
        if let Some(gw) = reply.gateway {
            line.push_str(&format!(" via {gw}"));
        }
        line.push_str(&format!(" dev {}", reply.dev));
        if reply.table != RT_TABLE_MAIN {
            line.push_str(&format!(" table {}", table_name(reply.table)));
        }
        if let Some(src) = reply.src {
            line.push_str(&format!(" src {src}"));
        }
        println!("{line}");
        match reply.iif {
            Some(i) => println!("    cache iif {i}"),
            None => println!("    cache"),
        }
        return Ok(0);
    } else {
        return Err(Failure(
            format!("Command \"{verb}\" is unknown, try \"ip route help\"."),
            255,
        ));
    };
    call(&mut connect()?, req)?;
    Ok(0)
}

fn route_type(k: &str) -> Result<RouteType, Failure> {
    Ok(match k {
        "unicast" => RouteType::Unicast,
        "local" => RouteType::Local,
        "broadcast" => RouteType::Broadcast,
        "blackhole" => RouteType::Blackhole,
        "unreachable" => RouteType::Unreachable,
        "prohibit" => RouteType::Prohibit,
        other => {
            return Err(Failure(
                format!("Error: \"{other}\" is not a route type."),
                255,
            ))
        }
    })
}

fn scope(s: &str) -> Result<RouteScope, Failure> {
    Ok(match s {
        "global" | "universe" => RouteScope::Universe,
        "link" => RouteScope::Link,
        "host" => RouteScope::Host,
        other => return Err(Failure(format!("Error: \"{other}\" is not a scope."), 255)),
    })
}

fn proto(p: &str) -> Result<RouteProto, Failure> {
    Ok(match p {
        "kernel" => RouteProto::Kernel,
        "boot" => RouteProto::Boot,
        "static" => RouteProto::Static,
        other => {
            return Err(Failure(
                format!("Error: \"{other}\" is not a protocol."),
                255,
            ))
        }
    })
}

/// The route `ip route add` means, with iproute2's defaults: proto boot, scope link for a
/// direct route and universe through a gateway, host for local, table local for local and
/// broadcast routes.
pub fn route_from_args(a: &route::RouteArgs) -> Result<(Route, Option<String>), Failure> {
    let kind = a
        .kind
        .as_deref()
        .map(route_type)
        .transpose()?
        .unwrap_or(RouteType::Unicast);
    if !kind.is_deviceless() && a.dev.is_none() && a.via.is_none() {
        return Err(Failure(
            "Error: either \"dev\" or \"via\" is required.".into(),
            255,
        ));
    }
    let default_scope = match kind {
        RouteType::Local => RouteScope::Host,
        RouteType::Broadcast => RouteScope::Link,
        _ if a.via.is_none() && !kind.is_deviceless() => RouteScope::Link,
        _ => RouteScope::Universe,
    };
    let route = Route {
        dst: a.dst.expect("route_args requires a destination"),
        gateway: a.via,
        ifindex: 0,
        metric: a.metric.unwrap_or(0),
        scope: a
            .scope
            .as_deref()
            .map(scope)
            .transpose()?
            .unwrap_or(default_scope),
        prefsrc: a.src,
        protocol: a
            .proto
            .as_deref()
            .map(proto)
            .transpose()?
            .unwrap_or(RouteProto::Boot),
        table: a.table.unwrap_or(match kind {
            RouteType::Local | RouteType::Broadcast => 255,
            _ => RT_TABLE_MAIN,
        }),
        kind,
        metrics: a.metrics,
    };
    Ok((route, a.dev.clone()))
}

/// `ip rule [show] | add | del`.
fn rule_cmd(
    words: &[String],
    opts: &Opts,
    connect: &impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let (verb, args) = match words.split_first() {
        Some((v, a)) => (v.as_str(), a),
        None => ("show", &[][..]),
    };
    if ["show", "list", "lst", "sh", "ls", "l", "s"].contains(&verb) {
        if let Some(bad) = args.first() {
            return Err(Failure(
                format!("Error: argument \"{bad}\" is wrong: rule show takes no selector"),
                255,
            ));
        }
        let Response::Rules { rules } = call(&mut connect()?, Request::RuleShow)? else {
            return Err(Failure("unexpected response from linnetd".into(), 1));
        };
        if opts.json {
            let v = rules
                .iter()
                .map(|(r, i)| json::rule(r, i.as_deref()))
                .collect();
            json::print(&serde_json::Value::Array(v), opts.pretty)?;
            return Ok(0);
        }
        for (r, iif) in &rules {
            println!("{}", rule_line(r, iif.as_deref()));
        }
        return Ok(0);
    }
    let add = matches(verb, "add", 1);
    if !add && !matches(verb, "delete", 1) {
        return Err(Failure(
            format!("Command \"{verb}\" is unknown, try \"ip rule help\"."),
            255,
        ));
    }
    let a = route::rule_args(args)?;
    let fwmark = a.fwmark.map(|value| FwMark {
        value,
        mask: u32::MAX,
    });
    let action = match (a.action.as_deref(), a.table) {
        (Some("blackhole"), _) => Some(RuleAction::Blackhole),
        (Some("unreachable"), _) => Some(RuleAction::Unreachable),
        (Some("prohibit"), _) => Some(RuleAction::Prohibit),
        (_, Some(t)) => Some(RuleAction::Lookup(t)),
        _ => None,
    };
    let req = if add {
        Request::RuleAdd {
            rule: FibRule {
                priority: a.priority.unwrap_or(0),
                from: a.from,
                to: a.to,
                iif: None,
                fwmark,
                action: action.unwrap_or(RuleAction::Lookup(RT_TABLE_MAIN)),
            },
            iif_dev: a.iif,
            auto_priority: a.priority.is_none(),
        }
    } else {
        Request::RuleDel {
            rule: RuleMatch {
                priority: a.priority,
                from: a.from,
                to: a.to,
                iif: None,
                fwmark,
                action,
            },
            iif_dev: a.iif,
        }
    };
    call(&mut connect()?, req)?;
    Ok(0)
}

/// One rule as `ip rule show` prints it.
pub fn rule_line(r: &FibRule, iif: Option<&str>) -> String {
    let mut line = format!("{}:\tfrom ", r.priority);
    match r.from {
        Some(c) => line.push_str(&c.to_string()),
        None => line.push_str("all"),
    }
    if let Some(c) = r.to {
        line.push_str(&format!(" to {c}"));
    }
    if let Some(i) = iif {
        line.push_str(&format!(" iif {i}"));
    }
    if let Some(m) = r.fwmark {
        line.push_str(&format!(" fwmark {:#x}", m.value));
        if m.mask != u32::MAX {
            line.push_str(&format!("/{:#x}", m.mask));
        }
    }
    match r.action {
        RuleAction::Lookup(t) => line.push_str(&format!(" lookup {}", table_name(t))),
        RuleAction::Blackhole => line.push_str(" blackhole"),
        RuleAction::Unreachable => line.push_str(" unreachable"),
        RuleAction::Prohibit => line.push_str(" prohibit"),
    }
    line
}

fn routes(client: &mut Client, opts: &Opts, req: Request) -> Result<u8, Failure> {
    let Response::Routes { routes } = call(client, req)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    if opts.json {
        let v = routes.iter().map(|(r, d)| json::route(r, d)).collect();
        json::print(&serde_json::Value::Array(v), opts.pretty)?;
        return Ok(0);
    }
    for (r, dev) in &routes {
        let mut line = match r.kind {
            RouteType::Unicast => String::new(),
            kind => format!("{} ", kind.name()),
        };
        if r.dst.prefix_len == 0 {
            line.push_str("default");
        } else if r.dst.prefix_len == 32 {
            line.push_str(&r.dst.addr.to_string());
        } else {
            line.push_str(&r.dst.to_string());
        }
        if let Some(gw) = r.gateway {
            line.push_str(&format!(" via {gw}"));
        }
        if !r.kind.is_deviceless() {
            line.push_str(&format!(" dev {dev}"));
        }
        if r.table != RT_TABLE_MAIN {
            line.push_str(&format!(" table {}", r.table));
        }
        match r.protocol {
            RouteProto::Kernel => line.push_str(" proto kernel"),
            RouteProto::Boot => line.push_str(" proto boot"),
            RouteProto::Static => line.push_str(" proto static"),
        }
        match r.scope {
            RouteScope::Link => line.push_str(" scope link"),
            RouteScope::Host => line.push_str(" scope host"),
            RouteScope::Universe => {}
        }
        if let Some(src) = r.prefsrc {
            line.push_str(&format!(" src {src}"));
        }
        if r.metric != 0 {
            line.push_str(&format!(" metric {}", r.metric));
        }
        line.push_str(&r.metrics.show());
        println!("{line}");
    }
    Ok(0)
}

fn neighbours(client: &mut Client, opts: &Opts) -> Result<u8, Failure> {
    let Response::Neighbours { neighbours } = call(client, Request::NeighShow)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    if opts.json {
        let v = neighbours.iter().map(|(n, d)| json::neigh(n, d)).collect();
        json::print(&serde_json::Value::Array(v), opts.pretty)?;
        return Ok(0);
    }
    for (n, dev) in &neighbours {
        match n.lladdr {
            Some(mac) => println!("{} dev {dev} lladdr {mac} {}", n.ip, n.state.name()),
            None => println!("{} dev {dev}  {}", n.ip, n.state.name()),
        }
    }
    Ok(0)
}

/// What `ip tcp_metrics` is asked: (flush, one address).
fn tcp_metrics_args(words: &[String]) -> Result<(bool, Option<Ipv4Addr>), Failure> {
    let (flush, rest) = match words.split_first() {
        None => (false, words),
        Some((w, rest)) if ["show", "list", "lst", "sh", "ls", "l", "s"].contains(&w.as_str()) => {
            (false, rest)
        }
        Some((w, rest)) if ["flush", "f", "delete", "del"].contains(&w.as_str()) => (true, rest),
        Some((w, _)) => {
            return Err(Failure(
                format!("Command \"{w}\" is unknown, try \"ip help\"."),
                255,
            ))
        }
    };
    let rest: Vec<&str> = rest
        .iter()
        .map(String::as_str)
        .filter(|w| !["address", "addr"].contains(w))
        .collect();
    match rest.as_slice() {
        [] | ["all"] => Ok((flush, None)),
        [a] => a
            .parse()
            .map(|a| (flush, Some(a)))
            .map_err(|_| bad_arg(a, "invalid address")),
        [_, bad, ..] => Err(garbage(bad)),
    }
}

/// `ip tcp_metrics show|flush|delete [all|ADDR]`: the TCP Fast Open cache, in iproute2's
/// format (`fo_mss`, `fo_syn_drops`, `fo_cookie`).
fn tcp_metrics(
    words: &[String],
    opts: &Opts,
    connect: &impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let (flush, addr) = tcp_metrics_args(words)?;
    let reply = call(&mut connect()?, Request::TcpMetrics { flush, addr })?;
    let Response::TcpMetrics { entries } = reply else {
        return Ok(0);
    };
    if opts.json {
        json::print(&serde_json::to_value(&entries)?, opts.pretty)?;
        return Ok(0);
    }
    let secs = |ms: u64| format!("{}.{:03}sec", ms / 1000, ms % 1000);
    for e in &entries {
        let mut line = format!("{} age {}", e.addr, secs(e.age_ms));
        if e.fo_mss > 0 {
            line.push_str(&format!(" fo_mss {}", e.fo_mss));
        }
        if e.fo_syn_drops > 0 {
            line.push_str(&format!(
                " fo_syn_drops {}/{} ago",
                e.fo_syn_drops,
                secs(e.fo_syn_drop_age_ms)
            ));
        }
        if !e.fo_cookie.is_empty() {
            line.push_str(&format!(" fo_cookie {}", e.fo_cookie));
        }
        println!("{line}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_metrics_words() {
        let a = Ipv4Addr::new(192, 0, 2, 2);
        assert_eq!(tcp_metrics_args(&w("")).unwrap(), (false, None));
        assert_eq!(tcp_metrics_args(&w("flush all")).unwrap(), (true, None));
        assert_eq!(
            tcp_metrics_args(&w("show 192.0.2.2")).unwrap(),
            (false, Some(a))
        );
        assert_eq!(
            tcp_metrics_args(&w("delete address 192.0.2.2")).unwrap(),
            (true, Some(a))
        );
        assert!(tcp_metrics_args(&w("flush bogus")).is_err());
        assert!(tcp_metrics_args(&w("frob")).is_err());
    }

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn parse(object: &str, rest: &str) -> Result<Option<Request>, Failure> {
        parse_change(object, &w(rest))
    }

    #[test]
    fn changes_parse_as_iproute2_reads_them() {
        assert_eq!(
            parse("link", "set dev eth0 up mtu 9000").ok().flatten(),
            Some(Request::LinkSet {
                dev: "eth0".into(),
                up: Some(true),
                mtu: Some(9000),
                address: None
            })
        );
        assert_eq!(
            parse("l", "set eth1 down").ok().flatten(),
            Some(Request::LinkSet {
                dev: "eth1".into(),
                up: Some(false),
                mtu: None,
                address: None
            })
        );
        assert_eq!(
            parse("a", "add 192.0.2.9/24 brd + dev eth0").ok().flatten(),
            Some(Request::AddrAdd {
                dev: "eth0".into(),
                addr: "192.0.2.9/24".parse().unwrap()
            })
        );
        assert_eq!(
            parse("addr", "del 192.0.2.9 dev eth0").ok().flatten(),
            Some(Request::AddrDel {
                dev: "eth0".into(),
                addr: "192.0.2.9/32".parse().unwrap()
            })
        );
        assert_eq!(
            parse(
                "neigh",
                "replace 192.0.2.1 lladdr 02:00:00:00:00:01 dev eth0 nud permanent"
            )
            .ok()
            .flatten(),
            Some(Request::NeighAdd {
                dev: "eth0".into(),
                ip: Ipv4Addr::new(192, 0, 2, 1),
                lladdr: EthernetAddress([2, 0, 0, 0, 0, 1])
            })
        );
        assert_eq!(
            parse("neigh", "flush all").ok().flatten(),
            Some(Request::NeighFlush { dev: None })
        );
        assert!(parse("addr", "show").ok().flatten().is_none());
    }

    #[test]
    fn malformed_changes_name_the_bad_word() {
        for (object, rest, bad) in [
            ("link", "set dev eth0 up sideways", "sideways"),
            ("link", "set dev eth0 mtu lots", "lots"),
            ("addr", "add 192.0.2.300/24 dev eth0", "192.0.2.300/24"),
            ("addr", "add 192.0.2.1/33 dev eth0", "192.0.2.1/33"),
            ("addr", "add 192.0.2.1/24 dev eth0 extra", "extra"),
            (
                "neigh",
                "add 192.0.2.1 lladdr 02:00:zz:00:00:01 dev eth0",
                "02:00:zz:00:00:01",
            ),
            (
                "neigh",
                "add 192.0.2.1 lladdr 02:00:00:00:00:01 dev eth0 nud stale",
                "stale",
            ),
        ] {
            match parse(object, rest) {
                Err(Failure(msg, code)) => {
                    assert!(msg.contains(bad), "{object} {rest}: {msg}");
                    assert_ne!(code, 0);
                }
                Ok(r) => panic!("{object} {rest} parsed as {r:?}"),
            }
        }
        assert!(
            parse("addr", "add 192.0.2.1/24").is_err(),
            "dev is required"
        );
        assert!(
            parse("neigh", "add 192.0.2.1 dev eth0").is_err(),
            "lladdr is required"
        );
    }
}
