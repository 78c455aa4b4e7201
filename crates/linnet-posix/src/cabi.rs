//! The C boundary: each call takes C's arguments (raw pointers, `socklen_t`, `struct
//! msghdr`...), checks them as the kernel does (`EFAULT` for NULL, `EINVAL` for bad
//! lengths), runs the call on a [`Posix`] instance and returns the C result: the value, or
//! -1 with `errno` set. A panic never unwinds into C: it is caught and reported as `EIO`.
//!
//! The kernel detects any unmapped pointer; a library can only detect NULL. Every non-NULL
//! pointer must be valid for the length the caller gives with it, as C's contract says.
//!
//! Linux: the system call entry points of net/socket.c, fs/eventpoll.c, fs/select.c.

use crate::calls::{EpollEvent, PollFd};
use crate::consts::{FIONBIO, FIONREAD, SIOCOUTQ, SIOCOUTQNSD};
use crate::errno::{Errno, SysResult, EFAULT, EINVAL};
use crate::posix::Posix;
use libc::{c_int, c_void, iovec, msghdr, sockaddr, socklen_t, ssize_t};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Most entries of an iovec array (`UIO_MAXIOV`).
const UIO_MAXIOV: usize = 1024;
/// `sizeof(struct sockaddr_in)`.
const SIN_LEN: usize = std::mem::size_of::<libc::sockaddr_in>();
/// `TCP_CM_INQ`: the control message `TCP_INQ` adds to `recvmsg`.
const TCP_CM_INQ: c_int = 36;

/// Set the calling thread's `errno`.
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns a valid pointer to this thread's errno.
    unsafe { *libc::__errno_location() = e };
}

/// Run `f`, turning its error or a panic into -1 with `errno`.
fn guard<T: Into<i64>>(f: impl FnOnce() -> SysResult<T>) -> i64 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => v.into(),
        Ok(Err(Errno(e))) => {
            set_errno(e);
            -1
        }
        Err(_) => {
            set_errno(libc::EIO);
            -1
        }
    }
}

fn ret_int(v: i64) -> c_int {
    v as c_int
}

/// A byte slice of C's (pointer, length): NULL with a nonzero length is `EFAULT`.
///
/// # Safety
/// A non-NULL `p` must be valid for reads of `len` bytes.
unsafe fn bytes<'a>(p: *const c_void, len: usize) -> SysResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(EFAULT);
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p as *const u8, len) })
}

/// A mutable byte slice of C's (pointer, length).
///
/// # Safety
/// A non-NULL `p` must be valid for writes of `len` bytes.
unsafe fn bytes_mut<'a>(p: *mut c_void, len: usize) -> SysResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(EFAULT);
    }
    // SAFETY: non-NULL and valid for `len` bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, len) })
}

/// An `AF_INET` address from C (`None`: `AF_UNSPEC`). Linux: `move_addr_to_kernel` and the
/// checks of `inet_bind` / `__inet_stream_connect`.
///
/// # Safety
/// A non-NULL `addr` must be valid for reads of `len` bytes.
unsafe fn sockaddr_in(addr: *const sockaddr, len: socklen_t) -> SysResult<Option<SocketAddrV4>> {
    let len = len as i32;
    if len < 0 || len as usize > std::mem::size_of::<libc::sockaddr_storage>() {
        return Err(EINVAL);
    }
    // SAFETY: forwarded contract.
    let b = unsafe { bytes(addr as *const c_void, len as usize)? };
    if b.len() < 2 {
        return Err(EINVAL);
    }
    let family = u16::from_ne_bytes([b[0], b[1]]) as i32;
    if family == libc::AF_UNSPEC {
        return Ok(None);
    }
    if b.len() < SIN_LEN {
        return Err(EINVAL);
    }
    if family != libc::AF_INET {
        return Err(Errno(libc::EAFNOSUPPORT));
    }
    let port = u16::from_be_bytes([b[2], b[3]]);
    let ip = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
    Ok(Some(SocketAddrV4::new(ip, port)))
}

