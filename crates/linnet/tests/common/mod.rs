//! Helpers shared by the integration tests (each test file includes this with `mod common;`
//! and uses what it needs).
#![allow(dead_code)]

pub mod linux;

/// `len` pseudo-random bytes (xorshift from `seed`): a transfer that arrives shifted,
/// truncated or out of order does not compare equal.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
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

/// Connect a Linnet stream to `target`, retrying for up to about 5 s while the Linux
/// listener (started in another process) comes up.
pub fn connect_retry(handle: &linnet::Handle, target: std::net::SocketAddrV4) -> linnet::TcpStream {
    use std::time::Duration;
    for _ in 0..50 {
        match linnet::TcpStream::connect_timeout(handle, target, Some(Duration::from_secs(2))) {
            Ok(c) => return c,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    panic!("could not connect to {target}");
}

/// An Ethernet frame from `peer_mac` to `mac` carrying `repr` with `payload` from `src` to
/// `dst` in an IPv4 header with DF, TTL 64 and `tos` (the ECN bits included): what the
/// forged-segment tests inject into a stack. `repr.payload_len` is set from `payload`.
pub fn forge_tcp_frame(
    mac: linnet::EthernetAddress,
    peer_mac: linnet::EthernetAddress,
    src: std::net::Ipv4Addr,
    dst: std::net::Ipv4Addr,
    tos: u8,
    repr: &mut linnet::wire::tcp::TcpRepr,
    payload: &[u8],
) -> Vec<u8> {
    use linnet::wire::ethernet::HEADER_LEN as ETH_LEN;
    use linnet::wire::{EtherType, EthernetFrame, IpProtocol, Ipv4Repr};
    repr.payload_len = payload.len();
    let tcp_len = repr.header_len() + payload.len();
    let mut frame = vec![0u8; ETH_LEN + 20 + tcp_len];
    {
        let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
        eth.set_dst_addr(mac);
        eth.set_src_addr(peer_mac);
        eth.set_ethertype(EtherType::IPV4);
    }
    Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::TCP,
        payload_len: tcp_len,
        ttl: 64,
        tos,
        ident: 1,
        dont_frag: true,
    }
    .emit(&mut frame[ETH_LEN..]);
    let tcp = &mut frame[ETH_LEN + 20..];
    tcp[repr.header_len()..].copy_from_slice(payload);
    repr.emit_segment(tcp, src, dst);
    frame
}

/// `secs` seconds from the simulation's now.
pub fn deadline(sim: &linnet::Sim, secs: u64) -> linnet::Instant {
    sim.now() + std::time::Duration::from_secs(secs)
}

/// A TCP listener on stack `n`, port `port`, with `backlog`.
pub fn listen(sim: &mut linnet::Sim, n: usize, port: u16, backlog: u32) -> linnet::SockId {
    let s = sim.stack(n);
    let l = s.socket(linnet::SockType::Stream).unwrap();
    s.bind(
        l,
        std::net::SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, port),
    )
    .unwrap();
    s.listen(l, backlog).unwrap();
    l
}

/// Connect stack 0 to `dst` and accept on stack 1's listener `l`; returns (client, server).
pub fn establish(
    sim: &mut linnet::Sim,
    l: linnet::SockId,
    dst: std::net::SocketAddrV4,
) -> (linnet::SockId, linnet::SockId) {
    let now = sim.now();
    let c = sim.stack(0).socket(linnet::SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(0).connect(c, dst, now),
        Err(linnet::Errno::EINPROGRESS)
    );
    let mut server = None;
    let until = deadline(sim, 30);
    let ok = sim.run_until_cond(until, |sim| {
        if server.is_none() {
            if let Ok((s, _)) = sim.stack(1).accept(l) {
                server = Some(s);
            }
        }
        server.is_some()
            && sim.stack(0).tcp_state(c) == Some(linnet::transport::tcp::TcpState::Established)
    });
    assert!(ok, "handshake did not complete");
    (c, server.unwrap())
}

/// Send `data` from stack 0 and read it on stack 1 until EOF; `each` runs after every step.
/// Returns the seconds taken.
pub fn transfer(
    sim: &mut linnet::Sim,
    c: linnet::SockId,
    s: linnet::SockId,
    data: &[u8],
    secs: u64,
    mut each: impl FnMut(&mut linnet::Sim),
) -> f64 {
    let start = sim.now();
    let (mut sent, mut closed, mut eof) = (0, false, false);
    let mut got = Vec::with_capacity(data.len());
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + std::time::Duration::from_secs(secs);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(linnet::Errno::EAGAIN) => break,
                Err(e) => panic!("send: {e}"),
            }
        }
        if sent == data.len() && !closed {
            sim.stack(0)
                .shutdown(c, linnet::Shutdown::Write, now)
                .unwrap();
            closed = true;
        }
        loop {
            match sim
                .stack(1)
                .recv(s, &mut buf, linnet::MsgFlags::default(), now)
            {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(linnet::Errno::EAGAIN) => break,
                Err(e) => panic!("recv: {e}"),
            }
        }
        each(sim);
        eof
    });
    assert!(eof, "no EOF after {} of {} bytes", got.len(), data.len());
    assert!(got == data, "data corrupted");
    sim.now().saturating_since(start).as_secs_f64()
}

/// Two stacks (seeds 1 and 2) joined by a link with `cfg`, A at 192.0.2.1/24 and B at
/// 192.0.2.2/24; returns the simulation and A's and B's interface indexes.
pub fn sim_pair(cfg: linnet::LinkConfig) -> (linnet::Sim, u32, u32) {
    let mut sim = linnet::Sim::new();
    for seed in [1, 2] {
        sim.add_stack(linnet::Stack::new(linnet::StackConfig {
            seed,
            ..linnet::StackConfig::default()
        }));
    }
    let (ia, ib) = sim.connect(
        0,
        1,
        cfg,
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    (sim, ia, ib)
}

/// A's global IPv6 address in [`sim_pair6`].
pub fn ga() -> linnet::wire::ipv6::Ipv6Cidr {
    "2001:db8::1/64".parse().unwrap()
}

/// B's global IPv6 address in [`sim_pair6`].
pub fn gb() -> linnet::wire::ipv6::Ipv6Cidr {
    "2001:db8::2/64".parse().unwrap()
}

/// [`sim_pair`] over a 5 ms link, dual-stack: [`ga`] added on A and [`gb`] on B (DAD
/// started, not done).
pub fn sim_pair6() -> (linnet::Sim, u32, u32) {
    let (mut sim, ia, ib) = sim_pair(linnet::LinkConfig {
        delay: std::time::Duration::from_millis(5),
        ..linnet::LinkConfig::default()
    });
    let now = sim.now();
    sim.stack(0).ipv6_addr_add(ia, ga(), false, now).unwrap();
    sim.stack(1).ipv6_addr_add(ib, gb(), false, now).unwrap();
    (sim, ia, ib)
}
