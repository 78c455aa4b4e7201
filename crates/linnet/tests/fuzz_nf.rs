//! Random datagrams through a router with conntrack, NAT and filter rules: no panic, the
//! conntrack table stays within its bound, and every IPv4 header the router sends has a
//! valid checksum (NAT's incremental updates included), as has every rewritten TCP/UDP
//! checksum that was valid when it arrived.

use linnet::buf::PacketBuf;
use linnet::wire::{checksum, EthernetAddress, Ipv4Addr};
use linnet::{Instant, Stack, StackConfig};
use linnet_tools::iptables::Iptables;
use proptest::prelude::*;
use std::time::Duration;

const MAC0: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const MAC1: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 1]);
const LAN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const WAN_PEER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const ROUTER_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);

fn router() -> (Stack, u32, u32) {
    let mut s = Stack::new(StackConfig {
        ip_forward: true,
        ..StackConfig::default()
    });
    let now = Instant::ZERO;
    let e0 = s.add_interface("eth0", MAC0, 1500);
    let e1 = s.add_interface("eth1", MAC1, 1500);
    s.add_addr(e0, "192.0.2.1/24".parse().unwrap(), now)
        .unwrap();
    s.add_addr(e1, "198.51.100.1/24".parse().unwrap(), now)
        .unwrap();
    for i in [e0, e1] {
        s.set_link_up(i, true, now).unwrap();
        while let Some(b) = s.take_tx(i, now) {
            s.recycle(b);
        }
    }
    s.add_neighbour(e0, LAN, EthernetAddress([2, 0, 0, 0, 0, 2]), now)
        .unwrap();
    s.add_neighbour(e1, WAN_PEER, EthernetAddress([2, 0, 0, 0, 1, 2]), now)
        .unwrap();
    let rules = "*nat\n\
        -A PREROUTING -i eth1 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80\n\
        -A PREROUTING -i eth1 -p udp -m udp --dport 5353 -j DNAT --to-destination 192.0.2.2\n\
        -A POSTROUTING -o eth1 -j MASQUERADE\n\
        COMMIT\n\
        *filter\n\
        -A INPUT -m conntrack --ctstate INVALID -j DROP\n\
        -A FORWARD -p tcp -m tcp --dport 23 -j REJECT --reject-with tcp-reset\n\
        -A FORWARD -p udp -m udp --dport 24 -j REJECT\n\
        -A FORWARD -m limit --limit 100/sec -j LOG --log-prefix \"fwd: \"\n\
        COMMIT\n";
    s.iptables_restore(rules, false).unwrap();
    s.netfilter_mut().conntrack_mut().max = 16;
    (s, e0, e1)
}

