//! iptables syntax: the command line (`-A/-I/-D/-R/-L/-S/-F/-Z/-N/-X/-P`, `-t`, `-n -v -x
//! --line-numbers`) into commands and rules, rules back into `-A ...` text for `-S` and
//! iptables-save, the `-L` listing, and iptables-restore input. Errors are worded as
//! iptables words them, and a failing command changes nothing.
//!
//! Linux userspace: iptables/xshared.c (`do_parse`), iptables.c (`do_command4`,
//! `print_firewall`), the extensions' `parse`/`save`/`print` functions (libxt_tcp.c,
//! libxt_conntrack.c, libxt_multiport.c, libxt_limit.c, libipt_REJECT.c, libxt_LOG.c,
//! libipt_SNAT.c ...), iptables-save.c and iptables-restore.c.

use super::matches::{
    ctstate, proto, AddrMatch, IfMatch, Limit, MultiportKind, PortRange, RuleMatch,
};
use super::table::{Chain, Counters, Policy, Rule, Table, TableId};
use super::targets::{NatRange, RejectWith, Target};
use super::NfError;
use crate::stack::Stack;
use crate::time::Instant;
use crate::wire::Ipv4Addr;
use std::fmt::Write;

/// Longest chain name (Linux: `XT_EXTENSION_MAXNAMELEN` - 1).
const MAX_CHAIN_NAME: usize = 28;

/// Most ports in one `-m multiport` (Linux: `XT_MULTI_PORTS`).
const MAX_MULTIPORT: usize = 15;

/// Options that take values, and how many; the command parser skips over them.
fn rule_option_arity(w: &str) -> Option<usize> {
    Some(match w {
        "-s"
        | "--source"
        | "--src"
        | "-d"
        | "--destination"
        | "--dst"
        | "-p"
        | "--protocol"
        | "-i"
        | "--in-interface"
        | "-o"
        | "--out-interface"
        | "-j"
        | "--jump"
        | "-g"
        | "--goto"
        | "-m"
        | "--match"
        | "--sport"
        | "--source-port"
        | "--dport"
        | "--destination-port"
        | "--icmp-type"
        | "--ctstate"
        | "--state"
        | "--sports"
        | "--source-ports"
        | "--dports"
        | "--destination-ports"
        | "--ports"
        | "--limit"
        | "--limit-burst"
        | "--reject-with"
        | "--log-prefix"
        | "--log-level"
        | "--to-source"
        | "--to-destination"
        | "--comment"
        | "--to-ports"
        | "--to" => 1,
        "--tcp-flags" => 2,
        "!" | "--syn" | "--random" | "--random-fully" | "--persistent" => 0,
        _ => return None,
    })
}

/// What an iptables command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `-A chain rule`.
    Append,
    /// `-I chain [num] rule`.
    Insert,
    /// `-D chain rule|num`.
    Delete,
    /// `-R chain num rule`.
    Replace,
    /// `-L [chain]`.
    List,
    /// `-S [chain]`.
    ListRules,
    /// `-F [chain]`.
    Flush,
    /// `-Z [chain]`.
    Zero,
    /// `-N chain`.
    NewChain,
    /// `-X [chain]`.
    DeleteChain,
    /// `-P chain target`.
    Policy,
    /// `-C chain rule`: does the rule exist?
    Check,
    /// `-E old new`: rename a user-defined chain.
    Rename,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `-t`.
    pub table: TableId,
    /// The command.
    pub op: Op,
    /// Its chain.
    pub chain: Option<String>,
    /// Rule number (1-based).
    pub num: Option<usize>,
    /// `-P`'s policy word.
    pub policy: Option<String>,
    /// The rule's words.
    pub rule: Vec<String>,
    /// `-n`.
    pub numeric: bool,
    /// `-v`.
    pub verbose: bool,
    /// `-x`.
    pub exact: bool,
    /// `--line-numbers`.
    pub line_numbers: bool,
}

fn op_flag(op: &Op) -> &'static str {
    match op {
        Op::Append => "-A",
        Op::Insert => "-I",
        Op::Delete => "-D",
        Op::Replace => "-R",
        Op::List => "-L",
        Op::ListRules => "-S",
        Op::Flush => "-F",
        Op::Zero => "-Z",
        Op::NewChain => "-N",
        Op::DeleteChain => "-X",
        Op::Policy => "-P",
        Op::Check => "-C",
        Op::Rename => "-E",
    }
}

