//! An in-memory point-to-point Ethernet link with seeded impairments, for tests and simulations.
//!
//! Linux analogue: a veth pair with `tc qdisc add ... netem delay/loss/duplicate/reorder/corrupt
//! rate`. Each direction has its own pseudo-random generator seeded from [`LinkConfig::seed`],
//! so a run is reproducible bit for bit. Time is never read: frames carry the `now` the sender
//! passed to [`NetDevice::transmit`] and become readable when the receiver's `now` reaches their
//! delivery time.

use crate::buf::{BufPool, PacketBuf};
use crate::device::{DeviceStats, NetDevice};
use crate::time::Instant;
use crate::wire::EthernetAddress;
use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Headroom left in front of received frames (room for encapsulation on forward).
const RX_HEADROOM: usize = 64;
/// Ethernet header bytes on top of the MTU.
const ETH_HLEN: usize = 14;

/// Impairments and shape of a link direction (both directions use the same configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct LinkConfig {
    /// Probability that a frame is lost (0.0–1.0).
    pub loss: f64,
    /// One-way propagation delay.
    pub delay: Duration,
    /// Uniform jitter added to the delay, in `[-jitter, +jitter]` (the result never goes below 0).
    pub jitter: Duration,
    /// Probability that a frame is delivered twice.
    pub duplicate: f64,
    /// Probability that a frame skips the delay (is delivered at once, overtaking others),
    /// as netem's `reorder` does.
    pub reorder: f64,
    /// Probability that one bit of a frame is flipped.
    pub corrupt: f64,
    /// Frames in flight per direction beyond which new frames are dropped (tail drop).
    pub queue_limit: usize,
    /// With the queue full, refuse a frame (`crate::device::txq::is_tx_busy`: not sent, the
    /// sender keeps it and retries) instead of dropping it: a device that stops its queue
    /// when full, as a TAP written through an `AF_PACKET` socket that bypasses the qdisc
    /// reports `ENOBUFS`. Refusals count in [`LinkStats::refused`].
    pub backpressure: bool,
    /// Link MTU (payload after the Ethernet header); larger frames are refused.
    pub mtu: usize,
    /// Serialisation rate in bits per second; 0 means infinitely fast.
    pub rate_bps: u64,
    /// Seed of the pseudo-random generators.
    pub seed: u64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            loss: 0.0,
            delay: Duration::ZERO,
            jitter: Duration::ZERO,
            duplicate: 0.0,
            reorder: 0.0,
            corrupt: 0.0,
            queue_limit: 1000,
            backpressure: false,
            mtu: 1500,
            rate_bps: 0,
            seed: 1,
        }
    }
}

/// What the link itself did to frames (per direction, summed over both for [`MemLink::link_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames lost on purpose (`loss`).
    pub lost: u64,
    /// Frames dropped because the direction's queue was full.
    pub overflow: u64,
    /// Frames refused because the direction's queue was full (with
    /// [`LinkConfig::backpressure`]; the sender retries them).
    pub refused: u64,
    /// Extra copies delivered (`duplicate`).
    pub duplicated: u64,
    /// Frames with a bit flipped (`corrupt`).
    pub corrupted: u64,
    /// Frames that skipped the delay (`reorder`).
    pub reordered: u64,
}

/// xoshiro256** seeded through splitmix64: small, fast and good enough for impairments.
#[derive(Debug, Clone)]
struct Rng {
    s: [u64; 4],
}

impl Rng {
    fn new(seed: u64) -> Rng {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// True with probability `p` (never draws when `p` is 0, so adding an impairment later does
    /// not shift the sequence of the others... only when it is enabled).
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.unit() < p
    }

