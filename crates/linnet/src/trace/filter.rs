//! The packet filter language shared by `linnet capture` and `linnet trace`: a small subset of
//! tcpdump's (pcap-filter(7)) primitives.
//!
//! ```text
//! expr  := term ("or" | "||") term ...
//! term  := factor ("and" | "&&") factor ...
//! factor:= ("not" | "!") factor | "(" expr ")" | primitive
//! primitive := [PROTO] [src|dst] host ADDR | [src|dst] net CIDR | [src|dst] port N
//!            | tcp | udp | icmp | arp | ip
//! ```
//!
//! A filter is parsed once (allocating its small tree) and then evaluated on frame bytes or on
//! an IPv4 datagram without allocating. Parse errors name the word that was wrong.
//!
//! Parsing is bounded by construction: at most [`MAX_DEPTH`] levels of `(` and `not`, at most
//! [`MAX_NODES`] primitives and operators (Linux: `BPF_MAXINSNS` bounds a classic BPF
//! program the same way) and at most [`MAX_FILTER_LEN`] bytes of text, each checked before
//! the parser descends, so a hostile filter gets an error and never exhausts a thread's stack
//! (the tree is evaluated and dropped recursively too, so its depth must stay small).
//!
//! Linux: the classic BPF programs that `pcap_compile` builds and `sk_run_filter` runs; here
//! the tree is interpreted directly.

use crate::wire::tcp::TcpPacket;
use crate::wire::{ipv4, ArpPacket, EtherType, EthernetFrame, Ipv4Addr, Ipv4Cidr, Ipv4Packet};
use std::fmt;

/// Which end of a packet an address or port primitive looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Either,
    Src,
    Dst,
}

/// A protocol primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Ip,
    Tcp,
    Udp,
    Icmp,
    Arp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Host(Dir, Ipv4Addr),
    Net(Dir, Ipv4Cidr),
    Port(Dir, u16),
    Proto(Proto),
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
}

/// A parsed filter. The empty filter matches every packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    root: Option<Node>,
    text: String,
}

/// Deepest nesting of `(` and `not` accepted.
pub const MAX_DEPTH: usize = 64;
/// Most primitives and operators in one filter (Linux: `BPF_MAXINSNS`, 4096 instructions).
pub const MAX_NODES: usize = 1024;
/// Longest filter text accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 16 * 1024;

/// A filter that did not parse, with a message naming the bad word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterError(pub String);

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "filter: {}", self.0)
    }
}

impl std::error::Error for FilterError {}

/// The fields of a packet a filter looks at, read from its bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PktKey {
    /// EtherType (0x0800 IPv4, 0x0806 ARP), 0 if unknown.
    pub ethertype: u16,
    /// IP protocol number, if IPv4.
    pub proto: Option<u8>,
    /// Source address (IPv4 source, or ARP sender protocol address).
    pub src: Option<Ipv4Addr>,
    /// Destination address (IPv4 destination, or ARP target protocol address).
    pub dst: Option<Ipv4Addr>,
    /// TCP/UDP source port (first fragments only).
    pub sport: Option<u16>,
    /// TCP/UDP destination port.
    pub dport: Option<u16>,
}

const ETH_P_IP: u16 = EtherType::IPV4.0;
const ETH_P_ARP: u16 = EtherType::ARP.0;

impl PktKey {
    /// Read the key of an Ethernet frame. Short or malformed frames give a partial key.
    pub fn from_frame(frame: &[u8]) -> PktKey {
        let Ok(eth) = EthernetFrame::new_checked(frame) else {
            return PktKey::default();
        };
        let ethertype = eth.ethertype().0;
        let rest = eth.payload();
        match ethertype {
            ETH_P_IP => PktKey::from_ipv4(rest),
            ETH_P_ARP => {
                let mut k = PktKey {
                    ethertype,
                    ..PktKey::default()
                };
                // Ethernet/IPv4 ARP: hlen 6, plen 4; spa at 14, tpa at 24.
                // Unchecked: the 28 bytes read are there (tested first); no `new_checked`, which
                // would also refuse other hardware and protocol types, as this did not.
                let arp = ArpPacket::new_unchecked(rest);
                if rest.len() >= 28 && arp.hardware_len() == 6 && arp.protocol_len() == 4 {
                    k.src = Some(arp.source_protocol_addr());
                    k.dst = Some(arp.target_protocol_addr());
                }
                k
            }
            _ => PktKey {
                ethertype,
                ..PktKey::default()
            },
        }
    }

