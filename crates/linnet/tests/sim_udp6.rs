//! UDP over IPv6 between two dual-stack stacks under virtual time: echo over global and
//! link-local addresses, ICMPv6 port unreachable (rate limited, ECONNREFUSED on a connected
//! socket only), checksum errors (a zero checksum refused over IPv6) counted in `Udp6*`,
//! AF_INET6 sockets at `::` serving IPv4 peers as v4-mapped addresses unless `IPV6_V6ONLY`,
//! and bind conflicts between the families as Linux's `inet_rcv_saddr_equal` decides them.

mod common;

use common::{ga, gb};
use linnet::buf::PacketBuf;
use linnet::wire::ipv6::{eui64_interface_id, link_local};
use linnet::wire::udp::UdpRepr;
use linnet::wire::{IpProtocol, Ipv6Repr};
use linnet::{Errno, MsgFlags, Sim, SockId, SockOpt, SockType};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV6};
use std::time::Duration;

const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Two stacks, each with 192.0.2.x/24 and 2001:db8::x/64, DAD done.
fn pair() -> (Sim, u32, u32) {
    let (mut sim, ia, ib) = common::sim_pair6();
    sim.advance(Duration::from_secs(3));
    (sim, ia, ib)
}

fn udp(sim: &mut Sim, n: usize, addr: SocketAddr) -> SockId {
    let s = sim.stack(n);
    let id = s.socket(SockType::Dgram).unwrap();
    s.bind(id, addr).unwrap();
    id
}

