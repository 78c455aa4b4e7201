//! The REJECT target: `--reject-with icmp-*-unreachable|icmp-*-prohibited|tcp-reset`.
//!
//! Linux userspace: libipt_REJECT.c (kernel: ipt_REJECT.c).

use super::Opt;
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::matches::proto;
use linnet::netfilter::targets::{RejectWith, Target};
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[("--reject-with", 1)];

/// What the options gave.
#[derive(Debug, Default)]
pub struct RejectOpts {
    with: Option<RejectWith>,
}

/// The short names iptables also takes. Linux userspace: `reject_table`.
const ALIASES: [(&str, &str); 8] = [
    ("net-unreach", "icmp-net-unreachable"),
    ("host-unreach", "icmp-host-unreachable"),
    ("port-unreach", "icmp-port-unreachable"),
    ("proto-unreach", "icmp-proto-unreachable"),
    ("net-prohib", "icmp-net-prohibited"),
    ("host-prohib", "icmp-host-prohibited"),
    ("admin-prohib", "icmp-admin-prohibited"),
    ("tcp-rst", "tcp-reset"),
];

/// Its option. Linux userspace: `REJECT_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    if o.name != "--reject-with" {
        return Ok(None);
    }
    o.no_invert()?;
    b.target_is(&["REJECT"], o)?;
    let name = ALIASES
        .iter()
        .find(|(a, _)| *a == o.val)
        .map_or(o.val, |(_, n)| *n);
    let with = RejectWith::ALL
        .iter()
        .find(|(_, n)| *n == name)
        .map(|(k, _)| *k)
        .ok_or_else(|| NfError::param(format!("unknown reject type \"{}\"", o.val)))?;
    b.reject.with = Some(with);
    Ok(Some(2))
}

/// The target; `tcp-reset` needs `-p tcp`. Linux: `reject_tg_check`.
pub fn final_check(b: &RuleBuilder) -> Result<Target, NfError> {
    let w = b.reject.with.unwrap_or(RejectWith::PortUnreachable);
    if w == RejectWith::TcpReset && b.m.proto != Some((proto::TCP, false)) {
        return Err(NfError::param(
            "Can only specify tcp-reset with -p tcp (and no ! before -p)",
        ));
    }
    Ok(Target::Reject(w))
}

/// As iptables-save writes it. Linux userspace: `REJECT_save`.
pub fn save(t: &Target, s: &mut String) {
    if let Target::Reject(w) = t {
        let _ = write!(s, " --reject-with {}", w.name());
    }
}

/// As `iptables -L` prints it. Linux userspace: `REJECT_print`.
pub fn print(t: &Target, s: &mut String) {
    if let Target::Reject(w) = t {
        let _ = write!(s, "reject-with {}", w.name());
    }
}
