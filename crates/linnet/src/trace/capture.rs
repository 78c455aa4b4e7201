//! The capture tap: a bounded queue of frames in storage reserved when the capture starts.
//!
//! Linux: `packet_rcv` copying into a `PACKET_RX_RING` (`tpacket_rcv`), which counts
//! `tp_drops` when the ring is full; `tcpdump` prints them as "packets dropped by kernel".

use super::filter::Filter;
use serde::{Deserialize, Serialize};

/// Which way a captured frame went. Linux: `PACKET_HOST`... vs `PACKET_OUTGOING`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Received.
    #[default]
    In,
    /// Sent.
    Out,
}

/// A captured frame, as the control socket carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedFrame {
    /// Interface index.
    pub ifindex: u32,
    /// Direction.
    pub dir: Direction,
    /// Stack time in microseconds.
    pub ts_us: u64,
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// The bytes kept (up to the snap length), hex-encoded.
    pub hex: String,
}

impl CapturedFrame {
    /// The frame's bytes, or `None` if `hex` is not valid hex.
    pub fn bytes(&self) -> Option<Vec<u8>> {
        let h = self.hex.as_bytes();
        if h.len() & 1 != 0 {
            return None;
        }
        let nib = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        };
        h.chunks(2)
            .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
            .collect()
    }

    /// Hex-encode `data`.
    pub fn encode(data: &[u8]) -> String {
        const D: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(data.len() * 2);
        for b in data {
            s.push(D[(b >> 4) as usize] as char);
            s.push(D[(b & 15) as usize] as char);
        }
        s
    }
}

/// Most bytes of frame data one capture holds between drains (Linux's default
/// `PACKET_RX_RING` for tcpdump is a few MiB).
pub const MAX_CAPTURE_BYTES: usize = 16 << 20;

/// A queued frame, as [`Capture::drain`] hands it out.
#[derive(Debug, Clone, Copy)]
pub struct Slot<'a> {
    /// Interface index.
    pub ifindex: u32,
    /// Direction.
    pub dir: Direction,
    /// Stack time in microseconds.
    pub ts_us: u64,
    /// Frame length on the wire.
    pub orig_len: usize,
    /// The bytes kept (up to the snap length).
    pub data: &'a [u8],
}

/// Where a queued frame's bytes are.
#[derive(Debug, Clone, Copy)]
struct Desc {
    ifindex: u32,
    dir: Direction,
    ts_us: u64,
    orig_len: usize,
    off: usize,
    len: usize,
}

/// A capture in progress (or none: the default). Frames are appended to one byte buffer
/// and a list of descriptors, both allocated when the capture starts; a drain empties both,
/// so the buffer never wraps. A frame that does not fit (too many frames, or too many
/// bytes) is dropped and counted.
#[derive(Debug, Default)]
pub struct Capture {
    on: bool,
    ifindex: Option<u32>,
    filter: Filter,
    snaplen: usize,
    bytes: Vec<u8>,
    descs: Vec<Desc>,
    queue: usize,
    dropped: u64,
    captured: u64,
}

impl Capture {
    /// A running capture holding up to `queue` frames of up to `snaplen` bytes each, and at
    /// most `MAX_CAPTURE_BYTES` in all, between drains.
    pub fn new(ifindex: Option<u32>, filter: Filter, snaplen: usize, queue: usize) -> Capture {
        let snaplen = snaplen.clamp(64, 65535);
        let queue = queue.clamp(1, 1 << 16);
        let budget = queue.saturating_mul(snaplen).min(MAX_CAPTURE_BYTES);
        Capture {
            on: true,
            ifindex,
            filter,
            snaplen,
            bytes: Vec::with_capacity(budget),
            descs: Vec::with_capacity(queue),
            queue,
            dropped: 0,
            captured: 0,
        }
    }

    /// Whether a capture runs (one branch per frame when it does not).
    #[inline(always)]
    pub fn on(&self) -> bool {
        self.on
    }

    /// Frames lost because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Frames queued since the capture started.
    pub fn captured(&self) -> u64 {
        self.captured
    }

    /// Frames waiting to be drained.
    pub fn pending(&self) -> usize {
        self.descs.len()
    }

    /// The snap length.
    pub fn snaplen(&self) -> usize {
        self.snaplen
    }

