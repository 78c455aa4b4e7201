//! Random and truncated frames into the whole receive path: no panic, no unbounded growth,
//! and every frame is accounted for.

use linnet::buf::PacketBuf;
use linnet::{EthernetAddress, Ipv4Addr};
use linnet::{Instant, Stack};
use proptest::prelude::*;
use std::time::Duration;

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

fn stack() -> (Stack, u32) {
    let mut s = Stack::default();
    let i = s.add_interface("eth0", MAC, 1500);
    s.add_addr(i, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    s.set_link_up(i, true, Instant::ZERO).unwrap();
    while s.take_tx(i, Instant::ZERO).is_some() {}
    (s, i)
}

/// A frame to us: Ethernet + IPv4 header from 192.0.2.1, then `tail`, with a valid header
/// checksum unless `corrupt`, so the fuzzer reaches past ip_rcv.
fn ip_frame(proto: u8, ihl_words: u8, tail: &[u8], corrupt: bool) -> Vec<u8> {
    let ihl = (ihl_words as usize).max(5) * 4;
    let total = ihl + tail.len();
    let mut f = Vec::with_capacity(14 + total);
    f.extend_from_slice(&MAC.0);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let mut h = vec![0u8; ihl];
    h[0] = 0x40 | (ihl / 4) as u8;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[12..16].copy_from_slice(&Ipv4Addr::new(192, 0, 2, 1).octets());
    h[16..20].copy_from_slice(&Ipv4Addr::new(192, 0, 2, 2).octets());
    let c = linnet::wire::checksum::checksum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    if corrupt {
        h[10] ^= 0x55;
    }
    f.extend_from_slice(&h);
    f.extend_from_slice(tail);
    f
}

fn accounted(s: &Stack, rx: u64) {
    let snmp = s.snmp();
    // Every frame went somewhere: dropped with a reason, or handled by ARP/IPv4/IPv6.
    let handled = snmp.ip.in_receives
        + snmp.ip6.in_receives
        + snmp.arp.rx
        + s.drops().get(linnet::stats::DropReason::PktTooSmall)
        + s.drops().get(linnet::stats::DropReason::UnhandledProto)
        + s.drops().get(linnet::stats::DropReason::OtherHost);
    assert!(handled >= rx, "{rx} frames, {handled} accounted: {snmp:?}");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn random_bytes_never_panic(frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..200), 1..20)) {
        let (mut s, i) = stack();
        let mut now = Instant::ZERO;
        for f in &frames {
            s.receive(i, PacketBuf::from_slice(f, 64), now);
            now += Duration::from_millis(1);
            s.poll(now);
            while let Some(b) = s.take_tx(i, now) { s.recycle(b); }
        }
        accounted(&s, frames.len() as u64);
    }

    #[test]
    fn random_ip_payloads_never_panic(
        proto in prop_oneof![Just(1u8), Just(6), Just(17), any::<u8>()],
        ihl in 0u8..16,
        tail in prop::collection::vec(any::<u8>(), 0..120),
        cut in 0usize..200,
        corrupt in any::<bool>(),
    ) {
        let (mut s, i) = stack();
        let mut f = ip_frame(proto, ihl, &tail, corrupt);
        f.truncate(cut.max(1).min(f.len()));
        s.receive(i, PacketBuf::from_slice(&f, 64), Instant::ZERO);
        s.poll(Instant::ZERO);
        let mut out = 0;
        while let Some(b) = s.take_tx(i, Instant::ZERO) { out += 1; s.recycle(b); }
        // At most one answer per frame (an echo reply, an ICMP error, or an ARP request for it).
        prop_assert!(out <= 1, "{out} frames out for one in");
        accounted(&s, 1);
    }
}

