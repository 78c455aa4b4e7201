//! Tables, chains, rules and their counters, and the walk through them.
//!
//! Linux: net/ipv4/netfilter/ip_tables.c (`ipt_do_table`, the jump stack, chain policies),
//! iptable_filter.c and iptable_nat.c (the built-in chains of each table), and the
//! `IPT_SO_SET_REPLACE` checks (`mark_source_chains`, `check_target`).

use super::matches::{MatchCtx, PktInfo, RuleMatch};
use super::targets::{log_line, Target};
use super::{Hook, NfError};
use crate::time::Instant;
use serde::{Deserialize, Serialize};

/// Deepest chain nesting a walk follows. Linux bounds it by the number of chains; a loop is
/// refused when rules are added, so this only guards the walk.
pub const MAX_JUMP_DEPTH: usize = 64;

/// Packet and byte counters. Linux: `struct xt_counters`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    /// Packets.
    pub packets: u64,
    /// Bytes.
    pub bytes: u64,
}

impl Counters {
    fn add(&mut self, bytes: usize) {
        self.packets += 1;
        self.bytes += bytes as u64;
    }
}

/// A rule. Linux: `struct ipt_entry` with its matches and target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    /// What it matches.
    pub m: RuleMatch,
    /// What it does.
    pub target: Target,
    /// How many packets and bytes it matched.
    pub counters: Counters,
}

/// The IPv4 header part of a rule (`-s`, `-d`, `-p`), packed into 20 bytes so a walk can
/// reject most rules without touching the rest: a 1,000-rule chain's headers fit in L1.
/// Linux: `struct ipt_ip`, tested by `ip_packet_match` before any match extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HdrMatch {
    src: u32,
    smask: u32,
    dst: u32,
    dmask: u32,
    proto: u8,
    flags: u8,
}

impl HdrMatch {
    const INV_SRC: u8 = 1;
    const INV_DST: u8 = 2;
    const INV_PROTO: u8 = 4;
    const HAS_PROTO: u8 = 8;

    /// The header part of `m`.
    pub fn from_rule(m: &RuleMatch) -> HdrMatch {
        let mut h = HdrMatch::default();
        if let Some(a) = &m.src {
            (h.src, h.smask) = (u32::from(a.addr), a.mask());
            h.flags |= if a.invert { Self::INV_SRC } else { 0 };
        }
        if let Some(a) = &m.dst {
            (h.dst, h.dmask) = (u32::from(a.addr), a.mask());
            h.flags |= if a.invert { Self::INV_DST } else { 0 };
        }
        if let Some((p, inv)) = m.proto {
            h.proto = p;
            h.flags |= Self::HAS_PROTO | if inv { Self::INV_PROTO } else { 0 };
        }
        h
    }

    /// Whether a packet with these addresses and protocol can match the rule.
    #[inline]
    pub fn matches(&self, src: u32, dst: u32, proto: u8) -> bool {
        ((src & self.smask == self.src) != (self.flags & Self::INV_SRC != 0))
            && ((dst & self.dmask == self.dst) != (self.flags & Self::INV_DST != 0))
            && (self.flags & Self::HAS_PROTO == 0
                || (proto == self.proto) != (self.flags & Self::INV_PROTO != 0))
    }
}

/// A built-in chain's policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Policy {
    /// ACCEPT.
    Accept,
    /// DROP.
    Drop,
}

/// A chain. Two chains are equal when their contents are (the compiled header parts aside).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chain {
    /// Name.
    pub name: String,
    /// The hook a built-in chain is attached to; `None` for a user-defined chain.
    pub hook: Option<Hook>,
    /// Policy (built-in chains only).
    pub policy: Policy,
    /// Packets that fell off the end to the policy.
    pub policy_counters: Counters,
    /// Rules in order.
    pub rules: Vec<Rule>,
    /// The rules' header parts, rebuilt by [`Table::compile`] (ignored when out of date).
    #[serde(skip)]
    pub hdr: Vec<HdrMatch>,
}

impl PartialEq for Chain {
    fn eq(&self, o: &Chain) -> bool {
        (
            &self.name,
            self.hook,
            self.policy,
            self.policy_counters,
            &self.rules,
        ) == (&o.name, o.hook, o.policy, o.policy_counters, &o.rules)
    }
}

impl Eq for Chain {}

/// The tables Linnet has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TableId {
    /// `filter`.
    Filter,
    /// `nat`.
    Nat,
}

