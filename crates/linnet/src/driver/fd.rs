//! The transmit and receive path shared by the drivers that move frames through a file
//! descriptor (TAP, `AF_PACKET`): batched non-blocking reads into pool buffers, one write per
//! frame, both with or without a virtio-net header in front ([`super::virtio_net`]), with the
//! same error handling and counters. Each driver keeps only what differs: how it opens the
//! descriptor and the system call that reads a frame (`readv` for a TAP, `recvmsg` with the
//! packet type for a packet socket).
//!
//! Linux: the receive side is a driver's NAPI poll (`napi_poll` with a budget), the transmit
//! side its `ndo_start_xmit`; for TUN/TAP the kernel's own halves are `tun_get_user` and
//! `tun_put_user` (drivers/net/tun.c), for packet sockets `packet_snd` and `packet_recvmsg`
//! (net/packet/af_packet.c).

use super::virtio_net::{VnetHdrRepr, VNET_HDR_LEN};
use crate::buf::{BufPool, Meta, PacketBuf, LARGE_BUF_SIZE};
use crate::device::features::NetdevFeatures;
use crate::device::{txq, DeviceStats};
use crate::time::Instant;
use crate::wire::ethernet::HEADER_LEN as ETH_HLEN;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Headroom reserved in receive buffers, so the stack can prepend without copying when it
/// turns a frame around.
pub const RX_HEADROOM: usize = 64;

/// Times a read or write interrupted by a signal is retried before giving up.
const EINTR_RETRIES: usize = 16;

/// A device backed by a file descriptor: the descriptor, the device's name and counters, and
/// in vnet-header mode the reader that places frames of up to 64 KiB.
#[derive(Debug)]
pub(crate) struct FdDevice {
    /// The TAP or packet-socket descriptor (non-blocking).
    pub(crate) fd: OwnedFd,
    /// Interface name, for messages.
    pub(crate) name: String,
    /// Counters, as `ip -s link` shows them.
    pub(crate) stats: DeviceStats,
    /// Present in vnet-header mode.
    vnet: Option<VnetReader>,
}

/// What one read of a frame produced.
#[derive(Debug)]
pub enum FdRead {
    /// A frame, with its metadata set from the header (if any).
    Frame(PacketBuf),
    /// Something unusable was read (too short, truncated, or a header Linnet cannot honour);
    /// the caller counts an error and recycles the buffer if there is one.
    Bad(Option<PacketBuf>, &'static str),
    /// A frame the driver does not want (its own transmission), not counted.
    Skip(PacketBuf),
    /// The pool's buffers have this much tailroom, too little for a frame; nothing was read.
    NoRoom(usize),
}

impl FdDevice {
    /// Wrap an open descriptor; `vnet` when every frame carries a virtio-net header.
    pub(crate) fn new(fd: OwnedFd, name: String, vnet: bool) -> FdDevice {
        FdDevice {
            fd,
            name,
            stats: DeviceStats::default(),
            vnet: vnet.then(VnetReader::default),
        }
    }

    /// The descriptor, for poll/epoll and the driver's read call.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Whether frames carry virtio-net headers.
    pub(crate) fn has_vnet_hdr(&self) -> bool {
        self.vnet.is_some()
    }

    /// What the device offloads: with a vnet header the kernel finishes checksums and
    /// segments super-frames. Linux: `dev->features`.
    pub(crate) fn features(&self) -> NetdevFeatures {
        if self.vnet.is_some() {
            NetdevFeatures::VNET
        } else {
            NetdevFeatures::default()
        }
    }

