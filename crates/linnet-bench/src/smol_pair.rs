//! Two smoltcp interfaces on the shared in-memory link, and the same three TCP workloads.
//!
//! smoltcp's `phy::Device` here is a thin view of the same [`FrameLink`] Linnet uses: a
//! receive token lends smoltcp the queued frame, a transmit token hands it recycled frame
//! storage of the asked length and queues it. One `Interface::poll` per side per iteration,
//! with the application work between iterations, exactly as for Linnet.

use crate::link::{FrameLink, LinkRef, ETH_HLEN};
use crate::workload::{BulkResult, Clock, CountResult};
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr, Ipv4Address};
use std::time::Duration;

const PORT: u16 = 5001;
/// Socket buffer sizes: Linnet's defaults (`tcp_rmem`/`tcp_wmem` 256 KiB).
const SOCK_BUF: usize = 256 * 1024;

/// One end of the link as a smoltcp device.
pub struct SmolDev {
    link: LinkRef,
    side: usize,
}

/// A received frame lent to smoltcp.
pub struct SmolRx<'a> {
    frame: Vec<u8>,
    link: &'a LinkRef,
}

/// Room for one frame to send.
pub struct SmolTx<'a> {
    link: &'a LinkRef,
    side: usize,
}

impl phy::RxToken for SmolRx<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        let r = f(&self.frame);
        self.link.borrow_mut().recycle(self.frame);
        r
    }
}

impl phy::TxToken for SmolTx<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut frame = self.link.borrow_mut().frame(len);
        let r = f(&mut frame);
        self.link.borrow_mut().push_vec(self.side, frame);
        r
    }
}

impl Device for SmolDev {
    type RxToken<'a> = SmolRx<'a>;
    type TxToken<'a> = SmolTx<'a>;

    fn receive(&mut self, _now: SmolInstant) -> Option<(SmolRx<'_>, SmolTx<'_>)> {
        let frame = self.link.borrow_mut().pop(self.side)?;
        Some((
            SmolRx {
                frame,
                link: &self.link,
            },
            SmolTx {
                link: &self.link,
                side: self.side,
            },
        ))
    }

    fn transmit(&mut self, _now: SmolInstant) -> Option<SmolTx<'_>> {
        Some(SmolTx {
            link: &self.link,
            side: self.side,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = self.link.borrow().mtu() + ETH_HLEN;
        caps
    }
}

/// Two smoltcp interfaces with their sockets.
pub struct SmolPair {
    ifaces: [Interface; 2],
    devs: [SmolDev; 2],
    /// Socket sets of side 0 (client) and side 1 (server).
    pub sockets: [SocketSet<'static>; 2],
    /// The link.
    pub link: LinkRef,
    clock: Clock,
}

fn new_socket() -> tcp::Socket<'static> {
    tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0u8; SOCK_BUF]),
        tcp::SocketBuffer::new(vec![0u8; SOCK_BUF]),
    )
}

impl SmolPair {
    /// Two interfaces of this MTU at 192.0.2.1 and 192.0.2.2.
    pub fn new(mtu: usize) -> SmolPair {
        let link = FrameLink::new(mtu);
        let clock = Clock::new();
        let now = clock.smol();
        let mut devs = [
            SmolDev {
                link: link.clone(),
                side: 0,
            },
            SmolDev {
                link: link.clone(),
                side: 1,
            },
        ];
        let mk = |side: usize, dev: &mut SmolDev| {
            let mac = EthernetAddress([0x02, 0, 0, 0, 0, side as u8 + 1]);
            let mut cfg = Config::new(HardwareAddress::Ethernet(mac));
            cfg.random_seed = side as u64 + 1;
            let mut iface = Interface::new(cfg, dev, now);
            iface.update_ip_addrs(|a| {
                a.push(IpCidr::new(
                    IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, side as u8 + 1)),
                    24,
                ))
                .expect("address");
            });
            iface
        };
        let [d0, d1] = &mut devs;
        let ifaces = [mk(0, d0), mk(1, d1)];
        SmolPair {
            ifaces,
            devs,
            sockets: [SocketSet::new(vec![]), SocketSet::new(vec![])],
            link,
            clock,
        }
    }

    /// One iteration: each side's `Interface::poll` (ingress, then egress).
    pub fn step(&mut self) {
        let now = self.clock.smol();
        for side in 0..2 {
            self.ifaces[side].poll(now, &mut self.devs[side], &mut self.sockets[side]);
        }
    }

    /// A client socket on side 0 connecting to side 1 from `local_port`.
    pub fn connect(&mut self, local_port: u16) -> SocketHandle {
        let mut s = new_socket();
        s.connect(
            self.ifaces[0].context(),
            (IpAddress::Ipv4(Ipv4Address::new(192, 0, 2, 2)), PORT),
            local_port,
        )
        .expect("smoltcp connect");
        self.sockets[0].add(s)
    }

    /// A listening socket on side 1.
    pub fn listen(&mut self) -> SocketHandle {
        let mut s = new_socket();
        s.listen(PORT).expect("smoltcp listen");
        self.sockets[1].add(s)
    }

    /// Connect and step until both ends are established; returns (client, server).
    pub fn establish(&mut self) -> (SocketHandle, SocketHandle) {
        let srv = self.listen();
        let cli = self.connect(49152);
        for _ in 0..10_000 {
            self.step();
            let c = self.sockets[0].get::<tcp::Socket>(cli).state();
            let s = self.sockets[1].get::<tcp::Socket>(srv).state();
            if c == tcp::State::Established && s == tcp::State::Established {
                return (cli, srv);
            }
        }
        panic!("smoltcp: handshake did not complete");
    }
}

