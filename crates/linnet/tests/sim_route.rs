//! Routing and forwarding under virtual time: host A —link1— router R —link2— host B, with a
//! second link R —link3— B for policy routing. Pings and TCP cross R; R answers expiring TTLs,
//! missing and refusing routes with ICMP errors, honours `ip rule`, and drops everything while
//! forwarding is off.

use linnet::ip::route::{Route, RouteMatch, RouteType};
use linnet::ip::rules::{FibRule, RuleMatch};
use linnet::stats::DropReason;
use linnet::transport::ping::PingReply;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockType};
use linnet::{Stack, StackConfig};
use std::net::SocketAddrV4;
use std::time::Duration;

const A_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 2);
const R1: Ipv4Addr = Ipv4Addr::new(10, 0, 1, 1);
const R2: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 1);
const B_ADDR: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
const B3: Ipv4Addr = Ipv4Addr::new(10, 0, 3, 2);

const A: usize = 0;
const R: usize = 1;
const B: usize = 2;

/// The simulation and the interfaces at each end of each link.
struct Net {
    sim: Sim,
    /// Link1: A's and R's interfaces.
    a1: u32,
    r1: u32,
    /// Link2: R's and B's.
    r2: u32,
    b2: u32,
    /// Link3, the second path from R to B.
    r3: u32,
    b3: u32,
}

fn net(forward: bool) -> Net {
    let mut sim = Sim::new();
    for seed in [1, 2, 3] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ip_forward: forward && seed == 2,
            // The tests count IPv4 packets per link: no IPv6 (RS, MLD) among them.
            disable_ipv6: true,
            ..StackConfig::default()
        }));
    }
    let link = LinkConfig {
        delay: Duration::from_millis(1),
        ..LinkConfig::default()
    };
    let p = |s: &str| s.parse().unwrap();
    let (a1, r1) = sim.connect(A, R, link.clone(), p("10.0.1.2/24"), p("10.0.1.1/24"));
    let (r2, b2) = sim.connect(R, B, link.clone(), p("10.0.2.1/24"), p("10.0.2.2/24"));
    let (r3, b3) = sim.connect(R, B, link, p("10.0.3.1/24"), p("10.0.3.2/24"));
    sim.stack(A).add_default_gateway(R1).unwrap();
    sim.stack(B).add_default_gateway(R2).unwrap();
    sim.advance(Duration::from_millis(100));
    Net {
        sim,
        a1,
        r1,
        r2,
        b2,
        r3,
        b3,
    }
}

/// Make every neighbour permanent (`ip neigh add ... nud permanent`), so that no ARP crosses
/// the links and interface counters count datagrams only.
fn pin_neighbours(n: &mut Net) {
    let mac = |sim: &mut Sim, s: usize, ifindex: u32| {
        sim.stack(s)
            .iface(ifindex)
            .map(|i| i.mac)
            .expect("interface")
    };
    let pairs = [
        (A, n.a1, A_ADDR, R, n.r1, R1),
        (R, n.r2, R2, B, n.b2, B_ADDR),
        (R, n.r3, Ipv4Addr::new(10, 0, 3, 1), B, n.b3, B3),
    ];
    let now = n.sim.now();
    for (x, xi, xa, y, yi, ya) in pairs {
        let (xm, ym) = (mac(&mut n.sim, x, xi), mac(&mut n.sim, y, yi));
        n.sim.stack(x).add_neighbour(xi, ya, ym, now).unwrap();
        n.sim.stack(y).add_neighbour(yi, xa, xm, now).unwrap();
    }
}

/// Ping `dst` from A `count` times, `gap` apart, optionally with a TTL; returns what came back.
fn ping(sim: &mut Sim, dst: Ipv4Addr, count: u16, ttl: Option<u8>) -> Vec<PingReply> {
    let ident = sim.stack(A).ping_open().unwrap();
    let mut replies = Vec::new();
    for seq in 1..=count {
        let now = sim.now();
        sim.stack(A)
            .ping_send(ident, dst, seq, 56, ttl, now)
            .unwrap();
        sim.advance(Duration::from_secs(1));
        while let Some(r) = sim.stack(A).ping_recv(ident).unwrap() {
            replies.push(r);
        }
    }
    sim.advance(Duration::from_secs(1));
    while let Some(r) = sim.stack(A).ping_recv(ident).unwrap() {
        replies.push(r);
    }
    sim.stack(A).ping_close(ident).unwrap();
    replies
}

