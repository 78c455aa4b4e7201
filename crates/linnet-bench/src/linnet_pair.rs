//! Two Linnet stacks on the shared in-memory link, and the three TCP workloads on them.
//!
//! The driver loop is what `linnet::runtime` does for a real device, per stack and per
//! iteration: hand every frame waiting on the link to `Stack::receive`, run `Stack::poll`, then
//! drain `Stack::take_tx` onto the link. Frames cross as the packet buffers themselves (no
//! copy), the way a NIC DMAs into buffers its driver gave it; the two stacks' pools are then
//! levelled so the sender's never runs dry (a shared page pool).
//!
//! In offload mode ([`LinnetPair::new_with`]) both interfaces advertise what a veth pair (or
//! a TAP with virtio-net headers) offers, TSO and checksum offload, and the driver loop
//! carries each frame's checksum state and GSO size across the link through a virtio-net
//! header, as veth hands the skb itself to its peer: TCP then sends 64 KiB super-frames with
//! partial checksums, and the receiver takes them whole.

use crate::link::{FrameLink, LinkRef};
use crate::workload::{BulkResult, Clock, CountResult};
use linnet::buf::{BufPool, CsumState, Meta, PacketBuf, LARGE_BUF_SIZE, MAX_HEADER};
use linnet::device::features::NetdevFeatures;
use linnet::driver::virtio_net::VnetHdrRepr;
use linnet::transport::tcp::TcpState;
use linnet::Errno;
use linnet::{EthernetAddress, Ipv4Cidr};
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, SockId, SockOpt, SockType};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// Address of side 0 (the client).
pub const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// Address of side 1 (the server).
pub const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The server's port.
pub const PORT: u16 = 5001;
/// Idle buffers each stack's pool keeps.
const POOL_IDLE: usize = 1024;
/// Bytes of buffers each pool starts with: two 256 KiB windows.
const PREFILL_BYTES: usize = 512 * 1024;
/// Large (64 KiB) buffers each pool starts with in offload mode: two windows of
/// super-frames.
const PREFILL_LARGE: usize = 2 * 256 * 1024 / 65536;

/// Two stacks joined by a [`FrameLink`].
pub struct LinnetPair {
    /// Side 0 (client) and side 1 (server).
    pub stacks: [Stack; 2],
    ifindex: [u32; 2],
    /// The link.
    pub link: LinkRef<PacketBuf>,
    clock: Clock,
    /// The time the last [`LinnetPair::step`] ran at: application calls between steps use
    /// it, so Linnet reads the clock once per step, as the smoltcp loop does.
    last: Instant,
    /// Offload mode: TSO + checksum offload on both interfaces, and frames keep their
    /// checksum state and GSO size across the link.
    offload: bool,
    /// Receive through GRO (`Stack::napi_gro_receive`, on by default as in Linux's NAPI):
    /// each side merges the in-order segments of a flow that arrive in one step.
    pub gro: bool,
    /// Frames received with a partial checksum (offload mode).
    pub rx_csum_partial: u64,
    /// Frames whose offload metadata a virtio-net header could not carry (dropped).
    pub rx_bad_offload: u64,
}

impl LinnetPair {
    /// Two stacks with interfaces of this MTU, addresses [`A`] and [`B`], links up, each
    /// with the other as a permanent neighbour. `tweak` adjusts both configurations.
    pub fn new(mtu: usize, tweak: impl Fn(&mut StackConfig)) -> LinnetPair {
        LinnetPair::new_with(mtu, false, tweak)
    }

