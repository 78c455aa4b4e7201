//! One-line summaries of frames, in tcpdump's style (`IP 192.0.2.1.80 > 192.0.2.2.40000:
//! Flags [S.], seq 1, ack 2, win 64240, length 0`).

use crate::wire::tcp::{self, TcpFlags, TcpPacket};
use crate::wire::udp::{self, UdpPacket};
use crate::wire::{icmpv4, ipv4, ArpOperation, ArpPacket, EtherType, EthernetFrame};
use crate::wire::{Icmpv4Message, Icmpv4Packet, Ipv4Packet};
use std::fmt::Write;

const FLAGS: [&str; 32] = [
    "none", "F", "S", "SF", "R", "FR", "SR", "SFR", "P", "FP", "SP", "SFP", "PR", "FPR", "SPR",
    "SFPR", ".", "F.", "S.", "SF.", "R.", "FR.", "SR.", "SFR.", "P.", "FP.", "SP.", "SFP.", "PR.",
    "FPR.", "SPR.", "SFPR.",
];

/// TCP flags as tcpdump prints them inside `Flags [...]` (`S`, `S.`, `P.`, `F.`, `R`).
pub fn tcp_flags_name(flags: u8) -> &'static str {
    FLAGS[(flags & 0x1f) as usize]
}

/// An ICMP type's name.
pub fn icmp_type_name(ty: u8) -> &'static str {
    match ty {
        0 => "echo reply",
        3 => "destination unreachable",
        4 => "source quench",
        5 => "redirect",
        8 => "echo request",
        11 => "time exceeded",
        12 => "parameter problem",
        _ => "other",
    }
}

/// Append a tcpdump-like summary of an Ethernet frame to `out`. Never panics on short or
/// malformed input (it says so instead).
pub fn summarize(frame: &[u8], out: &mut String) {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        let _ = write!(out, "truncated frame, length {}", frame.len());
        return;
    };
    let p = eth.payload();
    match eth.ethertype() {
        EtherType::ARP => {
            if p.len() < 28 {
                let _ = write!(out, "ARP, truncated, length {}", p.len());
                return;
            }
            // Unchecked: the 28 bytes of an Ethernet/IPv4 ARP body are there (tested above);
            // other hardware or protocol types are summarized as if they were, as before.
            let arp = ArpPacket::new_unchecked(p);
            match arp.operation() {
                ArpOperation::REQUEST => {
                    let _ = write!(
                        out,
                        "ARP, Request who-has {} tell {}, length {}",
                        arp.target_protocol_addr(),
                        arp.source_protocol_addr(),
                        p.len()
                    );
                }
                ArpOperation::REPLY => {
                    let _ = write!(
                        out,
                        "ARP, Reply {} is-at {}, length {}",
                        arp.source_protocol_addr(),
                        arp.source_hardware_addr(),
                        p.len()
                    );
                }
                ArpOperation(op) => {
                    let _ = write!(out, "ARP, op {op}, length {}", p.len());
                }
            }
        }
        EtherType::IPV4 => summarize_ipv4(p, out),
        EtherType::IPV6 => {
            let _ = write!(out, "IP6, length {}", p.len());
        }
        EtherType(other) => {
            let _ = write!(out, "ethertype 0x{other:04x}, length {}", frame.len());
        }
    }
}