/// A router: `stack()` with forwarding on, a second interface (small MTU) holding the default
/// route, and routes of every refusing type.
fn router() -> (Stack, u32, u32) {
    let (mut s, i) = stack();
    s.set_ip_forward(true);
    let j = s.add_interface("eth1", EthernetAddress([2, 0, 0, 0, 1, 2]), 576);
    s.add_addr(j, "198.51.100.1/24".parse().unwrap(), Instant::ZERO)
        .unwrap();
    s.set_link_up(j, true, Instant::ZERO).unwrap();
    while s.take_tx(j, Instant::ZERO).is_some() {}
    let gw = Ipv4Addr::new(198, 51, 100, 254);
    s.add_neighbour(j, gw, EthernetAddress([2, 0, 0, 0, 1, 9]), Instant::ZERO)
        .unwrap();
    s.add_neighbour(
        i,
        Ipv4Addr::new(192, 0, 2, 1),
        EthernetAddress([2, 0, 0, 0, 0, 1]),
        Instant::ZERO,
    )
    .unwrap();
    s.add_default_gateway(gw).unwrap();
    use linnet::ip::route::{Route, RouteType};
    for (kind, p) in [
        (RouteType::Blackhole, "10.0.0.0/8"),
        (RouteType::Unreachable, "172.16.0.0/12"),
        (RouteType::Prohibit, "192.168.0.0/16"),
    ] {
        s.add_route(Route::special(kind, p.parse().unwrap()))
            .unwrap();
    }
    (s, i, j)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_datagrams_through_a_router_never_panic(
        dst in prop_oneof![
            any::<u32>(),
            Just(0x0a00_0001u32),
            Just(0xac10_0001),
            Just(0xc0a8_0001),
            Just(0xc000_0263),
            Just(0xc633_6463),
        ],
        ttl in prop_oneof![Just(0u8), Just(1), Just(2), any::<u8>()],
        flags_frag in any::<u16>(),
        proto in any::<u8>(),
        len in 0usize..1400,
        mac_bcast in any::<bool>(),
    ) {
        let (mut s, i, j) = router();
        let mut f = ip_frame(proto, 5, &vec![0x5a; len], false);
        if mac_bcast {
            f[..6].copy_from_slice(&[0xff; 6]);
        }
        let h = 14;
        f[h + 6..h + 8].copy_from_slice(&flags_frag.to_be_bytes());
        f[h + 8] = ttl;
        f[h + 16..h + 20].copy_from_slice(&dst.to_be_bytes());
        f[h + 10..h + 12].copy_from_slice(&[0, 0]);
        let c = linnet::wire::checksum::checksum(&f[h..h + 20]);
        f[h + 10..h + 12].copy_from_slice(&c.to_be_bytes());
        s.receive(i, PacketBuf::from_slice(&f, 64), Instant::ZERO);
        s.poll(Instant::ZERO);
        let mut out = 0;
        for dev in [i, j] {
            while let Some(b) = s.take_tx(dev, Instant::ZERO) {
                out += 1;
                s.recycle(b);
            }
        }
        prop_assert!(out <= 64, "{out} frames out for one in");
        accounted(&s, 1);
        let ip = s.snmp().ip;
        // One datagram in: forwarded, delivered, or refused, never two of those.
        prop_assert!(ip.forw_datagrams + ip.in_delivers <= 1);
    }
}

#[test]
fn corrupt_headers_are_counted() {
    let (mut s, i) = stack();
    // Bad IP header checksum.
    s.receive(
        i,
        PacketBuf::from_slice(&ip_frame(1, 5, &[8, 0, 0, 0, 0, 0, 0, 0], true), 64),
        Instant::ZERO,
    );
    // Truncated: total length larger than the frame.
    let mut f = ip_frame(1, 5, &[0; 40], false);
    f.truncate(14 + 30);
    s.receive(i, PacketBuf::from_slice(&f, 64), Instant::ZERO);
    // Runt frame.
    s.receive(i, PacketBuf::from_slice(&[1, 2, 3], 64), Instant::ZERO);
    // Bad ICMP checksum.
    s.receive(
        i,
        PacketBuf::from_slice(&ip_frame(1, 5, &[8, 0, 0xde, 0xad, 0, 1, 0, 1], false), 64),
        Instant::ZERO,
    );
    let snmp = s.snmp();
    assert_eq!(snmp.ip.in_receives, 3);
    assert_eq!(snmp.ip.in_csum_errors, 1);
    assert_eq!(snmp.ip.in_hdr_errors, 1);
    assert_eq!(snmp.ip.in_truncated_pkts, 1);
    assert_eq!(snmp.icmp.in_csum_errors, 1);
    assert_eq!(s.drops().get(linnet::stats::DropReason::PktTooSmall), 2);
}

