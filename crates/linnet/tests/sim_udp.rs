//! UDP sockets between stacks under virtual time: sendto/recvfrom, connected sockets and their
//! filtering, ICMP port unreachable surfacing as ECONNREFUSED on a connected socket only,
//! SO_BROADCAST, bind conflicts and SO_REUSEADDR, MSG_PEEK and truncation, receive-buffer
//! overflow counted.

use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockOpt, SockType};
use linnet::{Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn pair() -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        }));
    }
    sim.connect(
        0,
        1,
        LinkConfig::default(),
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    sim
}

fn udp(sim: &mut Sim, n: usize, ip: Ipv4Addr, port: u16) -> SockId {
    let s = sim.stack(n);
    let id = s.socket(SockType::Dgram).unwrap();
    s.bind(id, SocketAddrV4::new(ip, port)).unwrap();
    id
}

fn recv(sim: &mut Sim, n: usize, id: SockId, len: usize) -> Result<(Vec<u8>, SocketAddr), Errno> {
    let now = sim.now();
    let mut buf = vec![0u8; len];
    let (got, from) = sim
        .stack(n)
        .recv_from(id, &mut buf, MsgFlags::default(), now)?;
    buf.truncate(got);
    Ok((buf, from))
}

fn settle(sim: &mut Sim) {
    sim.advance(Duration::from_millis(50));
}

#[test]
fn sendto_recvfrom_and_ephemeral_ports() {
    let mut sim = pair();
    let server = udp(&mut sim, 1, Ipv4Addr::UNSPECIFIED, 5353);
    let client = sim.stack(0).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    // An unbound socket gets an ephemeral port on its first send (Linux: auto-bind).
    let n = sim
        .stack(0)
        .send_to(client, b"query", SocketAddrV4::new(B, 5353), now)
        .unwrap();
    assert_eq!(n, 5);
    let local = sim.stack(0).getsockname(client).unwrap();
    assert!(local.port() >= 32768, "ephemeral port {local}");
    settle(&mut sim);
    let (data, from) = recv(&mut sim, 1, server, 64).unwrap();
    assert_eq!(data, b"query");
    assert_eq!(from, SocketAddrV4::new(A, local.port()).into());
    let now = sim.now();
    sim.stack(1).send_to(server, b"answer", from, now).unwrap();
    settle(&mut sim);
    assert_eq!(recv(&mut sim, 0, client, 64).unwrap().0, b"answer");
    assert_eq!(recv(&mut sim, 0, client, 64), Err(Errno::EAGAIN));
    let snmp = sim.stack(1).snmp();
    assert_eq!((snmp.udp.in_datagrams, snmp.udp.out_datagrams), (1, 1));
}

#[test]
fn connected_socket_filters_and_gets_econnrefused() {
    let mut sim = pair();
    let c = udp(&mut sim, 0, Ipv4Addr::UNSPECIFIED, 4000);
    let now = sim.now();
    sim.stack(0)
        .connect(c, SocketAddrV4::new(B, 9999), now)
        .unwrap();
    // Nobody listens on B:9999: B answers port unreachable, the connected socket learns it.
    let now = sim.now();
    sim.stack(0).send(c, b"anyone?", now).unwrap();
    settle(&mut sim);
    assert_eq!(recv(&mut sim, 0, c, 64), Err(Errno::ECONNREFUSED));
    // The error is reported once.
    assert_eq!(recv(&mut sim, 0, c, 64), Err(Errno::EAGAIN));
    assert!(sim.stack(1).snmp().udp.no_ports >= 1);

    // A datagram from another port of B is not for a socket connected to B:9999.
    let other = udp(&mut sim, 1, Ipv4Addr::UNSPECIFIED, 7777);
    let now = sim.now();
    sim.stack(1)
        .send_to(other, b"stranger", SocketAddrV4::new(A, 4000), now)
        .unwrap();
    settle(&mut sim);
    assert_eq!(recv(&mut sim, 0, c, 64), Err(Errno::EAGAIN));

    // An unconnected socket sending to a closed port hears nothing (Linux: no error
    // without IP_RECVERR).
    let u = udp(&mut sim, 0, Ipv4Addr::UNSPECIFIED, 4001);
    let now = sim.now();
    sim.stack(0)
        .send_to(u, b"x", SocketAddrV4::new(B, 9998), now)
        .unwrap();
    settle(&mut sim);
    assert_eq!(recv(&mut sim, 0, u, 64), Err(Errno::EAGAIN));
}

