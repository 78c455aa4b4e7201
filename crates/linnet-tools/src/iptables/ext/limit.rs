//! The limit match: `-m limit --limit N/unit --limit-burst B` (default 3/hour, burst 5).
//!
//! Linux userspace: libxt_limit.c (kernel: xt_limit.c).

use super::Opt;
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::matches::{Limit, RuleMatch};
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[("--limit", 1), ("--limit-burst", 1)];

/// What the options gave.
#[derive(Debug, Default)]
pub struct LimitOpts {
    /// `--limit`: (count, per seconds).
    rate: Option<(u32, u32)>,
    /// `--limit-burst`.
    burst: Option<u32>,
}

/// `N[/second|/minute|/hour|/day]` → (count, per seconds). Linux userspace: `parse_rate`.
fn parse_rate(v: &str) -> Result<(u32, u32), NfError> {
    let bad = || NfError::param(format!("bad rate \"{v}\"'"));
    let (n, unit) = v.split_once('/').unwrap_or((v, "second"));
    let per = match unit {
        "s" | "sec" | "second" => 1,
        "m" | "min" | "minute" => 60,
        "h" | "hour" => 3600,
        "d" | "day" => 86400,
        _ => return Err(bad()),
    };
    let n: u32 = n.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    Ok((n, per))
}

fn rate_text(l: &Limit) -> String {
    let unit = match l.per_secs {
        1 => "sec",
        60 => "min",
        3600 => "hour",
        _ => "day",
    };
    format!("{}/{unit}", l.count)
}

/// Its options. Linux userspace: `limit_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    if o.name != "--limit" && o.name != "--limit-burst" {
        return Ok(None);
    }
    o.no_invert()?;
    if !b.loaded("limit") {
        return Err(o.unknown());
    }
    if o.name == "--limit" {
        b.limit.rate = Some(parse_rate(o.val)?);
    } else {
        b.limit.burst = Some(
            o.val
                .parse::<u32>()
                .ok()
                .filter(|b| (1..=10000).contains(b))
                .ok_or_else(|| NfError::param(format!("bad --limit-burst `{}'", o.val)))?,
        );
    }
    Ok(Some(2))
}

/// The bucket, with the defaults for what was not given.
pub fn final_check(b: &mut RuleBuilder) {
    let burst = b.limit.burst.unwrap_or(5);
    if let Some((count, per)) = b.limit.rate {
        b.m.limit = Some(Limit::new(count, per, burst));
    } else if b.loaded("limit") {
        b.m.limit = Some(Limit::new(3, 3600, burst));
    }
}

/// As iptables-save writes it. Linux userspace: `limit_save`.
pub fn save(m: &RuleMatch, s: &mut String) {
    if let Some(l) = &m.limit {
        let _ = write!(s, " -m limit --limit {}", rate_text(l));
        if l.burst != 5 {
            let _ = write!(s, " --limit-burst {}", l.burst);
        }
    }
}

/// As `iptables -L` prints it. Linux userspace: `limit_print`.
pub fn print(m: &RuleMatch, s: &mut String) {
    if let Some(l) = &m.limit {
        let _ = write!(s, "limit: avg {} burst {} ", rate_text(l), l.burst);
    }
}
