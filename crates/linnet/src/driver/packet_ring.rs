//! A `TPACKET_V3` receive ring for a packet socket: the kernel writes frames into blocks of a
//! shared mapping and hands whole blocks over, so one wakeup yields many frames without a
//! system call per frame.
//!
//! Linux: `PACKET_RX_RING` with `TPACKET_V3` (net/packet/af_packet.c `tpacket_rcv`,
//! `prb_*` block handling; Documentation/networking/packet_mmap.rst). A block belongs to
//! user space while its `block_status` has `TP_STATUS_USER`; handing it back means storing
//! `TP_STATUS_KERNEL`. A block is handed over when full or after `tp_retire_blk_tov`
//! milliseconds, so a lone frame waits up to that long: the ring suits bulk traffic, hence
//! it is optional ([`super::packet::PacketDevice::open_ring`]).
//!
//! With `PACKET_VNET_HDR` the kernel puts the virtio-net header right before each frame.

use super::virtio_net::{VnetHdrRepr, VNET_HDR_LEN};
use crate::buf::{BufPool, PacketBuf};
use crate::device::DeviceStats;
use crate::time::Instant;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};

/// Bytes per block: room for several 64 KiB super-frames.
pub const BLOCK_SIZE: usize = 1 << 18;
/// Blocks in the ring (4 MiB in all).
pub const BLOCK_NR: usize = 16;
/// A block is handed over at the latest this many milliseconds after its first frame.
pub const RETIRE_TOV_MS: u32 = 1;

/// `TPACKET_V3` in `enum tpacket_versions`.
const TPACKET_V3: libc::c_int = 2;
/// `block_status`: owned by the kernel.
const TP_STATUS_KERNEL: u32 = 0;
/// `block_status`: handed to user space.
const TP_STATUS_USER: u32 = 1;
/// `tp_status` of a frame: cut short by the snap length.
const TP_STATUS_COPY: u32 = 1 << 1;
/// `sll_pkttype` of a frame this host sent.
const PACKET_OUTGOING: u8 = 4;

// Offsets into `struct tpacket_block_desc` (version, offset_to_priv, then `tpacket_hdr_v1`).
const BD_STATUS: usize = 8;
const BD_NUM_PKTS: usize = 12;
const BD_FIRST: usize = 16;
// Offsets into `struct tpacket3_hdr`; its `sockaddr_ll` follows at TPACKET_ALIGN(48).
const H_NEXT: usize = 0;
const H_SNAPLEN: usize = 12;
const H_LEN: usize = 16;
const H_STATUS: usize = 20;
const H_MAC: usize = 24;
const H_SIZE: usize = 48;
const SLL_PKTTYPE: usize = 10;

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

/// The mapped ring and where reading stands in it.
#[derive(Debug)]
pub struct RxRing {
    map: *mut u8,
    len: usize,
    block: usize,
    /// Frames left in the current block, and the offset of the next one.
    left: u32,
    next: usize,
    vnet: bool,
}

// SAFETY: the mapping is owned by this value alone (no aliasing handles are given out), and
// the kernel's concurrent writes are synchronised through `block_status`.
unsafe impl Send for RxRing {}

impl Drop for RxRing {
    fn drop(&mut self) {
        // SAFETY: `map`/`len` are the mapping created in `setup`, unmapped only here.
        unsafe { libc::munmap(self.map.cast(), self.len) };
    }
}

