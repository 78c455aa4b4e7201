//! TCP Fast Open (RFC 7413) segment by segment, after Linux's packetdrill scripts
//! (gtests/net/tcp/fastopen/{client,server}/*.pkt): the test is the peer, writing frames into
//! one stack and reading every segment it answers with, so options, sizes and sequence numbers
//! are checked exactly.

mod common;

use linnet::buf::PacketBuf;
use linnet::socket::{MsgFlags, PollEvents, SockId, SockOpt, SockType};
use linnet::transport::tcp::fastopen::{FastOpenClientFail, FastOpenKeys};
use linnet::transport::tcp::TcpState;
use linnet::wire::ethernet::HEADER_LEN as ETH_LEN;
use linnet::wire::tcp::{FastOpenCookie, SeqNumber, TcpFlags, TcpPacket, TcpRepr};
use linnet::wire::{EtherType, EthernetAddress, EthernetFrame, IpProtocol, Ipv4Packet, Ipv4Repr};
use linnet::Errno;
use linnet::{Instant, Stack, StackConfig};
use proptest::prelude::*;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const US: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const PORT: u16 = 8080;
/// The key packetdrill's defaults install (`tcp_fastopen_key`).
const KEY: &str = "a1a1a1a1-b2b2b2b2-c3c3c3c3-d4d4d4d4";

type Out = Vec<(TcpRepr, Vec<u8>)>;

struct Rig {
    stack: Stack,
    ifindex: u32,
    mac: EthernetAddress,
    peer_mac: EthernetAddress,
    now: Instant,
}

fn seg(sport: u16, dport: u16, flags: TcpFlags, seq: u32, ack: Option<SeqNumber>) -> TcpRepr {
    TcpRepr {
        src_port: sport,
        dst_port: dport,
        flags,
        seq_number: SeqNumber(seq),
        ack_number: ack,
        window_len: 14600,
        max_seg_size: None,
        window_scale: None,
        sack_permitted: false,
        sack_ranges: [None; 4],
        timestamp: None,
        fastopen: None,
        payload_len: 0,
    }
}

fn cookie(b: &[u8]) -> Option<FastOpenCookie> {
    FastOpenCookie::new(b, false)
}

impl Rig {
    /// A stack at 192.0.2.2 without timestamps (as most of the scripts run), with
    /// `tcp_fastopen` = `fastopen` and packetdrill's key.
    fn new(fastopen: u32) -> Rig {
        let mut cfg = StackConfig {
            seed: 11,
            ..StackConfig::default()
        };
        cfg.tcp.timestamps = false;
        cfg.tcp.fastopen = fastopen;
        let mut stack = Stack::new(cfg);
        stack.set_tcp_fastopen_keys(FastOpenKeys::parse(KEY).unwrap());
        let now = Instant::from_secs(1);
        let mac = EthernetAddress::local_from_seed(1);
        let peer_mac = EthernetAddress::local_from_seed(2);
        let ifindex = stack.add_interface("eth0", mac, 1500);
        stack
            .add_addr(ifindex, "192.0.2.2/24".parse().unwrap(), now)
            .unwrap();
        stack.set_link_up(ifindex, true, now).unwrap();
        stack.add_neighbour(ifindex, PEER, peer_mac, now).unwrap();
        let mut rig = Rig {
            stack,
            ifindex,
            mac,
            peer_mac,
            now,
        };
        rig.drain();
        rig
    }

    /// Deliver one segment from the peer.
    fn send(&mut self, mut repr: TcpRepr, payload: &[u8]) {
        let frame =
            common::forge_tcp_frame(self.mac, self.peer_mac, PEER, US, 0, &mut repr, payload);
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
    }

    /// Everything the stack transmits now, parsed.
    fn drain(&mut self) -> Out {
        let mut out = Vec::new();
        self.stack.poll(self.now);
        while let Some(buf) = self.stack.take_tx(self.ifindex, self.now) {
            let eth = EthernetFrame::new_checked(buf.data()).unwrap();
            if eth.ethertype() == EtherType::IPV4 {
                let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
                if ip.protocol() == IpProtocol::TCP {
                    let p = TcpPacket::new_checked(ip.payload()).unwrap();
                    let r = TcpRepr::parse(&p, ip.src_addr(), ip.dst_addr(), true).unwrap();
                    out.push((r, p.payload().to_vec()));
                }
            }
            self.stack.recycle(buf);
        }
        out
    }

    /// Move time on, running timers, and return what went out.
    fn advance(&mut self, d: Duration) -> Out {
        let until = self.now + d;
        let mut out = Vec::new();
        loop {
            out.extend(self.drain());
            match self.stack.poll(self.now) {
                Some(t) if t <= until && t > self.now => self.now = t,
                _ => break,
            }
        }
        self.now = until;
        out.extend(self.drain());
        out
    }

    /// A segment from the peer with raw option bytes (padded with EOL to 4 bytes).
    fn send_raw(&mut self, sport: u16, flags: u8, seq: u32, ack: u32, opts: &[u8], payload: &[u8]) {
        self.send_raw_ports(sport, PORT, flags, seq, ack, opts, payload);
    }

