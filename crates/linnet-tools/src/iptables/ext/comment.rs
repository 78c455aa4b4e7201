//! The comment match: `-m comment --comment TEXT` (matches everything; for people).
//!
//! Linux userspace: libxt_comment.c (kernel: xt_comment.c).

use super::{quote, Opt};
use crate::iptables::rule::RuleBuilder;
use linnet::netfilter::change::MAX_COMMENT;
use linnet::netfilter::matches::RuleMatch;
use linnet::netfilter::NfError;
use std::fmt::Write;

/// The options, with the words each takes.
pub const OPTIONS: &[(&str, usize)] = &[("--comment", 1)];

/// Its option. Linux userspace: `comment_parse`.
pub fn parse(b: &mut RuleBuilder, o: &Opt) -> Result<Option<usize>, NfError> {
    if o.name != "--comment" {
        return Ok(None);
    }
    o.no_invert()?;
    if !b.loaded("comment") {
        return Err(o.unknown());
    }
    if o.val.len() > MAX_COMMENT {
        return Err(NfError::param(
            "COMMENT must be shorter than 256 characters",
        ));
    }
    b.m.comment = Some(o.val.to_string());
    Ok(Some(2))
}

/// As iptables-save writes it. Linux userspace: `comment_save`.
pub fn save(m: &RuleMatch, s: &mut String) {
    if let Some(c) = &m.comment {
        let _ = write!(s, " -m comment --comment {}", quote(c));
    }
}

/// As `iptables -L` prints it. Linux userspace: `comment_print`.
pub fn print(m: &RuleMatch, s: &mut String) {
    if let Some(c) = &m.comment {
        let _ = write!(s, "/* {c} */ ");
    }
}