impl TableId {
    /// The name.
    pub fn name(self) -> &'static str {
        match self {
            TableId::Filter => "filter",
            TableId::Nat => "nat",
        }
    }

    /// The table called `s`.
    pub fn from_name(s: &str) -> Option<TableId> {
        match s {
            "filter" => Some(TableId::Filter),
            "nat" => Some(TableId::Nat),
            _ => None,
        }
    }

    /// The built-in chains, in iptables's order. Linux: `FILTER_VALID_HOOKS`,
    /// `NAT_VALID_HOOKS`.
    pub fn builtin(self) -> &'static [(&'static str, Hook)] {
        match self {
            TableId::Filter => &[
                ("INPUT", Hook::LocalIn),
                ("FORWARD", Hook::Forward),
                ("OUTPUT", Hook::LocalOut),
            ],
            TableId::Nat => &[
                ("PREROUTING", Hook::PreRouting),
                ("INPUT", Hook::LocalIn),
                ("OUTPUT", Hook::LocalOut),
                ("POSTROUTING", Hook::PostRouting),
            ],
        }
    }
}

/// What a walk through a table decided. Linux: the verdict `ipt_do_table` returns, with the
/// NAT targets' setup requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableVerdict {
    /// Let it through.
    Accept,
    /// Drop it.
    Drop,
    /// Drop it and answer.
    Reject(super::targets::RejectWith),
    /// A NAT target matched (nat table).
    Nat(super::nat::NatAction),
}

/// A table. Linux: `struct xt_table` + its `xt_table_info`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Which.
    pub id: TableId,
    /// Built-in chains first, then user-defined ones in creation order.
    pub chains: Vec<Chain>,
}

impl Table {
    /// A table with its built-in chains, empty, policy ACCEPT.
    pub fn new(id: TableId) -> Table {
        Table {
            id,
            chains: id
                .builtin()
                .iter()
                .map(|(n, h)| Chain {
                    name: (*n).into(),
                    hook: Some(*h),
                    policy: Policy::Accept,
                    policy_counters: Counters::default(),
                    rules: Vec::new(),
                    hdr: Vec::new(),
                })
                .collect(),
        }
    }

    /// Rebuild every chain's packed header matches after a change.
    pub fn compile(&mut self) {
        for c in &mut self.chains {
            c.hdr.clear();
            c.hdr
                .extend(c.rules.iter().map(|r| HdrMatch::from_rule(&r.m)));
        }
    }

    /// Whether the table does anything: a rule somewhere or a DROP policy.
    pub fn is_active(&self) -> bool {
        self.chains
            .iter()
            .any(|c| !c.rules.is_empty() || c.policy == Policy::Drop)
    }

    /// Whether any rule needs conntrack.
    pub fn needs_conntrack(&self) -> bool {
        self.id == TableId::Nat && self.chains.iter().any(|c| !c.rules.is_empty())
            || self
                .chains
                .iter()
                .any(|c| c.rules.iter().any(|r| r.m.needs_conntrack()))
    }

    /// The index of the chain called `name`.
    pub fn chain_index(&self, name: &str) -> Option<usize> {
        self.chains.iter().position(|c| c.name == name)
    }

    /// The chain called `name`, or iptables's error.
    pub fn chain_or_err(&self, name: &str) -> Result<usize, NfError> {
        self.chain_index(name)
            .ok_or_else(|| NfError::new(format!("iptables: Chain '{name}' does not exist")))
    }

    /// The built-in chain at `hook`, if the table has one.
    pub fn hook_chain(&self, hook: Hook) -> Option<usize> {
        self.chains.iter().position(|c| c.hook == Some(hook))
    }

    /// How many rules jump or go to chain `idx`.
    pub fn references(&self, idx: usize) -> usize {
        self.chains
            .iter()
            .flat_map(|c| c.rules.iter())
            .filter(|r| matches!(r.target, Target::Jump(j) | Target::Goto(j) if j == idx))
            .count()
    }

    /// The hooks from which chain `idx` can be reached. Linux: `mark_source_chains`.
    fn reachable_hooks(&self, idx: usize) -> Vec<Hook> {
        let mut hooks = Vec::new();
        for (i, c) in self.chains.iter().enumerate() {
            if let Some(h) = c.hook {
                if self.reaches(i, idx, 0) {
                    hooks.push(h);
                }
            }
        }
        hooks
    }

