//! iptables's listings: `-L` (with `-n -v -x --line-numbers`), `-S`, and a table in
//! iptables-save's format.
//!
//! Linux userspace: iptables.c (`list_entries` → `print_header` / `print_firewall`,
//! `list_rules`), iptables-save.c (`do_output`).

use super::command::Command;
use super::rule::{addr_text, proto_name, rule_extra, rule_spec, rule_spec_counters};
use linnet::netfilter::matches::{AddrMatch, IfMatch};
use linnet::netfilter::table::{Policy, Table};
use linnet::netfilter::targets::Target;
use linnet::netfilter::NfError;
use std::fmt::Write;

/// A counter as `iptables -L -v` prints it: scaled to K/M/G/T unless `-x`.
fn counter(n: u64, exact: bool) -> String {
    if exact || n < 100_000 {
        return n.to_string();
    }
    let mut v = n;
    for unit in ["K", "M", "G", "T"] {
        v /= 1000;
        if v < 100_000 {
            return format!("{v}{unit}");
        }
    }
    format!("{v}P")
}

/// `iptables -L`. Linux userspace: `list_entries` → `print_header` / `print_firewall`.
pub fn list_chains(t: &Table, c: &Command) -> Result<String, NfError> {
    let idxs: Vec<usize> = match &c.chain {
        Some(n) => vec![t.chain_or_err(n)?],
        None => (0..t.chains.len()).collect(),
    };
    let mut out = String::new();
    for (k, &ci) in idxs.iter().enumerate() {
        let ch = &t.chains[ci];
        if k > 0 {
            out.push('\n');
        }
        match ch.hook {
            Some(_) => {
                let pol = policy_name(ch.policy);
                if c.verbose {
                    let _ = writeln!(
                        out,
                        "Chain {} (policy {pol} {} packets, {} bytes)",
                        ch.name,
                        counter(ch.policy_counters.packets, c.exact),
                        counter(ch.policy_counters.bytes, c.exact)
                    );
                } else {
                    let _ = writeln!(out, "Chain {} (policy {pol})", ch.name);
                }
            }
            None => {
                let _ = writeln!(out, "Chain {} ({} references)", ch.name, t.references(ci));
            }
        }
        let mut header = String::new();
        if c.line_numbers {
            header.push_str("num  ");
        }
        if c.verbose {
            let _ = write!(header, "{:>5} {:>5} ", "pkts", "bytes");
        }
        let _ = write!(header, "{:<10} {:<4} {:<3} ", "target", "prot", "opt");
        if c.verbose {
            let _ = write!(header, "{:<6} {:<7} ", "in", "out");
        }
        let _ = write!(header, "{:<20} {:<20}", "source", "destination");
        out.push_str(header.trim_end());
        out.push('\n');
        for (n, r) in ch.rules.iter().enumerate() {
            if c.num.is_some_and(|want| want != n + 1) {
                continue;
            }
            let mut line = String::new();
            if c.line_numbers {
                let _ = write!(line, "{:<4} ", n + 1);
            }
            if c.verbose {
                let _ = write!(
                    line,
                    "{:>5} {:>5} ",
                    counter(r.counters.packets, c.exact),
                    counter(r.counters.bytes, c.exact)
                );
            }
            let target = match &r.target {
                Target::Jump(j) | Target::Goto(j) => t.chains[*j].name.clone(),
                t => t.name().to_string(),
            };
            let prot = match r.m.proto {
                None => "all".to_string(),
                Some((p, inv)) => format!("{}{}", if inv { "!" } else { "" }, proto_name(p)),
            };
            let _ = write!(line, "{:<10} {:<4} {:<3} ", target, prot, "--");
            if c.verbose {
                let dev = |d: &Option<IfMatch>| {
                    d.as_ref().map_or("*".to_string(), |i| {
                        format!("{}{}", if i.invert { "!" } else { "" }, i.name)
                    })
                };
                let _ = write!(line, "{:<6} {:<7} ", dev(&r.m.in_if), dev(&r.m.out_if));
            }
            let any = if c.numeric { "0.0.0.0/0" } else { "anywhere" };
            let addr = |a: &Option<AddrMatch>| {
                a.as_ref().map_or(any.to_string(), |a| {
                    let base = if a.prefix == 32 {
                        a.addr.to_string()
                    } else {
                        addr_text(a)
                    };
                    format!("{}{base}", if a.invert { "!" } else { "" })
                })
            };
            let _ = write!(line, "{:<20} {:<20} ", addr(&r.m.src), addr(&r.m.dst));
            line.push_str(&rule_extra(r, c.numeric));
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    Ok(out)
}

fn policy_name(p: Policy) -> &'static str {
    match p {
        Policy::Accept => "ACCEPT",
        Policy::Drop => "DROP",
    }
}

/// `iptables -S`. Linux userspace: `list_rules`.
pub fn list_rules(t: &Table, chain: Option<&str>, verbose: bool) -> Result<String, NfError> {
    let idxs: Vec<usize> = match chain {
        Some(n) => vec![t.chain_or_err(n)?],
        None => (0..t.chains.len()).collect(),
    };
    let mut out = String::new();
    for &ci in &idxs {
        let ch = &t.chains[ci];
        match ch.hook {
            Some(_) => {
                let _ = write!(out, "-P {} {}", ch.name, policy_name(ch.policy));
                if verbose {
                    let _ = write!(
                        out,
                        " -c {} {}",
                        ch.policy_counters.packets, ch.policy_counters.bytes
                    );
                }
                out.push('\n');
            }
            None => {
                let _ = writeln!(out, "-N {}", ch.name);
            }
        }
    }
    for &ci in &idxs {
        let ch = &t.chains[ci];
        for r in &ch.rules {
            let _ = writeln!(out, "-A {}{}", ch.name, rule_spec_counters(t, r, verbose));
        }
    }
    Ok(out)
}

/// One table in iptables-save format. Linux userspace: `do_output` in iptables-save.c.
pub fn save_table(t: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "*{}", t.id.name());
    for ch in &t.chains {
        let pol = ch.hook.map_or("-", |_| policy_name(ch.policy));
        let _ = writeln!(
            out,
            ":{} {pol} [{}:{}]",
            ch.name, ch.policy_counters.packets, ch.policy_counters.bytes
        );
    }
    for ch in &t.chains {
        for r in &ch.rules {
            let _ = writeln!(out, "-A {}{}", ch.name, rule_spec(t, r));
        }
    }
    out.push_str("COMMIT\n");
    out
}