#[test]
fn udp_to_closed_port_and_unknown_protocol_get_icmp_errors() {
    let (mut s, i) = stack();
    // The sender must be resolvable for the error to leave: teach the stack its address.
    s.add_neighbour(
        i,
        Ipv4Addr::new(192, 0, 2, 1),
        EthernetAddress([2, 0, 0, 0, 0, 1]),
        Instant::ZERO,
    )
    .unwrap();
    // UDP 1234 -> 9, length 12, checksum 0 (none), 4 bytes of data.
    let udp = [0x04, 0xd2, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00, 1, 2, 3, 4];
    s.receive(
        i,
        PacketBuf::from_slice(&ip_frame(17, 5, &udp, false), 64),
        Instant::ZERO,
    );
    s.receive(
        i,
        PacketBuf::from_slice(&ip_frame(200, 5, &[0; 16], false), 64),
        Instant::ZERO,
    );
    let mut codes = Vec::new();
    while let Some(b) = s.take_tx(i, Instant::ZERO) {
        let d = b.data();
        assert_eq!(&d[12..14], &[0x08, 0x00]);
        assert_eq!(d[14 + 9], 1, "ICMP");
        assert_eq!(d[14 + 20], 3, "destination unreachable");
        codes.push(d[14 + 21]);
        // The quote starts with the offending IP header, whose source is the sender.
        assert_eq!(&d[14 + 28 + 12..14 + 28 + 16], &[192, 0, 2, 1]);
        s.recycle(b);
    }
    assert_eq!(codes, vec![3, 2]);
    let snmp = s.snmp();
    assert_eq!(snmp.udp.no_ports, 1);
    assert_eq!(snmp.ip.in_unknown_protos, 1);
    assert_eq!(snmp.icmp.out_dest_unreachs, 2);
}

/// A TCP segment to us (192.0.2.1:40000 → 192.0.2.2:5201) with a valid IPv4 header: `seq`,
/// `flags`, the payload, and a checksum that is right unless `bad_csum`.
fn tcp_frame(seq: u32, flags: u8, payload: &[u8], bad_csum: bool) -> Vec<u8> {
    let mut th = vec![0u8; 32];
    th[0..2].copy_from_slice(&40000u16.to_be_bytes());
    th[2..4].copy_from_slice(&5201u16.to_be_bytes());
    th[4..8].copy_from_slice(&seq.to_be_bytes());
    th[8..12].copy_from_slice(&7u32.to_be_bytes());
    th[12] = 8 << 4;
    th[13] = flags;
    th[14..16].copy_from_slice(&1000u16.to_be_bytes());
    th[20..32].copy_from_slice(&[1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
    th.extend_from_slice(payload);
    let pseudo = linnet::wire::checksum::pseudo_header_v4(
        Ipv4Addr::new(192, 0, 2, 1),
        Ipv4Addr::new(192, 0, 2, 2),
        6,
        th.len() as u16,
    );
    let c = !linnet::wire::checksum::fold(linnet::wire::checksum::sum(&th, pseudo));
    th[16..18].copy_from_slice(&(c ^ u16::from(bad_csum)).to_be_bytes());
    ip_frame(6, 5, &th, false)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Batches of TCP segments through GRO (`receive_batch`): runs of in-order full
    /// segments mixed with gaps, odd sizes, other flags and bad checksums. Nothing panics,
    /// every merged datagram still passes ip_rcv's header checks, and TCP sees no more
    /// segments than frames arrived (merging only ever reduces them), with each bad checksum
    /// counted exactly once.
    #[test]
    fn tcp_batches_through_gro(
        segs in prop::collection::vec((0u32..3, 0usize..1449, prop_oneof![Just(0x10u8), Just(0x18), Just(0x11), Just(0x12), any::<u8>()], prop::bool::weighted(0.05)), 1..80),
    ) {
        let (mut s, i) = stack();
        let mut seq = 1000u32;
        let mut frames = Vec::new();
        let mut bad = 0;
        for (gap, len, flags, bad_csum) in segs {
            // Mostly full segments in order; sometimes a hole.
            let len = if len > 700 { 1448 } else { len };
            if gap == 0 {
                seq = seq.wrapping_add(1448);
            }
            let payload: Vec<u8> = (0..len).map(|k| (seq as usize + k) as u8).collect();
            bad += u64::from(bad_csum);
            frames.push(PacketBuf::from_slice(&tcp_frame(seq, flags, &payload, bad_csum), 64));
            seq = seq.wrapping_add(len as u32);
        }
        let n = frames.len() as u64;
        s.receive_batch(i, frames, Instant::ZERO);
        let snmp = s.snmp();
        prop_assert_eq!(snmp.ip.in_hdr_errors, 0);
        prop_assert!(snmp.tcp.in_segs <= n);
        // Each corrupt segment reaches TCP alone and is counted; nothing GRO built is.
        prop_assert_eq!(snmp.tcp.in_csum_errors, bad);
        while let Some(b) = s.take_tx(i, Instant::ZERO) { s.recycle(b); }
    }
}
