//! iptables-restore: `*table` ... `COMMIT` blocks of chain declarations (`:CHAIN POLICY
//! [packets:bytes]`) and commands, built on copies of the tables and put in place together;
//! on any error nothing changes and the error names the line.
//!
//! Linux userspace: iptables-restore.c (`ip46tables_restore_main`), with libiptc's
//! `iptc_commit` replacing each table.

use super::command::parse_command;
use super::{plan, Backend, Plan};
use linnet::netfilter::change::{check_chain_name, TableChange};
use linnet::netfilter::table::{Counters, Policy, Table, TableId};
use linnet::netfilter::NfError;

/// Split a line into words as a shell would for iptables-restore: spaces separate, quotes
/// group.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = line.chars();
    while let Some(ch) = chars.next() {
        match (quote, ch) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            (Some(_), c) => cur.push(c),
            (None, '"') | (None, '\'') => {
                quote = Some(ch);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unterminated quote".into());
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The error for line `n`, with the reason above it.
fn fail(n: usize, why: &str) -> NfError {
    let mut m = format!("iptables-restore: line {n} failed");
    if !why.is_empty() {
        m = format!("{why}\n{m}");
    }
    NfError::new(m)
}

/// `:CHAIN POLICY [packets:bytes]`: a built-in chain's policy and counters, or a new user
/// chain (policy `-`).
fn declare_chain(t: &mut Table, decl: &str) -> Result<(), String> {
    let mut parts = decl.split_whitespace();
    let name = parts.next().unwrap_or("");
    let pol = parts.next().unwrap_or("");
    match t.chain_index(name) {
        Some(ci) if t.chains[ci].hook.is_some() => {
            t.chains[ci].policy = match pol {
                "ACCEPT" => Policy::Accept,
                "DROP" => Policy::Drop,
                _ => return Err("iptables-restore: bad policy".into()),
            };
            let counters = parts.next().and_then(|c| {
                let (p, b) = c.strip_prefix('[')?.strip_suffix(']')?.split_once(':')?;
                Some((p.parse().ok()?, b.parse().ok()?))
            });
            if let Some((packets, bytes)) = counters {
                t.chains[ci].policy_counters = Counters { packets, bytes };
            }
            Ok(())
        }
        Some(_) => Ok(()),
        None => {
            if pol != "-" {
                return Err("iptables-restore: Can't set policy on a user-defined chain".into());
            }
            check_chain_name(name).map_err(|e| e.message)?;
            t.apply(&TableChange::NewChain { name: name.into() })
                .map_err(|e| e.message)
        }
    }
}

/// A command line inside a block, carried out on the table being built.
fn command(t: &mut Table, line: &str) -> Result<(), String> {
    let words = split_words(line)?;
    if words.iter().any(|w| w == "-t" || w == "--table") {
        return Err("iptables-restore: The -t option cannot be used in iptables-restore.".into());
    }
    let c = parse_command(&words).map_err(|e| e.message)?;
    match plan(t, &c).map_err(|e| e.message)? {
        Plan::Print(_) => Ok(()),
        Plan::Change(change) => t.apply(&change).map_err(|e| e.message),
    }
}

/// `iptables-restore [--noflush]`: replace the tables named in `text` (each `*table` ...
/// `COMMIT` block) all at once; with `noflush` a block adds to the table instead. On any
/// error nothing changes and the error names the line. Linux userspace: iptables-restore.
pub fn restore<B: Backend + ?Sized>(b: &mut B, text: &str, noflush: bool) -> Result<(), NfError> {
    let mut done: Vec<Table> = Vec::new();
    let mut cur: Option<Table> = None;
    let mut last = 0;
    for (k, raw) in text.lines().enumerate() {
        let n = k + 1;
        last = n;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(name) = line.strip_prefix('*') {
            if cur.is_some() {
                return Err(fail(n, "iptables-restore: COMMIT expected"));
            }
            let id = TableId::from_name(name.trim()).ok_or_else(|| {
                fail(
                    n,
                    &format!("iptables-restore: unable to initialize table '{name}'"),
                )
            })?;
            cur = Some(if noflush {
                match done.iter().rev().find(|t| t.id == id) {
                    Some(t) => t.clone(),
                    None => b.get_table(id)?.0,
                }
            } else {
                Table::new(id)
            });
            continue;
        }
        let Some(t) = cur.as_mut() else {
            return Err(fail(n, "iptables-restore: no table specified"));
        };
        if line == "COMMIT" {
            done.extend(cur.take());
            continue;
        }
        let r = match line.strip_prefix(':') {
            Some(decl) => declare_chain(t, decl),
            None => command(t, line),
        };
        r.map_err(|why| fail(n, &why))?;
    }
    if cur.is_some() {
        return Err(fail(last, "iptables-restore: COMMIT expected"));
    }
    b.replace(done)
}