    fn reaches(&self, from: usize, to: usize, depth: usize) -> bool {
        if from == to {
            return true;
        }
        if depth > self.chains.len() {
            return false;
        }
        self.chains[from].rules.iter().any(|r| match r.target {
            Target::Jump(j) | Target::Goto(j) => self.reaches(j, to, depth + 1),
            _ => false,
        })
    }

    /// Check that adding `rule` to chain `idx` keeps the table valid: no loop, and a target
    /// only where its hooks allow it. Linux: `mark_source_chains` ("loop detected") and
    /// `xt_check_target` ("only valid in ... table" / hook mask).
    pub fn check_rule(&self, idx: usize, rule: &Rule) -> Result<(), NfError> {
        if let Target::Jump(j) | Target::Goto(j) = rule.target {
            if self.reaches(j, idx, 0) {
                return Err(NfError::new("iptables: Too many levels of symbolic links."));
            }
            // The target chain must accept every hook this chain is reached from.
            let mut hooks = self.reachable_hooks(idx);
            if let Some(h) = self.chains[idx].hook {
                hooks.push(h);
            }
            for r in self.subtree_rules(j) {
                for h in &hooks {
                    check_target_hook(self.id, &r.target, *h)?;
                }
            }
            return Ok(());
        }
        let mut hooks = self.reachable_hooks(idx);
        if let Some(h) = self.chains[idx].hook {
            hooks.push(h);
        }
        for h in hooks {
            check_target_hook(self.id, &rule.target, h)?;
        }
        check_target_table(self.id, &rule.target)
    }

    fn subtree_rules(&self, idx: usize) -> Vec<&Rule> {
        let mut out = Vec::new();
        let mut seen = vec![false; self.chains.len()];
        let mut todo = vec![idx];
        while let Some(i) = todo.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            for r in &self.chains[i].rules {
                match r.target {
                    Target::Jump(j) | Target::Goto(j) => todo.push(j),
                    _ => out.push(r),
                }
            }
        }
        out
    }

    /// Walk the built-in chain of `hook` for packet `p`, counting matches, logging for LOG,
    /// following jumps, gotos and returns, and return the verdict. A table without a chain
    /// at `hook` accepts. Linux: `ipt_do_table`.
    pub fn ipt_do_table(
        &mut self,
        hook: Hook,
        p: &PktInfo,
        ctx: &MatchCtx,
        now: Instant,
        log: &mut super::NfLog,
    ) -> TableVerdict {
        let Some(base) = self.hook_chain(hook) else {
            return TableVerdict::Accept;
        };
        // (chain, next rule) frames to return to; fixed-size, no allocation per packet.
        let mut stack = [(0usize, 0usize); MAX_JUMP_DEPTH];
        let mut depth = 0;
        let (mut chain, mut pos) = (base, 0);
        let (src, dst) = (u32::from(p.src), u32::from(p.dst));
        loop {
            let c = &mut self.chains[chain];
            if pos >= c.rules.len() {
                if chain == base || depth == 0 && c.hook.is_some() {
                    c.policy_counters.add(p.len);
                    return match c.policy {
                        Policy::Accept => TableVerdict::Accept,
                        Policy::Drop => TableVerdict::Drop,
                    };
                }
                // Implicit RETURN at the end of a user-defined chain.
                if depth == 0 {
                    (chain, pos) = (base, usize::MAX);
                    continue;
                }
                depth -= 1;
                (chain, pos) = stack[depth];
                continue;
            }
            if c.hdr.len() == c.rules.len() {
                // Skip to the next rule whose header part can match.
                match c.hdr[pos..]
                    .iter()
                    .position(|h| h.matches(src, dst, p.proto))
                {
                    Some(k) => pos += k,
                    None => {
                        pos = c.rules.len();
                        continue;
                    }
                }
            }
            let idx = pos;
            pos += 1;
            let rule = &mut c.rules[idx];
            if !rule.m.matches(p, ctx, now) {
                continue;
            }
            rule.counters.add(p.len);
            match &rule.target {
                Target::None => {}
                Target::Accept => return TableVerdict::Accept,
                Target::Drop => return TableVerdict::Drop,
                Target::Reject(w) => return TableVerdict::Reject(*w),
                Target::Log { prefix, level } => {
                    log.log(*level, log_line(prefix, p, ctx.in_dev, ctx.out_dev));
                }
                Target::Snat(r) => return TableVerdict::Nat(super::nat::NatAction::Snat(*r)),
                Target::Dnat(r) => return TableVerdict::Nat(super::nat::NatAction::Dnat(*r)),
                Target::Masquerade(ports) => {
                    return TableVerdict::Nat(super::nat::NatAction::Masquerade(*ports))
                }
                Target::Redirect(ports) => {
                    return TableVerdict::Nat(super::nat::NatAction::Redirect(*ports))
                }
                Target::Return => {
                    if depth == 0 {
                        // RETURN from a built-in chain (or a chain gone to from it): policy.
                        (chain, pos) = (base, usize::MAX);
                    } else {
                        depth -= 1;
                        (chain, pos) = stack[depth];
                    }
                }
                Target::Jump(j) => {
                    if depth >= MAX_JUMP_DEPTH {
                        return TableVerdict::Drop;
                    }
                    stack[depth] = (chain, pos);
                    depth += 1;
                    (chain, pos) = (*j, 0);
                }
                Target::Goto(j) => {
                    (chain, pos) = (*j, 0);
                }
            }
        }
    }

    /// Renumber jumps after chain `removed` was deleted.
    pub fn renumber_after_delete(&mut self, removed: usize) {
        for c in &mut self.chains {
            for r in &mut c.rules {
                if let Target::Jump(j) | Target::Goto(j) = &mut r.target {
                    if *j > removed {
                        *j -= 1;
                    }
                }
            }
        }
    }
}

