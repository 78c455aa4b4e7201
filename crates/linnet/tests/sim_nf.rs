//! Netfilter under virtual time: LAN host H —link1— router R —link2— server S.
//! H: 192.0.2.2/24 (default gateway R). R: 192.0.2.1/24 on eth0, 198.51.100.1/24 on eth1,
//! forwarding. S: 198.51.100.2/24, with a route back to the LAN only when asked (so that
//! without NAT its answers cannot reach H).
//!
//! Filter DROP/REJECT, ESTABLISHED allowed while NEW dropped, MASQUERADE with the server
//! seeing only the router, DNAT port forwarding, ICMP errors translated back through NAT,
//! the conntrack table bound, and timeouts.

use linnet::netfilter::conntrack::TcpCtState;
use linnet::socket::{MsgFlags, SockId, SockOptName, SockOptValue, SockType};
use linnet::stats::DropReason;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::Ipv4Addr;
use linnet::LinkConfig;
use linnet::Sim;
use linnet::{Stack, StackConfig};
use linnet_tools::iptables::Iptables;
use std::net::SocketAddrV4;
use std::time::Duration;

const H: usize = 0;
const R: usize = 1;
const S: usize = 2;
const H_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const R_LAN: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const R_WAN: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
const S_ADDR: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);

fn net(route_back: bool) -> Sim {
    let mut sim = Sim::new();
    for seed in [11, 12, 13] {
        sim.add_stack(Stack::new(StackConfig {
            seed,
            ip_forward: seed == 12,
            ..StackConfig::default()
        }));
    }
    let link = LinkConfig {
        delay: Duration::from_millis(1),
        ..LinkConfig::default()
    };
    let p = |s: &str| s.parse().unwrap();
    sim.connect(H, R, link.clone(), p("192.0.2.2/24"), p("192.0.2.1/24"));
    sim.connect(R, S, link, p("198.51.100.1/24"), p("198.51.100.2/24"));
    sim.stack(H).add_default_gateway(R_LAN).unwrap();
    if route_back {
        sim.stack(S).add_default_gateway(R_WAN).unwrap();
    }
    sim.advance(Duration::from_millis(100));
    sim
}

fn ipt(sim: &mut Sim, s: usize, line: &str) {
    let words: Vec<&str> = line.split_whitespace().collect();
    let now = sim.now();
    sim.stack(s)
        .iptables(&words, now)
        .unwrap_or_else(|e| panic!("iptables {line}: {e}"));
}

fn ipt_out(sim: &mut Sim, s: usize, line: &str) -> String {
    let words: Vec<&str> = line.split_whitespace().collect();
    let now = sim.now();
    sim.stack(s).iptables(&words, now).unwrap()
}

fn ct_list(sim: &mut Sim, s: usize) -> Vec<linnet::netfilter::conntrack::CtEntryInfo> {
    let now = sim.now();
    sim.stack(s).conntrack_list(now)
}

fn listen(sim: &mut Sim, s: usize, port: u16) -> SockId {
    let st = sim.stack(s);
    let l = st.socket(SockType::Stream).unwrap();
    st.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port))
        .unwrap();
    st.listen(l, 8).unwrap();
    l
}

/// Start a connection from stack `from` to `dst`.
fn connect(sim: &mut Sim, from: usize, dst: SocketAddrV4) -> SockId {
    let now = sim.now();
    let c = sim.stack(from).socket(SockType::Stream).unwrap();
    assert_eq!(
        sim.stack(from).connect(c, dst, now),
        Err(Errno::EINPROGRESS)
    );
    c
}

/// Run until `c` on `from` is established and `l` on `to` has accepted it; the accepted
/// socket and the peer it sees.
fn establish(
    sim: &mut Sim,
    from: usize,
    c: SockId,
    to: usize,
    l: SockId,
) -> (SockId, SocketAddrV4) {
    let mut acc = None;
    let until = sim.now() + Duration::from_secs(5);
    let ok = sim.run_until_cond(until, |sim| {
        if acc.is_none() {
            acc = sim.stack(to).accept(l).ok();
        }
        acc.is_some() && sim.stack(from).tcp_state(c) == Some(TcpState::Established)
    });
    assert!(ok, "connection established");
    acc.unwrap()
}