    /// A segment from the peer's server port to our client port `dport`.
    fn send_raw_to(
        &mut self,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        opts: &[u8],
        payload: &[u8],
    ) {
        self.send_raw_ports(PORT, dport, flags, seq, ack, opts, payload);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_raw_ports(
        &mut self,
        sport: u16,
        dport: u16,
        flags: u8,
        seq: u32,
        ack: u32,
        opts: &[u8],
        payload: &[u8],
    ) {
        let olen = opts.len().min(40).div_ceil(4) * 4;
        let hl = 20 + olen;
        let mut tcp = vec![0u8; hl + payload.len()];
        tcp[0..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&dport.to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = ((hl / 4) as u8) << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&14600u16.to_be_bytes());
        let o = &opts[..opts.len().min(40)];
        tcp[20..20 + o.len()].copy_from_slice(o);
        tcp[hl..].copy_from_slice(payload);
        TcpPacket::new_unchecked(&mut tcp[..]).fill_checksum(PEER, US);
        let mut frame = vec![0u8; ETH_LEN + 20];
        {
            let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
            eth.set_dst_addr(self.mac);
            eth.set_src_addr(self.peer_mac);
            eth.set_ethertype(EtherType::IPV4);
        }
        Ipv4Repr {
            src_addr: PEER,
            dst_addr: US,
            protocol: IpProtocol::TCP,
            payload_len: tcp.len(),
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: true,
        }
        .emit(&mut frame[ETH_LEN..]);
        frame.extend_from_slice(&tcp);
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
    }

    /// An ICMP message (with its checksum filled) from the peer.
    fn icmp_raw(&mut self, icmp: &[u8]) {
        let mut icmp = icmp.to_vec();
        icmp[2..4].fill(0);
        let c = linnet::wire::checksum::checksum(&icmp);
        icmp[2..4].copy_from_slice(&c.to_be_bytes());
        let mut frame = vec![0u8; ETH_LEN + 20 + icmp.len()];
        {
            let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
            eth.set_dst_addr(self.mac);
            eth.set_src_addr(self.peer_mac);
            eth.set_ethertype(EtherType::IPV4);
        }
        Ipv4Repr {
            src_addr: PEER,
            dst_addr: US,
            protocol: IpProtocol::ICMP,
            payload_len: icmp.len(),
            ttl: 64,
            tos: 0,
            ident: 2,
            dont_frag: false,
        }
        .emit(&mut frame[ETH_LEN..]);
        frame[ETH_LEN + 20..].copy_from_slice(&icmp);
        self.stack
            .receive(self.ifindex, PacketBuf::from_slice(&frame, 0), self.now);
    }

    /// An ICMP "fragmentation needed" (next-hop MTU `mtu`) quoting our segment `quoted`.
    fn icmp_frag_needed(&mut self, quoted: &TcpRepr, mtu: u16) {
        let mut icmp = vec![3u8, 4, 0, 0, 0, 0];
        icmp.extend_from_slice(&mtu.to_be_bytes());
        let mut ip = vec![0u8; 20];
        Ipv4Repr {
            src_addr: US,
            dst_addr: PEER,
            protocol: IpProtocol::TCP,
            payload_len: 1000,
            ttl: 64,
            tos: 0,
            ident: 9,
            dont_frag: true,
        }
        .emit(&mut ip[..]);
        icmp.extend_from_slice(&ip);
        let mut tcp = vec![0u8; quoted.header_len()];
        quoted.emit(&mut tcp);
        icmp.extend_from_slice(&tcp[..8]);
        self.icmp_raw(&icmp);
    }

    fn one(&mut self) -> (TcpRepr, Vec<u8>) {
        let mut out = self.drain();
        assert_eq!(out.len(), 1, "expected one segment: {}", summary(&out));
        out.remove(0)
    }

    fn sock(&mut self) -> SockId {
        self.stack.socket(SockType::Stream).unwrap()
    }

    fn fastopen(&mut self, s: SockId, data: &[u8]) -> Result<usize, Errno> {
        let now = self.now;
        self.stack
            .send_fastopen(s, data, Some(SocketAddrV4::new(PEER, PORT)), now)
    }

    fn read(&mut self, s: SockId) -> Result<Vec<u8>, Errno> {
        let mut b = vec![0u8; 8192];
        let now = self.now;
        let n = self.stack.recv(
            s,
            &mut b,
            MsgFlags {
                peek: false,
                dontwait: true,
            },
            now,
        )?;
        b.truncate(n);
        Ok(b)
    }

    fn syn_data(&mut self, s: SockId) -> bool {
        self.stack.tcp_info(s).unwrap().syn_data
    }

    /// The server's SYN-ACK to our SYN `syn`, acking `acked` of its data, with `mss` and
    /// an optional cookie.
    fn synack(
        &mut self,
        syn: &TcpRepr,
        acked: usize,
        mss: u16,
        foc: Option<FastOpenCookie>,
    ) -> SeqNumber {
        let mut r = seg(
            PORT,
            syn.src_port,
            TcpFlags::SYN | TcpFlags::ACK,
            5000,
            Some(syn.seq_number + 1 + acked),
        );
        r.max_seg_size = Some(mss);
        r.sack_permitted = true;
        r.window_scale = Some(6);
        r.fastopen = foc;
        self.send(r, &[]);
        SeqNumber(5001)
    }

    /// Warm the client's cache: a cookie request answered with `foc` and `mss`.
    fn warm(&mut self, foc: &[u8], mss: u16) {
        let s = self.sock();
        assert_eq!(self.fastopen(s, &[]), Err(Errno::EINPROGRESS));
        let (syn, data) = self.one();
        assert_eq!(syn.fastopen, Some(FastOpenCookie::request(false)));
        assert!(data.is_empty());
        self.synack(&syn, 0, mss, cookie(foc));
        let (ack, _) = self.one();
        assert_eq!(ack.flags, TcpFlags::ACK);
        let now = self.now;
        self.stack.close(s, now).unwrap();
        self.drain();
    }

    fn listener(&mut self, qlen: Option<u32>) -> SockId {
        let l = self.sock();
        self.stack
            .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
            .unwrap();
        self.stack.listen(l, 8).unwrap();
        if let Some(q) = qlen {
            let now = self.now;
            self.stack.setsockopt(l, SockOpt::FastOpen(q), now).unwrap();
        }
        l
    }

    /// A SYN from the peer's `port` to the listener, with data and a Fast Open option.
    fn peer_syn(&mut self, port: u16, isn: u32, foc: Option<FastOpenCookie>, data: &[u8]) {
        let mut r = seg(port, PORT, TcpFlags::SYN, isn, None);
        r.max_seg_size = Some(1460);
        r.sack_permitted = true;
        r.window_scale = Some(7);
        r.fastopen = foc;
        self.send(r, data);
    }
}

/// One line a segment: flags, ports, sequence, ack, option, data length.
fn summary(out: &Out) -> String {
    out.iter()
        .map(|(r, d)| {
            format!(
                "{} {}>{} seq {} ack {:?} fo {:?} len {}\n",
                r.flags,
                r.src_port,
                r.dst_port,
                r.seq_number.0,
                r.ack_number.map(|a| a.0),
                r.fastopen.map(|c| c.bytes().to_vec()),
                d.len()
            )
        })
        .collect()
}

fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

// ---------------------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------------------

/// client/nonblocking-sendto.pkt: the cookie request, data in the SYN with the cached cookie,
/// the SYN's data bounded by the cached MSS less 40, MSG_FASTOPEN ignored once connected, and
/// a plain connect unaffected.
#[test]
fn client_requests_a_cookie_then_sends_data_in_the_syn() {
    let mut r = Rig::new(1);
    r.warm(&[0xab, 0xcd, 0x12, 0x34], 1460);
    let s = r.sock();
    let data = pattern(1000);
    assert_eq!(r.fastopen(s, &data), Ok(1000));
    let (syn, payload) = r.one();
    assert_eq!(syn.flags, TcpFlags::SYN);
    assert_eq!(syn.fastopen, cookie(&[0xab, 0xcd, 0x12, 0x34]));
    assert_eq!(syn.max_seg_size, Some(1460));
    assert_eq!(payload, data);
    // The server acks the data, offers MSS 940 and a new cookie.
    let irs = r.synack(&syn, 1000, 940, cookie(&[0x12, 0x34, 0x56, 0x78]));
    let (ack, d) = r.one();
    assert_eq!(ack.flags, TcpFlags::ACK);
    assert_eq!(ack.seq_number, syn.seq_number + 1001);
    assert_eq!(ack.ack_number, Some(irs));
    assert!(d.is_empty());
    assert!(r.syn_data(s), "TCPI_OPT_SYN_DATA");
    assert_eq!(r.stack.snmp().tcp.fastopen_active, 1);
    let now = r.now;
    r.stack.close(s, now).unwrap();
    r.drain();

    // The cached MSS (940) and cookie: 900 bytes go in the SYN.
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(2000)), Ok(900));
    let (syn, payload) = r.one();
    assert_eq!(syn.fastopen, cookie(&[0x12, 0x34, 0x56, 0x78]));
    assert_eq!(payload.len(), 900);
    r.synack(&syn, 900, 1460, None);
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(5001)));
    // MSG_FASTOPEN after the handshake is an ordinary send.
    assert_eq!(r.fastopen(s, &pattern(2000)), Ok(2000));
    let out = r.drain();
    assert_eq!(out[0].0.seq_number, syn.seq_number + 901);
    assert_eq!(out[0].0.fastopen, None);
    // A full segment goes; Nagle holds the runt while it is in flight.
    assert_eq!(out[0].1.len(), 1460, "{}", summary(&out));
    assert!(r.syn_data(s));

    // A plain connect carries no Fast Open option.
    let s = r.sock();
    let now = r.now;
    assert_eq!(
        r.stack.connect(s, SocketAddrV4::new(PEER, PORT), now),
        Err(Errno::EINPROGRESS)
    );
    let (syn, _) = r.one();
    assert_eq!(syn.fastopen, None);
}