/// Write an address out as `sockaddr_in`, truncated to `*len`, and set `*len` to its full
/// size. Linux: `move_addr_to_user`. NULL `addr` writes nothing.
///
/// # Safety
/// Non-NULL pointers must be valid (`addr` for `*len` bytes).
unsafe fn put_sockaddr(
    addr: *mut sockaddr,
    len: *mut socklen_t,
    sa: SocketAddrV4,
) -> SysResult<()> {
    if addr.is_null() {
        return Ok(());
    }
    if len.is_null() {
        return Err(EFAULT);
    }
    // SAFETY: non-NULL, valid by contract.
    let have = unsafe { *len } as i32;
    if have < 0 {
        return Err(EINVAL);
    }
    let mut sin = [0u8; SIN_LEN];
    sin[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
    sin[2..4].copy_from_slice(&sa.port().to_be_bytes());
    sin[4..8].copy_from_slice(&sa.ip().octets());
    let n = (have as usize).min(SIN_LEN);
    // SAFETY: `addr` is valid for `have` >= n bytes; `len` is valid.
    unsafe {
        std::ptr::copy_nonoverlapping(sin.as_ptr(), addr as *mut u8, n);
        *len = SIN_LEN as socklen_t;
    }
    Ok(())
}

/// The buffers of an iovec array.
///
/// # Safety
/// A non-NULL `iov` must point to `cnt` iovecs, each valid for its length.
unsafe fn iovecs<'a>(iov: *const iovec, cnt: i64) -> SysResult<Vec<&'a mut [u8]>> {
    if cnt < 0 || cnt as usize > UIO_MAXIOV {
        return Err(EINVAL);
    }
    if cnt == 0 {
        return Ok(Vec::new());
    }
    if iov.is_null() {
        return Err(EFAULT);
    }
    // SAFETY: `cnt` iovecs by contract.
    let v = unsafe { std::slice::from_raw_parts(iov, cnt as usize) };
    let mut total = 0usize;
    v.iter()
        .map(|e| {
            total = total.saturating_add(e.iov_len);
            if total > isize::MAX as usize {
                return Err(EINVAL);
            }
            // SAFETY: each iovec valid for its length by contract.
            unsafe { bytes_mut(e.iov_base, e.iov_len) }
        })
        .collect()
}

/// `socket`.
pub fn socket(p: &Posix, domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    ret_int(guard(|| p.socket(domain, ty, protocol)))
}

/// `bind`.
///
/// # Safety
/// `addr` must be NULL or valid for `len` bytes.
pub unsafe fn bind(p: &Posix, fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    ret_int(guard(|| {
        // SAFETY: forwarded contract.
        let a = unsafe { sockaddr_in(addr, len)? };
        let a = match a {
            Some(a) => a,
            // Linux accepts AF_UNSPEC with INADDR_ANY for compatibility (inet_bind).
            None if len as usize >= SIN_LEN => {
                // SAFETY: checked length above.
                let b = unsafe { bytes(addr as *const c_void, SIN_LEN)? };
                if b[4..8] != [0, 0, 0, 0] {
                    return Err(Errno(libc::EAFNOSUPPORT));
                }
                SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, u16::from_be_bytes([b[2], b[3]]))
            }
            None => return Err(EINVAL),
        };
        p.bind(fd, a).map(|()| 0)
    }))
}

/// `listen`.
pub fn listen(p: &Posix, fd: c_int, backlog: c_int) -> c_int {
    ret_int(guard(|| p.listen(fd, backlog).map(|()| 0)))
}

/// `accept4` (`accept` is `flags` 0).
///
/// # Safety
/// `addr`/`len` must be NULL or valid (`addr` for `*len` bytes).
pub unsafe fn accept4(
    p: &Posix,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    ret_int(guard(|| {
        if !addr.is_null() {
            if len.is_null() {
                return Err(EFAULT);
            }
            // SAFETY: non-NULL by check, valid by contract.
            if (unsafe { *len } as i32) < 0 {
                return Err(EINVAL);
            }
        }
        let (nfd, peer) = p.accept4(fd, flags)?;
        // SAFETY: forwarded contract.
        if let Err(e) = unsafe { put_sockaddr(addr, len, peer) } {
            let _ = p.close(nfd);
            return Err(e);
        }
        Ok(nfd)
    }))
}

/// `connect`.
///
/// # Safety
/// `addr` must be NULL or valid for `len` bytes.
pub unsafe fn connect(p: &Posix, fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    ret_int(guard(|| {
        // SAFETY: forwarded contract.
        let a = unsafe { sockaddr_in(addr, len)? };
        p.connect(fd, a).map(|()| 0)
    }))
}