    /// Uniform in [0, n).
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

struct InFlight {
    at: Instant,
    seq: u64,
    frame: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        self.at == other.at && self.seq == other.seq
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    // Reversed: BinaryHeap is a max-heap and we want the earliest (time, seq) on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// One direction of the link.
struct Direction {
    rng: Rng,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    /// When the serialiser is free again (rate limiting).
    busy_until: Instant,
    /// Spare frame storage, so the steady state does not allocate.
    spare: Vec<Vec<u8>>,
    stats: LinkStats,
    /// Frames for which this returns true are lost (a test's targeted drop).
    drop_filter: Option<DropFilter>,
}

/// A test's choice of frames to lose: called with each frame sent (Ethernet header first).
pub type DropFilter = Box<dyn FnMut(&[u8]) -> bool + Send>;

impl Direction {
    fn new(seed: u64) -> Direction {
        Direction {
            rng: Rng::new(seed),
            queue: BinaryHeap::new(),
            seq: 0,
            busy_until: Instant::ZERO,
            spare: Vec::new(),
            stats: LinkStats::default(),
            drop_filter: None,
        }
    }

    fn enqueue(&mut self, at: Instant, frame: &[u8]) {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.extend_from_slice(frame);
        self.seq += 1;
        self.queue.push(InFlight {
            at,
            seq: self.seq,
            frame: v,
        });
    }
}

struct Shared {
    cfg: LinkConfig,
    dirs: [Direction; 2],
}

/// One end of an in-memory link. Create both ends with [`MemLink::pair`]; each end is `Send`
/// and may live on its own thread.
pub struct MemLink {
    shared: Arc<Mutex<Shared>>,
    /// Direction index this end transmits on (it receives on the other).
    side: usize,
    name: String,
    stats: DeviceStats,
}

impl MemLink {
    /// Two connected ends, `a` and `b`.
    pub fn pair(cfg: LinkConfig) -> (MemLink, MemLink) {
        let seed = cfg.seed;
        let shared = Arc::new(Mutex::new(Shared {
            cfg,
            dirs: [
                Direction::new(seed ^ 0x5eed_0000_0000_00ab),
                Direction::new(seed ^ 0x5eed_0000_0000_00ba),
            ],
        }));
        let end = |side, name: &str| MemLink {
            shared: shared.clone(),
            side,
            name: name.to_string(),
            stats: DeviceStats::default(),
        };
        (end(0, "mem0"), end(1, "mem1"))
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        // A panic elsewhere while holding the lock leaves consistent data: recover it.
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Change the impairments while the link is in use (e.g. cut it with `loss: 1.0`).
    pub fn set_config(&self, cfg: LinkConfig) {
        self.lock().cfg = cfg;
    }

    /// Change only the loss probability (both directions).
    pub fn set_loss(&self, loss: f64) {
        self.lock().cfg.loss = loss;
    }

    /// Lose the frames this end sends for which `f` returns true (counted as `lost`), on
    /// top of the random impairments; `None` removes the filter. For tests that need one
    /// particular segment dropped.
    pub fn set_drop_filter(&self, f: Option<DropFilter>) {
        self.lock().dirs[self.side].drop_filter = f;
    }

    /// What the link did to frames this end sent.
    pub fn link_stats(&self) -> LinkStats {
        self.lock().dirs[self.side].stats
    }

    /// Frames in flight towards this end.
    pub fn pending(&self) -> usize {
        self.lock().dirs[1 - self.side].queue.len()
    }
}

impl NetDevice for MemLink {
    fn name(&self) -> &str {
        &self.name
    }

    fn mtu(&self) -> usize {
        self.lock().cfg.mtu
    }

    fn hw_addr(&self) -> Option<EthernetAddress> {
        None
    }

    fn recv_batch(
        &mut self,
        pool: &mut BufPool,
        out: &mut Vec<PacketBuf>,
        max: usize,
        now: Instant,
    ) -> io::Result<usize> {
        let mut guard = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let dir = &mut guard.dirs[1 - self.side];
        let mut n = 0;
        while n < max {
            match dir.queue.peek() {
                Some(f) if f.at <= now => {}
                _ => break,
            }
            let Some(f) = dir.queue.pop() else { break };
            let mut buf = pool.get(RX_HEADROOM);
            if f.frame.len() > buf.tailroom() {
                self.stats.rx_dropped += 1;
                pool.put(buf);
            } else {
                buf.tailroom_mut()[..f.frame.len()].copy_from_slice(&f.frame);
                buf.commit_put(f.frame.len());
                self.stats.count_rx(f.frame.len());
                out.push(buf);
                n += 1;
            }
            if dir.spare.len() < 256 {
                dir.spare.push(f.frame);
            }
        }
        Ok(n)
    }