/// client/syn-data-only-syn-acked.pkt and syn-data-partial-or-over-ack.pkt: data the SYN-ACK
/// did not cover is sent again at once; a SYN-ACK acking beyond the data is answered with a
/// reset and leaves the cache alone.
#[test]
fn client_resends_what_the_syn_ack_did_not_cover() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 1460);
    let s = r.sock();
    let data = pattern(700);
    assert_eq!(r.fastopen(s, &data), Ok(700));
    let (syn, _) = r.one();
    r.synack(&syn, 0, 1040, cookie(&[0x12, 0x34, 0xab, 0xcd]));
    let (d, payload) = r.one();
    assert_eq!(d.flags, TcpFlags::ACK | TcpFlags::PSH);
    assert_eq!(d.seq_number, syn.seq_number + 1);
    assert_eq!(payload, data, "the SYN's data, right after the SYN-ACK");
    assert!(!r.syn_data(s));
    assert_eq!(r.stack.snmp().tcp.fastopen_active_fail, 1);
    assert_eq!(
        r.stack.tcp_info(s).unwrap().fastopen_client_fail,
        FastOpenClientFail::DataNotAcked
    );
    let ack = d.seq_number + 700;
    let mut a = seg(PORT, syn.src_port, TcpFlags::ACK, 5001, Some(ack));
    a.window_len = 257;
    r.send(a, &[]);
    assert!(r.drain().is_empty());
    assert_eq!(r.stack.tcp_info(s).unwrap().send_q, 0);

    // 9 of 18 bytes acked: the other 9 follow.
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(18)), Ok(18));
    let (syn, _) = r.one();
    r.synack(&syn, 9, 1460, None);
    let (d, payload) = r.one();
    assert_eq!(d.seq_number, syn.seq_number + 10);
    assert_eq!(payload, pattern(18)[9..]);
    assert!(!r.syn_data(s), "set only when all the data is acked");

    // Over-acked: a reset at the acknowledged number; the cookie is still cached.
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(100)), Ok(100));
    let (syn, _) = r.one();
    r.synack(&syn, 100_000, 1040, cookie(&[0xba, 0xdc, 0x00, 0xce]));
    let (rst, _) = r.one();
    assert_eq!(rst.flags, TcpFlags::RST);
    assert_eq!(rst.seq_number, syn.seq_number + 100_001);
    let m = *r.stack.tcp_fastopen_cache().get(PEER).unwrap();
    assert_eq!(m.cookie, cookie(&[0x12, 0x34, 0xab, 0xcd]));
    assert_eq!(m.mss, 1460);
}

/// client/syn-data-timeout.pkt and cookie-req-timeout.pkt: the retransmitted SYN carries
/// neither data nor the option; the data follows the SYN-ACK; a cookie in a SYN-ACK after
/// a timeout is still cached.
#[test]
fn client_syn_retransmission_drops_data_and_option() {
    let mut r = Rig::new(1);
    let s = r.sock();
    assert_eq!(r.fastopen(s, &[]), Err(Errno::EINPROGRESS));
    let (syn, _) = r.one();
    assert!(syn.fastopen.is_some());
    assert_eq!(
        r.stack.tcp_info(s).unwrap().fastopen_client_fail,
        FastOpenClientFail::CookieUnavailable
    );
    let out = r.advance(Duration::from_millis(1100));
    assert_eq!(out.len(), 1, "{}", summary(&out));
    assert_eq!(out[0].0.flags, TcpFlags::SYN);
    assert_eq!(out[0].0.fastopen, None);
    r.synack(&syn, 0, 1240, FastOpenCookie::new(&[0xaa; 6], false));
    assert_eq!(r.one().0.flags, TcpFlags::ACK);
    assert!(!r.syn_data(s));

    let s = r.sock();
    let data = pattern(1000);
    assert_eq!(r.fastopen(s, &data), Ok(1000));
    let (syn, payload) = r.one();
    assert_eq!(syn.fastopen, FastOpenCookie::new(&[0xaa; 6], false));
    assert_eq!(payload, data);
    let out = r.advance(Duration::from_millis(1100));
    assert_eq!(out.len(), 1, "{}", summary(&out));
    assert_eq!((out[0].0.fastopen, out[0].1.len()), (None, 0));
    r.synack(&syn, 0, 1460, None);
    let (d, payload) = r.one();
    assert_eq!(d.seq_number, syn.seq_number + 1);
    assert_eq!(payload, data);
    // A SYN loss is remembered against this destination.
    assert_eq!(r.stack.tcp_fastopen_cache().get(PEER).unwrap().syn_loss, 1);
    assert_eq!(
        r.stack.tcp_info(s).unwrap().fastopen_client_fail,
        FastOpenClientFail::SynRetransmitted
    );
    assert_eq!(r.stack.snmp().tcp.fastopen_active_fail, 1);
}

/// client/cookie-less-sendto.pkt (tcp_fastopen=5): data in the SYN without any option; an
/// unsolicited cookie is not cached. With the client bit off, MSG_FASTOPEN is refused.
#[test]
fn client_without_cookies_and_with_fastopen_off() {
    let mut r = Rig::new(5);
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(5000)), Ok(1420));
    let (syn, payload) = r.one();
    assert_eq!((syn.fastopen, payload.len()), (None, 1420));
    r.synack(&syn, 1420, 1460, cookie(&[0xab, 0xcd, 0x12, 0x34]));
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(5001)));
    assert!(r.syn_data(s));
    assert_eq!(
        r.stack
            .tcp_fastopen_cache()
            .get(PEER)
            .and_then(|m| m.cookie),
        None,
        "unsolicited cookie"
    );

    let mut r = Rig::new(0);
    let s = r.sock();
    assert_eq!(r.fastopen(s, b"x"), Err(Errno::EOPNOTSUPP));
    let now = r.now;
    assert_eq!(
        r.stack.setsockopt(s, SockOpt::FastOpenConnect(true), now),
        Err(Errno::EOPNOTSUPP)
    );
    assert!(r.drain().is_empty());
}