    /// As [`LinnetPair::new`]; with `offload`, both interfaces get the features of a
    /// vnet-header device ([`NetdevFeatures::VNET`]: TSO and checksum offload, what
    /// `TapDevice::open_offload` reports and a veth pair offers) and the link carries GSO
    /// super-frames with partial checksums.
    pub fn new_with(mtu: usize, offload: bool, tweak: impl Fn(&mut StackConfig)) -> LinnetPair {
        let link = FrameLink::new(mtu);
        let clock = Clock::new();
        let now = clock.linnet();
        let macs = [
            EthernetAddress::local_from_seed(1),
            EthernetAddress::local_from_seed(2),
        ];
        let addrs = [A, B];
        let mk = |side: usize| {
            let mut cfg = StackConfig {
                seed: side as u64 + 1,
                ..StackConfig::default()
            };
            // Socket buffers of the same fixed size as smoltcp's (256 KiB each way): no
            // autotuning here, so both stacks run with the same windows.
            cfg.tcp.rmem_max = cfg.tcp.rmem_default;
            cfg.tcp.wmem_max = cfg.tcp.wmem_default;
            tweak(&mut cfg);
            let mut s = Stack::new(cfg);
            // Buffers big enough for a whole frame of this MTU, so jumbo frames need no
            // allocation either.
            let size = (MAX_HEADER + mtu + 64).max(linnet::buf::DEFAULT_BUF_SIZE);
            *s.pool_mut() = BufPool::new(size, POOL_IDLE);
            // Fill the pool up front, as a driver fills its receive ring when the device
            // opens: enough buffers for two windows in flight (frames now cross the link as
            // pool buffers), so the measured steady state never grows it.
            let prefill = (PREFILL_BYTES / size).clamp(16, POOL_IDLE);
            let bufs: Vec<_> = (0..prefill).map(|_| s.pool_mut().get(0)).collect();
            for b in bufs {
                s.pool_mut().put(b);
            }
            if offload {
                // And the large buffers TCP builds super-frames in.
                let large: Vec<_> = (0..PREFILL_LARGE)
                    .map(|_| s.pool_mut().get_sized(LARGE_BUF_SIZE, 0))
                    .collect();
                for b in large {
                    s.pool_mut().put(b);
                }
            }
            let ifx = s.add_interface("eth0", macs[side], mtu);
            if offload {
                s.set_dev_features(ifx, NetdevFeatures::VNET);
            }
            s.add_addr(ifx, Ipv4Cidr::new(addrs[side], 24).expect("prefix"), now)
                .expect("address");
            s.set_link_up(ifx, true, now).expect("link up");
            s.add_neighbour(ifx, addrs[1 - side], macs[1 - side], now)
                .expect("neighbour");
            (s, ifx)
        };
        let (s0, i0) = mk(0);
        let (s1, i1) = mk(1);
        let mut p = LinnetPair {
            stacks: [s0, s1],
            ifindex: [i0, i1],
            link,
            clock,
            last: now,
            offload,
            gro: true,
            rx_csum_partial: 0,
            rx_bad_offload: 0,
        };
        // Let the gratuitous ARPs pass.
        p.step();
        p.step();
        p
    }

    /// The interface index of a side's link.
    pub fn ifindex(&self, side: usize) -> u32 {
        self.ifindex[side]
    }

    /// The time to pass to the stacks: that of the last step (the clock is read once per step).
    pub fn now(&self) -> Instant {
        self.last
    }