fn recv(sim: &mut Sim, n: usize, id: SockId) -> Result<(Vec<u8>, SocketAddr), Errno> {
    let now = sim.now();
    let mut buf = vec![0u8; 2048];
    let (k, from) = sim
        .stack(n)
        .recv_from(id, &mut buf, MsgFlags::default(), now)?;
    buf.truncate(k);
    Ok((buf, from))
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn echo_over_global_and_link_local_addresses() {
    let (mut sim, ia, ib) = pair();
    let srv = udp(&mut sim, 1, sa("[::]:7"));
    let cli = udp(&mut sim, 0, sa("[2001:db8::1]:4000"));
    let now = sim.now();
    sim.stack(0)
        .send_to(cli, b"hello six", sa("[2001:db8::2]:7"), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    let (data, from) = recv(&mut sim, 1, srv).unwrap();
    assert_eq!(data, b"hello six");
    assert_eq!(from, sa("[2001:db8::1]:4000"));
    let now = sim.now();
    sim.stack(1).send_to(srv, &data, from, now).unwrap();
    sim.advance(Duration::from_millis(50));
    let (back, from) = recv(&mut sim, 0, cli).unwrap();
    assert_eq!(
        (back.as_slice(), from),
        (&b"hello six"[..], sa("[2001:db8::2]:7"))
    );
    assert_eq!(sim.stack(1).getsockname(srv).unwrap(), sa("[::]:7"));

    // Link-local: the destination needs its scope (the interface); the sender is reported
    // with the receiving interface as its scope id.
    let ll_b = link_local(eui64_interface_id(sim.stack(1).iface(ib).unwrap().mac));
    let ll_a = link_local(eui64_interface_id(sim.stack(0).iface(ia).unwrap().mac));
    let c2 = sim.stack(0).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    assert_eq!(
        sim.stack(0)
            .send_to(c2, b"x", SocketAddrV6::new(ll_b, 7, 0, 0), now),
        Err(Errno::EINVAL),
        "a link-local destination without a scope id"
    );
    sim.stack(0)
        .send_to(c2, b"ll", SocketAddrV6::new(ll_b, 7, 0, ia), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    let (data, from) = recv(&mut sim, 1, srv).unwrap();
    assert_eq!(data, b"ll");
    let SocketAddr::V6(f6) = from else {
        panic!("{from}")
    };
    assert_eq!((*f6.ip(), f6.scope_id()), (ll_a, ib));
    // The socket was autobound at [::]:ephemeral.
    let local = sim.stack(0).getsockname(c2).unwrap();
    assert!(local.is_ipv6() && local.port() != 0, "{local}");

    let (a, b) = (sim.stack(0).snmp(), sim.stack(1).snmp());
    assert_eq!(a.udp6.out_datagrams, 2);
    assert_eq!(a.udp6.in_datagrams, 1);
    assert_eq!(b.udp6.in_datagrams, 2);
    assert_eq!(b.udp6.out_datagrams, 1);
    assert_eq!(
        (a.udp.out_datagrams, b.udp.in_datagrams),
        (0, 0),
        "nothing over IPv4"
    );
}

#[test]
fn closed_port_answers_port_unreachable_rate_limited() {
    let (mut sim, _, _) = pair();
    let cli = sim.stack(0).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    sim.stack(0)
        .connect(cli, sa("[2001:db8::2]:9"), now)
        .unwrap();
    assert_eq!(
        sim.stack(0).getsockname(cli).unwrap().ip(),
        IpAddr::V6(ga().addr),
        "connect chose the source"
    );
    sim.stack(0).send(cli, b"anyone?", now).unwrap();
    sim.advance(Duration::from_millis(50));
    let b = sim.stack(1).snmp();
    assert_eq!(b.udp6.no_ports, 1);
    assert_eq!(b.icmp6.out_dest_unreachs, 1);
    // The connected sender hears ECONNREFUSED once.
    assert_eq!(recv(&mut sim, 0, cli), Err(Errno::ECONNREFUSED));
    assert_eq!(recv(&mut sim, 0, cli), Err(Errno::EAGAIN));
    // A burst within the rate limit's interval: more datagrams, few more errors.
    for _ in 0..20 {
        let now = sim.now();
        sim.stack(0).send(cli, b"again", now).unwrap();
        sim.advance(Duration::from_millis(1));
    }
    sim.advance(Duration::from_millis(50));
    let b = sim.stack(1).snmp();
    assert_eq!(b.udp6.no_ports, 21);
    assert!(
        b.icmp6.out_dest_unreachs < 10,
        "rate limited: {} errors for 21 datagrams",
        b.icmp6.out_dest_unreachs
    );
    assert!(b.icmp6.out_rate_limit_host > 0);
    // An unconnected socket hears nothing.
    let un = udp(&mut sim, 0, sa("[::]:0"));
    sim.advance(Duration::from_secs(2));
    let now = sim.now();
    sim.stack(0)
        .send_to(un, b"x", sa("[2001:db8::2]:10"), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(recv(&mut sim, 0, un), Err(Errno::EAGAIN));
}

/// A UDP-over-IPv6 frame from A's addresses to B's port `dport`, checksum as `fix` leaves it.
fn frame(sim: &mut Sim, ib: u32, dport: u16, fix: impl Fn(&mut [u8])) -> PacketBuf {
    let bmac = sim.stack(1).iface(ib).unwrap().mac;
    let payload = b"checksum me";
    let ulen = 8 + payload.len();
    let mut f = vec![0u8; 14 + 40 + ulen];
    f[..6].copy_from_slice(&bmac.0);
    f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    Ipv6Repr {
        src_addr: ga().addr,
        dst_addr: gb().addr,
        next_header: IpProtocol::UDP,
        payload_len: ulen,
        hop_limit: 64,
        traffic_class: 0,
        flow_label: 0,
    }
    .emit(&mut f[14..54]);
    f[62..].copy_from_slice(payload);
    UdpRepr {
        src_port: 5000,
        dst_port: dport,
        payload_len: payload.len(),
    }
    .emit_datagram_v6(&mut f[54..], &ga().addr, &gb().addr);
    fix(&mut f[54..]);
    PacketBuf::from_slice(&f, 64)
}

#[test]
fn checksum_errors_and_zero_checksum_are_counted_and_dropped() {
    let (mut sim, _, ib) = pair();
    let srv = udp(&mut sim, 1, sa("[::]:53"));
    let now = sim.now();
    // A good one first: the frame builder is right.
    let good = frame(&mut sim, ib, 53, |_| {});
    sim.stack(1).receive(ib, good, now);
    assert_eq!(recv(&mut sim, 1, srv).unwrap().0, b"checksum me");
    let before = sim.stack(1).snmp();
    // A flipped payload bit, then a zero checksum (legal over IPv4, not over IPv6).
    let bad = frame(&mut sim, ib, 53, |u| u[9] ^= 0x40);
    sim.stack(1).receive(ib, bad, now);
    let zero = frame(&mut sim, ib, 53, |u| u[6..8].copy_from_slice(&[0, 0]));
    sim.stack(1).receive(ib, zero, now);
    sim.advance(Duration::from_millis(10));
    let after = sim.stack(1).snmp();
    assert_eq!(after.udp6.in_csum_errors - before.udp6.in_csum_errors, 2);
    assert_eq!(after.udp6.in_errors - before.udp6.in_errors, 2);
    assert_eq!(after.udp6.in_datagrams, before.udp6.in_datagrams);
    assert_eq!(after.udp.in_csum_errors, 0, "IPv4 counters untouched");
    assert!(after.uncounted_drops(&before).is_empty());
    assert_eq!(recv(&mut sim, 1, srv), Err(Errno::EAGAIN));
    // No port unreachable for a datagram whose checksum failed.
    assert_eq!(
        after.icmp6.out_dest_unreachs,
        before.icmp6.out_dest_unreachs
    );
}

#[test]
fn a_v6_socket_at_any_serves_ipv4_peers_as_v4_mapped_addresses() {
    let (mut sim, _, _) = pair();
    let srv = udp(&mut sim, 1, sa("[::]:7"));
    let c4 = udp(&mut sim, 0, SocketAddr::new(A4.into(), 4004));
    let now = sim.now();
    sim.stack(0)
        .send_to(c4, b"v4 in", SocketAddr::new(B4.into(), 7), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    let (data, from) = recv(&mut sim, 1, srv).unwrap();
    assert_eq!(data, b"v4 in");
    assert_eq!(from, sa("[::ffff:192.0.2.1]:4004"));
    // Answering the mapped address goes out over IPv4.
    let now = sim.now();
    sim.stack(1).send_to(srv, b"v4 out", from, now).unwrap();
    sim.advance(Duration::from_millis(50));
    let (back, from) = recv(&mut sim, 0, c4).unwrap();
    assert_eq!(back, b"v4 out");
    assert_eq!(from, SocketAddr::new(B4.into(), 7));
    let b = sim.stack(1).snmp();
    assert_eq!((b.udp.in_datagrams, b.udp.out_datagrams), (1, 1));
    assert_eq!(b.udp6.in_datagrams, 0);
    // An AF_INET socket at 0.0.0.0 on the same port would conflict; a more specific AF_INET
    // socket (192.0.2.2) is refused too without SO_REUSEADDR, as on Linux.
    let s4 = sim.stack(1).socket(SockType::Dgram).unwrap();
    assert_eq!(
        sim.stack(1)
            .bind(s4, SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 7)),
        Err(Errno::EADDRINUSE)
    );
    assert_eq!(
        sim.stack(1).bind(s4, SocketAddr::new(B4.into(), 7)),
        Err(Errno::EADDRINUSE)
    );
}

#[test]
fn v6only_refuses_ipv4_and_lets_an_ipv4_socket_share_the_port() {
    let (mut sim, _, _) = pair();
    let now = sim.now();
    let s6 = sim.stack(1).socket(SockType::Dgram).unwrap();
    sim.stack(1)
        .setsockopt(s6, SockOpt::V6Only(true), now)
        .unwrap();
    sim.stack(1).bind(s6, sa("[::]:7")).unwrap();
    assert_eq!(
        sim.stack(1).setsockopt(s6, SockOpt::V6Only(false), now),
        Err(Errno::EINVAL),
        "IPV6_V6ONLY is fixed once bound"
    );
    // IPv4 traffic to the port finds no socket: ICMP port unreachable over IPv4.
    let c4 = udp(&mut sim, 0, SocketAddr::new(A4.into(), 4004));
    sim.stack(0)
        .send_to(c4, b"v4?", SocketAddr::new(B4.into(), 7), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(recv(&mut sim, 1, s6), Err(Errno::EAGAIN));
    assert_eq!(sim.stack(1).snmp().udp.no_ports, 1);
    // Sending to an IPv4 peer from a V6ONLY socket: ENETUNREACH, as Linux.
    let now = sim.now();
    assert_eq!(
        sim.stack(1)
            .send_to(s6, b"x", SocketAddr::new(A4.into(), 4004), now),
        Err(Errno::ENETUNREACH)
    );
    // An AF_INET socket may now take the same port; each family reaches its own socket.
    let s4 = udp(
        &mut sim,
        1,
        SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 7),
    );
    let c6 = udp(&mut sim, 0, sa("[::]:0"));
    let now = sim.now();
    sim.stack(0)
        .send_to(c4, b"four", SocketAddr::new(B4.into(), 7), now)
        .unwrap();
    sim.stack(0)
        .send_to(c6, b"six", sa("[2001:db8::2]:7"), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(recv(&mut sim, 1, s4).unwrap().0, b"four");
    assert_eq!(recv(&mut sim, 1, s6).unwrap().0, b"six");
    // The sysctl sets the default of new sockets.
    sim.stack(1).set_ipv6_bindv6only(true);
    let s = sim.stack(1).socket(SockType::Dgram).unwrap();
    let v = sim
        .stack(1)
        .getsockopt(s, linnet::socket::SockOptName::V6Only)
        .unwrap();
    assert_eq!(v, linnet::socket::SockOptValue::Opt(SockOpt::V6Only(true)));
    // A v4-mapped bind on a V6ONLY socket is refused.
    assert_eq!(
        sim.stack(1).bind(s, sa("[::ffff:192.0.2.2]:99")),
        Err(Errno::EINVAL)
    );
}

#[test]
fn family_mismatches_are_refused() {
    let (mut sim, _, _) = pair();
    let now = sim.now();
    let s4 = udp(&mut sim, 0, SocketAddr::new(A4.into(), 0));
    assert_eq!(
        sim.stack(0).send_to(s4, b"x", sa("[2001:db8::2]:7"), now),
        Err(Errno::EAFNOSUPPORT)
    );
    // An address that is not ours.
    let s = sim.stack(0).socket(SockType::Dgram).unwrap();
    assert_eq!(
        sim.stack(0).bind(s, sa("[2001:db8::99]:7")),
        Err(Errno::EADDRNOTAVAIL)
    );
    // A socket bound to a specific IPv6 address sends no IPv4.
    sim.stack(0).bind(s, sa("[2001:db8::1]:7")).unwrap();
    assert_eq!(
        sim.stack(0)
            .send_to(s, b"x", SocketAddr::new(B4.into(), 7), now),
        Err(Errno::ENETUNREACH)
    );
    let _ = Ipv6Addr::UNSPECIFIED;
}

#[test]
fn a_datagram_over_the_mtu_is_fragmented_and_reassembled() {
    let (mut sim, _, _) = pair();
    let srv = udp(&mut sim, 1, sa("[::]:7"));
    let cli = udp(&mut sim, 0, sa("[::]:0"));
    let big: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    let now = sim.now();
    sim.stack(0)
        .send_to(cli, &big, sa("[2001:db8::2]:7"), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    let now = sim.now();
    let mut buf = vec![0u8; 65536];
    let (n, _) = sim
        .stack(1)
        .recv_from(srv, &mut buf, MsgFlags::default(), now)
        .expect("the datagram arrived whole");
    assert_eq!(&buf[..n], &big[..]);
    assert_eq!(sim.stack(1).snmp().udp6.in_csum_errors, 0);
}
