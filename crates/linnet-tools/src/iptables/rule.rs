//! One rule's words into a typed [`Rule`], and a rule back into words: the generic options
//! (`-s -d -p -i -o`, `-m`, `-j`/`-g`, `!`) here, each extension's own options in
//! [`super::ext`].
//!
//! Linux userspace: `do_parse`'s option loop (iptables/xshared.c) with each extension's
//! `parse` and `final_check`; `print_rule4` / `print_firewall` calling each extension's
//! `save` / `print`.

use super::ext::{self, Opt};
use linnet::netfilter::matches::{proto, AddrMatch, IfMatch, RuleMatch};
use linnet::netfilter::table::{Counters, Rule, Table};
use linnet::netfilter::targets::Target;
use linnet::netfilter::NfError;
use linnet::Ipv4Addr;
use std::fmt::Write;

/// What parsing a rule has gathered so far: its matches, the extensions loaded (`-m`), and
/// the target with the options its extension collects.
#[derive(Debug, Default)]
pub struct RuleBuilder {
    /// The matches.
    pub m: RuleMatch,
    /// Matches loaded with `-m`, in order.
    pub loaded: Vec<&'static str>,
    /// The `-j`/`-g` word.
    pub target_name: Option<String>,
    /// The target, for the standard ones and chains.
    pub target: Target,
    /// `-m limit`'s options.
    pub limit: ext::limit::LimitOpts,
    /// REJECT's options.
    pub reject: ext::reject::RejectOpts,
    /// LOG's options.
    pub log: ext::log::LogOpts,
    /// SNAT/DNAT/MASQUERADE/REDIRECT's options.
    pub nat: ext::nat::NatOpts,
}

impl RuleBuilder {
    /// Whether an extension was loaded with `-m`.
    pub fn loaded(&self, name: &str) -> bool {
        self.loaded.contains(&name)
    }

    /// A target option is only known once its target is chosen.
    pub fn target_is(&self, names: &[&str], o: &Opt) -> Result<(), NfError> {
        if self
            .target_name
            .as_deref()
            .is_some_and(|n| names.contains(&n))
        {
            Ok(())
        } else {
            Err(o.unknown())
        }
    }

    /// `-p tcp` or `-p udp` given without `!`.
    pub fn tcp_or_udp(&self) -> bool {
        self.m
            .proto
            .is_some_and(|(p, v)| !v && (p == proto::TCP || p == proto::UDP))
    }
}

/// An extension's option parser: `Some(words consumed)` when the option is its own.
type ParseFn = fn(&mut RuleBuilder, &Opt) -> Result<Option<usize>, NfError>;

/// Every extension's parser; their options are disjoint.
const PARSERS: [ParseFn; 9] = [
    ext::tcpudp::parse,
    ext::icmp::parse,
    ext::conntrack::parse,
    ext::multiport::parse,
    ext::comment::parse,
    ext::limit::parse,
    ext::reject::parse,
    ext::log::parse,
    ext::nat::parse,
];

/// The matches `-m` loads. Linux userspace: the `libxt_*` shared objects found.
const MATCHES: [&str; 8] = [
    "tcp",
    "udp",
    "icmp",
    "conntrack",
    "state",
    "multiport",
    "limit",
    "comment",
];

/// A rule parsed against its table (jump targets resolved).
/// Linux userspace: `do_parse`'s option loop with each extension's `parse` and `final_check`.
pub fn parse_rule<S: AsRef<str>>(table: &Table, words: &[S]) -> Result<Rule, NfError> {
    let w: Vec<&str> = words.iter().map(|s| s.as_ref()).collect();
    let mut b = RuleBuilder::default();
    let mut invert = false;
    let mut i = 0;
    while i < w.len() {
        let o = Opt {
            name: w[i],
            val: w.get(i + 1).copied().unwrap_or(""),
            val2: w.get(i + 2).copied().unwrap_or(""),
            inv: std::mem::take(&mut invert),
        };
        let consumed = match generic(&mut b, table, &o)? {
            Some(Generic::Invert) => {
                invert = true;
                1
            }
            Some(Generic::Consumed(n)) => n,
            None => extension(&mut b, &o)?,
        };
        if consumed > 1 && i + consumed > w.len() {
            return Err(NfError::param(format!(
                "option \"{}\" requires an argument",
                o.name
            )));
        }
        i += consumed;
    }
    if invert {
        return Err(NfError::param("Bad argument `!'"));
    }
    final_check(b)
}

/// What a generic option did.
enum Generic {
    /// `!`: the next option is inverted.
    Invert,
    /// It took this many words.
    Consumed(usize),
}

/// The options every rule has. Linux userspace: the `switch` of `do_parse`.
fn generic(b: &mut RuleBuilder, table: &Table, o: &Opt) -> Result<Option<Generic>, NfError> {
    let (opt, val, inv) = (o.name, o.val, o.inv);
    match opt {
        "!" => {
            if inv {
                return Err(NfError::param("multiple consecutive ! not allowed"));
            }
            return Ok(Some(Generic::Invert));
        }
        "-s" | "--source" | "--src" => b.m.src = Some(parse_addr(val, inv)?),
        "-d" | "--destination" | "--dst" => b.m.dst = Some(parse_addr(val, inv)?),
        "-p" | "--protocol" => b.m.proto = parse_proto(val)?.map(|p| (p, inv)),
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
                b.m.in_if = im;
            } else {
                b.m.out_if = im;
            }
        }
        "-m" | "--match" => {
            o.no_invert()?;
            let Some(name) = MATCHES.iter().find(|n| **n == val) else {
                return Err(NfError::param(format!(
                    "Couldn't load match `{val}':No such file or directory"
                )));
            };
            b.loaded.push(name);
        }
        "-j" | "--jump" | "-g" | "--goto" => {
            o.no_invert()?;
            if b.target_name.is_some() {
                return Err(NfError::param("multiple -j flags not allowed"));
            }
            b.target = jump(table, val, opt == "-g" || opt == "--goto")?;
            b.target_name = Some(val.to_string());
        }
        _ => return Ok(None),
    }
    Ok(Some(Generic::Consumed(2)))
}

