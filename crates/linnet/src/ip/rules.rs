//! Policy routing rules (`ip rule`): which table a route lookup consults, chosen by source,
//! destination, input interface and firewall mark, in priority order.
//!
//! Linux: net/core/fib_rules.c (`fib_rules_lookup`, `fib_nl_newrule`, `fib_nl_delrule`,
//! `fib_default_rule_pref`) and net/ipv4/fib_rules.c (`fib4_rule_match`, `fib4_rule_action`,
//! `fib_default_rules_init`).

use super::fib::{Fib, Route, RT_TABLE_DEFAULT, RT_TABLE_LOCAL, RT_TABLE_MAIN};
use super::route::Flowi4;
use crate::errno::Errno;
use crate::wire::Ipv4Cidr;
use serde::{Deserialize, Serialize};

/// What a matching rule does. Linux: `FR_ACT_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Look the destination up in this table; go on to the next rule if it has no route.
    /// Linux: `FR_ACT_TO_TBL`.
    Lookup(u32),
    /// Discard silently (EINVAL locally). Linux: `FR_ACT_BLACKHOLE`.
    Blackhole,
    /// Discard as network unreachable. Linux: `FR_ACT_UNREACHABLE`.
    Unreachable,
    /// Discard as administratively prohibited (EACCES locally). Linux: `FR_ACT_PROHIBIT`.
    Prohibit,
}

/// A firewall mark selector: matches when `(mark ^ value) & mask == 0` (`fwmark value/mask`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FwMark {
    /// Mark value.
    pub value: u32,
    /// Bits compared (`ip rule add fwmark 1` compares all 32).
    pub mask: u32,
}

/// A policy routing rule. Linux: `struct fib_rule` + `struct fib4_rule`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FibRule {
    /// Priority (`pref`): lower runs first.
    pub priority: u32,
    /// Source prefix (`from`); `None` is `from all`.
    pub from: Option<Ipv4Cidr>,
    /// Destination prefix (`to`).
    pub to: Option<Ipv4Cidr>,
    /// Input interface (`iif`); locally generated packets come in on loopback, as in Linux.
    pub iif: Option<u32>,
    /// Firewall mark (`fwmark`).
    pub fwmark: Option<FwMark>,
    /// What to do on a match.
    pub action: RuleAction,
}

impl FibRule {
    /// `pref <priority> from all lookup <table>`.
    pub fn lookup(priority: u32, table: u32) -> FibRule {
        FibRule {
            priority,
            from: None,
            to: None,
            iif: None,
            fwmark: None,
            action: RuleAction::Lookup(table),
        }
    }

    /// Whether the rule selects `flow`. Linux: `fib_rule_match` + `fib4_rule_match`.
    pub fn matches(&self, flow: &Flowi4) -> bool {
        self.from.is_none_or(|c| c.contains(flow.src))
            && self.to.is_none_or(|c| c.contains(flow.dst))
            && self.iif.is_none_or(|i| i == flow.iif)
            && self
                .fwmark
                .is_none_or(|m| (flow.mark ^ m.value) & m.mask == 0)
    }
}

/// What `ip rule del` names: fields left `None` match anything. Linux: `rule_find`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleMatch {
    /// Priority.
    pub priority: Option<u32>,
    /// Source prefix.
    pub from: Option<Ipv4Cidr>,
    /// Destination prefix.
    pub to: Option<Ipv4Cidr>,
    /// Input interface.
    pub iif: Option<u32>,
    /// Firewall mark.
    pub fwmark: Option<FwMark>,
    /// Action.
    pub action: Option<RuleAction>,
}

impl RuleMatch {
    fn matches(&self, r: &FibRule) -> bool {
        self.priority.is_none_or(|p| r.priority == p)
            && self.from.is_none_or(|c| r.from == Some(c))
            && self.to.is_none_or(|c| r.to == Some(c))
            && self.iif.is_none_or(|i| r.iif == Some(i))
            && self.fwmark.is_none_or(|m| r.fwmark == Some(m))
            && self.action.is_none_or(|a| r.action == a)
    }
}

/// The rule list, in priority order, with a generation number bumped on every change.
/// Linux: `struct fib_rules_ops` `rules_list`.
#[derive(Debug, Clone)]
pub struct FibRules {
    rules: Vec<FibRule>,
    genid: u64,
}

impl Default for FibRules {
    /// `0: from all lookup local`, `32766: from all lookup main`, `32767: from all lookup
    /// default`. Linux: `fib_default_rules_init`.
    fn default() -> Self {
        FibRules {
            rules: vec![
                FibRule::lookup(0, RT_TABLE_LOCAL),
                FibRule::lookup(32766, RT_TABLE_MAIN),
                FibRule::lookup(32767, RT_TABLE_DEFAULT),
            ],
            genid: 0,
        }
    }
}

