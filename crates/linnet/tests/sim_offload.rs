//! Offloads between two stacks under virtual time: frames pass from one stack's `take_tx` to
//! the other's `receive` as buffers, metadata included (what a vnet-header device pair does),
//! so TSO super-frames with partial checksums cross whole; a link whose devices offload
//! nothing gets MTU-sized frames with complete checksums only.

mod common;
use common::pattern;

use linnet::buf::{CsumState, PacketBuf};
use linnet::device::features::NetdevFeatures;
use linnet::wire::tcp::TcpPacket;
use linnet::wire::{EthernetAddress, Ipv4Packet};
use linnet::Errno;
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, Shutdown, SockType};
use linnet_tools::tc::Tc;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

/// What crossed the link.
#[derive(Debug, Default)]
struct Seen {
    frames: usize,
    largest: usize,
    partial: usize,
}

/// Two stacks on one link, each device offering `features`.
fn pair(features: NetdevFeatures) -> [(Stack, u32); 2] {
    let mk = |seed, mac, me: Ipv4Addr, peer, peer_mac| {
        let mut s = Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        });
        let i = s.add_interface("eth0", mac, 1500);
        s.set_dev_features(i, features);
        s.add_addr(i, format!("{me}/24").parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.set_link_up(i, true, Instant::ZERO).unwrap();
        s.add_neighbour(i, peer, peer_mac, Instant::ZERO).unwrap();
        (s, i)
    };
    [mk(1, MAC_A, A, B, MAC_B), mk(2, MAC_B, B, A, MAC_A)]
}

/// Move frames both ways (checking each) until both sides are quiet.
fn shuttle(st: &mut [(Stack, u32); 2], now: Instant, seen: &mut Seen) {
    for _ in 0..10_000 {
        let mut moved = false;
        for from in 0..2 {
            let to = 1 - from;
            st[from].0.poll(now);
            let ifindex = st[from].1;
            while let Some(b) = st[from].0.take_tx(ifindex, now) {
                check_frame(&b, seen);
                let mut copy = PacketBuf::from_slice(b.data(), 64);
                copy.meta.csum = b.meta.csum;
                copy.meta.gso_size = b.meta.gso_size;
                st[from].0.recycle(b);
                let (stack, i) = &mut st[to];
                stack.receive(*i, copy, now);
                moved = true;
            }
        }
        if !moved {
            return;
        }
    }
    panic!("the link never went quiet");
}

/// A frame is either MTU-sized, or a GSO super-frame whose segments are; a partial checksum
/// holds the pseudo-header sum, a complete one verifies.
fn check_frame(b: &PacketBuf, seen: &mut Seen) {
    seen.frames += 1;
    seen.largest = seen.largest.max(b.len());
    if b.data()[12..14] != [0x08, 0x00] {
        return; // ARP announcements
    }
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    assert!(ip.verify_checksum());
    if b.meta.gso_size == 0 {
        assert!(b.len() <= 1514, "{} bytes without GSO", b.len());
    } else {
        assert!(usize::from(b.meta.gso_size) <= 1460);
    }
    if ip.protocol().0 != 6 {
        return;
    }
    let tcp = TcpPacket::new_checked(ip.payload()).unwrap();
    let ok = tcp.verify_checksum(ip.src_addr(), ip.dst_addr());
    match b.meta.csum {
        CsumState::Partial { start, offset } => {
            assert_eq!((start, offset), (20, 16));
            seen.partial += 1;
        }
        _ => assert!(ok, "a complete TCP checksum must verify"),
    }
}

/// Send `len` bytes from stack 0 to stack 1 and back the other way; return what crossed.
fn transfer(features: NetdevFeatures, len: usize) -> Seen {
    transfer_with(features, len, &[])
}