fn summarize_ipv4(p: &[u8], out: &mut String) {
    // Unchecked: the 20-byte header is tested for first; a capture may be cut short of the
    // total length, so no `new_checked`.
    let iph = Ipv4Packet::new_unchecked(p);
    if p.len() < ipv4::HEADER_LEN || iph.version() != 4 {
        let _ = write!(out, "IP truncated or bad version, length {}", p.len());
        return;
    }
    let ihl = iph.header_len();
    let total = usize::from(iph.total_len()).min(p.len());
    let (src, dst) = (iph.src_addr(), iph.dst_addr());
    let l4 = p.get(ihl..total).unwrap_or(&[]);
    let proto = iph.protocol().0;
    if iph.frag_offset() != 0 {
        let _ = write!(
            out,
            "IP {src} > {dst}: ip-proto-{proto} fragment offset {}, length {}",
            iph.frag_offset(),
            l4.len()
        );
        return;
    }
    // Unchecked views below: each arm's length test covers the fields it reads.
    match proto {
        6 if l4.len() >= tcp::HEADER_LEN => {
            let th = TcpPacket::new_unchecked(l4);
            let len = l4.len().saturating_sub(usize::from(th.header_len()));
            let flags = th.flags();
            let _ = write!(
                out,
                "IP {src}.{} > {dst}.{}: Flags [{}], seq {}",
                th.src_port(),
                th.dst_port(),
                tcp_flags_name(flags.0),
                th.seq_number().0
            );
            if flags.contains(TcpFlags::ACK) {
                let _ = write!(out, ", ack {}", th.ack_number().0);
            }
            let _ = write!(out, ", win {}, length {len}", th.window_len());
        }
        17 if l4.len() >= udp::HEADER_LEN => {
            let uh = UdpPacket::new_unchecked(l4);
            let _ = write!(
                out,
                "IP {src}.{} > {dst}.{}: UDP, length {}",
                uh.src_port(),
                uh.dst_port(),
                usize::from(uh.len()).saturating_sub(udp::HEADER_LEN)
            );
        }
        1 if l4.len() >= icmpv4::HEADER_LEN => {
            let ih = Icmpv4Packet::new_unchecked(l4);
            let ty = ih.msg_type();
            let _ = write!(out, "IP {src} > {dst}: ICMP {}", icmp_type_name(ty.0));
            if ty == Icmpv4Message::ECHO_REPLY || ty == Icmpv4Message::ECHO_REQUEST {
                let _ = write!(out, ", id {}, seq {}", ih.echo_ident(), ih.echo_seq_no());
            }
            let _ = write!(out, ", length {}", l4.len());
        }
        proto => {
            let _ = write!(
                out,
                "IP {src} > {dst}: ip-proto-{proto}, length {}",
                l4.len()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_udp_icmp_arp_lines() {
        let mut f = vec![0u8; 14 + 20 + 20 + 5];
        f[12] = 8;
        f[14] = 0x45;
        f[16..18].copy_from_slice(&45u16.to_be_bytes());
        f[23] = 6;
        f[26..30].copy_from_slice(&[192, 0, 2, 1]);
        f[30..34].copy_from_slice(&[192, 0, 2, 2]);
        f[34..36].copy_from_slice(&40000u16.to_be_bytes());
        f[36..38].copy_from_slice(&80u16.to_be_bytes());
        f[38..42].copy_from_slice(&7u32.to_be_bytes());
        f[42..46].copy_from_slice(&9u32.to_be_bytes());
        f[46] = 0x50;
        f[47] = 0x18;
        f[48..50].copy_from_slice(&512u16.to_be_bytes());
        let mut s = String::new();
        summarize(&f, &mut s);
        assert_eq!(
            s,
            "IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [P.], seq 7, ack 9, win 512, length 5"
        );
        f[23] = 1;
        f[34] = 8;
        s.clear();
        summarize(&f, &mut s);
        assert!(
            s.starts_with("IP 192.0.2.1 > 192.0.2.2: ICMP echo request, id "),
            "{s}"
        );
        let mut a = vec![0u8; 42];
        a[12] = 8;
        a[13] = 6;
        a[21] = 1;
        a[28..32].copy_from_slice(&[192, 0, 2, 1]);
        a[38..42].copy_from_slice(&[192, 0, 2, 2]);
        s.clear();
        summarize(&a, &mut s);
        assert_eq!(
            s,
            "ARP, Request who-has 192.0.2.2 tell 192.0.2.1, length 28"
        );
        for n in 0..f.len() {
            s.clear();
            summarize(&f[..n], &mut s);
        }
        assert_eq!(tcp_flags_name(0x12), "S.");
        assert_eq!(tcp_flags_name(0x02), "S");
    }
}