/// client/nonblocking-connect-bypass.pkt: with TCP_FASTOPEN_CONNECT and a cookie, connect
/// returns 0 at once, the socket polls writable, reads say EAGAIN, and the first write goes
/// out in the SYN; without a cookie, connect sends a cookie request.
#[test]
fn client_fastopen_connect_defers_the_syn_to_the_first_write() {
    let mut r = Rig::new(1);
    let now = r.now;
    let s = r.sock();
    r.stack
        .setsockopt(s, SockOpt::FastOpenConnect(true), now)
        .unwrap();
    assert_eq!(
        r.stack.connect(s, SocketAddrV4::new(PEER, PORT), now),
        Err(Errno::EINPROGRESS)
    );
    let (syn, _) = r.one();
    assert_eq!(syn.fastopen, Some(FastOpenCookie::request(false)));
    r.synack(&syn, 0, 1460, cookie(&[0xab, 0xcd, 0x12, 0x34]));
    r.drain();

    let s = r.sock();
    r.stack
        .setsockopt(s, SockOpt::FastOpenConnect(true), now)
        .unwrap();
    assert_eq!(
        r.stack.connect(s, SocketAddrV4::new(PEER, PORT), now),
        Ok(())
    );
    assert!(r.drain().is_empty(), "no SYN before the first write");
    assert!(r.stack.poll_socket(s).unwrap().contains(PollEvents::OUT));
    assert_eq!(r.read(s), Err(Errno::EAGAIN));
    let data = pattern(1000);
    assert_eq!(r.stack.send(s, &data, now), Ok(1000));
    let (syn, payload) = r.one();
    assert_eq!(syn.fastopen, cookie(&[0xab, 0xcd, 0x12, 0x34]));
    assert_eq!(payload, data);
    r.synack(&syn, 1000, 1460, None);
    r.drain();
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::Established));
    assert!(r.syn_data(s));
}

/// client/synack-data.pkt: a SYN-ACK answering our Fast Open may carry data (and a FIN);
/// it is queued and acknowledged, the FIN moves the connection to CLOSE-WAIT.
#[test]
fn client_takes_data_and_fin_in_the_syn_ack() {
    let mut r = Rig::new(1);
    r.warm(&[0xab, 0xcd, 0x12, 0x34], 1040);
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(1000)), Ok(1000));
    let (syn, _) = r.one();
    let mut sa = seg(
        PORT,
        syn.src_port,
        TcpFlags::SYN | TcpFlags::ACK,
        1_000_000,
        Some(syn.seq_number + 1001),
    );
    sa.max_seg_size = Some(1040);
    r.send(sa, &pattern(1400));
    let (ack, _) = r.one();
    assert_eq!(ack.ack_number, Some(SeqNumber(1_001_401)));
    assert_eq!(r.read(s).unwrap(), pattern(1400));
    assert!(r.syn_data(s));
    r.drain();

    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(1000)), Ok(1000));
    let (syn, _) = r.one();
    sa.dst_port = syn.src_port;
    sa.ack_number = Some(syn.seq_number + 1001);
    sa.flags = TcpFlags::SYN | TcpFlags::ACK | TcpFlags::FIN;
    r.send(sa, &pattern(1400));
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::CloseWait));
    let (ack, _) = r.one();
    assert_eq!(ack.ack_number, Some(SeqNumber(1_001_402)));
    assert_eq!(r.read(s).unwrap().len(), 1400);
    assert_eq!(r.read(s), Ok(Vec::new()), "end of stream");
}

/// client/syn-data-icmp-unreach-frag-needed.pkt: "fragmentation needed" for the SYN with data
/// brings a plain SYN at once, offering an MSS that fits; the data follows the SYN-ACK.
#[test]
fn client_resends_a_plain_syn_when_the_syn_data_is_too_big() {
    let mut r = Rig::new(1);
    r.warm(&[0xab, 0xcd, 0x12, 0x34], 1040);
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(9999)), Ok(1000));
    let (syn, _) = r.one();
    r.icmp_frag_needed(&syn, 800);
    let (again, data) = r.one();
    assert_eq!(again.flags, TcpFlags::SYN);
    assert_eq!((again.fastopen, data.len()), (None, 0));
    assert_eq!(again.max_seg_size, Some(760));
    r.synack(&syn, 0, 1040, None);
    let out = r.drain();
    assert_eq!(out[0].0.seq_number, syn.seq_number + 1);
    let sent: usize = out.iter().map(|(_, d)| d.len()).sum();
    assert!(
        sent >= 760 && out.iter().all(|(_, d)| d.len() <= 760),
        "{}",
        summary(&out)
    );
    assert!(!r.syn_data(s));
    // The next SYN's data fits the learnt path MTU: 800 - 40 - 40 option bytes.
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(9999)), Ok(720));
    let (syn, data) = r.one();
    assert_eq!((syn.flags, data.len()), (TcpFlags::SYN, 720));
}

// ---------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------

/// server/simple1.pkt, basic-rw.pkt: a cookie request gets the cookie (SipHash of the two
/// addresses under the key, in the option form the client used); a SYN with that cookie and
/// data makes a child that is accepted and read before the handshake completes, whose
/// SYN-ACK acknowledges the data and which may send at once.
#[test]
fn server_gives_cookies_and_accepts_data_before_the_handshake() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(4));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    r.peer_syn(40001, 1000, Some(FastOpenCookie::request(true)), &[]);
    let (sa, _) = r.one();
    assert_eq!(sa.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(sa.ack_number, Some(SeqNumber(1001)));
    let mut want = valid;
    want.exp = true;
    assert_eq!(sa.fastopen, Some(want), "FOEXP cookie answers FOEXP");
    assert_eq!(r.stack.accept(l).err(), Some(Errno::EAGAIN));
    assert_eq!(r.stack.snmp().tcp.fastopen_cookie_reqd, 1);

    let data = pattern(10);
    r.peer_syn(40002, 7000, Some(valid), &data);
    let (sa, _) = r.one();
    assert_eq!(
        sa.ack_number,
        Some(SeqNumber(7011)),
        "the SYN-ACK acks the data"
    );
    assert_eq!(sa.fastopen, None);
    let (c, peer) = r.stack.accept(l).expect("accepted before the handshake");
    assert_eq!(peer, SocketAddrV4::new(PEER, 40002));
    assert_eq!(r.stack.tcp_state(c), Some(TcpState::SynReceived));
    assert!(r.syn_data(c));
    assert!(r.stack.poll_socket(c).unwrap().contains(PollEvents::IN));
    assert_eq!(r.read(c), Ok(data));
    let now = r.now;
    assert_eq!(r.stack.send(c, &pattern(100), now), Ok(100));
    let (d, payload) = r.one();
    assert_eq!(d.seq_number, sa.seq_number + 1);
    assert_eq!((d.ack_number, payload.len()), (Some(SeqNumber(7011)), 100));
    assert_eq!(r.stack.snmp().tcp.fastopen_passive, 1);
    // Nothing delivered yet (server/simple3.pkt's tcpi_delivered == 0).
    assert_eq!(r.stack.tcp_sock(c).unwrap().delivered_segs, 0);
    // The ACK completes the handshake; the child leaves the Fast Open queue.
    r.send(
        seg(40002, PORT, TcpFlags::ACK, 7011, Some(sa.seq_number + 101)),
        &[],
    );
    r.drain();
    assert_eq!(r.stack.tcp_state(c), Some(TcpState::Established));
    // The SYN-ACK and the data segment were delivered (Linux's tp->delivered).
    assert_eq!(r.stack.tcp_sock(c).unwrap().delivered_segs, 2);
    assert_eq!(r.stack.tcp_info(c).unwrap().send_q, 0);
}

