//! iptables's extensions, one file each as libxtables has them (`libxt_tcp.c`,
//! `libxt_conntrack.c`, `libipt_REJECT.c` ...): each owns its options, how they parse into
//! the typed rule, how the rule saves (`-S`, iptables-save) and how it prints (`-L`).

pub mod comment;
pub mod conntrack;
pub mod icmp;
pub mod limit;
pub mod log;
pub mod multiport;
pub mod nat;
pub mod reject;
pub mod tcpudp;

use linnet::netfilter::matches::PortRange;

/// The names of the bits set in `bits`, in table order, joined by commas (ctstate and TCP
/// flag lists, as libxtables prints them).
pub(crate) fn bit_names(names: &[(u8, &str)], bits: u8) -> String {
    names
        .iter()
        .filter(|(b, _)| bits & b != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(",")
}
use linnet::netfilter::NfError;

/// Every extension's options with the number of words each takes.
pub const OPTIONS: [&[(&str, usize)]; 9] = [
    tcpudp::OPTIONS,
    icmp::OPTIONS,
    conntrack::OPTIONS,
    multiport::OPTIONS,
    comment::OPTIONS,
    limit::OPTIONS,
    reject::OPTIONS,
    log::OPTIONS,
    nat::OPTIONS,
];

/// One option of a rule with the words after it.
#[derive(Debug, Clone, Copy)]
pub struct Opt<'a> {
    /// The option (`--dport`).
    pub name: &'a str,
    /// The word after it ("" at the end).
    pub val: &'a str,
    /// The second word after it ("" at the end).
    pub val2: &'a str,
    /// A `!` came before it.
    pub inv: bool,
}

impl Opt<'_> {
    /// iptables's error for an option that takes no `!`.
    pub fn no_invert(&self) -> Result<(), NfError> {
        if self.inv {
            Err(NfError::param(format!(
                "cannot have ! before {}",
                self.name
            )))
        } else {
            Ok(())
        }
    }

    /// iptables's error for an option no loaded extension knows.
    pub fn unknown(&self) -> NfError {
        NfError::param(format!("unknown option \"{}\"", self.name))
    }
}

/// `! ` before an inverted option in saved rules.
pub fn bang(inv: bool) -> &'static str {
    if inv {
        "! "
    } else {
        ""
    }
}

/// A string as iptables-save quotes it.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// Service names iptables would find in /etc/services (a fixed subset: no file is read).
pub const SERVICES: [(&str, u16); 9] = [
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

/// A port number or service name. Linux userspace: `xtables_parse_port`.
pub fn parse_port(v: &str) -> Result<u16, NfError> {
    if let Some((_, p)) = SERVICES.iter().find(|(n, _)| *n == v) {
        return Ok(*p);
    }
    v.parse::<u16>()
        .map_err(|_| NfError::param(format!("invalid port/service `{v}' specified")))
}

/// `P`, `P:Q`, `:Q` or `P:`. Linux userspace: `parse_port_range` (libxt_tcp.c).
pub fn parse_port_range(v: &str) -> Result<PortRange, NfError> {
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

/// A port range as iptables-save writes it.
pub fn range_text(r: &PortRange) -> String {
    if r.lo == r.hi {
        r.lo.to_string()
    } else {
        format!("{}:{}", r.lo, r.hi)
    }
}
