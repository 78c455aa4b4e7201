//! Typed changes to a table, as iptables asks them of the kernel: one rule or chain at a time
//! (`iptables -A/-I/-R/-D/-F/-Z/-N/-X/-E/-P`), or whole tables put in place at once
//! (iptables-restore). Rules arrive typed, never as text: the text is iptables's business
//! (`linnet-tools`). Every change is checked as the kernel checks a table it is given, and a
//! failing change leaves the tables as they were.
//!
//! Linux: `IPT_SO_SET_REPLACE` (`do_replace` → `translate_table`: `check_entry`,
//! `mark_source_chains`, `check_target`), and the operations libiptc carries out on its copy
//! of a table before it replaces it (`iptc_append_entry`, `iptc_insert_entry`,
//! `iptc_replace_entry`, `iptc_delete_num_entry`, `iptc_delete_entry`, `iptc_flush_entries`,
//! `iptc_zero_entries`, `iptc_create_chain`, `iptc_delete_chain`, `iptc_rename_chain`,
//! `iptc_set_policy`).

use super::matches::RuleMatch;
use super::table::{Chain, Counters, Policy, Rule, Table, TableId};
use super::targets::Target;
use super::{Hook, Netfilter, NfError};
use crate::stack::Stack;
use serde::{Deserialize, Serialize};

/// Longest chain name (Linux: `XT_EXTENSION_MAXNAMELEN` - 1).
pub const MAX_CHAIN_NAME: usize = 28;

/// Most ports in one multiport match, a range counting two (Linux: `XT_MULTI_PORTS`).
pub const MAX_MULTIPORT: usize = 15;

/// Longest LOG prefix (Linux: `sizeof(xt_log_info.prefix)` - 1).
pub const MAX_LOG_PREFIX: usize = 29;

/// Longest comment (Linux: `XT_MAX_COMMENT_LEN` - 1).
pub const MAX_COMMENT: usize = 255;

/// Longest interface name in a rule (Linux: `IFNAMSIZ` - 1).
pub const MAX_IFNAME: usize = 15;

/// One change to one table. Rule numbers count from 1, as iptables's do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum TableChange {
    /// `-A chain rule`. Linux: `iptc_append_entry`.
    Append {
        /// The chain.
        chain: String,
        /// The rule.
        rule: Rule,
    },
    /// `-I chain [num] rule` (default: first). Linux: `iptc_insert_entry`.
    Insert {
        /// The chain.
        chain: String,
        /// Position the rule takes.
        num: Option<usize>,
        /// The rule.
        rule: Rule,
    },
    /// `-R chain num rule`. Linux: `iptc_replace_entry`.
    Replace {
        /// The chain.
        chain: String,
        /// The rule replaced.
        num: usize,
        /// The new rule.
        rule: Rule,
    },
    /// `-D chain num`. Linux: `iptc_delete_num_entry`.
    DeleteNum {
        /// The chain.
        chain: String,
        /// The rule deleted.
        num: usize,
    },
    /// `-D chain rule`: the first rule that is the same entry. Linux: `iptc_delete_entry`.
    DeleteRule {
        /// The chain.
        chain: String,
        /// The rule to find.
        rule: Rule,
    },
    /// `-F [chain]`. Linux: `iptc_flush_entries`.
    Flush {
        /// The chain, or all.
        chain: Option<String>,
    },
    /// `-Z [chain [num]]`. Linux: `iptc_zero_entries` / `iptc_zero_counter`.
    Zero {
        /// The chain, or all.
        chain: Option<String>,
        /// One rule of it.
        num: Option<usize>,
    },
    /// `-N chain`. Linux: `iptc_create_chain`.
    NewChain {
        /// Its name.
        name: String,
    },
    /// `-X [chain]`: one empty unreferenced user chain, or every user chain.
    /// Linux: `iptc_delete_chain`.
    DeleteChain {
        /// The chain, or all user chains.
        name: Option<String>,
    },
    /// `-E old new`. Linux: `iptc_rename_chain`.
    Rename {
        /// The chain.
        chain: String,
        /// Its new name.
        new: String,
    },
    /// `-P chain policy`. Linux: `iptc_set_policy`.
    Policy {
        /// A built-in chain.
        chain: String,
        /// The policy.
        policy: Policy,
    },
}

/// The error the kernel gives a malformed table or rule.
fn einval() -> NfError {
    NfError::new("iptables: Invalid argument. Run `dmesg' for more information.")
}