    /// NAPI poll: read frames with `read` (which fills the `iovec`s it is given the way
    /// `readv`/`recvmsg` do and returns the byte count, possibly more than the room given,
    /// for `MSG_TRUNC`) until `EAGAIN` or `max` attempts, keeping those `keep` accepts (asked
    /// right after each read) that hold at least an Ethernet header. Returns how many frames
    /// went to `out`. Linux: a driver's `napi_poll` loop.
    pub(crate) fn napi_poll(
        &mut self,
        pool: &mut BufPool,
        out: &mut Vec<PacketBuf>,
        max: usize,
        now: Instant,
        mut read: impl FnMut(&mut [libc::iovec]) -> io::Result<usize>,
        mut keep: impl FnMut() -> bool,
    ) -> io::Result<usize> {
        let mut got = 0;
        let mut attempts = 0;
        let mut interrupts = 0;
        while attempts < max {
            let r = match self.vnet.as_mut() {
                // A frame the driver does not want is skipped before its length is judged;
                // an unusable read is counted whatever it was.
                Some(reader) => reader
                    .read_frame(pool, RX_HEADROOM, &mut read)
                    .map(|r| match r {
                        FdRead::Frame(b) if !keep() => FdRead::Skip(b),
                        r => r,
                    }),
                None => read_plain(pool, RX_HEADROOM, &mut read, &mut keep),
            };
            match r {
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => break,
                    io::ErrorKind::Interrupted if interrupts < EINTR_RETRIES => {
                        interrupts += 1;
                    }
                    _ => {
                        self.stats.rx_errors += 1;
                        if got == 0 {
                            return Err(e);
                        }
                        break;
                    }
                },
                Ok(FdRead::NoRoom(cap)) => {
                    if got == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidInput,
                            format!(
                                "buffer pool gives {cap} bytes of tailroom, too small for a frame"
                            ),
                        ));
                    }
                    break;
                }
                Ok(FdRead::Skip(b)) => {
                    attempts += 1;
                    pool.put(b);
                }
                Ok(FdRead::Bad(b, why)) => {
                    attempts += 1;
                    tracing::debug!(dev = %self.name, "dropped a received frame: {why}");
                    self.stats.rx_errors += 1;
                    if let Some(b) = b {
                        pool.put(b);
                    }
                }
                Ok(FdRead::Frame(mut b)) => {
                    attempts += 1;
                    if b.len() < ETH_HLEN {
                        self.stats.rx_errors += 1;
                        pool.put(b);
                        continue;
                    }
                    b.meta.timestamp = now;
                    self.stats.count_rx(b.len());
                    out.push(b);
                    got += 1;
                }
            }
        }
        Ok(got)
    }

    /// Send `frame` with one `writev` (which also sends on a bound packet socket), in
    /// vnet-header mode preceded by the header for `meta`, counting it. A full queue
    /// (`EAGAIN`, `ENOBUFS`) refuses the frame ([`txq::is_tx_busy`]): it was not sent, the
    /// caller keeps it for a retry; `EINTR` is retried a few times.
    /// Linux: `ndo_start_xmit` of a driver whose device is a descriptor.
    pub(crate) fn start_xmit(&mut self, meta: &Meta, frame: &[u8]) -> io::Result<()> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let hdr_len = if self.vnet.is_some() {
            VnetHdrRepr::from_meta(meta, frame).emit(&mut hdr);
            VNET_HDR_LEN
        } else {
            0
        };
        let iov = [
            libc::iovec {
                iov_base: hdr.as_mut_ptr().cast(),
                iov_len: hdr_len,
            },
            libc::iovec {
                iov_base: frame.as_ptr() as *mut libc::c_void,
                iov_len: frame.len(),
            },
        ];
        let iov = if hdr_len > 0 { &iov[..] } else { &iov[1..] };
        let mut interrupts = 0;
        loop {
            // SAFETY: the iovecs point to readable memory (`hdr`, `frame`) that outlives the
            // call; writev does not write through them.
            let n = unsafe { libc::writev(self.fd.as_raw_fd(), iov.as_ptr(), iov.len() as _) };
            if n >= 0 {
                let n = n as usize;
                if n != hdr_len + frame.len() {
                    self.stats.tx_errors += 1;
                    return Err(io::Error::new(
                        io::ErrorKind::WriteZero,
                        format!("short write on {}: {n} of {} bytes", self.name, frame.len()),
                    ));
                }
                self.stats.count_tx(frame.len());
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match e.kind() {
                // The device is full (EAGAIN: a TAP's send buffer, `TUNSETSNDBUF`, or our
                // socket's; ENOBUFS: below a packet socket with PACKET_QDISC_BYPASS, the
                // driver returned NET_XMIT_DROP): not sent, kept for a retry.
                io::ErrorKind::WouldBlock => return Err(txq::tx_busy(&self.name)),
                _ if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    return Err(txq::tx_busy(&self.name))
                }
                io::ErrorKind::Interrupted if interrupts < EINTR_RETRIES => interrupts += 1,
                _ => {
                    self.stats.tx_errors += 1;
                    return Err(e);
                }
            }
        }
    }
}

