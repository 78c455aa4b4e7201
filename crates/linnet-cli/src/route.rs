//! Parsing `ip route` and `ip rule` arguments the way iproute2 reads them.

use crate::Failure;
use linnet::{Ipv4Addr, Ipv4Cidr};

/// A route as typed: `[TYPE] PREFIX [via A] [dev D] [metric N] [src A] [scope S]
/// [proto P] [table T] [mtu [lock] N] [advmss N] [initcwnd N]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RouteArgs {
    /// unicast (default), local, broadcast, blackhole, unreachable, prohibit.
    pub kind: Option<String>,
    /// Destination (`default` is 0.0.0.0/0).
    pub dst: Option<Ipv4Cidr>,
    /// Gateway.
    pub via: Option<Ipv4Addr>,
    /// Output device.
    pub dev: Option<String>,
    /// Metric (`metric`, `preference`, `priority`).
    pub metric: Option<u32>,
    /// Preferred source.
    pub src: Option<Ipv4Addr>,
    /// Scope name or number.
    pub scope: Option<String>,
    /// Protocol name or number.
    pub proto: Option<String>,
    /// Table id.
    pub table: Option<u32>,
    /// Route metrics (`mtu`, `advmss`, `initcwnd`...).
    pub metrics: linnet::ip::metrics::RouteMetrics,
}

/// `ip route get ADDR [from A] [iif D] [oif D] [mark N]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetArgs {
    /// Destination.
    pub dst: Ipv4Addr,
    /// Source.
    pub from: Option<Ipv4Addr>,
    /// Input interface (as if received there).
    pub iif: Option<String>,
    /// Firewall mark.
    pub mark: Option<u32>,
}

/// `ip rule add|del [priority N] [from P] [to P] [iif D] [fwmark N] ACTION`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleArgs {
    /// Priority (`priority`, `pref`, `order`).
    pub priority: Option<u32>,
    /// Source prefix (`all` is none).
    pub from: Option<Ipv4Cidr>,
    /// Destination prefix.
    pub to: Option<Ipv4Cidr>,
    /// Input interface.
    pub iif: Option<String>,
    /// Firewall mark.
    pub fwmark: Option<u32>,
    /// Table to look up (`lookup`/`table`).
    pub table: Option<u32>,
    /// Or a terminal action: blackhole, unreachable, prohibit.
    pub action: Option<String>,
}

fn bad(value: &str, why: &str) -> Failure {
    Failure(format!("Error: argument \"{value}\" is wrong: {why}"), 255)
}

fn next<'a>(it: &mut std::slice::Iter<'a, String>, what: &str) -> Result<&'a str, Failure> {
    it.next()
        .map(String::as_str)
        .ok_or_else(|| Failure(format!("Error: argument \"{what}\" needs a value."), 255))
}

/// A prefix, `default`/`all` (0.0.0.0/0), or an address (a /32).
pub fn prefix(word: &str) -> Result<Ipv4Cidr, Failure> {
    if word == "default" || word == "all" || word == "any" {
        return Ok(Ipv4Cidr::new(Ipv4Addr::UNSPECIFIED, 0).expect("/0"));
    }
    let (a, len) = word.split_once('/').unwrap_or((word, "32"));
    let addr: Ipv4Addr = a.parse().map_err(|_| bad(word, "invalid prefix"))?;
    let len: u8 = len
        .parse()
        .map_err(|_| bad(word, "invalid prefix length"))?;
    let c = Ipv4Cidr::new(addr, len).ok_or_else(|| bad(word, "invalid prefix length"))?;
    if c.network().addr != addr {
        return Err(Failure(
            format!("Error: Invalid prefix for given prefix length: \"{word}\"."),
            255,
        ));
    }
    Ok(c)
}

fn addr(word: &str) -> Result<Ipv4Addr, Failure> {
    word.parse().map_err(|_| bad(word, "invalid IPv4 address"))
}