/// server/sockopt-fastopen-key.pkt, basic-non-tfo-listener.pkt, pure-syn-data.pkt: a bad
/// cookie's data waits for the handshake (the SYN-ACK carries the right cookie); a listener
/// without TCP_FASTOPEN ignores the option; data without a cookie is not taken.
#[test]
fn server_refuses_bad_or_missing_cookies_and_non_fastopen_listeners_ignore_them() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(4));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    r.peer_syn(40001, 1000, cookie(&[1, 2, 3, 4, 5, 6, 7, 8]), &pattern(10));
    let (sa, _) = r.one();
    assert_eq!(sa.ack_number, Some(SeqNumber(1001)), "data not acked");
    assert_eq!(sa.fastopen, Some(valid));
    assert_eq!(r.stack.accept(l).err(), Some(Errno::EAGAIN));
    assert_eq!(r.stack.snmp().tcp.fastopen_passive_fail, 1);
    r.peer_syn(40003, 3000, None, &pattern(40));
    let (sa, _) = r.one();
    assert_eq!((sa.ack_number, sa.fastopen), (Some(SeqNumber(3001)), None));

    // No TCP_FASTOPEN on this listener: the option is not even answered.
    let mut r = Rig::new(0x2);
    let _l = r.listener(None);
    r.peer_syn(40001, 1000, Some(valid), &pattern(10));
    let (sa, _) = r.one();
    assert_eq!((sa.ack_number, sa.fastopen), (Some(SeqNumber(1001)), None));
    r.peer_syn(40002, 2000, Some(FastOpenCookie::request(false)), &[]);
    assert_eq!(r.one().0.fastopen, None);
    assert_eq!(r.stack.snmp().tcp.fastopen_passive, 0);

    // 0x402: every listener does Fast Open (TFO_SERVER_WO_SOCKOPT1).
    let mut r = Rig::new(0x402);
    let l = r.listener(None);
    r.peer_syn(40001, 1000, Some(valid), &pattern(10));
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(1011)));
    assert!(r.stack.accept(l).is_ok());
}

/// server/basic-cookie-not-reqd.pkt (0x202) and the TFO queue limit: without a cookie the
/// data is taken; past `TCP_FASTOPEN`'s queue length a SYN falls back to the handshake.
#[test]
fn server_cookie_not_required_and_queue_limit() {
    let mut r = Rig::new(0x202);
    let l = r.listener(Some(1));
    r.peer_syn(40001, 1000, None, &pattern(1000));
    let (sa, _) = r.one();
    assert_eq!(sa.ack_number, Some(SeqNumber(2001)));
    let (c, _) = r.stack.accept(l).unwrap();
    assert_eq!(r.read(c).unwrap().len(), 1000);
    // The first child is still in its handshake: the queue (1) is full.
    r.peer_syn(40002, 5000, None, &pattern(100));
    let (sa2, _) = r.one();
    assert_eq!(sa2.ack_number, Some(SeqNumber(5001)));
    assert_eq!(r.stack.snmp().tcp.fastopen_listen_overflow, 1);
    // The first handshake completes (with data after the SYN): room again.
    r.send(
        seg(40001, PORT, TcpFlags::ACK, 2001, Some(sa.seq_number + 1)),
        &pattern(1000),
    );
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(3001)));
    assert_eq!(r.read(c).unwrap().len(), 1000);
    r.peer_syn(40004, 9000, None, &pattern(10));
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(9011)));
}

/// A Fast Open child whose SYN-ACK was lost: the client's plain SYN retransmission gets the
/// SYN-ACK again, still acknowledging the data the first SYN brought (Linux:
/// `tcp_check_req` → `inet_rtx_syn_ack`).
#[test]
fn server_answers_a_retransmitted_syn_with_the_syn_ack_again() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(2));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    r.peer_syn(40001, 1000, Some(valid), &pattern(10));
    let (sa, _) = r.one();
    r.peer_syn(40001, 1000, None, &[]);
    let (again, _) = r.one();
    assert_eq!(again.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(again.seq_number, sa.seq_number);
    assert_eq!(again.ack_number, Some(SeqNumber(1011)));
    let (c, _) = r.stack.accept(l).unwrap();
    assert_eq!(r.read(c), Ok(pattern(10)), "delivered once");
    assert_eq!(r.read(c), Err(Errno::EAGAIN));
}

/// server/reset-before-accept.pkt: a child reset before accept is still handed out; its data
/// is read, then the reset.
#[test]
fn server_child_reset_before_accept_keeps_its_data() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(2));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    r.peer_syn(40001, 1000, Some(valid), &pattern(10));
    r.one();
    r.send(
        seg(40001, PORT, TcpFlags::RST | TcpFlags::ACK, 1011, None),
        &[],
    );
    assert!(r.drain().is_empty());
    let (c, _) = r.stack.accept(l).unwrap();
    assert!(r.syn_data(c));
    assert_eq!(r.read(c), Ok(pattern(10)));
    assert_eq!(r.read(c), Err(Errno::ECONNRESET));
}

/// server/icmp-before-accept.pkt, unread-data-closed-trigger-rst.pkt,
/// listener-closed-trigger-rst.pkt: an ICMP error for a child before accept leaves it in the
/// queue with its data and the error; closing a child with unread data, or the listener with
/// a child queued, resets the client.
#[test]
fn server_child_errors_and_closes() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(4));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    r.peer_syn(40001, 0, Some(valid), &pattern(10));
    let (sa, _) = r.one();
    // Port unreachable (a hard error) quoting our segment `quoted`.
    let unreachable = |quoted: &TcpRepr| {
        let mut icmp = vec![3u8, 3, 0, 0, 0, 0, 0, 0];
        let mut ip = vec![0u8; 20];
        Ipv4Repr {
            src_addr: US,
            dst_addr: PEER,
            protocol: IpProtocol::TCP,
            payload_len: 40,
            ttl: 64,
            tos: 0,
            ident: 9,
            dont_frag: true,
        }
        .emit(&mut ip[..]);
        icmp.extend_from_slice(&ip);
        let mut tcp = vec![0u8; quoted.header_len()];
        quoted.emit(&mut tcp);
        icmp.extend_from_slice(&tcp[..8]);
        icmp
    };
    // server/icmp-before-accept.pkt: one quoting a sequence number never sent is ignored
    // and counted (OutOfWindowIcmps).
    let mut beyond = sa;
    beyond.seq_number = sa.seq_number + 5000;
    r.icmp_raw(&unreachable(&beyond));
    assert_eq!(r.stack.snmp().tcp.out_of_window_icmps, 1);
    let c = r.stack.accept(l).unwrap().0;
    assert_eq!(r.stack.tcp_state(c), Some(TcpState::SynReceived));
    r.icmp_raw(&unreachable(&sa));
    assert_eq!(r.stack.snmp().tcp.out_of_window_icmps, 1);
    assert!(r.syn_data(c));
    assert_eq!(r.read(c), Ok(pattern(10)));
    assert_eq!(r.read(c), Err(Errno::ECONNREFUSED));
    let now = r.now;
    assert_eq!(r.stack.send(c, b"x", now), Err(Errno::EPIPE));

    // Closing a child whose data is unread resets.
    r.peer_syn(40002, 0, Some(valid), &pattern(10));
    let (sa, _) = r.one();
    let (c, _) = r.stack.accept(l).unwrap();
    r.stack.close(c, now).unwrap();
    let (rst, _) = r.one();
    assert_eq!(rst.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(
        (rst.seq_number, rst.ack_number),
        (sa.seq_number + 1, Some(SeqNumber(11)))
    );

    // Closing the listener resets a child still queued.
    r.peer_syn(40003, 0, Some(valid), &pattern(10));
    let (sa, _) = r.one();
    r.stack.close(l, now).unwrap();
    let (rst, _) = r.one();
    assert_eq!(rst.flags, TcpFlags::RST | TcpFlags::ACK);
    assert_eq!(rst.seq_number, sa.seq_number + 1);
}