fn is_network(c: &Option<Ipv4Cidr>) -> bool {
    c.is_none_or(|c| c.prefix_len <= 32 && c.network() == c)
}

impl FibRules {
    /// Add a rule after those of equal priority; an identical rule is refused with `EEXIST`,
    /// prefixes with host bits set and `lookup 0` with `EINVAL`. Linux: `fib_nl_newrule`.
    pub fn add(&mut self, rule: FibRule) -> Result<(), Errno> {
        if !is_network(&rule.from) || !is_network(&rule.to) || rule.action == RuleAction::Lookup(0)
        {
            return Err(Errno::EINVAL);
        }
        if self.rules.contains(&rule) {
            return Err(Errno::EEXIST);
        }
        let pos = self
            .rules
            .iter()
            .position(|r| r.priority > rule.priority)
            .unwrap_or(self.rules.len());
        self.rules.insert(pos, rule);
        self.genid += 1;
        Ok(())
    }

    /// Delete the first rule matching `m`; `ESRCH` if none does. Linux: `fib_nl_delrule`.
    pub fn delete(&mut self, m: &RuleMatch) -> Result<FibRule, Errno> {
        let pos = self
            .rules
            .iter()
            .position(|r| m.matches(r))
            .ok_or(Errno::ESRCH)?;
        self.genid += 1;
        Ok(self.rules.remove(pos))
    }

    /// The priority `ip rule add` gives a rule without `pref`: one less than the second
    /// rule's, or 0. Linux: `fib_default_rule_pref`.
    pub fn default_pref(&self) -> u32 {
        self.rules
            .get(1)
            .map_or(0, |r| r.priority.saturating_sub(1))
    }

    /// The rules, in the order lookups walk them.
    pub fn rules(&self) -> &[FibRule] {
        &self.rules
    }

    /// Changes so far.
    pub fn genid(&self) -> u64 {
        self.genid
    }