fn number(word: &str, what: &str) -> Result<u32, Failure> {
    let parsed = match word.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => word.parse().ok(),
    };
    parsed.ok_or_else(|| bad(word, &format!("invalid {what}")))
}

/// A table name from /etc/iproute2/rt_tables's defaults, or a number.
pub fn table(word: &str) -> Result<u32, Failure> {
    match word {
        "local" => Ok(255),
        "main" => Ok(254),
        "default" => Ok(253),
        w => match number(w, "table id")? {
            0 => Err(bad(w, "table 0 is reserved")),
            n => Ok(n),
        },
    }
}

const ROUTE_TYPES: [&str; 6] = [
    "unicast",
    "local",
    "broadcast",
    "blackhole",
    "unreachable",
    "prohibit",
];

/// Parse the words after `ip route add|del|replace`.
pub fn route_args(words: &[String]) -> Result<RouteArgs, Failure> {
    let mut r = RouteArgs::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "via" => {
                let v = next(&mut it, "via")?;
                let v = if v == "inet" {
                    next(&mut it, "via")?
                } else {
                    v
                };
                r.via = Some(addr(v)?);
            }
            "dev" | "oif" => r.dev = Some(next(&mut it, "dev")?.to_string()),
            "metric" | "preference" | "priority" => {
                r.metric = Some(number(next(&mut it, "metric")?, "metric")?)
            }
            "src" => r.src = Some(addr(next(&mut it, "src")?)?),
            "scope" => {
                let s = next(&mut it, "scope")?;
                if !["global", "universe", "link", "host"].contains(&s) {
                    return Err(bad(s, "invalid scope (global, link or host)"));
                }
                r.scope = Some(s.to_string());
            }
            "proto" | "protocol" => {
                let p = next(&mut it, "proto")?;
                if !["kernel", "boot", "static"].contains(&p) {
                    return Err(bad(p, "invalid protocol (kernel, boot or static)"));
                }
                r.proto = Some(p.to_string());
            }
            "table" => r.table = Some(table(next(&mut it, "table")?)?),
            "to" => r.dst = Some(prefix(next(&mut it, "to")?)?),
            m if linnet::ip::metrics::Rtax::from_name(m).is_some() => {
                let mut rest = it.by_ref().map(String::as_str);
                r.metrics
                    .parse_word(m, &mut rest)
                    .map_err(|e| Failure(e, 255))?;
            }
            t if ROUTE_TYPES.contains(&t) && r.kind.is_none() && r.dst.is_none() => {
                r.kind = Some(t.to_string())
            }
            other if r.dst.is_none() => r.dst = Some(prefix(other)?),
            other => {
                return Err(Failure(
                    format!("Error: either \"to\" is duplicate, or \"{other}\" is a garbage."),
                    255,
                ))
            }
        }
    }
    if r.dst.is_none() {
        return Err(Failure(
            "Error: destination prefix is required.".into(),
            255,
        ));
    }
    Ok(r)
}

/// Parse the words after `ip route get`.
pub fn get_args(words: &[String]) -> Result<GetArgs, Failure> {
    let mut dst = None;
    let (mut from, mut iif, mut mark) = (None, None, None);
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "from" => from = Some(addr(next(&mut it, "from")?)?),
            "iif" => iif = Some(next(&mut it, "iif")?.to_string()),
            "mark" => mark = Some(number(next(&mut it, "mark")?, "mark")?),
            "to" => dst = Some(addr(next(&mut it, "to")?)?),
            other if dst.is_none() => dst = Some(addr(other)?),
            other => {
                return Err(Failure(
                    format!("Error: either \"to\" is duplicate, or \"{other}\" is a garbage."),
                    255,
                ))
            }
        }
    }
    let dst =
        dst.ok_or_else(|| Failure("Error: need at least a destination address.".into(), 255))?;
    Ok(GetArgs {
        dst,
        from,
        iif,
        mark,
    })
}

