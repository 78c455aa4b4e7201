//! The multiport match: `--sports`, `--dports`, `--ports` with up to 15 ports (a range counts
//! two), with `-p tcp` or `-p udp`.
//!
//! Linux userspace: libxt_multiport.c (kernel: xt_multiport.c).

use super::{bang, parse_port_range, range_text, Opt};
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::change::MAX_MULTIPORT;
use linnet::netfilter::matches::{MultiportKind, RuleMatch};
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[
    ("--sports", 1),
    ("--source-ports", 1),
    ("--dports", 1),
    ("--destination-ports", 1),
    ("--ports", 1),
];

/// Its options. Linux userspace: `multiport_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    let kind = match o.name {
        "--sports" | "--source-ports" => MultiportKind::Source,
        "--dports" | "--destination-ports" => MultiportKind::Destination,
        "--ports" => MultiportKind::Either,
        _ => return Ok(None),
    };
    if !b.loaded("multiport") {
        return Err(o.unknown());
    }
    if !b.tcp_or_udp() {
        return Err(NfError::param(
            "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'",
        ));
    }
    let ports = o
        .val
        .split(',')
        .map(parse_port_range)
        .collect::<Result<Vec<_>, _>>()?;
    let slots: usize = ports.iter().map(|r| 1 + usize::from(r.lo != r.hi)).sum();
    if slots > MAX_MULTIPORT {
        return Err(NfError::param("too many ports specified"));
    }
    b.m.multiport = Some((kind, ports, o.inv));
    Ok(Some(2))
}

fn list(m: &RuleMatch) -> Option<(&'static str, String, bool)> {
    let (kind, ports, inv) = m.multiport.as_ref()?;
    let k = match kind {
        MultiportKind::Source => "sports",
        MultiportKind::Destination => "dports",
        MultiportKind::Either => "ports",
    };
    let list: Vec<String> = ports.iter().map(range_text).collect();
    Some((k, list.join(","), *inv))
}

/// As iptables-save writes it. Linux userspace: `multiport_save`.
pub fn save(m: &RuleMatch, s: &mut String) {
    if let Some((k, list, inv)) = list(m) {
        let _ = write!(s, " -m multiport {}--{k} {list}", bang(inv));
    }
}

/// As `iptables -L` prints it. Linux userspace: `multiport_print`.
pub fn print(m: &RuleMatch, s: &mut String) {
    if let Some((k, list, inv)) = list(m) {
        let _ = write!(s, "multiport {k} {}{list} ", if inv { "! " } else { "" });
    }
}