/// [`transfer`] with `tc` commands run on both stacks first.
fn transfer_with(features: NetdevFeatures, len: usize, tc: &[&str]) -> Seen {
    let mut st = pair(features);
    for (stack, _) in st.iter_mut() {
        for cmd in tc {
            let argv: Vec<String> = cmd.split_whitespace().map(String::from).collect();
            stack.tc(&argv, Instant::ZERO).expect("tc command");
        }
    }
    let mut now = Instant::ZERO;
    let mut seen = Seen::default();
    let l = st[1].0.socket(SockType::Stream).unwrap();
    st[1]
        .0
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000))
        .unwrap();
    st[1].0.listen(l, 4).unwrap();
    let c = st[0].0.socket(SockType::Stream).unwrap();
    assert_eq!(
        st[0].0.connect(c, SocketAddrV4::new(B, 5000), now),
        Err(Errno::EINPROGRESS)
    );
    shuttle(&mut st, now, &mut seen);
    let (s, _) = st[1].0.accept(l).unwrap();
    let up = pattern(len, 3);
    let down = pattern(len, 4);
    let (mut sent_up, mut sent_down) = (0, 0);
    let (mut got_up, mut got_down) = (Vec::new(), Vec::new());
    let mut buf = vec![0u8; 256 << 10];
    let mut shut = [false; 2];
    for _ in 0..100_000 {
        if sent_up < len {
            sent_up += st[0].0.send(c, &up[sent_up..], now).unwrap_or(0);
        } else if !shut[0] {
            st[0].0.shutdown(c, Shutdown::Write, now).unwrap();
            shut[0] = true;
        }
        if sent_down < len {
            sent_down += st[1].0.send(s, &down[sent_down..], now).unwrap_or(0);
        } else if !shut[1] {
            st[1].0.shutdown(s, Shutdown::Write, now).unwrap();
            shut[1] = true;
        }
        shuttle(&mut st, now, &mut seen);
        while let Ok(n @ 1..) = st[1].0.recv(s, &mut buf, MsgFlags::default(), now) {
            got_up.extend_from_slice(&buf[..n]);
        }
        while let Ok(n @ 1..) = st[0].0.recv(c, &mut buf, MsgFlags::default(), now) {
            got_down.extend_from_slice(&buf[..n]);
        }
        if got_up.len() == len && got_down.len() == len {
            break;
        }
        now += Duration::from_millis(1);
    }
    assert!(
        got_up == up,
        "upload differs ({} of {len} bytes)",
        got_up.len()
    );
    assert!(
        got_down == down,
        "download differs ({} of {len} bytes)",
        got_down.len()
    );
    for (stack, _) in &st {
        let tcp = stack.snmp().tcp;
        assert_eq!((tcp.in_csum_errors, tcp.in_errs), (0, 0));
    }
    seen
}

#[test]
fn tso_super_frames_cross_whole_with_partial_checksums() {
    let seen = transfer(NetdevFeatures::VNET, 4 << 20);
    assert!(seen.largest > 32 << 10, "no super-frames: {seen:?}");
    assert!(seen.partial > 0, "{seen:?}");
    // 8 MiB in far fewer frames than MSS-sized segments would need (about 5800 plus ACKs).
    assert!(seen.frames < 4000, "{seen:?}");
}

#[test]
fn a_shaping_qdisc_gets_wire_sized_segments_of_super_frames() {
    // tbf's burst (16 KiB) is smaller than a super-frame: it must see segments, as Linux's
    // tbf_segment makes them, or nothing would ever fit its bucket.
    let seen = transfer_with(
        NetdevFeatures::VNET,
        1 << 20,
        &["qdisc add dev eth0 root tbf rate 1gbit burst 16kb latency 50ms"],
    );
    assert!(seen.largest <= 1514, "{seen:?}");
    assert!(
        seen.partial > 0,
        "checksums still left to the device: {seen:?}"
    );
}

#[test]
fn without_offloads_only_mtu_sized_frames_with_full_checksums() {
    let seen = transfer(NetdevFeatures::default(), 1 << 20);
    assert!(seen.largest <= 1514, "{seen:?}");
    assert_eq!(seen.partial, 0, "{seen:?}");
}

#[test]
fn checksum_offload_without_tso_leaves_checksums_partial_on_normal_frames() {
    let seen = transfer(
        NetdevFeatures {
            hw_csum: true,
            tso: false,
        },
        1 << 20,
    );
    assert!(seen.largest <= 1514, "{seen:?}");
    assert!(seen.partial > 0, "{seen:?}");
}

/// A host A on a TSO link to a router R, which forwards to a host B over a link whose devices
/// offload nothing: R must segment A's super-frames in software and finish their checksums
/// (`validate_xmit_skb`), so B only sees MTU-sized frames that verify; B's replies go back
/// the other way as they are.
/// What [`route_through`] saw: frames A → R, frames R → B, and ICMP errors A received.
struct Routed {
    a_to_r: Seen,
    r_to_b: Seen,
    a_icmp_unreach: u64,
}