/// A Fast Open child that ends before its handshake completes (a reset) leaves the Fast Open
/// queue: the next SYN with data is taken again.
#[test]
fn server_queue_slot_is_freed_when_a_child_dies() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(1));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    r.peer_syn(40001, 1000, Some(valid), &pattern(10));
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(1011)));
    r.peer_syn(40002, 2000, Some(valid), &pattern(10));
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(2001)), "queue full");
    assert_eq!(r.stack.snmp().tcp.fastopen_listen_overflow, 1);
    r.send(
        seg(40001, PORT, TcpFlags::RST | TcpFlags::ACK, 1011, None),
        &[],
    );
    r.drain();
    r.peer_syn(40003, 3000, Some(valid), &pattern(10));
    assert_eq!(r.one().0.ack_number, Some(SeqNumber(3011)), "slot freed");
    // Both Fast Open children are handed out; the reset one reports it after its data.
    let (a, _) = r.stack.accept(l).unwrap();
    assert_eq!(r.read(a), Ok(pattern(10)));
    assert_eq!(r.read(a), Err(Errno::ECONNRESET));
    let (b, _) = r.stack.accept(l).unwrap();
    assert_eq!(r.read(b), Ok(pattern(10)));
}

/// Key rotation: a cookie made with the previous key (now the backup) still opens, and the
/// SYN-ACK hands out the new cookie (Linux: TCPFastOpenPassiveAltKey).
#[test]
fn server_backup_key_accepts_old_cookies_and_hands_out_new_ones() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(4));
    let old = FastOpenKeys::parse(KEY).unwrap();
    let old_cookie = old.cookie_gen(PEER, US);
    let new = FastOpenKeys::parse(&format!("1-2-3-4,{KEY}")).unwrap();
    r.stack.set_tcp_fastopen_keys(new);
    r.peer_syn(40001, 1000, Some(old_cookie), &pattern(10));
    let (sa, _) = r.one();
    assert_eq!(sa.ack_number, Some(SeqNumber(1011)));
    assert_eq!(sa.fastopen, Some(new.cookie_gen(PEER, US)));
    assert!(r.stack.accept(l).is_ok());
    assert_eq!(r.stack.snmp().tcp.fastopen_passive_altkey, 1);
    // A listener's own key (TCP_FASTOPEN_KEY) overrides the stack's.
    let now = r.now;
    r.stack
        .setsockopt(
            l,
            SockOpt::FastOpenKey {
                primary: old.primary,
                backup: None,
            },
            now,
        )
        .unwrap();
    r.peer_syn(40002, 2000, Some(FastOpenCookie::request(false)), &[]);
    assert_eq!(r.one().0.fastopen, Some(old_cookie));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Random SYNs and ACKs, with random options (a Fast Open option, valid cookie or not,
    /// often among them) and data, at a Fast Open listener: nothing panics, the Fast Open
    /// and accept queues stay bounded, and whatever a child accepted is readable.
    #[test]
    fn random_fastopen_syns_stay_bounded(
        segs in proptest::collection::vec(
            (0u16..6, any::<u8>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40),
             0usize..300, 0u8..4),
            1..40),
        no_cookie in any::<bool>(),
    ) {
        let mut r = Rig::new(if no_cookie { 0x202 } else { 0x2 });
        let l = r.listener(Some(3));
        let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
        for (port, flags, seq, mut opts, len, fo) in segs {
            // Make a Fast Open option likely: a request, the valid cookie, or a bad one.
            let prefix: Vec<u8> = match fo {
                0 => vec![34, 2],
                1 => [&[34u8, 10][..], valid.bytes()].concat(),
                2 => vec![254, 12, 0xf9, 0x89, 1, 2, 3, 4, 5, 6, 7, 8],
                _ => Vec::new(),
            };
            opts.splice(0..0, prefix);
            let flags = flags & 0x3f | if fo < 3 { 0x02 } else { 0 };
            r.send_raw(40000 + port, flags, seq, seq ^ 0x5555, &opts, &pattern(len));
            r.drain();
        }
        // One listener plus at most backlog (8) queued and 8 half-open children.
        let n = r.stack.sockets_info().len();
        prop_assert!(n <= 1 + 8 + 8, "{n} sockets");
        let mut queued = 0;
        while let Ok((c, _)) = r.stack.accept(l) {
            queued += 1;
            let _ = r.read(c);
        }
        prop_assert!(queued <= 8);
        prop_assert!(r.stack.snmp().tcp.fastopen_passive <= 40);
    }

    /// Random SYN-ACKs (random options, data, acknowledgment numbers) to a Fast Open client:
    /// nothing panics and the cache stays one entry.
    #[test]
    fn random_syn_acks_to_a_fastopen_client(
        acks in proptest::collection::vec(
            (any::<u8>(), any::<u32>(), proptest::collection::vec(any::<u8>(), 0..40), 0usize..200),
            1..10),
    ) {
        let mut r = Rig::new(1);
        r.warm(&[1, 2, 3, 4], 1460);
        let s = r.sock();
        let _ = r.fastopen(s, &pattern(2000));
        let (syn, _) = r.one();
        for (flags, off, opts, len) in acks {
            let mut raw = Vec::new();
            raw.extend_from_slice(&opts);
            let ack = syn.seq_number.0.wrapping_add(off % 3000);
            r.send_raw_to(syn.src_port, flags | 0x12, 5000, ack, &raw, &pattern(len));
            r.drain();
        }
        prop_assert!(r.stack.tcp_fastopen_cache().len() <= 1);
    }
}

