//! The in-memory link both stacks run on: a pair of frame queues.
//!
//! One [`FrameLink`] holds two directions, each a queue of whole Ethernet frames, with the
//! same MTU and the same queue limit for both stacks. Each stack's device moves frames in its
//! own zero-copy way, as a real NIC driver would: smoltcp's `phy::Device`
//! ([`crate::smol_pair`]) fills and reads `Vec<u8>` frames in place (the link keeps a free
//! list of them), and Linnet's driver loop ([`crate::linnet_pair`]) hands its packet buffers
//! over as they are (the two stacks' buffer pools are kept level, like a shared page pool).
//! Neither copies a frame on the link, so the only difference measured is the stacks.
//!
//! Frames are at most `mtu + 14` bytes, except GSO super-frames ([`Frame::gso_size`]), which
//! only Linnet's buffers can be and only its veth-like offload mode sends: as on a Linux veth
//! pair with TSO, they may be up to 64 KiB when each segment they stand for fits the MTU.
//!
//! Design choice (documented in the README): both ends are polled from ONE thread, in turn.
//! The machine this runs on has two cores shared with other work, and a single thread gives a
//! stable figure: it measures how much work each stack spends per byte (CPU cost of sender
//! plus receiver), which is what the ratio compares. The link is therefore an
//! `Rc<RefCell<_>>`, not a lock-free queue.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Ethernet header bytes on top of the MTU.
pub const ETH_HLEN: usize = 14;

/// Frames queued per direction beyond which new frames are dropped (a NIC ring's size).
pub const QUEUE_LIMIT: usize = 4096;

/// Largest GSO super-frame the link takes: an Ethernet header and a 64 KiB IPv4 datagram
/// (Linux: `GSO_MAX_SIZE` under the 16-bit IPv4 total length).
pub const GSO_MAX_FRAME: usize = 65535 + ETH_HLEN;

/// IPv4 and TCP headers without options: a GSO segment's payload is at most `mtu - 40`.
const TCP_IP_HLEN: usize = 40;

/// Something the link carries: a whole Ethernet frame.
pub trait Frame {
    /// Bytes of the frame.
    fn frame_len(&self) -> usize;

    /// Payload bytes per segment if the frame is a TCP GSO super-frame that the receiving
    /// end takes whole (what a virtio-net header's `gso_size` says), 0 for a plain frame.
    /// Only such frames may exceed the MTU, as on a veth pair with TSO/GRO.
    fn gso_size(&self) -> usize {
        0
    }
}

/// smoltcp's frames: plain bytes, no offload metadata (the strict MTU check applies).
impl Frame for Vec<u8> {
    fn frame_len(&self) -> usize {
        self.len()
    }
}

/// Linnet's frames: the GSO segment size travels in the buffer's metadata
/// (`skb_shinfo(skb)->gso_size` in Linux).
impl Frame for linnet::buf::PacketBuf {
    fn frame_len(&self) -> usize {
        self.len()
    }

    fn gso_size(&self) -> usize {
        usize::from(self.meta.gso_size)
    }
}

/// Two frame queues (and, for `Vec<u8>` frames, a free list of frame storage).
#[derive(Debug)]
pub struct FrameLink<F = Vec<u8>> {
    /// `queues[d]` holds frames travelling towards side `d`.
    queues: [VecDeque<F>; 2],
    spare: Vec<F>,
    mtu: usize,
    /// Frames carried, per direction (index: the receiving side).
    pub frames: [u64; 2],
    /// Payload bytes carried (Ethernet frames), per direction.
    pub bytes: [u64; 2],
    /// Frames dropped because a queue was full or the frame exceeded the MTU.
    pub drops: u64,
    /// Longest frame carried (bytes, Ethernet header included).
    pub largest: usize,
    /// GSO super-frames carried (frames longer than `mtu + 14`), both directions.
    pub gso_frames: u64,
}

/// A shared handle on a link.
pub type LinkRef<F = Vec<u8>> = Rc<RefCell<FrameLink<F>>>;

impl<F: Frame> FrameLink<F> {
    /// A link with this MTU (IP bytes; frames may be `mtu + 14` long).
    pub fn new(mtu: usize) -> LinkRef<F> {
        Rc::new(RefCell::new(FrameLink {
            queues: [
                VecDeque::with_capacity(QUEUE_LIMIT),
                VecDeque::with_capacity(QUEUE_LIMIT),
            ],
            spare: Vec::with_capacity(2 * QUEUE_LIMIT),
            mtu,
            frames: [0; 2],
            bytes: [0; 2],
            drops: 0,
            largest: 0,
            gso_frames: 0,
        }))
    }

