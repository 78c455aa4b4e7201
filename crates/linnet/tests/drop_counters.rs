//! Every drop reason moves the counter it belongs to (`DropReason::mibs`, one table), so
//! `netstat -s` agrees with the drop list: checked frame by frame over targeted bad input for
//! each receive-path reason and over random input.

use linnet::buf::PacketBuf;
use linnet::stats::{DropReason, Snmp};
use linnet::{EthernetAddress, Ipv4Addr};
use linnet::{Instant, Stack};
use linnet_tools::iptables::Iptables;
use linnet_tools::tc::Tc;
use proptest::prelude::*;
use std::collections::BTreeSet;
use std::time::Duration;

const MAC: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);
const PEER: [u8; 4] = [192, 0, 2, 1];
const ME: [u8; 4] = [192, 0, 2, 2];

struct Rig {
    s: Stack,
    i: u32,
    now: Instant,
    seen: BTreeSet<DropReason>,
}

impl Rig {
    fn new() -> Rig {
        let mut s = Stack::default();
        let i = s.add_interface("eth0", MAC, 1500);
        s.add_addr(i, "192.0.2.2/24".parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.set_link_up(i, true, Instant::ZERO).unwrap();
        // The peer is resolved, so replies leave at once.
        s.add_neighbour(
            i,
            Ipv4Addr::from(PEER),
            EthernetAddress([2, 0, 0, 0, 0, 1]),
            Instant::ZERO,
        )
        .unwrap();
        while let Some(b) = s.take_tx(i, Instant::ZERO) {
            s.recycle(b);
        }
        Rig {
            s,
            i,
            now: Instant::ZERO,
            seen: BTreeSet::new(),
        }
    }

    /// Run `f` and check that every drop it caused moved a mapped counter.
    fn step(&mut self, what: &str, f: impl FnOnce(&mut Stack, u32, Instant)) {
        let before: Snmp = self.s.snmp();
        f(&mut self.s, self.i, self.now);
        self.now += Duration::from_millis(1);
        self.s.poll(self.now);
        while let Some(b) = self.s.take_tx(self.i, self.now) {
            self.s.recycle(b);
        }
        let after = self.s.snmp();
        let bad = after.uncounted_drops(&before);
        assert!(bad.is_empty(), "{what}: {bad:?}");
        for r in DropReason::ALL {
            if after.drops_of(r) > before.drops_of(r) {
                self.seen.insert(r);
            }
        }
    }

    fn rx(&mut self, what: &str, frame: &[u8]) {
        self.step(what, |s, i, now| {
            s.receive(i, PacketBuf::from_slice(frame, 64), now)
        });
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        let now = self.now;
        self.step("timers", |s, _, _| {
            s.poll(now);
        });
    }
}

/// Ethernet + IPv4 header (`ihl_words`, options filled with `opt`), then `tail`.
fn ip(src: [u8; 4], dst: [u8; 4], proto: u8, ihl_words: u8, opt: u8, tail: &[u8]) -> Vec<u8> {
    ip_frag(src, dst, proto, ihl_words, opt, 0, 0, false, tail)
}

#[allow(clippy::too_many_arguments)]
fn ip_frag(
    src: [u8; 4],
    dst: [u8; 4],
    proto: u8,
    ihl_words: u8,
    opt: u8,
    id: u16,
    offset8: u16,
    more: bool,
    tail: &[u8],
) -> Vec<u8> {
    let ihl = (ihl_words as usize).max(5) * 4;
    let total = ihl + tail.len();
    let mut f = Vec::with_capacity(14 + total);
    f.extend_from_slice(&MAC.0);
    f.extend_from_slice(&[2, 0, 0, 0, 0, 1, 0x08, 0x00]);
    let mut h = vec![opt; ihl];
    h[0] = 0x40 | ihl_words;
    h[1] = 0;
    h[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    h[4..6].copy_from_slice(&id.to_be_bytes());
    let frag = offset8 | if more { 0x2000 } else { 0 };
    h[6..8].copy_from_slice(&frag.to_be_bytes());
    h[8] = 64;
    h[9] = proto;
    h[10] = 0;
    h[11] = 0;
    h[12..16].copy_from_slice(&src);
    h[16..20].copy_from_slice(&dst);
    let c = linnet::wire::checksum::checksum(&h[..ihl.min(h.len())]);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&h);
    f.extend_from_slice(tail);
    f
}

fn udp(sport: u16, dport: u16, csum: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&csum.to_be_bytes());
    u.extend_from_slice(payload);
    u
}