/// Parse the words after `ip rule add|del`.
pub fn rule_args(words: &[String]) -> Result<RuleArgs, Failure> {
    let mut r = RuleArgs::default();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "from" => {
                let p = prefix(next(&mut it, "from")?)?;
                r.from = (p.prefix_len > 0).then_some(p);
            }
            "to" => {
                let p = prefix(next(&mut it, "to")?)?;
                r.to = (p.prefix_len > 0).then_some(p);
            }
            "iif" | "dev" => r.iif = Some(next(&mut it, "iif")?.to_string()),
            "fwmark" => r.fwmark = Some(number(next(&mut it, "fwmark")?, "fwmark")?),
            "priority" | "pref" | "preference" | "order" => {
                r.priority = Some(number(next(&mut it, "priority")?, "priority")?)
            }
            "lookup" | "table" => r.table = Some(table(next(&mut it, "table")?)?),
            a @ ("blackhole" | "unreachable" | "prohibit") => r.action = Some(a.to_string()),
            other => {
                return Err(Failure(
                    format!(
                        "Error: argument \"{other}\" is wrong: unknown rule selector or action"
                    ),
                    255,
                ))
            }
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn routes_parse() {
        let r = route_args(&w("default via 192.0.2.1 dev eth0 metric 100")).unwrap();
        assert_eq!(r.dst, Some("0.0.0.0/0".parse().unwrap()));
        assert_eq!(r.via, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(r.dev.as_deref(), Some("eth0"));
        assert_eq!(r.metric, Some(100));
        let r = route_args(&w("blackhole 203.0.113.0/24 table 100")).unwrap();
        assert_eq!(r.kind.as_deref(), Some("blackhole"));
        assert_eq!(r.table, Some(100));
        let r = route_args(&w(
            "198.51.100.7 dev eth1 src 192.0.2.2 scope link proto static",
        ))
        .unwrap();
        assert_eq!(r.dst, Some("198.51.100.7/32".parse().unwrap()));
        assert_eq!(r.table, None);
        let g = get_args(&w("198.51.100.7 from 192.0.2.2 iif eth0")).unwrap();
        assert_eq!(g.dst, Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(g.iif.as_deref(), Some("eth0"));
        let r = rule_args(&w("from 192.0.2.0/24 lookup 100 priority 1000")).unwrap();
        assert_eq!(r.from, Some("192.0.2.0/24".parse().unwrap()));
        assert_eq!((r.table, r.priority), (Some(100), Some(1000)));
        assert_eq!(rule_args(&w("from all table main")).unwrap().from, None);
        let r = route_args(&w(
            "192.0.2.1 via 192.168.0.2 dev tun0 advmss 600 mtu lock 640 initcwnd 11",
        ))
        .unwrap();
        assert_eq!(r.dev.as_deref(), Some("tun0"));
        assert_eq!(
            (r.metrics.advmss, r.metrics.mtu, r.metrics.initcwnd),
            (600, 640, 11)
        );
        assert!(r.metrics.mtu_locked());
    }

    #[test]
    fn bad_route_words_are_named() {
        for (line, word) in [
            ("10.0.0.0/33 dev eth0", "10.0.0.0/33"),
            ("198.51.100.1/24 dev eth0", "198.51.100.1/24"),
            ("default via 192.0.2.x", "192.0.2.x"),
            ("default dev eth0 metric -1", "-1"),
            ("default dev eth0 frobnicate", "frobnicate"),
            ("default dev eth0 scope moon", "moon"),
            ("default table 0", "0"),
            ("default dev eth0 mtu lock", "mtu lock"),
            ("default dev eth0 advmss big", "big"),
        ] {
            let e = route_args(&w(line))
                .err()
                .unwrap_or_else(|| panic!("{line} parsed"));
            assert!(e.0.contains(word), "{line}: {}", e.0);
        }
        assert!(route_args(&w("dev eth0")).is_err());
        assert!(get_args(&w("")).is_err());
        let e = rule_args(&w("from 192.0.2.0/24 goto 5")).err().unwrap();
        assert!(e.0.contains("goto"), "{}", e.0);
    }
}
