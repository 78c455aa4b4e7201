//! IPv6 between two stacks over the in-memory link, under virtual time: link-local
//! addresses and DAD at link up, neighbour discovery on the NUD state machine (INCOMPLETE →
//! REACHABLE → STALE → DELAY → PROBE → REACHABLE, FAILED with ICMPv6 address unreachable),
//! echo both ways over global and link-local addresses, DAD conflicts, MLD reports, routes.

use linnet::buf::PacketBuf;
use linnet::link::NudState;
use linnet::wire::ipv6::{eui64_interface_id, link_local, Ipv6Cidr};
use linnet::wire::Ipv6Addr;
use linnet::{Instant, LinkConfig, Sim, Stack, StackConfig};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn ga() -> Ipv6Cidr {
    "2001:db8::1/64".parse().unwrap()
}
fn gb() -> Ipv6Cidr {
    "2001:db8::2/64".parse().unwrap()
}

fn pair() -> (Sim, u32, u32) {
    let mut sim = Sim::new();
    let a = sim.add_stack(Stack::new(StackConfig {
        seed: 1,
        ..StackConfig::default()
    }));
    let b = sim.add_stack(Stack::new(StackConfig {
        seed: 2,
        ..StackConfig::default()
    }));
    let (ia, ib) = sim.connect(
        a,
        b,
        LinkConfig {
            delay: Duration::from_millis(5),
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    let now = sim.now();
    sim.stack(0).ipv6_addr_add(ia, ga(), false, now).unwrap();
    sim.stack(1).ipv6_addr_add(ib, gb(), false, now).unwrap();
    (sim, ia, ib)
}

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

/// Ping `dst` from stack `from` `count` times, 1 s apart; returns (seq, rtt) of the replies.
fn ping6(
    sim: &mut Sim,
    from: usize,
    dst: Ipv6Addr,
    oif: Option<u32>,
    count: u16,
) -> Vec<(u16, Duration, Option<(u8, u8)>)> {
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
    assert_eq!(snmp.icmp6.out_mldv2_reports, groups.len() as u64);
    // After the link-local address is ready: a router solicitation.
    assert_eq!(snmp.icmp6.out_router_solicits, 1);
    // The peer got the probes (multicast to groups it did not join: dropped below ICMPv6,
    // as a NIC's filter would) and answered none.
    let b = sim.stack(1).snmp();
    assert!(b.ip6.in_mcast_pkts >= 2);
    assert_eq!(b.icmp6.in_neighbor_solicits, 0);
    assert_eq!(b.icmp6.out_neighbor_advertisements, 0);
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
    let now = sim.now();
    sim.stack(1).set_ip6_forward(true, now);
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