fn parse_num(w: &str) -> Option<usize> {
    if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

/// Parse an iptables command line (without the leading `iptables`).
/// Linux: `do_parse` (iptables/xshared.c).
pub fn parse_command<S: AsRef<str>>(argv: &[S]) -> Result<Command, NfError> {
    let words: Vec<&str> = argv.iter().map(|s| s.as_ref()).collect();
    let mut c = Command {
        table: TableId::Filter,
        op: Op::List,
        chain: None,
        num: None,
        policy: None,
        rule: Vec::new(),
        numeric: false,
        verbose: false,
        exact: false,
        line_numbers: false,
    };
    let mut op: Option<Op> = None;
    let mut table_given = false;
    let mut i = 0;
    let need = |i: usize, flag: &str| -> Result<&str, NfError> {
        words
            .get(i + 1)
            .copied()
            .filter(|w| !w.starts_with('-') || w.len() == 1)
            .ok_or_else(|| NfError::param(format!("option \"{flag}\" requires an argument")))
    };
    let optional = |i: usize| -> Option<&str> {
        words
            .get(i + 1)
            .copied()
            .filter(|w| !w.starts_with('-') && *w != "!")
    };
    while i < words.len() {
        let w = words[i];
        let mut set_op = |o: Op| -> Result<(), NfError> {
            if let Some(prev) = &op {
                return Err(NfError::param(format!(
                    "Cannot use {} with {}",
                    op_flag(&o),
                    op_flag(prev)
                )));
            }
            op = Some(o);
            Ok(())
        };
        // Grouped short flags: -nvL, -vnL INPUT, -nL.
        let flags: Vec<String> = if w.len() > 2
            && w.starts_with('-')
            && !w.starts_with("--")
            && w[1..].chars().all(|ch| "nvxLSFZX".contains(ch))
        {
            w[1..].chars().map(|ch| format!("-{ch}")).collect()
        } else {
            vec![w.to_string()]
        };
        let last = flags.len() - 1;
        for (k, f) in flags.iter().enumerate() {
            let f = f.as_str();
            // Only the last flag of a group may take the following word.
            let opt = |i: usize| if k == last { optional(i) } else { None };
            match f {
                "-t" | "--table" => {
                    let t = need(i, f)?;
                    if table_given {
                        return Err(NfError::param("multiple -t flags not allowed"));
                    }
                    c.table = TableId::from_name(t).ok_or_else(|| NfError {
                        message: format!(
                            "iptables v1.8.9 (linnet): can't initialize iptables table `{t}': Table does not exist (do you need to insmod?)"
                        ),
                        status: 3,
                    })?;
                    table_given = true;
                    i += 1;
                }
                "-A" | "--append" | "-N" | "--new-chain" | "-C" | "--check" => {
                    set_op(match f {
                        "-A" | "--append" => Op::Append,
                        "-C" | "--check" => Op::Check,
                        _ => Op::NewChain,
                    })?;
                    c.chain = Some(need(i, f)?.to_string());
                    i += 1;
                }
                "-I" | "--insert" | "-D" | "--delete" | "-R" | "--replace" => {
                    let o = match f {
                        "-I" | "--insert" => Op::Insert,
                        "-D" | "--delete" => Op::Delete,
                        _ => Op::Replace,
                    };
                    c.chain = Some(need(i, f)?.to_string());
                    i += 1;
                    if let Some(n) = optional(i).and_then(parse_num) {
                        if n == 0 {
                            return Err(NfError::param("Invalid rule number `0'"));
                        }
                        c.num = Some(n);
                        i += 1;
                    } else if o == Op::Replace {
                        return Err(NfError::param("-R requires a rule number"));
                    }
                    set_op(o)?;
                }
                "-L" | "--list" | "-S" | "--list-rules" | "-F" | "--flush" | "-Z" | "--zero"
                | "-X" | "--delete-chain" => {
                    let o = match f {
                        "-L" | "--list" => Op::List,
                        "-S" | "--list-rules" => Op::ListRules,
                        "-F" | "--flush" => Op::Flush,
                        "-Z" | "--zero" => Op::Zero,
                        _ => Op::DeleteChain,
                    };
                    set_op(o.clone())?;
                    if let Some(ch) = opt(i) {
                        c.chain = Some(ch.to_string());
                        i += 1;
                        if matches!(o, Op::List | Op::ListRules | Op::Zero) {
                            if let Some(n) = optional(i).and_then(parse_num) {
                                c.num = Some(n);
                                i += 1;
                            }
                        }
                    }
                }
                "-P" | "--policy" | "-E" | "--rename-chain" => {
                    set_op(if matches!(f, "-P" | "--policy") {
                        Op::Policy
                    } else {
                        Op::Rename
                    })?;
                    c.chain = Some(need(i, f)?.to_string());
                    i += 1;
                    c.policy = Some(need(i, f)?.to_string());
                    i += 1;
                }
                "-n" | "--numeric" => c.numeric = true,
                "-v" | "--verbose" => c.verbose = true,
                "-x" | "--exact" => c.exact = true,
                "--line-numbers" => c.line_numbers = true,
                "-w" | "--wait" => {
                    if optional(i).and_then(parse_num).is_some() {
                        i += 1;
                    }
                }
                _ => {
                    let Some(n) = rule_option_arity(f) else {
                        if f.starts_with('-') && f.len() > 1 {
                            return Err(NfError::param(format!("unknown option \"{f}\"")));
                        }
                        return Err(NfError::param(format!("Bad argument `{f}'")));
                    };
                    c.rule.push(f.to_string());
                    for j in 0..n {
                        let v = words.get(i + 1 + j).ok_or_else(|| {
                            NfError::param(format!("option \"{f}\" requires an argument"))
                        })?;
                        c.rule.push((*v).to_string());
                    }
                    i += n;
                }
            }
        }
        i += 1;
    }
    c.op = op.ok_or_else(|| NfError::param("no command specified"))?;
    let takes_rule = matches!(c.op, Op::Append | Op::Insert | Op::Replace | Op::Check)
        || c.op == Op::Delete && c.num.is_none();
    if !takes_rule && !c.rule.is_empty() {
        return Err(NfError::param(format!(
            "Illegal option `{}' with this command",
            c.rule[0]
        )));
    }
    if c.op == Op::Delete && c.num.is_some() && !c.rule.is_empty() {
        return Err(NfError::param(format!("Bad argument `{}'", c.rule[0])));
    }
    Ok(c)
}

/// A rule parsed against its table (jump targets resolved).
/// Linux: `do_parse`'s option loop with each extension's `parse` and `final_check`.
pub fn parse_rule<S: AsRef<str>>(table: &Table, words: &[S]) -> Result<Rule, NfError> {
    let w: Vec<&str> = words.iter().map(|s| s.as_ref()).collect();
    let mut m = RuleMatch::default();
    let mut target = Target::None;
    let mut target_name: Option<String> = None;
    let mut loaded: Vec<&str> = Vec::new();
    let mut invert = false;
    let mut reject: Option<RejectWith> = None;
    let mut log_prefix: Option<String> = None;
    let mut log_level: Option<u8> = None;
    let mut to_src: Option<NatRange> = None;
    let mut to_dst: Option<NatRange> = None;
    let mut to_ports: Option<(u16, u16)> = None;
    let mut limit: Option<(u32, u32)> = None;
    let mut burst: Option<u32> = None;
    let mut i = 0;
    while i < w.len() {
        let opt = w[i];
        let val = w.get(i + 1).copied().unwrap_or("");
        let inv = std::mem::take(&mut invert);
        let mut consumed = 1;
        let no_invert = |o: &str| -> Result<(), NfError> {
            if inv {
                Err(NfError::param(format!("cannot have ! before {o}")))
            } else {
                Ok(())
            }
        };
        let target_is = |t: &Option<String>, names: &[&str], o: &str| -> Result<(), NfError> {
            if t.as_deref().is_some_and(|n| names.contains(&n)) {
                Ok(())
            } else {
                Err(NfError::param(format!("unknown option \"{o}\"")))
            }
        };
        match opt {
            "!" => {
                if inv {
                    return Err(NfError::param("multiple consecutive ! not allowed"));
                }
                invert = true;
            }
            "-s" | "--source" | "--src" => {
                m.src = Some(parse_addr(val, inv)?);
                consumed = 2;
            }
            "-d" | "--destination" | "--dst" => {
                m.dst = Some(parse_addr(val, inv)?);
                consumed = 2;
            }
            "-p" | "--protocol" => {
                let p = parse_proto(val)?;
                m.proto = p.map(|p| (p, inv));
                consumed = 2;
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                if val.is_empty() || val.len() > 15 || val.contains('/') || val.contains(' ') {
                    return Err(NfError::param(format!(
                        "interface name `{val}' must be shorter than IFNAMSIZ (15)"
                    )));
                }
                let im = Some(IfMatch {
                    name: val.to_string(),
                    invert: inv,
                });
                if opt.starts_with("-i") || opt == "--in-interface" {
                    m.in_if = im;
                } else {
                    m.out_if = im;
                }
                consumed = 2;
            }
            "-m" | "--match" => {
                no_invert(opt)?;
                match val {
                    "tcp" | "udp" | "icmp" | "conntrack" | "state" | "multiport" | "limit"
                    | "comment" => loaded.push(match val {
                        "tcp" => "tcp",
                        "udp" => "udp",
                        "icmp" => "icmp",
                        "conntrack" => "conntrack",
                        "state" => "state",
                        "multiport" => "multiport",
                        "comment" => "comment",
                        _ => "limit",
                    }),
                    _ => {
                        return Err(NfError::param(format!(
                            "Couldn't load match `{val}':No such file or directory"
                        )))
                    }
                }
                consumed = 2;
            }
            "--sport" | "--source-port" | "--dport" | "--destination-port" => {
                let pm = port_match_proto(&m, &loaded);
                if pm.is_none() {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                let r = parse_port_range(val)?;
                if opt.contains('s') && (opt == "--sport" || opt == "--source-port") {
                    m.sport = Some((r, inv));
                } else {
                    m.dport = Some((r, inv));
                }
                consumed = 2;
            }
            "--tcp-flags" | "--syn" => {
                if port_match_proto(&m, &loaded) != Some(proto::TCP) {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                if opt == "--syn" {
                    m.tcp_flags = Some((0x17, 0x02, inv));
                    m.syn = true;
                } else {
                    let mask = parse_tcp_flags(val)?;
                    let comp = parse_tcp_flags(w.get(i + 2).copied().unwrap_or(""))?;
                    m.tcp_flags = Some((mask, comp, inv));
                    m.syn = false;
                    consumed = 3;
                }
            }
            "--icmp-type" => {
                let icmp = m.proto.is_some_and(|(p, v)| p == proto::ICMP && !v);
                if !icmp {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                let (t, c) = parse_icmp_type(val)?;
                m.icmp_type = Some((t, c, inv));
                consumed = 2;
            }
            "--ctstate" | "--state" => {
                let kind = if opt == "--ctstate" {
                    "conntrack"
                } else {
                    "state"
                };
                if !loaded.contains(&kind) {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                let mut bits = 0;
                for s in val.split(',') {
                    let b = ctstate::NAMES
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
                    bits |= b;
                }
                m.ctstate = Some((bits, inv, kind == "state"));
                consumed = 2;
            }
            "--sports" | "--source-ports" | "--dports" | "--destination-ports" | "--ports" => {
                if !loaded.contains(&"multiport") {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                if !m
                    .proto
                    .is_some_and(|(p, v)| !v && (p == proto::TCP || p == proto::UDP))
                {
                    return Err(NfError::param(
                        "multiport needs `-p tcp', `-p udp', `-p udplite', `-p sctp' or `-p dccp'",
                    ));
                }
                let kind = match opt {
                    "--sports" | "--source-ports" => MultiportKind::Source,
                    "--dports" | "--destination-ports" => MultiportKind::Destination,
                    _ => MultiportKind::Either,
                };
                let ports = val
                    .split(',')
                    .map(parse_port_range)
                    .collect::<Result<Vec<_>, _>>()?;
                let slots: usize = ports.iter().map(|r| 1 + usize::from(r.lo != r.hi)).sum();
                if slots > MAX_MULTIPORT {
                    return Err(NfError::param("too many ports specified"));
                }
                m.multiport = Some((kind, ports, inv));
                consumed = 2;
            }
            "--comment" => {
                no_invert(opt)?;
                if !loaded.contains(&"comment") {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                if val.len() > 255 {
                    return Err(NfError::param(
                        "COMMENT must be shorter than 256 characters",
                    ));
                }
                m.comment = Some(val.to_string());
                consumed = 2;
            }
            "--limit" | "--limit-burst" => {
                no_invert(opt)?;
                if !loaded.contains(&"limit") {
                    return Err(NfError::param(format!("unknown option \"{opt}\"")));
                }
                if opt == "--limit" {
                    limit = Some(parse_rate(val)?);
                } else {
                    burst = Some(
                        val.parse::<u32>()
                            .ok()
                            .filter(|b| (1..=10000).contains(b))
                            .ok_or_else(|| NfError::param(format!("bad --limit-burst `{val}'")))?,
                    );
                }
                consumed = 2;
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                no_invert(opt)?;
                if target_name.is_some() {
                    return Err(NfError::param("multiple -j flags not allowed"));
                }
                let goto = opt == "-g" || opt == "--goto";
                target = match val {
                    "ACCEPT" if !goto => Target::Accept,
                    "DROP" if !goto => Target::Drop,
                    "RETURN" if !goto => Target::Return,
                    "REJECT" if !goto => Target::Reject(RejectWith::PortUnreachable),
                    "LOG" if !goto => Target::Log {
                        prefix: String::new(),
                        level: 4,
                    },
                    "SNAT" | "DNAT" | "MASQUERADE" | "REDIRECT" if !goto => Target::None,
                    name => match table.chain_index(name) {
                        Some(idx) if table.chains[idx].hook.is_none() => {
                            if goto {
                                Target::Goto(idx)
                            } else {
                                Target::Jump(idx)
                            }
                        }
                        Some(_) => {
                            return Err(NfError::param(format!(
                                "Couldn't load target `{name}':No such file or directory"
                            )))
                        }
                        None if goto => {
                            return Err(NfError::param(format!("goto '{name}' is not a chain")))
                        }
                        None => {
                            return Err(NfError::param(format!(
                                "Couldn't load target `{name}':No such file or directory"
                            )))
                        }
                    },
                };
                target_name = Some(val.to_string());
                consumed = 2;
            }
            "--reject-with" => {
                no_invert(opt)?;
                target_is(&target_name, &["REJECT"], opt)?;
                let alias = match val {
                    "icmp-net-unreachable" | "net-unreach" => "icmp-net-unreachable",
                    "icmp-host-unreachable" | "host-unreach" => "icmp-host-unreachable",
                    "icmp-port-unreachable" | "port-unreach" => "icmp-port-unreachable",
                    "icmp-proto-unreachable" | "proto-unreach" => "icmp-proto-unreachable",
                    "icmp-net-prohibited" | "net-prohib" => "icmp-net-prohibited",
                    "icmp-host-prohibited" | "host-prohib" => "icmp-host-prohibited",
                    "icmp-admin-prohibited" | "admin-prohib" => "icmp-admin-prohibited",
                    "tcp-reset" | "tcp-rst" => "tcp-reset",
                    _ => return Err(NfError::param(format!("unknown reject type \"{val}\""))),
                };
                reject = RejectWith::ALL
                    .iter()
                    .find(|(_, n)| *n == alias)
                    .map(|(k, _)| *k);
                consumed = 2;
            }
            "--log-prefix" => {
                no_invert(opt)?;
                target_is(&target_name, &["LOG"], opt)?;
                if val.len() > 29 {
                    return Err(NfError::param("Maximum prefix length 29 for --log-prefix"));
                }
                log_prefix = Some(val.to_string());
                consumed = 2;
            }
            "--log-level" => {
                no_invert(opt)?;
                target_is(&target_name, &["LOG"], opt)?;
                let levels = [
                    "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug",
                ];
                let l = val
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= 7)
                    .or_else(|| levels.iter().position(|n| *n == val).map(|p| p as u8))
                    .ok_or_else(|| NfError::param(format!("log-level `{val}' unknown")))?;
                log_level = Some(l);
                consumed = 2;
            }
            "--to-source" | "--to-destination" | "--to" => {
                no_invert(opt)?;
                let snat = opt == "--to-source";
                target_is(
                    &target_name,
                    if snat {
                        &["SNAT"]
                    } else if opt == "--to" {
                        &["SNAT", "DNAT"]
                    } else {
                        &["DNAT"]
                    },
                    opt,
                )?;
                let r = parse_nat_range(val, m.proto.map(|p| p.0))?;
                if target_name.as_deref() == Some("SNAT") {
                    to_src = Some(r);
                } else {
                    to_dst = Some(r);
                }
                consumed = 2;
            }
            "--to-ports" => {
                no_invert(opt)?;
                target_is(&target_name, &["MASQUERADE", "REDIRECT"], opt)?;
                if !m
                    .proto
                    .is_some_and(|(p, v)| !v && (p == proto::TCP || p == proto::UDP))
                {
                    return Err(NfError::param(
                        "Need TCP, UDP, SCTP or DCCP with port specification",
                    ));
                }
                to_ports = Some(parse_nat_ports(val)?);
                consumed = 2;
            }
            "--random" | "--random-fully" | "--persistent" => {
                no_invert(opt)?;
                target_is(
                    &target_name,
                    &["SNAT", "DNAT", "MASQUERADE", "REDIRECT"],
                    opt,
                )?;
            }
            o if o.starts_with('-') => {
                return Err(NfError::param(format!("unknown option \"{o}\"")));
            }
            o => return Err(NfError::param(format!("Bad argument `{o}'"))),
        }
        if consumed > 1 && i + consumed > w.len() {
            return Err(NfError::param(format!(
                "option \"{opt}\" requires an argument"
            )));
        }
        i += consumed;
    }
    if invert {
        return Err(NfError::param("Bad argument `!'"));
    }
    // The implicit or explicit transport match must suit the protocol.
    for l in &loaded {
        let want = match *l {
            "tcp" => Some(proto::TCP),
            "udp" => Some(proto::UDP),
            "icmp" => Some(proto::ICMP),
            _ => None,
        };
        if let Some(p) = want {
            if m.proto != Some((p, false)) {
                return Err(NfError::new(format!(
                    "iptables: {l} match: only valid for protocol {p}"
                )));
            }
        }
    }
    if m.tcp_flags.is_some() && m.proto != Some((proto::TCP, false)) {
        return Err(NfError::new(
            "iptables: tcp match: only valid for protocol 6",
        ));
    }
    if let Some((count, per)) = limit {
        m.limit = Some(Limit::new(count, per, burst.unwrap_or(5)));
    } else if loaded.contains(&"limit") {
        m.limit = Some(Limit::new(3, 3600, burst.unwrap_or(5)));
    }
    target = match (target_name.as_deref(), target) {
        (Some("REJECT"), _) => {
            let w = reject.unwrap_or(RejectWith::PortUnreachable);
            if w == RejectWith::TcpReset && m.proto != Some((proto::TCP, false)) {
                return Err(NfError::param(
                    "Can only specify tcp-reset with -p tcp (and no ! before -p)",
                ));
            }
            Target::Reject(w)
        }
        (Some("LOG"), _) => Target::Log {
            prefix: log_prefix.unwrap_or_default(),
            level: log_level.unwrap_or(4),
        },
        (Some("SNAT"), _) => Target::Snat(
            to_src
                .ok_or_else(|| NfError::param("SNAT: option \"--to-source\" must be specified"))?,
        ),
        (Some("DNAT"), _) => Target::Dnat(to_dst.ok_or_else(|| {
            NfError::param("DNAT: option \"--to-destination\" must be specified")
        })?),
        (Some("MASQUERADE"), _) => Target::Masquerade(to_ports),
        (Some("REDIRECT"), _) => Target::Redirect(to_ports),
        (_, t) => t,
    };
    Ok(Rule {
        m,
        target,
        counters: Counters::default(),
    })
}

/// The protocol whose port options are available: `-p tcp`/`-p udp` loads its match, as
/// does `-m tcp`/`-m udp`.
fn port_match_proto(m: &RuleMatch, loaded: &[&str]) -> Option<u8> {
    match m.proto {
        Some((p, false)) if p == proto::TCP || p == proto::UDP => Some(p),
        _ if loaded.contains(&"tcp") => Some(proto::TCP),
        _ if loaded.contains(&"udp") => Some(proto::UDP),
        _ => None,
    }
}

fn parse_addr(v: &str, invert: bool) -> Result<AddrMatch, NfError> {
    let (a, mask) = match v.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (v, None),
    };
    let addr: Ipv4Addr = match a {
        "0" => Ipv4Addr::UNSPECIFIED,
        "localhost" => Ipv4Addr::LOCALHOST,
        _ => a
            .parse()
            .map_err(|_| NfError::param(format!("host/network `{a}' not found")))?,
    };
    let prefix = match mask {
        None => 32,
        Some(m) => match m.parse::<u8>() {
            Ok(p) if p <= 32 => p,
            _ => {
                let mm: Ipv4Addr = m
                    .parse()
                    .map_err(|_| NfError::param(format!("invalid mask `{m}' specified")))?;
                let bits = u32::from(mm);
                if bits.leading_ones() + bits.trailing_zeros() != 32 {
                    return Err(NfError::param(format!("invalid mask `{m}' specified")));
                }
                bits.leading_ones() as u8
            }
        },
    };
    let mut am = AddrMatch {
        addr,
        prefix,
        invert,
    };
    am.addr = Ipv4Addr::from(u32::from(addr) & am.mask());
    Ok(am)
}

fn parse_proto(v: &str) -> Result<Option<u8>, NfError> {
    let lower = v.to_ascii_lowercase();
    Ok(Some(match lower.as_str() {
        "all" | "0" => return Ok(None),
        "tcp" => proto::TCP,
        "udp" => proto::UDP,
        "icmp" => proto::ICMP,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "sctp" => 132,
        "udplite" => 136,
        s => s
            .parse::<u8>()
            .map_err(|_| NfError::param(format!("unknown protocol \"{v}\" specified")))?,
    }))
}

/// Service names iptables would find in /etc/services (a fixed subset: no file is read).
const SERVICES: [(&str, u16); 9] = [
    ("ftp", 21),
    ("ssh", 22),
    ("telnet", 23),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("ntp", 123),
    ("https", 443),
    ("www", 80),
];

fn parse_port(v: &str) -> Result<u16, NfError> {
    if let Some((_, p)) = SERVICES.iter().find(|(n, _)| *n == v) {
        return Ok(*p);
    }
    v.parse::<u16>()
        .map_err(|_| NfError::param(format!("invalid port/service `{v}' specified")))
}

fn parse_port_range(v: &str) -> Result<PortRange, NfError> {
    let r = match v.split_once(':') {
        Some((a, b)) => PortRange {
            lo: if a.is_empty() { 0 } else { parse_port(a)? },
            hi: if b.is_empty() { 65535 } else { parse_port(b)? },
        },
        None => {
            let p = parse_port(v)?;
            PortRange { lo: p, hi: p }
        }
    };
    if r.lo > r.hi {
        return Err(NfError::param(format!("invalid portrange `{v}' specified")));
    }
    Ok(r)
}

fn parse_tcp_flags(v: &str) -> Result<u8, NfError> {
    let mut bits = 0;
    for f in v.split(',') {
        bits |= match f {
            "SYN" => 0x02,
            "ACK" => 0x10,
            "FIN" => 0x01,
            "RST" => 0x04,
            "URG" => 0x20,
            "PSH" => 0x08,
            "ALL" => 0x3f,
            "NONE" => 0,
            _ => return Err(NfError::param(format!("Unknown TCP flag `{f}'"))),
        };
    }
    Ok(bits)
}

/// ICMP type names. Linux userspace: `icmp_codes` in libipt_icmp.c.
const ICMP_TYPES: [(&str, u8, Option<u8>); 22] = [
    ("echo-reply", 0, None),
    ("pong", 0, None),
    ("destination-unreachable", 3, None),
    ("network-unreachable", 3, Some(0)),
    ("host-unreachable", 3, Some(1)),
    ("protocol-unreachable", 3, Some(2)),
    ("port-unreachable", 3, Some(3)),
    ("fragmentation-needed", 3, Some(4)),
    ("network-prohibited", 3, Some(9)),
    ("host-prohibited", 3, Some(10)),
    ("communication-prohibited", 3, Some(13)),
    ("source-quench", 4, None),
    ("redirect", 5, None),
    ("echo-request", 8, None),
    ("ping", 8, None),
    ("time-exceeded", 11, None),
    ("ttl-exceeded", 11, None),
    ("ttl-zero-during-transit", 11, Some(0)),
    ("ttl-zero-during-reassembly", 11, Some(1)),
    ("parameter-problem", 12, None),
    ("timestamp-request", 13, None),
    ("timestamp-reply", 14, None),
];

fn parse_icmp_type(v: &str) -> Result<(u8, Option<u8>), NfError> {
    if let Some((_, t, c)) = ICMP_TYPES.iter().find(|(n, _, _)| *n == v) {
        return Ok((*t, *c));
    }
    let bad = || NfError::param(format!("Invalid ICMP type `{v}'"));
    match v.split_once('/') {
        Some((t, c)) => Ok((
            t.parse().map_err(|_| bad())?,
            Some(c.parse().map_err(|_| bad())?),
        )),
        None => Ok((v.parse().map_err(|_| bad())?, None)),
    }
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

fn parse_nat_ports(v: &str) -> Result<(u16, u16), NfError> {
    let bad = || NfError::param(format!("Port `{v}' not valid"));
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let a: u16 = a.parse().map_err(|_| bad())?;
    let b: u16 = b.parse().map_err(|_| bad())?;
    if a == 0 || b < a {
        return Err(bad());
    }
    Ok((a, b))
}

/// `a.b.c.d[-e.f.g.h][:port[-port]]`. Linux userspace: `parse_to` in libipt_DNAT.c.
fn parse_nat_range(v: &str, protocol: Option<u8>) -> Result<NatRange, NfError> {
    let (ips, ports) = match v.split_once(':') {
        Some((a, p)) => (a, Some(p)),
        None => (v, None),
    };
    let bad_ip = |s: &str| NfError::param(format!("Bad IP address \"{s}\""));
    let (lo, hi) = ips.split_once('-').unwrap_or((ips, ips));
    let min_ip: Ipv4Addr = lo.parse().map_err(|_| bad_ip(lo))?;
    let max_ip: Ipv4Addr = hi.parse().map_err(|_| bad_ip(hi))?;
    if u32::from(max_ip) < u32::from(min_ip) {
        return Err(bad_ip(v));
    }
    let ports = match ports {
        None => None,
        Some(p) => {
            if !matches!(protocol, Some(proto::TCP) | Some(proto::UDP)) {
                return Err(NfError::param(
                    "Need TCP, UDP, SCTP or DCCP with port specification",
                ));
            }
            Some(parse_nat_ports(p)?)
        }
    };
    Ok(NatRange {
        min_ip,
        max_ip,
        ports,
    })
}

fn proto_name(p: u8) -> String {
    match p {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        proto::ICMP => "icmp".into(),
        n => n.to_string(),
    }
}

fn addr_text(a: &AddrMatch) -> String {
    format!("{}/{}", a.addr, a.prefix)
}

fn range_text(r: &PortRange) -> String {
    if r.lo == r.hi {
        r.lo.to_string()
    } else {
        format!("{}:{}", r.lo, r.hi)
    }
}

fn flags_text(bits: u8) -> String {
    if bits == 0 {
        return "NONE".into();
    }
    let names = [
        (0x01, "FIN"),
        (0x02, "SYN"),
        (0x04, "RST"),
        (0x08, "PSH"),
        (0x10, "ACK"),
        (0x20, "URG"),
    ];
    names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn states_text(bits: u8) -> String {
    ctstate::NAMES
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}

fn nat_range_text(r: &NatRange) -> String {
    let mut s = r.min_ip.to_string();
    if r.max_ip != r.min_ip {
        let _ = write!(s, "-{}", r.max_ip);
    }
    if let Some((a, b)) = r.ports {
        let _ = write!(s, ":{a}");
        if b != a {
            let _ = write!(s, "-{b}");
        }
    }
    s
}

fn ports_text((a, b): (u16, u16)) -> String {
    if a == b {
        a.to_string()
    } else {
        format!("{a}-{b}")
    }
}

fn bang(inv: bool) -> &'static str {
    if inv {
        "! "
    } else {
        ""
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
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

/// A rule as iptables-save writes it, after `-A CHAIN`. Linux userspace: `print_rule4` →
/// each extension's `save`.
pub fn rule_spec(table: &Table, r: &Rule) -> String {
    rule_spec_counters(table, r, false)
}

/// A rule as `iptables -S -v` prints it: the counters (`-c packets bytes`) go between the
/// matches and the target, as in Linux userspace's `print_rule4`.
pub fn rule_spec_counters(table: &Table, r: &Rule, counters: bool) -> String {
    let mut s = String::new();
    let m = &r.m;
    if let Some(a) = &m.src {
        let _ = write!(s, " {}-s {}", bang(a.invert), addr_text(a));
    }
    if let Some(a) = &m.dst {
        let _ = write!(s, " {}-d {}", bang(a.invert), addr_text(a));
    }
    if let Some(i) = &m.in_if {
        let _ = write!(s, " {}-i {}", bang(i.invert), i.name);
    }
    if let Some(o) = &m.out_if {
        let _ = write!(s, " {}-o {}", bang(o.invert), o.name);
    }
    if let Some((p, inv)) = m.proto {
        let _ = write!(s, " {}-p {}", bang(inv), proto_name(p));
    }
    let l4 = m.sport.is_some() || m.dport.is_some() || m.tcp_flags.is_some();
    if l4 {
        let _ = write!(s, " -m {}", proto_name(m.proto.map_or(proto::TCP, |p| p.0)));
        if let Some((r, inv)) = &m.sport {
            let _ = write!(s, " {}--sport {}", bang(*inv), range_text(r));
        }
        if let Some((r, inv)) = &m.dport {
            let _ = write!(s, " {}--dport {}", bang(*inv), range_text(r));
        }
        if let Some((mask, comp, inv)) = m.tcp_flags {
            let _ = write!(
                s,
                " {}--tcp-flags {} {}",
                bang(inv),
                flags_text(mask),
                flags_text(comp)
            );
        }
    }
    if let Some((t, c, inv)) = m.icmp_type {
        let _ = write!(s, " -m icmp {}--icmp-type {t}", bang(inv));
        if let Some(c) = c {
            let _ = write!(s, "/{c}");
        }
    }
    if let Some((kind, ports, inv)) = &m.multiport {
        let opt = match kind {
            MultiportKind::Source => "--sports",
            MultiportKind::Destination => "--dports",
            MultiportKind::Either => "--ports",
        };
        let list: Vec<String> = ports.iter().map(range_text).collect();
        let _ = write!(s, " -m multiport {}{opt} {}", bang(*inv), list.join(","));
    }
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
    if let Some(l) = &m.limit {
        let _ = write!(s, " -m limit --limit {}", rate_text(l));
        if l.burst != 5 {
            let _ = write!(s, " --limit-burst {}", l.burst);
        }
    }
    if let Some(c) = &m.comment {
        let _ = write!(s, " -m comment --comment {}", quote(c));
    }
    if counters {
        let _ = write!(s, " -c {} {}", r.counters.packets, r.counters.bytes);
    }
    match &r.target {
        Target::None => {}
        Target::Jump(j) => {
            let _ = write!(s, " -j {}", table.chains[*j].name);
        }
        Target::Goto(j) => {
            let _ = write!(s, " -g {}", table.chains[*j].name);
        }
        t => {
            let _ = write!(s, " -j {}", t.name());
            match t {
                Target::Reject(w) => {
                    let _ = write!(s, " --reject-with {}", w.name());
                }
                Target::Log { prefix, level } => {
                    if !prefix.is_empty() {
                        let _ = write!(s, " --log-prefix {}", quote(prefix));
                    }
                    if *level != 4 {
                        let _ = write!(s, " --log-level {level}");
                    }
                }
                Target::Snat(r) => {
                    let _ = write!(s, " --to-source {}", nat_range_text(r));
                }
                Target::Dnat(r) => {
                    let _ = write!(s, " --to-destination {}", nat_range_text(r));
                }
                Target::Masquerade(Some(p)) | Target::Redirect(Some(p)) => {
                    let _ = write!(s, " --to-ports {}", ports_text(*p));
                }
                _ => {}
            }
        }
    }
    s
}

/// The "extra" column of `iptables -L`. Linux userspace: each extension's `print`.
fn rule_extra(r: &Rule, numeric: bool) -> String {
    let m = &r.m;
    // Without -n, single ports print as service names where iptables's /etc/services has them.
    let port_text = |r: &PortRange| match (numeric, r.lo == r.hi) {
        (false, true) => SERVICES
            .iter()
            .find(|(_, p)| *p == r.lo)
            .map_or_else(|| r.lo.to_string(), |(n, _)| (*n).to_string()),
        _ => range_text(r),
    };
    let mut s = String::new();
    let pn = m.proto.map_or("tcp".to_string(), |p| proto_name(p.0));
    if m.sport.is_some() || m.dport.is_some() || m.tcp_flags.is_some() {
        s.push_str(&pn);
        for (name, pr) in [("spt", &m.sport), ("dpt", &m.dport)] {
            if let Some((r, inv)) = pr {
                let plural = if r.lo != r.hi { "s" } else { "" };
                let _ = write!(
                    s,
                    " {name}{plural}:{}{}",
                    if *inv { "!" } else { "" },
                    port_text(r)
                );
            }
        }
        if let Some((mask, comp, inv)) = m.tcp_flags {
            let _ = write!(
                s,
                " flags:{}0x{mask:02X}/0x{comp:02X}",
                if inv { "!" } else { "" }
            );
        }
        s.push(' ');
    }
    if let Some((t, c, inv)) = m.icmp_type {
        let _ = write!(s, "icmp{} type {t}", if inv { " !" } else { "" });
        if let Some(c) = c {
            let _ = write!(s, " code {c}");
        }
        s.push(' ');
    }
    if let Some((kind, ports, inv)) = &m.multiport {
        let k = match kind {
            MultiportKind::Source => "sports",
            MultiportKind::Destination => "dports",
            MultiportKind::Either => "ports",
        };
        let list: Vec<String> = ports.iter().map(range_text).collect();
        let _ = write!(
            s,
            "multiport {k} {}{} ",
            if *inv { "! " } else { "" },
            list.join(",")
        );
    }
    if let Some((bits, inv, state)) = m.ctstate {
        let _ = write!(
            s,
            "{} {}{} ",
            if state { "state" } else { "ctstate" },
            if inv { "! " } else { "" },
            states_text(bits)
        );
    }
    if let Some(l) = &m.limit {
        let _ = write!(s, "limit: avg {} burst {} ", rate_text(l), l.burst);
    }
    if let Some(c) = &m.comment {
        let _ = write!(s, "/* {c} */ ");
    }
    match &r.target {
        Target::Reject(w) => {
            let _ = write!(s, "reject-with {}", w.name());
        }
        Target::Log { prefix, level } => {
            let _ = write!(s, "LOG flags 0 level {level}");
            if !prefix.is_empty() {
                let _ = write!(s, " prefix \"{prefix}\"");
            }
        }
        Target::Snat(r) | Target::Dnat(r) => {
            let _ = write!(s, "to:{}", nat_range_text(r));
        }
        Target::Masquerade(Some(p)) => {
            let _ = write!(s, "masq ports: {}", ports_text(*p));
        }
        Target::Redirect(Some(p)) => {
            let _ = write!(s, "redir ports {}", ports_text(*p));
        }
        _ => {}
    }
    s.trim_end().to_string()
}

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

fn check_chain_name(name: &str) -> Result<(), NfError> {
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
    const TARGETS: [&str; 9] = [
        "ACCEPT",
        "DROP",
        "RETURN",
        "REJECT",
        "LOG",
        "SNAT",
        "DNAT",
        "MASQUERADE",
        "REDIRECT",
    ];
    if TARGETS.contains(&name) {
        return Err(NfError::param("chain name may not clash with target name"));
    }
    Ok(())
}

/// Carry out a command on a table; returns what to print. The table is left unchanged when
/// it fails. Linux userspace: `do_command4` with libiptc's `iptc_*` calls.
pub fn run_on_table(t: &mut Table, c: &Command) -> Result<String, NfError> {
    let chain = c.chain.as_deref();
    let bad_rule =
        || NfError::new("iptables: Bad rule (does a matching rule exist in that chain?).");
    match c.op {
        Op::List => list_chains(t, c),
        Op::ListRules => list_rules(t, chain, c.verbose),
        Op::Append | Op::Insert | Op::Replace => {
            let ci = t.chain_or_err(chain.unwrap_or(""))?;
            let rule = parse_rule(t, &c.rule)?;
            t.check_rule(ci, &rule)?;
            let len = t.chains[ci].rules.len();
            match c.op {
                Op::Append => t.chains[ci].rules.push(rule),
                Op::Insert => {
                    let n = c.num.unwrap_or(1);
                    if n > len + 1 {
                        return Err(NfError::new("iptables: Index of insertion too big."));
                    }
                    t.chains[ci].rules.insert(n - 1, rule);
                }
                _ => {
                    let n = c.num.unwrap_or(0);
                    if n == 0 || n > len {
                        return Err(NfError::new("iptables: Index of replacement too big."));
                    }
                    t.chains[ci].rules[n - 1] = rule;
                }
            }
            Ok(String::new())
        }
        Op::Delete => {
            let ci = t.chain_or_err(chain.unwrap_or(""))?;
            let pos = match c.num {
                Some(n) => {
                    if n > t.chains[ci].rules.len() {
                        return Err(NfError::new("iptables: Index of deletion too big."));
                    }
                    n - 1
                }
                None => {
                    let want = rule_spec(t, &parse_rule(t, &c.rule)?);
                    t.chains[ci]
                        .rules
                        .iter()
                        .position(|r| rule_spec(t, r) == want)
                        .ok_or_else(bad_rule)?
                }
            };
            t.chains[ci].rules.remove(pos);
            Ok(String::new())
        }
        Op::Check => {
            let ci = t.chain_or_err(chain.unwrap_or(""))?;
            let want = rule_spec(t, &parse_rule(t, &c.rule)?);
            t.chains[ci]
                .rules
                .iter()
                .any(|r| rule_spec(t, r) == want)
                .then(String::new)
                .ok_or_else(bad_rule)
        }
        Op::Flush => {
            match chain {
                Some(n) => {
                    let ci = t.chain_or_err(n)?;
                    t.chains[ci].rules.clear();
                }
                None => t.chains.iter_mut().for_each(|ch| ch.rules.clear()),
            }
            Ok(String::new())
        }
        Op::Zero => {
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
                    let ci = t.chain_or_err(n)?;
                    if c.num
                        .is_some_and(|n| n == 0 || n > t.chains[ci].rules.len())
                    {
                        return Err(NfError::new("iptables: Index of deletion too big."));
                    }
                    zero(&mut t.chains[ci], c.num);
                }
                None => t.chains.iter_mut().for_each(|ch| zero(ch, None)),
            }
            Ok(String::new())
        }
        Op::NewChain => {
            let name = chain.unwrap_or("");
            check_chain_name(name)?;
            if t.chain_index(name).is_some() {
                return Err(NfError::new("iptables: Chain already exists."));
            }
            t.chains.push(Chain {
                name: name.to_string(),
                hook: None,
                policy: Policy::Accept,
                policy_counters: Counters::default(),
                rules: Vec::new(),
                hdr: Vec::new(),
            });
            Ok(String::new())
        }
        Op::DeleteChain => {
            let victims: Vec<usize> = match chain {
                Some(n) => {
                    let ci = t.chain_or_err(n)?;
                    if t.chains[ci].hook.is_some() {
                        return Err(NfError::new(
                            "iptables: Invalid argument. Run `dmesg' for more information.",
                        ));
                    }
                    if t.references(ci) > 0 {
                        return Err(NfError::new("iptables: Too many links."));
                    }
                    if !t.chains[ci].rules.is_empty() {
                        return Err(NfError::new("iptables: Directory not empty."));
                    }
                    vec![ci]
                }
                None => {
                    // Every empty, unreferenced user chain... as iptables -X: all user chains,
                    // which must be unreferenced and empty.
                    let user: Vec<usize> = (0..t.chains.len())
                        .filter(|&i| t.chains[i].hook.is_none())
                        .collect();
                    for &ci in &user {
                        let refs_from_builtin = t
                            .chains
                            .iter()
                            .filter(|ch| ch.hook.is_some())
                            .flat_map(|ch| ch.rules.iter())
                            .any(|r| matches!(r.target, Target::Jump(j) | Target::Goto(j) if j == ci));
                        if refs_from_builtin {
                            return Err(NfError::new("iptables: Too many links."));
                        }
                        if !t.chains[ci].rules.is_empty() {
                            return Err(NfError::new("iptables: Directory not empty."));
                        }
                    }
                    user
                }
            };
            for ci in victims.into_iter().rev() {
                t.chains.remove(ci);
                t.renumber_after_delete(ci);
            }
            Ok(String::new())
        }
        Op::Rename => {
            let ci = t.chain_or_err(chain.unwrap_or(""))?;
            let new = c.policy.as_deref().unwrap_or("");
            if t.chains[ci].hook.is_some() {
                return Err(NfError::new(
                    "iptables: Invalid argument. Run `dmesg' for more information.",
                ));
            }
            check_chain_name(new)?;
            if t.chain_index(new).is_some() {
                return Err(NfError::new("iptables: File exists."));
            }
            // Jumps hold the chain's index, so they follow the new name.
            t.chains[ci].name = new.to_string();
            Ok(String::new())
        }
        Op::Policy => {
            let name = chain.unwrap_or("");
            let ci = t
                .chain_index(name)
                .filter(|&ci| t.chains[ci].hook.is_some())
                .ok_or_else(|| NfError::new("iptables: Bad built-in chain name."))?;
            let p = match c.policy.as_deref() {
                Some("ACCEPT") => Policy::Accept,
                Some("DROP") => Policy::Drop,
                _ => {
                    return Err(NfError::new(
                        "iptables: Bad policy name. Run `dmesg' for more information.",
                    ))
                }
            };
            t.chains[ci].policy = p;
            Ok(String::new())
        }
    }
}

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

impl Stack {
    /// Run an iptables command line (the words after `iptables`) and return what it prints.
    /// On error nothing changes. Linux userspace: `iptables` (`do_command4`).
    pub fn iptables<S: AsRef<str>>(&mut self, argv: &[S], now: Instant) -> Result<String, NfError> {
        let _ = now;
        let c = parse_command(argv)?;
        let read_only = matches!(c.op, Op::List | Op::ListRules | Op::Check);
        if read_only {
            return run_on_table(self.nf.table_mut(c.table), &c);
        }
        // Work on a copy: a failing command leaves the table as it was.
        let mut t = self.nf.table(c.table).clone();
        let out = run_on_table(&mut t, &c)?;
        *self.nf.table_mut(c.table) = t;
        self.nf.refresh();
        Ok(out)
    }

    /// `iptables-save [-t table]`: the tables in iptables-restore format.
    /// Linux userspace: iptables-save.
    pub fn iptables_save(&self, table: Option<&str>) -> Result<String, NfError> {
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
            out.push_str(&save_table(self.nf.table(id)));
        }
        out.push_str("# Completed\n");
        Ok(out)
    }

    /// `iptables-restore [--noflush]`: replace the tables named in `text` (each `*table` ...
    /// `COMMIT` block) all at once; on any error nothing changes and the error names the
    /// line. Linux userspace: iptables-restore.
    pub fn iptables_restore(&mut self, text: &str, noflush: bool) -> Result<(), NfError> {
        let mut done: Vec<Table> = Vec::new();
        let mut cur: Option<Table> = None;
        let fail = |n: usize, why: &str| {
            let mut m = format!("iptables-restore: line {n} failed");
            if !why.is_empty() {
                m = format!("{why}\n{m}");
            }
            NfError::new(m)
        };
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
                    done.iter()
                        .rev()
                        .find(|t| t.id == id)
                        .cloned()
                        .unwrap_or_else(|| self.nf.table(id).clone())
                } else {
                    Table::new(id)
                });
                continue;
            }
            let Some(t) = cur.as_mut() else {
                return Err(fail(n, "iptables-restore: no table specified"));
            };
            if line == "COMMIT" {
                done.push(cur.take().expect("table"));
                continue;
            }
            if let Some(decl) = line.strip_prefix(':') {
                let mut parts = decl.split_whitespace();
                let name = parts.next().unwrap_or("");
                let pol = parts.next().unwrap_or("");
                match t.chain_index(name) {
                    Some(ci) if t.chains[ci].hook.is_some() => {
                        t.chains[ci].policy = match pol {
                            "ACCEPT" => Policy::Accept,
                            "DROP" => Policy::Drop,
                            _ => return Err(fail(n, "iptables-restore: bad policy")),
                        };
                        if let Some(c) = parts.next() {
                            if let Some((p, b)) = c
                                .strip_prefix('[')
                                .and_then(|c| c.strip_suffix(']'))
                                .and_then(|c| c.split_once(':'))
                            {
                                if let (Ok(p), Ok(b)) = (p.parse(), b.parse()) {
                                    t.chains[ci].policy_counters = Counters {
                                        packets: p,
                                        bytes: b,
                                    };
                                }
                            }
                        }
                    }
                    Some(_) => {}
                    None => {
                        if pol != "-" {
                            return Err(fail(
                                n,
                                "iptables-restore: Can't set policy on a user-defined chain",
                            ));
                        }
                        check_chain_name(name).map_err(|e| fail(n, &e.message))?;
                        t.chains.push(Chain {
                            name: name.to_string(),
                            hook: None,
                            policy: Policy::Accept,
                            policy_counters: Counters::default(),
                            rules: Vec::new(),
                            hdr: Vec::new(),
                        });
                    }
                }
                continue;
            }
            let words = split_words(line).map_err(|e| fail(n, &e))?;
            if words.iter().any(|w| w == "-t" || w == "--table") {
                return Err(fail(
                    n,
                    "iptables-restore: The -t option cannot be used in iptables-restore.",
                ));
            }
            let c = parse_command(&words).map_err(|e| fail(n, &e.message))?;
            run_on_table(t, &c).map_err(|e| fail(n, &e.message))?;
        }
        if cur.is_some() {
            return Err(fail(last, "iptables-restore: COMMIT expected"));
        }
        for t in done {
            let id = t.id;
            *self.nf.table_mut(id) = t;
        }
        self.nf.refresh();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &mut Stack, line: &str) -> String {
        let w: Vec<&str> = line.split_whitespace().collect();
        s.iptables(&w, Instant::ZERO)
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    fn err(s: &mut Stack, line: &str) -> String {
        let w: Vec<&str> = line.split_whitespace().collect();
        let before = s.iptables_save(None).unwrap();
        let e = s.iptables(&w, Instant::ZERO).expect_err(line).message;
        assert_eq!(
            s.iptables_save(None).unwrap(),
            before,
            "{line} changed nothing"
        );
        e
    }

    #[test]
    fn rules_print_back_as_iptables_save_writes_them() {
        let mut s = Stack::default();
        let lines = [
            "-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
            "-A INPUT ! -s 198.51.100.7/32 -i eth+ -p udp -m udp --sport 1000:2000 -j DROP",
            "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j LOG --log-prefix \"new: \"",
            "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT",
            "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
            "-A INPUT -m state --state INVALID -j DROP",
            "-A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT",
            "-A INPUT -m limit --limit 5/min --limit-burst 10 -j ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh from anywhere\" -j ACCEPT",
            "-A INPUT -p tcp -j REJECT --reject-with tcp-reset",
            "-A FORWARD -o eth1 -j REJECT --reject-with icmp-port-unreachable",
        ];
        for l in lines {
            let words = split_words(l).unwrap();
            s.iptables(&words, Instant::ZERO)
                .unwrap_or_else(|e| panic!("{l}: {e}"));
        }
        let out = ok(&mut s, "-S");
        let mut expect = String::from("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
        for l in lines {
            expect.push_str(l);
            expect.push('\n');
        }
        assert_eq!(out, expect);
        // --syn prints as the flags it stands for; -s without a mask gains /32.
        ok(&mut s, "-F");
        ok(&mut s, "-A INPUT -s 192.0.2.5 -p tcp --syn -j DROP");
        assert_eq!(
            ok(&mut s, "-S INPUT"),
            "-P INPUT ACCEPT\n-A INPUT -s 192.0.2.5/32 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP\n"
        );
    }

    #[test]
    fn insert_delete_replace_and_numbers() {
        let mut s = Stack::default();
        ok(&mut s, "-A INPUT -p tcp --dport 1 -j ACCEPT");
        ok(&mut s, "-A INPUT -p tcp --dport 3 -j ACCEPT");
        ok(&mut s, "-I INPUT 2 -p tcp --dport 2 -j ACCEPT");
        ok(&mut s, "-I INPUT -p tcp --dport 0 -j ACCEPT");
        let ports = |s: &mut Stack| -> Vec<u16> {
            s.netfilter().table(TableId::Filter).chains[0]
                .rules
                .iter()
                .map(|r| r.m.dport.unwrap().0.lo)
                .collect()
        };
        assert_eq!(ports(&mut s), [0, 1, 2, 3]);
        ok(&mut s, "-D INPUT 1");
        ok(&mut s, "-D INPUT -p tcp --dport 2 -j ACCEPT");
        ok(&mut s, "-R INPUT 2 -p tcp --dport 9 -j ACCEPT");
        assert_eq!(ports(&mut s), [1, 9]);
        ok(&mut s, "-C INPUT -p tcp --dport 9 -j ACCEPT");
        assert_eq!(
            err(&mut s, "-C INPUT -p tcp --dport 9 -j DROP"),
            "iptables: Bad rule (does a matching rule exist in that chain?)."
        );
        assert_eq!(
            err(&mut s, "-D INPUT 3"),
            "iptables: Index of deletion too big."
        );
        assert_eq!(
            err(&mut s, "-I INPUT 4 -j DROP"),
            "iptables: Index of insertion too big."
        );
        assert_eq!(
            err(&mut s, "-R INPUT 3 -j DROP"),
            "iptables: Index of replacement too big."
        );
        assert_eq!(
            err(&mut s, "-D INPUT -p tcp --dport 7 -j ACCEPT"),
            "iptables: Bad rule (does a matching rule exist in that chain?)."
        );
    }

    #[test]
    fn user_chains_policies_and_their_errors() {
        let mut s = Stack::default();
        ok(&mut s, "-N web");
        assert_eq!(err(&mut s, "-N web"), "iptables: Chain already exists.");
        ok(&mut s, "-A web -p tcp --dport 80 -j ACCEPT");
        ok(&mut s, "-A INPUT -j web");
        assert_eq!(err(&mut s, "-X web"), "iptables: Too many links.");
        ok(&mut s, "-D INPUT -j web");
        assert_eq!(err(&mut s, "-X web"), "iptables: Directory not empty.");
        ok(&mut s, "-F web");
        ok(&mut s, "-X web");
        assert_eq!(
            err(&mut s, "-A web -j DROP"),
            "iptables: Chain 'web' does not exist"
        );
        ok(&mut s, "-P INPUT DROP");
        assert!(ok(&mut s, "-S").starts_with("-P INPUT DROP\n"));
        assert_eq!(
            err(&mut s, "-P INPUT FOO"),
            "iptables: Bad policy name. Run `dmesg' for more information."
        );
        ok(&mut s, "-N x");
        assert_eq!(
            err(&mut s, "-P x DROP"),
            "iptables: Bad built-in chain name."
        );
        ok(&mut s, "-N y");
        ok(&mut s, "-A x -j y");
        ok(&mut s, "-E y z");
        assert!(ok(&mut s, "-S x").contains("-A x -j z\n"));
        assert_eq!(err(&mut s, "-E z x"), "iptables: File exists.");
        ok(&mut s, "-E z y");
        assert_eq!(
            err(&mut s, "-A y -j x"),
            "iptables: Too many levels of symbolic links."
        );
    }

    #[test]
    fn errors_read_like_iptables() {
        let mut s = Stack::default();
        let hint = "\nTry `iptables -h' or 'iptables --help' for more information.";
        let p = |m: &str| format!("iptables v1.8.9 (linnet): {m}{hint}");
        assert_eq!(err(&mut s, "-A INPUT foo"), p("Bad argument `foo'"));
        assert_eq!(
            err(&mut s, "-A INPUT -j FOO"),
            p("Couldn't load target `FOO':No such file or directory")
        );
        assert_eq!(
            err(&mut s, "-A INPUT --dport 22 -j DROP"),
            p("unknown option \"--dport\"")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -p foo"),
            p("unknown protocol \"foo\" specified")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -s 300.1.1.1"),
            p("host/network `300.1.1.1' not found")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -p tcp --dport http2"),
            p("invalid port/service `http2' specified")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -m conntrack --ctstate NEW,BOGUS"),
            p("Bad ctstate \"BOGUS\"")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -m foo"),
            p("Couldn't load match `foo':No such file or directory")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -D INPUT 1"),
            p("Cannot use -D with -A")
        );
        assert_eq!(err(&mut s, "-n"), p("no command specified"));
        assert_eq!(err(&mut s, "-L --bogus"), p("unknown option \"--bogus\""));
        assert!(err(&mut s, "-t mangle -L").contains("can't initialize iptables table `mangle'"));
        assert_eq!(
            err(&mut s, "-A INPUT -j REJECT --reject-with tcp-reset"),
            p("Can only specify tcp-reset with -p tcp (and no ! before -p)")
        );
        assert_eq!(
            err(&mut s, "-A INPUT -j MASQUERADE"),
            "iptables: MASQUERADE target: only valid in nat table."
        );
        assert_eq!(
            err(&mut s, "-t nat -A PREROUTING -j MASQUERADE"),
            "iptables: MASQUERADE target: used from a chain hooked at PREROUTING, where it is not valid."
        );
        assert_eq!(
            err(&mut s, "-t nat -A PREROUTING -j DNAT"),
            p("DNAT: option \"--to-destination\" must be specified")
        );
        assert_eq!(err(&mut s, "-A"), p("option \"-A\" requires an argument"));
    }

    #[test]
    fn list_formats() {
        let mut s = Stack::default();
        ok(&mut s, "-N web");
        ok(&mut s, "-A INPUT -p tcp --dport 22 -j ACCEPT");
        ok(&mut s, "-A INPUT -s 192.0.2.7 -j web");
        let l = ok(&mut s, "-L -n");
        assert!(l.starts_with(
            "Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination\nACCEPT     tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:22\nweb        all  --  192.0.2.7            0.0.0.0/0\n"
        ), "{l}");
        assert!(l.contains("\nChain web (1 references)\n"), "{l}");
        let named = ok(&mut s, "-L INPUT");
        assert!(
            named.contains(
                "\nACCEPT     tcp  --  anywhere             anywhere             tcp dpt:ssh\n"
            ),
            "{named}"
        );
        let v = ok(&mut s, "-nvL INPUT --line-numbers");
        assert!(
            v.starts_with(
                "Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\nnum   pkts bytes target"
            ),
            "{v}"
        );
        assert!(
            v.contains("\n1        0     0 ACCEPT     tcp  --  *      *       0.0.0.0/0"),
            "{v}"
        );
    }

    #[test]
    fn save_and_restore_round_trip_atomically() {
        let mut s = Stack::default();
        ok(&mut s, "-N web");
        ok(&mut s, "-A web -p tcp --dport 80 -j ACCEPT");
        ok(&mut s, "-A INPUT -j web");
        ok(&mut s, "-P INPUT DROP");
        ok(&mut s, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
        ok(
            &mut s,
            "-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 192.0.2.10:80",
        );
        let saved = s.iptables_save(None).unwrap();
        assert!(saved.contains("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:web - [0:0]\n-A INPUT -j web\n-A web -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n"), "{saved}");
        assert!(
            saved.contains(
                "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.10:80\n"
            ),
            "{saved}"
        );
        let mut t = Stack::default();
        t.iptables_restore(&saved, false).unwrap();
        assert_eq!(t.iptables_save(None).unwrap(), saved);
        assert!(t.netfilter().is_active());
        // A bad line anywhere changes nothing, and names the line.
        let bad = "*filter\n-F\nCOMMIT\n*nat\n-A POSTROUTING -j BOGUS\nCOMMIT\n";
        let e = t.iptables_restore(bad, false).unwrap_err();
        assert!(
            e.message.ends_with("iptables-restore: line 5 failed"),
            "{e}"
        );
        assert_eq!(t.iptables_save(None).unwrap(), saved);
        // A restore replaces the table (flush), or adds to it with --noflush.
        t.iptables_restore("*filter\n-A OUTPUT -j ACCEPT\nCOMMIT\n", true)
            .unwrap();
        assert!(t
            .iptables_save(Some("filter"))
            .unwrap()
            .contains("-A INPUT -j web\n"));
        t.iptables_restore("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", false)
            .unwrap();
        let f = t.iptables_save(Some("filter")).unwrap();
        assert!(!f.contains("web") && f.contains(":INPUT ACCEPT"), "{f}");
    }
}
