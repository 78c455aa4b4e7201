//! iptables in user space: command lines, `-L`/`-S` listings, iptables-save and
//! iptables-restore, over a [`Backend`] that reads tables and takes typed changes (a running
//! daemon through its control socket, or a [`Stack`] in the same program). Errors are worded
//! as iptables words them, with its exit statuses, and a failing command changes nothing.
//!
//! Linux userspace: iptables/xshared.c (`do_parse`), iptables.c (`do_command4`), libiptc
//! (the table copy a command works on), the `libxt_*` extensions ([`ext`]), iptables-save.c
//! and iptables-restore.c.

pub mod command;
pub mod ext;
pub mod list;
pub mod restore;
pub mod rule;

use command::{parse_command, Command, Op};
use linnet::netfilter::change::{bad_rule, TableChange};
use linnet::netfilter::table::{Policy, Table, TableId};
use linnet::netfilter::NfError;
use linnet::Instant;
use linnet::Stack;

/// Where iptables finds its tables and sends its changes. Linux: the `IPT_SO_GET_ENTRIES` /
/// `IPT_SO_SET_REPLACE` socket options.
pub trait Backend {
    /// A table with its counters, and the tables' generation (`None`: no one else can
    /// change them meanwhile).
    fn get_table(&mut self, id: TableId) -> Result<(Table, Option<u64>), NfError>;

    /// Carry out one change made against generation `gen` of the tables.
    fn change(&mut self, id: TableId, gen: Option<u64>, c: TableChange) -> Result<(), NfError>;

    /// Put whole tables in place at once.
    fn replace(&mut self, tables: Vec<Table>) -> Result<(), NfError>;
}

impl Backend for Stack {
    fn get_table(&mut self, id: TableId) -> Result<(Table, Option<u64>), NfError> {
        Ok((self.netfilter().table(id).clone(), None))
    }

    fn change(&mut self, id: TableId, gen: Option<u64>, c: TableChange) -> Result<(), NfError> {
        self.nf_change(id, gen, &c)
    }

    fn replace(&mut self, tables: Vec<Table>) -> Result<(), NfError> {
        self.nf_replace(tables)
    }
}

/// How often a change is tried again when someone else changed the tables meanwhile.
const MAX_TRIES: usize = 16;

/// What a command comes to, read against a table.
pub enum Plan {
    /// Text to print; nothing changes.
    Print(String),
    /// A change to make (boxed: a rule is large beside the text).
    Change(Box<TableChange>),
}

/// Read command `c` against table `t`: what it prints, or the typed change it asks for.
/// The checks iptables makes in user space come here, in its order; the rest are the
/// table's ([`Table::apply`]). Linux userspace: `do_command4`.
pub fn plan(t: &Table, c: &Command) -> Result<Plan, NfError> {
    let chain = || c.chain.clone().unwrap_or_default();
    let change = match c.op {
        Op::List => return list::list_chains(t, c).map(Plan::Print),
        Op::ListRules => {
            return list::list_rules(t, c.chain.as_deref(), c.verbose).map(Plan::Print)
        }
        Op::Check => {
            let ci = t.chain_or_err(&chain())?;
            let rule = rule::parse_rule(t, &c.rule)?;
            t.find_rule(ci, &rule).ok_or_else(bad_rule)?;
            return Ok(Plan::Print(String::new()));
        }
        Op::Append | Op::Insert | Op::Replace => {
            t.chain_or_err(&chain())?;
            let rule = rule::parse_rule(t, &c.rule)?;
            match c.op {
                Op::Append => TableChange::Append {
                    chain: chain(),
                    rule,
                },
                Op::Insert => TableChange::Insert {
                    chain: chain(),
                    num: c.num,
                    rule,
                },
                _ => TableChange::Replace {
                    chain: chain(),
                    num: c.num.unwrap_or(0),
                    rule,
                },
            }
        }
        Op::Delete => match c.num {
            Some(num) => TableChange::DeleteNum {
                chain: chain(),
                num,
            },
            None => {
                t.chain_or_err(&chain())?;
                TableChange::DeleteRule {
                    chain: chain(),
                    rule: rule::parse_rule(t, &c.rule)?,
                }
            }
        },
        Op::Flush => TableChange::Flush {
            chain: c.chain.clone(),
        },
        Op::Zero => TableChange::Zero {
            chain: c.chain.clone(),
            num: c.num,
        },
        Op::NewChain => TableChange::NewChain { name: chain() },
        Op::DeleteChain => TableChange::DeleteChain {
            name: c.chain.clone(),
        },
        Op::Rename => TableChange::Rename {
            chain: chain(),
            new: c.policy.clone().unwrap_or_default(),
        },
        Op::Policy => {
            t.builtin_chain_or_err(&chain())?;
            let policy = match c.policy.as_deref() {
                Some("ACCEPT") => Policy::Accept,
                Some("DROP") => Policy::Drop,
                _ => {
                    return Err(NfError::new(
                        "iptables: Bad policy name. Run `dmesg' for more information.",
                    ))
                }
            };
            TableChange::Policy {
                chain: chain(),
                policy,
            }
        }
    };
    Ok(Plan::Change(Box::new(change)))
}