/// Whether `name` may name a user-defined chain, with iptables's error if not.
/// Linux userspace: the chain-name checks of `do_parse` (`-N`, `-E`).
pub fn check_chain_name(name: &str) -> Result<(), NfError> {
    if name.len() > MAX_CHAIN_NAME {
        return Err(NfError::param(format!(
            "chain name `{name}' too long (must be under {} chars)",
            MAX_CHAIN_NAME + 1
        )));
    }
    if name.is_empty() || name.starts_with('-') || name.starts_with('!') {
        return Err(NfError::param(format!(
            "chain name not allowed to start with `{}'",
            name.chars().next().unwrap_or('-')
        )));
    }
    if name.contains(char::is_whitespace) {
        return Err(NfError::param(format!("Invalid chain name `{name}'")));
    }
    if Target::NAMES.contains(&name) {
        return Err(NfError::param("chain name may not clash with target name"));
    }
    Ok(())
}

/// Whether the matches of a rule given from outside are well formed. Linux: `check_entry`
/// and each match's `checkentry` (xt_tcpudp, xt_multiport, xt_limit, xt_comment).
fn check_match(m: &RuleMatch) -> bool {
    let addr_ok = |a: &Option<super::matches::AddrMatch>| {
        a.as_ref()
            .is_none_or(|a| a.prefix <= 32 && u32::from(a.addr) & a.mask() == u32::from(a.addr))
    };
    let if_ok = |i: &Option<super::matches::IfMatch>| {
        i.as_ref()
            .is_none_or(|i| !i.name.is_empty() && i.name.len() <= MAX_IFNAME)
    };
    let range_ok = |r: &Option<(super::matches::PortRange, bool)>| {
        r.as_ref().is_none_or(|(r, _)| r.lo <= r.hi)
    };
    let multiport_ok = m.multiport.as_ref().is_none_or(|(_, ports, _)| {
        let slots: usize = ports.iter().map(|r| 1 + usize::from(r.lo != r.hi)).sum();
        !ports.is_empty() && slots <= MAX_MULTIPORT && ports.iter().all(|r| r.lo <= r.hi)
    });
    let limit_ok = m
        .limit
        .as_ref()
        .is_none_or(|l| l.count > 0 && l.per_secs > 0 && (1..=10_000).contains(&l.burst));
    addr_ok(&m.src)
        && addr_ok(&m.dst)
        && if_ok(&m.in_if)
        && if_ok(&m.out_if)
        && range_ok(&m.sport)
        && range_ok(&m.dport)
        && multiport_ok
        && limit_ok
        && m.comment.as_ref().is_none_or(|c| c.len() <= MAX_COMMENT)
}

impl Rule {
    /// Whether two rules are the same entry (counters and a limit's bucket aside), as
    /// `iptables -D/-C` finds a rule. Linux userspace: libiptc's `is_same`.
    pub fn same_entry(&self, o: &Rule) -> bool {
        self.m == o.m && self.target == o.target
    }

    /// Check a rule given from outside against a table of `nchains` chains: well-formed
    /// matches, target arguments in range, jumps to existing chains. Linux: `check_entry`,
    /// `check_match`, and the targets' `checkentry`.
    pub fn check_entry(&self, t: &Table) -> Result<(), NfError> {
        let nat_ok = |p: &Option<(u16, u16)>| p.is_none_or(|(a, b)| a != 0 && a <= b);
        let target_ok = match &self.target {
            Target::Jump(j) | Target::Goto(j) => t.chains.get(*j).is_some_and(|c| c.hook.is_none()),
            Target::Log { prefix, level } => prefix.len() <= MAX_LOG_PREFIX && *level <= 7,
            Target::Snat(r) | Target::Dnat(r) => {
                u32::from(r.min_ip) <= u32::from(r.max_ip) && nat_ok(&r.ports)
            }
            Target::Masquerade(p) | Target::Redirect(p) => nat_ok(p),
            _ => true,
        };
        if target_ok && check_match(&self.m) {
            Ok(())
        } else {
            Err(einval())
        }
    }
}

impl Table {
    /// The built-in chain called `name`, or iptables's error.
    pub fn builtin_chain_or_err(&self, name: &str) -> Result<usize, NfError> {
        self.chain_index(name)
            .filter(|&ci| self.chains[ci].hook.is_some())
            .ok_or_else(|| NfError::new("iptables: Bad built-in chain name."))
    }

    /// The position of the first rule of chain `ci` that is the same entry as `rule`.
    pub fn find_rule(&self, ci: usize, rule: &Rule) -> Option<usize> {
        self.chains[ci]
            .rules
            .iter()
            .position(|r| r.same_entry(rule))
    }