/// A TCP header (no options) with a wrong or zero checksum field as given.
fn tcp(dport: u16, flags: u8, doff_words: u8, csum: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&40000u16.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = doff_words << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t[16..18].copy_from_slice(&csum.to_be_bytes());
    t
}

/// TCP checksum over the pseudo-header.
fn tcp_csum(mut seg: Vec<u8>) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&PEER);
    p.extend_from_slice(&ME);
    p.extend_from_slice(&[0, 6]);
    p.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    p.extend_from_slice(&seg);
    let c = linnet::wire::checksum::checksum(&p);
    seg[16..18].copy_from_slice(&c.to_be_bytes());
    seg
}

#[test]
fn the_table_names_a_counter_for_every_reason() {
    let all: BTreeSet<DropReason> = DropReason::ALL.into_iter().collect();
    assert_eq!(all.len(), DropReason::ALL.len(), "duplicates in ALL");
    for r in DropReason::ALL {
        assert!(!r.mibs().is_empty(), "{r:?} moves no counter");
    }
    // Each reason's name round-trips, so ALL lists real reasons (serde is exhaustive).
    for r in DropReason::ALL {
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<DropReason>(&s).unwrap(), r);
    }
}

#[test]
fn every_receive_path_reason_moves_its_counter() {
    let mut r = Rig::new();
    let other = [198, 51, 100, 9];
    // Link layer.
    r.rx("runt frame", &[0u8; 10]);
    let mut f = ip(PEER, ME, 17, 5, 0, &udp(1, 7, 0, b"x"));
    f[0] = 0x04; // another host's unicast MAC
    r.rx("other host", &f);
    let mut f = ip(PEER, ME, 17, 5, 0, &udp(1, 7, 0, b"x"));
    // IEEE 802's local experimental EtherType (IPv6, 0x86DD, has a handler now).
    f[12..14].copy_from_slice(&[0x88, 0xb5]);
    r.rx("unhandled ethertype", &f);
    // IP header: the 600 frames with garbage options among them.
    for k in 0..600u32 {
        let mut f = ip(PEER, ME, 17, 15, (k % 251) as u8, &udp(1, 7, 0, b"x"));
        f[14] = 0x43; // IHL 3: below the minimum
        r.rx("bad IHL", &f);
    }
    let mut f = ip(PEER, ME, 17, 5, 0, &udp(1, 7, 0, b"x"));
    f[24] ^= 0xff;
    r.rx("header checksum", &f);
    let mut f = ip(PEER, ME, 17, 5, 0, &udp(1, 7, 0, b"x"));
    f[16..18].copy_from_slice(&2000u16.to_be_bytes());
    r.rx("truncated", &f);
    r.rx(
        "martian source",
        &ip([224, 0, 0, 1], ME, 17, 5, 0, &udp(1, 7, 0, b"x")),
    );
    r.rx(
        "not for us",
        &ip(PEER, other, 17, 5, 0, &udp(1, 7, 0, b"x")),
    );
    r.rx("unknown protocol", &ip(PEER, ME, 99, 5, 0, b"abcd"));
    // ICMP, UDP, TCP headers and checksums.
    r.rx(
        "icmp checksum",
        &ip(PEER, ME, 1, 5, 0, &[8, 0, 0, 0, 0, 1, 0, 1]),
    );
    r.rx(
        "udp checksum",
        &ip(PEER, ME, 17, 5, 0, &udp(1, 9, 0x1234, b"x")),
    );
    r.rx("udp short", &ip(PEER, ME, 17, 5, 0, &[0, 1, 0]));
    r.rx(
        "udp no socket",
        &ip(PEER, ME, 17, 5, 0, &udp(1, 9, 0, b"x")),
    );
    r.rx(
        "tcp checksum",
        &ip(PEER, ME, 6, 5, 0, &tcp(80, 0x02, 5, 0x1111)),
    );
    r.rx(
        "tcp header",
        &ip(PEER, ME, 6, 5, 0, &tcp_csum(tcp(80, 0x02, 2, 0))),
    );
    r.rx(
        "tcp no socket",
        &ip(PEER, ME, 6, 5, 0, &tcp_csum(tcp(80, 0x02, 5, 0))),
    );
    // Fragments: a duplicate, an overlap, a queue that times out, one too far out.
    let chunk = [7u8; 16];
    r.rx("frag", &ip_frag(PEER, ME, 17, 5, 0, 1, 0, true, &chunk));
    r.rx("dup frag", &ip_frag(PEER, ME, 17, 5, 0, 1, 0, true, &chunk));
    r.rx("frag", &ip_frag(PEER, ME, 17, 5, 0, 2, 0, true, &chunk));
    r.rx(
        "overlap",
        &ip_frag(PEER, ME, 17, 5, 0, 2, 1, true, &[9u8; 16]),
    );
    r.rx("frag", &ip_frag(PEER, ME, 17, 5, 0, 3, 4, true, &chunk));
    r.advance(Duration::from_secs(31));
    r.rx(
        "empty fragment",
        &ip_frag(PEER, ME, 17, 5, 0, 4, 8, true, &[]),
    );
    // A device that is down.
    r.step("link down", |s, i, now| {
        s.set_link_up(i, false, now).unwrap()
    });
    r.rx(
        "to a down device",
        &ip(PEER, ME, 17, 5, 0, &udp(1, 7, 0, b"x")),
    );
    let want = [
        DropReason::PktTooSmall,
        DropReason::OtherHost,
        DropReason::UnhandledProto,
        DropReason::IpInhdr,
        DropReason::IpCsum,
        DropReason::IpInvalidSource,
        DropReason::IpNoproto,
        DropReason::IcmpCsum,
        DropReason::UdpCsum,
        DropReason::NoSocket,
        DropReason::TcpCsum,
        DropReason::TcpHdr,
        DropReason::DupFrag,
        DropReason::FragOverlap,
        DropReason::FragReasmTimeout,
        DropReason::DevReady,
    ];
    let missed: Vec<_> = want.iter().filter(|w| !r.seen.contains(w)).collect();
    assert!(
        missed.is_empty(),
        "not reached: {missed:?}; seen {:?}",
        r.seen
    );
    let snmp = r.s.snmp();
    // The case: IP_INHDR drops show in InHdrErrors.
    assert!(snmp.ip.in_hdr_errors >= 600, "{:?}", snmp.ip);
    assert_eq!(snmp.core.rx_otherhost_dropped, 1);
    assert_eq!(snmp.core.rx_nohandler, 1);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random bytes after valid-looking headers: whatever is dropped is counted.
    #[test]
    fn random_input_never_drops_uncounted(
        frames in prop::collection::vec(
            (prop_oneof![Just(1u8), Just(6), Just(17), any::<u8>()],
             5u8..16,
             any::<u8>(),
             prop::collection::vec(any::<u8>(), 0..80),
             any::<bool>(),
             0u16..4,
             any::<bool>()),
            1..30),
    ) {
        let mut r = Rig::new();
        for (proto, ihl, opt, tail, frag, off, more) in frames {
            let f = if frag {
                ip_frag(PEER, ME, proto, ihl, opt, 9, off, more, &tail)
            } else {
                ip(PEER, ME, proto, ihl, opt, &tail)
            };
            r.rx("random", &f);
        }
        r.advance(Duration::from_secs(31));
    }
}