/// The error iptables prints for a target used in the wrong table.
fn target_table_error(t: &Target, table: &str) -> NfError {
    NfError::new(format!(
        "iptables: {} target: only valid in {table} table.",
        t.name()
    ))
}

/// Whether `target` may be used in table `table`. Linux: each target's `table`.
pub(crate) fn check_target_table(table: TableId, target: &Target) -> Result<(), NfError> {
    if table == TableId::Filter
        && matches!(
            target,
            Target::Snat(_) | Target::Dnat(_) | Target::Masquerade(_) | Target::Redirect(_)
        )
    {
        return Err(target_table_error(target, "nat"));
    }
    if table == TableId::Nat && matches!(target, Target::Reject(_)) {
        return Err(target_table_error(target, "filter"));
    }
    Ok(())
}

/// Whether `target` may be used at `hook`. Linux: each target's `hooks` mask.
pub(crate) fn check_target_hook(
    table: TableId,
    target: &Target,
    hook: Hook,
) -> Result<(), NfError> {
    let ok = match target {
        Target::Snat(_) => matches!(hook, Hook::PostRouting | Hook::LocalIn),
        Target::Masquerade(_) => hook == Hook::PostRouting,
        Target::Dnat(_) | Target::Redirect(_) => {
            matches!(hook, Hook::PreRouting | Hook::LocalOut)
        }
        Target::Reject(_) => {
            matches!(hook, Hook::LocalIn | Hook::Forward | Hook::LocalOut)
        }
        _ => true,
    };
    if ok {
        return Ok(());
    }
    let want = match target {
        Target::Reject(_) => "filter",
        _ => "nat",
    };
    if table.name() != want {
        return Err(target_table_error(target, want));
    }
    Err(NfError::new(format!(
        "iptables: {} target: used from a chain hooked at {}, where it is not valid.",
        target.name(),
        hook.chain_name()
    )))
}

#[cfg(test)]
mod tests {
    use super::super::matches::{proto, PortRange};
    use super::*;
    use crate::wire::Ipv4Addr;

    fn pkt(dport: u16) -> PktInfo {
        PktInfo {
            src: Ipv4Addr::new(192, 0, 2, 2),
            dst: Ipv4Addr::new(192, 0, 2, 1),
            proto: proto::TCP,
            len: 60,
            has_l4: true,
            dport,
            ..PktInfo::default()
        }
    }

    fn rule(dport: Option<u16>, target: Target) -> Rule {
        Rule {
            m: RuleMatch {
                dport: dport.map(|p| (PortRange { lo: p, hi: p }, false)),
                ..RuleMatch::default()
            },
            target,
            counters: Counters::default(),
        }
    }

    const CTX: MatchCtx = MatchCtx {
        in_dev: "eth0",
        out_dev: "",
        ctstate: 0,
    };

    fn walk(t: &mut Table, dport: u16) -> TableVerdict {
        let mut log = super::super::NfLog::default();
        t.ipt_do_table(Hook::LocalIn, &pkt(dport), &CTX, Instant::ZERO, &mut log)
    }

