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
pub fn connect_retry(
    handle: &linnet::runtime::Handle,
    target: std::net::SocketAddrV4,
) -> linnet::api::TcpStream {
    use std::time::Duration;
    for _ in 0..50 {
        match linnet::api::TcpStream::connect_timeout(handle, target, Some(Duration::from_secs(2)))
        {
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
    mac: linnet::wire::EthernetAddress,
    peer_mac: linnet::wire::EthernetAddress,
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
pub fn deadline(sim: &linnet::sim::Sim, secs: u64) -> linnet::Instant {
    sim.now() + std::time::Duration::from_secs(secs)
}

/// A TCP listener on stack `n`, port `port`, with `backlog`.
pub fn listen(
    sim: &mut linnet::sim::Sim,
    n: usize,
    port: u16,
    backlog: u32,
) -> linnet::socket::SockId {
    let s = sim.stack(n);
    let l = s.socket(linnet::socket::SockType::Stream).unwrap();
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
    sim: &mut linnet::sim::Sim,
    l: linnet::socket::SockId,
    dst: std::net::SocketAddrV4,
) -> (linnet::socket::SockId, linnet::socket::SockId) {
    let now = sim.now();
    let c = sim
        .stack(0)
        .socket(linnet::socket::SockType::Stream)
        .unwrap();
    assert_eq!(
        sim.stack(0).connect(c, dst, now),
        Err(linnet::errno::Errno::EINPROGRESS)
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
