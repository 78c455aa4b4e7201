//! The classifiers' words: `u32 match ip ...` and `fw`, with a filter's priority and target
//! class, into the typed [`FilterOpt`] the stack takes, and a filter back as `tc filter show`
//! prints it.
//!
//! Linux/iproute2: tc/f_u32.c (`u32_parse_opt`, `u32_print_opt`), f_fw.c (`fw_parse_opt`,
//! `fw_print_opt`), tc_filter.c (`tc_filter_modify`).

use super::tc_err;
use super::units::{fmt_handle, parse_handle, parse_u32, Args, TcError};
use linnet::qdisc::cls::{Filter, FilterKind, U32Key};
use linnet::qdisc::opt::FilterOpt;

/// Parse the words after `tc filter add dev D parent X:`: `[protocol ip] [prio|pref N]
/// u32 match ip ... flowid X:Y` or `[handle MARK[/MASK]] fw classid X:Y`.
/// Linux/iproute2: `tc_filter_modify`, `u32_parse_opt`, `fw_parse_opt`.
pub fn parse_filter(args: &[String]) -> Result<FilterOpt, TcError> {
    let mut a = Args::new(args);
    let mut prio = None;
    let mut handle: Option<(u32, u32)> = None;
    let mut kind: Option<&str> = None;
    let mut keys = Vec::new();
    let mut classid = None;
    while let Some(w) = a.next() {
        match w {
            "protocol" => {
                let p = a.value(w)?;
                if p != "ip" && p != "all" {
                    return Err(tc_err!("unsupported protocol \"{p}\" (only ip)"));
                }
            }
            "prio" | "pref" | "priority" => prio = Some(parse_u32(a.value(w)?, "prio")?),
            "handle" => {
                let v = a.value(w)?;
                let (h, m) = match v.split_once('/') {
                    Some((h, m)) => (parse_u32(h, "handle")?, parse_u32(m, "mask")?),
                    None => (parse_u32(v, "handle")?, u32::MAX),
                };
                handle = Some((h, m));
            }
            "u32" | "fw" if kind.is_none() => kind = Some(w),
            "match" if kind == Some("u32") => keys.push(parse_u32_match(&mut a)?),
            "flowid" | "classid" => classid = Some(parse_handle(a.value(w)?)?),
            _ => return Err(tc_err!("filter: unknown word \"{w}\"")),
        }
    }
    let classid = classid.ok_or_else(|| tc_err!("filter: missing \"flowid\" / \"classid\""))?;
    let kind = match kind {
        Some("u32") => FilterKind::U32(keys),
        Some(_) => {
            let (handle, mask) =
                handle.ok_or_else(|| tc_err!("fw filter: missing \"handle MARK\""))?;
            FilterKind::Fw { handle, mask }
        }
        None => return Err(tc_err!("filter: missing the classifier (u32 or fw)")),
    };
    Ok(FilterOpt {
        prio,
        kind,
        classid,
    })
}

/// Parse `ip src|dst ADDR[/LEN] | sport|dport PORT MASK | protocol N MASK | tos N MASK`.
fn parse_u32_match(a: &mut Args) -> Result<U32Key, TcError> {
    let l3 = a.value("match")?;
    if l3 != "ip" {
        return Err(tc_err!("u32: unsupported match \"{l3}\" (only ip)"));
    }
    let field = a.value("match ip")?;
    let mask_of = |a: &mut Args, max: u32| -> Result<u32, TcError> {
        let v = a.value(field)?;
        let m = parse_u32(v, "mask")?;
        if m > max {
            return Err(tc_err!("u32: mask \"{v}\" too wide for {field}"));
        }
        Ok(m)
    };
    Ok(match field {
        "src" | "dst" => {
            let v = a.value(field)?;
            let (ip, len) = match v.split_once('/') {
                Some((ip, len)) => (ip, len.parse::<u32>().ok().filter(|l| *l <= 32)),
                None => (v, Some(32)),
            };
            let len = len.ok_or_else(|| tc_err!("u32: invalid prefix \"{v}\""))?;
            let ip: std::net::Ipv4Addr = ip
                .parse()
                .map_err(|_| tc_err!("u32: invalid address \"{v}\""))?;
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            let addr = u32::from(ip);
            if field == "src" {
                U32Key::Src { addr, mask }
            } else {
                U32Key::Dst { addr, mask }
            }
        }
        "sport" | "dport" => {
            let v = a.value(field)?;
            let port: u16 = v
                .parse()
                .map_err(|_| tc_err!("u32: invalid port \"{v}\""))?;
            let mask = mask_of(a, 0xffff)? as u16;
            if field == "sport" {
                U32Key::Sport { port, mask }
            } else {
                U32Key::Dport { port, mask }
            }
        }
        "protocol" => {
            let v = a.value(field)?;
            let proto = parse_u32(v, "protocol")?;
            if proto > 255 {
                return Err(tc_err!("u32: invalid protocol \"{v}\""));
            }
            U32Key::Protocol {
                proto: proto as u8,
                mask: mask_of(a, 0xff)? as u8,
            }
        }
        "tos" | "dsfield" => {
            let v = a.value(field)?;
            let tos = parse_u32(v, "tos")?;
            if tos > 255 {
                return Err(tc_err!("u32: invalid tos \"{v}\""));
            }
            U32Key::Tos {
                tos: tos as u8,
                mask: mask_of(a, 0xff)? as u8,
            }
        }
        _ => return Err(tc_err!("u32: unknown field \"{field}\"")),
    })
}

/// The filter as `tc filter show` prints it (after `filter parent X: `).
pub fn print_filter(f: &Filter) -> String {
    let what = match &f.kind {
        FilterKind::U32(keys) => {
            let mut s = String::from("u32");
            for k in keys {
                s.push(' ');
                s.push_str(&print_u32_key(k));
            }
            s
        }
        FilterKind::Fw { handle, mask } if *mask == u32::MAX => {
            format!("fw handle 0x{handle:x}")
        }
        FilterKind::Fw { handle, mask } => format!("fw handle 0x{handle:x}/0x{mask:x}"),
    };
    format!(
        "protocol ip pref {} {what} classid {}",
        f.prio,
        fmt_handle(f.classid)
    )
}

/// One `u32` selector as tc prints it. Linux/iproute2: `print_raw`/`print_ipv4` of f_u32.c.
fn print_u32_key(k: &U32Key) -> String {
    let cidr = |a: u32, m: u32| format!("{}/{}", std::net::Ipv4Addr::from(a & m), m.count_ones());
    match *k {
        U32Key::Src { addr, mask } => format!("match ip src {}", cidr(addr, mask)),
        U32Key::Dst { addr, mask } => format!("match ip dst {}", cidr(addr, mask)),
        U32Key::Sport { port, mask } => format!("match ip sport {port} 0x{mask:x}"),
        U32Key::Dport { port, mask } => format!("match ip dport {port} 0x{mask:x}"),
        U32Key::Protocol { proto, mask } => format!("match ip protocol {proto} 0x{mask:x}"),
        U32Key::Tos { tos, mask } => format!("match ip tos 0x{tos:x} 0x{mask:x}"),
    }
}
