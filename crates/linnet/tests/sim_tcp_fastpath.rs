//! TCP header prediction (the established fast path, Linux's `tcp_rcv_established`) under
//! virtual time: a clean bulk transfer goes almost entirely through the fast path, an
//! impaired one falls back to the full path whenever the prediction fails, and both deliver
//! every byte in order.

use linnet::device::memlink::LinkConfig;
use linnet::errno::Errno;
use linnet::sim::Sim;
use linnet::socket::{MsgFlags, Shutdown, SockId, SockType};
use linnet::transport::tcp::TcpState;
use linnet::{Instant, Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn pair_with(cfg: LinkConfig, tweak: impl Fn(&mut StackConfig)) -> Sim {
    let mut sim = Sim::new();
    for seed in [1, 2] {
        let mut c = StackConfig {
            seed,
            ..StackConfig::default()
        };
        tweak(&mut c);
        sim.add_stack(Stack::new(c));
    }
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

fn pair(cfg: LinkConfig) -> Sim {
    pair_with(cfg, |_| {})
}

fn deadline(sim: &Sim, secs: u64) -> Instant {
    sim.now() + Duration::from_secs(secs)
}

fn listen(sim: &mut Sim, n: usize, port: u16, backlog: u32) -> SockId {
    let s = sim.stack(n);
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    s.listen(l, backlog).unwrap();
    l
}

/// Connect stack 0 to B:port and accept on stack 1; returns (client, server).
fn establish(sim: &mut Sim, l: SockId, port: u16) -> (SockId, SockId) {
    let now = sim.now();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, SocketAddrV4::new(B, port), now),
        Err(Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = deadline(sim, 30);
    let ok = sim.run_until_cond(until, |sim| {
        if server.is_none() {
            if let Ok((s, _)) = sim.stack(1).accept(l) {
                server = Some(s);
            }
        }
        server.is_some() && sim.stack(0).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(ok, "handshake did not complete");
    (c, server.unwrap())
}

/// Pseudo-random bytes.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Send `data` from (stack a, socket sa) to (stack b, socket sb), closing the sender at the
/// end; returns what the receiver read until EOF.
fn transfer(
    sim: &mut Sim,
    a: usize,
    sa: SockId,
    b: usize,
    sb: SockId,
    data: &[u8],
    secs: u64,
) -> Vec<u8> {
    let mut sent = 0;
    let mut closed = false;
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 65536];
    let mut eof = false;
    let until = deadline(sim, secs);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(a).send(sa, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if sent == data.len() && !closed {
            sim.stack(a).shutdown(sa, Shutdown::Write, now).unwrap();
            closed = true;
        }
        loop {
            match sim.stack(b).recv(sb, &mut buf, MsgFlags::default(), now) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        eof
    });
    assert!(eof, "no EOF after {} of {} bytes", got.len(), data.len());
    got
}

/// Data segments and pure ACKs that reached a stack, by path.
fn hp(sim: &mut Sim, n: usize) -> (u64, u64, u64) {
    let t = sim.stack(n).snmp().tcp;
    (t.hp_hits, t.hp_acks, t.in_segs)
}

#[test]
fn clean_bulk_transfer_takes_the_fast_path() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(1),
        ..LinkConfig::default()
    });
    let l = listen(&mut sim, 1, 5001, 16);
    let (c, s) = establish(&mut sim, l, 5001);
    let (h0, _, in0) = hp(&mut sim, 1);
    assert_eq!(h0, 0, "no data yet");
    let data = pattern(4 << 20, 7);
    let got = transfer(&mut sim, 0, c, 1, s, &data, 60);
    assert!(got == data, "data corrupted or reordered");
    let (hits, _, in_segs) = hp(&mut sim, 1);
    let data_segs = data.len() as u64 / 1448;
    // Every in-order full segment but the odd one (window edges, the FIN) is predicted.
    assert!(
        hits * 100 >= data_segs * 95,
        "receiver: {hits} fast-path segments of about {data_segs} ({} segments in)",
        in_segs - in0
    );
    let (_, acks, sender_in) = hp(&mut sim, 0);
    assert!(
        acks * 100 >= sender_in * 80,
        "sender: only {acks} of {sender_in} ACKs took the fast path"
    );
}

#[test]
fn impaired_transfer_falls_back_to_the_full_path_and_stays_correct() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(2),
        jitter: Duration::from_millis(1),
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.02,
        seed: 99,
        ..LinkConfig::default()
    });
    let l = listen(&mut sim, 1, 5001, 16);
    let (c, s) = establish(&mut sim, l, 5001);
    let data = pattern(2 << 20, 11);
    let got = transfer(&mut sim, 0, c, 1, s, &data, 300);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "data corrupted or reordered");
    let (hits, _, _) = hp(&mut sim, 1);
    let t = sim.stack(1).snmp().tcp;
    let data_segs = data.len() as u64 / 1448;
    // Out-of-order arrivals, duplicates and recovery all went the full way...
    assert!(
        t.ofo_queue > 0,
        "the impairments produced no out-of-order data"
    );
    assert!(
        hits < data_segs,
        "{hits} fast-path segments of {data_segs}: no fallback"
    );
    // ...and between the gaps the fast path still carried some of it (jitter reorders
    // often here, so most segments find data out of order and take the full path).
    assert!(
        hits * 10 > data_segs,
        "{hits} fast-path segments of {data_segs}"
    );
}
