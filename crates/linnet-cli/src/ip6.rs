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
        println!("{}", serde_json::to_string(&to_json(&r))?);
        return Ok(0);
    }
    print!("{}", render(&r));
    Ok(0)
}

/// iproute2's JSON for a dump (`ip -6 -j addr|route|neigh`), key for key.
fn to_json(r: &Ip6Response) -> serde_json::Value {
    use serde_json::{json, Value};
    match r {
        Ip6Response::Addrs { addrs } => {
            let mut out: Vec<Value> = Vec::new();
            for (a, dev) in addrs {
                let life = |v: u32| json!(v);
                let info = json!({
                    "family": "inet6",
                    "local": a.cidr.addr.to_string(),
                    "prefixlen": a.cidr.prefix_len,
                    "scope": a.scope,
                    "tentative": a.flags & 0x40 != 0,
                    "dadfailed": a.flags & 0x08 != 0,
                    "valid_life_time": life(a.valid_lft),
                    "preferred_life_time": life(a.preferred_lft),
                });
                match out.last_mut() {
                    Some(l) if l["ifindex"] == json!(a.ifindex) => {
                        if let Some(v) = l["addr_info"].as_array_mut() {
                            v.push(info);
                        }
                    }
                    _ => out.push(json!({
                        "ifindex": a.ifindex,
                        "ifname": dev,
                        "addr_info": [info],
                    })),
                }
            }
            Value::Array(out)
        }
        Ip6Response::Routes { routes } => Value::Array(
            routes
                .iter()
                .map(|(r, dev)| {
                    let mut m = serde_json::Map::new();
                    let dst = if r.dst.prefix_len == 0 {
                        "default".to_string()
                    } else {
                        r.dst.to_string()
                    };
                    m.insert("dst".into(), json!(dst));
                    if let Some(g) = r.gateway {
                        m.insert("gateway".into(), json!(g.to_string()));
                    }
                    m.insert("dev".into(), json!(dev));
                    m.insert("protocol".into(), json!(r.proto.name()));
                    m.insert("metric".into(), json!(r.metric));
                    if let Some(e) = r.expires_secs {
                        m.insert("expires".into(), json!(e));
                    }
                    m.insert("flags".into(), json!([]));
                    m.insert("pref".into(), json!("medium"));
                    Value::Object(m)
                })
                .collect(),
        ),
        Ip6Response::Neighbours { neighbours } => Value::Array(
            neighbours
                .iter()
                .map(|(n, dev)| crate::json::neigh(n, dev))
                .collect(),
        ),
        Ip6Response::PingOpened { .. } | Ip6Response::PingReplies { .. } => Value::Null,
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use linnet::ipv6::dev::Inet6AddrInfo;
    use linnet::ipv6::route::{Route6Info, Rt6Proto};

    fn addrs() -> Ip6Response {
        let a = |c: &str, scope: &str, flags: u32, valid: u32| {
            (
                Inet6AddrInfo {
                    ifindex: 2,
                    cidr: c.parse().unwrap(),
                    scope: scope.into(),
                    flags,
                    valid_lft: valid,
                    preferred_lft: valid,
                },
                "eth0".to_string(),
            )
        };
        Ip6Response::Addrs {
            addrs: vec![
                a("2001:db8::2/64", "global", 0x80 | 0x40, u32::MAX),
                a("2001:db8:ab::5/64", "global", 0, 3599),
                a("fe80::1/64", "link", 0x80, u32::MAX),
            ],
        }
    }

    #[test]
    fn addresses_print_as_iproute2_prints_them() {
        let t = render(&addrs());
        assert_eq!(
            t,
            "2: eth0\n    inet6 2001:db8::2/64 scope global tentative \n       valid_lft forever preferred_lft forever\n    inet6 2001:db8:ab::5/64 scope global dynamic \n       valid_lft 3599sec preferred_lft 3599sec\n    inet6 fe80::1/64 scope link \n       valid_lft forever preferred_lft forever\n"
        );
        let j = to_json(&addrs());
        assert_eq!(j[0]["ifname"], "eth0");
        assert_eq!(j[0]["addr_info"].as_array().unwrap().len(), 3);
        assert_eq!(j[0]["addr_info"][0]["local"], "2001:db8::2");
        assert_eq!(j[0]["addr_info"][0]["family"], "inet6");
        assert_eq!(j[0]["addr_info"][0]["tentative"], true);
        assert_eq!(j[0]["addr_info"][1]["valid_life_time"], 3599);
    }

    #[test]
    fn routes_print_as_iproute2_prints_them() {
        let r = Ip6Response::Routes {
            routes: vec![
                (
                    Route6Info {
                        dst: "2001:db8::/64".parse().unwrap(),
                        gateway: None,
                        ifindex: 2,
                        metric: 256,
                        proto: Rt6Proto::Kernel,
                        expires_secs: None,
                    },
                    "eth0".into(),
                ),
                (
                    Route6Info {
                        dst: "::/0".parse().unwrap(),
                        gateway: Some("fe80::1".parse().unwrap()),
                        ifindex: 2,
                        metric: 1024,
                        proto: Rt6Proto::Ra,
                        expires_secs: Some(1799),
                    },
                    "eth0".into(),
                ),
            ],
        };
        assert_eq!(
            render(&r),
            "2001:db8::/64 dev eth0 proto kernel metric 256 pref medium\ndefault via fe80::1 dev eth0 proto ra metric 1024 expires 1799sec pref medium\n"
        );
        let j = to_json(&r);
        assert_eq!(j[1]["dst"], "default");
        assert_eq!(j[1]["gateway"], "fe80::1");
        assert_eq!(j[1]["protocol"], "ra");
    }

    #[test]
    fn bad_words_are_refused_with_the_word_named() {
        let never = || -> Result<Client, Failure> { Err(Failure("no daemon".into(), 1)) };
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let e = run(
            "route",
            &w(&["add", "2001:db8::/64", "metric", "x"]),
            false,
            never,
        );
        assert!(matches!(e, Err(Failure(m, 1)) if m.contains("\"x\"")));
        let e = run(
            "address",
            &w(&["add", "2001:db8::1/64", "dev"]),
            false,
            never,
        );
        assert!(matches!(e, Err(Failure(m, 1)) if m.contains("after \"dev\"")));
    }
}