/// Packets R has put on an interface so far.
fn tx_packets(sim: &mut Sim, ifindex: u32) -> u64 {
    let s = sim.stack(R);
    s.links()
        .into_iter()
        .find(|l| l.ifindex == ifindex)
        .unwrap()
        .qdisc_stats
        .packets
}

#[test]
fn ping_crosses_the_router() {
    let Net { mut sim, .. } = net(true);
    let replies = ping(&mut sim, B_ADDR, 3, None);
    assert_eq!(replies.len(), 3, "{replies:?}");
    for r in &replies {
        assert_eq!(r.from, B_ADDR);
        assert!(r.error.is_none());
        // B answers with TTL 64; R takes one off on the way back.
        assert_eq!(r.ttl, 63);
    }
    let rs = sim.stack(R).snmp();
    assert_eq!(rs.ip.forw_datagrams, 6, "three requests and three replies");
    assert_eq!(rs.ip.forwarding, 1);
    assert_eq!(rs.ip.in_delivers, 0, "nothing was for R itself");
    let bs = sim.stack(B).snmp();
    assert_eq!(bs.icmp.in_echos, 3);
    // After the first packet of each direction, R's lookups come from its route cache.
    assert!(sim.stack(R).route_cache_stats().hits >= 4);
    // R's far address is R's own: answered, not forwarded.
    let replies = ping(&mut sim, R2, 1, None);
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].from, replies[0].ttl), (R2, 64));
    assert_eq!(sim.stack(R).snmp().ip.forw_datagrams, 6);
}

#[test]
fn tcp_echo_through_the_router() {
    let Net { mut sim, .. } = net(true);
    let l = {
        let s = sim.stack(B);
        let l = s.socket(SockType::Stream).unwrap();
        s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 7))
            .unwrap();
        s.listen(l, 4).unwrap();
        l
    };
    let now = sim.now();
    let c = sim.stack(A).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(A).connect(c, SocketAddrV4::new(B_ADDR, 7), now),
        Err(Errno::EINPROGRESS)
    );
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut server = None;
    let (mut sent, mut echoed) = (0, Vec::new());
    // What B has read and not yet managed to send back.
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = vec![0u8; 16384];
    let until = sim.now() + Duration::from_secs(30);
    let done = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if server.is_none() {
            server = sim.stack(B).accept(l).ok().map(|(s, _)| s);
        }
        if sim.stack(A).tcp_state(c) != Some(TcpState::Established) {
            return false;
        }
        while sent < data.len() {
            match sim.stack(A).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if let Some(s) = server {
            // The echo server: whatever arrives goes back as the send buffer allows.
            loop {
                if pending.is_empty() {
                    match sim.stack(B).recv(s, &mut buf, MsgFlags::default(), now) {
                        Ok(n) if n > 0 => pending.extend_from_slice(&buf[..n]),
                        _ => break,
                    }
                }
                match sim.stack(B).send(s, &pending, now) {
                    Ok(0) | Err(Errno::EAGAIN) => break,
                    Ok(n) => drop(pending.drain(..n)),
                    Err(e) => panic!("echo send: {e}"),
                }
            }
        }
        while let Ok(n) = sim.stack(A).recv(c, &mut buf, MsgFlags::default(), now) {
            if n == 0 {
                break;
            }
            echoed.extend_from_slice(&buf[..n]);
        }
        echoed.len() == data.len()
    });
    assert!(done, "echoed {} of {} bytes", echoed.len(), data.len());
    assert!(echoed == data, "echo differs");
    let s = sim.stack(B).getpeername(server.unwrap()).unwrap();
    assert_eq!(s.ip(), A_ADDR, "B sees A's own address: R forwards, no NAT");
    assert!(sim.stack(R).snmp().ip.forw_datagrams > 100);
    // Full-sized DF segments fit the next link: nothing needed fragmenting.
    assert_eq!(sim.stack(R).drops().get(DropReason::PktTooBig), 0);
    assert_eq!(sim.stack(R).snmp().ip.frag_fails, 0);
}