/// Send `msg` from (`a`, `sa`) and read it at (`b`, `sb`) within a second.
fn transfer(sim: &mut Sim, a: usize, sa: SockId, b: usize, sb: SockId, msg: &[u8]) -> bool {
    let now = sim.now();
    assert_eq!(sim.stack(a).send(sa, msg, now), Ok(msg.len()));
    let mut got = Vec::new();
    let until = sim.now() + Duration::from_secs(1);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        let mut buf = [0u8; 2048];
        while let Ok(n) = sim.stack(b).recv(sb, &mut buf, MsgFlags::default(), now) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got.len() >= msg.len()
    });
    got == msg
}

fn connect_result(sim: &mut Sim, from: usize, c: SockId, dst: SocketAddrV4) -> Result<(), Errno> {
    let now = sim.now();
    sim.stack(from).connect(c, dst, now)
}

#[test]
fn drop_on_input_starves_new_connections_while_established_ones_flow() {
    let mut sim = net(true);
    ipt(
        &mut sim,
        S,
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    );
    let l = listen(&mut sim, S, 22);
    let c1 = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 22));
    let (a1, peer) = establish(&mut sim, H, c1, S, l);
    assert_eq!(*peer.ip(), H_ADDR, "no NAT: S sees H");
    // Now refuse new connections to port 22, silently.
    ipt(
        &mut sim,
        S,
        "-A INPUT -p tcp --dport 22 -m conntrack --ctstate NEW -j DROP",
    );
    let c2 = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 22));
    sim.advance(Duration::from_secs(4));
    assert_eq!(
        sim.stack(H).tcp_state(c2),
        Some(TcpState::SynSent),
        "no answer at all"
    );
    assert!(sim.stack(S).accept(l).is_err());
    // The established connection still works both ways.
    assert!(transfer(&mut sim, H, c1, S, a1, b"still here"));
    assert!(transfer(&mut sim, S, a1, H, c1, b"and back"));
    let rules = ipt_out(&mut sim, S, "-S INPUT -v");
    // The SYN and its retransmissions (1 s, 3 s) hit the DROP rule.
    assert!(
        rules.contains("--ctstate NEW -c 3 180 -j DROP\n"),
        "{rules}"
    );
    assert!(sim.stack(S).drops().get(DropReason::NetfilterDrop) >= 3);
    // Dropped SYNs leave no connection behind.
    let ct = ct_list(&mut sim, S);
    assert_eq!(ct.len(), 1, "{ct:?}");
    assert_eq!(ct[0].state, Some(TcpCtState::Established));
    assert!(ct[0].assured);
    assert!(
        (431_990..=432_000).contains(&ct[0].timeout),
        "5 days: {ct:?}"
    );
    // Policy DROP on INPUT with only ESTABLISHED accepted: ping gets nothing back.
    ipt(&mut sim, S, "-P INPUT DROP");
    let id = sim.stack(H).ping_open().unwrap();
    let now = sim.now();
    sim.stack(H).ping_send(id, S_ADDR, 1, 8, None, now).unwrap();
    sim.advance(Duration::from_secs(1));
    assert!(sim.stack(H).ping_recv(id).unwrap().is_none());
    assert!(transfer(
        &mut sim,
        H,
        c1,
        S,
        a1,
        b"policy drop spares established"
    ));
}