    /// Carry out one change; on error the table may be part-changed, so callers work on a
    /// copy ([`Stack::nf_change`] does).
    pub fn apply(&mut self, c: &TableChange) -> Result<(), NfError> {
        match c {
            TableChange::Append { chain, rule } => self.add_rule(chain, None, rule),
            TableChange::Insert { chain, num, rule } => {
                self.add_rule(chain, Some(num.unwrap_or(1)), rule)
            }
            TableChange::Replace { chain, num, rule } => self.replace_rule(chain, *num, rule),
            TableChange::DeleteNum { chain, num } => {
                let ci = self.chain_or_err(chain)?;
                if *num == 0 || *num > self.chains[ci].rules.len() {
                    return Err(NfError::new("iptables: Index of deletion too big."));
                }
                self.chains[ci].rules.remove(num - 1);
                Ok(())
            }
            TableChange::DeleteRule { chain, rule } => {
                let ci = self.chain_or_err(chain)?;
                let pos = self.find_rule(ci, rule).ok_or_else(bad_rule)?;
                self.chains[ci].rules.remove(pos);
                Ok(())
            }
            TableChange::Flush { chain } => {
                match chain {
                    Some(n) => {
                        let ci = self.chain_or_err(n)?;
                        self.chains[ci].rules.clear();
                    }
                    None => self.chains.iter_mut().for_each(|ch| ch.rules.clear()),
                }
                Ok(())
            }
            TableChange::Zero { chain, num } => self.zero(chain.as_deref(), *num),
            TableChange::NewChain { name } => {
                check_chain_name(name)?;
                if self.chain_index(name).is_some() {
                    return Err(NfError::new("iptables: Chain already exists."));
                }
                self.chains.push(Chain {
                    name: name.clone(),
                    hook: None,
                    policy: Policy::Accept,
                    policy_counters: Counters::default(),
                    rules: Vec::new(),
                    hdr: Vec::new(),
                });
                Ok(())
            }
            TableChange::DeleteChain { name } => self.delete_chains(name.as_deref()),
            TableChange::Rename { chain, new } => {
                let ci = self.chain_or_err(chain)?;
                if self.chains[ci].hook.is_some() {
                    return Err(einval());
                }
                check_chain_name(new)?;
                if self.chain_index(new).is_some() {
                    return Err(NfError::new("iptables: File exists."));
                }
                // Jumps hold the chain's index, so they follow the new name.
                self.chains[ci].name = new.clone();
                Ok(())
            }
            TableChange::Policy { chain, policy } => {
                let ci = self.builtin_chain_or_err(chain)?;
                self.chains[ci].policy = *policy;
                Ok(())
            }
        }
    }

    /// `-A` (`at` = None) or `-I` (`at` = position).
    fn add_rule(&mut self, chain: &str, at: Option<usize>, rule: &Rule) -> Result<(), NfError> {
        let ci = self.chain_or_err(chain)?;
        rule.check_entry(self)?;
        self.check_rule(ci, rule)?;
        let rules = &mut self.chains[ci].rules;
        match at {
            None => rules.push(rule.clone()),
            Some(n) => {
                if n == 0 || n > rules.len() + 1 {
                    return Err(NfError::new("iptables: Index of insertion too big."));
                }
                rules.insert(n - 1, rule.clone());
            }
        }
        Ok(())
    }

    /// `-R`.
    fn replace_rule(&mut self, chain: &str, n: usize, rule: &Rule) -> Result<(), NfError> {
        let ci = self.chain_or_err(chain)?;
        rule.check_entry(self)?;
        self.check_rule(ci, rule)?;
        let rules = &mut self.chains[ci].rules;
        if n == 0 || n > rules.len() {
            return Err(NfError::new("iptables: Index of replacement too big."));
        }
        rules[n - 1] = rule.clone();
        Ok(())
    }

    /// `-Z [chain [num]]`.
    fn zero(&mut self, chain: Option<&str>, num: Option<usize>) -> Result<(), NfError> {
        let zero = |ch: &mut Chain, num: Option<usize>| match num {
            Some(n) => {
                if let Some(r) = ch.rules.get_mut(n - 1) {
                    r.counters = Counters::default();
                }
            }
            None => {
                ch.policy_counters = Counters::default();
                ch.rules
                    .iter_mut()
                    .for_each(|r| r.counters = Counters::default());
            }
        };
        match chain {
            Some(n) => {
                let ci = self.chain_or_err(n)?;
                if num.is_some_and(|n| n == 0 || n > self.chains[ci].rules.len()) {
                    return Err(NfError::new("iptables: Index of deletion too big."));
                }
                zero(&mut self.chains[ci], num);
            }
            None => self.chains.iter_mut().for_each(|ch| zero(ch, None)),
        }
        Ok(())
    }