    /// One driver iteration for both stacks: receive everything waiting, poll, transmit.
    pub fn step(&mut self) {
        let now = self.clock.linnet();
        self.last = now;
        for side in 0..2 {
            let stack = &mut self.stacks[side];
            let ifx = self.ifindex[side];
            loop {
                let Some(mut buf) = self.link.borrow_mut().pop(side) else {
                    break;
                };
                if self.offload {
                    // What crosses a veth pair or a virtio-net header: the checksum state
                    // and GSO size, checked as a vnet-header driver checks them
                    // (`virtio_net_hdr_from_skb`, then `virtio_net_hdr_to_skb`).
                    let hdr = VnetHdrRepr::from_meta(&buf.meta, buf.data());
                    buf.meta = Meta::default();
                    match hdr.to_meta(buf.len()) {
                        Ok((csum, gso_size)) => {
                            self.rx_csum_partial +=
                                u64::from(matches!(csum, CsumState::Partial { .. }));
                            buf.meta.csum = csum;
                            buf.meta.gso_size = gso_size;
                        }
                        Err(_) => {
                            self.rx_bad_offload += 1;
                            stack.recycle(buf);
                            continue;
                        }
                    }
                } else {
                    // What a driver's receive descriptor starts from: nothing but the bytes.
                    buf.meta = Meta::default();
                }
                if self.gro {
                    stack.napi_gro_receive(ifx, buf, now);
                } else {
                    stack.receive(ifx, buf, now);
                }
            }
            // The end of the batch (a NAPI poll): deliver what GRO holds.
            stack.napi_gro_flush(ifx, now);
            stack.poll(now);
            while let Some(buf) = stack.take_tx(ifx, now) {
                let rejected = self.link.borrow_mut().push(side, buf);
                if let Err(buf) = rejected {
                    stack.recycle(buf);
                }
            }
        }
        self.level_pools();
    }

    /// Move idle buffers from the fuller pool to the emptier one, as a shared page pool
    /// would: a bulk sender's buffers end up in the receiver's pool.
    fn level_pools(&mut self) {
        let [a, b] = &mut self.stacks;
        let (from, to) = if a.pool_mut().idle() > b.pool_mut().idle() {
            (a, b)
        } else {
            (b, a)
        };
        while from.pool_mut().idle() > to.pool_mut().idle() + 1 {
            let buf = from.pool_mut().get(0);
            to.pool_mut().put(buf);
        }
        // The same for the large buffers of GSO super-frames (offload mode).
        let [a, b] = &mut self.stacks;
        let (from, to) = if a.pool_mut().large_idle() > b.pool_mut().large_idle() {
            (a, b)
        } else {
            (b, a)
        };
        while from.pool_mut().large_idle() > to.pool_mut().large_idle() + 1 {
            let buf = from.pool_mut().get_sized(LARGE_BUF_SIZE, 0);
            to.pool_mut().put(buf);
        }
    }

    /// Listen on side 1, connect from side 0, and step until both ends are established.
    /// Returns (client, server, listener).
    pub fn establish(&mut self) -> (SockId, SockId, SockId) {
        let now = self.now();
        let l = listen(&mut self.stacks[1]);
        let c = self.stacks[0].socket(SockType::Stream).expect("socket");
        let r = self.stacks[0].connect(c, SocketAddrV4::new(B, PORT), now);
        assert_eq!(r, Err(Errno::EINPROGRESS), "connect");
        for _ in 0..10_000 {
            self.step();
            if let Ok((s, _)) = self.stacks[1].accept(l) {
                if self.stacks[0].tcp_state(c) == Some(TcpState::Established) {
                    return (c, s, l);
                }
            }
        }
        panic!("linnet: handshake did not complete");
    }
}

fn listen(s: &mut Stack) -> SockId {
    let l = s.socket(SockType::Stream).expect("socket");
    s.bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, PORT))
        .expect("bind");
    s.listen(l, 128).expect("listen");
    l
}