/// Send a UDP datagram from a fresh socket of `s`.
fn udp_send(s: &mut Stack, to: [u8; 4], now: Instant) -> Result<usize, linnet::Errno> {
    use linnet::SockType;
    let id = s.socket(SockType::Dgram)?;
    let r = s.send_to(
        id,
        b"payload",
        std::net::SocketAddrV4::new(Ipv4Addr::from(to), 9),
        now,
    );
    let _ = s.close(id, now);
    r
}

#[test]
fn output_path_netfilter_and_neighbour_reasons_move_their_counters() {
    let mut r = Rig::new();
    // No route: a destination off-link with no default route (refused at the socket, as
    // Linux's udp_sendmsg does, counting OutNoRoutes without a packet to drop), and an
    // answer to a source we have no route back to.
    r.step("no route", |s, _, now| {
        assert!(udp_send(s, [203, 0, 113, 9], now).is_err());
        assert!(s.snmp().ip.out_no_routes > 0);
    });
    r.rx(
        "no route back",
        &ip([203, 0, 113, 5], ME, 17, 5, 0, &udp(1, 9, 0, b"x")),
    );
    // An unresolved neighbour: its queue fills, then resolution fails.
    r.step("neighbour queue", |s, _, now| {
        for _ in 0..200 {
            let _ = udp_send(s, [192, 0, 2, 77], now);
        }
    });
    for _ in 0..10 {
        r.advance(Duration::from_secs(1));
    }
    // Netfilter: a DROP rule on input, and on output.
    r.step("iptables", |s, _, now| {
        s.iptables(
            &["-A", "INPUT", "-p", "udp", "--dport", "9", "-j", "DROP"],
            now,
        )
        .unwrap();
        s.iptables(
            &["-A", "OUTPUT", "-p", "udp", "-d", "192.0.2.1", "-j", "DROP"],
            now,
        )
        .unwrap();
    });
    r.rx(
        "netfilter input",
        &ip(PEER, ME, 17, 5, 0, &udp(1, 9, 0, b"x")),
    );
    r.step("netfilter output", |s, _, now| {
        let _ = udp_send(s, PEER, now);
    });
    r.step("flush", |s, _, now| {
        s.iptables(&["-F"], now).unwrap();
    });
    // A one-packet queue: a burst overflows it.
    r.step("qdisc", |s, _, now| {
        let words: Vec<String> = "qdisc add dev eth0 root pfifo limit 1"
            .split(' ')
            .map(String::from)
            .collect();
        s.tc(&words, now).unwrap();
    });
    r.step("qdisc burst", |s, _, now| {
        for _ in 0..20 {
            let _ = udp_send(s, PEER, now);
        }
    });
    let want = [
        DropReason::IpOutnoroutes,
        DropReason::NeighQueuefull,
        DropReason::NeighFailed,
        DropReason::NetfilterDrop,
        DropReason::QdiscDrop,
    ];
    let missed: Vec<_> = want.iter().filter(|w| !r.seen.contains(w)).collect();
    assert!(
        missed.is_empty(),
        "not reached: {missed:?}; seen {:?}",
        r.seen
    );
}

