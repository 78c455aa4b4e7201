//! IPv6 between two stacks over the in-memory link, under virtual time: link-local
//! addresses and DAD at link up, neighbour discovery on the NUD state machine (INCOMPLETE →
//! REACHABLE → STALE → DELAY → PROBE → REACHABLE, FAILED with ICMPv6 address unreachable),
//! echo both ways over global and link-local addresses, DAD conflicts, MLD reports, routes.

mod common;

use common::{ga, gb, sim_pair6 as pair};
use linnet::buf::PacketBuf;
use linnet::link::NudState;
use linnet::wire::ipv6::{eui64_interface_id, link_local, Ipv6Cidr};
use linnet::wire::Ipv6Addr;
use linnet::{Instant, LinkConfig, Sim, Stack, StackConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn lladdr(sim: &mut Sim, n: usize, ifindex: u32) -> Ipv6Addr {
    let mac = sim.stack(n).iface(ifindex).unwrap().mac;
    link_local(eui64_interface_id(mac))
}

fn tentative(sim: &mut Sim, n: usize, a: Ipv6Addr) -> bool {
    let now = sim.now();
    sim.stack(n)
        .ipv6_addrs(now)
        .iter()
        .any(|i| i.cidr.addr == a && i.flags & 0x40 != 0)
}

/// One answer to a ping: sequence number, round trip, ICMPv6 error (type, code).
type Echo = (u16, Duration, Option<(u8, u8)>);

/// Ping `dst` from stack `from` `count` times, 1 s apart; returns (seq, rtt) of the replies.
fn ping6(sim: &mut Sim, from: usize, dst: Ipv6Addr, oif: Option<u32>, count: u16) -> Vec<Echo> {
    let ident = sim.stack(from).ping6_open().unwrap();
    let mut out = Vec::new();
    for seq in 1..=count {
        let now = sim.now();
        sim.stack(from)
            .ping6_send(ident, dst, oif, seq, 56, None, now)
            .unwrap();
        sim.advance(Duration::from_secs(1));
        while let Some(r) = sim.stack(from).ping6_recv(ident).unwrap() {
            out.push((r.seq, r.rtt.unwrap_or_default(), r.error));
        }
    }
    sim.advance(Duration::from_secs(4));
    while let Some(r) = sim.stack(from).ping6_recv(ident).unwrap() {
        out.push((r.seq, r.rtt.unwrap_or_default(), r.error));
    }
    sim.stack(from).ping6_close(ident).unwrap();
    out
}

#[test]
fn link_up_forms_link_local_and_dad_completes() {
    let (mut sim, ia, _ib) = pair();
    let ll = lladdr(&mut sim, 0, ia);
    assert!(tentative(&mut sim, 0, ll), "tentative until DAD ends");
    assert!(tentative(&mut sim, 0, ga().addr));
    // The first probe within rtr_solicit_delay (1 s), the verdict a retrans_time later.
    sim.advance(Duration::from_millis(2100));
    assert!(!tentative(&mut sim, 0, ll));
    assert!(!tentative(&mut sim, 0, ga().addr));
    let snmp = sim.stack(0).snmp();
    // One DAD probe per address, one MLDv2 report per solicited-node group joined.
    assert_eq!(snmp.icmp6.out_neighbor_solicits, 2);
    // (Two addresses ending alike share one group, joined and reported once.)
    let groups: std::collections::BTreeSet<[u8; 3]> = [ll, ga().addr]
        .iter()
        .map(|a| {
            let o = a.octets();
            [o[13], o[14], o[15]]
        })
        .collect();
    // Each join is reported at once; the changes are repeated once more within a second,
    // together in one report (MLDv2's robustness variable, 2).
    assert_eq!(snmp.icmp6.out_mldv2_reports, groups.len() as u64 + 1);
    // After the link-local address is ready: a router solicitation.
    assert_eq!(snmp.icmp6.out_router_solicits, 1);
    // The peer got the probes (multicast to groups it did not join: dropped below ICMPv6,
    // as a NIC's filter would) and answered none.
    let b = sim.stack(1).snmp();
    assert!(b.ip6.in_mcast_pkts >= 2);
    assert_eq!(b.icmp6.in_neighbor_solicits, 0);
    assert_eq!(b.icmp6.out_neighbor_advertisements, 0);
    // Removing the global address leaves its group (if the link-local one does not share
    // it) with a report, and takes the connected route with it.
    let reports = sim.stack(0).snmp().icmp6.out_mldv2_reports;
    let now = sim.now();
    sim.stack(0).ipv6_addr_del(ia, ga().addr, now).unwrap();
    let want = if groups.len() == 2 { 1 } else { 0 };
    assert_eq!(sim.stack(0).snmp().icmp6.out_mldv2_reports, reports + want);
    assert!(!sim
        .stack(0)
        .ip6_routes(now)
        .iter()
        .any(|r| r.dst.to_string() == "2001:db8::/64"));
    sim.stack(0).ipv6_addr_add(ia, ga(), true, now).unwrap();
    // Connected routes: fe80::/64 and 2001:db8::/64 through the interface.
    let now = sim.now();
    let routes = sim.stack(0).ip6_routes(now);
    let dsts: Vec<String> = routes.iter().map(|r| r.dst.to_string()).collect();
    assert!(dsts.contains(&"fe80::/64".to_string()), "{dsts:?}");
    assert!(dsts.contains(&"2001:db8::/64".to_string()), "{dsts:?}");
}

#[test]
fn ping_both_ways_resolves_by_neighbour_discovery() {
    let (mut sim, ia, ib) = pair();
    sim.advance(Duration::from_secs(3));
    let r = ping6(&mut sim, 0, gb().addr, None, 3);
    assert_eq!(r.len(), 3, "{r:?}");
    // Two crossings of 5 ms; the first also waits for the NS/NA exchange (two more).
    assert_eq!(r[0].1, Duration::from_millis(20));
    assert_eq!(r[1].1, Duration::from_millis(10));
    assert!(r.iter().all(|x| x.2.is_none()));
    // A learnt B from B's solicited advertisement: REACHABLE.
    let n = sim.stack(0).ipv6_neighbours();
    let e = n.iter().find(|e| e.ip == gb().addr).expect("entry for B");
    assert_eq!(e.state, NudState::Reachable);
    assert_eq!(e.ifindex, ia);
    // B learnt A from the solicitation's source link-layer option.
    let n = sim.stack(1).ipv6_neighbours();
    assert!(n.iter().any(|e| e.ip == ga().addr && e.lladdr.is_some()));
    // The other way, over link-local addresses (needs the interface).
    let lla = lladdr(&mut sim, 0, ia);
    let r = ping6(&mut sim, 1, lla, Some(ib), 2);
    assert_eq!(r.len(), 2, "{r:?}");
    let a = sim.stack(0).snmp();
    assert_eq!(a.icmp6.in_echos, 2);
    assert_eq!(a.icmp6.out_echo_replies, 2);
    assert_eq!(a.icmp6.in_echo_replies, 3);
    // A link-local destination without an interface is refused, as connect() refuses it.
    let now = sim.now();
    let id = sim.stack(1).ping6_open().unwrap();
    assert!(sim
        .stack(1)
        .ping6_send(id, lla, None, 1, 8, None, now)
        .is_err());
    // And ourselves, over the loopback device.
    let r = ping6(&mut sim, 0, ga().addr, None, 1);
    assert_eq!(r.len(), 1);
    let r = ping6(&mut sim, 0, Ipv6Addr::LOCALHOST, None, 1);
    assert_eq!(r.len(), 1);
}

#[test]
fn nud_goes_stale_then_probes_and_fails_with_address_unreachable() {
    let (mut sim, ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    assert_eq!(ping6(&mut sim, 0, gb().addr, None, 1).len(), 1);
    let state = |sim: &mut Sim| {
        sim.stack(0)
            .ipv6_neighbours()
            .into_iter()
            .find(|e| e.ip == gb().addr)
            .map(|e| e.state)
    };
    assert_eq!(state(&mut sim), Some(NudState::Reachable));
    // Unused past the reachable time (at most 45 s): STALE.
    sim.advance(Duration::from_secs(46));
    assert_eq!(state(&mut sim), Some(NudState::Stale));
    // Used while stale: DELAY, then PROBE by unicast NS after 5 s, confirmed by B's NA.
    let id = sim.stack(0).ping6_open().unwrap();
    let now = sim.now();
    sim.stack(0)
        .ping6_send(id, gb().addr, None, 1, 8, None, now)
        .unwrap();
    assert_eq!(state(&mut sim), Some(NudState::Delay));
    let ns_before = sim.stack(0).snmp().icmp6.out_neighbor_solicits;
    sim.advance(Duration::from_millis(5100));
    assert_eq!(state(&mut sim), Some(NudState::Reachable));
    assert_eq!(
        sim.stack(0).snmp().icmp6.out_neighbor_solicits,
        ns_before + 1,
        "one unicast probe"
    );
    // Now B goes silent: a packet to an unknown neighbour of the prefix fails after three
    // solicitations, and the sender hears ICMPv6 address unreachable from itself? No: the
    // error goes to the packet's source, ourselves, through the loopback device.
    let nobody: Ipv6Addr = "2001:db8::99".parse().unwrap();
    let now = sim.now();
    let before = sim.stack(0).snmp().icmp6.out_neighbor_solicits;
    sim.stack(0)
        .ping6_send(id, nobody, None, 2, 8, None, now)
        .unwrap();
    sim.advance(Duration::from_secs(4));
    let n = sim.stack(0).ipv6_neighbours();
    let e = n.iter().find(|e| e.ip == nobody).unwrap();
    assert_eq!(e.state, NudState::Failed);
    assert_eq!(e.ifindex, ia);
    let s = sim.stack(0).snmp();
    assert_eq!(s.icmp6.out_neighbor_solicits, before + 3);
    assert_eq!(s.icmp6.out_dest_unreachs, 1);
    let mut errs = Vec::new();
    while let Some(r) = sim.stack(0).ping6_recv(id).unwrap() {
        errs.push(r);
    }
    assert!(
        errs.iter().any(|r| r.seq == 2 && r.error == Some((1, 3))),
        "address unreachable reaches the ping socket: {errs:?}"
    );
}

#[test]
fn duplicate_address_detection_finds_the_peer_and_is_not_fooled_by_loops() {
    let (mut sim, ia, ib) = pair();
    sim.advance(Duration::from_secs(3));
    // B already has 2001:db8::2; A tries to add it too: B defends it, A marks it failed.
    let now = sim.now();
    sim.stack(0).ipv6_addr_add(ia, gb(), false, now).unwrap();
    sim.advance(Duration::from_secs(3));
    assert!(sim.stack(0).ipv6_addr_dadfailed(ia, &gb().addr));
    assert!(!sim.stack(0).ipv6_chk_addr(&gb().addr));
    assert!(sim.stack(1).ipv6_chk_addr(&gb().addr));
    assert_eq!(sim.stack(1).snmp().icmp6.out_neighbor_advertisements, 1);
    // Both add the same new address at once: the one whose probe goes second has seen the
    // other's (a different nonce) by then and fails, without probing; the first, hearing
    // no defence, keeps it (RFC 4862 section 5.4.3).
    let c: Ipv6Cidr = "2001:db8::c/64".parse().unwrap();
    let now = sim.now();
    sim.stack(0).ipv6_addr_add(ia, c, false, now).unwrap();
    sim.stack(1).ipv6_addr_add(ib, c, false, now).unwrap();
    sim.advance(Duration::from_secs(3));
    let failed = [
        sim.stack(0).ipv6_addr_dadfailed(ia, &c.addr),
        sim.stack(1).ipv6_addr_dadfailed(ib, &c.addr),
    ];
    let kept = [
        sim.stack(0).ipv6_chk_addr(&c.addr),
        sim.stack(1).ipv6_chk_addr(&c.addr),
    ];
    assert!(failed[0] != failed[1], "{failed:?}");
    assert_eq!(kept, [failed[1], failed[0]]);
}

#[test]
fn a_probe_looped_back_with_our_nonce_is_not_a_duplicate() {
    let (mut sim, ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    // Keep every frame A sends.
    let sent: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let s2 = sent.clone();
    sim.set_drop_filter(
        0,
        Some(Box::new(move |f: &[u8]| {
            s2.lock().unwrap().push(f.to_vec());
            false
        })),
    );
    let probe_for = |sim: &mut Sim, d: Ipv6Cidr| {
        let now = sim.now();
        sim.stack(0).ipv6_addr_add(ia, d, false, now).unwrap();
        sim.advance(Duration::from_millis(1001));
        let frames = std::mem::take(&mut *sent.lock().unwrap());
        frames
            .into_iter()
            .find(|f| {
                f.len() > 78
                    && f[12..14] == [0x86, 0xdd]
                    && f[54] == 135
                    && f[62..78] == d.addr.octets()
            })
            .expect("A sent a DAD probe")
    };
    // A's own probe comes back (a looped link): the nonce is A's, the address survives.
    let d: Ipv6Cidr = "2001:db8::d/64".parse().unwrap();
    let probe = probe_for(&mut sim, d);
    let now = sim.now();
    sim.stack(0)
        .receive(ia, PacketBuf::from_slice(&probe, 64), now);
    sim.advance(Duration::from_secs(2));
    assert!(sim.stack(0).ipv6_chk_addr(&d.addr));
    // The same probe with another nonce is someone else's: a duplicate.
    let e: Ipv6Cidr = "2001:db8::e/64".parse().unwrap();
    let mut probe = probe_for(&mut sim, e);
    let nonce_at = 14 + 40 + 24 + 2;
    assert_eq!(probe[nonce_at - 2], 14, "nonce option");
    probe[nonce_at] ^= 0xff;
    // Fix the ICMPv6 checksum for the change (one's complement arithmetic, RFC 1624).
    let ck = u16::from_be_bytes([probe[56], probe[57]]);
    let old = u16::from_be_bytes([probe[nonce_at], probe[nonce_at + 1]]) ^ 0xff00;
    let new = u16::from_be_bytes([probe[nonce_at], probe[nonce_at + 1]]);
    let mut sum = u32::from(!ck) + u32::from(!old) + u32::from(new);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    probe[56..58].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    let now = sim.now();
    sim.stack(0)
        .receive(ia, PacketBuf::from_slice(&probe, 64), now);
    sim.advance(Duration::from_secs(2));
    assert!(sim.stack(0).ipv6_addr_dadfailed(ia, &e.addr));
}

#[test]
fn routes_by_hand_and_default_route() {
    let (mut sim, ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    let cfg = linnet::ipv6::rtnl::Route6Config {
        dst: "2001:db8:1::/48".parse().unwrap(),
        via: Some(gb().addr),
        ifindex: None,
        metric: None,
    };
    sim.stack(0).ip6_route_add(cfg, false).unwrap();
    assert_eq!(
        sim.stack(0).ip6_route_add(cfg, false),
        Err(linnet::Errno::EEXIST)
    );
    let (oif, nh, src) = sim
        .stack(0)
        .ip6_route_get("2001:db8:1::5".parse().unwrap(), None)
        .unwrap();
    assert_eq!((oif, nh, src), (ia, gb().addr, Some(ga().addr)));
    // B does not forward: the echo request reaches it and is dropped as not for it.
    let r = ping6(&mut sim, 0, "2001:db8:1::5".parse().unwrap(), None, 1);
    assert!(r.is_empty());
    assert_eq!(sim.stack(1).snmp().ip6.in_addr_errors, 1);
    // With forwarding on, B answers with no route (destination unreachable, code 0).
    sim.stack(1).set_ip6_forward(true);
    let r = ping6(&mut sim, 0, "2001:db8:1::5".parse().unwrap(), None, 1);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].2, Some((1, 0)));
    sim.stack(0).ip6_route_del(cfg).unwrap();
    assert!(sim
        .stack(0)
        .ip6_route_get("2001:db8:1::5".parse().unwrap(), None)
        .is_err());
    let _ = Instant::ZERO;
}

/// A — R — B with R forwarding IPv6; A and B route through R. Returns (sim, A's, B's
/// interface, R's two).
fn routed(mtu_rb: usize) -> (Sim, u32, u32, u32, u32) {
    let mut sim = Sim::new();
    for seed in 1..=3 {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        }));
    }
    let cfg = LinkConfig {
        delay: Duration::from_millis(2),
        ..LinkConfig::default()
    };
    let (ia, ra) = sim.connect(
        0,
        1,
        cfg.clone(),
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    let (rb, ib) = sim.connect(
        1,
        2,
        LinkConfig { mtu: mtu_rb, ..cfg },
        "198.51.100.1/24".parse().unwrap(),
        "198.51.100.2/24".parse().unwrap(),
    );
    let now = sim.now();
    let add = |sim: &mut Sim, n: usize, i: u32, c: &str| {
        sim.stack(n)
            .ipv6_addr_add(i, c.parse().unwrap(), true, now)
            .unwrap();
    };
    add(&mut sim, 0, ia, "2001:db8:1::a/64");
    add(&mut sim, 1, ra, "2001:db8:1::1/64");
    add(&mut sim, 1, rb, "2001:db8:2::1/64");
    add(&mut sim, 2, ib, "2001:db8:2::b/64");
    sim.stack(1).set_ip6_forward(true);
    for (n, gw) in [(0, "2001:db8:1::1"), (2, "2001:db8:2::1")] {
        let c = linnet::ipv6::rtnl::Route6Config {
            dst: "::/0".parse().unwrap(),
            via: Some(gw.parse().unwrap()),
            ifindex: None,
            metric: None,
        };
        sim.stack(n).ip6_route_add(c, false).unwrap();
    }
    sim.advance(Duration::from_secs(3));
    (sim, ia, ib, ra, rb)
}