    /// Read the key of an IPv4 datagram (network header at the start).
    pub fn from_ipv4(p: &[u8]) -> PktKey {
        let mut k = PktKey {
            ethertype: ETH_P_IP,
            ..PktKey::default()
        };
        // Unchecked: the 20-byte header is tested for first; a capture may be cut short of
        // the total length, so no `new_checked`.
        let iph = Ipv4Packet::new_unchecked(p);
        if p.len() < ipv4::HEADER_LEN || iph.version() != 4 {
            return k;
        }
        let ihl = iph.header_len();
        let proto = iph.protocol().0;
        k.proto = Some(proto);
        k.src = Some(iph.src_addr());
        k.dst = Some(iph.dst_addr());
        if iph.frag_offset() == 0
            && (proto == 6 || proto == 17)
            && ihl >= ipv4::HEADER_LEN
            && p.len() >= ihl + 4
        {
            // Unchecked: the four port bytes are there (tested above); TCP and UDP put them
            // at the same offsets.
            let l4 = TcpPacket::new_unchecked(&p[ihl..ihl + 4]);
            k.sport = Some(l4.src_port());
            k.dport = Some(l4.dst_port());
        }
        k
    }
}

fn either<T: PartialEq + Copy>(
    dir: Dir,
    s: Option<T>,
    d: Option<T>,
    f: impl Fn(T) -> bool,
) -> bool {
    match dir {
        Dir::Src => s.is_some_and(&f),
        Dir::Dst => d.is_some_and(&f),
        Dir::Either => s.is_some_and(&f) || d.is_some_and(&f),
    }
}

impl Node {
    fn eval(&self, k: &PktKey) -> bool {
        match self {
            Node::Host(dir, a) => either(*dir, k.src, k.dst, |x| x == *a),
            Node::Net(dir, c) => either(*dir, k.src, k.dst, |x| c.contains(x)),
            Node::Port(dir, p) => {
                matches!(k.proto, Some(6) | Some(17)) && either(*dir, k.sport, k.dport, |x| x == *p)
            }
            Node::Proto(p) => match p {
                Proto::Ip => k.ethertype == ETH_P_IP,
                Proto::Arp => k.ethertype == ETH_P_ARP,
                Proto::Tcp => k.proto == Some(6),
                Proto::Udp => k.proto == Some(17),
                Proto::Icmp => k.proto == Some(1),
            },
            Node::Not(n) => !n.eval(k),
            Node::And(a, b) => a.eval(k) && b.eval(k),
            Node::Or(a, b) => a.eval(k) || b.eval(k),
        }
    }
}

impl Filter {
    /// A filter that matches everything.
    pub fn all() -> Filter {
        Filter::default()
    }

    /// Parse a filter from its words (as a shell passes them: `["tcp", "and", "port", "80"]`).
    pub fn parse_words<S: AsRef<str>>(words: &[S]) -> Result<Filter, FilterError> {
        let joined: Vec<&str> = words.iter().map(|w| w.as_ref()).collect();
        Filter::parse(&joined.join(" "))
    }