#[test]
fn ttl_one_gets_time_exceeded_from_the_router_rate_limited_per_host() {
    let Net { mut sim, .. } = net(true);
    let replies = ping(&mut sim, B_ADDR, 2, Some(1));
    assert_eq!(replies.len(), 2, "{replies:?}");
    for (i, r) in replies.iter().enumerate() {
        assert_eq!(r.error, Some((11, 0)), "time exceeded in transit");
        assert_eq!(
            r.from, R1,
            "reported by the router, from its address towards A"
        );
        assert_eq!(r.seq, i as u16 + 1);
    }
    // TTL 2 is just enough.
    let replies = ping(&mut sim, B_ADDR, 1, Some(2));
    assert_eq!(replies.len(), 1);
    assert!(replies[0].error.is_none());
    let rs = sim.stack(R).snmp();
    assert_eq!(rs.icmp.out_time_excds, 2);
    assert_eq!(rs.ip.in_hdr_errors, 2, "Linux counts it as a header error");
    assert_eq!(sim.stack(R).drops().get(DropReason::IpTtlExpired), 2);
    assert_eq!(sim.stack(A).snmp().icmp.in_time_excds, 2);
    assert_eq!(sim.stack(B).snmp().icmp.in_echos, 1);

    // Twenty at once: a burst of six errors (four spent above have refilled), then silence.
    sim.advance(Duration::from_secs(10));
    let ident = sim.stack(A).ping_open().unwrap();
    let now = sim.now();
    for seq in 0..20 {
        sim.stack(A)
            .ping_send(ident, B_ADDR, seq, 56, Some(1), now)
            .unwrap();
    }
    sim.advance(Duration::from_millis(500));
    let mut errors = 0;
    while let Some(r) = sim.stack(A).ping_recv(ident).unwrap() {
        assert_eq!(r.error, Some((11, 0)));
        errors += 1;
    }
    assert_eq!(errors, 6);
    assert_eq!(sim.stack(R).snmp().icmp.out_rate_limit_host, 14);
    assert_eq!(sim.stack(R).drops().get(DropReason::IpTtlExpired), 22);
    // One interval later, one more may go.
    sim.advance(Duration::from_millis(600));
    let now = sim.now();
    for seq in 20..22 {
        sim.stack(A)
            .ping_send(ident, B_ADDR, seq, 56, Some(1), now)
            .unwrap();
    }
    sim.advance(Duration::from_millis(100));
    let mut late = Vec::new();
    while let Some(r) = sim.stack(A).ping_recv(ident).unwrap() {
        late.push(r.seq);
    }
    assert_eq!(late, [20]);
}

#[test]
fn missing_and_refusing_routes_get_their_icmp_errors() {
    let Net { mut sim, .. } = net(true);
    // No route at R.
    let r = ping(&mut sim, Ipv4Addr::new(203, 0, 113, 1), 1, None);
    assert_eq!(r.len(), 1);
    assert_eq!(
        (r[0].from, r[0].error),
        (R1, Some((3, 0))),
        "net unreachable"
    );
    assert_eq!(sim.stack(R).snmp().ip.in_no_routes, 1);
    assert_eq!(sim.stack(R).drops().get(DropReason::IpInnoroutes), 1);

    let p = |s: &str| s.parse().unwrap();
    for (kind, prefix, dst, code) in [
        (
            RouteType::Unreachable,
            "198.51.100.0/24",
            Ipv4Addr::new(198, 51, 100, 9),
            Some((3, 1)),
        ),
        (
            RouteType::Prohibit,
            "192.0.2.0/24",
            Ipv4Addr::new(192, 0, 2, 9),
            Some((3, 13)),
        ),
        (
            RouteType::Blackhole,
            "100.64.0.0/10",
            Ipv4Addr::new(100, 64, 0, 1),
            None,
        ),
    ] {
        sim.stack(R)
            .add_route(Route::special(kind, p(prefix)))
            .unwrap();
        let r = ping(&mut sim, dst, 1, None);
        match code {
            Some(c) => {
                assert_eq!(r.len(), 1, "{kind:?}");
                assert_eq!((r[0].from, r[0].error), (R1, Some(c)), "{kind:?}");
            }
            None => assert!(r.is_empty(), "a blackhole answers nothing"),
        }
    }
    let d = sim.stack(R).drops().clone();
    assert_eq!(d.get(DropReason::IpInnoroutes), 2);
    assert_eq!(d.get(DropReason::IpProhibited), 1);
    assert_eq!(d.get(DropReason::IpBlackhole), 1);
    let rs = sim.stack(R).snmp();
    assert_eq!(rs.icmp.out_dest_unreachs, 3);
    assert_eq!(
        rs.ip.in_no_routes, 1,
        "only the missing route counts as InNoRoutes"
    );
    assert_eq!(rs.ip.forw_datagrams, 0);
    // R's own sends to those prefixes fail the way Linux's do.
    let ident = sim.stack(R).ping_open().unwrap();
    let now = sim.now();
    let mut send = |dst| sim.stack(R).ping_send(ident, dst, 1, 8, None, now);
    assert_eq!(
        send(Ipv4Addr::new(198, 51, 100, 9)),
        Err(Errno::EHOSTUNREACH)
    );
    assert_eq!(send(Ipv4Addr::new(192, 0, 2, 9)), Err(Errno::EACCES));
    assert_eq!(send(Ipv4Addr::new(100, 64, 0, 1)), Err(Errno::EINVAL));
    assert_eq!(send(Ipv4Addr::new(203, 0, 113, 1)), Err(Errno::ENETUNREACH));
}

