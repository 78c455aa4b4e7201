//! The NAT targets: SNAT `--to-source`, DNAT `--to-destination` (`a.b.c.d[-e.f.g.h][:p[-q]]`),
//! MASQUERADE and REDIRECT `--to-ports p[-q]`, and `--random`, `--random-fully`,
//! `--persistent` (accepted; Linnet chooses ports one way).
//!
//! Linux userspace: libipt_SNAT.c, libipt_DNAT.c, libipt_MASQUERADE.c, libipt_REDIRECT.c
//! (kernel: xt_nat.c, xt_MASQUERADE.c, xt_REDIRECT.c).

use super::Opt;
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::matches::proto;
use linnet::netfilter::targets::{NatRange, Target};
use linnet::netfilter::NfError;
use linnet::Ipv4Addr;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[
    ("--to-source", 1),
    ("--to-destination", 1),
    ("--to", 1),
    ("--to-ports", 1),
    ("--random", 0),
    ("--random-fully", 0),
    ("--persistent", 0),
];

/// What the options gave.
#[derive(Debug, Default)]
pub struct NatOpts {
    to_src: Option<NatRange>,
    to_dst: Option<NatRange>,
    to_ports: Option<(u16, u16)>,
}

fn parse_nat_ports(v: &str) -> Result<(u16, u16), NfError> {
    let bad = || NfError::param(format!("Port `{v}' not valid"));
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// `a.b.c.d[-e.f.g.h][:port[-port]]`. Linux userspace: `parse_to` in libipt_DNAT.c.
fn parse_nat_range(v: &str, protocol: Option<u8>) -> Result<NatRange, NfError> {
    let (ips, ports) = match v.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let bad_ip = |s: &str| NfError::param(format!("Bad IP address \"{s}\""));
    let (lo, hi) = ips.split_once('-').unwrap_or((ips, ips));
    let min_ip: Ipv4Addr = lo.parse().map_err(|_| bad_ip(lo))?;
    let max_ip: Ipv4Addr = hi.parse().map_err(|_| bad_ip(hi))?;
    if u32::from(max_ip) < u32::from(min_ip) {
        return Err(bad_ip(v));
    }
    let ports = match ports {
        None => None,
        Some(p) => {
            if !matches!(protocol, Some(proto::TCP) | Some(proto::UDP)) {
                return Err(NfError::param(
                    "Need TCP, UDP, SCTP or DCCP with port specification",
                ));
            }
            Some(parse_nat_ports(p)?)
        }
    };
    Ok(NatRange {
        min_ip,
        max_ip,
        ports,
    })
}

fn nat_range_text(r: &NatRange) -> String {
    let mut s = r.min_ip.to_string();
    if r.max_ip != r.min_ip {
        let _ = write!(s, "-{}", r.max_ip);
    }
    if let Some((a, b)) = r.ports {
        let _ = write!(s, ":{a}");
        if b != a {
            let _ = write!(s, "-{b}");
        }
    }
    s
}

fn ports_text((a, b): (u16, u16)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

/// Their options. Linux userspace: `SNAT_parse`, `DNAT_parse`, `MASQUERADE_parse`,
/// `REDIRECT_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    match o.name {
        "--to-source" | "--to-destination" | "--to" => {
            o.no_invert()?;
            let names: &[&str] = match o.name {
                "--to-source" => &["SNAT"],
                "--to" => &["SNAT", "DNAT"],
                _ => &["DNAT"],
            };
            b.target_is(names, o)?;
            let r = parse_nat_range(o.val, b.m.proto.map(|p| p.0))?;
            if b.target_name.as_deref() == Some("SNAT") {
                b.nat.to_src = Some(r);
            } else {
                b.nat.to_dst = Some(r);
            }
            Ok(Some(2))
        }
        "--to-ports" => {
            o.no_invert()?;
            b.target_is(&["MASQUERADE", "REDIRECT"], o)?;
            if !b.tcp_or_udp() {
                return Err(NfError::param(
                    "Need TCP, UDP, SCTP or DCCP with port specification",
                ));
            }
            b.nat.to_ports = Some(parse_nat_ports(o.val)?);
            Ok(Some(2))
        }
        "--random" | "--random-fully" | "--persistent" => {
            o.no_invert()?;
            b.target_is(&["SNAT", "DNAT", "MASQUERADE", "REDIRECT"], o)?;
            Ok(Some(1))
        }
        _ => Ok(None),
    }
}

/// The target `name`; SNAT and DNAT need their address. Linux userspace: `SNAT_check`...
pub fn final_check(b: &RuleBuilder, name: &str) -> Result<Target, NfError> {
    Ok(match name {
        "SNAT" => Target::Snat(
            b.nat
                .to_src
                .ok_or_else(|| NfError::param("SNAT: option \"--to-source\" must be specified"))?,
        ),
        "DNAT" => Target::Dnat(b.nat.to_dst.ok_or_else(|| {
            NfError::param("DNAT: option \"--to-destination\" must be specified")
        })?),
        "MASQUERADE" => Target::Masquerade(b.nat.to_ports),
        _ => Target::Redirect(b.nat.to_ports),
    })
}

/// As iptables-save writes them. Linux userspace: `SNAT_save`...
pub fn save(t: &Target, s: &mut String) {
    match t {
        Target::Snat(r) => {
            let _ = write!(s, " --to-source {}", nat_range_text(r));
        }
        Target::Dnat(r) => {
            let _ = write!(s, " --to-destination {}", nat_range_text(r));
        }
        Target::Masquerade(Some(p)) | Target::Redirect(Some(p)) => {
            let _ = write!(s, " --to-ports {}", ports_text(*p));
        }
        _ => {}
    }
}

/// As `iptables -L` prints them. Linux userspace: `SNAT_print`...
pub fn print(t: &Target, s: &mut String) {
    match t {
        Target::Snat(r) | Target::Dnat(r) => {
            let _ = write!(s, "to:{}", nat_range_text(r));
        }
        Target::Masquerade(Some(p)) => {
            let _ = write!(s, "masq ports: {}", ports_text(*p));
        }
        Target::Redirect(Some(p)) => {
            let _ = write!(s, "redir ports {}", ports_text(*p));
        }
        _ => {}
    }
}