/// client/syn-data-only-syn-acked.pkt's last case: a blocking sendto(6000) whose SYN carried
/// 1420 bytes the SYN-ACK did not acknowledge: the SYN's data goes again, then the rest.
#[test]
fn client_sends_the_rest_after_resending_the_syn_data() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 1460);
    let s = r.sock();
    let data = pattern(6000);
    assert_eq!(r.fastopen(s, &data), Ok(1420));
    let (syn, _) = r.one();
    r.synack(&syn, 0, 1460, None);
    let now = r.now;
    assert_eq!(r.stack.send(s, &data[1420..], now), Ok(4580));
    let out = r.drain();
    let first: Vec<u32> = out
        .iter()
        .map(|(h, _)| (h.seq_number - syn.seq_number) as u32)
        .collect();
    let sent: usize = out.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(first[0], 1, "{}", summary(&out));
    assert_eq!(out[0].1.len(), 1420);
    // Everything, the last runt too: no earlier small segment is unacknowledged (Nagle
    // as Linux has it, Minshall's variant; the resent SYN data does not count).
    assert_eq!(sent, 6000, "{}", summary(&out));
    assert!(
        first.windows(2).all(|w| w[0] < w[1]),
        "in order, none twice"
    );
}

/// client/synack-data.pkt's last case: a SYN-ACK (with data) echoing a timestamp we never
/// sent is answered with a reset and the connection keeps waiting; a later valid SYN-ACK
/// establishes it (Linux: PAWSActive).
#[test]
fn client_resets_a_syn_ack_with_a_bad_timestamp_echo() {
    let mut r = Rig::new(1);
    r.stack.tcp_config_mut().timestamps = true;
    let s = r.sock();
    let now = r.now;
    assert_eq!(
        r.stack.connect(s, SocketAddrV4::new(PEER, PORT), now),
        Err(Errno::EINPROGRESS)
    );
    let (syn, _) = r.one();
    let (tsval, _) = syn.timestamp.expect("timestamps offered");
    let mut sa = seg(
        PORT,
        syn.src_port,
        TcpFlags::SYN | TcpFlags::ACK,
        1_000_000,
        Some(syn.seq_number + 1),
    );
    sa.max_seg_size = Some(1040);
    sa.timestamp = Some((1_000_000, tsval.wrapping_add(9999)));
    r.send(sa, &pattern(100));
    let (rst, _) = r.one();
    assert_eq!(rst.flags, TcpFlags::RST);
    assert_eq!(rst.seq_number, syn.seq_number + 1);
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::SynSent));
    assert_eq!(r.stack.snmp().tcp.paws_active_rejected, 1);
    sa.timestamp = Some((1_000_000, tsval));
    r.send(sa, &[]);
    let (ack, _) = r.one();
    assert_eq!(ack.ack_number, Some(SeqNumber(1_000_001)));
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::Established));
}

/// server/pure-syn-data.pkt's sequence: a listener with SO_REUSEADDR accepts a connection and
/// closes; a new socket with SO_REUSEADDR binds the same port while the accepted connection
/// lives (children inherit SO_REUSEADDR, as Linux's `sk_clone_lock` copies it).
#[test]
fn relisten_on_a_port_whose_accepted_child_lives() {
    let mut r = Rig::new(0x2);
    let now = r.now;
    let l = r.sock();
    r.stack
        .setsockopt(l, SockOpt::ReuseAddr(true), now)
        .unwrap();
    r.stack
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
        .unwrap();
    r.stack.listen(l, 1).unwrap();
    r.peer_syn(40001, 999_000, None, &pattern(40));
    let (sa, _) = r.one();
    assert_eq!(
        sa.ack_number,
        Some(SeqNumber(999_001)),
        "plain SYN data is not taken"
    );
    r.send(
        seg(40001, PORT, TcpFlags::ACK, 999_001, Some(sa.seq_number + 1)),
        &[],
    );
    let (_c, _) = r.stack.accept(l).unwrap();
    r.stack.close(l, now).unwrap();
    let l2 = r.sock();
    r.stack
        .setsockopt(l2, SockOpt::ReuseAddr(true), now)
        .unwrap();
    assert_eq!(
        r.stack
            .bind(l2, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT)),
        Ok(())
    );
    r.stack.listen(l2, 1).unwrap();
}

/// client/syn-data-partial-or-over-ack.pkt's first case: SYN-data only partly acked with a
/// smaller MSS is retransmitted at once and whole (the runt tail too, Nagle or not),
/// counted as retransmissions, before new data.
#[test]
fn client_retransmits_the_unacked_syn_data_whole() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 1460);
    let s = r.sock();
    let data = pattern(4000);
    assert_eq!(r.fastopen(s, &data), Ok(1420));
    let (syn, _) = r.one();
    r.synack(&syn, 100, 1000, None);
    let out = r.drain();
    let segs: Vec<(u32, usize)> = out
        .iter()
        .map(|(h, d)| ((h.seq_number - syn.seq_number) as u32, d.len()))
        .collect();
    assert_eq!(segs, vec![(101, 1000), (1101, 320)], "{}", summary(&out));
    assert!(out[1].0.flags.contains(TcpFlags::PSH));
    assert_eq!(out[0].1, data[100..1100]);
    let sk = r.stack.tcp_sock(s).unwrap();
    assert_eq!(sk.rtx.retrans_out, 1320);
    assert_eq!(sk.total_retrans, 2);
}

/// client/blocking-sendto.pkt and blocking-connect-bypass.pkt: with a writer waiting for
/// the connection (data left after the SYN's), the SYN-ACK's ACK rides on that data; the
/// exchange then counts as interactive, so the answer's ACK is delayed too.
#[test]
fn client_synack_leaves_its_ack_to_a_waiting_writer() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 940);
    let s = r.sock();
    let data = pattern(1900);
    assert_eq!(r.fastopen(s, &data), Ok(900));
    let (syn, _) = r.one();
    r.stack.tcp_write_pending(s, true);
    let irs = r.synack(&syn, 900, 1460, None);
    assert!(r.drain().is_empty(), "no bare ACK for the SYN-ACK");
    r.stack.tcp_write_pending(s, false);
    let now = r.now;
    assert_eq!(r.stack.send(s, &data[900..], now), Ok(1000));
    let (d, payload) = r.one();
    assert_eq!((d.ack_number, payload.len()), (Some(irs), 1000));
    assert!(r.stack.tcp_sock(s).unwrap().pingpong);
    // The answer: no ACK at once (it waits for the next write, or the delayed-ACK timer).
    let mut a = seg(
        PORT,
        syn.src_port,
        TcpFlags::ACK | TcpFlags::PSH,
        5001,
        Some(d.seq_number + 1000),
    );
    a.window_len = 257;
    r.send(a, &pattern(500));
    assert!(r.drain().is_empty());
    // (The warm-up socket's FIN retransmissions aside.)
    let out: Out = r
        .advance(Duration::from_millis(250))
        .into_iter()
        .filter(|(h, _)| h.src_port == syn.src_port)
        .collect();
    assert_eq!(out.len(), 1, "{}", summary(&out));
    assert_eq!(out[0].0.ack_number, Some(irs + 500));
    assert!(
        !r.stack.tcp_sock(s).unwrap().pingpong,
        "a missed delayed ACK ends it"
    );

    // Without a waiting writer the SYN-ACK is acknowledged at once.
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(100)), Ok(100));
    let (syn, _) = r.one();
    r.synack(&syn, 100, 1460, None);
    assert_eq!(r.one().0.flags, TcpFlags::ACK);
}