/// Bulk transfer from side 0 to side 1 for `dur` after `warmup`.
pub fn bulk(mtu: usize, warmup: Duration, dur: Duration) -> BulkResult {
    let mut p = SmolPair::new(mtu);
    let (c, s) = p.establish();
    let data = vec![0x5au8; SOCK_BUF];
    let mut rbuf = vec![0u8; SOCK_BUF];
    let mut run = |p: &mut SmolPair, d: Duration| -> (u64, f64, u64, u64) {
        let t0 = crate::workload::CpuTimer::start();
        let frames0 = p.link.borrow().total_frames();
        let allocs0 = crate::alloc::count();
        let mut got = 0u64;
        let mut iter = 0u32;
        loop {
            let cs = p.sockets[0].get_mut::<tcp::Socket>(c);
            while cs.can_send() {
                match cs.send_slice(&data) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => panic!("smoltcp send: {e}"),
                }
            }
            p.step();
            let ss = p.sockets[1].get_mut::<tcp::Socket>(s);
            while ss.can_recv() {
                match ss.recv_slice(&mut rbuf) {
                    Ok(0) => break,
                    Ok(n) => got += n as u64,
                    Err(e) => panic!("smoltcp recv: {e}"),
                }
            }
            iter += 1;
            if iter & 15 == 0 && t0.elapsed() >= d {
                break;
            }
        }
        let secs = t0.elapsed().as_secs_f64();
        let frames = p.link.borrow().total_frames() - frames0;
        (got, secs, frames, crate::alloc::count() - allocs0)
    };
    run(&mut p, warmup);
    let (bytes, secs, frames, allocs) = run(&mut p, dur);
    let link = p.link.borrow();
    BulkResult {
        bytes,
        secs,
        frames,
        allocs,
        drops: link.drops,
        largest: link.largest,
        gso_frames: link.gso_frames,
    }
}

/// 1-byte request/response (Nagle off on both) for `dur`.
pub fn rr(dur: Duration) -> CountResult {
    let mut p = SmolPair::new(1500);
    let (c, s) = p.establish();
    p.sockets[0]
        .get_mut::<tcp::Socket>(c)
        .set_nagle_enabled(false);
    p.sockets[1]
        .get_mut::<tcp::Socket>(s)
        .set_nagle_enabled(false);
    let mut b = [0u8; 16];
    let t0 = crate::workload::CpuTimer::start();
    let frames0 = p.link.borrow().total_frames();
    let mut count = 0u64;
    let mut outstanding = false;
    let mut loops = 0u64;
    loop {
        if !outstanding {
            let n = p.sockets[0]
                .get_mut::<tcp::Socket>(c)
                .send_slice(&[1])
                .expect("smoltcp send");
            assert_eq!(n, 1);
            outstanding = true;
        }
        p.step();
        let ss = p.sockets[1].get_mut::<tcp::Socket>(s);
        if ss.can_recv() {
            let n = ss.recv_slice(&mut b).expect("smoltcp recv");
            assert_eq!(n, 1, "smoltcp: one request byte");
            ss.send_slice(&b[..1]).expect("smoltcp reply");
        }
        p.step();
        let cs = p.sockets[0].get_mut::<tcp::Socket>(c);
        if cs.can_recv() {
            let n = cs.recv_slice(&mut b).expect("smoltcp recv");
            assert_eq!(n, 1, "smoltcp: one reply byte");
            outstanding = false;
            count += 1;
            if count & 63 == 0 && t0.elapsed() >= dur {
                break;
            }
        }
        loops += 1;
        if loops & 1023 == 0 && t0.elapsed() >= dur * 4 {
            break;
        }
    }
    let frames = p.link.borrow().total_frames() - frames0;
    CountResult {
        count,
        frames,
        secs: t0.elapsed().as_secs_f64(),
    }
}

/// Connection setup and teardown, one at a time, as Linnet's: connect, accept, the client
/// closes, the server sees the FIN and closes. smoltcp keeps a TIME_WAIT connection inside its
/// socket, so the client socket is dropped (and a new one made) once in TIME_WAIT; the
/// listening socket listens again once closed. Client ports cycle through 49152..65535.
pub fn conns(dur: Duration) -> CountResult {
    let mut p = SmolPair::new(1500);
    let srv = p.listen();
    let t0 = crate::workload::CpuTimer::start();
    let frames0 = p.link.borrow().total_frames();
    let mut count = 0u64;
    'outer: loop {
        let port = 49152 + (count % 16000) as u16;
        let cli = p.connect(port);
        let mut client_closed = false;
        let mut server_closed = false;
        for _ in 0..1000 {
            p.step();
            let cs = p.sockets[0].get_mut::<tcp::Socket>(cli);
            if !client_closed && cs.state() == tcp::State::Established {
                cs.close();
                client_closed = true;
            }
            let ss = p.sockets[1].get_mut::<tcp::Socket>(srv);
            if !server_closed && ss.state() == tcp::State::CloseWait {
                ss.close();
                server_closed = true;
            }
            if server_closed && ss.state() == tcp::State::Closed {
                ss.listen(PORT).expect("smoltcp listen");
                let st = p.sockets[0].get::<tcp::Socket>(cli).state();
                assert_eq!(st, tcp::State::TimeWait, "smoltcp client state");
                p.sockets[0].remove(cli);
                count += 1;
                if t0.elapsed() >= dur {
                    break 'outer;
                }
                continue 'outer;
            }
        }
        panic!("smoltcp: connection {count} did not complete");
    }
    let frames = p.link.borrow().total_frames() - frames0;
    CountResult {
        count,
        frames,
        secs: t0.elapsed().as_secs_f64(),
    }
}
