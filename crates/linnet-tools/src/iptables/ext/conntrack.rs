//! The conntrack and state matches: `-m conntrack --ctstate S,...`, `-m state --state S,...`.
//!
//! Linux userspace: libxt_conntrack.c, libxt_state.c (kernel: xt_conntrack.c, xt_state.c).

use super::{bang, bit_names, Opt};
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::matches::{ctstate, RuleMatch};
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[("--ctstate", 1), ("--state", 1)];

fn states_text(bits: u8) -> String {
    bit_names(&ctstate::NAMES, bits)
}

/// Its options. Linux userspace: `conntrack_parse`, `state_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    let kind = match o.name {
        "--ctstate" => "conntrack",
        "--state" => "state",
        _ => return Ok(None),
    };
    if !b.loaded(kind) {
        return Err(o.unknown());
    }
    let mut bits = 0;
    for s in o.val.split(',') {
        let bit = ctstate::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(b, _)| *b)
            .ok_or_else(|| {
                NfError::param(if kind == "state" {
                    format!("Bad state \"{s}\"")
                } else {
                    format!("Bad ctstate \"{s}\"")
                })
            })?;
        bits |= bit;
    }
    b.m.ctstate = Some((bits, o.inv, kind == "state"));
    Ok(Some(2))
}

/// As iptables-save writes it. Linux userspace: `conntrack_save`, `state_save`.
pub fn save(m: &RuleMatch, s: &mut String) {
    if let Some((bits, inv, state)) = m.ctstate {
        if state {
            let _ = write!(s, " -m state {}--state {}", bang(inv), states_text(bits));
        } else {
            let _ = write!(
                s,
                " -m conntrack {}--ctstate {}",
                bang(inv),
                states_text(bits)
            );
        }
    }
}

/// As `iptables -L` prints it. Linux userspace: `conntrack_print`, `state_print`.
pub fn print(m: &RuleMatch, s: &mut String) {
    if let Some((bits, inv, state)) = m.ctstate {
        let _ = write!(
            s,
            "{} {}{} ",
            if state { "state" } else { "ctstate" },
            if inv { "! " } else { "" },
            states_text(bits)
        );
    }
}