/// Host A (TSO link) → router R → host B, R's device towards B having `mtu` (B's own MTU
/// stays 1500, so only the path MTU is smaller) and B's link `features`; 2 MiB from A to B,
/// checked byte for byte.
fn route_through(mtu: usize, features: NetdevFeatures) -> Routed {
    const R1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 254);
    const R2: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 254);
    const HB: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
    let macs = [2u8, 3, 4, 5].map(|n| EthernetAddress([2, 0, 0, 0, 0, n]));
    let now0 = Instant::ZERO;
    let host = |seed, mac, me: &str, gw, gw_mac, f, mtu| {
        let mut s = Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        });
        let i = s.add_interface("eth0", mac, mtu);
        s.set_dev_features(i, f);
        s.add_addr(i, me.parse().unwrap(), now0).unwrap();
        s.set_link_up(i, true, now0).unwrap();
        s.add_neighbour(i, gw, gw_mac, now0).unwrap();
        s.add_default_gateway(gw).unwrap();
        (s, i)
    };
    let (mut a, ia) = host(
        1,
        macs[0],
        "192.0.2.1/24",
        R1,
        macs[1],
        NetdevFeatures::VNET,
        1500,
    );
    let (mut b, ib) = host(2, macs[3], "198.51.100.2/24", R2, macs[2], features, 1500);
    let mut r = Stack::new(StackConfig {
        seed: 3,
        ip_forward: true,
        ..StackConfig::default()
    });
    let r1 = r.add_interface("eth0", macs[1], 1500);
    let r2 = r.add_interface("eth1", macs[2], mtu);
    r.set_dev_features(r1, NetdevFeatures::VNET);
    r.set_dev_features(r2, features);
    for (i, c) in [(r1, "192.0.2.254/24"), (r2, "198.51.100.254/24")] {
        r.add_addr(i, c.parse().unwrap(), now0).unwrap();
        r.set_link_up(i, true, now0).unwrap();
    }
    r.add_neighbour(r1, A, macs[0], now0).unwrap();
    r.add_neighbour(r2, HB, macs[3], now0).unwrap();

    let l = b.socket(SockType::Stream).unwrap();
    b.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
        .unwrap();
    b.listen(l, 4).unwrap();
    let c = a.socket(SockType::Stream).unwrap();
    let _ = a.connect(c, SocketAddrV4::new(HB, 80), now0);
    let len = 2 << 20;
    let data = pattern(len, 11);
    let (mut sent, mut got) = (0, Vec::new());
    let mut server = None;
    let mut buf = vec![0u8; 256 << 10];
    let (mut seen_ar, mut seen_rb) = (Seen::default(), Seen::default());
    let mut now = now0;
    let pass = |from: &mut Stack, fi: u32, to: &mut Stack, ti: u32, now, seen: &mut Seen| {
        let mut moved = false;
        from.poll(now);
        while let Some(f) = from.take_tx(fi, now) {
            check_frame(&f, seen);
            let mut copy = PacketBuf::from_slice(f.data(), 64);
            copy.meta.csum = f.meta.csum;
            copy.meta.gso_size = f.meta.gso_size;
            from.recycle(f);
            to.receive(ti, copy, now);
            moved = true;
        }
        moved
    };
    for _ in 0..100_000 {
        if sent < len {
            sent += a.send(c, &data[sent..], now).unwrap_or(0);
        }
        for _ in 0..1000 {
            let mut m = pass(&mut a, ia, &mut r, r1, now, &mut seen_ar);
            m |= pass(&mut r, r2, &mut b, ib, now, &mut seen_rb);
            m |= pass(&mut b, ib, &mut r, r2, now, &mut Seen::default());
            m |= pass(&mut r, r1, &mut a, ia, now, &mut Seen::default());
            if !m {
                break;
            }
        }
        if server.is_none() {
            server = b.accept(l).ok().map(|(s, _)| s);
        }
        if let Some(s) = server {
            while let Ok(n @ 1..) = b.recv(s, &mut buf, MsgFlags::default(), now) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        if got.len() == len {
            break;
        }
        now += Duration::from_millis(1);
    }
    assert!(got == data, "{} of {len} bytes arrived intact", got.len());
    assert_eq!(b.snmp().tcp.in_csum_errors, 0);
    assert!(
        seen_ar.largest > 32 << 10,
        "A sent no super-frames: {seen_ar:?}"
    );
    Routed {
        a_to_r: seen_ar,
        r_to_b: seen_rb,
        a_icmp_unreach: a.snmp().icmp.in_dest_unreachs,
    }
}

#[test]
fn a_router_segments_super_frames_for_a_link_without_offloads() {
    let r = route_through(1500, NetdevFeatures::default());
    assert!(r.r_to_b.largest <= 1514, "{:?}", r.r_to_b);
    assert_eq!(
        r.r_to_b.partial, 0,
        "R finished every checksum: {:?}",
        r.r_to_b
    );
    assert!(r.r_to_b.frames > (2 << 20) / 1460, "{:?}", r.r_to_b);
    assert_eq!(r.a_icmp_unreach, 0);
}

