//! TCP Small Queues under virtual time: behind a 10 Mbit/s tbf with a one-second queue, a
//! bulk TCP sender keeps only a couple of segments in the qdisc, still fills the link, and a
//! ping from the same host is not stuck behind its data.

use linnet::qdisc::tc::TcReply;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockType};
use linnet::{Stack, StackConfig};
use linnet_tools::tc::Tc;
use std::net::SocketAddrV4;
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn tbf_stats(sim: &mut Sim) -> linnet::qdisc::QdiscStats {
    let now = sim.now();
    let w: Vec<String> = "qdisc show dev eth0"
        .split_whitespace()
        .map(String::from)
        .collect();
    match sim.stack(0).tc(&w, now).unwrap() {
        TcReply::Qdiscs(q) => q[0].stats,
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_socket_keeps_two_segments_in_the_qdisc_and_still_fills_the_link() {
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
            delay: Duration::from_millis(2),
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    let now = sim.now();
    let w: Vec<String> = "qdisc add dev eth0 root tbf rate 10mbit burst 32kb latency 1s"
        .split_whitespace()
        .map(String::from)
        .collect();
    sim.stack(0).tc(&w, now).unwrap();
    // Connect.
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
    // Bulk for 2 s of warm-up, then 8 s measured while pinging every 100 ms.
    let chunk = vec![7u8; 65536];
    let mut buf = vec![0u8; 65536];
    let ident = sim.stack(0).ping_open().unwrap();
    let mut rtts = Vec::new();
    let mut max_backlog = 0;
    let mut seq = 0u16;
    let mut next_ping = sim.now() + Duration::from_secs(2);
    let start = sim.now();
    let mut sent_at_2s = None;
    let until = sim.now() + Duration::from_secs(10);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sim.stack(0).send(c, &chunk, now).is_ok_and(|n| n > 0) {}
        while sim
            .stack(1)
            .recv(s, &mut buf, MsgFlags::default(), now)
            .is_ok_and(|n| n > 0)
        {}
        if now >= start + Duration::from_secs(2) {
            let st = tbf_stats(sim);
            sent_at_2s.get_or_insert(st.bytes);
            max_backlog = max_backlog.max(st.backlog_bytes);
            if now >= next_ping {
                seq += 1;
                sim.stack(0)
                    .ping_send(ident, B, seq, 56, None, now)
                    .unwrap();
                next_ping = now + Duration::from_millis(100);
            }
            while let Some(r) = sim.stack(0).ping_recv(ident).unwrap() {
                rtts.push(r.rtt.unwrap());
            }
        }
        false
    });
    let st = tbf_stats(&mut sim);
    let rate = (st.bytes - sent_at_2s.unwrap()) as f64 * 8.0 / 8.0;
    let max_rtt = *rtts.iter().max().unwrap();
    println!(
        "TSQ behind tbf 10mbit/1s: wire {:.3} Mbit/s, max qdisc backlog {} bytes, drops {}, \
         ping RTT max {max_rtt:?} over {} pings",
        rate / 1e6,
        max_backlog,
        st.drops,
        rtts.len()
    );
    assert!((rate / 10e6 - 1.0).abs() < 0.05, "rate {rate}");
    assert!(max_backlog <= 4 * 1514, "backlog {max_backlog}");
    assert_eq!(st.drops, 0);
    // 4 ms of path plus at most a few frames ahead of the ping (1.2 ms each).
    assert!(
        max_rtt < Duration::from_millis(10),
        "ping behind the transfer: {max_rtt:?}"
    );
    assert!(rtts.len() >= 75, "{} pings answered", rtts.len());
}