    fn transmit(&mut self, frame: &[u8], now: Instant) -> io::Result<()> {
        let mut guard = self.shared.lock().unwrap_or_else(|e| e.into_inner());
        let Shared { cfg, dirs } = &mut *guard;
        if frame.len() > cfg.mtu + ETH_HLEN || frame.len() < ETH_HLEN {
            self.stats.tx_errors += 1;
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "frame of {} bytes does not fit MTU {}",
                    frame.len(),
                    cfg.mtu
                ),
            ));
        }
        let dir = &mut dirs[self.side];
        if dir.queue.len() >= cfg.queue_limit {
            if cfg.backpressure {
                dir.stats.refused += 1;
                return Err(crate::device::txq::tx_busy(&self.name));
            }
            dir.stats.overflow += 1;
            self.stats.tx_dropped += 1;
            return Ok(());
        }
        self.stats.count_tx(frame.len());
        // Serialisation: the frame leaves when the wire is free and takes len*8/rate.
        let mut sent = now;
        let bits = frame.len() as u64 * 8;
        if let Some(nanos) = bits.saturating_mul(1_000_000_000).checked_div(cfg.rate_bps) {
            let start = now.max(dir.busy_until);
            sent = start + Duration::from_nanos(nanos);
            dir.busy_until = sent;
        }
        if dir.drop_filter.as_mut().is_some_and(|f| f(frame)) {
            dir.stats.lost += 1;
            return Ok(());
        }
        if dir.rng.chance(cfg.loss) {
            dir.stats.lost += 1;
            return Ok(());
        }
        let copies = if dir.rng.chance(cfg.duplicate) {
            dir.stats.duplicated += 1;
            2
        } else {
            1
        };
        for _ in 0..copies {
            let at = if dir.rng.chance(cfg.reorder) {
                dir.stats.reordered += 1;
                sent
            } else if cfg.jitter > Duration::ZERO {
                let j = cfg.jitter.as_micros() as u64;
                let offset = dir.rng.below(2 * j + 1) as i64 - j as i64;
                let d = (cfg.delay.as_micros() as i64 + offset).max(0) as u64;
                sent + Duration::from_micros(d)
            } else {
                sent + cfg.delay
            };
            dir.enqueue(at, frame);
            if dir.rng.chance(cfg.corrupt) {
                dir.stats.corrupted += 1;
                // Flip a bit of the copy just queued (the one with the highest seq).
                let seq = dir.seq;
                let byte = dir.rng.below(frame.len() as u64) as usize;
                let bit = dir.rng.below(8) as u8;
                let mut items = std::mem::take(&mut dir.queue).into_vec();
                if let Some(f) = items.iter_mut().find(|f| f.seq == seq) {
                    f.frame[byte] ^= 1 << bit;
                }
                dir.queue = BinaryHeap::from(items);
            }
        }
        Ok(())
    }

    fn raw_fd(&self) -> Option<RawFd> {
        None
    }

    fn next_event(&self) -> Option<Instant> {
        self.lock().dirs[1 - self.side].queue.peek().map(|f| f.at)
    }

    fn stats(&self) -> DeviceStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(tag: u8) -> Vec<u8> {
        let mut f = vec![0u8; 60];
        f[12] = 0x08;
        f[14] = tag;
        f
    }

    fn drain(end: &mut MemLink, now: Instant) -> Vec<u8> {
        let mut pool = BufPool::new(2048, 16);
        let mut out = Vec::new();
        end.recv_batch(&mut pool, &mut out, 100_000, now).unwrap();
        out.iter().map(|b| b.data()[14]).collect()
    }

    #[test]
    fn delay_holds_frames_until_due() {
        let (mut a, mut b) = MemLink::pair(LinkConfig {
            delay: Duration::from_millis(10),
            ..LinkConfig::default()
        });
        a.transmit(&frame(1), Instant::ZERO).unwrap();
        assert_eq!(b.next_event(), Some(Instant::from_millis(10)));
        assert!(drain(&mut b, Instant::from_millis(9)).is_empty());
        assert_eq!(drain(&mut b, Instant::from_millis(10)), vec![1]);
        assert_eq!(a.stats().tx_packets, 1);
        assert_eq!(b.stats().rx_packets, 1);
        assert_eq!(b.stats().rx_bytes, 60);
        // Nothing flows back.
        assert!(drain(&mut a, Instant::from_secs(1)).is_empty());
    }

