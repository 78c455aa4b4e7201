//! TCP and IPv6 between two stacks under virtual time. So far: the dual-stack listener — a
//! TCP socket bound at `[::]` takes IPv4 connections unless `IPV6_V6ONLY`, and conflicts
//! with `0.0.0.0` on its port as Linux's `inet_rcv_saddr_equal` says; its connections name
//! their IPv4 addresses v4-mapped (`::ffff:a.b.c.d`). TCP over IPv6 itself
//! (issue 18) is not there yet: other IPv6 addresses are refused with `EAFNOSUPPORT`.

mod common;
use common::deadline;

use linnet::transport::tcp::TcpState;
use linnet::{Errno, LinkConfig, MsgFlags, Shutdown, Sim, SockId, SockOpt, SockType};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

/// Two stacks on one link (192.0.2.1 and .2), settled for 100 ms.
fn pair() -> Sim {
    let (mut sim, _, _) = common::sim_pair(LinkConfig::default());
    sim.advance(Duration::from_millis(100));
    sim
}

fn any6(port: u16) -> SocketAddrV6 {
    SocketAddrV6::new(Ipv6Addr::UNSPECIFIED, port, 0, 0)
}

/// A listener on stack 1 at `addr`, with `IPV6_V6ONLY` = `v6only`.
fn listen_at(sim: &mut Sim, addr: SocketAddr, v6only: bool) -> Result<SockId, Errno> {
    let now = sim.now();
    let s = sim.stack(1);
    let l = s.socket(SockType::Stream)?;
    s.setsockopt(l, SockOpt::V6Only(v6only), now)?;
    s.bind(l, addr)?;
    s.listen(l, 16)?;
    Ok(l)
}

/// Connect stack 0 to B:port; runs until established or refused (at most 10 s).
fn connect4(sim: &mut Sim, port: u16) -> (SockId, Result<(), Errno>) {
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, port), now),
        Err(Errno::EINPROGRESS)
    );
    let until = deadline(sim, 10);
    sim.run_until_cond(until, |sim| {
        sim.stack(0).tcp_state(c) != Some(TcpState::SynSent)
    });
    // The handshake's last ACK reaches the server.
    sim.advance(Duration::from_millis(50));
    let now = sim.now();
    (c, sim.stack(0).connect(c, SocketAddrV4::new(B, port), now))
}

#[test]
fn dual_stack_listener_accepts_ipv4_and_carries_data() {
    let mut sim = pair();
    let l = listen_at(&mut sim, any6(7).into(), false).unwrap();
    assert_eq!(sim.stack(1).getsockname(l), Ok(SocketAddr::V6(any6(7))));
    let (c, r) = connect4(&mut sim, 7);
    assert!(matches!(r, Ok(()) | Err(Errno::EISCONN)), "connect: {r:?}");
    let (s, peer) = sim.stack(1).accept(l).expect("accepted");
    assert_eq!(*peer.ip(), Ipv4Addr::new(192, 0, 2, 1));
    // An AF_INET6 socket names its IPv4 addresses v4-mapped (the client, AF_INET, does not).
    let mapped = |a: [u8; 4], port| {
        SocketAddr::V6(SocketAddrV6::new(
            Ipv4Addr::from(a).to_ipv6_mapped(),
            port,
            0,
            0,
        ))
    };
    assert_eq!(
        sim.stack(1).getpeername(s),
        Ok(mapped([192, 0, 2, 1], peer.port()))
    );
    assert_eq!(sim.stack(1).getsockname(s), Ok(mapped([192, 0, 2, 2], 7)));
    assert_eq!(
        sim.stack(0).getpeername(c),
        Ok(SocketAddr::V4(SocketAddrV4::new(B, 7)))
    );
    // 64 KiB client → server, byte-exact, then FIN.
    let data: Vec<u8> = (0..65536u32).map(|i| (i * 7 % 251) as u8).collect();
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 16384];
    let mut eof = false;
    let until = deadline(&sim, 30);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if sent < data.len() {
            if let Ok(n) = sim.stack(0).send(c, &data[sent..], now) {
                sent += n;
                if sent == data.len() {
                    sim.stack(0).shutdown(c, Shutdown::Write, now).unwrap();
                }
            }
        }
        loop {
            match sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(_) => break,
            }
        }
        eof
    });
    assert!(eof, "no FIN after {} of {} bytes", got.len(), data.len());
    assert!(got == data, "data differs");
}

#[test]
fn v6only_listener_refuses_ipv4() {
    let mut sim = pair();
    listen_at(&mut sim, any6(7).into(), true).unwrap();
    let (_, r) = connect4(&mut sim, 7);
    assert_eq!(r, Err(Errno::ECONNREFUSED));
}

#[test]
fn wildcard_bind_conflicts_follow_v6only() {
    let mut sim = pair();
    let v4any: SocketAddr = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 80).into();
    // Dual-stack [::]:80 holds the IPv4 wildcard too.
    let l6 = listen_at(&mut sim, any6(80).into(), false).unwrap();
    assert_eq!(listen_at(&mut sim, v4any, false), Err(Errno::EADDRINUSE));
    let now = sim.now();
    sim.stack(1).close(l6, now).unwrap();
    // With IPV6_V6ONLY the two share the port, and an IPv4 client reaches the IPv4 one.
    let l6 = listen_at(&mut sim, any6(80).into(), true).unwrap();
    let l4 = listen_at(&mut sim, v4any, false).unwrap();
    let (_, r) = connect4(&mut sim, 80);
    assert!(matches!(r, Ok(()) | Err(Errno::EISCONN)), "connect: {r:?}");
    assert!(sim.stack(1).accept(l4).is_ok());
    assert_eq!(sim.stack(1).accept(l6).map(|_| ()), Err(Errno::EAGAIN));
}

#[test]
fn other_ipv6_addresses_not_yet_supported() {
    let mut sim = pair();
    let s = sim.stack(1);
    let t = s.socket(SockType::Stream).unwrap();
    assert_eq!(
        s.bind(t, SocketAddrV6::new(Ipv6Addr::LOCALHOST, 9, 0, 0)),
        Err(Errno::EAFNOSUPPORT)
    );
}

#[test]
fn v6only_socket_cannot_connect_to_ipv4() {
    let mut sim = pair();
    let now = sim.now();
    let s = sim.stack(0);
    let t = s.socket(SockType::Stream).unwrap();
    s.setsockopt(t, SockOpt::V6Only(true), now).unwrap();
    s.bind(t, any6(0)).unwrap();
    assert_eq!(
        s.connect(t, SocketAddrV4::new(B, 7), now),
        Err(Errno::ENETUNREACH)
    );
    // Without IPV6_V6ONLY a [::]-bound socket connects to IPv4 and names itself v4-mapped.
    listen_at(
        &mut sim,
        SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7).into(),
        false,
    )
    .unwrap();
    let s = sim.stack(0);
    let t = s.socket(SockType::Stream).unwrap();
    s.bind(t, any6(0)).unwrap();
    assert_eq!(
        s.connect(t, SocketAddrV4::new(B, 7), now),
        Err(Errno::EINPROGRESS)
    );
    let until = deadline(&sim, 10);
    let ok = sim.run_until_cond(until, |sim| {
        sim.stack(0).tcp_state(t) == Some(TcpState::Established)
    });
    assert!(ok, "not established");
    let local = sim.stack(0).getsockname(t).unwrap();
    assert!(
        matches!(local, SocketAddr::V6(a) if a.ip().to_ipv4_mapped() == Some(Ipv4Addr::new(192, 0, 2, 1))),
        "{local}"
    );
}