/// `sendto` (`send`/`write` with no address).
///
/// # Safety
/// `buf` must be NULL or valid for `len` bytes, `addr` NULL or valid for `alen` bytes.
pub unsafe fn sendto(
    p: &Posix,
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    guard(|| {
        // SAFETY: forwarded contract.
        let data = unsafe { bytes(buf, len)? };
        let dst = if addr.is_null() {
            None
        } else {
            // SAFETY: forwarded contract.
            let dst = unsafe { sockaddr_in(addr, alen)? };
            if dst.is_none() && flags & libc::MSG_FASTOPEN != 0 {
                p.fastopen_af_unspec(fd)?;
            }
            dst
        };
        p.sendmsg(fd, &[data], dst, flags).map(|n| n as i64)
    }) as ssize_t
}

/// `writev`.
///
/// # Safety
/// `iov` must be NULL or point to `cnt` valid iovecs.
pub unsafe fn writev(p: &Posix, fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    guard(|| {
        // SAFETY: forwarded contract.
        let v = unsafe { iovecs(iov, cnt as i64)? };
        let bufs: Vec<&[u8]> = v.iter().map(|b| &**b).collect();
        p.sendmsg(fd, &bufs, None, 0).map(|n| n as i64)
    }) as ssize_t
}

/// `sendmsg`.
///
/// # Safety
/// `msg` must be NULL or a valid `struct msghdr` whose pointers are valid.
pub unsafe fn sendmsg(p: &Posix, fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    guard(|| {
        if msg.is_null() {
            return Err(EFAULT);
        }
        // SAFETY: non-NULL, valid by contract.
        let m = unsafe { &*msg };
        // SAFETY: forwarded contract.
        let v = unsafe { iovecs(m.msg_iov, m.msg_iovlen as i64)? };
        let dst = if m.msg_name.is_null() || m.msg_namelen == 0 {
            None
        } else {
            // SAFETY: forwarded contract.
            let dst = unsafe { sockaddr_in(m.msg_name as *const sockaddr, m.msg_namelen)? };
            if dst.is_none() && flags & libc::MSG_FASTOPEN != 0 {
                p.fastopen_af_unspec(fd)?;
            }
            dst
        };
        let bufs: Vec<&[u8]> = v.iter().map(|b| &**b).collect();
        p.sendmsg(fd, &bufs, dst, flags).map(|n| n as i64)
    }) as ssize_t
}

/// `recvfrom` (`recv`/`read` with no address).
///
/// # Safety
/// `buf` must be NULL or valid for `len` bytes; `addr`/`alen` NULL or valid.
pub unsafe fn recvfrom(
    p: &Posix,
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    guard(|| {
        // SAFETY: forwarded contract.
        let b = unsafe { bytes_mut(buf, len)? };
        let r = p.recvmsg(fd, &mut [b], flags)?;
        if let Some(from) = r.from {
            if p.is_dgram(fd) {
                // SAFETY: forwarded contract.
                unsafe { put_sockaddr(addr, alen, from)? };
            } else if !alen.is_null() && !addr.is_null() {
                // Linux leaves a stream socket's address alone and sets the length to 0.
                // SAFETY: non-NULL, valid by contract.
                unsafe { *alen = 0 };
            }
        }
        Ok(r.len as i64)
    }) as ssize_t
}

/// `readv`.
///
/// # Safety
/// `iov` must be NULL or point to `cnt` valid iovecs.
pub unsafe fn readv(p: &Posix, fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    guard(|| {
        // SAFETY: forwarded contract.
        let mut v = unsafe { iovecs(iov, cnt as i64)? };
        p.recvmsg(fd, &mut v, 0).map(|r| r.len as i64)
    }) as ssize_t
}