#[test]
fn broadcast_needs_so_broadcast() {
    let mut sim = pair();
    let rx = udp(&mut sim, 1, Ipv4Addr::UNSPECIFIED, 6000);
    let tx = udp(&mut sim, 0, Ipv4Addr::UNSPECIFIED, 6001);
    let now = sim.now();
    for dst in [Ipv4Addr::BROADCAST, Ipv4Addr::new(192, 0, 2, 255)] {
        assert_eq!(
            sim.stack(0)
                .send_to(tx, b"hello all", SocketAddrV4::new(dst, 6000), now),
            Err(Errno::EACCES)
        );
    }
    sim.stack(0)
        .setsockopt(tx, SockOpt::Broadcast(true), now)
        .unwrap();
    for dst in [Ipv4Addr::BROADCAST, Ipv4Addr::new(192, 0, 2, 255)] {
        let now = sim.now();
        sim.stack(0)
            .send_to(tx, b"hello all", SocketAddrV4::new(dst, 6000), now)
            .unwrap();
        settle(&mut sim);
        let (data, from) = recv(&mut sim, 1, rx, 64).unwrap();
        assert_eq!(data, b"hello all");
        assert_eq!(from, SocketAddrV4::new(A, 6001).into());
    }
    // A broadcast to a port nobody holds draws no ICMP error (RFC 1122 3.2.2).
    let before = sim.stack(1).snmp().icmp.out_dest_unreachs;
    let now = sim.now();
    sim.stack(0)
        .send_to(tx, b"?", SocketAddrV4::new(Ipv4Addr::BROADCAST, 6999), now)
        .unwrap();
    settle(&mut sim);
    assert_eq!(sim.stack(1).snmp().icmp.out_dest_unreachs, before);
}

#[test]
fn bind_conflicts_reuseaddr_peek_truncation_and_overflow() {
    let mut sim = pair();
    let a = udp(&mut sim, 1, Ipv4Addr::UNSPECIFIED, 5000);
    let now = sim.now();
    let s = sim.stack(1);
    let b = s.socket(SockType::Dgram).unwrap();
    assert_eq!(
        s.bind(b, SocketAddrV4::new(B, 5000)),
        Err(Errno::EADDRINUSE),
        "a specific address overlaps the wildcard"
    );
    assert_eq!(s.bind(b, SocketAddrV4::new(B, 5001)), Ok(()));
    assert_eq!(
        s.bind(b, SocketAddrV4::new(B, 5002)),
        Err(Errno::EINVAL),
        "bound twice"
    );
    let c = s.socket(SockType::Dgram).unwrap();
    s.setsockopt(c, SockOpt::ReuseAddr(true), now).unwrap();
    assert_eq!(
        s.bind(c, SocketAddrV4::new(B, 5000)),
        Err(Errno::EADDRINUSE),
        "both must agree"
    );

    let tx = udp(&mut sim, 0, Ipv4Addr::UNSPECIFIED, 0);
    let now = sim.now();
    sim.stack(0)
        .send_to(tx, b"0123456789", SocketAddrV4::new(B, 5000), now)
        .unwrap();
    settle(&mut sim);
    let now = sim.now();
    let mut small = [0u8; 4];
    let peek = MsgFlags {
        peek: true,
        dontwait: true,
    };
    let (n, _) = sim.stack(1).recv_from(a, &mut small, peek, now).unwrap();
    assert_eq!(&small[..n], b"0123");
    // A short read takes the whole datagram, as Linux does (the rest is discarded).
    assert_eq!(recv(&mut sim, 1, a, 4).unwrap().0, b"0123");
    assert_eq!(recv(&mut sim, 1, a, 64), Err(Errno::EAGAIN));

    // A full receive buffer drops and counts (RcvbufErrors), never grows.
    sim.stack(1)
        .setsockopt(a, SockOpt::RcvBuf(4096), now)
        .unwrap();
    for _ in 0..20 {
        let now = sim.now();
        sim.stack(0)
            .send_to(tx, &[7u8; 1000], SocketAddrV4::new(B, 5000), now)
            .unwrap();
    }
    settle(&mut sim);
    let mut got = 0;
    while recv(&mut sim, 1, a, 2000).is_ok() {
        got += 1;
    }
    assert!(
        (1..=4).contains(&got),
        "{got} datagrams of 1000 in a 4096-byte buffer"
    );
    let snmp = sim.stack(1).snmp();
    assert_eq!(snmp.udp.rcvbuf_errors, 20 - got);
}