#[test]
fn reject_with_tcp_reset_refuses_the_connection() {
    let mut sim = net(true);
    let _l = listen(&mut sim, S, 23);
    ipt(
        &mut sim,
        S,
        "-A INPUT -p tcp --dport 23 -j REJECT --reject-with tcp-reset",
    );
    let dst = SocketAddrV4::new(S_ADDR, 23);
    let c = connect(&mut sim, H, dst);
    sim.advance(Duration::from_millis(50));
    assert_eq!(
        connect_result(&mut sim, H, c, dst),
        Err(Errno::ECONNREFUSED)
    );
    assert_eq!(sim.stack(S).snmp().tcp.out_rsts, 1);
    // The same from the router's FORWARD chain: the RST comes "from" S.
    ipt(
        &mut sim,
        R,
        "-A FORWARD -p tcp --dport 24 -j REJECT --reject-with tcp-reset",
    );
    let s_in = sim.stack(S).snmp().ip.in_receives;
    let dst = SocketAddrV4::new(S_ADDR, 24);
    let c = connect(&mut sim, H, dst);
    sim.advance(Duration::from_millis(50));
    assert_eq!(
        connect_result(&mut sim, H, c, dst),
        Err(Errno::ECONNREFUSED)
    );
    assert_eq!(sim.stack(R).snmp().tcp.out_rsts, 1);
    assert_eq!(
        sim.stack(S).snmp().ip.in_receives,
        s_in,
        "nothing reached S"
    );
    assert_eq!(
        sim.stack(S).snmp().tcp.in_segs,
        0,
        "REJECT answers before TCP sees it"
    );
    // REJECT's default, port unreachable, refuses a connected UDP socket.
    ipt(&mut sim, S, "-A INPUT -p udp -j REJECT");
    let u = sim.stack(H).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    sim.stack(H)
        .connect(u, SocketAddrV4::new(S_ADDR, 53), now)
        .unwrap();
    sim.stack(H).send(u, b"q", now).unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(
        sim.stack(H).getsockopt(u, SockOptName::Error),
        Ok(SockOptValue::Error(Some(libc::ECONNREFUSED)))
    );
}

#[test]
fn masquerade_hides_the_lan_behind_the_router() {
    let mut sim = net(false);
    // Without NAT S cannot answer H at all.
    let l = listen(&mut sim, S, 80);
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 80));
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.stack(H).tcp_state(c), Some(TcpState::SynSent));
    let now = sim.now();
    sim.stack(H).close(c, now).unwrap();
    let _ = sim.stack(S).accept(l);
    ipt(&mut sim, R, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 80));
    let (a, peer) = establish(&mut sim, H, c, S, l);
    assert_eq!(*peer.ip(), R_WAN, "S sees only the router's address");
    let local = sim.stack(H).getsockname(c).unwrap();
    assert_eq!(
        peer.port(),
        local.port(),
        "the port is kept when it is free"
    );
    let big: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    assert!(transfer(&mut sim, H, c, S, a, &big));
    assert!(transfer(&mut sim, S, a, H, c, b"hello, LAN"));
    let ct = ct_list(&mut sim, R);
    let e = ct
        .iter()
        .find(|e| e.orig.dport == 80 && e.orig.src == H_ADDR)
        .expect("tracked");
    assert_eq!((e.reply.src, e.reply.dst), (S_ADDR, R_WAN));
    assert_eq!(e.state, Some(TcpCtState::Established));
    // Ping is masqueraded too (the ICMP identifier plays the port).
    let id = sim.stack(H).ping_open().unwrap();
    let now = sim.now();
    sim.stack(H)
        .ping_send(id, S_ADDR, 1, 56, None, now)
        .unwrap();
    sim.advance(Duration::from_millis(100));
    let r = sim.stack(H).ping_recv(id).unwrap().expect("echo reply");
    assert_eq!(r.from, S_ADDR);
    // A second LAN connection from the same port would clash at R: it gets another port.
    let counted = ipt_out(&mut sim, R, "-t nat -nvL POSTROUTING");
    assert!(
        counted.contains("    2   "),
        "one packet per new connection: {counted}"
    );
}