/// `recvmsg`: fills `msg_name`, `msg_flags` and, with `TCP_INQ` on, a `TCP_CM_INQ` control
/// message.
///
/// # Safety
/// `msg` must be NULL or a valid `struct msghdr` whose pointers are valid.
pub unsafe fn recvmsg(p: &Posix, fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    guard(|| {
        if msg.is_null() {
            return Err(EFAULT);
        }
        // SAFETY: non-NULL, valid by contract.
        let m = unsafe { &mut *msg };
        // SAFETY: forwarded contract.
        let mut v = unsafe { iovecs(m.msg_iov, m.msg_iovlen as i64)? };
        if flags & libc::MSG_ERRQUEUE != 0 {
            let report = p.recv_errqueue(fd)?;
            // SAFETY: forwarded contract (msg_control valid for msg_controllen bytes).
            unsafe { put_errqueue_cmsgs(p, m, report) };
            return Ok(0);
        }
        let r = p.recvmsg(fd, &mut v, flags)?;
        if !m.msg_name.is_null() {
            match r.from {
                Some(from) if p.is_dgram(fd) => {
                    // SAFETY: msg_name valid for msg_namelen bytes by contract.
                    unsafe { put_sockaddr(m.msg_name as *mut sockaddr, &mut m.msg_namelen, from)? };
                }
                _ => m.msg_namelen = 0,
            }
        }
        m.msg_flags = r.flags;
        let inq = p.tcp_inq(fd);
        let mut used = 0usize;
        if let Some(inq) = inq {
            let space = unsafe { libc::CMSG_SPACE(4) } as usize;
            if !m.msg_control.is_null() && m.msg_controllen >= space {
                // SAFETY: msg_control is valid for msg_controllen >= space bytes; the cmsg
                // macros stay within it.
                unsafe {
                    let c = libc::CMSG_FIRSTHDR(m);
                    (*c).cmsg_level = libc::SOL_TCP;
                    (*c).cmsg_type = TCP_CM_INQ;
                    (*c).cmsg_len = libc::CMSG_LEN(4) as _;
                    std::ptr::copy_nonoverlapping(
                        inq.to_ne_bytes().as_ptr(),
                        libc::CMSG_DATA(c),
                        4,
                    );
                }
                used = space;
            } else if !m.msg_control.is_null() || m.msg_controllen > 0 {
                m.msg_flags |= libc::MSG_CTRUNC;
            }
        }
        m.msg_controllen = used as _;
        Ok(r.len as i64)
    }) as ssize_t
}

/// `SO_EE_ORIGIN_ZEROCOPY`.
const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
/// `SO_EE_CODE_ZEROCOPY_COPIED`.
const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// `SO_EE_ORIGIN_TIMESTAMPING`.
const SO_EE_ORIGIN_TIMESTAMPING: u8 = 4;
/// `SCM_TIMESTAMPING` (= `SO_TIMESTAMPING_OLD`).
const SCM_TIMESTAMPING: c_int = 37;

/// Write an error-queue report as Linux's `ip_recv_error` does: for a timestamp first a
/// `SOL_SOCKET`/`SCM_TIMESTAMPING` message (`struct scm_timestamping`, software time in
/// `ts[0]`), then a `SOL_IP`/`IP_RECVERR` message holding `struct sock_extended_err` and the
/// (empty) offender address; `MSG_CTRUNC` for what does not fit.
///
/// # Safety
/// `m.msg_control` must be NULL or valid for `m.msg_controllen` bytes.
unsafe fn put_errqueue_cmsgs(p: &Posix, m: &mut msghdr, r: crate::calls::ErrReport) {
    use crate::calls::ErrReport;
    let mut ee = [0u8; 32];
    m.msg_flags = libc::MSG_ERRQUEUE;
    let mut stamp: Option<[u8; 48]> = None;
    match r {
        ErrReport::Zerocopy { lo, hi } => {
            ee[4] = SO_EE_ORIGIN_ZEROCOPY;
            ee[6] = SO_EE_CODE_ZEROCOPY_COPIED;
            ee[8..12].copy_from_slice(&lo.to_ne_bytes());
            ee[12..16].copy_from_slice(&hi.to_ne_bytes());
        }
        ErrReport::Timestamp {
            kind,
            key,
            at,
            tsonly,
        } => {
            ee[0..4].copy_from_slice(&(libc::ENOMSG as u32).to_ne_bytes());
            ee[4] = SO_EE_ORIGIN_TIMESTAMPING;
            ee[8..12].copy_from_slice(&kind.to_ne_bytes());
            ee[12..16].copy_from_slice(&key.to_ne_bytes());
            let us = p.realtime_usecs(at);
            let mut ts = [0u8; 48];
            ts[0..8].copy_from_slice(&(us.div_euclid(1_000_000)).to_ne_bytes());
            ts[8..16].copy_from_slice(&(us.rem_euclid(1_000_000) * 1000).to_ne_bytes());
            stamp = Some(ts);
            if !tsonly {
                m.msg_flags |= libc::MSG_TRUNC;
            }
        }
    }
    let parts: [(c_int, c_int, Option<&[u8]>); 2] = [
        (
            libc::SOL_SOCKET,
            SCM_TIMESTAMPING,
            stamp.as_ref().map(|s| &s[..]),
        ),
        (libc::SOL_IP, libc::IP_RECVERR, Some(&ee[..])),
    ];
    let mut used = 0usize;
    let mut c: *mut libc::cmsghdr = std::ptr::null_mut();
    for (level, ty, data) in parts {
        let Some(data) = data else { continue };
        // SAFETY: CMSG_SPACE is a pure computation.
        let space = unsafe { libc::CMSG_SPACE(data.len() as u32) } as usize;
        if m.msg_control.is_null() || used + space > m.msg_controllen {
            m.msg_flags |= libc::MSG_CTRUNC;
            break;
        }
        // SAFETY: msg_control is valid for msg_controllen >= used + space bytes; the cmsg
        // macros stay within it (the header's length is set before CMSG_NXTHDR reads it).
        unsafe {
            c = if c.is_null() {
                libc::CMSG_FIRSTHDR(m)
            } else {
                (c as *mut u8)
                    .add(libc::CMSG_SPACE((*c).cmsg_len as u32 - libc::CMSG_LEN(0)) as usize)
                    as *mut libc::cmsghdr
            };
            (*c).cmsg_level = level;
            (*c).cmsg_type = ty;
            (*c).cmsg_len = libc::CMSG_LEN(data.len() as u32) as _;
            std::ptr::copy_nonoverlapping(data.as_ptr(), libc::CMSG_DATA(c), data.len());
        }
        used += space;
    }
    m.msg_controllen = used as _;
}