    /// Walk the rules in priority order: the first matching rule whose action ends the walk
    /// gives the result. A table with no usable route for the destination passes to the next
    /// rule; a route of an error type (blackhole, unreachable, prohibit) ends the walk with
    /// its error; running out of rules is `ENETUNREACH`.
    /// Linux: `fib_rules_lookup` → `fib4_rule_action` (and `fib_lookup`'s `ESRCH` →
    /// `ENETUNREACH`).
    pub fn lookup(
        &self,
        fib: &Fib,
        flow: &Flowi4,
        usable: impl Fn(&Route) -> bool,
    ) -> Result<Route, Errno> {
        for rule in self.rules.iter().filter(|r| r.matches(flow)) {
            match rule.action {
                RuleAction::Lookup(table) => {
                    if let Some(r) = fib.lookup(table, flow.dst, &usable) {
                        return match r.kind.error() {
                            Some(e) => Err(e),
                            None => Ok(*r),
                        };
                    }
                }
                RuleAction::Blackhole => return Err(Errno::EINVAL),
                RuleAction::Unreachable => return Err(Errno::ENETUNREACH),
                RuleAction::Prohibit => return Err(Errno::EACCES),
            }
        }
        Err(Errno::ENETUNREACH)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip::fib::RouteType;
    use crate::stack::LOOPBACK_IFINDEX;
    use crate::wire::Ipv4Addr;

    fn flow(src: &str, dst: &str, iif: u32, mark: u32) -> Flowi4 {
        Flowi4 {
            dst: dst.parse().unwrap(),
            src: src.parse().unwrap(),
            iif,
            mark,
        }
    }

    fn fib() -> Fib {
        let mut fib = Fib::default();
        let any: Ipv4Cidr = "0.0.0.0/0".parse().unwrap();
        fib.insert(
            Route::unicast(any, Some(Ipv4Addr::new(192, 0, 2, 1)), 2),
            false,
        )
        .unwrap();
        fib.insert(
            Route {
                table: 100,
                ..Route::unicast(any, Some(Ipv4Addr::new(198, 51, 100, 1)), 3)
            },
            false,
        )
        .unwrap();
        fib.insert(
            Route {
                table: 100,
                ..Route::special(RouteType::Prohibit, "203.0.113.0/24".parse().unwrap())
            },
            false,
        )
        .unwrap();
        fib
    }

    #[test]
    fn default_rules_and_priority_order() {
        let mut rules = FibRules::default();
        let prios: Vec<u32> = rules.rules().iter().map(|r| r.priority).collect();
        assert_eq!(prios, [0, 32766, 32767]);
        assert_eq!(rules.default_pref(), 32765);
        rules.add(FibRule::lookup(100, 100)).unwrap();
        assert_eq!(rules.default_pref(), 99);
        rules.add(FibRule::lookup(100, 101)).unwrap();
        let order: Vec<RuleAction> = rules.rules().iter().map(|r| r.action).collect();
        assert_eq!(
            order,
            [
                RuleAction::Lookup(RT_TABLE_LOCAL),
                RuleAction::Lookup(100),
                RuleAction::Lookup(101),
                RuleAction::Lookup(RT_TABLE_MAIN),
                RuleAction::Lookup(RT_TABLE_DEFAULT)
            ],
            "equal priorities keep insertion order"
        );
        assert_eq!(rules.add(FibRule::lookup(100, 100)), Err(Errno::EEXIST));
        assert_eq!(rules.add(FibRule::lookup(5, 0)), Err(Errno::EINVAL));
        let mut bad = FibRule::lookup(5, 100);
        bad.from = Some("10.0.0.1/8".parse().unwrap());
        assert_eq!(rules.add(bad), Err(Errno::EINVAL));
    }

    #[test]
    fn selectors_pick_the_table() {
        let fib = fib();
        let mut rules = FibRules::default();
        let mut r = FibRule::lookup(100, 100);
        r.from = Some("10.0.0.0/8".parse().unwrap());
        rules.add(r).unwrap();
        let via = |f: Flowi4| rules.lookup(&fib, &f, |_| true).map(|r| r.ifindex);
        assert_eq!(via(flow("10.1.1.1", "8.8.8.8", 4, 0)), Ok(3));
        assert_eq!(via(flow("11.1.1.1", "8.8.8.8", 4, 0)), Ok(2));
        // A prohibit route in the chosen table ends the walk with its error.
        assert_eq!(
            via(flow("10.1.1.1", "203.0.113.9", 4, 0)),
            Err(Errno::EACCES)
        );

        let mut rules = FibRules::default();
        let mut r = FibRule::lookup(10, 100);
        r.iif = Some(4);
        rules.add(r).unwrap();
        let mut r = FibRule::lookup(20, 100);
        r.fwmark = Some(FwMark {
            value: 0x10,
            mask: 0xf0,
        });
        rules.add(r).unwrap();
        let via = |f: Flowi4| rules.lookup(&fib, &f, |_| true).map(|r| r.ifindex);
        assert_eq!(via(flow("10.1.1.1", "8.8.8.8", 4, 0)), Ok(3));
        assert_eq!(via(flow("10.1.1.1", "8.8.8.8", 5, 0)), Ok(2));
        assert_eq!(via(flow("10.1.1.1", "8.8.8.8", LOOPBACK_IFINDEX, 0)), Ok(2));
        assert_eq!(via(flow("10.1.1.1", "8.8.8.8", 5, 0x1f)), Ok(3));
        assert_eq!(via(flow("10.1.1.1", "8.8.8.8", 5, 0x2f)), Ok(2));
    }

    #[test]
    fn actions_and_fallthrough() {
        let fib = fib();
        let mut rules = FibRules::default();
        // Table 7 does not exist: the walk goes on to main.
        rules.add(FibRule::lookup(50, 7)).unwrap();
        let f = flow("10.1.1.1", "8.8.8.8", 4, 0);
        assert_eq!(rules.lookup(&fib, &f, |_| true).unwrap().ifindex, 2);
        // No usable route anywhere: network unreachable.
        assert_eq!(rules.lookup(&fib, &f, |_| false), Err(Errno::ENETUNREACH));
        for (action, err) in [
            (RuleAction::Blackhole, Errno::EINVAL),
            (RuleAction::Unreachable, Errno::ENETUNREACH),
            (RuleAction::Prohibit, Errno::EACCES),
        ] {
            let mut r = FibRule::lookup(60, 1);
            r.to = Some("8.8.0.0/16".parse().unwrap());
            r.action = action;
            rules.add(r).unwrap();
            assert_eq!(rules.lookup(&fib, &f, |_| true), Err(err));
            assert!(rules
                .lookup(&fib, &flow("10.1.1.1", "9.9.9.9", 4, 0), |_| true)
                .is_ok());
            let g = rules.genid();
            rules
                .delete(&RuleMatch {
                    priority: Some(60),
                    ..RuleMatch::default()
                })
                .unwrap();
            assert!(rules.genid() > g);
        }
        assert_eq!(
            rules.delete(&RuleMatch {
                priority: Some(60),
                ..RuleMatch::default()
            }),
            Err(Errno::ESRCH)
        );
        // Deleting every rule leaves nothing to consult.
        while rules.delete(&RuleMatch::default()).is_ok() {}
        assert_eq!(rules.lookup(&fib, &f, |_| true), Err(Errno::ENETUNREACH));
        assert_eq!(rules.default_pref(), 0);
    }
}