    /// `-X [chain]`.
    fn delete_chains(&mut self, name: Option<&str>) -> Result<(), NfError> {
        let victims: Vec<usize> = match name {
            Some(n) => {
                let ci = self.chain_or_err(n)?;
                if self.chains[ci].hook.is_some() {
                    return Err(einval());
                }
                if self.references(ci) > 0 {
                    return Err(NfError::new("iptables: Too many links."));
                }
                if !self.chains[ci].rules.is_empty() {
                    return Err(NfError::new("iptables: Directory not empty."));
                }
                vec![ci]
            }
            None => {
                // As iptables -X: all user chains, which must be unreferenced from the
                // built-in chains and empty.
                let user: Vec<usize> = (0..self.chains.len())
                    .filter(|&i| self.chains[i].hook.is_none())
                    .collect();
                for &ci in &user {
                    let refs_from_builtin = self
                        .chains
                        .iter()
                        .filter(|ch| ch.hook.is_some())
                        .flat_map(|ch| ch.rules.iter())
                        .any(|r| matches!(r.target, Target::Jump(j) | Target::Goto(j) if j == ci));
                    if refs_from_builtin {
                        return Err(NfError::new("iptables: Too many links."));
                    }
                    if !self.chains[ci].rules.is_empty() {
                        return Err(NfError::new("iptables: Directory not empty."));
                    }
                }
                user
            }
        };
        for ci in victims.into_iter().rev() {
            self.chains.remove(ci);
            self.renumber_after_delete(ci);
        }
        Ok(())
    }

    /// Check a whole table given from outside: its built-in chains in place, user chains
    /// well named and unique, every rule well formed, no loop, and every target only where
    /// its hooks and table allow it. Linear in the size of the table.
    /// Linux: `translate_table` (`check_entry_size_and_hooks`, `mark_source_chains`,
    /// `find_check_entry`).
    pub fn translate(&self) -> Result<(), NfError> {
        let builtin = self.id.builtin();
        if self.chains.len() < builtin.len() {
            return Err(einval());
        }
        for (k, c) in self.chains.iter().enumerate() {
            let ok = match builtin.get(k) {
                Some((name, hook)) => c.name == *name && c.hook == Some(*hook),
                None => {
                    c.hook.is_none()
                        && check_chain_name(&c.name).is_ok()
                        && self.chain_index(&c.name) == Some(k)
                }
            };
            if !ok {
                return Err(einval());
            }
            for r in &c.rules {
                r.check_entry(self)?;
            }
        }
        self.mark_source_chains()?;
        for (hook, reached) in self.hooks_reaching() {
            for (ci, c) in self.chains.iter().enumerate() {
                if !reached[ci] {
                    continue;
                }
                for r in &c.rules {
                    check_target_hook(self.id, &r.target, hook)?;
                }
            }
        }
        for r in self.chains.iter().flat_map(|c| c.rules.iter()) {
            check_target_table(self.id, &r.target)?;
        }
        Ok(())
    }