fn setsockopt<T>(fd: RawFd, name: libc::c_int, value: &T, what: &str) -> io::Result<()> {
    // SAFETY: `value` points to `size_of::<T>()` readable bytes for the duration of the call.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_PACKET,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

impl RxRing {
    /// Switch the (not yet bound) packet socket `fd` to `TPACKET_V3` and map a receive ring.
    /// `vnet` says whether `PACKET_VNET_HDR` is on. Linux: `packet_set_ring`.
    pub fn setup(fd: RawFd, vnet: bool) -> io::Result<RxRing> {
        setsockopt(fd, libc::PACKET_VERSION, &TPACKET_V3, "PACKET_VERSION")?;
        let req = TpacketReq3 {
            tp_block_size: BLOCK_SIZE as u32,
            tp_block_nr: BLOCK_NR as u32,
            // Frame size only matters to V1/V2 but must divide the block.
            tp_frame_size: 2048,
            tp_frame_nr: (BLOCK_SIZE / 2048 * BLOCK_NR) as u32,
            tp_retire_blk_tov: RETIRE_TOV_MS,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        setsockopt(fd, libc::PACKET_RX_RING, &req, "PACKET_RX_RING")?;
        let len = BLOCK_SIZE * BLOCK_NR;
        // SAFETY: a fresh shared mapping of the socket's ring; the result is checked.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        if map == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("mmap of the RX ring: {e}"),
            ));
        }
        Ok(RxRing {
            map: map.cast(),
            len,
            block: 0,
            left: 0,
            next: 0,
            vnet,
        })
    }

    fn status(&self, block: usize) -> &AtomicU32 {
        // SAFETY: the offset is inside the mapping and 4-byte aligned (blocks are page
        // aligned); the kernel accesses this word atomically too.
        unsafe { &*(self.map.add(block * BLOCK_SIZE + BD_STATUS) as *const AtomicU32) }
    }

    fn u32_at(&self, off: usize) -> u32 {
        // SAFETY: callers pass offsets checked to lie inside the mapping.
        unsafe { std::ptr::read_unaligned(self.map.add(off) as *const u32) }
    }

    fn u16_at(&self, off: usize) -> u16 {
        // SAFETY: as for `u32_at`.
        unsafe { std::ptr::read_unaligned(self.map.add(off) as *const u16) }
    }

    fn bytes(&self, off: usize, len: usize) -> &[u8] {
        // SAFETY: callers pass ranges checked to lie inside the mapping.
        unsafe { std::slice::from_raw_parts(self.map.add(off), len) }
    }

    /// Give the current block back to the kernel and move to the next.
    fn release_block(&mut self) {
        self.status(self.block)
            .store(TP_STATUS_KERNEL, Ordering::Release);
        self.block = (self.block + 1) % BLOCK_NR;
        self.left = 0;
        self.next = 0;
    }

    /// Copy up to `max` frames out of the ring into pool buffers (with `headroom`), appending
    /// them to `out`; frames that are truncated, too short, our own, or carry a header Linnet
    /// cannot honour are counted in `stats` and skipped. Returns how many were appended.
    pub fn recv_batch(
        &mut self,
        pool: &mut BufPool,
        out: &mut Vec<PacketBuf>,
        max: usize,
        now: Instant,
        headroom: usize,
        stats: &mut DeviceStats,
    ) -> usize {
        let mut got = 0;
        let mut seen = 0;
        while seen < max {
            if self.left == 0 {
                if self.next != 0 {
                    self.release_block();
                }
                if self.status(self.block).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
                    break;
                }
                let base = self.block * BLOCK_SIZE;
                self.left = self.u32_at(base + BD_NUM_PKTS);
                self.next = self.u32_at(base + BD_FIRST) as usize;
                if self.left == 0 {
                    self.release_block();
                    continue;
                }
            }
            let base = self.block * BLOCK_SIZE;
            let h = self.next;
            self.left -= 1;
            seen += 1;
            if h < 16 || h + H_SIZE + 16 > BLOCK_SIZE {
                // A corrupt block: hand it back whole.
                stats.rx_errors += 1;
                self.left = 0;
                self.next = 1;
                continue;
            }
            let next = self.u32_at(base + h + H_NEXT) as usize;
            let snap = self.u32_at(base + h + H_SNAPLEN) as usize;
            let len = self.u32_at(base + h + H_LEN) as usize;
            let status = self.u32_at(base + h + H_STATUS);
            let mac = usize::from(self.u16_at(base + h + H_MAC));
            let pkttype = self.bytes(base + h + H_SIZE + SLL_PKTTYPE, 1)[0];
            self.next = if next == 0 { 1 } else { h + next };
            if self.left > 0 && next == 0 {
                self.left = 0;
            }
            if pkttype == PACKET_OUTGOING {
                continue;
            }
            let hdr_room = if self.vnet { VNET_HDR_LEN } else { 0 };
            if status & TP_STATUS_COPY != 0
                || snap != len
                || mac < hdr_room
                || h + mac + snap > BLOCK_SIZE
                || snap < 14
            {
                stats.rx_errors += 1;
                continue;
            }
            let frame = self.bytes(base + h + mac, snap);
            let mut b = pool.get_sized(snap, headroom);
            if !b.extend_from_slice(frame) {
                stats.rx_errors += 1;
                pool.put(b);
                continue;
            }
            if self.vnet {
                let hdr = self.bytes(base + h + mac - VNET_HDR_LEN, VNET_HDR_LEN);
                match VnetHdrRepr::parse(hdr).map(|v| v.to_meta(snap)) {
                    Some(Ok((csum, gso))) => {
                        b.meta.csum = csum;
                        b.meta.gso_size = gso;
                    }
                    _ => {
                        stats.rx_errors += 1;
                        pool.put(b);
                        continue;
                    }
                }
            }
            b.meta.timestamp = now;
            stats.count_rx(snap);
            out.push(b);
            got += 1;
        }
        if self.left == 0 && self.next != 0 {
            self.release_block();
        }
        got
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::CsumState;

    /// A ring over anonymous memory, laid out by hand the way the kernel would.
    fn ring(vnet: bool) -> RxRing {
        let len = BLOCK_SIZE * BLOCK_NR;
        // SAFETY: a fresh private anonymous mapping; RxRing's Drop unmaps it.
        let map = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(map, libc::MAP_FAILED);
        RxRing {
            map: map.cast(),
            len,
            block: 0,
            left: 0,
            next: 0,
            vnet,
        }
    }

    fn put32(r: &RxRing, off: usize, v: u32) {
        // SAFETY: test offsets lie inside the mapping.
        unsafe { std::ptr::write_unaligned(r.map.add(off) as *mut u32, v) }
    }

    fn put_bytes(r: &RxRing, off: usize, b: &[u8]) {
        // SAFETY: as above.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), r.map.add(off), b.len()) }
    }

    /// Write one frame record at `h` in `block`: returns the offset of the next record.
    #[allow(clippy::too_many_arguments)]
    fn frame(
        r: &RxRing,
        block: usize,
        h: usize,
        data: &[u8],
        snap: usize,
        pkttype: u8,
        vnet: Option<[u8; VNET_HDR_LEN]>,
        last: bool,
    ) -> usize {
        let base = block * BLOCK_SIZE;
        let mac = 96;
        let next = (mac + data.len() + 15) & !15;
        put32(r, base + h + H_NEXT, if last { 0 } else { next as u32 });
        put32(r, base + h + H_SNAPLEN, snap as u32);
        put32(r, base + h + H_LEN, data.len() as u32);
        put32(r, base + h + H_STATUS, TP_STATUS_USER);
        put_bytes(r, base + h + H_MAC, &(mac as u16).to_ne_bytes());
        put_bytes(r, base + h + H_SIZE + SLL_PKTTYPE, &[pkttype]);
        if let Some(v) = vnet {
            put_bytes(r, base + h + mac - VNET_HDR_LEN, &v);
        }
        put_bytes(r, base + h + mac, data);
        h + next
    }

    fn block_hdr(r: &RxRing, block: usize, n: u32, first: u32) {
        let base = block * BLOCK_SIZE;
        put32(r, base + BD_NUM_PKTS, n);
        put32(r, base + BD_FIRST, first);
        r.status(block).store(TP_STATUS_USER, Ordering::Release);
    }

    #[test]
    fn frames_are_copied_out_and_blocks_handed_back() {
        let mut r = ring(true);
        let eth = |n: u8| {
            let mut f = vec![n; 60];
            f[12..14].copy_from_slice(&[8, 0]);
            f
        };
        let mut partial = [0u8; VNET_HDR_LEN];
        VnetHdrRepr {
            needs_csum: true,
            csum_start: 34,
            csum_offset: 6,
            ..Default::default()
        }
        .emit(&mut partial);
        let plain = [0u8; VNET_HDR_LEN];
        // Block 0: our own frame, a truncated one, a good one with a partial checksum.
        let h = frame(&r, 0, 48, &eth(1), 60, PACKET_OUTGOING, Some(plain), false);
        let h = frame(&r, 0, h, &eth(2), 40, 0, Some(plain), false);
        frame(&r, 0, h, &eth(3), 60, 0, Some(partial), true);
        block_hdr(&r, 0, 3, 48);
        // Block 1: one good frame.
        frame(&r, 1, 48, &eth(4), 60, 0, Some(plain), true);
        block_hdr(&r, 1, 1, 48);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let mut st = DeviceStats::default();
        let n = r.recv_batch(&mut pool, &mut out, 64, Instant::ZERO, 64, &mut st);
        assert_eq!(n, 2);
        assert_eq!(out[0].data(), &eth(3)[..]);
        assert_eq!(out[0].headroom(), 64);
        assert_eq!(
            out[0].meta.csum,
            CsumState::Partial {
                start: 20,
                offset: 6
            }
        );
        assert_eq!(out[1].data(), &eth(4)[..]);
        assert_eq!(out[1].meta.csum, CsumState::None);
        assert_eq!((st.rx_packets, st.rx_bytes, st.rx_errors), (2, 120, 1));
        assert_eq!(r.status(0).load(Ordering::Acquire), TP_STATUS_KERNEL);
        assert_eq!(r.status(1).load(Ordering::Acquire), TP_STATUS_KERNEL);
        assert_eq!(r.block, 2);
        // Nothing more until the kernel hands over block 2.
        assert_eq!(
            r.recv_batch(&mut pool, &mut out, 64, Instant::ZERO, 64, &mut st),
            0
        );
    }

    #[test]
    fn the_budget_is_kept_and_reading_resumes_mid_block() {
        let mut r = ring(false);
        let mut h = 48;
        for i in 0..5u8 {
            let f = vec![i; 100];
            h = frame(&r, 0, h, &f, 100, 0, None, i == 4);
        }
        block_hdr(&r, 0, 5, 48);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let mut st = DeviceStats::default();
        assert_eq!(
            r.recv_batch(&mut pool, &mut out, 3, Instant::ZERO, 0, &mut st),
            3
        );
        assert_eq!(
            r.status(0).load(Ordering::Acquire),
            TP_STATUS_USER,
            "still ours"
        );
        assert_eq!(
            r.recv_batch(&mut pool, &mut out, 3, Instant::ZERO, 0, &mut st),
            2
        );
        assert_eq!(r.status(0).load(Ordering::Acquire), TP_STATUS_KERNEL);
        let firsts: Vec<u8> = out.iter().map(|b| b.data()[0]).collect();
        assert_eq!(firsts, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn a_corrupt_block_is_handed_back_without_panicking() {
        let mut r = ring(true);
        block_hdr(&r, 0, 7, BLOCK_SIZE as u32 - 8);
        // A record whose frame would run past the block.
        let h = 48;
        put32(&r, BLOCK_SIZE + h + H_NEXT, 0);
        put32(&r, BLOCK_SIZE + h + H_SNAPLEN, BLOCK_SIZE as u32);
        put32(&r, BLOCK_SIZE + h + H_LEN, BLOCK_SIZE as u32);
        put_bytes(&r, BLOCK_SIZE + h + H_MAC, &96u16.to_ne_bytes());
        block_hdr(&r, 1, 3, h as u32);
        let mut pool = BufPool::default();
        let mut out = Vec::new();
        let mut st = DeviceStats::default();
        let n = r.recv_batch(&mut pool, &mut out, 64, Instant::ZERO, 64, &mut st);
        assert_eq!(n, 0);
        assert!(st.rx_errors >= 2, "{st:?}");
        assert_eq!(r.status(0).load(Ordering::Acquire), TP_STATUS_KERNEL);
        assert_eq!(r.status(1).load(Ordering::Acquire), TP_STATUS_KERNEL);
    }
}