#[test]
fn a_router_forwards_and_reports_hop_limit_and_packet_too_big() {
    let (mut sim, _ia, _ib, _ra, _rb) = routed(1400);
    let b: Ipv6Addr = "2001:db8:2::b".parse().unwrap();
    let ident = sim.stack(0).ping6_open().unwrap();
    let send = |sim: &mut Sim, seq: u16, size: usize, hl: Option<u8>| {
        let now = sim.now();
        sim.stack(0)
            .ping6_send(ident, b, None, seq, size, hl, now)
            .unwrap();
        sim.advance(Duration::from_secs(1));
        let mut v = Vec::new();
        while let Some(r) = sim.stack(0).ping6_recv(ident).unwrap() {
            v.push(r);
        }
        v
    };
    // Through the router: the reply left B with 64 and crossed R once.
    let r = send(&mut sim, 1, 56, None);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0].from, r[0].hop_limit, r[0].error), (b, 63, None));
    assert_eq!(sim.stack(1).snmp().ip6.out_forw_datagrams, 2);
    // Hop limit 1: R answers time exceeded (hop limit), from its address on A's link.
    let r = send(&mut sim, 2, 56, Some(1));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].error, Some((3, 0)));
    assert_eq!(r[0].from, "2001:db8:1::1".parse::<Ipv6Addr>().unwrap());
    assert_eq!(sim.stack(1).snmp().icmp6.out_time_excds, 1);
    // Too big for R's second link (MTU 1400): packet too big, R does not fragment.
    let r = send(&mut sim, 3, 1400, None);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(r[0].error, Some((2, 0)));
    let s = sim.stack(1).snmp();
    assert_eq!((s.icmp6.out_pkt_too_bigs, s.ip6.in_too_big_errors), (1, 1));
    // Time exceeded is rate limited per destination (bursts of six, then one a second);
    // packet too big is not.
    let now = sim.now();
    for seq in 10..30 {
        sim.stack(0)
            .ping6_send(ident, b, None, seq, 56, Some(1), now)
            .unwrap();
    }
    sim.advance(Duration::from_millis(100));
    let s = sim.stack(1).snmp();
    assert!(s.icmp6.out_time_excds < 10, "{:?}", s.icmp6);
    assert!(s.icmp6.out_rate_limit_host >= 10, "{:?}", s.icmp6);
}