/// `shutdown`.
pub fn shutdown(p: &Posix, fd: c_int, how: c_int) -> c_int {
    ret_int(guard(|| p.shutdown(fd, how).map(|()| 0)))
}

/// `close`.
pub fn close(p: &Posix, fd: c_int) -> c_int {
    ret_int(guard(|| p.close(fd).map(|()| 0)))
}

/// `getsockname` / `getpeername`.
///
/// # Safety
/// `addr`/`len` must be NULL or valid.
pub unsafe fn getname(
    p: &Posix,
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    peer: bool,
) -> c_int {
    ret_int(guard(|| {
        if addr.is_null() || len.is_null() {
            return Err(EFAULT);
        }
        let a = if peer {
            p.getpeername(fd)?
        } else {
            p.getsockname(fd)?
        };
        // SAFETY: forwarded contract.
        unsafe { put_sockaddr(addr, len, a)? };
        Ok(0)
    }))
}

/// `fcntl` with an integer argument.
pub fn fcntl(p: &Posix, fd: c_int, cmd: c_int, arg: libc::c_long) -> c_int {
    // (c_long is i64 on 64-bit Linux only.)
    #[allow(clippy::unnecessary_cast)]
    let arg = arg as i64;
    ret_int(guard(|| p.fcntl(fd, cmd, arg)))
}

/// `ioctl` with a pointer argument (`FIONREAD`/`SIOCINQ`, `SIOCOUTQ`, `SIOCOUTQNSD` write an
/// int to it; `FIONBIO` reads one).
///
/// # Safety
/// `arg` must be NULL or valid for an int.
pub unsafe fn ioctl(p: &Posix, fd: c_int, request: libc::c_ulong, arg: *mut c_void) -> c_int {
    // (c_ulong is u64 on 64-bit Linux only.)
    #[allow(clippy::unnecessary_cast)]
    let request = request as u64;
    ret_int(guard(|| {
        match request {
            FIONBIO => {
                if arg.is_null() {
                    return Err(EFAULT);
                }
                // SAFETY: non-NULL, valid for an int by contract.
                let on = unsafe { std::ptr::read_unaligned(arg as *const c_int) } != 0;
                p.ioctl_fionbio(fd, on).map(|()| 0)
            }
            FIONREAD | SIOCOUTQ | SIOCOUTQNSD => {
                let v = p.ioctl_get(fd, request)?;
                if arg.is_null() {
                    return Err(EFAULT);
                }
                // SAFETY: non-NULL, valid for an int by contract.
                unsafe { std::ptr::write_unaligned(arg as *mut c_int, v) };
                Ok(0)
            }
            _ => {
                p.fd_exists(fd)?;
                Err(Errno(libc::ENOTTY))
            }
        }
    }))
}