    /// Copy a frame into the queue if it is on the captured device and matches the filter.
    /// Allocates nothing: the storage was reserved at the start. Linux: `packet_rcv`.
    ///
    /// `csum` is where a checksum left to the device (`CHECKSUM_PARTIAL`) starts and lies,
    /// as (start, offset) from the frame's start: the copy gets it finished, so a capture
    /// shows the checksum the wire carries rather than the pseudo-header sum.
    pub fn tap(
        &mut self,
        ifindex: u32,
        dir: Direction,
        frame: &[u8],
        csum: Option<(usize, usize)>,
        ts_us: u64,
    ) {
        if self.ifindex.is_some_and(|i| i != ifindex) || !self.filter.matches_frame(frame) {
            return;
        }
        let len = frame.len().min(self.snaplen);
        if self.descs.len() >= self.queue || self.bytes.len() + len > self.bytes.capacity() {
            self.dropped += 1;
            return;
        }
        let off = self.bytes.len();
        self.bytes.extend_from_slice(&frame[..len]);
        if let Some((start, offset)) = csum.filter(|_| len == frame.len()) {
            crate::wire::checksum::skb_checksum_help(&mut self.bytes[off..], start, offset);
        }
        self.descs.push(Desc {
            ifindex,
            dir,
            ts_us,
            orig_len: frame.len(),
            off,
            len,
        });
        self.captured += 1;
    }

    /// Hand each queued frame, oldest first, to `f`, emptying the queue.
    pub fn drain(&mut self, mut f: impl FnMut(&Slot)) {
        for d in &self.descs {
            f(&Slot {
                ifindex: d.ifindex,
                dir: d.dir,
                ts_us: d.ts_us,
                orig_len: d.orig_len,
                data: &self.bytes[d.off..d.off + d.len],
            });
        }
        self.descs.clear();
        self.bytes.clear();
    }
}

/// Most captures running at once on one stack.
pub const MAX_CAPTURES: usize = 8;

/// The captures running on a stack (none by default), each with its own device, filter and
/// queue, as several `tcpdump`s each have their own `AF_PACKET` socket.
#[derive(Debug, Default)]
pub struct Captures {
    sessions: Vec<(u32, Capture)>,
    next_id: u32,
}

impl Captures {
    /// Whether any capture runs: the one branch each frame costs when none does.
    #[inline(always)]
    pub fn on(&self) -> bool {
        !self.sessions.is_empty()
    }

    /// Start a capture; returns its id, or `None` if `MAX_CAPTURES` run already.
    pub fn start(&mut self, c: Capture) -> Option<u32> {
        if self.sessions.len() >= MAX_CAPTURES {
            return None;
        }
        self.next_id = self.next_id.wrapping_add(1).max(1);
        self.sessions.push((self.next_id, c));
        Some(self.next_id)
    }

    /// Stop capture `id` (no-op if unknown).
    pub fn stop(&mut self, id: u32) {
        self.sessions.retain(|(i, _)| *i != id);
    }

    /// Capture `id`.
    pub fn get(&self, id: u32) -> Option<&Capture> {
        self.sessions.iter().find(|(i, _)| *i == id).map(|(_, c)| c)
    }