#[test]
fn dnat_forwards_a_port_to_a_lan_server() {
    let mut sim = net(false);
    ipt(
        &mut sim,
        R,
        "-t nat -A PREROUTING -i eth1 -p tcp --dport 8080 -j DNAT --to-destination 192.0.2.2:80",
    );
    let l = listen(&mut sim, H, 80);
    let dst = SocketAddrV4::new(R_WAN, 8080);
    let c = connect(&mut sim, S, dst);
    let (a, peer) = establish(&mut sim, S, c, H, l);
    assert_eq!(*peer.ip(), S_ADDR, "H sees the real client");
    assert_eq!(
        sim.stack(S).getpeername(c).unwrap(),
        dst.into(),
        "S talks to R:8080"
    );
    assert!(transfer(&mut sim, S, c, H, a, b"GET / HTTP/1.0\r\n\r\n"));
    assert!(transfer(&mut sim, H, a, S, c, b"HTTP/1.0 200 OK\r\n\r\n"));
    // Other ports of R are R's own: closed, refused by R itself.
    let other = SocketAddrV4::new(R_WAN, 8081);
    let c2 = connect(&mut sim, S, other);
    sim.advance(Duration::from_millis(50));
    assert_eq!(
        connect_result(&mut sim, S, c2, other),
        Err(Errno::ECONNREFUSED)
    );
    let ct = ct_list(&mut sim, R);
    let e = ct.iter().find(|e| e.orig.dport == 8080).expect("tracked");
    assert_eq!((e.reply.src, e.reply.sport), (H_ADDR, 80));
}

#[test]
fn icmp_errors_are_translated_back_through_nat() {
    let mut sim = net(false);
    ipt(&mut sim, R, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    // H's UDP to a closed port of S: S answers port unreachable to R, R passes it on to H
    // with the quoted datagram turned back into what H sent, so H's socket learns of it.
    let u = sim.stack(H).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    sim.stack(H)
        .connect(u, SocketAddrV4::new(S_ADDR, 9), now)
        .unwrap();
    sim.stack(H).send(u, b"anyone?", now).unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(sim.stack(S).snmp().icmp.out_dest_unreachs, 1);
    assert_eq!(
        sim.stack(H).getsockopt(u, SockOptName::Error),
        Ok(SockOptValue::Error(Some(libc::ECONNREFUSED)))
    );
    assert_eq!(sim.stack(H).snmp().icmp.in_dest_unreachs, 1);
    let ct = ct_list(&mut sim, R);
    assert!(
        ct.iter().any(|e| e.orig.dport == 9 && e.reply.dst == R_WAN),
        "{ct:?}"
    );
    // A filter that accepts only ESTABLISHED,RELATED on H still lets the error in.
    ipt(
        &mut sim,
        H,
        "-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    );
    ipt(&mut sim, H, "-P INPUT DROP");
    let u2 = sim.stack(H).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    sim.stack(H)
        .connect(u2, SocketAddrV4::new(S_ADDR, 10), now)
        .unwrap();
    sim.stack(H).send(u2, b"again", now).unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(
        sim.stack(H).getsockopt(u2, SockOptName::Error),
        Ok(SockOptValue::Error(Some(libc::ECONNREFUSED))),
        "RELATED accepted"
    );
}

#[test]
fn the_conntrack_table_is_bounded() {
    let mut sim = net(false);
    ipt(&mut sim, R, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    sim.stack(R).netfilter_mut().conntrack_mut().max = 8;
    let u = sim.stack(H).socket(SockType::Dgram).unwrap();
    for port in 0..40u16 {
        let now = sim.now();
        sim.stack(H)
            .send_to(u, b"x", SocketAddrV4::new(S_ADDR, 1000 + port), now)
            .unwrap();
        sim.advance(Duration::from_millis(5));
    }
    let st = sim.stack(R).netfilter().conntrack().stats;
    assert!(sim.stack(R).netfilter().conntrack().len() <= 8);
    assert!(st.early_drop >= 32, "{st:?}");
    assert_eq!(st.new, 40, "{st:?}");
    // Every datagram went through (unanswered flows are evicted first, nothing dropped).
    assert_eq!(sim.stack(R).drops().get(DropReason::NfConntrackDrop), 0);
    assert_eq!(sim.stack(S).snmp().udp.no_ports, 40);
}

#[test]
fn connections_time_out_like_linux() {
    let mut sim = net(false);
    ipt(&mut sim, R, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    let s_sock = sim.stack(S).socket(SockType::Dgram).unwrap();
    sim.stack(S)
        .bind(s_sock, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53))
        .unwrap();
    let u = sim.stack(H).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    sim.stack(H)
        .send_to(u, b"q", SocketAddrV4::new(S_ADDR, 53), now)
        .unwrap();
    sim.advance(Duration::from_millis(20));
    let ct = ct_list(&mut sim, R);
    assert_eq!(ct.len(), 1);
    assert!(ct[0].unreplied);
    assert_eq!(ct[0].timeout, 29, "udp_timeout 30 s");
    // The answer makes it a stream: 120 s.
    let mut buf = [0u8; 16];
    let now = sim.now();
    let (_, from) = sim
        .stack(S)
        .recv_from(s_sock, &mut buf, MsgFlags::default(), now)
        .unwrap();
    assert_eq!(from.ip(), R_WAN);
    sim.stack(S).send_to(s_sock, b"a", from, now).unwrap();
    sim.advance(Duration::from_millis(20));
    let now = sim.now();
    let (n, back) = sim
        .stack(H)
        .recv_from(u, &mut buf, MsgFlags::default(), now)
        .unwrap();
    assert_eq!((n, back), (1, SocketAddrV4::new(S_ADDR, 53).into()));
    let ct = ct_list(&mut sim, R);
    assert!(!ct[0].unreplied);
    assert_eq!(ct[0].timeout, 119);
    sim.advance(Duration::from_secs(121));
    assert!(ct_list(&mut sim, R).is_empty(), "expired");
    // A TCP SYN with no answer lives 120 s (SYN_SENT)...
    ipt(&mut sim, S, "-A INPUT -p tcp --dport 81 -j DROP");
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 81));
    let _ = c;
    sim.advance(Duration::from_millis(10));
    let ct = ct_list(&mut sim, R);
    let e = ct.iter().find(|e| e.orig.dport == 81).expect("tracked");
    assert_eq!(e.state, Some(TcpCtState::SynSent));
    assert_eq!(e.timeout, 119);
    // ...one refused with a RST is CLOSE for 10 s.
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 82));
    sim.advance(Duration::from_millis(10));
    assert_eq!(
        connect_result(&mut sim, H, c, SocketAddrV4::new(S_ADDR, 82)),
        Err(Errno::ECONNREFUSED)
    );
    let ct = ct_list(&mut sim, R);
    let e = ct.iter().find(|e| e.orig.dport == 82).expect("tracked");
    assert_eq!((e.state, e.timeout), (Some(TcpCtState::Close), 9));
    sim.advance(Duration::from_secs(10));
    assert!(ct_list(&mut sim, R).iter().all(|e| e.orig.dport != 82));
}