/// A router advertisement from `rmac`'s link-local address to all nodes: its link-layer
/// address, one /64 prefix with `flags` (valid 3600 s, preferred 1800 s), router lifetime
/// `lifetime`.
fn ra_frame(
    rmac: linnet::wire::EthernetAddress,
    prefix: Ipv6Addr,
    flags: u8,
    lifetime: u16,
) -> Vec<u8> {
    use linnet::wire::ndisc::{NdiscOption, NdiscOptions, NdiscRepr, PrefixInfo};
    let rll = link_local(eui64_interface_id(rmac));
    let mut opts = vec![0u8; 8 + 32];
    NdiscOption::SourceLinkLayerAddr(rmac).emit(&mut opts[..8]);
    NdiscOption::PrefixInfo(PrefixInfo {
        prefix_len: 64,
        flags,
        valid_lifetime: 3600,
        preferred_lifetime: 1800,
        prefix,
    })
    .emit(&mut opts[8..]);
    let ra = NdiscRepr::RouterAdvert {
        hop_limit: 64,
        flags: 0,
        router_lifetime: lifetime,
        reachable_time: 0,
        retrans_time: 0,
        options: NdiscOptions::new(&opts),
    };
    ndisc_frame(rmac, rll, linnet::wire::ipv6::ALL_NODES, &ra)
}

