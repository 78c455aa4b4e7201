//! htb's words, the qdisc's ([`HtbGlob`]) and a class's ([`HtbClassOpt`]), and back.
//!
//! Linux/iproute2: tc/q_htb.c (`htb_parse_opt`, `htb_parse_class_opt`, `htb_print_opt`,
//! `htb_print_xstats`).

use super::tc_err;
use super::units::{fmt_rate, fmt_size, parse_rate, parse_size, parse_u32, Args, TcError};
use linnet::qdisc::opt::{ClassOpt, HtbClassOpt, HtbGlob, QdiscOpt};

/// `[default MINOR] [r2q N] [direct_qlen N]`. Linux/iproute2: `htb_parse_opt`.
pub fn parse_opt(args: &[String]) -> Result<QdiscOpt, TcError> {
    let mut a = Args::new(args);
    let mut o = HtbGlob::default();
    while let Some(w) = a.next() {
        match w {
            "default" => {
                let v = a.value(w)?;
                o.default = Some(
                    u32::from_str_radix(v.trim_start_matches("0x"), 16)
                        .map_err(|_| tc_err!("htb: invalid default class \"{v}\""))?,
                );
            }
            "r2q" => {
                let v = a.value(w)?;
                let r2q = parse_u32(v, "r2q")?;
                if r2q == 0 {
                    return Err(tc_err!("htb: invalid r2q \"{v}\""));
                }
                o.r2q = Some(r2q);
            }
            "direct_qlen" => o.direct_qlen = Some(parse_u32(a.value(w)?, "direct_qlen")?),
            _ => return Err(tc_err!("htb: unknown option \"{w}\"")),
        }
    }
    Ok(QdiscOpt::Htb(o))
}

/// `[rate R] [ceil C] [burst B] [cburst B] [prio P] [quantum Q]`; the stack fills in what is
/// left out. Linux/iproute2: `htb_parse_class_opt`.
pub fn parse_class_opt(args: &[String]) -> Result<ClassOpt, TcError> {
    let mut a = Args::new(args);
    let mut o = HtbClassOpt::default();
    while let Some(w) = a.next() {
        match w {
            "rate" => o.rate = Some(parse_rate(a.value(w)?)?),
            "ceil" => o.ceil = Some(parse_rate(a.value(w)?)?),
            "burst" | "buffer" | "maxburst" => o.burst = Some(parse_size(a.value(w)?)?),
            "cburst" | "cbuffer" | "cmaxburst" => o.cburst = Some(parse_size(a.value(w)?)?),
            "prio" => {
                let v = a.value(w)?;
                let p = parse_u32(v, "prio")?;
                if p >= 8 {
                    return Err(tc_err!("htb: \"prio {v}\" must be 0 to 7"));
                }
                o.prio = Some(p);
            }
            "quantum" => {
                let v = a.value(w)?;
                let q = parse_size(v)?;
                if q == 0 {
                    return Err(tc_err!("htb: invalid quantum \"{v}\""));
                }
                o.quantum = Some(q);
            }
            _ => return Err(tc_err!("htb: unknown class option \"{w}\"")),
        }
    }
    Ok(ClassOpt::Htb(o))
}

/// Linux/iproute2: `htb_print_opt` for the qdisc.
pub fn print_opt(o: &HtbGlob) -> String {
    format!(
        "r2q {} default {:#x} direct_packets_stat {} direct_qlen {}",
        o.r2q.unwrap_or(10),
        o.default.unwrap_or(0),
        o.direct_pkts,
        o.direct_qlen.unwrap_or(0)
    )
}

/// Linux/iproute2: `htb_print_opt` for a class (`prio` for a leaf).
pub fn print_class_opt(o: &HtbClassOpt) -> String {
    let mut s = String::new();
    if let Some(p) = o.prio {
        s += &format!("prio {p} ");
    }
    s += &format!(
        "rate {} ceil {} burst {} cburst {}",
        fmt_rate(o.rate.unwrap_or(0)),
        fmt_rate(o.ceil.unwrap_or(0)),
        fmt_size(o.burst.unwrap_or(0)),
        fmt_size(o.cburst.unwrap_or(0))
    );
    s
}