#[test]
fn redirect_in_prerouting_and_output_and_log() {
    let mut sim = net(true);
    // A transparent proxy on R: H's web traffic to anywhere lands on R:3128.
    ipt(
        &mut sim,
        R,
        "-t nat -A PREROUTING -i eth0 -p tcp --dport 80 -j REDIRECT --to-ports 3128",
    );
    ipt(
        &mut sim,
        R,
        "-A INPUT -p tcp --dport 3128 -j LOG --log-prefix proxy:",
    );
    let proxy = listen(&mut sim, R, 3128);
    let _real = listen(&mut sim, S, 80);
    let dst = SocketAddrV4::new(S_ADDR, 80);
    let c = connect(&mut sim, H, dst);
    let (a, peer) = establish(&mut sim, H, c, R, proxy);
    assert_eq!(*peer.ip(), H_ADDR);
    assert_eq!(
        sim.stack(H).getpeername(c).unwrap(),
        dst.into(),
        "H believes it talks to S"
    );
    assert!(transfer(&mut sim, H, c, R, a, b"GET /"));
    assert!(transfer(&mut sim, R, a, H, c, b"proxied"));
    let log: Vec<String> = sim
        .stack(R)
        .netfilter()
        .log()
        .lines()
        .map(String::from)
        .collect();
    assert!(!log.is_empty());
    assert!(
        log[0].starts_with("proxy:IN=eth0 OUT= SRC=192.0.2.2 DST=192.0.2.1 LEN=60 ")
            && log[0].contains(" PROTO=TCP ")
            && log[0].contains(" DPT=3128 SYN"),
        "{log:?}"
    );
    // OUTPUT: S's own connections to 203.0.113.5:25 go to its local port 2525 instead,
    // re-routed through loopback.
    ipt(
        &mut sim,
        S,
        "-t nat -A OUTPUT -d 203.0.113.5 -p tcp --dport 25 -j REDIRECT --to-ports 2525",
    );
    let local = listen(&mut sim, S, 2525);
    let c = connect(
        &mut sim,
        S,
        SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 5), 25),
    );
    let (a, peer) = establish(&mut sim, S, c, S, local);
    assert!(peer.ip().is_loopback() || *peer.ip() == S_ADDR, "{peer}");
    assert!(transfer(&mut sim, S, c, S, a, b"HELO"));
    assert_eq!(
        sim.stack(R).snmp().ip.forw_datagrams,
        0,
        "nothing left S for R"
    );
}

