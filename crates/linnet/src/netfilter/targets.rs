//! What a rule does when it matches. Linux: the standard targets of x_tables (ACCEPT, DROP,
//! RETURN, jumps and gotos) and the extensions ipt_REJECT.c, xt_LOG.c, xt_nat.c,
//! xt_MASQUERADE.c, xt_REDIRECT.c.

use super::matches::{proto, PktInfo};
use crate::wire::Ipv4Addr;
use serde::{Deserialize, Serialize};

/// How REJECT answers. Linux: `enum ipt_reject_with`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RejectWith {
    /// `icmp-net-unreachable`.
    NetUnreachable,
    /// `icmp-host-unreachable`.
    HostUnreachable,
    /// `icmp-port-unreachable` (the default).
    PortUnreachable,
    /// `icmp-proto-unreachable`.
    ProtoUnreachable,
    /// `icmp-net-prohibited`.
    NetProhibited,
    /// `icmp-host-prohibited`.
    HostProhibited,
    /// `icmp-admin-prohibited`.
    AdminProhibited,
    /// `tcp-reset`.
    TcpReset,
}

impl RejectWith {
    /// Every kind with its iptables name.
    pub const ALL: [(RejectWith, &'static str); 8] = [
        (RejectWith::NetUnreachable, "icmp-net-unreachable"),
        (RejectWith::HostUnreachable, "icmp-host-unreachable"),
        (RejectWith::PortUnreachable, "icmp-port-unreachable"),
        (RejectWith::ProtoUnreachable, "icmp-proto-unreachable"),
        (RejectWith::NetProhibited, "icmp-net-prohibited"),
        (RejectWith::HostProhibited, "icmp-host-prohibited"),
        (RejectWith::AdminProhibited, "icmp-admin-prohibited"),
        (RejectWith::TcpReset, "tcp-reset"),
    ];

    /// The iptables name.
    pub fn name(self) -> &'static str {
        RejectWith::ALL
            .iter()
            .find(|(k, _)| *k == self)
            .map(|(_, n)| *n)
            .unwrap_or("icmp-port-unreachable")
    }

    /// The ICMP destination unreachable code, for the ICMP kinds.
    pub fn icmp_code(self) -> Option<u8> {
        use crate::wire::icmpv4::dst_unreachable as du;
        Some(match self {
            RejectWith::NetUnreachable => du::NET,
            RejectWith::HostUnreachable => du::HOST,
            RejectWith::PortUnreachable => du::PORT,
            RejectWith::ProtoUnreachable => du::PROTOCOL,
            RejectWith::NetProhibited => 9,
            RejectWith::HostProhibited => 10,
            RejectWith::AdminProhibited => du::PKT_FILTERED,
            RejectWith::TcpReset => return None,
        })
    }
}

/// An address range and optional port range, for SNAT/DNAT. Linux: `struct nf_nat_range2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct NatRange {
    /// First address.
    pub min_ip: Ipv4Addr,
    /// Last address.
    pub max_ip: Ipv4Addr,
    /// Ports (inclusive), or keep them.
    pub ports: Option<(u16, u16)>,
}

/// A rule's target.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Target {
    /// No `-j`: the rule only counts.
    #[default]
    None,
    /// ACCEPT.
    Accept,
    /// DROP.
    Drop,
    /// RETURN: back to the calling chain (a built-in chain's policy at top level).
    Return,
    /// `-j CHAIN` (index into the table's chains).
    Jump(usize),
    /// `-g CHAIN`: RETURN from there goes back past this chain.
    Goto(usize),
    /// REJECT.
    Reject(RejectWith),
    /// LOG, then continue.
    Log {
        /// `--log-prefix`.
        prefix: String,
        /// `--log-level` (syslog level, 4 = warning by default).
        level: u8,
    },
    /// SNAT `--to-source`.
    Snat(NatRange),
    /// DNAT `--to-destination`.
    Dnat(NatRange),
    /// MASQUERADE `[--to-ports]`.
    Masquerade(Option<(u16, u16)>),
    /// REDIRECT `[--to-ports]`.
    Redirect(Option<(u16, u16)>),
}

impl Target {
    /// The names of the targets, which no chain may take.
    pub const NAMES: [&'static str; 9] = [
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

    /// The target's name as iptables prints it (chains print their own name).
    pub fn name(&self) -> &'static str {
        match self {
            Target::None => "",
            Target::Accept => "ACCEPT",
            Target::Drop => "DROP",
            Target::Return => "RETURN",
            Target::Jump(_) | Target::Goto(_) => "",
            Target::Reject(_) => "REJECT",
            Target::Log { .. } => "LOG",
            Target::Snat(_) => "SNAT",
            Target::Dnat(_) => "DNAT",
            Target::Masquerade(_) => "MASQUERADE",
            Target::Redirect(_) => "REDIRECT",
        }
    }
}

/// The line LOG writes, in the kernel's format. Linux: `nf_log_ip_packet` → `dump_ipv4_packet`.
pub fn log_line(prefix: &str, p: &PktInfo, in_dev: &str, out_dev: &str) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(160);
    let _ = write!(
        s,
        "{prefix}IN={in_dev} OUT={out_dev} SRC={} DST={} LEN={} TOS=0x{:02X} TTL={} ID={}",
        p.src, p.dst, p.len, p.tos, p.ttl, p.ident
    );
    match p.proto {
        proto::TCP if p.has_l4 => {
            let _ = write!(s, " PROTO=TCP SPT={} DPT={}", p.sport, p.dport);
            for (bit, name) in [
                (0x20, "URG"),
                (0x10, "ACK"),
                (0x08, "PSH"),
                (0x04, "RST"),
                (0x02, "SYN"),
                (0x01, "FIN"),
            ] {
                if p.tcp_flags & bit != 0 {
                    let _ = write!(s, " {name}");
                }
            }
        }
        proto::UDP if p.has_l4 => {
            let _ = write!(s, " PROTO=UDP SPT={} DPT={}", p.sport, p.dport);
        }
        proto::ICMP if p.has_l4 => {
            let _ = write!(s, " PROTO=ICMP TYPE={} CODE={}", p.icmp_type, p.icmp_code);
        }
        n => {
            let _ = write!(s, " PROTO={n}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reject_names_and_codes() {
        for (k, n) in RejectWith::ALL {
            assert_eq!(k.name(), n);
        }
        assert_eq!(RejectWith::PortUnreachable.icmp_code(), Some(3));
        assert_eq!(RejectWith::AdminProhibited.icmp_code(), Some(13));
        assert_eq!(RejectWith::TcpReset.icmp_code(), None);
    }

    #[test]
    fn log_line_reads_like_the_kernel() {
        let p = PktInfo {
            src: Ipv4Addr::new(192, 0, 2, 2),
            dst: Ipv4Addr::new(192, 0, 2, 1),
            proto: proto::TCP,
            len: 60,
            ttl: 64,
            has_l4: true,
            sport: 4000,
            dport: 80,
            tcp_flags: 0x02,
            ..PktInfo::default()
        };
        let l = log_line("fw: ", &p, "eth0", "");
        assert_eq!(
            l,
            "fw: IN=eth0 OUT= SRC=192.0.2.2 DST=192.0.2.1 LEN=60 TOS=0x00 TTL=64 ID=0 PROTO=TCP SPT=4000 DPT=80 SYN"
        );
    }
}
