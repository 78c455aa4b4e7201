//! `linnet ip -6 addr|route|neigh`: iproute2's IPv6 words and output.

use crate::{call, Failure};
use linnet::control::ip6::{Ip6Request, Ip6Response};
use linnet::wire::{Ipv6Addr, Ipv6Cidr};
use linnet::Client;
use linnet::{Request, Response};

fn bad(word: &str, what: &str) -> Failure {
    Failure(format!("Error: {what} \"{word}\" is invalid."), 1)
}

fn prefix(word: &str) -> Result<Ipv6Cidr, Failure> {
    if word == "default" {
        return Ok(Ipv6Cidr::new(Ipv6Addr::UNSPECIFIED, 0).expect("::/0"));
    }
    let w = if word.contains('/') {
        word.to_string()
    } else {
        format!("{word}/128")
    };
    w.parse().map_err(|_| bad(word, "inet6 prefix"))
}

fn ip6(client: &mut Client, req: Ip6Request) -> Result<Ip6Response, Failure> {
    match call(client, Request::Ip6(req))? {
        Response::Ip6(r) => Ok(r),
        Response::Ok => Err(Failure(String::new(), 0)),
        _ => Err(Failure("unexpected response from linnetd".into(), 1)),
    }
}

/// Run `ip -6 OBJECT WORDS...`.
pub fn run(
    object: &str,
    words: &[String],
    json: bool,
    connect: impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let verb = words.first().map(String::as_str).unwrap_or("show");
    let mut it = words.iter().skip(1);
    let mut dev = None;
    let mut via = None;
    let mut metric = None;
    let mut lladdr = None;
    let mut nodad = false;
    let mut target = None;
    while let Some(w) = it.next() {
        let mut next = |what: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| Failure(format!("Error: argument missing after \"{what}\"."), 1))
        };
        match w.as_str() {
            "dev" => dev = Some(next("dev")?),
            "via" => via = Some(next("via")?.parse().map_err(|_| bad(w, "inet6 address"))?),
            "metric" | "preference" => {
                let m = next("metric")?;
                metric = Some(m.parse::<u32>().map_err(|_| bad(&m, "metric"))?);
            }
            "lladdr" => {
                let m = next("lladdr")?;
                lladdr = Some(m.parse().map_err(|_| bad(&m, "lladdr"))?);
            }
            "nodad" => nodad = true,
            "to" => target = Some(next("to")?),
            other if target.is_none() => target = Some(other.to_string()),
            other => {
                return Err(Failure(
                    format!("Error: either \"to\" is duplicate, or \"{other}\" is a garbage."),
                    1,
                ))
            }
        }
    }
    let is = |full: &str, min: usize| object.len() >= min && full.starts_with(object);
    let mut client = connect()?;
    let show = matches!(verb, "show" | "list" | "ls" | "lst");
    let result = if is("address", 1) {
        match verb {
            v if show || v == "show" => ip6(&mut client, Ip6Request::AddrShow),
            "add" | "del" | "delete" => {
                let t = target.ok_or_else(|| Failure("Error: address is required.".into(), 1))?;
                let dev = dev.ok_or_else(|| Failure("Error: device is required.".into(), 1))?;
                let addr = prefix(&t)?;
                let req = if verb == "add" {
                    Ip6Request::AddrAdd { dev, addr, nodad }
                } else {
                    Ip6Request::AddrDel {
                        dev,
                        addr: addr.addr,
                    }
                };
                ip6(&mut client, req)
            }
            v => return Err(bad(v, "command")),
        }
    } else if is("route", 1) {
        match verb {
            _ if show => ip6(&mut client, Ip6Request::RouteShow),
            "add" | "replace" | "del" | "delete" => {
                let t = target.ok_or_else(|| Failure("Error: prefix is required.".into(), 1))?;
                let req = Ip6Request::RouteChange {
                    dst: prefix(&t)?,
                    via,
                    dev,
                    metric,
                    del: verb.starts_with("del"),
                    replace: verb == "replace",
                };
                ip6(&mut client, req)
            }
            v => return Err(bad(v, "command")),
        }
    } else if is("neighbour", 1) || is("neighbor", 1) {
        match verb {
            _ if show => ip6(&mut client, Ip6Request::NeighShow),
            "add" | "replace" => {
                let t = target.ok_or_else(|| Failure("Error: address is required.".into(), 1))?;
                let req = Ip6Request::NeighAdd {
                    dev: dev.ok_or_else(|| Failure("Error: device is required.".into(), 1))?,
                    ip: t.parse().map_err(|_| bad(&t, "inet6 address"))?,
                    lladdr: lladdr
                        .ok_or_else(|| Failure("Error: lladdr is required.".into(), 1))?,
                };
                ip6(&mut client, req)
            }
            v => return Err(bad(v, "command")),
        }
    } else {
        return Err(Failure(
            format!("Object \"{object}\" is unknown, try \"ip help\"."),
            255,
        ));
    };
    let r = match result {
        Ok(r) => r,
        Err(Failure(m, 0)) if m.is_empty() => return Ok(0),
        Err(e) => return Err(e),
    };
    if json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(0);
    }
    print!("{}", render(&r));
    Ok(0)
}

/// iproute2's text for a dump.
fn render(r: &Ip6Response) -> String {
    let mut out = String::new();
    match r {
        Ip6Response::Addrs { addrs } => {
            let mut last = None;
            for (a, dev) in addrs {
                if last != Some(a.ifindex) {
                    out += &format!("{}: {dev}\n", a.ifindex);
                    last = Some(a.ifindex);
                }
                let mut flags = String::new();
                for (bit, word) in [
                    (0x02, " nodad"),
                    (0x08, " dadfailed"),
                    (0x20, " deprecated"),
                    (0x40, " tentative"),
                ] {
                    if a.flags & bit != 0 {
                        flags += word;
                    }
                }
                if a.valid_lft != u32::MAX && a.flags & 0x80 == 0 {
                    flags += " dynamic";
                }
                out += &format!("    inet6 {} scope {}{flags} \n", a.cidr, a.scope);
                let lft = |v: u32| {
                    if v == u32::MAX {
                        "forever".to_string()
                    } else {
                        format!("{v}sec")
                    }
                };
                out += &format!(
                    "       valid_lft {} preferred_lft {}\n",
                    lft(a.valid_lft),
                    lft(a.preferred_lft)
                );
            }
        }
        Ip6Response::Routes { routes } => {
            for (r, dev) in routes {
                let dst = if r.dst.prefix_len == 0 {
                    "default".to_string()
                } else {
                    r.dst.to_string()
                };
                let via = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
                let exp = r
                    .expires_secs
                    .map(|s| format!(" expires {s}sec"))
                    .unwrap_or_default();
                out += &format!(
                    "{dst}{via} dev {dev} proto {} metric {}{exp} pref medium\n",
                    r.proto.name(),
                    r.metric
                );
            }
        }
        Ip6Response::Neighbours { neighbours } => {
            for (n, dev) in neighbours {
                match n.lladdr {
                    Some(mac) => {
                        out += &format!("{} dev {dev} lladdr {mac} {}\n", n.ip, n.state.name())
                    }
                    None => out += &format!("{} dev {dev} {}\n", n.ip, n.state.name()),
                }
            }
        }
        Ip6Response::PingOpened { .. } | Ip6Response::PingReplies { .. } => {}
    }
    out
}