/// An IPv4 datagram with valid header and (for TCP/UDP) transport checksum.
fn datagram(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8], frag: u16) -> Vec<u8> {
    let total = 20 + l4.len();
    let mut d = vec![0u8; 20];
    d[0] = 0x45;
    d[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    d[6..8].copy_from_slice(&frag.to_be_bytes());
    d[8] = 64;
    d[9] = proto;
    d[12..16].copy_from_slice(&src.octets());
    d[16..20].copy_from_slice(&dst.octets());
    let c = checksum::checksum(&d);
    d[10..12].copy_from_slice(&c.to_be_bytes());
    d.extend_from_slice(l4);
    let off = match proto {
        6 if l4.len() >= 20 => Some(16),
        17 if l4.len() >= 8 => Some(6),
        1 if l4.len() >= 8 => Some(2),
        _ => None,
    };
    if let (Some(off), 0) = (off, frag) {
        d[20 + off] = 0;
        d[21 + off] = 0;
        let ph = if proto == 1 {
            0
        } else {
            checksum::pseudo_header_v4(src, dst, proto, l4.len() as u16)
        };
        let c = !checksum::fold(checksum::sum(&d[20..], ph));
        d[20 + off..22 + off].copy_from_slice(&c.to_be_bytes());
    }
    d
}

fn frame(to: EthernetAddress, ip: &[u8]) -> PacketBuf {
    let mut f = Vec::with_capacity(14 + ip.len());
    f.extend_from_slice(&to.0);
    f.extend_from_slice(&[2, 0, 0, 0, 9, 9, 0x08, 0x00]);
    f.extend_from_slice(ip);
    PacketBuf::from_slice(&f, 64)
}

fn verify_with(data: &[u8], pseudo: u32) -> bool {
    checksum::fold(checksum::sum(data, pseudo)) == 0xffff
}

fn l4_valid(ip: &[u8]) -> bool {
    let ihl = usize::from(ip[0] & 15) * 4;
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff != 0;
    if frag || ip.len() < ihl {
        return true;
    }
    let (src, dst) = (
        Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
        Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
    );
    let l4 = &ip[ihl..];
    match ip[9] {
        6 if l4.len() >= 20 => {
            verify_with(l4, checksum::pseudo_header_v4(src, dst, 6, l4.len() as u16))
        }
        17 if l4.len() >= 8 && (l4[6], l4[7]) != (0, 0) => verify_with(
            l4,
            checksum::pseudo_header_v4(src, dst, 17, l4.len() as u16),
        ),
        _ => true,
    }
}

/// One random datagram: which side, protocol, ports, flags, payload.
fn arb_packet() -> impl Strategy<Value = (bool, u8, Vec<u8>, u16, bool)> {
    (
        any::<bool>(),
        prop_oneof![Just(6u8), Just(17), Just(1), any::<u8>()],
        prop::collection::vec(any::<u8>(), 0..80),
        prop_oneof![Just(0u16), Just(0x2000), any::<u16>()],
        any::<bool>(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn random_traffic_through_nat_never_panics(pkts in prop::collection::vec(arb_packet(), 1..40)) {
        let (mut s, e0, e1) = router();
        let mut now = Instant::from_secs(1);
        let mut sent_valid_l4 = true;
        for (from_lan, proto, mut l4, frag, aim_ports) in pkts {
            if aim_ports && l4.len() >= 4 {
                // Hit the rules' ports now and then.
                let p: u16 = [80, 8080, 5353, 23, 24, 7][l4[0] as usize % 6];
                l4[2..4].copy_from_slice(&p.to_be_bytes());
            }
            // An ICMP error quoting one of our earlier (or a random) datagrams.
            if proto == 1 && aim_ports && l4.len() >= 8 {
                l4[0] = 3;
                l4[1] = 3;
                let inner = datagram(ROUTER_WAN, WAN_PEER, 17, &[0x13, 0x88, 0, 9, 0, 8, 0, 0], 0);
                l4.truncate(8);
                l4.extend_from_slice(&inner);
            }
            let (src, dst, mac, i) = if from_lan {
                (LAN, WAN_PEER, MAC0, e0)
            } else {
                (WAN_PEER, if aim_ports { ROUTER_WAN } else { LAN }, MAC1, e1)
            };
            let d = datagram(src, dst, proto, &l4, frag);
            let valid_in = frag & 0x3fff == 0 && l4_valid(&d);
            s.receive(i, frame(mac, &d), now);
            now += Duration::from_millis(7);
            s.poll(now);
            for j in [e0, e1] {
                while let Some(b) = s.take_tx(j, now) {
                    let f = b.data();
                    if f.len() >= 34 && f[12..14] == [0x08, 0x00] {
                        let ip = &f[14..];
                        prop_assert!(checksum::checksum(&ip[..usize::from(ip[0] & 15) * 4]) == 0, "IPv4 checksum");
                        if valid_in && !l4_valid(ip) {
                            sent_valid_l4 = false;
                        }
                    }
                    s.recycle(b);
                }
            }
            prop_assert!(s.netfilter().conntrack().len() <= 16);
        }
        prop_assert!(sent_valid_l4, "a valid transport checksum was broken");
    }
}