/// `getsockopt`.
///
/// # Safety
/// `val`/`len` must be NULL or valid (`val` for `*len` bytes).
pub unsafe fn getsockopt(
    p: &Posix,
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    ret_int(guard(|| {
        if len.is_null() {
            return Err(EFAULT);
        }
        // SAFETY: non-NULL, valid by contract.
        let have = unsafe { *len } as i32;
        if have < 0 {
            return Err(EINVAL);
        }
        // SAFETY: forwarded contract.
        let out = unsafe { bytes_mut(val, have as usize)? };
        let n = p.getsockopt(fd, level, name, out)?;
        // SAFETY: valid by contract.
        unsafe { *len = n as socklen_t };
        Ok(0)
    }))
}

/// `setsockopt`.
///
/// # Safety
/// `val` must be NULL or valid for `len` bytes.
pub unsafe fn setsockopt(
    p: &Posix,
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    ret_int(guard(|| {
        if (len as i32) < 0 {
            return Err(EINVAL);
        }
        // SAFETY: forwarded contract.
        let v = unsafe { bytes(val, len as usize)? };
        p.setsockopt(fd, level, name, v).map(|()| 0)
    }))
}

/// `poll`.
///
/// # Safety
/// `fds` must be NULL or point to `nfds` valid `struct pollfd`.
pub unsafe fn poll(p: &Posix, fds: *mut libc::pollfd, nfds: libc::nfds_t, timeout: c_int) -> c_int {
    ret_int(guard(|| {
        if nfds as usize > crate::fd::MAX_FDS {
            return Err(EINVAL);
        }
        if nfds > 0 && fds.is_null() {
            return Err(EFAULT);
        }
        let raw: &mut [libc::pollfd] = if nfds == 0 {
            &mut []
        } else {
            // SAFETY: non-NULL, `nfds` entries by contract.
            unsafe { std::slice::from_raw_parts_mut(fds, nfds as usize) }
        };
        let mut v: Vec<PollFd> = raw
            .iter()
            .map(|r| PollFd {
                fd: r.fd,
                events: r.events,
                revents: 0,
            })
            .collect();
        let n = p.poll(&mut v, timeout)?;
        for (r, x) in raw.iter_mut().zip(&v) {
            r.revents = x.revents;
        }
        Ok(n as i64)
    }))
}

/// `epoll_create`.
pub fn epoll_create(p: &Posix, size: c_int) -> c_int {
    ret_int(guard(|| p.epoll_create(size)))
}

/// `epoll_create1`.
pub fn epoll_create1(p: &Posix, flags: c_int) -> c_int {
    ret_int(guard(|| p.epoll_create1(flags)))
}

/// `epoll_ctl`.
///
/// # Safety
/// `ev` must be NULL or valid.
pub unsafe fn epoll_ctl(
    p: &Posix,
    epfd: c_int,
    op: c_int,
    fd: c_int,
    ev: *mut libc::epoll_event,
) -> c_int {
    ret_int(guard(|| {
        let e = if ev.is_null() || op == libc::EPOLL_CTL_DEL {
            None
        } else {
            // SAFETY: non-NULL, valid by contract (read unaligned: packed on x86_64).
            let raw = unsafe { std::ptr::read_unaligned(ev) };
            Some(EpollEvent {
                events: raw.events,
                data: raw.u64,
            })
        };
        p.epoll_ctl(epfd, op, fd, e).map(|()| 0)
    }))
}

/// `epoll_wait`.
///
/// # Safety
/// `evs` must be NULL or valid for `max` entries.
pub unsafe fn epoll_wait(
    p: &Posix,
    epfd: c_int,
    evs: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    ret_int(guard(|| {
        if max <= 0 || max as usize > i32::MAX as usize / std::mem::size_of::<libc::epoll_event>() {
            return Err(EINVAL);
        }
        if evs.is_null() {
            return Err(EFAULT);
        }
        let mut out = vec![EpollEvent::default(); max as usize];
        let n = p.epoll_wait(epfd, &mut out, timeout)?;
        for (i, e) in out[..n].iter().enumerate() {
            let raw = libc::epoll_event {
                events: e.events,
                u64: e.data,
            };
            // SAFETY: `evs` valid for `max` > i entries by contract.
            unsafe { std::ptr::write_unaligned(evs.add(i), raw) };
        }
        Ok(n as i64)
    }))
}