/// A smaller MTU behind the router: the super-frames' segments do not fit, so R answers
/// "fragmentation needed" (DF), A lowers its MSS and its later super-frames pass.
#[test]
fn super_frames_whose_segments_exceed_the_next_mtu_get_fragmentation_needed() {
    for features in [NetdevFeatures::default(), NetdevFeatures::VNET] {
        let r = route_through(1400, features);
        assert!(r.a_icmp_unreach > 0, "{features:?}");
        assert!(r.a_to_r.largest > 32 << 10, "{:?}", r.a_to_r);
        if features.tso {
            // Passed on whole, each segment now within the smaller MTU.
            assert!(r.r_to_b.largest > 32 << 10, "{:?}", r.r_to_b);
        } else {
            assert!(r.r_to_b.largest <= 1414, "{:?}", r.r_to_b);
            assert_eq!(r.r_to_b.partial, 0);
        }
    }
}

/// Random TCP/IPv4 frames with random offload metadata (as a misbehaving driver might give)
/// into a forwarding stack whose other device offloads nothing, and into a local listener:
/// nothing panics, and whatever leaves is MTU-sized.
#[test]
fn random_frames_with_random_offload_metadata_never_panic() {
    const ME: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 9]);
    let mut s = Stack::new(StackConfig {
        seed: 9,
        ip_forward: true,
        ..StackConfig::default()
    });
    let i1 = s.add_interface("eth0", ME, 1500);
    let i2 = s.add_interface("eth1", EthernetAddress([2, 0, 0, 0, 1, 9]), 1500);
    s.set_dev_features(i1, NetdevFeatures::VNET);
    let now = Instant::ZERO;
    s.add_addr(i1, "192.0.2.2/24".parse().unwrap(), now)
        .unwrap();
    s.add_addr(i2, "198.51.100.2/24".parse().unwrap(), now)
        .unwrap();
    s.set_link_up(i1, true, now).unwrap();
    s.set_link_up(i2, true, now).unwrap();
    s.add_neighbour(i2, Ipv4Addr::new(198, 51, 100, 1), MAC_B, now)
        .unwrap();
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80))
        .unwrap();
    s.listen(l, 4).unwrap();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for n in 0..20_000 {
        let payload = (rnd() % 9000) as usize;
        let tot = 40 + payload;
        let mut f = vec![0u8; 14 + tot];
        f[..6].copy_from_slice(&ME.0);
        f[6..12].copy_from_slice(&MAC_A.0);
        f[12..14].copy_from_slice(&[8, 0]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(tot as u16).to_be_bytes());
        ip[6] = if rnd() % 2 == 0 { 0x40 } else { 0 };
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&A.octets());
        let dst = if n % 2 == 0 {
            Ipv4Addr::new(198, 51, 100, 1)
        } else {
            B
        };
        ip[16..20].copy_from_slice(&dst.octets());
        let c = linnet::wire::checksum::checksum(&ip[..20]);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        for b in ip[20..].iter_mut().take(40) {
            *b = rnd() as u8;
        }
        ip[22..24].copy_from_slice(&80u16.to_be_bytes());
        if rnd() % 4 != 0 {
            ip[32] = 0x50 + ((rnd() % 3) as u8) * 0x10;
        }
        let cut = if rnd() % 8 == 0 {
            (rnd() as usize) % f.len()
        } else {
            f.len()
        };
        let mut b = PacketBuf::from_slice(&f[..cut], 64);
        b.meta.gso_size = match rnd() % 4 {
            0 => 0,
            1 => (rnd() % 4) as u16,
            _ => (rnd() % 2000) as u16,
        };
        b.meta.csum = match rnd() % 3 {
            0 => CsumState::None,
            1 => CsumState::Unnecessary,
            _ => CsumState::Partial {
                start: (rnd() % 80) as u16,
                offset: (rnd() % 40) as u16,
            },
        };
        s.receive(i1, b, now);
        s.poll(now);
        while let Some(out) = s.take_tx(i2, now) {
            assert!(out.len() <= 1514, "{} bytes left eth1", out.len());
            assert_eq!(out.meta.gso_size, 0);
            assert!(!matches!(out.meta.csum, CsumState::Partial { .. }));
            s.recycle(out);
        }
        while let Some(out) = s.take_tx(i1, now) {
            s.recycle(out);
        }
    }
}