#[test]
fn limit_caps_a_rule_and_filter_on_output() {
    let mut sim = net(true);
    // Accept at most 2 pings per second plus a burst of 3; drop the rest.
    ipt(&mut sim, S, "-A INPUT -p icmp --icmp-type echo-request -m limit --limit 2/sec --limit-burst 3 -j ACCEPT");
    ipt(
        &mut sim,
        S,
        "-A INPUT -p icmp --icmp-type echo-request -j DROP",
    );
    let id = sim.stack(H).ping_open().unwrap();
    for seq in 1..=10 {
        let now = sim.now();
        sim.stack(H)
            .ping_send(id, S_ADDR, seq, 8, None, now)
            .unwrap();
    }
    sim.advance(Duration::from_millis(200));
    let mut n = 0;
    while sim.stack(H).ping_recv(id).unwrap().is_some() {
        n += 1;
    }
    assert_eq!(n, 3, "the burst");
    // OUTPUT: H may not send to S's port 9 at all; the socket call says so.
    ipt(
        &mut sim,
        H,
        "-A OUTPUT -d 198.51.100.2 -p udp --dport 9 -j DROP",
    );
    let u = sim.stack(H).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    assert_eq!(
        sim.stack(H)
            .send_to(u, b"x", SocketAddrV4::new(S_ADDR, 9), now),
        Err(Errno::EPERM)
    );
    assert!(sim
        .stack(H)
        .send_to(u, b"x", SocketAddrV4::new(S_ADDR, 10), now)
        .is_ok());
}

#[test]
fn fragments_are_reassembled_for_conntrack_and_sent_on_refragmented() {
    let mut sim = net(false);
    ipt(&mut sim, R, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    let srv = sim.stack(S).socket(SockType::Dgram).unwrap();
    sim.stack(S)
        .bind(srv, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 53))
        .unwrap();
    let u = sim.stack(H).socket(SockType::Dgram).unwrap();
    let big: Vec<u8> = (0..4000u32).map(|i| (i % 253) as u8).collect();
    let now = sim.now();
    sim.stack(H)
        .send_to(u, &big, SocketAddrV4::new(S_ADDR, 53), now)
        .unwrap();
    sim.advance(Duration::from_millis(50));
    let mut buf = vec![0u8; 8192];
    let now = sim.now();
    let (n, from) = sim
        .stack(S)
        .recv_from(srv, &mut buf, MsgFlags::default(), now)
        .expect("the datagram arrived whole");
    assert_eq!(&buf[..n], &big[..]);
    assert_eq!(from.ip(), R_WAN, "translated after reassembly");
    let r = sim.stack(R).snmp().ip;
    assert!(r.reasm_oks >= 1 && r.frag_creates >= 3, "{r:?}");
    // The answer, as big, goes back the same way.
    sim.stack(S).send_to(srv, &big, from, now).unwrap();
    sim.advance(Duration::from_millis(50));
    let now = sim.now();
    let (n, back) = sim
        .stack(H)
        .recv_from(u, &mut buf, MsgFlags::default(), now)
        .expect("answer");
    assert_eq!((n, back), (big.len(), SocketAddrV4::new(S_ADDR, 53).into()));
}

