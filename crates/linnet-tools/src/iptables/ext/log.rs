//! The LOG target: `--log-prefix TEXT`, `--log-level N|name`.
//!
//! Linux userspace: libxt_LOG.c (kernel: xt_LOG.c).

use super::{quote, Opt};
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::change::MAX_LOG_PREFIX;
use linnet::netfilter::targets::Target;
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[("--log-prefix", 1), ("--log-level", 1)];

/// Syslog level names, by number.
const LEVELS: [&str; 8] = [
    "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
];

/// What the options gave.
#[derive(Debug, Default)]
pub struct LogOpts {
    prefix: Option<String>,
    level: Option<u8>,
}

/// Its options. Linux userspace: `LOG_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    match o.name {
        "--log-prefix" => {
            o.no_invert()?;
            b.target_is(&["LOG"], o)?;
            if o.val.len() > MAX_LOG_PREFIX {
                return Err(NfError::param("Maximum prefix length 29 for --log-prefix"));
            }
            b.log.prefix = Some(o.val.to_string());
        }
        "--log-level" => {
            o.no_invert()?;
            b.target_is(&["LOG"], o)?;
            let l = o
                .val
                .parse::<u8>()
                .ok()
                .filter(|l| *l <= 7)
                .or_else(|| LEVELS.iter().position(|n| *n == o.val).map(|p| p as u8))
                .ok_or_else(|| NfError::param(format!("log-level `{}' unknown", o.val)))?;
            b.log.level = Some(l);
        }
        _ => return Ok(None),
    }
    Ok(Some(2))
}

/// The target, level 4 (warning) unless given.
pub fn final_check(b: &RuleBuilder) -> Target {
    Target::Log {
        prefix: b.log.prefix.clone().unwrap_or_default(),
        level: b.log.level.unwrap_or(4),
    }
}

/// As iptables-save writes it. Linux userspace: `LOG_save`.
pub fn save(t: &Target, s: &mut String) {
    if let Target::Log { prefix, level } = t {
        if !prefix.is_empty() {
            let _ = write!(s, " --log-prefix {}", quote(prefix));
        }
        if *level != 4 {
            let _ = write!(s, " --log-level {level}");
        }
    }
}

/// As `iptables -L` prints it. Linux userspace: `LOG_print`.
pub fn print(t: &Target, s: &mut String) {
    if let Target::Log { prefix, level } = t {
        let _ = write!(s, "LOG flags 0 level {level}");
        if !prefix.is_empty() {
            let _ = write!(s, " prefix \"{prefix}\"");
        }
    }
}