    #[test]
    fn first_match_wins_counters_and_policy() {
        let mut t = Table::new(TableId::Filter);
        t.chains[0].rules.push(rule(Some(22), Target::Accept));
        t.chains[0].rules.push(rule(None, Target::Drop));
        assert_eq!(walk(&mut t, 22), TableVerdict::Accept);
        assert_eq!(walk(&mut t, 80), TableVerdict::Drop);
        assert_eq!(walk(&mut t, 80), TableVerdict::Drop);
        assert_eq!(t.chains[0].rules[0].counters.packets, 1);
        assert_eq!(t.chains[0].rules[1].counters.packets, 2);
        assert_eq!(t.chains[0].rules[1].counters.bytes, 120);
        t.chains[0].rules.pop();
        t.chains[0].policy = Policy::Drop;
        assert_eq!(walk(&mut t, 80), TableVerdict::Drop);
        assert_eq!(t.chains[0].policy_counters.packets, 1);
    }

    #[test]
    fn jump_return_and_goto() {
        let mut t = Table::new(TableId::Filter);
        for n in ["a", "b"] {
            t.chains.push(Chain {
                name: n.into(),
                hook: None,
                policy: Policy::Accept,
                policy_counters: Counters::default(),
                rules: Vec::new(),
                hdr: Vec::new(),
            });
        }
        let (a, b) = (3, 4);
        // INPUT: -j a; then DROP port 80. a: RETURN for 80, ACCEPT 22, -g b. b: DROP 23.
        t.chains[0].rules.push(rule(None, Target::Jump(a)));
        t.chains[0].rules.push(rule(Some(80), Target::Drop));
        t.chains[a].rules.push(rule(Some(80), Target::Return));
        t.chains[a].rules.push(rule(Some(22), Target::Accept));
        t.chains[a].rules.push(rule(None, Target::Goto(b)));
        t.chains[b].rules.push(rule(Some(23), Target::Drop));
        t.chains[0].policy = Policy::Drop;
        assert_eq!(walk(&mut t, 22), TableVerdict::Accept);
        assert_eq!(
            walk(&mut t, 80),
            TableVerdict::Drop,
            "RETURN, then INPUT's DROP"
        );
        assert_eq!(walk(&mut t, 23), TableVerdict::Drop);
        // Falling off b (reached by goto from a) returns past a: INPUT continues after -j a,
        // then its policy.
        t.chains[0].policy = Policy::Accept;
        assert_eq!(walk(&mut t, 5), TableVerdict::Accept);
        assert_eq!(t.chains[0].policy_counters.packets, 1);
        assert_eq!(t.references(a), 1);
        // A loop is refused.
        assert!(t.check_rule(b, &rule(None, Target::Jump(a))).is_err());
    }

    #[test]
    fn packed_header_matches_agree_with_the_rule() {
        use super::super::matches::AddrMatch;
        let m = RuleMatch {
            src: Some(AddrMatch {
                addr: Ipv4Addr::new(192, 0, 2, 0),
                prefix: 24,
                invert: true,
            }),
            proto: Some((proto::UDP, false)),
            ..RuleMatch::default()
        };
        let h = HdrMatch::from_rule(&m);
        let a = |x: [u8; 4]| u32::from(Ipv4Addr::from(x));
        assert!(!h.matches(a([192, 0, 2, 9]), 0, proto::UDP), "! -s");
        assert!(h.matches(a([198, 51, 100, 9]), 0, proto::UDP));
        assert!(!h.matches(a([198, 51, 100, 9]), 0, proto::TCP), "-p udp");
        assert!(HdrMatch::from_rule(&RuleMatch::default()).matches(1, 2, 3));
    }

    #[test]
    fn nat_targets_only_where_linux_allows_them() {
        let t = Table::new(TableId::Nat);
        let r = NatRangeRule::dnat();
        assert!(t.check_rule(0, &r).is_ok(), "DNAT in PREROUTING");
        let e = t.check_rule(3, &r).unwrap_err();
        assert!(e.to_string().contains("DNAT"), "{e}");
        let f = Table::new(TableId::Filter);
        let e = f.check_rule(0, &r).unwrap_err();
        assert!(e.to_string().contains("only valid in nat table"), "{e}");
    }

    struct NatRangeRule;
    impl NatRangeRule {
        fn dnat() -> Rule {
            rule(
                None,
                Target::Dnat(super::super::targets::NatRange {
                    min_ip: Ipv4Addr::new(192, 0, 2, 9),
                    max_ip: Ipv4Addr::new(192, 0, 2, 9),
                    ports: None,
                }),
            )
        }
    }
}