    /// Parse a filter expression.
    pub fn parse(text: &str) -> Result<Filter, FilterError> {
        if text.len() > MAX_FILTER_LEN {
            return Err(FilterError(format!(
                "filter too long: {} bytes (at most {MAX_FILTER_LEN})",
                text.len()
            )));
        }
        let toks = tokenize(text);
        if toks.is_empty() {
            return Ok(Filter::default());
        }
        let mut p = Parser {
            toks,
            pos: 0,
            depth: 0,
            nodes: 0,
        };
        let root = p.expr()?;
        if let Some(t) = p.peek() {
            return Err(FilterError(format!(
                "unexpected \"{t}\" (expected \"and\", \"or\" or the end)"
            )));
        }
        Ok(Filter {
            root: Some(root),
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }

    /// The filter's text, normalised (empty for the match-all filter).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether this is the match-all filter.
    pub fn is_all(&self) -> bool {
        self.root.is_none()
    }

    /// Does a packet with this key match?
    pub fn matches(&self, k: &PktKey) -> bool {
        match &self.root {
            None => true,
            Some(n) => n.eval(k),
        }
    }

    /// Does this Ethernet frame match? Allocates nothing.
    pub fn matches_frame(&self, frame: &[u8]) -> bool {
        self.root.is_none() || self.matches(&PktKey::from_frame(frame))
    }

    /// Does this IPv4 datagram match? Allocates nothing.
    pub fn matches_ipv4(&self, datagram: &[u8]) -> bool {
        self.root.is_none() || self.matches(&PktKey::from_ipv4(datagram))
    }
}

fn tokenize(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for w in text.split_whitespace() {
        let mut cur = String::new();
        for c in w.chars() {
            if c == '(' || c == ')' {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                out.push(c.to_string());
            } else if c == '!' && cur.is_empty() {
                out.push("!".into());
            } else {
                cur.push(c);
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
    }
    out
}

struct Parser {
    toks: Vec<String>,
    pos: usize,
    /// Nesting of `(` and `not` around the word being parsed.
    depth: usize,
    /// Nodes built so far.
    nodes: usize,
}

impl Parser {
    fn peek(&self) -> Option<&str> {
        self.toks.get(self.pos).map(String::as_str)
    }

    fn next(&mut self) -> Option<String> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// Count one more node, refusing a filter with too many.
    fn node(&mut self, n: Node) -> Result<Node, FilterError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(FilterError(format!(
                "filter too complex: more than {MAX_NODES} terms and operators"
            )));
        }
        Ok(n)
    }

    /// Enter one level of `(` or `not`, refusing to nest deeper than [`MAX_DEPTH`].
    fn enter(&mut self, word: &str) -> Result<(), FilterError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(FilterError(format!(
                "filter nested too deeply at \"{word}\" (at most {MAX_DEPTH} levels of \"(\" and \"not\")"
            )));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Node, FilterError> {
        let mut left = self.term()?;
        while matches!(self.peek(), Some("or") | Some("||")) {
            self.pos += 1;
            let right = self.term()?;
            left = self.node(Node::Or(Box::new(left), Box::new(right)))?;
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Node, FilterError> {
        let mut left = self.factor()?;
        while matches!(self.peek(), Some("and") | Some("&&")) {
            self.pos += 1;
            let right = self.factor()?;
            left = self.node(Node::And(Box::new(left), Box::new(right)))?;
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Node, FilterError> {
        let Some(t) = self.next() else {
            return Err(FilterError("unexpected end of expression".into()));
        };
        match t.as_str() {
            "not" | "!" => {
                self.enter(&t)?;
                let inner = self.factor()?;
                self.depth -= 1;
                self.node(Node::Not(Box::new(inner)))
            }
            "(" => {
                self.enter(&t)?;
                let e = self.expr()?;
                self.depth -= 1;
                match self.next() {
                    Some(c) if c == ")" => Ok(e),
                    Some(other) => Err(FilterError(format!("expected \")\", got \"{other}\""))),
                    None => Err(FilterError("missing \")\"".into())),
                }
            }
            "src" => self.qualified(Dir::Src, "src"),
            "dst" => self.qualified(Dir::Dst, "dst"),
            "host" | "net" | "port" => self.primitive(Dir::Either, &t),
            "ip" => self.proto_qualified(Proto::Ip),
            "tcp" => self.proto_qualified(Proto::Tcp),
            "udp" => self.proto_qualified(Proto::Udp),
            "icmp" => self.proto_qualified(Proto::Icmp),
            "arp" => self.proto_qualified(Proto::Arp),
            other => Err(FilterError(format!(
                "unknown word \"{other}\" (expected host, net, port, src, dst, tcp, udp, icmp, arp, ip, not or \"(\")"
            ))),
        }
    }

    /// A protocol may qualify the primitive after it, as in tcpdump's `tcp port 80`
    /// (the same as `tcp and port 80`).
    fn proto_qualified(&mut self, p: Proto) -> Result<Node, FilterError> {
        let node = self.node(Node::Proto(p))?;
        match self.peek() {
            Some("src") | Some("dst") | Some("host") | Some("net") | Some("port") => {
                let next = self.factor()?;
                self.node(Node::And(Box::new(node), Box::new(next)))
            }
            _ => Ok(node),
        }
    }

    fn qualified(&mut self, dir: Dir, q: &str) -> Result<Node, FilterError> {
        match self.next() {
            Some(k) if k == "host" || k == "net" || k == "port" => self.primitive(dir, &k),
            Some(other) => Err(FilterError(format!(
                "expected host, net or port after \"{q}\", got \"{other}\""
            ))),
            None => Err(FilterError(format!(
                "expected host, net or port after \"{q}\""
            ))),
        }
    }

    fn primitive(&mut self, dir: Dir, kind: &str) -> Result<Node, FilterError> {
        self.node(Node::Proto(Proto::Ip))?;
        let Some(v) = self.next() else {
            return Err(FilterError(format!("\"{kind}\" needs a value")));
        };
        match kind {
            "host" => v
                .parse::<Ipv4Addr>()
                .map(|a| Node::Host(dir, a))
                .map_err(|_| {
                    FilterError(format!("\"{v}\" is not an IPv4 address (after \"host\")"))
                }),
            "net" => {
                let c = if v.contains('/') {
                    v.parse::<Ipv4Cidr>().ok()
                } else {
                    v.parse::<Ipv4Addr>()
                        .ok()
                        .and_then(|a| Ipv4Cidr::new(a, 32))
                };
                c.map(|c| {
                    // Keep the network part only, as tcpdump does.
                    let bits = u32::from(c.addr) & mask(c.prefix_len);
                    Node::Net(
                        dir,
                        Ipv4Cidr::new(Ipv4Addr::from(bits), c.prefix_len).unwrap_or(c),
                    )
                })
                .ok_or_else(|| {
                    FilterError(format!(
                        "\"{v}\" is not an IPv4 network like 192.0.2.0/24 (after \"net\")"
                    ))
                })
            }
            _ => v
                .parse::<u16>()
                .map(|p| Node::Port(dir, p))
                .map_err(|_| FilterError(format!("\"{v}\" is not a port number (after \"port\")"))),
        }
    }
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix.min(32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12] = 0x08;
        f[14] = 0x45;
        f[14 + 9] = 6;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        f[34..36].copy_from_slice(&sport.to_be_bytes());
        f[36..38].copy_from_slice(&dport.to_be_bytes());
        f
    }

    fn arp_frame(spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 28];
        f[12] = 0x08;
        f[13] = 0x06;
        f[14 + 4] = 6;
        f[14 + 5] = 4;
        f[14 + 14..14 + 18].copy_from_slice(&spa);
        f[14 + 24..14 + 28].copy_from_slice(&tpa);
        f
    }

    fn m(filter: &str, frame: &[u8]) -> bool {
        Filter::parse(filter).unwrap().matches_frame(frame)
    }

    #[test]
    fn primitives_match_the_right_fields() {
        let f = tcp_frame([192, 0, 2, 1], [192, 0, 2, 2], 40000, 80);
        assert!(m("", &f));
        assert!(m("tcp", &f) && m("ip", &f));
        assert!(!m("udp", &f) && !m("icmp", &f) && !m("arp", &f));
        assert!(m("host 192.0.2.1", &f) && m("host 192.0.2.2", &f));
        assert!(!m("host 192.0.2.3", &f));
        assert!(m("src host 192.0.2.1", &f) && !m("dst host 192.0.2.1", &f));
        assert!(m("dst host 192.0.2.2", &f) && !m("src host 192.0.2.2", &f));
        assert!(m("port 80", &f) && m("port 40000", &f) && !m("port 81", &f));
        assert!(m("dst port 80", &f) && !m("src port 80", &f));
        assert!(m("net 192.0.2.0/24", &f) && !m("net 198.51.100.0/24", &f));
        assert!(m("src net 192.0.2.7/24", &f), "host bits are ignored");
        assert!(!m("dst net 192.0.2.1/32", &f));
    }

    #[test]
    fn boolean_operators_and_precedence() {
        let f = tcp_frame([192, 0, 2, 1], [192, 0, 2, 2], 40000, 80);
        assert!(m("tcp and port 80", &f));
        assert!(m("tcp port 80", &f) && m("tcp dst port 80", &f));
        assert!(!m("udp port 80", &f) && !m("tcp src port 80", &f));
        assert!(!m("tcp and port 81", &f));
        assert!(m("udp or port 80", &f));
        assert!(!m("not tcp", &f) && m("not udp", &f));
        assert!(m("! udp && tcp", &f));
        // and binds tighter than or: udp or (tcp and port 81) is false.
        assert!(!m("udp or tcp and port 81", &f));
        assert!(m("(udp or tcp) and (port 81 or port 80)", &f));
        assert!(!m("not (tcp and port 80)", &f));
        assert!(m("arp or host 192.0.2.1", &f));
    }

    #[test]
    fn arp_addresses_match_host_but_not_port() {
        let a = arp_frame([192, 0, 2, 1], [192, 0, 2, 2]);
        assert!(m("arp", &a) && !m("ip", &a) && !m("tcp", &a));
        assert!(m("host 192.0.2.2", &a) && m("src host 192.0.2.1", &a));
        assert!(!m("port 80", &a));
    }

    #[test]
    fn later_fragments_have_no_ports_and_short_frames_do_not_panic() {
        let mut f = tcp_frame([192, 0, 2, 1], [192, 0, 2, 2], 40000, 80);
        f[14 + 7] = 10; // fragment offset 80 bytes
        assert!(m("tcp", &f) && !m("port 80", &f));
        for n in 0..f.len() {
            let _ = m("port 80 or host 192.0.2.1 or arp", &f[..n]);
        }
        assert!(!m("tcp", &f[..20]));
    }

    #[test]
    fn errors_name_the_bad_word() {
        for (text, word) in [
            ("hots 192.0.2.1", "\"hots\""),
            ("host 192.0.2.300", "\"192.0.2.300\""),
            ("port http", "\"http\""),
            ("port 70000", "\"70000\""),
            ("net 192.0.2.0/33", "\"192.0.2.0/33\""),
            ("src tcp", "\"tcp\""),
            ("host 192.0.2.1 port 80", "\"port\""),
            ("(tcp or udp", "\")\""),
            ("tcp and", "end"),
            ("host", "\"host\""),
        ] {
            let e = Filter::parse(text).unwrap_err();
            assert!(e.to_string().contains(word), "{text}: {e}");
        }
    }

    #[test]
    fn deep_long_and_huge_filters_get_an_error_not_a_stack_overflow() {
        // Run on a small stack: bounded parsing must not need a big one.
        let t = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let ok = format!("{}tcp{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
                assert!(Filter::parse(&ok).is_ok());
                let deep = |n: usize| format!("{}tcp{}", "(".repeat(n), ")".repeat(n));
                for text in [
                    deep(MAX_DEPTH + 1),
                    deep(3500),
                    "not ".repeat(12_000),
                    "! ".repeat(MAX_DEPTH + 1) + "tcp",
                    deep(500_000),
                    vec!["tcp"; 2000].join(" and "),
                    vec!["port 80"; 1100].join(" or "),
                ] {
                    let e = Filter::parse(&text).expect_err("refused");
                    assert!(
                        e.0.contains("too deeply")
                            || e.0.contains("too complex")
                            || e.0.contains("too long"),
                        "{} bytes: {}",
                        text.len(),
                        e.0
                    );
                }
                // Just under the limits still parses, evaluates and drops on this stack.
                let wide = vec!["tcp"; 400].join(" and ");
                let f = Filter::parse(&wide).unwrap();
                assert!(f.matches_frame(&tcp_frame([1, 1, 1, 1], [2, 2, 2, 2], 1, 2)));
            })
            .unwrap();
        t.join().expect("no overflow");
    }

    #[test]
    fn words_and_parens_tokenize_like_a_shell_passes_them() {
        let f = Filter::parse_words(&["(tcp", "or", "udp)", "and", "!port", "22"]).unwrap();
        assert_eq!(f.text(), "(tcp or udp) and !port 22");
        let frame = tcp_frame([192, 0, 2, 1], [192, 0, 2, 2], 40000, 22);
        assert!(!f.matches_frame(&frame));
        assert!(Filter::parse("  ").unwrap().is_all());
    }
}