#[test]
fn the_routers_own_icmp_error_about_a_dnat_packet_is_translated() {
    let mut sim = net(false);
    // Forward a port to a LAN address where nobody answers ARP.
    ipt(
        &mut sim,
        R,
        "-t nat -A PREROUTING -i eth1 -p udp --dport 5000 -j DNAT --to-destination 192.0.2.99",
    );
    let u = sim.stack(S).socket(SockType::Dgram).unwrap();
    let now = sim.now();
    sim.stack(S)
        .connect(u, SocketAddrV4::new(R_WAN, 5000), now)
        .unwrap();
    sim.stack(S).send(u, b"hello?", now).unwrap();
    sim.advance(Duration::from_secs(5));
    // R's host unreachable quoted 198.51.100.2 -> 192.0.2.99; on the way out it was turned
    // back into what S sent (-> 198.51.100.1:5000), so S's socket gets the error.
    assert_eq!(sim.stack(R).snmp().icmp.out_dest_unreachs, 1);
    assert_eq!(
        sim.stack(S).getsockopt(u, SockOptName::Error),
        Ok(SockOptValue::Error(Some(libc::EHOSTUNREACH)))
    );
}

#[test]
fn a_stateful_router_firewall() {
    let mut sim = net(true);
    // The classic: the LAN may go out, only answers come in.
    ipt(&mut sim, R, "-P FORWARD DROP");
    ipt(&mut sim, R, "-A FORWARD -i eth0 -o eth1 -j ACCEPT");
    ipt(
        &mut sim,
        R,
        "-A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT",
    );
    let ls = listen(&mut sim, S, 80);
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 80));
    let (a, _) = establish(&mut sim, H, c, S, ls);
    assert!(transfer(&mut sim, S, a, H, c, b"answers come in"));
    // S cannot open a connection to H.
    let lh = listen(&mut sim, H, 22);
    let c2 = connect(&mut sim, S, SocketAddrV4::new(H_ADDR, 22));
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.stack(S).tcp_state(c2), Some(TcpState::SynSent));
    assert!(sim.stack(H).accept(lh).is_err());
    let l = ipt_out(&mut sim, R, "-nvxL FORWARD");
    assert!(
        l.starts_with("Chain FORWARD (policy DROP 2 packets, 120 bytes)"),
        "{l}"
    );
    // Pings out work, the replies being ESTABLISHED.
    let id = sim.stack(H).ping_open().unwrap();
    let now = sim.now();
    sim.stack(H).ping_send(id, S_ADDR, 1, 8, None, now).unwrap();
    sim.advance(Duration::from_millis(100));
    assert!(sim.stack(H).ping_recv(id).unwrap().is_some());
}

#[test]
fn masqueraded_connections_go_with_their_device() {
    let mut sim = net(false);
    ipt(&mut sim, R, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    let l = listen(&mut sim, S, 80);
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 80));
    establish(&mut sim, H, c, S, l);
    // And a connection not masqueraded: R's own ping to H.
    let id = sim.stack(R).ping_open().unwrap();
    let now = sim.now();
    sim.stack(R).ping_send(id, H_ADDR, 1, 8, None, now).unwrap();
    sim.advance(Duration::from_millis(50));
    assert_eq!(ct_list(&mut sim, R).len(), 2);
    let eth1 = sim.stack(R).ifindex_by_name("eth1").unwrap();
    let now = sim.now();
    sim.stack(R).set_link_up(eth1, false, now).unwrap();
    let left = ct_list(&mut sim, R);
    assert_eq!(left.len(), 1, "only the masqueraded one went: {left:?}");
    assert_eq!(left[0].orig.proto, 1);
    // Removing the address does the same.
    sim.stack(R).set_link_up(eth1, true, now).unwrap();
    let c = connect(&mut sim, H, SocketAddrV4::new(S_ADDR, 80));
    establish(&mut sim, H, c, S, l);
    assert_eq!(ct_list(&mut sim, R).len(), 2);
    sim.stack(R).del_addr(eth1, R_WAN).unwrap();
    assert_eq!(ct_list(&mut sim, R).len(), 1);
}
