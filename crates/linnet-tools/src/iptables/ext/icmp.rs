//! The icmp match: `--icmp-type` (names, `TYPE` or `TYPE/CODE`), with `-p icmp`.
//!
//! Linux userspace: libipt_icmp.c (kernel: the icmp match of ip_tables.c).

use super::{bang, Opt};
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::matches::{proto, RuleMatch};
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[("--icmp-type", 1)];

/// ICMP type names. Linux userspace: `icmp_codes` in libipt_icmp.c.
const ICMP_TYPES: [(&str, u8, Option<u8>); 22] = [
    ("echo-reply", 0, None),
    ("pong", 0, None),
    ("destination-unreachable", 3, None),
    ("network-unreachable", 3, Some(0)),
    ("host-unreachable", 3, Some(1)),
    ("protocol-unreachable", 3, Some(2)),
    ("port-unreachable", 3, Some(3)),
    ("fragmentation-needed", 3, Some(4)),
    ("network-prohibited", 3, Some(9)),
    ("host-prohibited", 3, Some(10)),
    ("communication-prohibited", 3, Some(13)),
    ("source-quench", 4, None),
    ("redirect", 5, None),
    ("echo-request", 8, None),
    ("ping", 8, None),
    ("time-exceeded", 11, None),
    ("ttl-exceeded", 11, None),
    ("ttl-zero-during-transit", 11, Some(0)),
    ("ttl-zero-during-reassembly", 11, Some(1)),
    ("parameter-problem", 12, None),
    ("timestamp-request", 13, None),
    ("timestamp-reply", 14, None),
];

fn parse_icmp_type(v: &str) -> Result<(u8, Option<u8>), NfError> {
    if let Some((_, t, c)) = ICMP_TYPES.iter().find(|(n, _, _)| *n == v) {
        return Ok((*t, *c));
    }
    let bad = || NfError::param(format!("Invalid ICMP type `{v}'"));
    match v.split_once('/') {
        Some((t, c)) => Ok((
            t.parse().map_err(|_| bad())?,
            Some(c.parse().map_err(|_| bad())?),
        )),
        None => Ok((v.parse().map_err(|_| bad())?, None)),
    }
}

/// Its option. Linux userspace: `icmp_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    if o.name != "--icmp-type" {
        return Ok(None);
    }
    if !b.m.proto.is_some_and(|(p, v)| p == proto::ICMP && !v) {
        return Err(o.unknown());
    }
    let (t, c) = parse_icmp_type(o.val)?;
    b.m.icmp_type = Some((t, c, o.inv));
    Ok(Some(2))
}

/// As iptables-save writes it. Linux userspace: `icmp_save`.
pub fn save(m: &RuleMatch, s: &mut String) {
    if let Some((t, c, inv)) = m.icmp_type {
        let _ = write!(s, " -m icmp {}--icmp-type {t}", bang(inv));
        if let Some(c) = c {
            let _ = write!(s, "/{c}");
        }
    }
}

/// As `iptables -L` prints it. Linux userspace: `icmp_print`.
pub fn print(m: &RuleMatch, s: &mut String) {
    if let Some((t, c, inv)) = m.icmp_type {
        let _ = write!(s, "icmp{} type {t}", if inv { " !" } else { "" });
        if let Some(c) = c {
            let _ = write!(s, " code {c}");
        }
        s.push(' ');
    }
}
