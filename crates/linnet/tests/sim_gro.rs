//! GRO between two stacks under virtual time: each stack receives the frames of a step as one
//! batch (`Stack::receive_batch`, a NAPI poll), so in-order segments of a flow merge before
//! TCP sees them. A transfer through a link that also drops, reorders and corrupts frames
//! arrives byte-exact, with far fewer segments through TCP than frames on the wire.

mod common;
use common::pattern;

use linnet::buf::PacketBuf;
use linnet::Errno;
use linnet::EthernetAddress;
use linnet::{Instant, Stack, StackConfig};
use linnet::{MsgFlags, Shutdown, SockType};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const A: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const B: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const MAC_A: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 1]);
const MAC_B: EthernetAddress = EthernetAddress([2, 0, 0, 0, 0, 2]);

fn pair() -> [(Stack, u32); 2] {
    let mk = |seed, mac, me: Ipv4Addr, peer, peer_mac| {
        let mut s = Stack::new(StackConfig {
            seed,
            ..StackConfig::default()
        });
        let i = s.add_interface("eth0", mac, 1500);
        s.add_addr(i, format!("{me}/24").parse().unwrap(), Instant::ZERO)
            .unwrap();
        s.set_link_up(i, true, Instant::ZERO).unwrap();
        s.add_neighbour(i, peer, peer_mac, Instant::ZERO).unwrap();
        (s, i)
    };
    [mk(1, MAC_A, A, B, MAC_B), mk(2, MAC_B, B, A, MAC_A)]
}

/// What the link did.
#[derive(Debug, Default)]
struct Impair {
    rng: u64,
    /// Per mille of frames dropped, swapped with the next, corrupted.
    drop: u64,
    swap: u64,
    corrupt: u64,
    frames: u64,
}

impl Impair {
    fn roll(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % 1000
    }
}

/// One step: each side's queued frames cross (impaired) and arrive as one batch.
fn shuttle(st: &mut [(Stack, u32); 2], now: Instant, imp: &mut Impair) {
    for from in 0..2 {
        let to = 1 - from;
        st[from].0.poll(now);
        let mut frames: Vec<PacketBuf> = Vec::new();
        while let Some(b) = st[from].0.take_tx(st[from].1, now) {
            imp.frames += 1;
            let mut copy = PacketBuf::from_slice(b.data(), 64);
            st[from].0.recycle(b);
            if imp.roll() < imp.drop {
                continue;
            }
            if imp.roll() < imp.corrupt {
                let n = copy.len();
                let at = 14 + (imp.roll() as usize * 7) % (n - 14);
                copy.data_mut()[at] ^= 0x20;
            }
            frames.push(copy);
            let k = frames.len();
            if k >= 2 && imp.roll() < imp.swap {
                frames.swap(k - 1, k - 2);
            }
        }
        let (stack, i) = &mut st[to];
        stack.receive_batch(*i, frames, now);
    }
}

/// Send `len` bytes A → B; returns (segments B's TCP saw, frames on the link).
fn transfer(imp: &mut Impair, len: usize) -> (u64, u64) {
    let mut st = pair();
    let mut now = Instant::ZERO;
    let l = st[1].0.socket(SockType::Stream).unwrap();
    st[1]
        .0
        .bind(l, SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 5000))
        .unwrap();
    st[1].0.listen(l, 4).unwrap();
    let c = st[0].0.socket(SockType::Stream).unwrap();
    assert_eq!(
        st[0].0.connect(c, SocketAddrV4::new(B, 5000), now),
        Err(Errno::EINPROGRESS)
    );
    let mut s = None;
    for _ in 0..10_000 {
        shuttle(&mut st, now, imp);
        now += Duration::from_millis(1);
        if let Ok((x, _)) = st[1].0.accept(l) {
            s = Some(x);
            break;
        }
    }
    let s = s.expect("accepted");
    let data = pattern(len, 9);
    let mut sent = 0;
    let mut got = Vec::with_capacity(len);
    let mut buf = vec![0u8; 100_000];
    let mut shut = false;
    let segs0 = st[1].0.snmp().tcp.in_segs;
    let frames0 = imp.frames;
    for _ in 0..200_000 {
        if sent < len {
            sent += st[0].0.send(c, &data[sent..], now).unwrap_or(0);
        } else if !shut {
            st[0].0.shutdown(c, Shutdown::Write, now).unwrap();
            shut = true;
        }
        shuttle(&mut st, now, imp);
        // Odd-sized reads.
        while let Ok(n @ 1..) = st[1]
            .0
            .recv(s, &mut buf[..77_777], MsgFlags::default(), now)
        {
            got.extend_from_slice(&buf[..n]);
        }
        if got.len() >= len {
            break;
        }
        now += Duration::from_millis(1);
    }
    assert!(
        got == data,
        "received {} of {len} bytes, or different ones",
        got.len()
    );
    (st[1].0.snmp().tcp.in_segs - segs0, imp.frames - frames0)
}

#[test]
fn gro_merges_a_clean_transfer() {
    let mut imp = Impair {
        rng: 1,
        ..Impair::default()
    };
    let (segs, frames) = transfer(&mut imp, 8 << 20);
    println!("clean: {frames} frames on the link, {segs} segments through B's TCP");
    // About 5800 data frames and their ACKs; the receiver's TCP sees a small fraction.
    assert!(segs * 5 < frames, "{segs} segments of {frames} frames");
}

#[test]
fn gro_survives_loss_reordering_and_corruption() {
    let mut imp = Impair {
        rng: 7,
        drop: 10,
        swap: 20,
        corrupt: 5,
        ..Impair::default()
    };
    let (segs, frames) = transfer(&mut imp, 4 << 20);
    println!("impaired: {frames} frames on the link, {segs} segments through B's TCP");
    assert!(segs < frames);
}