/// Read one frame without a header into the tailroom of a pool buffer with `read`; `keep`
/// (asked right after the read) drops frames the driver does not want before their length is
/// judged.
fn read_plain(
    pool: &mut BufPool,
    headroom: usize,
    read: &mut impl FnMut(&mut [libc::iovec]) -> io::Result<usize>,
    keep: &mut impl FnMut() -> bool,
) -> io::Result<FdRead> {
    let mut b = pool.get(headroom);
    let room = b.tailroom_mut();
    let cap = room.len();
    if cap < ETH_HLEN {
        pool.put(b);
        return Ok(FdRead::NoRoom(cap));
    }
    let mut iov = [libc::iovec {
        iov_base: room.as_mut_ptr().cast(),
        iov_len: cap,
    }];
    let n = match read(&mut iov) {
        Ok(n) => n,
        Err(e) => {
            pool.put(b);
            return Err(e);
        }
    };
    if !keep() {
        return Ok(FdRead::Skip(b));
    }
    if !(ETH_HLEN..=cap).contains(&n) {
        // A runt, or a frame larger than the buffer (e.g. a GSO super-frame).
        return Ok(FdRead::Bad(Some(b), "runt or truncated frame"));
    }
    b.commit_put(n);
    Ok(FdRead::Frame(b))
}

