//! The zero-copy in-order receive queue (Linux: skbs on `sk_receive_queue`, copied once in
//! `tcp_recvmsg`): the fast path queues received buffers themselves, everything else goes
//! through the ring, and a reader sees one byte-exact stream whatever the mix, with partial
//! reads of odd sizes, `MSG_PEEK`, a full window and an abortive close.

mod common;
use common::pattern;

use linnet::socket::{MsgFlags, Shutdown, SockId, SockOpt, SockOptName, SockOptValue, SockType};
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{Instant, Stack, StackConfig};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn pair(cfg: LinkConfig) -> Sim {
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
        cfg,
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    sim
}

fn deadline(sim: &Sim, secs: u64) -> Instant {
    sim.now() + Duration::from_secs(secs)
}

/// Connect stack 0 to stack 1 on `port`; returns (client, server).
fn establish(sim: &mut Sim, port: u16) -> (SockId, SockId) {
    let s = sim.stack(1);
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    s.listen(l, 4).unwrap();
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

/// What the receiving side saw of its two queues during a transfer.
#[derive(Default, Debug)]
struct Seen {
    /// Most bytes held in queued buffers at once.
    max_skb: usize,
    /// Times buffers were queued while the ring also held bytes (the ring's data after them).
    mixed: usize,
    /// Peeks checked against the read that followed.
    peeks: usize,
}

/// Send `data` from stack 0's `c` to stack 1's `s` and read it with odd-sized partial reads
/// and peeks (every read after a peek must return the peeked bytes first). The reader gets a
/// turn every millisecond of virtual time, reads at most four times a turn and skips every
/// `pause`-th turn, so queues build up. Returns what was read until EOF.
fn transfer_odd_reads(
    sim: &mut Sim,
    c: SockId,
    s: SockId,
    data: &[u8],
    pause: usize,
    secs: u64,
    seen: &mut Seen,
) -> Vec<u8> {
    const SIZES: [usize; 9] = [1, 7, 333, 1447, 1448, 1449, 4099, 9000, 65536];
    let mut sent = 0;
    let mut closed = false;
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 65536];
    let mut peeked = vec![0u8; 65536];
    let (mut round, mut k, mut eof) = (0usize, 0usize, false);
    let until = deadline(sim, secs);
    while !eof && sim.now() < until {
        let tick = sim.now() + Duration::from_millis(1);
        sim.run_until(tick);
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if sent == data.len() && !closed {
            sim.stack(0).shutdown(c, Shutdown::Write, now).unwrap();
            closed = true;
        }
        let (skb, ring) = sim.stack(1).tcp_rcv_queues(s).unwrap();
        seen.max_skb = seen.max_skb.max(skb);
        if skb > 0 && ring > 0 {
            seen.mixed += 1;
        }
        round += 1;
        if pause > 0 && round % pause == 0 {
            continue;
        }
        for _ in 0..4 {
            k += 1;
            let want = SIZES[k % SIZES.len()];
            let peek = MsgFlags {
                peek: true,
                dontwait: true,
            };
            let peek_n = if k % 4 == 0 {
                match sim.stack(1).recv(s, &mut peeked[..want], peek, now) {
                    Ok(n) => n,
                    Err(Errno::EAGAIN) => 0,
                    Err(e) => panic!("peek: {e}"),
                }
            } else {
                0
            };
            match sim
                .stack(1)
                .recv(s, &mut buf[..want], MsgFlags::default(), now)
            {
                Ok(0) => {
                    assert_eq!(peek_n, 0, "peeked bytes then EOF");
                    eof = true;
                    break;
                }
                Ok(n) => {
                    if peek_n > 0 {
                        assert!(n >= peek_n, "read {n} after peeking {peek_n}");
                        assert_eq!(&buf[..peek_n], &peeked[..peek_n], "peek differs from read");
                        seen.peeks += 1;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
                Err(Errno::EAGAIN) => {
                    assert_eq!(peek_n, 0, "peeked bytes then EAGAIN");
                    break;
                }
                Err(e) => panic!("recv: {e}"),
            }
        }
    }
    assert!(eof, "no EOF after {} of {} bytes", got.len(), data.len());
    got
}

#[test]
fn clean_link_queues_buffers_and_odd_reads_and_peeks_are_exact() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(1),
        queue_limit: 100_000,
        ..LinkConfig::default()
    });
    let (c, s) = establish(&mut sim, 5001);
    let data = pattern(3 << 20, 21);
    let mut seen = Seen::default();
    let got = transfer_odd_reads(&mut sim, c, s, &data, 5, 120, &mut seen);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "data corrupted or reordered");
    assert!(seen.max_skb > 0, "nothing was queued zero-copy: {seen:?}");
    assert!(seen.peeks > 50, "{seen:?}");
    assert_eq!(sim.stack(1).tcp_rcv_queues(s), Some((0, 0)));
}