/// Bulk transfer from side 0 to side 1 for `dur` after `warmup`; with `offload`, on the
/// veth-like link ([`LinnetPair::new_with`]).
pub fn bulk(mtu: usize, offload: bool, gro: bool, warmup: Duration, dur: Duration) -> BulkResult {
    let mut p = LinnetPair::new_with(mtu, offload, |_| {});
    p.gro = gro;
    let (c, s, _) = p.establish();
    let data = vec![0x5au8; 256 * 1024];
    let mut rbuf = vec![0u8; 256 * 1024];
    let mut run = |p: &mut LinnetPair, d: Duration| -> (u64, f64, u64, u64) {
        let t0 = crate::workload::CpuTimer::start();
        let frames0 = p.link.borrow().total_frames();
        let allocs0 = crate::alloc::count();
        let mut got = 0u64;
        let mut iter = 0u32;
        loop {
            let now = p.now();
            loop {
                match p.stacks[0].send(c, &data, now) {
                    Ok(_) => {}
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("linnet send: {e}"),
                }
            }
            p.step();
            // Time never runs backwards for a stack: calls after a step use that step's time
            // (an older one would stamp ACKs with timestamps that PAWS then rejects).
            let now = p.now();
            loop {
                match p.stacks[1].recv(s, &mut rbuf, MsgFlags::default(), now) {
                    Ok(0) => panic!("linnet: unexpected EOF"),
                    Ok(n) => got += n as u64,
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("linnet recv: {e}"),
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
    let gso0 = p.link.borrow().gso_frames;
    let (bytes, secs, frames, allocs) = run(&mut p, dur);
    let link = p.link.borrow();
    BulkResult {
        bytes,
        secs,
        frames,
        allocs,
        drops: link.drops + p.rx_bad_offload,
        largest: link.largest,
        gso_frames: link.gso_frames - gso0,
    }
}

/// 1-byte request/response between side 0 and side 1 (TCP_NODELAY on both) for `dur`.
pub fn rr(dur: Duration) -> CountResult {
    let mut p = LinnetPair::new(1500, |_| {});
    let (c, s, _) = p.establish();
    let now = p.now();
    for (side, id) in [(0, c), (1, s)] {
        p.stacks[side]
            .setsockopt(id, SockOpt::NoDelay(true), now)
            .expect("nodelay");
    }
    let mut b = [0u8; 16];
    let t0 = crate::workload::CpuTimer::start();
    let frames0 = p.link.borrow().total_frames();
    let mut count = 0u64;
    let mut outstanding = false;
    let mut loops = 0u64;
    loop {
        let now = p.now();
        if !outstanding {
            let n = p.stacks[0].send(c, &[1], now).expect("linnet send");
            assert_eq!(n, 1);
            outstanding = true;
        }
        p.step();
        let now = p.now();
        if let Ok(n) = p.stacks[1].recv(s, &mut b, MsgFlags::default(), now) {
            assert_eq!(n, 1, "linnet: one request byte");
            p.stacks[1].send(s, &b[..1], now).expect("linnet reply");
        }
        p.step();
        let now = p.now();
        if let Ok(n) = p.stacks[0].recv(c, &mut b, MsgFlags::default(), now) {
            assert_eq!(n, 1, "linnet: one reply byte");
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

/// Connection setup and teardown, one at a time: connect, accept, the client closes, the
/// server reads EOF and closes. TIME_WAIT is shortened to 100 ms and the ephemeral range
/// widened to 1024-65535 so that ports do not run out at this rate (smoltcp's client socket
/// is simply dropped in TIME_WAIT).
pub fn conns(dur: Duration) -> CountResult {
    let mut p = LinnetPair::new(1500, |c| {
        c.tcp.time_wait = Duration::from_millis(100);
        c.tcp.local_port_range = (1024, 65535);
    });
    let l = listen(&mut p.stacks[1]);
    let dst = SocketAddrV4::new(B, PORT);
    let mut b = [0u8; 16];
    let t0 = crate::workload::CpuTimer::start();
    let frames0 = p.link.borrow().total_frames();
    let mut count = 0u64;
    'outer: loop {
        let now = p.now();
        let c = p.stacks[0].socket(SockType::Stream).expect("socket");
        match p.stacks[0].connect(c, dst, now) {
            Err(Errno::EINPROGRESS) => {}
            r => panic!("linnet connect #{count}: {r:?} after {:?}", t0.elapsed()),
        }
        let mut server: Option<SockId> = None;
        let mut client_closed = false;
        for _ in 0..1000 {
            p.step();
            let now = p.now();
            if server.is_none() {
                server = p.stacks[1].accept(l).ok().map(|(s, _)| s);
            }
            if !client_closed && p.stacks[0].tcp_state(c) == Some(TcpState::Established) {
                p.stacks[0].close(c, now).expect("close");
                client_closed = true;
            }
            if let Some(s) = server {
                if let Ok(0) = p.stacks[1].recv(s, &mut b, MsgFlags::default(), now) {
                    p.stacks[1].close(s, now).expect("close");
                    // Let the last ACK through.
                    p.step();
                    count += 1;
                    if t0.elapsed() >= dur {
                        break 'outer;
                    }
                    continue 'outer;
                }
            }
        }
        panic!("linnet: connection {count} did not complete");
    }
    let frames = p.link.borrow().total_frames() - frames0;
    CountResult {
        count,
        frames,
        secs: t0.elapsed().as_secs_f64(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte `i` of the test stream: varies with the offset (a lost, repeated or reordered
    /// stretch shows), not periodic at any buffer or segment size.
    fn pattern(i: u64) -> u8 {
        (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8 ^ (i >> 11) as u8
    }

    /// Send `total` bytes of [`pattern`] from side 0 to side 1, checking every byte received.
    /// Returns the pair (for its link counters) and the bytes received.
    fn transfer(offload: bool, total: u64) -> (LinnetPair, u64) {
        let mut p = LinnetPair::new_with(1500, offload, |_| {});
        let (c, s, _) = p.establish();
        let mut sbuf = vec![0u8; 100_000];
        let mut rbuf = vec![0u8; 70_000];
        let (mut sent, mut got) = (0u64, 0u64);
        for _ in 0..1_000_000 {
            if got == total {
                break;
            }
            let now = p.now();
            while sent < total {
                let n = (total - sent).min(sbuf.len() as u64) as usize;
                for (k, b) in sbuf[..n].iter_mut().enumerate() {
                    *b = pattern(sent + k as u64);
                }
                match p.stacks[0].send(c, &sbuf[..n], now) {
                    Ok(k) => sent += k as u64,
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("send: {e}"),
                }
            }
            p.step();
            let now = p.now();
            loop {
                match p.stacks[1].recv(s, &mut rbuf, MsgFlags::default(), now) {
                    Ok(0) => panic!("unexpected EOF"),
                    Ok(n) => {
                        for (k, &b) in rbuf[..n].iter().enumerate() {
                            let at = got + k as u64;
                            assert_eq!(b, pattern(at), "byte {at} corrupted (offload {offload})");
                        }
                        got += n as u64;
                    }
                    Err(Errno::EAGAIN) => break,
                    Err(e) => panic!("recv: {e}"),
                }
            }
        }
        (p, got)
    }

    #[test]
    fn the_offload_link_carries_intact_gso_super_frames() {
        let total = 8 << 20;
        let (p, got) = transfer(true, total);
        assert_eq!(got, total, "bytes received equal bytes sent");
        let link = p.link.borrow();
        assert!(link.largest > 1514, "largest frame {} bytes", link.largest);
        assert!(link.largest <= 65535 + 14);
        assert!(link.gso_frames > 0);
        assert!(p.rx_csum_partial > 0, "checksums crossed partial");
        assert_eq!((link.drops, p.rx_bad_offload), (0, 0));
        // Super-frames: far fewer frames than MSS-sized segments would need.
        let segments = total / 1448;
        assert!(
            link.frames[1] < segments / 4,
            "{} data frames for {segments} segments' worth",
            link.frames[1]
        );
    }

    #[test]
    fn the_plain_link_never_carries_a_frame_over_the_mtu() {
        let total = 2 << 20;
        let (p, got) = transfer(false, total);
        assert_eq!(got, total, "bytes received equal bytes sent");
        let link = p.link.borrow();
        assert!(link.largest <= 1514, "largest frame {} bytes", link.largest);
        assert!(link.largest > 1400, "full-sized segments crossed");
        assert_eq!((link.gso_frames, link.drops, p.rx_csum_partial), (0, 0, 0));
        assert!(link.frames[1] >= total / 1460);
    }
}
