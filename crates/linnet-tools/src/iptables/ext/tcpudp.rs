//! The tcp and udp matches: `--sport`, `--dport` (ranges, service names), `--tcp-flags`,
//! `--syn`. Loaded by `-p tcp`/`-p udp` or `-m tcp`/`-m udp`.
//!
//! Linux userspace: libxt_tcp.c, libxt_udp.c (kernel: xt_tcpudp.c).

use super::{bang, bit_names, parse_port_range, range_text, Opt, SERVICES};
use crate::iptables::rule::{proto_name, RuleBuilder};
use linnet::netfilter::matches::{proto, PortRange, RuleMatch};
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[
    ("--sport", 1),
    ("--source-port", 1),
    ("--dport", 1),
    ("--destination-port", 1),
    ("--tcp-flags", 2),
    ("--syn", 0),
];

/// TCP flag names in the order iptables prints them.
const FLAGS: [(u8, &str); 6] = [
    (0x01, "FIN"),
    (0x02, "SYN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
    (0x20, "URG"),
];

/// The protocol whose port options are available: `-p tcp`/`-p udp` loads its match, as
/// does `-m tcp`/`-m udp`.
fn port_match_proto(b: &RuleBuilder) -> Option<u8> {
    match b.m.proto {
        Some((p, false)) if p == proto::TCP || p == proto::UDP => Some(p),
        _ if b.loaded("tcp") => Some(proto::TCP),
        _ if b.loaded("udp") => Some(proto::UDP),
        _ => None,
    }
}

fn parse_tcp_flags(v: &str) -> Result<u8, NfError> {
    let mut bits = 0;
    for f in v.split(',') {
        bits |= match f {
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => FLAGS
                .iter()
                .find(|(_, n)| *n == f)
                .map(|(b, _)| *b)
                .ok_or_else(|| NfError::param(format!("Unknown TCP flag `{f}'")))?,
        };
    }
    Ok(bits)
}

fn flags_text(bits: u8) -> String {
    if bits == 0 {
        return "NONE".into();
    }
    bit_names(&FLAGS, bits)
}

/// Its options. Linux userspace: `tcp_parse`, `udp_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    match o.name {
        "--sport" | "--source-port" | "--dport" | "--destination-port" => {
            if port_match_proto(b).is_none() {
                return Err(o.unknown());
            }
            let r = parse_port_range(o.val)?;
            if o.name == "--sport" || o.name == "--source-port" {
                b.m.sport = Some((r, o.inv));
            } else {
                b.m.dport = Some((r, o.inv));
            }
            Ok(Some(2))
        }
        "--tcp-flags" | "--syn" => {
            if port_match_proto(b) != Some(proto::TCP) {
                return Err(o.unknown());
            }
            if o.name == "--syn" {
                b.m.tcp_flags = Some((0x17, 0x02, o.inv));
                return Ok(Some(1));
            }
            let mask = parse_tcp_flags(o.val)?;
            let comp = parse_tcp_flags(o.val2)?;
            b.m.tcp_flags = Some((mask, comp, o.inv));
            Ok(Some(3))
        }
        _ => Ok(None),
    }
}

/// `--tcp-flags` needs `-p tcp`. Linux: `xt_check_match`'s protocol check.
pub fn final_check(b: &RuleBuilder) -> Result<(), NfError> {
    if b.m.tcp_flags.is_some() && b.m.proto != Some((proto::TCP, false)) {
        return Err(NfError::new(
            "iptables: tcp match: only valid for protocol 6",
        ));
    }
    Ok(())
}

fn in_use(m: &RuleMatch) -> bool {
    m.sport.is_some() || m.dport.is_some() || m.tcp_flags.is_some()
}

/// As iptables-save writes it. Linux userspace: `tcp_save`, `udp_save`.
pub fn save(m: &RuleMatch, s: &mut String) {
    if !in_use(m) {
        return;
    }
    let _ = write!(s, " -m {}", proto_name(m.proto.map_or(proto::TCP, |p| p.0)));
    if let Some((r, inv)) = &m.sport {
        let _ = write!(s, " {}--sport {}", bang(*inv), range_text(r));
    }
    if let Some((r, inv)) = &m.dport {
        let _ = write!(s, " {}--dport {}", bang(*inv), range_text(r));
    }
    if let Some((mask, comp, inv)) = m.tcp_flags {
        let _ = write!(
            s,
            " {}--tcp-flags {} {}",
            bang(inv),
            flags_text(mask),
            flags_text(comp)
        );
    }
}

/// As `iptables -L` prints it: without `-n`, single ports as service names.
/// Linux userspace: `tcp_print`, `udp_print`.
pub fn print(m: &RuleMatch, numeric: bool, s: &mut String) {
    if !in_use(m) {
        return;
    }
    let port_text = |r: &PortRange| match (numeric, r.lo == r.hi) {
        (false, true) => SERVICES
            .iter()
            .find(|(_, p)| *p == r.lo)
            .map_or_else(|| r.lo.to_string(), |(n, _)| (*n).to_string()),
        _ => range_text(r),
    };
    s.push_str(&m.proto.map_or("tcp".to_string(), |p| proto_name(p.0)));
    for (name, pr) in [("spt", &m.sport), ("dpt", &m.dport)] {
        if let Some((r, inv)) = pr {
            let plural = if r.lo != r.hi { "s" } else { "" };
            let _ = write!(
                s,
                " {name}{plural}:{}{}",
                if *inv { "!" } else { "" },
                port_text(r)
            );
        }
    }
    if let Some((mask, comp, inv)) = m.tcp_flags {
        let _ = write!(
            s,
            " flags:{}0x{mask:02X}/0x{comp:02X}",
            if inv { "!" } else { "" }
        );
    }
    s.push(' ');
}