/// The target `-j NAME` / `-g NAME` names: a standard target, an extension (completed by
/// [`final_check`]), or a user chain.
fn jump(table: &Table, name: &str, goto: bool) -> Result<Target, NfError> {
    Ok(match name {
        "ACCEPT" if !goto => Target::Accept,
        "DROP" if !goto => Target::Drop,
        "RETURN" if !goto => Target::Return,
        "REJECT" | "LOG" | "SNAT" | "DNAT" | "MASQUERADE" | "REDIRECT" if !goto => Target::None,
        name => match table.chain_index(name) {
            Some(idx) if table.chains[idx].hook.is_none() => {
                if goto {
                    Target::Goto(idx)
                } else {
                    Target::Jump(idx)
                }
            }
            None if goto => return Err(NfError::param(format!("goto '{name}' is not a chain"))),
            _ => {
                return Err(NfError::param(format!(
                    "Couldn't load target `{name}':No such file or directory"
                )))
            }
        },
    })
}

/// An option of some extension, or iptables's error for an unknown one.
fn extension(b: &mut RuleBuilder, o: &Opt) -> Result<usize, NfError> {
    for parse in PARSERS {
        if let Some(n) = parse(b, o)? {
            return Ok(n);
        }
    }
    if o.name.starts_with('-') {
        return Err(o.unknown());
    }
    Err(NfError::param(format!("Bad argument `{}'", o.name)))
}

/// After the last word: the loaded matches must suit the protocol, and each extension
/// completes its part. Linux: `xt_check_match`'s protocol check; userspace `final_check`.
fn final_check(mut b: RuleBuilder) -> Result<Rule, NfError> {
    for l in &b.loaded {
        let want = match *l {
            "tcp" => Some(proto::TCP),
            "udp" => Some(proto::UDP),
            "icmp" => Some(proto::ICMP),
            _ => None,
        };
        if let Some(p) = want {
            if b.m.proto != Some((p, false)) {
                return Err(NfError::new(format!(
                    "iptables: {l} match: only valid for protocol {p}"
                )));
            }
        }
    }
    ext::tcpudp::final_check(&b)?;
    ext::limit::final_check(&mut b);
    let target = match b.target_name.as_deref() {
        Some("REJECT") => ext::reject::final_check(&b)?,
        Some("LOG") => ext::log::final_check(&b),
        Some(n @ ("SNAT" | "DNAT" | "MASQUERADE" | "REDIRECT")) => ext::nat::final_check(&b, n)?,
        _ => std::mem::take(&mut b.target),
    };
    Ok(Rule {
        m: b.m,
        target,
        counters: Counters::default(),
    })
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

/// A protocol's name as iptables prints it.
pub fn proto_name(p: u8) -> String {
    match p {
        proto::TCP => "tcp".into(),
        proto::UDP => "udp".into(),
        proto::ICMP => "icmp".into(),
        n => n.to_string(),
    }
}

/// `-s`/`-d` as iptables-save writes them.
pub fn addr_text(a: &AddrMatch) -> String {
    format!("{}/{}", a.addr, a.prefix)
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
        let _ = write!(s, " {}-s {}", ext::bang(a.invert), addr_text(a));
    }
    if let Some(a) = &m.dst {
        let _ = write!(s, " {}-d {}", ext::bang(a.invert), addr_text(a));
    }
    if let Some(i) = &m.in_if {
        let _ = write!(s, " {}-i {}", ext::bang(i.invert), i.name);
    }
    if let Some(o) = &m.out_if {
        let _ = write!(s, " {}-o {}", ext::bang(o.invert), o.name);
    }
    if let Some((p, inv)) = m.proto {
        let _ = write!(s, " {}-p {}", ext::bang(inv), proto_name(p));
    }
    ext::tcpudp::save(m, &mut s);
    ext::icmp::save(m, &mut s);
    ext::multiport::save(m, &mut s);
    ext::conntrack::save(m, &mut s);
    ext::limit::save(m, &mut s);
    ext::comment::save(m, &mut s);
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
            ext::reject::save(t, &mut s);
            ext::log::save(t, &mut s);
            ext::nat::save(t, &mut s);
        }
    }
    s
}

/// The "extra" column of `iptables -L`. Linux userspace: each extension's `print`.
pub fn rule_extra(r: &Rule, numeric: bool) -> String {
    let m = &r.m;
    let mut s = String::new();
    ext::tcpudp::print(m, numeric, &mut s);
    ext::icmp::print(m, &mut s);
    ext::multiport::print(m, &mut s);
    ext::conntrack::print(m, &mut s);
    ext::limit::print(m, &mut s);
    ext::comment::print(m, &mut s);
    ext::reject::print(&r.target, &mut s);
    ext::log::print(&r.target, &mut s);
    ext::nat::print(&r.target, &mut s);
    s.trim_end().to_string()
}