/// Run an iptables command line (the words after `iptables`) and return what it prints.
/// On error nothing changes. Linux userspace: `iptables` (`do_command4`, `iptc_commit`).
pub fn do_command<B: Backend + ?Sized, S: AsRef<str>>(
    b: &mut B,
    argv: &[S],
) -> Result<String, NfError> {
    let c = parse_command(argv)?;
    for _ in 0..MAX_TRIES {
        let (t, gen) = b.get_table(c.table)?;
        let change = match plan(&t, &c)? {
            Plan::Print(text) => return Ok(text),
            Plan::Change(change) => change,
        };
        match b.change(c.table, gen, *change) {
            Err(e) if e.is_again() => continue,
            r => return r.map(|()| String::new()),
        }
    }
    Err(NfError::again())
}

/// `iptables-save [-t table]`: the tables in iptables-restore format.
/// Linux userspace: iptables-save.
pub fn save<B: Backend + ?Sized>(b: &mut B, table: Option<&str>) -> Result<String, NfError> {
    let ids: Vec<TableId> = match table {
        Some(n) => vec![TableId::from_name(n).ok_or_else(|| {
            NfError::new(format!(
                "iptables-save: Unable to initialize table '{n}': Table does not exist (do you need to insmod?)"
            ))
        })?],
        None => vec![TableId::Filter, TableId::Nat],
    };
    let mut out = String::from("# Generated by linnet iptables-save\n");
    for id in ids {
        out.push_str(&list::save_table(&b.get_table(id)?.0));
    }
    out.push_str("# Completed\n");
    Ok(out)
}

/// iptables on a [`Stack`] in the same program, as the `linnet iptables` command drives a
/// daemon's.
pub trait Iptables {
    /// Run an iptables command line (the words after `iptables`) and return what it
    /// prints. On error nothing changes.
    fn iptables<S: AsRef<str>>(&mut self, argv: &[S], now: Instant) -> Result<String, NfError>;

    /// `iptables-save [-t table]`.
    fn iptables_save(&self, table: Option<&str>) -> Result<String, NfError>;

    /// `iptables-restore [--noflush]`: replace the tables named in `text` all at once; on
    /// any error nothing changes and the error names the line.
    fn iptables_restore(&mut self, text: &str, noflush: bool) -> Result<(), NfError>;
}

impl Iptables for Stack {
    fn iptables<S: AsRef<str>>(&mut self, argv: &[S], _now: Instant) -> Result<String, NfError> {
        do_command(self, argv)
    }

    fn iptables_save(&self, table: Option<&str>) -> Result<String, NfError> {
        save(&mut ReadOnly(self), table)
    }

    fn iptables_restore(&mut self, text: &str, noflush: bool) -> Result<(), NfError> {
        restore::restore(self, text, noflush)
    }
}

/// A stack read but not changed.
struct ReadOnly<'a>(&'a Stack);

impl Backend for ReadOnly<'_> {
    fn get_table(&mut self, id: TableId) -> Result<(Table, Option<u64>), NfError> {
        Ok((self.0.netfilter().table(id).clone(), None))
    }

    fn change(&mut self, _: TableId, _: Option<u64>, _: TableChange) -> Result<(), NfError> {
        Err(NfError::new("iptables: Permission denied (read only)."))
    }

    fn replace(&mut self, _: Vec<Table>) -> Result<(), NfError> {
        Err(NfError::new("iptables: Permission denied (read only)."))
    }
}

#[cfg(test)]
mod tests;
