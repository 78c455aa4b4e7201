//! `Stack::tcp_abort_all` (linnetd's shutdown): every connection an application holds is
//! reset at once, so the peer fails with ECONNRESET without waiting for a timer; a connection
//! the application already closed keeps its FIN.

use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockType};
use linnet::{Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

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

/// Connect stack 0 to B:7 and accept on stack 1: (client, server).
fn establish(sim: &mut Sim, l: SockId) -> (SockId, SockId) {
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    let _ = sim.stack(0).connect(c, SocketAddrV4::new(B, 7), now);
    let mut server = None;
    let until = sim.now() + Duration::from_secs(5);
    let ok = sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(ok, "handshake");
    (c, server.unwrap())
}

#[test]
fn abort_all_resets_held_connections_and_spares_closed_ones() {
    let mut sim = pair();
    let s = sim.stack(1);
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
        .unwrap();
    s.listen(l, 16).unwrap();
    let (c1, s1) = establish(&mut sim, l);
    let (c2, s2) = establish(&mut sim, l);
    // The server application closes the second itself: a FIN, and the client reads EOF.
    let now = sim.now();
    sim.stack(1).close(s2, now).unwrap();
    sim.advance(Duration::from_millis(50));
    let mut buf = [0u8; 16];
    let now = sim.now();
    assert_eq!(
        sim.stack(0).recv(c2, &mut buf, MsgFlags::default(), now),
        Ok(0)
    );
    // Data in flight on the first, then the daemon goes down.
    let now = sim.now();
    sim.stack(0).send(c1, &[1u8; 3000], now).unwrap();
    let now = sim.now();
    let resets = sim.stack(1).snmp().tcp.out_rsts;
    assert_eq!(sim.stack(1).tcp_abort_all(now), 1);
    assert_eq!(sim.stack(1).snmp().tcp.out_rsts, resets + 1);
    // The holder of the aborted socket learns it too.
    assert_eq!(
        sim.stack(1).recv(s1, &mut buf, MsgFlags::default(), now),
        Err(Errno::ECONNABORTED)
    );
    // The peer is reset within one link delay, not after a retransmission timeout.
    sim.advance(Duration::from_millis(20));
    let now = sim.now();
    assert_eq!(
        sim.stack(0).recv(c1, &mut buf, MsgFlags::default(), now),
        Err(Errno::ECONNRESET)
    );
    assert_eq!(sim.stack(0).tcp_state(c1), Some(TcpState::Closed));
    // The listener is left alone; nothing more to abort.
    assert_eq!(sim.stack(1).tcp_state(l), Some(TcpState::Listen));
    let now = sim.now();
    assert_eq!(sim.stack(1).tcp_abort_all(now), 0);
}