    /// The MTU.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Whether a frame of `len` bytes with this GSO segment size may cross: one of at most
    /// `mtu + 14` bytes, or a GSO super-frame (segments of at most `mtu - 40` payload bytes,
    /// 64 KiB of IPv4 datagram at most), as a veth pair with TSO carries. Linux:
    /// `is_skb_forwardable` (the MTU check that GSO packets pass).
    pub fn fits(&self, len: usize, gso_size: usize) -> bool {
        len <= self.mtu + ETH_HLEN
            || (gso_size > 0
                && gso_size <= self.mtu.saturating_sub(TCP_IP_HLEN)
                && len <= GSO_MAX_FRAME)
    }

    /// Queue a frame from side `from` towards the other side. A frame that is too long (see
    /// [`FrameLink::fits`]), or meets a full queue, is dropped (counted) and handed back for
    /// its storage to be reused.
    pub fn push(&mut self, from: usize, frame: F) -> Result<(), F> {
        let to = 1 - from;
        let len = frame.frame_len();
        if !self.fits(len, frame.gso_size()) || self.queues[to].len() >= QUEUE_LIMIT {
            self.drops += 1;
            return Err(frame);
        }
        if len > self.mtu + ETH_HLEN {
            self.gso_frames += 1;
        }
        self.largest = self.largest.max(len);
        self.frames[to] += 1;
        self.bytes[to] += len as u64;
        self.queues[to].push_back(frame);
        Ok(())
    }

    /// The next frame waiting for side `side`.
    pub fn pop(&mut self, side: usize) -> Option<F> {
        self.queues[side].pop_front()
    }

    /// Total frames carried in both directions.
    pub fn total_frames(&self) -> u64 {
        self.frames[0] + self.frames[1]
    }
}

impl FrameLink<Vec<u8>> {
    /// Storage for a frame of `len` bytes (recycled when possible), for the sender to fill
    /// before [`FrameLink::push_vec`].
    pub fn frame(&mut self, len: usize) -> Vec<u8> {
        let mut v = self.spare.pop().unwrap_or_default();
        v.clear();
        v.resize(len, 0);
        v
    }

    /// Queue a `Vec` frame, recycling its storage if it is dropped.
    pub fn push_vec(&mut self, from: usize, frame: Vec<u8>) {
        if let Err(v) = self.push(from, frame) {
            self.recycle(v);
        }
    }

    /// Give frame storage back.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if self.spare.len() < 2 * QUEUE_LIMIT {
            self.spare.push(frame);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_cross_and_storage_is_recycled() {
        let l: LinkRef = FrameLink::new(100);
        let mut l = l.borrow_mut();
        let mut f = l.frame(5);
        f.copy_from_slice(b"hello");
        l.push_vec(0, f);
        assert!(l.pop(0).is_none());
        let f = l.pop(1).unwrap();
        assert_eq!(f, b"hello");
        let p = f.as_ptr();
        l.recycle(f);
        let g = l.frame(3);
        assert_eq!(g.as_ptr(), p, "storage reused");
        assert_eq!(g, [0, 0, 0]);
        l.push_vec(1, vec![0u8; 115]);
        assert_eq!(l.drops, 1, "longer than mtu + 14 is dropped");
        assert_eq!(l.total_frames(), 1);
        assert_eq!((l.largest, l.gso_frames), (5, 0));
    }

    #[test]
    fn only_gso_frames_may_exceed_the_mtu() {
        use linnet::buf::PacketBuf;
        let l: LinkRef<PacketBuf> = FrameLink::new(1500);
        let mut l = l.borrow_mut();
        let frame = |len: usize, gso: u16| {
            let mut b = PacketBuf::from_slice(&vec![0u8; len], 0);
            b.meta.gso_size = gso;
            b
        };
        // Plain frames: up to mtu + 14, whatever their length.
        assert!(l.push(0, frame(1514, 0)).is_ok());
        assert!(l.push(0, frame(1515, 0)).is_err());
        // GSO frames: segments of at most mtu - 40 bytes, 64 KiB of datagram at most.
        assert!(l.push(0, frame(65535 + 14, 1460)).is_ok());
        assert!(l.push(0, frame(65536 + 14, 1460)).is_err());
        assert!(l.push(0, frame(3000, 1461)).is_err());
        // A small GSO frame is an ordinary frame for the MTU check.
        assert!(l.push(0, frame(1000, 1448)).is_ok());
        assert_eq!(l.drops, 3);
        assert_eq!(l.frames[1], 3);
        assert_eq!((l.largest, l.gso_frames), (65535 + 14, 1));
        // smoltcp's Vec frames carry no GSO metadata: the strict check.
        let v: LinkRef = FrameLink::new(1500);
        let mut v = v.borrow_mut();
        v.push_vec(0, vec![0u8; 1515]);
        assert_eq!(v.drops, 1);
    }
}