/// The neighbour discovery message `nd` from `src` (link address `mac`) to the multicast
/// group `dst`, in its IPv6 header (hop limit 255) and Ethernet frame.
fn ndisc_frame(
    mac: linnet::wire::EthernetAddress,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    nd: &linnet::wire::ndisc::NdiscRepr,
) -> Vec<u8> {
    use linnet::wire::icmpv6::Icmpv6Packet;
    use linnet::wire::{EtherType, EthernetRepr, IpProtocol, Ipv6Repr};
    let icmp_len = nd.buffer_len();
    let mut f = vec![0u8; 14 + 40 + icmp_len];
    nd.emit(&mut f[54..]);
    Icmpv6Packet::new_unchecked(&mut f[54..]).fill_checksum(&src, &dst);
    Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::ICMPV6,
        payload_len: icmp_len,
        hop_limit: 255,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut f[14..54]);
    EthernetRepr {
        src_addr: mac,
        dst_addr: linnet::wire::ipv6::multicast_mac(&dst),
        ethertype: EtherType::IPV6,
    }
    .emit(&mut f[..14]);
    f
}

#[test]
fn a_flood_of_advertisements_cannot_grow_the_routing_table_without_bound() {
    use linnet::wire::ndisc::PREFIX_FLAG_ON_LINK;
    let (mut sim, ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    // 4,500 routers, each with its own on-link prefix.
    for i in 0..4500u32 {
        let b = i.to_be_bytes();
        let rmac = linnet::wire::EthernetAddress([0x02, 0x10, b[0], b[1], b[2], b[3]]);
        let prefix = Ipv6Addr::new(
            0x2001,
            0xdb8,
            0x100 + (i >> 16) as u16,
            i as u16,
            0,
            0,
            0,
            0,
        );
        let f = ra_frame(rmac, prefix, PREFIX_FLAG_ON_LINK, 600);
        let now = sim.now();
        sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
    }
    let now = sim.now();
    let learnt = sim
        .stack(0)
        .ip6_routes(now)
        .iter()
        .filter(|r| r.expires_secs.is_some())
        .count();
    assert_eq!(learnt, 4096);
    // They expire: the default routers after 600 s, the prefixes after 3600 s.
    sim.advance(Duration::from_secs(3601));
    let now = sim.now();
    assert!(sim
        .stack(0)
        .ip6_routes(now)
        .iter()
        .all(|r| r.expires_secs.is_none()));
}

#[test]
fn router_advertisement_configures_an_address_and_the_default_route() {
    use linnet::wire::icmpv6::Icmpv6Packet;
    use linnet::wire::ndisc::{PREFIX_FLAG_AUTONOMOUS, PREFIX_FLAG_ON_LINK};
    use linnet::wire::EthernetAddress;
    let (mut sim, ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    // A router on A's link (not a stack here: a frame built from the wire types).
    let rmac = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);
    let rll = link_local(eui64_interface_id(rmac));
    let dst = linnet::wire::ipv6::ALL_NODES;
    let mut f = ra_frame(
        rmac,
        "2001:db8:ab::".parse().unwrap(),
        PREFIX_FLAG_ON_LINK | PREFIX_FLAG_AUTONOMOUS,
        1800,
    );
    let now = sim.now();
    sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
    // SLAAC: prefix + EUI-64, tentative until DAD ends; the on-link route and the default
    // route through the router (proto ra, expiring), and the router as a STALE neighbour.
    let mac = sim.stack(0).iface(ia).unwrap().mac;
    let mut o = "2001:db8:ab::".parse::<Ipv6Addr>().unwrap().octets();
    o[8..].copy_from_slice(&eui64_interface_id(mac));
    let slaac = Ipv6Addr::from(o);
    assert!(tentative(&mut sim, 0, slaac));
    sim.advance(Duration::from_secs(3));
    assert!(sim.stack(0).ipv6_chk_addr(&slaac));
    let now = sim.now();
    let info = sim
        .stack(0)
        .ipv6_addrs(now)
        .into_iter()
        .find(|a| a.cidr.addr == slaac)
        .unwrap();
    assert!(info.valid_lft <= 3600 && info.valid_lft > 3590, "{info:?}");
    let routes = sim.stack(0).ip6_routes(now);
    let dflt = routes
        .iter()
        .find(|r| r.dst.prefix_len == 0)
        .expect("default route");
    assert_eq!(dflt.gateway, Some(rll));
    assert_eq!(dflt.proto, linnet::ipv6::route::Rt6Proto::Ra);
    assert!(dflt.expires_secs.is_some_and(|s| s <= 1800 && s > 1790));
    assert!(routes
        .iter()
        .any(|r| r.dst.to_string() == "2001:db8:ab::/64" && r.gateway.is_none()));
    let n = sim.stack(0).ipv6_neighbours();
    assert!(n.iter().any(|e| e.ip == rll && e.lladdr == Some(rmac)));
    // The router says it is no longer one (an advertisement without R), from another link
    // address without override: its default route goes, its cached address stays.
    {
        use linnet::wire::ndisc::NdiscRepr;
        let other = EthernetAddress([0x02, 0, 0, 0, 0, 0x77]);
        let na = NdiscRepr::NeighborAdvert {
            flags: 0,
            target: rll,
            lladdr: Some(other),
        };
        let g = ndisc_frame(other, rll, dst, &na);
        let now = sim.now();
        sim.stack(0).receive(ia, PacketBuf::from_slice(&g, 64), now);
        let routes = sim.stack(0).ip6_routes(now);
        assert!(!routes.iter().any(|r| r.dst.prefix_len == 0), "{routes:?}");
        let n = sim.stack(0).ipv6_neighbours();
        assert!(n.iter().any(|e| e.ip == rll && e.lladdr == Some(rmac)));
    }
    // Soliciting stopped with the advertisement.
    let rs = sim.stack(0).snmp().icmp6.out_router_solicits;
    sim.advance(Duration::from_secs(60));
    assert_eq!(sim.stack(0).snmp().icmp6.out_router_solicits, rs);
    assert_eq!(sim.stack(0).snmp().icmp6.in_router_advertisements, 1);
    // The same advertisement from a global source is refused (RFC 4861 section 6.1.2).
    let before = sim.stack(0).snmp().icmp6.in_errors;
    f[22..38].copy_from_slice(&gb().addr.octets());
    Icmpv6Packet::new_unchecked(&mut f[54..]).fill_checksum(&gb().addr, &dst);
    let now = sim.now();
    sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
    assert_eq!(sim.stack(0).snmp().icmp6.in_errors, before + 1);
}

#[test]
fn unknown_next_header_and_options_get_parameter_problems() {
    use linnet::wire::IpProtocol;
    let (mut sim, ia, ib) = pair();
    sim.advance(Duration::from_secs(3));
    let amac = sim.stack(0).iface(ia).unwrap().mac;
    let bmac = sim.stack(1).iface(ib).unwrap().mac;
    // B sends A datagrams the stack cannot take; A answers B with parameter problems.
    let frame = |next: IpProtocol, payload: &[u8]| b_to_a(bmac, amac, next, payload);
    // Protocol 253 (RFC 3692 experimental): unknown next header, pointer 6.
    let f1 = frame(IpProtocol(253), &[0u8; 8]);
    // Destination options with an unknown option of action 10: pointer at that option.
    let f2 = frame(IpProtocol::DSTOPTS, &[59, 0, 0x87, 2, 0, 0, 1, 0]);
    // Action 01: discarded silently.
    let f3 = frame(IpProtocol::DSTOPTS, &[59, 0, 0x47, 2, 0, 0, 1, 0]);
    // A routing header (type 0) with segments left: pointer at the routing type.
    let f4 = frame(IpProtocol::ROUTING, &[59, 0, 0, 1, 0, 0, 0, 0]);
    for f in [f1, f2, f3, f4] {
        let now = sim.now();
        sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
        sim.advance(Duration::from_millis(50));
    }
    let a = sim.stack(0).snmp();
    assert_eq!(a.icmp6.out_parm_problems, 3, "{:?}", a.icmp6);
    assert_eq!(a.ip6.in_unknown_protos, 1);
    assert_eq!(a.ip6.in_hdr_errors, 3);
    assert_eq!(sim.stack(1).snmp().icmp6.in_parm_problems, 3);
}

#[test]
fn random_ipv6_frames_never_panic_and_every_drop_is_counted() {
    let (mut sim, ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    let amac = sim.stack(0).iface(ia).unwrap().mac;
    let mut seed = 0x1234_5678_9abc_def0u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let nexts = [0u8, 43, 44, 58, 59, 60, 6, 17, 253];
    for i in 0..20_000 {
        let len = 54 + (rnd() % 200) as usize;
        let mut f: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        f[..6].copy_from_slice(&amac.0);
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        if i % 4 != 0 {
            // Mostly plausible headers, so the walk goes deep.
            f[14] = 0x60;
            let plen = (len - 54) as u16 + if i % 7 == 0 { 3 } else { 0 };
            f[18..20].copy_from_slice(&plen.to_be_bytes());
            f[20] = nexts[(rnd() % nexts.len() as u64) as usize];
            f[21] = if i % 3 == 0 { 255 } else { 64 };
            f[38..54].copy_from_slice(&ga().addr.octets());
            if i % 5 == 0 {
                f[38..54].copy_from_slice(&linnet::wire::ipv6::ALL_NODES.octets());
            }
        }
        let before = sim.stack(0).snmp();
        let now = sim.now();
        sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
        let after = sim.stack(0).snmp();
        let bad = after.uncounted_drops(&before);
        assert!(bad.is_empty(), "frame {i}: {bad:?}");
        if i % 1000 == 0 {
            sim.advance(Duration::from_millis(10));
        }
    }
    sim.advance(Duration::from_secs(1));
    // Still answering.
    assert_eq!(ping6(&mut sim, 1, ga().addr, None, 1).len(), 1);
}

#[test]
fn disable_ipv6_keeps_the_wire_ipv4_only() {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            disable_ipv6: true,
            ..StackConfig::default()
        }));
    }
    let (ia, _ib) = sim.connect(
        0,
        1,
        LinkConfig::default(),
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_secs(30));
    let s = sim.stack(0).snmp();
    assert_eq!(s.icmp6.out_msgs, 0);
    assert_eq!(s.ip6.in_receives, 0);
    let now = sim.now();
    assert!(sim.stack(0).ipv6_addrs(now).iter().all(|a| a.ifindex != ia));
}