/// client/*-errnos.pkt: TCP_SYNCNT bounds the SYN retransmissions of one socket.
#[test]
fn client_syncnt_gives_up_after_its_retransmissions() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 1460);
    let s = r.sock();
    let now = r.now;
    assert_eq!(
        r.stack.setsockopt(s, SockOpt::SynCnt(0), now),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        r.stack.setsockopt(s, SockOpt::SynCnt(128), now),
        Err(Errno::EINVAL)
    );
    r.stack.setsockopt(s, SockOpt::SynCnt(1), now).unwrap();
    assert_eq!(r.fastopen(s, &pattern(2000)), Ok(1420));
    let (syn, _) = r.one();
    // (The warm-up socket's FIN retransmissions aside.)
    let ours = |out: Out| -> Out {
        out.into_iter()
            .filter(|(h, _)| h.src_port == syn.src_port)
            .collect()
    };
    let out = ours(r.advance(Duration::from_millis(1100)));
    assert_eq!(out.len(), 1, "one retransmission: {}", summary(&out));
    assert_eq!(out[0].1.len(), 0);
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::SynSent));
    let out = ours(r.advance(Duration::from_millis(2100)));
    assert!(out.is_empty(), "{}", summary(&out));
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::Closed));
    let now = r.now;
    assert_eq!(r.stack.send(s, b"x", now), Err(Errno::ETIMEDOUT));
    assert!(!r.syn_data(s));
}

/// client/simultaneous-fast-open.pkt: crossing SYNs. Our SYN-ACK goes without the SYN's
/// data, which stays outstanding; the peer's duplicate SYN-ACK gets a D-SACK for its SYN.
#[test]
fn client_simultaneous_open_keeps_the_syn_data_outstanding() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 1460);
    let s = r.sock();
    assert_eq!(r.fastopen(s, &pattern(1000)), Ok(1000));
    let (syn, _) = r.one();
    let mut peer = seg(PORT, syn.src_port, TcpFlags::SYN, 1234, None);
    peer.max_seg_size = Some(1040);
    peer.sack_permitted = true;
    peer.window_scale = Some(6);
    r.send(peer, &pattern(500));
    let (sa, d) = r.one();
    assert_eq!(sa.flags, TcpFlags::SYN | TcpFlags::ACK);
    assert_eq!(
        (sa.seq_number, sa.ack_number),
        (syn.seq_number, Some(SeqNumber(1235)))
    );
    assert!(d.is_empty());
    let mut dup = seg(
        PORT,
        syn.src_port,
        TcpFlags::SYN | TcpFlags::ACK,
        1234,
        Some(syn.seq_number + 1001),
    );
    dup.max_seg_size = Some(940);
    dup.sack_permitted = true;
    dup.window_scale = Some(6);
    r.send(dup, &[]);
    let (a, _) = r.one();
    assert_eq!(a.seq_number, syn.seq_number + 1001, "after the SYN's data");
    assert_eq!(
        a.sack_ranges[0],
        Some((SeqNumber(1234), SeqNumber(1235))),
        "D-SACK of the duplicate SYN"
    );
    let mut d = seg(
        PORT,
        syn.src_port,
        TcpFlags::ACK | TcpFlags::PSH,
        1235,
        Some(syn.seq_number + 1000),
    );
    d.window_len = 257;
    r.send(d, &pattern(500));
    assert_eq!(r.stack.tcp_state(s), Some(TcpState::Established));
    assert_eq!(r.read(s).unwrap(), pattern(500));
}

/// client/syn-data-only-syn-acked.pkt's last case: the SYN's data, resent after a SYN-ACK
/// that acknowledged only the SYN, is the one hole when everything after it is SACKed: it
/// goes again at once (RACK: sent before the SACKed data, an RTT ago), not after an RTO.
#[test]
fn resent_syn_data_left_as_the_only_hole_goes_again_without_an_rto() {
    let mut r = Rig::new(1);
    r.warm(&[0x12, 0x34, 0xab, 0xcd], 1460);
    let s = r.sock();
    let data = pattern(6000);
    assert_eq!(r.fastopen(s, &data), Ok(1420));
    let (syn, _) = r.one();
    r.now += Duration::from_millis(20);
    r.synack(&syn, 0, 1460, None);
    let now = r.now;
    assert_eq!(r.stack.send(s, &data[1420..], now), Ok(4580));
    let out = r.drain();
    assert_eq!(
        out.iter().map(|(_, d)| d.len()).sum::<usize>(),
        6000,
        "{}",
        summary(&out)
    );
    let port = syn.src_port;
    let base = syn.seq_number.0.wrapping_add(1);
    r.now += Duration::from_millis(20);
    // SACK 1420..6000 (relative to the first data byte).
    let mut opts = vec![1u8, 1, 5, 10];
    opts.extend_from_slice(&base.wrapping_add(1420).to_be_bytes());
    opts.extend_from_slice(&base.wrapping_add(6000).to_be_bytes());
    r.send_raw_to(port, 0x10, 5001, base, &opts, &[]);
    let out = r.drain();
    let re: Vec<_> = out.iter().filter(|(_, d)| !d.is_empty()).collect();
    assert_eq!(re.len(), 1, "the hole is resent at once: {}", summary(&out));
    assert_eq!((re[0].0.seq_number.0, re[0].1.len()), (base, 1420));
    assert_eq!(r.stack.snmp().tcp.timeouts, 0);
}

/// server/opt34/simple3.pkt: a Fast Open child may fill the SYN's whole window before its
/// SYN-ACK is acknowledged; the window counts from the first data byte, not from the
/// SYN-ACK (Linux: `tcp_create_openreq_child` sets the child's `snd_una` past it).
#[test]
fn server_child_fills_the_syn_window_before_the_handshake_ends() {
    let mut r = Rig::new(0x2);
    let l = r.listener(Some(4));
    let valid = FastOpenKeys::parse(KEY).unwrap().cookie_gen(PEER, US);
    let mut syn = seg(40005, PORT, TcpFlags::SYN, 9000, None);
    syn.max_seg_size = Some(1000);
    syn.sack_permitted = true;
    syn.window_scale = Some(7);
    syn.fastopen = Some(valid);
    syn.window_len = 4000;
    r.send(syn, &pattern(10));
    let (sa, _) = r.one();
    let (c, _) = r.stack.accept(l).expect("accepted before the handshake");
    let now = r.now;
    assert_eq!(r.stack.send(c, &pattern(10000), now), Ok(10000));
    let out = r.drain();
    let sent: usize = out.iter().map(|(_, d)| d.len()).sum();
    assert_eq!(sent, 4000, "the SYN's whole window: {}", summary(&out));
    assert_eq!(out[0].0.seq_number, sa.seq_number + 1);
}
