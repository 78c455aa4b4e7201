//! One-line summaries of frames, in tcpdump's style (`IP 192.0.2.1.80 > 192.0.2.2.40000:
//! Flags [S.], seq 1, ack 2, win 64240, length 0`).

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

fn be16(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

fn be32(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn ip(b: &[u8]) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

/// Append a tcpdump-like summary of an Ethernet frame to `out`. Never panics on short or
/// malformed input (it says so instead).
pub fn summarize(frame: &[u8], out: &mut String) {
    if frame.len() < 14 {
        let _ = write!(out, "truncated frame, length {}", frame.len());
        return;
    }
    let et = be16(frame, 12);
    let p = &frame[14..];
    match et {
        0x0806 => {
            if p.len() < 28 {
                let _ = write!(out, "ARP, truncated, length {}", p.len());
                return;
            }
            match be16(p, 6) {
                1 => {
                    let _ = write!(
                        out,
                        "ARP, Request who-has {} tell {}, length {}",
                        ip(&p[24..28]),
                        ip(&p[14..18]),
                        p.len()
                    );
                }
                2 => {
                    let m = &p[8..14];
                    let _ = write!(
                        out,
                        "ARP, Reply {} is-at {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}, length {}",
                        ip(&p[14..18]),
                        m[0],
                        m[1],
                        m[2],
                        m[3],
                        m[4],
                        m[5],
                        p.len()
                    );
                }
                op => {
                    let _ = write!(out, "ARP, op {op}, length {}", p.len());
                }
            }
        }
        0x0800 => summarize_ipv4(p, out),
        0x86dd => {
            let _ = write!(out, "IP6, length {}", p.len());
        }
        other => {
            let _ = write!(out, "ethertype 0x{other:04x}, length {}", frame.len());
        }
    }
}

fn summarize_ipv4(p: &[u8], out: &mut String) {
    if p.len() < 20 || p[0] >> 4 != 4 {
        let _ = write!(out, "IP truncated or bad version, length {}", p.len());
        return;
    }
    let ihl = ((p[0] & 15) as usize) * 4;
    let total = (be16(p, 2) as usize).min(p.len());
    let (src, dst) = (ip(&p[12..16]), ip(&p[16..20]));
    let frag = be16(p, 6);
    let l4 = p.get(ihl..total).unwrap_or(&[]);
    if frag & 0x1fff != 0 {
        let _ = write!(
            out,
            "IP {src} > {dst}: ip-proto-{} fragment offset {}, length {}",
            p[9],
            (frag & 0x1fff) * 8,
            l4.len()
        );
        return;
    }
    match p[9] {
        6 if l4.len() >= 20 => {
            let hl = ((l4[12] >> 4) as usize) * 4;
            let len = l4.len().saturating_sub(hl);
            let _ = write!(
                out,
                "IP {src}.{} > {dst}.{}: Flags [{}], seq {}",
                be16(l4, 0),
                be16(l4, 2),
                tcp_flags_name(l4[13]),
                be32(l4, 4)
            );
            if l4[13] & 0x10 != 0 {
                let _ = write!(out, ", ack {}", be32(l4, 8));
            }
            let _ = write!(out, ", win {}, length {len}", be16(l4, 14));
        }
        17 if l4.len() >= 8 => {
            let _ = write!(
                out,
                "IP {src}.{} > {dst}.{}: UDP, length {}",
                be16(l4, 0),
                be16(l4, 2),
                (be16(l4, 4) as usize).saturating_sub(8)
            );
        }
        1 if l4.len() >= 8 => {
            let _ = write!(out, "IP {src} > {dst}: ICMP {}", icmp_type_name(l4[0]));
            if l4[0] == 0 || l4[0] == 8 {
                let _ = write!(out, ", id {}, seq {}", be16(l4, 4), be16(l4, 6));
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