#[test]
fn large_echoes_are_fragmented_and_reassembled_both_ways() {
    let (mut sim, _ia, _ib) = pair();
    sim.advance(Duration::from_secs(3));
    let ident = sim.stack(0).ping6_open().unwrap();
    let now = sim.now();
    sim.stack(0)
        .ping6_send(ident, gb().addr, None, 1, 3000, None, now)
        .unwrap();
    sim.advance(Duration::from_secs(1));
    let r = sim.stack(0).ping6_recv(ident).unwrap().expect("a reply");
    assert_eq!((r.seq, r.bytes, r.error), (1, 3008, None));
    let (a, b) = (sim.stack(0).snmp().ip6, sim.stack(1).snmp().ip6);
    // 3048 bytes in 1448-byte pieces (1500 - 40 - 8, rounded to 8): three fragments.
    assert_eq!((a.frag_oks, a.frag_creates), (1, 3));
    assert_eq!((b.frag_oks, b.frag_creates), (1, 3));
    assert_eq!((b.reasm_reqds, b.reasm_oks), (3, 1));
    assert_eq!((a.reasm_reqds, a.reasm_oks), (3, 1));
    assert_eq!(sim.stack(1).frag6_queues().queue_count(), 0);
    assert_eq!(sim.stack(1).frag6_queues().mem(), 0);
}

