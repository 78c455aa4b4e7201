//! The per-packet cost of netfilter: the same pre-built TCP frame fed through
//! `Stack::receive` N times with no rules (the hooks are one untaken branch each), and with
//! a 1,000-rule INPUT chain none of whose rules match (every packet walks all of them),
//! printed as ns/packet and the ratio of the two. The two cases run in alternating batches so
//! that both see the same machine load.
//!
//! A second figure: a router forwarding one UDP flow, without rules and with MASQUERADE
//! (conntrack lookup, NAT rewrite with incremental checksums, on every packet).
//!
//! Run: `cargo run --release -p linnet --example nf-bench [-- PACKETS]`

use linnet::buf::MAX_HEADER;
use linnet::wire::{EthernetAddress, IpProtocol, Ipv4Addr, Ipv4Repr};
use linnet::{Instant, Stack, StackConfig};
use linnet_tools::iptables::Iptables;

const OUR_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const PEER_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

/// A TCP RST from 198.51.100.7:40000 to 192.0.2.1:5001, where nothing listens: TCP drops it
/// silently, so the stack sends nothing back and every packet costs the same.
fn frame() -> Vec<u8> {
    let (src, dst) = (Ipv4Addr::new(198, 51, 100, 7), Ipv4Addr::new(192, 0, 2, 1));
    let mut f = Vec::new();
    f.extend_from_slice(&OUR_MAC.0);
    f.extend_from_slice(&PEER_MAC.0);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::TCP,
        payload_len: 20,
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
    }
    .emit(&mut ip);
    f.extend_from_slice(&ip);
    let mut tcp = [0u8; 20];
    tcp[0..2].copy_from_slice(&40000u16.to_be_bytes());
    tcp[2..4].copy_from_slice(&5001u16.to_be_bytes());
    tcp[4..8].copy_from_slice(&1u32.to_be_bytes());
    tcp[12] = 5 << 4;
    tcp[13] = 0x04;
    linnet::wire::tcp::TcpPacket::new_unchecked(&mut tcp[..]).fill_checksum(src, dst);
    f.extend_from_slice(&tcp);
    f
}

const WAN_MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 1, 1]);

/// A router: eth0 192.0.2.1/24 (LAN host 192.0.2.2), eth1 198.51.100.1/24 (peer .2).
fn router() -> (Stack, u32, u32) {
    let mut s = Stack::new(StackConfig {
        ip_forward: true,
        ..StackConfig::default()
    });
    let now = Instant::ZERO;
    let e0 = s.add_interface("eth0", OUR_MAC, 1500);
    let e1 = s.add_interface("eth1", WAN_MAC, 1500);
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
    s.add_neighbour(e0, Ipv4Addr::new(192, 0, 2, 2), PEER_MAC, now)
        .unwrap();
    s.add_neighbour(e1, Ipv4Addr::new(198, 51, 100, 2), PEER_MAC, now)
        .unwrap();
    (s, e0, e1)
}

/// A 100-byte UDP datagram from the LAN host to the WAN peer.
fn udp_frame() -> Vec<u8> {
    let (src, dst) = (Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(198, 51, 100, 2));
    let mut f = Vec::new();
    f.extend_from_slice(&OUR_MAC.0);
    f.extend_from_slice(&PEER_MAC.0);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::UDP,
        payload_len: 108,
        ttl: 64,
        tos: 0,
        ident: 1,
        dont_frag: true,
    }
    .emit(&mut ip);
    f.extend_from_slice(&ip);
    let mut udp = vec![0u8; 108];
    udp[0..2].copy_from_slice(&5000u16.to_be_bytes());
    udp[2..4].copy_from_slice(&53u16.to_be_bytes());
    udp[4..6].copy_from_slice(&108u16.to_be_bytes());
    f.extend_from_slice(&udp);
    f
}

/// Forward `n` copies of the frame, taking each off the output queue; returns the time.
fn fwd_batch(s: &mut Stack, rx: u32, tx: u32, f: &[u8], n: u64) -> std::time::Duration {
    let now = Instant::from_secs(1);
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let mut b = s.pool_mut().get(MAX_HEADER);
        b.put(f.len()).copy_from_slice(f);
        s.receive(rx, b, now);
        let out = s.take_tx(tx, now).expect("forwarded");
        s.recycle(out);
    }
    t0.elapsed()
}

