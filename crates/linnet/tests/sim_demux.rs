//! Early demux under virtual time: once a connection's segments have been routed to local
//! delivery, the next ones skip the input route lookup (the socket remembers the route), and
//! a routing change makes them look it up again once.

use linnet::ip::route::Route;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockType};
use linnet::{Stack, StackConfig};
use std::net::SocketAddrV4;
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn lookups(sim: &mut Sim, side: usize) -> u64 {
    let s = sim.stack(side).route_cache_stats();
    s.hits + s.misses
}

/// Send `n` one-byte requests from the client, each answered by the server.
fn ping_pong(sim: &mut Sim, c: SockId, s: SockId, n: usize) {
    let mut b = [0u8; 8];
    for i in 0..n {
        let now = sim.now();
        assert_eq!(sim.stack(0).send(c, &[i as u8], now), Ok(1));
        let until = sim.now() + Duration::from_secs(1);
        assert!(sim.run_until_cond(until, |sim| {
            let now = sim.now();
            sim.stack(1).recv(s, &mut b, MsgFlags::default(), now) == Ok(1)
        }));
        assert_eq!(b[0], i as u8);
        let now = sim.now();
        assert_eq!(sim.stack(1).send(s, &b[..1], now), Ok(1));
        let until = sim.now() + Duration::from_secs(1);
        assert!(sim.run_until_cond(until, |sim| {
            let now = sim.now();
            sim.stack(0).recv(c, &mut b, MsgFlags::default(), now) == Ok(1)
        }));
        assert_eq!(b[0], i as u8);
    }
}

#[test]
fn established_segments_skip_the_input_route_lookup_until_routes_change() {
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
        LinkConfig {
            delay: Duration::from_millis(1),
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    let now = sim.now();
    let l = sim.stack(1).socket(SockType::Stream).unwrap();
    sim.stack(1)
        .bind(l, SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 5001))
        .unwrap();
    sim.stack(1).listen(l, 1).unwrap();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, 5001), now),
        Err(Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = sim.now() + Duration::from_secs(5);
    assert!(sim.run_until_cond(until, |sim| {
        server = server.or_else(|| sim.stack(1).accept(l).ok().map(|(s, _)| s));
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    }));
    let s = server.unwrap();
    // The first exchange routes (and remembers) each direction's input route.
    ping_pong(&mut sim, c, s, 2);
    let before = [lookups(&mut sim, 0), lookups(&mut sim, 1)];
    ping_pong(&mut sim, c, s, 20);
    let after = [lookups(&mut sim, 0), lookups(&mut sim, 1)];
    assert_eq!(
        after, before,
        "forty segments each way took no input route lookup"
    );
    // A routing change (any: the generation moves) invalidates what the sockets remember:
    // the next segment each way is routed again, and then remembered again.
    let ifx = sim.stack(1).ifindex_by_name("eth0").unwrap();
    sim.stack(1)
        .add_route(Route::unicast(
            "198.51.100.0/24".parse().unwrap(),
            None,
            ifx,
        ))
        .unwrap();
    ping_pong(&mut sim, c, s, 1);
    let changed = lookups(&mut sim, 1);
    assert!(
        changed > after[1],
        "the server side looked its route up again"
    );
    ping_pong(&mut sim, c, s, 10);
    assert_eq!(lookups(&mut sim, 1), changed, "and remembered it again");
    assert_eq!(
        lookups(&mut sim, 0),
        after[0],
        "the client side saw no change"
    );
}