/// A frame from B to A carrying a fragment of datagram `ident`: `len` bytes of `fill` at
/// `offset`, more to come if `more`.
#[allow(clippy::too_many_arguments)]
fn fragment(
    sim: &mut Sim,
    ia: u32,
    ib: u32,
    ident: u32,
    offset: usize,
    len: usize,
    more: bool,
    fill: u8,
) -> Vec<u8> {
    use linnet::wire::ipv6ext::Ipv6FragHeader;
    use linnet::wire::IpProtocol;
    let amac = sim.stack(0).iface(ia).unwrap().mac;
    let bmac = sim.stack(1).iface(ib).unwrap().mac;
    let mut payload = vec![fill; 8 + len];
    Ipv6FragHeader::new_unchecked(&mut payload[..8]).set(IpProtocol::NONE, offset, more, ident);
    b_to_a(bmac, amac, IpProtocol::FRAGMENT, &payload)
}

/// An Ethernet frame from B (`bmac`, [`gb`]) to A (`amac`, [`ga`]) carrying `payload` after
/// an IPv6 header (hop limit 64) naming `next`.
fn b_to_a(
    bmac: linnet::wire::EthernetAddress,
    amac: linnet::wire::EthernetAddress,
    next: linnet::wire::IpProtocol,
    payload: &[u8],
) -> Vec<u8> {
    use linnet::wire::{EtherType, EthernetRepr, Ipv6Repr};
    let mut f = vec![0u8; 54 + payload.len()];
    EthernetRepr {
        src_addr: bmac,
        dst_addr: amac,
        ethertype: EtherType::IPV6,
    }
    .emit(&mut f[..14]);
    Ipv6Repr {
        src_addr: gb().addr,
        dst_addr: ga().addr,
        next_header: next,
        payload_len: payload.len(),
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut f[14..54]);
    f[54..].copy_from_slice(payload);
    f
}

