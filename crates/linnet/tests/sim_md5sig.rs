//! TCP MD5 signatures (RFC 2385) between two Linnet stacks under virtual time: with the same
//! key on both ends a connection opens and carries data (every segment signed and checked);
//! a wrong key, a key on one end only, or none where the peer signs, drops the segments and
//! counts them as Linux counts them (`TCPMD5Failure`, `TCPMD5NotFound`, `TCPMD5Unexpected`).

mod common;
use common::{deadline, pattern};

use linnet::stats::DropReason;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockOpt, SockType};
use linnet::{Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PORT: u16 = 179;

fn pair() -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        }));
    }
    let cfg = LinkConfig {
        delay: Duration::from_millis(5),
        ..LinkConfig::default()
    };
    sim.connect(
        0,
        1,
        cfg,
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    sim
}

/// Listener on stack 1 with `key` for A (if any); client on stack 0 with `key` for B (if
/// any), connecting. Returns (listener, client).
fn start(sim: &mut Sim, server_key: Option<&[u8]>, client_key: Option<&[u8]>) -> (SockId, SockId) {
    let now = sim.now();
    let s = sim.stack(1);
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
        .unwrap();
    if let Some(k) = server_key {
        s.setsockopt(l, SockOpt::md5sig(A, 32, k).unwrap(), now)
            .unwrap();
    }
    s.listen(l, 8).unwrap();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    if let Some(k) = client_key {
        sim.stack(0)
            .setsockopt(c, SockOpt::md5sig(B, 32, k).unwrap(), now)
            .unwrap();
    }
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, PORT), now),
        Err(Errno::EINPROGRESS)
    );
    (l, c)
}

const DONTWAIT: MsgFlags = MsgFlags {
    peek: false,
    dontwait: true,
};

#[test]
fn same_key_connects_and_carries_data_signed() {
    let mut sim = pair();
    let key = b"a shared secret of the BGP session";
    let (l, c) = start(&mut sim, Some(key), Some(key));
    let mut server = None;
    let until = deadline(&sim, 10);
    assert!(sim.run_until_cond(until, |sim| {
        if server.is_none() {
            server = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    }));
    let s = server.unwrap();
    // Enough data for many full segments both ways: each is signed and checked.
    let data = pattern(200_000, 7);
    let mut sent = 0;
    let mut got = Vec::new();
    let mut buf = vec![0u8; 65536];
    let until = deadline(&sim, 30);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if sent < data.len() {
            if let Ok(n) = sim.stack(0).send(c, &data[sent..], now) {
                sent += n;
            }
        }
        while let Ok(n) = sim.stack(1).recv(s, &mut buf, DONTWAIT, now) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    assert!(
        got == data,
        "received {} of {} bytes",
        got.len(),
        data.len()
    );
    // Segments fit the MTU with the option: the MSS in use leaves it room.
    let info = sim.stack(0).tcp_info(c).unwrap();
    assert_eq!(info.mss, 1460 - 12 - 20);
    for n in [0, 1] {
        let t = sim.stack(n).snmp().tcp;
        assert_eq!(
            (t.md5_failure, t.md5_not_found, t.md5_unexpected),
            (0, 0, 0),
            "stack {n}"
        );
    }
}

/// Run until `secs` pass; the client must never be established.
fn never_connects(sim: &mut Sim, l: SockId, c: SockId, secs: u64) {
    let until = deadline(sim, secs);
    let connected = sim.run_until_cond(until, |sim| {
        sim.stack(1).accept(l).is_ok() || sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(!connected, "a connection opened across mismatched keys");
}

#[test]
fn wrong_key_is_dropped_and_counted_as_failure() {
    let mut sim = pair();
    let (l, c) = start(&mut sim, Some(b"right"), Some(b"wrong"));
    never_connects(&mut sim, l, c, 5);
    let t = sim.stack(1).snmp().tcp;
    // The SYN and its retransmissions.
    assert!(t.md5_failure >= 2, "TCPMD5Failure {}", t.md5_failure);
    assert_eq!(
        sim.stack(1).drops().get(DropReason::TcpMd5Failure),
        t.md5_failure
    );
    // Nothing answered them: no SYN-ACK, no RST.
    assert_eq!(sim.stack(1).snmp().tcp.out_rsts, 0);
}

#[test]
fn unsigned_segments_to_a_keyed_listener_are_not_found() {
    let mut sim = pair();
    let (l, c) = start(&mut sim, Some(b"secret"), None);
    never_connects(&mut sim, l, c, 5);
    let t = sim.stack(1).snmp().tcp;
    assert!(t.md5_not_found >= 2, "TCPMD5NotFound {}", t.md5_not_found);
    assert_eq!(t.md5_failure, 0);
}

#[test]
fn signed_segments_to_a_keyless_listener_are_unexpected() {
    let mut sim = pair();
    let (l, c) = start(&mut sim, None, Some(b"secret"));
    never_connects(&mut sim, l, c, 5);
    let t = sim.stack(1).snmp().tcp;
    assert!(
        t.md5_unexpected >= 2,
        "TCPMD5Unexpected {}",
        t.md5_unexpected
    );
}

#[test]
fn a_prefix_key_covers_its_network() {
    let mut sim = pair();
    let now = sim.now();
    let (l, c) = start(&mut sim, None, Some(b"net key"));
    // The listener learns a key for the client's whole /24 after the fact.
    sim.stack(1)
        .setsockopt(
            l,
            SockOpt::md5sig(Ipv4Addr::new(192, 0, 2, 0), 24, b"net key").unwrap(),
            now,
        )
        .unwrap();
    let until = deadline(&sim, 10);
    let mut accepted = false;
    assert!(sim.run_until_cond(until, |sim| {
        accepted |= sim.stack(1).accept(l).is_ok();
        accepted && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    }));
}