    /// Capture `id`, to drain it.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut Capture> {
        self.sessions
            .iter_mut()
            .find(|(i, _)| *i == id)
            .map(|(_, c)| c)
    }

    /// Offer a frame to every capture. Linux: `dev_queue_xmit_nit` / the `ptype_all` walk.
    pub fn tap(
        &mut self,
        ifindex: u32,
        dir: Direction,
        frame: &[u8],
        csum: Option<(usize, usize)>,
        ts_us: u64,
    ) {
        for (_, c) in self.sessions.iter_mut() {
            c.tap(ifindex, dir, frame, csum, ts_us);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(proto: u8, len: usize) -> Vec<u8> {
        let mut f = vec![0u8; len.max(34)];
        f[12] = 0x08;
        f[14] = 0x45;
        f[23] = proto;
        f
    }

    #[test]
    fn a_partial_checksum_is_finished_in_the_copy_only() {
        use crate::wire::checksum::{fold, pseudo_header_v4, sum};
        use crate::wire::Ipv4Addr;
        // Ethernet + IPv4 (20) + TCP (20) + 13 bytes of payload, checksum left partial.
        let mut f = frame(6, 14 + 20 + 20 + 13);
        let (src, dst) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        f[26..30].copy_from_slice(&src.octets());
        f[30..34].copy_from_slice(&dst.octets());
        for (i, b) in f[34..].iter_mut().enumerate() {
            *b = i as u8 * 7;
        }
        let pseudo = fold(pseudo_header_v4(src, dst, 6, 33));
        f[50..52].copy_from_slice(&pseudo.to_be_bytes());
        let before = f.clone();
        let mut c = Capture::new(None, Filter::all(), 1500, 4);
        c.tap(2, Direction::Out, &f, Some((34, 16)), 0);
        // Cut short by the snaplen, the checksum cannot be finished and is left alone.
        let mut short = Capture::new(None, Filter::all(), 64, 4);
        short.tap(2, Direction::Out, &f, Some((34, 16)), 0);
        assert_eq!(f, before, "the frame itself is not touched");
        let mut got = Vec::new();
        c.drain(|s| got.push(s.data.to_vec()));
        let seg = &got[0][34..];
        assert_eq!(fold(sum(seg, pseudo_header_v4(src, dst, 6, 33))), 0xffff);
        short.drain(|s| assert_eq!(s.data, &before[..64]));
    }

    #[test]
    fn queue_is_bounded_counts_drops_and_keeps_order() {
        let mut c = Capture::new(None, Filter::parse("udp").unwrap(), 100, 3);
        for i in 0..5u64 {
            c.tap(2, Direction::In, &frame(17, 60), None, i);
        }
        c.tap(2, Direction::In, &frame(6, 60), None, 9);
        assert_eq!((c.pending(), c.dropped(), c.captured()), (3, 2, 3));
        let mut ts = Vec::new();
        c.drain(|s| ts.push(s.ts_us));
        assert_eq!(ts, [0, 1, 2]);
        c.tap(3, Direction::Out, &frame(17, 300), None, 7);
        let mut got = Vec::new();
        c.drain(|s| got.push((s.ifindex, s.dir, s.orig_len, s.data.len())));
        assert_eq!(got, [(3, Direction::Out, 300, 100)]);
        // The byte budget bounds memory whatever the frame count: 64-byte snaplen, 4 frames.
        let mut small = Capture::new(None, Filter::all(), 64, 4);
        for _ in 0..6 {
            small.tap(1, Direction::In, &frame(6, 1500), None, 0);
        }
        assert_eq!((small.pending(), small.dropped()), (4, 2));
        let cap = small.bytes.capacity();
        let mut lens = Vec::new();
        small.drain(|s| lens.push(s.data.len()));
        assert_eq!(lens, [64; 4]);
        assert_eq!(small.bytes.capacity(), cap, "storage kept across drains");
    }

    #[test]
    fn several_captures_each_get_their_frames() {
        let mut all = Captures::default();
        assert!(!all.on());
        let a = all
            .start(Capture::new(None, Filter::parse("tcp").unwrap(), 100, 4))
            .unwrap();
        let b = all
            .start(Capture::new(None, Filter::all(), 100, 4))
            .unwrap();
        all.tap(2, Direction::In, &frame(17, 60), None, 0);
        all.tap(2, Direction::In, &frame(6, 60), None, 0);
        assert_eq!(all.get(a).unwrap().pending(), 1);
        assert_eq!(all.get(b).unwrap().pending(), 2);
        all.stop(a);
        assert!(all.get(a).is_none() && all.on());
        for _ in 1..MAX_CAPTURES {
            assert!(all.start(Capture::default()).is_some());
        }
        assert!(all.start(Capture::default()).is_none(), "bounded");
    }

    #[test]
    fn device_selection_and_hex_round_trip() {
        let mut c = Capture::new(Some(2), Filter::all(), 1500, 8);
        c.tap(3, Direction::In, &frame(6, 60), None, 0);
        c.tap(2, Direction::In, &frame(6, 60), None, 0);
        assert_eq!(c.pending(), 1);
        let data = [0u8, 1, 0x7f, 0xff, 0xab];
        let f = CapturedFrame {
            ifindex: 1,
            dir: Direction::In,
            ts_us: 0,
            orig_len: 5,
            hex: CapturedFrame::encode(&data),
        };
        assert_eq!(f.hex, "00017fffab");
        assert_eq!(f.bytes().unwrap(), data);
        let bad = CapturedFrame {
            hex: "0g".into(),
            ..f
        };
        assert!(bad.bytes().is_none());
    }
}