#[test]
fn overlapping_fragments_drop_the_datagram_and_stale_ones_expire_with_time_exceeded() {
    let (mut sim, ia, ib) = pair();
    sim.advance(Duration::from_secs(3));
    let rx = |sim: &mut Sim, f: Vec<u8>| {
        let now = sim.now();
        sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
    };
    // Datagram 1: [0,16) then [8,24): a partial overlap drops the queue (RFC 5722).
    let f = fragment(&mut sim, ia, ib, 1, 0, 16, true, 1);
    rx(&mut sim, f);
    let f = fragment(&mut sim, ia, ib, 1, 8, 16, false, 2);
    rx(&mut sim, f);
    assert_eq!(sim.stack(0).frag6_queues().queue_count(), 0);
    let d = sim
        .stack(0)
        .drops()
        .get(linnet::stats::DropReason::FragOverlap);
    assert_eq!(d, 2, "the fragment and the one its queue held");
    // Datagram 2: an exact duplicate is dropped alone; the datagram completes.
    for (off, more) in [(0, true), (0, true), (16, false)] {
        let f = fragment(&mut sim, ia, ib, 2, off, 16, more, 3);
        rx(&mut sim, f);
    }
    assert_eq!(sim.stack(0).snmp().ip6.reasm_oks, 1);
    assert_eq!(
        sim.stack(0).drops().get(linnet::stats::DropReason::DupFrag),
        1
    );
    // A non-last fragment not a multiple of 8: parameter problem at the payload length.
    let f = fragment(&mut sim, ia, ib, 3, 0, 13, true, 4);
    rx(&mut sim, f);
    // Datagram 4: first fragment only; after 60 s B hears time exceeded (reassembly).
    let f = fragment(&mut sim, ia, ib, 4, 0, 16, true, 5);
    rx(&mut sim, f);
    // Datagram 5: a middle fragment only; it expires without an error.
    let f = fragment(&mut sim, ia, ib, 5, 16, 16, true, 6);
    rx(&mut sim, f);
    assert_eq!(sim.stack(0).frag6_queues().queue_count(), 2);
    sim.advance(Duration::from_secs(61));
    assert_eq!(sim.stack(0).frag6_queues().queue_count(), 0);
    assert_eq!(sim.stack(0).frag6_queues().mem(), 0);
    let a = sim.stack(0).snmp();
    assert_eq!(a.ip6.reasm_timeout, 2);
    assert_eq!(a.icmp6.out_time_excds, 1);
    assert_eq!(a.icmp6.out_parm_problems, 1);
    let b = sim.stack(1).snmp();
    assert_eq!((b.icmp6.in_time_excds, b.icmp6.in_parm_problems), (1, 1));
}