    #[test]
    fn fifo_order_without_impairments() {
        let (mut a, mut b) = MemLink::pair(LinkConfig::default());
        for t in 0..10 {
            a.transmit(&frame(t), Instant::ZERO).unwrap();
        }
        assert_eq!(drain(&mut b, Instant::ZERO), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn loss_rate_is_close_to_configured_and_seeded() {
        let run = |seed| {
            let (mut a, mut b) = MemLink::pair(LinkConfig {
                loss: 0.25,
                queue_limit: 10_000,
                seed,
                ..LinkConfig::default()
            });
            for i in 0..4000u32 {
                a.transmit(&frame(i as u8), Instant::ZERO).unwrap();
            }
            let got = drain(&mut b, Instant::ZERO);
            (got.len(), a.link_stats().lost)
        };
        let (n, lost) = run(3);
        assert_eq!(n as u64 + lost, 4000);
        assert!((2850..3150).contains(&n), "{n} delivered");
        assert_eq!(run(3), (n, lost));
        assert_ne!(run(4).0, n);
    }

    #[test]
    fn rate_serialises_frames() {
        // 60-byte frames at 480 kbit/s: 1 ms each.
        let (mut a, b) = MemLink::pair(LinkConfig {
            rate_bps: 480_000,
            ..LinkConfig::default()
        });
        for t in 0..3 {
            a.transmit(&frame(t), Instant::ZERO).unwrap();
        }
        assert_eq!(b.next_event(), Some(Instant::from_millis(1)));
        let mut b = b;
        assert_eq!(drain(&mut b, Instant::from_micros(2500)), vec![0, 1]);
        assert_eq!(drain(&mut b, Instant::from_millis(3)), vec![2]);
    }

    #[test]
    fn queue_limit_tail_drops_and_mtu_refuses() {
        let (mut a, mut b) = MemLink::pair(LinkConfig {
            queue_limit: 2,
            delay: Duration::from_millis(1),
            ..LinkConfig::default()
        });
        for t in 0..5 {
            a.transmit(&frame(t), Instant::ZERO).unwrap();
        }
        assert_eq!(a.stats().tx_dropped, 3);
        assert_eq!(a.link_stats().overflow, 3);
        assert!(a.transmit(&vec![0u8; 1515], Instant::ZERO).is_err());
        assert!(a.transmit(&[0u8; 3], Instant::ZERO).is_err());
        assert_eq!(a.stats().tx_errors, 2);
        assert_eq!(drain(&mut b, Instant::from_millis(1)), vec![0, 1]);
    }

    #[test]
    fn duplicate_reorder_corrupt_are_counted() {
        let (mut a, mut b) = MemLink::pair(LinkConfig {
            duplicate: 0.1,
            reorder: 0.1,
            corrupt: 0.1,
            queue_limit: 10_000,
            delay: Duration::from_millis(5),
            seed: 9,
            ..LinkConfig::default()
        });
        for t in 0..1000u32 {
            a.transmit(&frame(t as u8), Instant::from_micros(t as u64))
                .unwrap();
        }
        let s = a.link_stats();
        assert!(s.duplicated > 50 && s.duplicated < 150, "{s:?}");
        assert!(s.reordered > 50, "{s:?}");
        assert!(s.corrupted > 50, "{s:?}");
        let got = drain(&mut b, Instant::from_secs(1));
        assert_eq!(got.len() as u64, 1000 + s.duplicated);
    }

    #[test]
    fn ends_work_across_threads() {
        let (mut a, mut b) = MemLink::pair(LinkConfig::default());
        std::thread::spawn(move || a.transmit(&frame(7), Instant::ZERO).unwrap())
            .join()
            .unwrap();
        assert_eq!(drain(&mut b, Instant::ZERO), vec![7]);
    }
}