fn stack() -> (Stack, u32) {
    let mut s = Stack::new(StackConfig::default());
    let i = s.add_interface("eth0", OUR_MAC, 1500);
    s.add_addr(i, "192.0.2.1/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    s.set_link_up(i, true, Instant::ZERO).unwrap();
    while let Some(b) = s.take_tx(i, Instant::ZERO) {
        s.recycle(b);
    }
    (s, i)
}

/// Feed `n` copies of the frame; returns the time taken.
fn batch(s: &mut Stack, ifindex: u32, f: &[u8], n: u64) -> std::time::Duration {
    let now = Instant::from_secs(1);
    let t0 = std::time::Instant::now();
    for _ in 0..n {
        let mut b = s.pool_mut().get(MAX_HEADER);
        b.put(f.len()).copy_from_slice(f);
        s.receive(ifindex, b, now);
    }
    let t = t0.elapsed();
    assert!(s.take_tx(ifindex, now).is_none(), "nothing is sent back");
    t
}

/// The per-packet cost of netfilter rules.
#[derive(clap::Parser, Debug)]
#[command(name = "nf-bench")]
struct Args {
    /// Packets fed through each case.
    #[arg(default_value_t = 200_000)]
    packets: u64,
}

fn main() {
    let n = <Args as clap::Parser>::parse().packets;
    let f = frame();

    let (mut bare, i) = stack();
    let (mut ruled, j) = stack();
    // 1,000 rules that never match this packet: other sources, other ports.
    let mut text = String::from("*filter\n");
    for k in 0..1000u32 {
        text.push_str(&format!(
            "-A INPUT -s 203.0.113.{}/32 -p tcp -m tcp --dport {} -j DROP\n",
            k % 256,
            1000 + k
        ));
    }
    text.push_str("COMMIT\n");
    ruled.iptables_restore(&text, false).expect("restore");
    // Warm up, then alternate batches so that both see the same machine load.
    batch(&mut bare, i, &f, 1000);
    batch(&mut ruled, j, &f, 1000);
    const BATCH: u64 = 5000;
    let rounds = n.div_ceil(BATCH);
    let (mut t_bare, mut t_ruled) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..rounds {
        t_bare += batch(&mut bare, i, &f, BATCH);
        t_ruled += batch(&mut ruled, j, &f, BATCH);
    }
    let total = rounds * BATCH;
    let base = t_bare.as_nanos() as f64 / total as f64;
    let with_rules = t_ruled.as_nanos() as f64 / total as f64;
    let counted = ruled
        .iptables(&["-nvxL", "INPUT"], Instant::ZERO)
        .expect("list");
    let policy_line = counted.lines().next().unwrap_or("");
    assert!(
        policy_line.contains(&format!("{} packets", total + 1000)),
        "every packet fell through to the policy: {policy_line}"
    );

    // Forwarding with and without MASQUERADE.
    let u = udp_frame();
    let (mut plain, p0, p1) = router();
    let (mut nat, n0, n1) = router();
    nat.iptables(
        &[
            "-t",
            "nat",
            "-A",
            "POSTROUTING",
            "-o",
            "eth1",
            "-j",
            "MASQUERADE",
        ],
        Instant::ZERO,
    )
    .expect("rule");
    fwd_batch(&mut plain, p0, p1, &u, 1000);
    fwd_batch(&mut nat, n0, n1, &u, 1000);
    let (mut t_plain, mut t_nat) = (std::time::Duration::ZERO, std::time::Duration::ZERO);
    for _ in 0..rounds {
        t_plain += fwd_batch(&mut plain, p0, p1, &u, BATCH);
        t_nat += fwd_batch(&mut nat, n0, n1, &u, BATCH);
    }
    let fwd = t_plain.as_nanos() as f64 / total as f64;
    let masq = t_nat.as_nanos() as f64 / total as f64;
    assert_eq!(nat.conntrack_list(Instant::from_secs(1)).len(), 1);

    println!("packets per case:           {total}");
    println!("no rules:                   {base:.1} ns/packet");
    println!("1,000-rule INPUT chain:     {with_rules:.1} ns/packet");
    println!("ratio:                      {:.2}x", with_rules / base);
    println!(
        "per rule:                   {:.2} ns",
        (with_rules - base) / 1000.0
    );
    println!("forwarding, no rules:       {fwd:.1} ns/packet");
    println!("forwarding, MASQUERADE:     {masq:.1} ns/packet");
    println!("ratio:                      {:.2}x", masq / fwd);
}