#[test]
fn twenty_thousand_incomplete_trains_stay_within_the_memory_limit() {
    let (mut sim, ia, ib) = pair();
    sim.advance(Duration::from_secs(3));
    let proto = fragment(&mut sim, ia, ib, 0, 0, 1024, true, 7);
    for ident in 0..20_000u32 {
        let mut f = proto.clone();
        f[58..62].copy_from_slice(&ident.to_be_bytes());
        let now = sim.now();
        sim.stack(0).receive(ia, PacketBuf::from_slice(&f, 64), now);
        let t = sim.stack(0).frag6_queues();
        assert!(t.mem() <= t.params().high_thresh, "{} bytes", t.mem());
    }
    let q = sim.stack(0).frag6_queues().queue_count();
    assert!(q > 1000 && q < 20_000, "{q} queues");
    let s = sim.stack(0).snmp();
    assert!(s.ip6.reasm_fails >= 20_000 - q as u64, "{:?}", s.ip6);
    sim.advance(Duration::from_secs(61));
    assert_eq!(sim.stack(0).frag6_queues().queue_count(), 0);
    assert_eq!(sim.stack(0).frag6_queues().mem(), 0);
}

#[test]
fn packet_too_big_lowers_the_path_mtu_and_later_echoes_are_cut_to_it() {
    let (mut sim, _ia, _ib, _ra, _rb) = routed(1400);
    let b: Ipv6Addr = "2001:db8:2::b".parse().unwrap();
    let ident = sim.stack(0).ping6_open().unwrap();
    let ping = |sim: &mut Sim, seq: u16| {
        let now = sim.now();
        sim.stack(0)
            .ping6_send(ident, b, None, seq, 1400, None, now)
            .unwrap();
        sim.advance(Duration::from_secs(1));
        sim.stack(0).ping6_recv(ident).unwrap()
    };
    // The first 1448-byte datagram meets R's 1400-byte link: packet too big, MTU learnt.
    let r = ping(&mut sim, 1).expect("an error");
    assert_eq!(r.error, Some((2, 0)));
    let now = sim.now();
    assert_eq!(sim.stack(0).ip6_pmtu(&b, now), Some(1400));
    // The next one leaves A in fragments that fit, and B answers (fragmenting too).
    let r = ping(&mut sim, 2).expect("a reply");
    assert_eq!((r.seq, r.error, r.bytes), (2, None, 1408));
    assert_eq!(sim.stack(0).snmp().ip6.frag_oks, 1);
    // The learnt MTU expires after 10 minutes.
    sim.advance(Duration::from_secs(601));
    let now = sim.now();
    assert_eq!(sim.stack(0).ip6_pmtu(&b, now), None);
}