#[test]
fn policy_rule_from_a_subnet_takes_another_path() {
    let mut n = net(true);
    pin_neighbours(&mut n);
    let Net {
        mut sim, r2, r3, ..
    } = n;
    let p = |s: &str| s.parse().unwrap();
    // Table 100: B's subnet via B's address on link3; `from 10.0.1.0/24 lookup 100`.
    sim.stack(R)
        .add_route(Route {
            table: 100,
            ..Route::unicast(p("10.0.2.0/24"), Some(B3), 0)
        })
        .unwrap();
    let pref = sim.stack(R).next_rule_priority();
    let mut rule = FibRule::lookup(pref, 100);
    rule.from = Some(p("10.0.1.0/24"));
    sim.stack(R).add_rule(rule).unwrap();
    assert_eq!(sim.stack(R).rules()[1], rule);

    let before = (tx_packets(&mut sim, r2), tx_packets(&mut sim, r3));
    let replies = ping(&mut sim, B_ADDR, 3, None);
    assert_eq!(replies.len(), 3, "{replies:?}");
    assert!(replies
        .iter()
        .all(|r| r.from == B_ADDR && r.error.is_none()));
    let after = (tx_packets(&mut sim, r2), tx_packets(&mut sim, r3));
    assert_eq!(after.0 - before.0, 0, "nothing went out on link2");
    assert_eq!(
        after.1 - before.1,
        3,
        "the three requests went out on link3"
    );

    // R's own traffic (source chosen by routing, so `from` does not match) keeps to main.
    let ident = sim.stack(R).ping_open().unwrap();
    let now = sim.now();
    sim.stack(R)
        .ping_send(ident, B_ADDR, 1, 56, None, now)
        .unwrap();
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.stack(R).ping_recv(ident).unwrap().unwrap().from, B_ADDR);
    assert_eq!(tx_packets(&mut sim, r3), after.1);
    assert_eq!(tx_packets(&mut sim, r2), after.0 + 1);

    // Deleting the rule puts A's traffic back on link2 at once.
    let m = RuleMatch {
        from: Some(p("10.0.1.0/24")),
        ..RuleMatch::default()
    };
    assert_eq!(sim.stack(R).del_rule(&m), Ok(rule));
    assert_eq!(sim.stack(R).del_rule(&m), Err(Errno::ESRCH));
    let before = (tx_packets(&mut sim, r2), tx_packets(&mut sim, r3));
    assert_eq!(ping(&mut sim, B_ADDR, 2, None).len(), 2);
    let after = (tx_packets(&mut sim, r2), tx_packets(&mut sim, r3));
    assert_eq!(after.0 - before.0, 2);
    assert_eq!(after.1 - before.1, 0);
    let mut m = RouteMatch::new(p("10.0.2.0/24"));
    m.table = Some(100);
    assert_eq!(sim.stack(R).del_route(&m).unwrap().gateway, Some(B3));
}

#[test]
fn forwarding_off_drops_and_counts() {
    let Net { mut sim, .. } = net(false);
    assert_eq!(sim.stack(R).snmp().ip.forwarding, 2);
    let replies = ping(&mut sim, B_ADDR, 3, None);
    assert!(replies.is_empty(), "{replies:?}");
    let rs = sim.stack(R).snmp();
    assert_eq!(rs.ip.forw_datagrams, 0);
    assert_eq!(rs.ip.in_addr_errors, 3);
    assert_eq!(
        rs.icmp.out_msgs, 0,
        "a host that does not forward says nothing"
    );
    assert_eq!(sim.stack(R).drops().get(DropReason::IpNotForUs), 3);
    assert_eq!(sim.stack(B).snmp().icmp.in_echos, 0);
    // Even TTL 1 is not R's business then.
    assert!(ping(&mut sim, B_ADDR, 1, Some(1)).is_empty());
    assert_eq!(sim.stack(R).snmp().icmp.out_time_excds, 0);
    // R itself still answers.
    assert_eq!(ping(&mut sim, R2, 1, None).len(), 1);
    // Turn it on (sysctl -w net.ipv4.ip_forward=1).
    sim.stack(R).set_ip_forward(true);
    assert_eq!(ping(&mut sim, B_ADDR, 1, None).len(), 1);
    assert_eq!(sim.stack(R).snmp().ip.forw_datagrams, 2);
}