    /// Refuse a loop of jumps and gotos (a depth-first walk colouring chains).
    /// Linux: `mark_source_chains`.
    fn mark_source_chains(&self) -> Result<(), NfError> {
        // 0: unseen, 1: on the current path, 2: done.
        let mut colour = vec![0u8; self.chains.len()];
        for start in 0..self.chains.len() {
            if colour[start] != 0 {
                continue;
            }
            // (chain, next rule to look at)
            let mut path = vec![(start, 0usize)];
            colour[start] = 1;
            while let Some(&mut (ci, ref mut pos)) = path.last_mut() {
                let next = self.chains[ci].rules[*pos..]
                    .iter()
                    .position(|r| matches!(r.target, Target::Jump(_) | Target::Goto(_)));
                let Some(k) = next else {
                    colour[ci] = 2;
                    path.pop();
                    continue;
                };
                let j = match self.chains[ci].rules[*pos + k].target {
                    Target::Jump(j) | Target::Goto(j) => j,
                    _ => unreachable!("found a jump"),
                };
                *pos += k + 1;
                match colour[j] {
                    1 => return Err(NfError::new("iptables: Too many levels of symbolic links.")),
                    0 => {
                        colour[j] = 1;
                        path.push((j, 0));
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    /// For each built-in chain's hook, which chains it reaches.
    fn hooks_reaching(&self) -> Vec<(Hook, Vec<bool>)> {
        let mut out = Vec::new();
        for (ci, c) in self.chains.iter().enumerate() {
            let Some(hook) = c.hook else { continue };
            let mut seen = vec![false; self.chains.len()];
            let mut todo = vec![ci];
            while let Some(i) = todo.pop() {
                if std::mem::replace(&mut seen[i], true) {
                    continue;
                }
                for r in &self.chains[i].rules {
                    if let Target::Jump(j) | Target::Goto(j) = r.target {
                        todo.push(j);
                    }
                }
            }
            out.push((hook, seen));
        }
        out
    }
}

use super::table::{check_target_hook, check_target_table};

/// iptables's error for `-D`/`-C` of a rule not in the chain.
pub fn bad_rule() -> NfError {
    NfError::new("iptables: Bad rule (does a matching rule exist in that chain?).")
}

impl Netfilter {
    /// Carry out one change on table `id`, all or nothing. `gen`, when given, is the
    /// [`super::Netfilter::generation`] the change was made against (its rule numbers and
    /// jumps count chains as they were then): if the tables changed since, nothing is done
    /// and the error is [`NfError::again`]. Linux: libiptc's change + `IPT_SO_SET_REPLACE`.
    pub(crate) fn nf_change(
        &mut self,
        id: TableId,
        gen: Option<u64>,
        change: &TableChange,
    ) -> Result<(), NfError> {
        if gen.is_some_and(|g| g != self.gen) {
            return Err(NfError::again());
        }
        // Work on a copy: a failing change leaves the table as it was.
        let mut t = self.table(id).clone();
        t.apply(change)?;
        *self.table_mut(id) = t;
        self.gen += 1;
        self.refresh();
        Ok(())
    }

    /// Put whole tables in place at once (iptables-restore), after checking each as the
    /// kernel does; on any error nothing changes. Linux: `IPT_SO_SET_REPLACE` (`do_replace`).
    pub(crate) fn nf_replace(&mut self, tables: Vec<Table>) -> Result<(), NfError> {
        for t in &tables {
            t.translate()?;
        }
        for t in tables {
            let id = t.id;
            *self.table_mut(id) = t;
        }
        self.gen += 1;
        self.refresh();
        Ok(())
    }
}

impl Stack {
    /// Carry out one change on table `id`, all or nothing, unless the tables moved past
    /// generation `gen` ([`NfError::again`]). Linux: libiptc's change + `IPT_SO_SET_REPLACE`.
    pub fn nf_change(
        &mut self,
        id: TableId,
        gen: Option<u64>,
        change: &TableChange,
    ) -> Result<(), NfError> {
        self.nf.nf_change(id, gen, change)
    }

    /// Put whole tables in place at once (iptables-restore); on any error nothing changes.
    /// Linux: `IPT_SO_SET_REPLACE` (`do_replace`).
    pub fn nf_replace(&mut self, tables: Vec<Table>) -> Result<(), NfError> {
        self.nf.nf_replace(tables)
    }
}

#[cfg(test)]
mod tests {
    use super::super::matches::{proto, AddrMatch, PortRange};
    use super::super::targets::NatRange;
    use super::*;
    use crate::wire::Ipv4Addr;

    fn rule(dport: Option<u16>, target: Target) -> Rule {
        Rule {
            m: RuleMatch {
                proto: dport.map(|_| (proto::TCP, false)),
                dport: dport.map(|p| (PortRange { lo: p, hi: p }, false)),
                ..RuleMatch::default()
            },
            target,
            counters: Counters::default(),
        }
    }

    fn append(chain: &str, r: Rule) -> TableChange {
        TableChange::Append {
            chain: chain.into(),
            rule: r,
        }
    }

    #[test]
    fn changes_apply_all_or_nothing_and_hooks_follow_the_rules() {
        let mut s = Stack::default();
        assert!(!s.netfilter().is_active());
        let g0 = s.netfilter().generation();
        s.nf_change(
            TableId::Filter,
            Some(g0),
            &append("INPUT", rule(Some(22), Target::Accept)),
        )
        .unwrap();
        assert!(s.netfilter().is_active() && !s.netfilter().conntrack_active());
        // A change made against an older generation is refused.
        let e = s
            .nf_change(
                TableId::Filter,
                Some(g0),
                &TableChange::Flush { chain: None },
            )
            .unwrap_err();
        assert_eq!(e, NfError::again());
        assert_eq!(
            s.netfilter().table(TableId::Filter).chains[0].rules.len(),
            1
        );
        // A failing change changes nothing.
        let before = s.netfilter().table(TableId::Filter).clone();
        let e = s
            .nf_change(
                TableId::Filter,
                None,
                &append("nosuch", rule(None, Target::Drop)),
            )
            .unwrap_err();
        assert_eq!(e.message, "iptables: Chain 'nosuch' does not exist");
        let e = s
            .nf_change(
                TableId::Filter,
                None,
                &TableChange::Insert {
                    chain: "INPUT".into(),
                    num: Some(3),
                    rule: rule(None, Target::Drop),
                },
            )
            .unwrap_err();
        assert_eq!(e.message, "iptables: Index of insertion too big.");
        assert_eq!(s.netfilter().table(TableId::Filter), &before);
        s.nf_change(
            TableId::Filter,
            None,
            &TableChange::DeleteRule {
                chain: "INPUT".into(),
                rule: rule(Some(22), Target::Accept),
            },
        )
        .unwrap();
        assert!(!s.netfilter().is_active());
        s.nf_change(
            TableId::Nat,
            None,
            &append("POSTROUTING", rule(None, Target::Masquerade(None))),
        )
        .unwrap();
        assert!(s.netfilter().conntrack_active());
    }

    #[test]
    fn rules_from_outside_are_checked_as_the_kernel_checks_them() {
        let t = Table::new(TableId::Filter);
        let mut bad = rule(None, Target::Accept);
        bad.m.src = Some(AddrMatch {
            addr: Ipv4Addr::new(192, 0, 2, 1),
            prefix: 24,
            invert: false,
        });
        assert!(bad.check_entry(&t).is_err(), "address not masked");
        bad.m.src.as_mut().unwrap().prefix = 40;
        assert!(bad.check_entry(&t).is_err(), "prefix beyond 32");
        assert!(
            rule(None, Target::Jump(0)).check_entry(&t).is_err(),
            "jump to INPUT"
        );
        assert!(
            rule(None, Target::Jump(9)).check_entry(&t).is_err(),
            "no chain 9"
        );
        let backwards = Target::Dnat(NatRange {
            min_ip: Ipv4Addr::new(192, 0, 2, 9),
            max_ip: Ipv4Addr::new(192, 0, 2, 1),
            ports: None,
        });
        assert!(rule(None, backwards).check_entry(&t).is_err());
        assert!(rule(Some(80), Target::Drop).check_entry(&t).is_ok());
    }

    #[test]
    fn replace_checks_the_whole_table() {
        let mut s = Stack::default();
        let mut t = Table::new(TableId::Filter);
        t.apply(&TableChange::NewChain { name: "a".into() })
            .unwrap();
        t.apply(&TableChange::NewChain { name: "b".into() })
            .unwrap();
        t.apply(&append("INPUT", rule(None, Target::Jump(3))))
            .unwrap();
        t.apply(&append("a", rule(None, Target::Goto(4)))).unwrap();
        assert!(t.translate().is_ok());
        let mut looped = t.clone();
        looped.chains[4].rules.push(rule(None, Target::Jump(3)));
        let e = s.nf_replace(vec![looped]).unwrap_err();
        assert_eq!(e.message, "iptables: Too many levels of symbolic links.");
        let mut nat_in_filter = t.clone();
        nat_in_filter.chains[4]
            .rules
            .push(rule(None, Target::Masquerade(None)));
        let e = s.nf_replace(vec![nat_in_filter]).unwrap_err();
        assert_eq!(
            e.message,
            "iptables: MASQUERADE target: only valid in nat table."
        );
        let mut reject_in_prerouting = Table::new(TableId::Nat);
        reject_in_prerouting.chains[0].rules.push(rule(
            None,
            Target::Reject(super::super::targets::RejectWith::PortUnreachable),
        ));
        assert!(s.nf_replace(vec![reject_in_prerouting]).is_err());
        let mut renamed = t.clone();
        renamed.chains[0].name = "OUTPUT".into();
        assert!(s.nf_replace(vec![renamed]).is_err());
        assert!(!s.netfilter().is_active(), "nothing was put in place");
        s.nf_replace(vec![t.clone()]).unwrap();
        assert_eq!(s.netfilter().table(TableId::Filter), &t);
        assert!(s.netfilter().is_active());
    }
}
