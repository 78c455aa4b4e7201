//! TCP Fast Open between two Linnet stacks under virtual time: the first connection gets a
//! cookie, the next carries its request in the SYN and is answered one round trip sooner; a
//! stale cookie falls back to the handshake without losing data; a server without Fast Open
//! ignores it; a lost SYN-ACK is recovered with the data delivered once.

mod common;
use common::pattern;

use linnet::transport::tcp::fastopen::FastOpenKeys;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{MsgFlags, SockId, SockOpt, SockType};
use linnet::{Stack, StackConfig};
use linnet_tools::iptables::Iptables;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PORT: u16 = 7000;
/// One-way delay of the link: the round trip is twice this.
const DELAY: Duration = Duration::from_millis(10);

/// Client stack 0 at A, server stack 1 at B, `tcp_fastopen` set on each.
fn pair(client_tfo: u32, server_tfo: u32) -> Sim {
    let mut sim = Sim::new();
    for (seed, tfo) in [(1, client_tfo), (2, server_tfo)] {
        let mut c = StackConfig {
            seed,
            ..StackConfig::default()
        };
        c.tcp.fastopen = tfo;
        sim.add_stack(Stack::new(c));
    }
    let cfg = LinkConfig {
        delay: DELAY,
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

fn listener(sim: &mut Sim, qlen: Option<u32>) -> SockId {
    let now = sim.now();
    let s = sim.stack(1);
    let l = s.socket(SockType::Stream).unwrap();
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
        .unwrap();
    s.listen(l, 64).unwrap();
    if let Some(q) = qlen {
        s.setsockopt(l, SockOpt::FastOpen(q), now).unwrap();
    }
    l
}

const DONTWAIT: MsgFlags = MsgFlags {
    peek: false,
    dontwait: true,
};

/// What one request/response exchange looked like from the client.
struct Exchange {
    /// When the server application first had the request (since the client's first call).
    request_at: Duration,
    /// When the client had the whole response.
    response_at: Duration,
    /// The server's socket.
    server: SockId,
    /// The client's socket.
    client: SockId,
}

/// The client sends `req` (with `send_fastopen` when `tfo`, else connect then send); the
/// server accepts, reads it all and answers with `resp_len` bytes. Bounded in virtual time.
fn exchange(sim: &mut Sim, l: SockId, tfo: bool, req: &[u8], resp_len: usize) -> Exchange {
    let t0 = sim.now();
    let dst = SocketAddrV4::new(B, PORT);
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    let mut sent = 0;
    if tfo {
        match sim.stack(0).send_fastopen(c, req, Some(dst), t0) {
            Ok(n) => sent = n,
            Err(Errno::EINPROGRESS) => {}
            Err(e) => panic!("send_fastopen: {e:?}"),
        }
    } else {
        assert_eq!(sim.stack(0).connect(c, dst, t0), Err(Errno::EINPROGRESS));
    }
    let resp = pattern(resp_len, 9);
    let mut server = None;
    let mut got = Vec::new();
    let mut request_at = None;
    let mut answered = false;
    let mut back = Vec::new();
    let mut buf = vec![0u8; 65536];
    let until = t0 + Duration::from_secs(20);
    let done = sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if sent < req.len() && sim.stack(0).tcp_state(c) == Some(TcpState::Established) {
            sent += sim.stack(0).send(c, &req[sent..], now).unwrap_or(0);
        }
        if server.is_none() {
            if let Ok((s, _)) = sim.stack(1).accept(l) {
                server = Some(s);
                if req.is_empty() {
                    request_at = Some(now.saturating_since(t0));
                }
            }
        }
        if let Some(s) = server {
            while let Ok(n) = sim.stack(1).recv(s, &mut buf, DONTWAIT, now) {
                if n == 0 {
                    break;
                }
                if request_at.is_none() {
                    request_at = Some(now.saturating_since(t0));
                }
                got.extend_from_slice(&buf[..n]);
            }
            if !answered && got.len() == req.len() {
                assert_eq!(sim.stack(1).send(s, &resp, now), Ok(resp.len()));
                answered = true;
            }
        }
        while let Ok(n) = sim.stack(0).recv(c, &mut buf, DONTWAIT, now) {
            if n == 0 {
                break;
            }
            back.extend_from_slice(&buf[..n]);
        }
        back.len() == resp.len() && answered
    });
    assert!(done, "exchange did not finish");
    assert_eq!(got, req, "the request arrives once, in order");
    assert_eq!(back, resp);
    Exchange {
        request_at: request_at.unwrap(),
        response_at: sim.now().saturating_since(t0),
        server: server.unwrap(),
        client: c,
    }
}