#[test]
fn loss_reordering_and_jitter_mix_queued_buffers_and_the_ring_exactly() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(2),
        jitter: Duration::from_millis(1),
        loss: 0.02,
        duplicate: 0.01,
        reorder: 0.03,
        seed: 7,
        ..LinkConfig::default()
    });
    let (c, s) = establish(&mut sim, 5002);
    let data = pattern(2 << 20, 22);
    let mut seen = Seen::default();
    let got = transfer_odd_reads(&mut sim, c, s, &data, 3, 300, &mut seen);
    assert_eq!(got.len(), data.len());
    assert!(got == data, "data corrupted or reordered");
    let t = sim.stack(1).snmp().tcp;
    assert!(t.ofo_queue > 0, "no out-of-order data");
    assert!(t.hp_hits > 0, "no fast-path data");
    assert!(seen.max_skb > 0, "nothing was queued zero-copy: {seen:?}");
    assert!(
        seen.mixed > 0,
        "never both queued buffers and ring data: {seen:?}"
    );
    assert!(seen.peeks > 20, "{seen:?}");
}

#[test]
fn unread_data_fills_the_buffer_exactly_and_reads_out_intact() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(1),
        queue_limit: 100_000,
        ..LinkConfig::default()
    });
    let (c, s) = establish(&mut sim, 5003);
    let cap = match sim.stack(1).getsockopt(s, SockOptName::RcvBuf) {
        Ok(SockOptValue::Opt(SockOpt::RcvBuf(n))) => n,
        other => panic!("SO_RCVBUF: {other:?}"),
    };
    // More than the receive buffer, never read until the window is shut.
    let data = pattern(cap * 3, 23);
    let mut sent = 0;
    let until = deadline(&sim, 30);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        false
    });
    let (skb, ring) = sim.stack(1).tcp_rcv_queues(s).unwrap();
    assert!(skb > 0, "nothing queued zero-copy");
    assert!(
        skb + ring <= cap,
        "{skb} + {ring} bytes held in a {cap}-byte buffer"
    );
    // The window closed on a full buffer (less at most a segment of silly-window slack).
    assert!(skb + ring + 2 * 1448 >= cap, "{skb} + {ring} of {cap}");
    let info = sim.stack(1).sockets_info();
    let recv_q = info.iter().find(|i| i.id == s).unwrap().recv_q;
    assert_eq!(recv_q as usize, skb + ring);
    // Now read all of it, in odd pieces.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 3001];
    let until = deadline(&sim, 60);
    let ok = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        while let Ok(n) = sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() == data.len()
    });
    assert!(ok, "read {} of {}", got.len(), data.len());
    assert!(got == data, "data corrupted or reordered");
}

#[test]
fn close_with_queued_unread_buffers_resets_the_peer() {
    let mut sim = pair(LinkConfig {
        delay: Duration::from_millis(1),
        ..LinkConfig::default()
    });
    let (c, s) = establish(&mut sim, 5004);
    let now = sim.now();
    let data = pattern(20_000, 24);
    assert_eq!(sim.stack(0).send(c, &data, now), Ok(data.len()));
    let until = deadline(&sim, 5);
    let ok = sim.run_until_cond(until, |sim| {
        sim.stack(1).tcp_rcv_queues(s) == Some((data.len(), 0))
    });
    assert!(ok, "queues: {:?}", sim.stack(1).tcp_rcv_queues(s));
    // A peek and a short read leave the rest queued.
    let mut buf = [0u8; 100];
    let peek = MsgFlags {
        peek: true,
        dontwait: true,
    };
    assert_eq!(sim.stack(1).recv(s, &mut buf, peek, now), Ok(100));
    assert_eq!(&buf[..], &data[..100]);
    assert_eq!(
        sim.stack(1)
            .recv(s, &mut buf[..10], MsgFlags::default(), now),
        Ok(10)
    );
    assert_eq!(&buf[..10], &data[..10]);
    assert_eq!(sim.stack(1).recv(s, &mut buf, peek, now), Ok(100));
    assert_eq!(&buf[..], &data[10..110]);
    let idle = sim.stack(1).pool_mut().idle();
    let now = sim.now();
    sim.stack(1).close(s, now).unwrap();
    assert!(
        sim.stack(1).pool_mut().idle() > idle,
        "queued buffers not given back to the pool"
    );
    assert_eq!(sim.stack(1).snmp().tcp.abort_on_data, 1);
    let until = deadline(&sim, 5);
    let ok = sim.run_until_cond(until, |sim| {
        sim.stack(0).tcp_state(c) == Some(TcpState::Closed)
    });
    assert!(ok, "the peer was not reset");
    let now = sim.now();
    assert_eq!(
        sim.stack(0).recv(c, &mut buf, MsgFlags::default(), now),
        Err(Errno::ECONNRESET)
    );
}