#[test]
fn tcp_over_an_impaired_link_drops_nothing_uncounted() {
    use linnet::LinkConfig;
    use linnet::Sim;
    use linnet::{MsgFlags, SockType};
    let mut sim = Sim::new();
    for seed in [1, 2] {
        sim.add_stack(Stack::new(linnet::StackConfig {
            seed,
            ..linnet::StackConfig::default()
        }));
    }
    sim.connect(
        0,
        1,
        LinkConfig {
            loss: 0.05,
            duplicate: 0.05,
            reorder: 0.05,
            corrupt: 0.02,
            delay: Duration::from_millis(5),
            jitter: Duration::from_millis(3),
            seed: 9,
            ..LinkConfig::default()
        },
        "192.0.2.1/24".parse().unwrap(),
        "192.0.2.2/24".parse().unwrap(),
    );
    sim.advance(Duration::from_millis(100));
    let b = std::net::SocketAddrV4::new(Ipv4Addr::from(ME), 5001);
    let l = sim.stack(1).socket(SockType::Stream).unwrap();
    sim.stack(1).bind(l, b).unwrap();
    sim.stack(1).listen(l, 8).unwrap();
    let c = sim.stack(0).socket(SockType::Stream).unwrap();
    let now = sim.now();
    let _ = sim.stack(0).connect(c, b, now);
    let data = vec![0x42u8; 400_000];
    let (mut sent, mut got, mut server) = (0, 0, None);
    let mut buf = vec![0u8; 65536];
    let until = sim.now() + Duration::from_secs(120);
    sim.run_until_cond(until, |sim| {
        let now = sim.now();
        if server.is_none() {
            server = sim.stack(1).accept(l).ok().map(|(s, _)| s);
        }
        while sent < data.len() {
            match sim.stack(0).send(c, &data[sent..], now) {
                Ok(n) => sent += n,
                Err(_) => break,
            }
        }
        if let Some(s) = server {
            while let Ok(n) = sim.stack(1).recv(s, &mut buf, MsgFlags::default(), now) {
                if n == 0 {
                    break;
                }
                got += n;
            }
        }
        got == data.len()
    });
    assert_eq!(got, data.len(), "transfer incomplete");
    for n in 0..2 {
        let snmp = sim.stack(n).snmp();
        let bad = snmp.uncounted_drops(&Snmp::default());
        assert!(bad.is_empty(), "stack {n}: {bad:?}");
        assert!(
            !snmp.drops.is_empty(),
            "stack {n} dropped nothing: {snmp:?}"
        );
    }
}
