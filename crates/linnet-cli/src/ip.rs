//! `linnet ip ...`: the iproute2 subset for links, addresses, routes and neighbours.

use crate::{call, Failure};
use linnet::control::client::Client;
use linnet::control::{Request, Response};
use linnet::ip::route::{RouteProto, RouteScope, RouteType, RT_TABLE_MAIN};
use linnet::stack::{LinkInfo, LinkKind};

#[derive(Default)]
struct Opts {
    stats: bool,
    json: bool,
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
            "Usage: ip [ OPTIONS ] OBJECT { COMMAND | help }\nwhere  OBJECT := { link | address | route | neigh }".into(),
            255,
        ));
    };
    let rest = &words[i + 1..];
    let o = object.as_str();
    if matches(o, "link", 1) {
        let dev = is_show(rest)?;
        links(&mut connect()?, &opts, dev, false)
    } else if matches(o, "address", 1) {
        let dev = is_show(rest)?;
        links(&mut connect()?, &opts, dev, true)
    } else if matches(o, "route", 1) {
        is_show(rest)?;
        routes(&mut connect()?, &opts)
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

fn flags(l: &LinkInfo) -> String {
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
    format!("<{}>", f.join(","))
}

fn print_link_header(l: &LinkInfo, with_mode: bool) {
    let state = match (l.up, l.kind) {
        (false, _) => "DOWN",
        (true, LinkKind::Loopback) => "UNKNOWN",
        (true, LinkKind::Ether) => "UP",
    };
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
        println!("{}", serde_json::to_string_pretty(&links)?);
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

fn routes(client: &mut Client, opts: &Opts) -> Result<u8, Failure> {
    let Response::Routes { routes } = call(client, Request::RouteShow)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&routes)?);
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
        println!("{line}");
    }
    Ok(0)
}

fn neighbours(client: &mut Client, opts: &Opts) -> Result<u8, Failure> {
    let Response::Neighbours { neighbours } = call(client, Request::NeighShow)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    if opts.json {
        println!("{}", serde_json::to_string_pretty(&neighbours)?);
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