fn close_both(sim: &mut Sim, x: &Exchange) {
    let now = sim.now();
    sim.stack(0).close(x.client, now).unwrap();
    sim.stack(1).close(x.server, now).unwrap();
    sim.advance(Duration::from_millis(200));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The first connection asks for a cookie; the second carries its request in the SYN: the
/// server reads it before its handshake completes, half a round trip after the client
/// sent it, and the response is back one round trip sooner than with connect-then-send.
#[test]
fn cookie_then_data_in_syn_saves_one_round_trip() {
    let mut sim = pair(1, 3);
    let l = listener(&mut sim, Some(16));
    let req = pattern(300, 1);

    // (The first exchange also resolves the neighbours.) Responses fit one segment.
    let first = exchange(&mut sim, l, true, &req, 1000);
    let cookie = sim
        .stack(0)
        .tcp_fastopen_cache()
        .get(B)
        .and_then(|m| m.cookie);
    let keys = sim.stack(1).tcp_fastopen_keys();
    assert_eq!(
        cookie,
        Some(keys.cookie_gen(A, B)),
        "the server's cookie is cached"
    );
    assert!(!sim.stack(0).tcp_info(first.client).unwrap().syn_data);
    close_both(&mut sim, &first);

    let tfo = exchange(&mut sim, l, true, &req, 1000);
    assert!(sim.stack(0).tcp_info(tfo.client).unwrap().syn_data);
    assert!(sim.stack(1).tcp_info(tfo.server).unwrap().syn_data);
    close_both(&mut sim, &tfo);

    let plain = exchange(&mut sim, l, false, &req, 1000);
    close_both(&mut sim, &plain);

    let rtt = 2.0 * ms(DELAY);
    // Fast Open: the request arrives with the SYN (one way), the response one RTT after
    // the send. Connect-then-send: the request leaves after the handshake (1.5 RTT), the
    // response after 2 RTT.
    assert!(
        (ms(tfo.request_at) - rtt / 2.0).abs() < 1.0,
        "{:?}",
        tfo.request_at
    );
    assert!(
        (ms(plain.request_at) - 1.5 * rtt).abs() < 1.0,
        "{:?}",
        plain.request_at
    );
    assert!(
        (ms(tfo.response_at) - rtt).abs() < 1.0,
        "{:?}",
        tfo.response_at
    );
    let saved = ms(plain.response_at) - ms(tfo.response_at);
    assert!(
        (saved - rtt).abs() < 1.0,
        "saved {saved} ms, one RTT is {rtt} ms"
    );

    let (c, s) = (sim.stack(0).snmp().tcp, sim.stack(1).snmp().tcp);
    assert_eq!((c.fastopen_active, c.fastopen_active_fail), (1, 0));
    assert_eq!((s.fastopen_passive, s.fastopen_passive_fail), (1, 0));
    assert_eq!(s.fastopen_cookie_reqd, 1);
}

/// The server's key changed: the client's cookie is refused, the SYN-ACK acknowledges only
/// the SYN and brings the new cookie, the client sends the data again at once, and the
/// next connection uses the new cookie.
#[test]
fn stale_cookie_falls_back_to_the_handshake_and_the_data_is_resent() {
    let mut sim = pair(1, 3);
    let l = listener(&mut sim, Some(16));
    let req = pattern(1000, 2);
    let first = exchange(&mut sim, l, true, &[], 100);
    close_both(&mut sim, &first);
    let new = FastOpenKeys::parse("01234567-89abcdef-01234567-89abcdef").unwrap();
    sim.stack(1).set_tcp_fastopen_keys(new);

    let stale = exchange(&mut sim, l, true, &req, 100);
    assert!(!sim.stack(0).tcp_info(stale.client).unwrap().syn_data);
    assert!(!sim.stack(1).tcp_info(stale.server).unwrap().syn_data);
    let rtt = 2.0 * ms(DELAY);
    // Resent right after the SYN-ACK: no timeout, the request arrives after 1.5 RTT.
    assert!(
        (ms(stale.request_at) - 1.5 * rtt).abs() < 1.0,
        "{:?}",
        stale.request_at
    );
    close_both(&mut sim, &stale);
    let cached = sim
        .stack(0)
        .tcp_fastopen_cache()
        .get(B)
        .and_then(|m| m.cookie);
    assert_eq!(cached, Some(new.cookie_gen(A, B)));
    let (c, s) = (sim.stack(0).snmp().tcp, sim.stack(1).snmp().tcp);
    assert_eq!((c.fastopen_active, c.fastopen_active_fail), (0, 1));
    assert_eq!((s.fastopen_passive, s.fastopen_passive_fail), (0, 1));
    assert_eq!(c.timeouts, 0);

    let again = exchange(&mut sim, l, true, &req, 100);
    assert!((ms(again.request_at) - rtt / 2.0).abs() < 1.0);
    assert_eq!(sim.stack(1).snmp().tcp.fastopen_passive, 1);
}

/// A server with Fast Open off (the default `tcp_fastopen` = 1) answers a cookie request
/// with a plain SYN-ACK and takes no data from SYNs: a cookie-less client's data is sent
/// again after the SYN-ACK and arrives once.
#[test]
fn server_without_fastopen_ignores_it() {
    let mut sim = pair(1, 1);
    let l = listener(&mut sim, None);
    let req = pattern(500, 3);
    let x = exchange(&mut sim, l, true, &req, 100);
    close_both(&mut sim, &x);
    let m = *sim.stack(0).tcp_fastopen_cache().get(B).unwrap();
    assert_eq!(m.cookie, None);
    assert_eq!(m.try_exp, 1, "next request in the experimental form");
    assert_eq!(sim.stack(1).snmp().tcp.fastopen_passive, 0);

    // Cookie-less client (0x5): its SYN carries data the server does not take.
    let mut sim = pair(5, 1);
    let l = listener(&mut sim, None);
    let x = exchange(&mut sim, l, true, &req, 100);
    assert!(!sim.stack(0).tcp_info(x.client).unwrap().syn_data);
    assert_eq!(sim.stack(0).snmp().tcp.fastopen_active_fail, 1);
    assert_eq!(sim.stack(0).snmp().tcp.timeouts, 0);
}

/// The SYN-ACK of a Fast Open is lost: the server has already handed the request to the
/// application; the client's SYN is retransmitted (plain), the server answers it with the
/// SYN-ACK again, and the request is delivered exactly once.
#[test]
fn lost_syn_ack_is_recovered_and_data_delivered_once() {
    let mut sim = pair(1, 3);
    let l = listener(&mut sim, Some(16));
    let first = exchange(&mut sim, l, true, &[], 100);
    close_both(&mut sim, &first);
    let now = sim.now();
    let drop_synack = [
        "-A",
        "OUTPUT",
        "-p",
        "tcp",
        "--tcp-flags",
        "SYN,ACK",
        "SYN,ACK",
        "-j",
        "DROP",
    ];
    sim.stack(1).iptables(&drop_synack, now).unwrap();
    let req = pattern(800, 4);
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    let dst = SocketAddrV4::new(B, PORT);
    assert_eq!(sim.stack(0).send_fastopen(c, &req, Some(dst), now), Ok(800));
    // The server has the data after one way, though its SYN-ACK is gone.
    let mut srv = None;
    let mut buf = vec![0u8; 4096];
    let mut got = Vec::new();
    let until = now + Duration::from_millis(500);
    assert!(sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if srv.is_none() {
            srv = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        if let Some(s) = srv {
            if let Ok(n) = sim.stack(1).recv(s, &mut buf, DONTWAIT, now) {
                got.extend_from_slice(&buf[..n]);
            }
        }
        got.len() == req.len()
    }));
    let s = srv.unwrap();
    assert_eq!(sim.stack(1).tcp_state(s), Some(TcpState::SynReceived));
    let now = sim.now();
    sim.stack(1).iptables(&["-F", "OUTPUT"], now).unwrap();
    let until = now + Duration::from_secs(10);
    assert!(sim.run_until_cond(until, |sim| {
        sim.stack(0).tcp_state(c) == Some(TcpState::Established)
            && sim.stack(1).tcp_state(s) == Some(TcpState::Established)
    }));
    let now = sim.now();
    assert_eq!(sim.stack(1).send(s, b"reply", now), Ok(5));
    let mut back = Vec::new();
    let until = now + Duration::from_secs(5);
    assert!(sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if let Ok(n) = sim.stack(0).recv(c, &mut buf, DONTWAIT, now) {
            back.extend_from_slice(&buf[..n]);
        }
        back == b"reply"
    }));
    sim.advance(Duration::from_secs(2));
    let now = sim.now();
    assert_eq!(
        sim.stack(1).recv(s, &mut buf, DONTWAIT, now),
        Err(Errno::EAGAIN),
        "nothing delivered twice"
    );
    assert_eq!(got, req);
    // The SYN-ACK that finally arrived acknowledged the SYN's data.
    assert!(sim.stack(0).tcp_info(c).unwrap().syn_data);
    assert_eq!(sim.stack(0).tcp_info(c).unwrap().send_q, 0);
}

/// Large Fast Open data: only one segment's worth goes in the SYN, the rest follows the
/// handshake; everything arrives in order.
#[test]
fn request_larger_than_a_segment() {
    let mut sim = pair(1, 3);
    let l = listener(&mut sim, Some(16));
    let first = exchange(&mut sim, l, true, &[], 10);
    close_both(&mut sim, &first);
    let req = pattern(100_000, 5);
    let x = exchange(&mut sim, l, true, &req, 10);
    assert!(sim.stack(0).tcp_info(x.client).unwrap().syn_data);
}