/// `readv(fd, iov)`: the read call of a TAP.
pub(crate) fn readv(fd: RawFd, iov: &mut [libc::iovec]) -> io::Result<usize> {
    // SAFETY: the iovecs describe writable buffers that outlive the call.
    let n = unsafe { libc::readv(fd, iov.as_ptr(), iov.len() as libc::c_int) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// Reads frames preceded by a virtio-net header into pool buffers: a normal buffer for an
/// ordinary frame, a large one only for a super-frame (the kernel may send up to 64 KiB).
/// One large buffer is kept ready between reads, so the steady state allocates nothing.
#[derive(Debug, Default)]
pub struct VnetReader {
    spare: Option<PacketBuf>,
}

impl VnetReader {
    /// Read one frame with `read`, which fills the `iovec`s it is given (header, then frame
    /// bytes) the way `readv`/`recvmsg` do and returns the byte count (may exceed the room
    /// given, for `MSG_TRUNC`). Errors from `read` are passed through and nothing is lost.
    pub fn read_frame(
        &mut self,
        pool: &mut BufPool,
        headroom: usize,
        mut read: impl FnMut(&mut [libc::iovec]) -> io::Result<usize>,
    ) -> io::Result<FdRead> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let mut small = pool.get(headroom);
        let mut large = match self.spare.take() {
            Some(b) => b,
            None => pool.get_sized(LARGE_BUF_SIZE - headroom, headroom),
        };
        let small_cap = small.tailroom();
        let large_room = large.tailroom();
        let extra = large_room.saturating_sub(small_cap);
        let n = {
            let s = small.tailroom_mut();
            let l = large.tailroom_mut();
            let mut iov = [
                libc::iovec {
                    iov_base: hdr.as_mut_ptr().cast(),
                    iov_len: VNET_HDR_LEN,
                },
                libc::iovec {
                    iov_base: s.as_mut_ptr().cast(),
                    iov_len: small_cap,
                },
                libc::iovec {
                    iov_base: l[small_cap.min(large_room)..].as_mut_ptr().cast(),
                    iov_len: extra,
                },
            ];
            let used = if extra > 0 { 3 } else { 2 };
            read(&mut iov[..used])
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                pool.put(small);
                self.spare = Some(large);
                return Err(e);
            }
        };
        if n < VNET_HDR_LEN {
            pool.put(small);
            self.spare = Some(large);
            return Ok(FdRead::Bad(None, "shorter than a virtio-net header"));
        }
        let len = n - VNET_HDR_LEN;
        if len > small_cap + extra {
            pool.put(small);
            self.spare = Some(large);
            return Ok(FdRead::Bad(None, "frame larger than the buffers"));
        }
        let mut buf = if len <= small_cap {
            self.spare = Some(large);
            small.commit_put(len);
            small
        } else {
            large.commit_put(len);
            large.data_mut()[..small_cap].copy_from_slice(&small.tailroom_mut()[..small_cap]);
            pool.put(small);
            large
        };
        let Some(h) = VnetHdrRepr::parse(&hdr) else {
            return Ok(FdRead::Bad(Some(buf), "bad virtio-net header"));
        };
        match h.to_meta(len) {
            Ok((csum, gso)) => {
                buf.meta.csum = csum;
                buf.meta.gso_size = gso;
                Ok(FdRead::Frame(buf))
            }
            Err(why) => Ok(FdRead::Bad(Some(buf), why)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::CsumState;
    use crate::device::gso::tests::{frame, payload};
    use crate::driver::virtio_net::{GSO_TCPV4, GSO_UDP};
    use crate::wire::tcp::TcpFlags;

    #[test]
    fn the_reader_uses_a_small_buffer_for_small_frames_and_a_large_one_for_super_frames() {
        let mut pool = BufPool::default();
        let mut rd = VnetReader::default();
        let serve = |bytes: Vec<u8>| {
            move |iov: &mut [libc::iovec]| -> io::Result<usize> {
                let mut off = 0;
                for v in iov.iter() {
                    let n = v.iov_len.min(bytes.len() - off);
                    // SAFETY: the reader's iovecs point at writable buffers of iov_len bytes.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes[off..].as_ptr(), v.iov_base.cast(), n)
                    };
                    off += n;
                }
                Ok(bytes.len())
            }
        };
        let hdr = |h: VnetHdrRepr| {
            let mut b = vec![0u8; VNET_HDR_LEN];
            h.emit(&mut b);
            b
        };
        let partial = VnetHdrRepr {
            needs_csum: true,
            csum_start: 34,
            csum_offset: 16,
            ..Default::default()
        };
        // A small frame.
        let small = frame(&payload(100), TcpFlags::ACK, true);
        let mut wire = hdr(partial);
        wire.extend_from_slice(&small);
        let FdRead::Frame(b) = rd.read_frame(&mut pool, 64, serve(wire)).unwrap() else {
            panic!("bad read")
        };
        assert_eq!(b.data(), &small[..]);
        assert_eq!(b.capacity(), pool.buf_size());
        assert_eq!(
            b.meta.csum,
            CsumState::Partial {
                start: 20,
                offset: 16
            }
        );
        pool.put(b);
        // A 64 KiB super-frame lands in the large buffer, contiguous.
        let big = frame(&payload(65000), TcpFlags::ACK, true);
        let mut wire = hdr(VnetHdrRepr {
            gso_type: GSO_TCPV4,
            gso_size: 1448,
            ..partial
        });
        wire.extend_from_slice(&big);
        let FdRead::Frame(b) = rd.read_frame(&mut pool, 64, serve(wire.clone())).unwrap() else {
            panic!("bad read")
        };
        assert_eq!(b.data(), &big[..]);
        assert_eq!(b.capacity(), LARGE_BUF_SIZE);
        assert_eq!(b.meta.gso_size, 1448);
        pool.put(b);
        // The steady state recycles: no more allocations for further reads.
        let before = pool.allocations();
        for _ in 0..10 {
            let FdRead::Frame(b) = rd.read_frame(&mut pool, 64, serve(wire.clone())).unwrap()
            else {
                panic!("bad read")
            };
            pool.put(b);
        }
        assert_eq!(pool.allocations(), before);
        // Short and unnegotiated input is reported, not delivered.
        assert!(matches!(
            rd.read_frame(&mut pool, 64, serve(vec![0; 5])).unwrap(),
            FdRead::Bad(None, _)
        ));
        let mut wire = hdr(VnetHdrRepr {
            gso_type: GSO_UDP,
            gso_size: 1000,
            ..partial
        });
        wire.extend_from_slice(&small);
        assert!(matches!(
            rd.read_frame(&mut pool, 64, serve(wire)).unwrap(),
            FdRead::Bad(Some(_), _)
        ));
        // Errors pass through.
        let e = rd
            .read_frame(&mut pool, 64, |_| Err(io::ErrorKind::WouldBlock.into()))
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
    }

    /// A read call serving `frames` one per call (as `readv`/`recvmsg` with MSG_TRUNC: the
    /// real length even when it did not fit), then `EAGAIN`.
    fn serve_frames(frames: Vec<Vec<u8>>) -> impl FnMut(&mut [libc::iovec]) -> io::Result<usize> {
        let mut frames = frames.into_iter();
        move |iov: &mut [libc::iovec]| {
            let Some(f) = frames.next() else {
                return Err(io::ErrorKind::WouldBlock.into());
            };
            let mut off = 0;
            for v in iov.iter() {
                let n = v.iov_len.min(f.len() - off);
                // SAFETY: the iovecs point at writable buffers of iov_len bytes.
                unsafe { std::ptr::copy_nonoverlapping(f[off..].as_ptr(), v.iov_base.cast(), n) };
                off += n;
            }
            Ok(f.len())
        }
    }

    fn dev(vnet: bool) -> FdDevice {
        let fd = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        FdDevice::new(fd, "test0".into(), vnet)
    }

    #[test]
    fn the_plain_path_delivers_frames_and_counts_runts_oversize_frames_and_skips() {
        let mut pool = BufPool::default();
        let probe = pool.get(RX_HEADROOM);
        let cap = probe.tailroom();
        pool.put(probe);
        let good = frame(&payload(100), TcpFlags::ACK, false);
        let frames = vec![
            good.clone(),
            vec![0; ETH_HLEN - 1], // a runt
            vec![0; cap + 1],      // larger than the buffer (MSG_TRUNC length)
            good.clone(),          // refused by `keep` (our own transmission)
            good.clone(),
        ];
        let mut d = dev(false);
        let mut out = Vec::new();
        let mut calls = 0;
        let keep = || {
            calls += 1;
            calls != 4
        };
        let n = d
            .napi_poll(
                &mut pool,
                &mut out,
                64,
                Instant::ZERO,
                serve_frames(frames),
                keep,
            )
            .unwrap();
        assert_eq!(n, 2);
        assert_eq!(out.len(), 2);
        for b in &out {
            assert_eq!(b.data(), &good[..]);
            assert_eq!(b.headroom(), RX_HEADROOM);
        }
        let st = d.stats;
        assert_eq!((st.rx_packets, st.rx_bytes), (2, 2 * good.len() as u64));
        assert_eq!(st.rx_errors, 2, "the runt and the oversize frame");
        assert!(!d.has_vnet_hdr());
        assert_eq!(d.features(), NetdevFeatures::default());
    }

    #[test]
    fn the_budget_bounds_a_poll_and_read_errors_are_reported() {
        let mut pool = BufPool::default();
        let good = frame(&payload(10), TcpFlags::ACK, false);
        let mut d = dev(false);
        let mut out = Vec::new();
        let n = d
            .napi_poll(
                &mut pool,
                &mut out,
                3,
                Instant::ZERO,
                serve_frames(vec![good; 10]),
                || true,
            )
            .unwrap();
        assert_eq!(n, 3, "at most the budget");
        let e = d
            .napi_poll(
                &mut pool,
                &mut out,
                3,
                Instant::ZERO,
                |_| Err(io::Error::from_raw_os_error(libc::EIO)),
                || true,
            )
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EIO));
        assert_eq!(d.stats.rx_errors, 1);
        let mut v = dev(true);
        assert!(v.has_vnet_hdr());
        assert_eq!(v.features(), NetdevFeatures::VNET);
        // In vnet mode a frame without its header is an error, not a frame.
        let n = v
            .napi_poll(
                &mut pool,
                &mut out,
                3,
                Instant::ZERO,
                serve_frames(vec![vec![0; 5]]),
                || true,
            )
            .unwrap();
        assert_eq!((n, v.stats.rx_errors), (0, 1));
        // A whole vnet frame the driver does not want is skipped, not counted.
        let mut wire = vec![0u8; VNET_HDR_LEN];
        wire.extend_from_slice(&frame(&payload(10), TcpFlags::ACK, false));
        let n = v
            .napi_poll(
                &mut pool,
                &mut out,
                3,
                Instant::ZERO,
                serve_frames(vec![wire.clone()]),
                || false,
            )
            .unwrap();
        assert_eq!((n, v.stats.rx_errors, v.stats.rx_packets), (0, 1, 0));
        let n = v
            .napi_poll(
                &mut pool,
                &mut out,
                3,
                Instant::ZERO,
                serve_frames(vec![wire]),
                || true,
            )
            .unwrap();
        assert_eq!((n, v.stats.rx_errors, v.stats.rx_packets), (1, 1, 1));
    }

    #[test]
    fn start_xmit_writes_the_header_only_in_vnet_mode() {
        use std::io::Read;
        let f = frame(&payload(3000), TcpFlags::ACK, true);
        let meta = Meta {
            csum: CsumState::Partial {
                start: 20,
                offset: 16,
            },
            gso_size: 1448,
            ..Default::default()
        };
        for vnet in [false, true] {
            let (mut rx, tx) = std::io::pipe().unwrap();
            let mut d = FdDevice::new(OwnedFd::from(tx), "test0".into(), vnet);
            d.start_xmit(&meta, &f).unwrap();
            assert_eq!((d.stats.tx_packets, d.stats.tx_bytes), (1, f.len() as u64));
            drop(d);
            let mut got = Vec::new();
            rx.read_to_end(&mut got).unwrap();
            if vnet {
                let h = VnetHdrRepr::parse(&got).unwrap();
                assert_eq!(h, VnetHdrRepr::from_meta(&meta, &f));
                assert_eq!((h.gso_size, h.csum_start), (1448, 34));
                assert_eq!(&got[VNET_HDR_LEN..], &f[..]);
            } else {
                assert_eq!(got, f);
            }
        }
    }
}
