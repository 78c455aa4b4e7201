//! The C entry points: `linnet_socket`, `linnet_bind`, ... with the signatures of their libc
//! namesakes, over one process-wide [`Posix`] instance (a loopback-only stack whose blocking
//! calls run virtual time themselves, see [`Posix::loopback`]; its descriptor numbers are
//! reserved in the process, see [`Posix::use_os_fds`]). Each returns what libc's
//! would, with `errno` set on failure; no panic crosses into C.
//!
//! `fcntl` and `ioctl` take their third argument as a fixed parameter (`long` / `void *`):
//! on the Linux x86_64 and aarch64 ABIs a variadic caller passes it in the same register.

use crate::cabi;
use crate::posix::Posix;
use libc::{
    c_int, c_long, c_ulong, c_void, iovec, msghdr, nfds_t, pollfd, sockaddr, socklen_t, ssize_t,
};
use std::sync::OnceLock;
use std::time::Duration;

static GLOBAL: OnceLock<Posix> = OnceLock::new();

/// The process-wide instance, created on first use.
pub fn global() -> &'static Posix {
    GLOBAL.get_or_init(|| {
        let p = Posix::loopback();
        p.use_os_fds();
        p
    })
}

/// Move the process-wide instance's virtual clock forward by `usecs` microseconds.
#[no_mangle]
pub extern "C" fn linnet_advance_usecs(usecs: u64) {
    let _ = std::panic::catch_unwind(|| global().advance(Duration::from_micros(usecs)));
}

/// The process-wide instance's virtual now, in microseconds.
#[no_mangle]
pub extern "C" fn linnet_now_usecs() -> u64 {
    std::panic::catch_unwind(|| global().now().total_micros()).unwrap_or(0)
}

/// `socket(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    cabi::socket(global(), domain, ty, protocol)
}

/// `bind(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `bind`.
#[no_mangle]
pub unsafe extern "C" fn linnet_bind(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's contract is `bind`'s, which cabi requires.
    unsafe { cabi::bind(global(), fd, addr, len) }
}

/// `listen(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_listen(fd: c_int, backlog: c_int) -> c_int {
    cabi::listen(global(), fd, backlog)
}

/// `accept(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `accept`.
#[no_mangle]
pub unsafe extern "C" fn linnet_accept(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract is `accept`'s, which cabi requires.
    unsafe { cabi::accept4(global(), fd, addr, len, 0) }
}

/// `accept4(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `accept4`.
#[no_mangle]
pub unsafe extern "C" fn linnet_accept4(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
    flags: c_int,
) -> c_int {
    // SAFETY: the caller's contract is `accept4`'s, which cabi requires.
    unsafe { cabi::accept4(global(), fd, addr, len, flags) }
}

/// `connect(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `connect`.
#[no_mangle]
pub unsafe extern "C" fn linnet_connect(fd: c_int, addr: *const sockaddr, len: socklen_t) -> c_int {
    // SAFETY: the caller's contract is `connect`'s, which cabi requires.
    unsafe { cabi::connect(global(), fd, addr, len) }
}

/// `read(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `read`.
#[no_mangle]
pub unsafe extern "C" fn linnet_read(fd: c_int, buf: *mut c_void, len: usize) -> ssize_t {
    // SAFETY: the caller's contract is `read`'s, which cabi requires.
    unsafe {
        cabi::recvfrom(
            global(),
            fd,
            buf,
            len,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `write(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `write`.
#[no_mangle]
pub unsafe extern "C" fn linnet_write(fd: c_int, buf: *const c_void, len: usize) -> ssize_t {
    // SAFETY: the caller's contract is `write`'s, which cabi requires.
    unsafe { cabi::sendto(global(), fd, buf, len, 0, std::ptr::null(), 0) }
}

/// `readv(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `readv`.
#[no_mangle]
pub unsafe extern "C" fn linnet_readv(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: the caller's contract is `readv`'s, which cabi requires.
    unsafe { cabi::readv(global(), fd, iov, cnt) }
}

/// `writev(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `writev`.
#[no_mangle]
pub unsafe extern "C" fn linnet_writev(fd: c_int, iov: *const iovec, cnt: c_int) -> ssize_t {
    // SAFETY: the caller's contract is `writev`'s, which cabi requires.
    unsafe { cabi::writev(global(), fd, iov, cnt) }
}

/// `send(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `send`.
#[no_mangle]
pub unsafe extern "C" fn linnet_send(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract is `send`'s, which cabi requires.
    unsafe { cabi::sendto(global(), fd, buf, len, flags, std::ptr::null(), 0) }
}

/// `recv(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `recv`.
#[no_mangle]
pub unsafe extern "C" fn linnet_recv(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
) -> ssize_t {
    // SAFETY: the caller's contract is `recv`'s, which cabi requires.
    unsafe {
        cabi::recvfrom(
            global(),
            fd,
            buf,
            len,
            flags,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// `sendto(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `sendto`.
#[no_mangle]
pub unsafe extern "C" fn linnet_sendto(
    fd: c_int,
    buf: *const c_void,
    len: usize,
    flags: c_int,
    addr: *const sockaddr,
    alen: socklen_t,
) -> ssize_t {
    // SAFETY: the caller's contract is `sendto`'s, which cabi requires.
    unsafe { cabi::sendto(global(), fd, buf, len, flags, addr, alen) }
}

/// `recvfrom(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `recvfrom`.
#[no_mangle]
pub unsafe extern "C" fn linnet_recvfrom(
    fd: c_int,
    buf: *mut c_void,
    len: usize,
    flags: c_int,
    addr: *mut sockaddr,
    alen: *mut socklen_t,
) -> ssize_t {
    // SAFETY: the caller's contract is `recvfrom`'s, which cabi requires.
    unsafe { cabi::recvfrom(global(), fd, buf, len, flags, addr, alen) }
}

/// `sendmsg(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `sendmsg`.
#[no_mangle]
pub unsafe extern "C" fn linnet_sendmsg(fd: c_int, msg: *const msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract is `sendmsg`'s, which cabi requires.
    unsafe { cabi::sendmsg(global(), fd, msg, flags) }
}

/// `recvmsg(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `recvmsg`.
#[no_mangle]
pub unsafe extern "C" fn linnet_recvmsg(fd: c_int, msg: *mut msghdr, flags: c_int) -> ssize_t {
    // SAFETY: the caller's contract is `recvmsg`'s, which cabi requires.
    unsafe { cabi::recvmsg(global(), fd, msg, flags) }
}

/// `shutdown(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_shutdown(fd: c_int, how: c_int) -> c_int {
    cabi::shutdown(global(), fd, how)
}

/// `close(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_close(fd: c_int) -> c_int {
    cabi::close(global(), fd)
}

/// `getsockname(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `getsockname`.
#[no_mangle]
pub unsafe extern "C" fn linnet_getsockname(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract is `getsockname`'s, which cabi requires.
    unsafe { cabi::getname(global(), fd, addr, len, false) }
}

/// `getpeername(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `getpeername`.
#[no_mangle]
pub unsafe extern "C" fn linnet_getpeername(
    fd: c_int,
    addr: *mut sockaddr,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract is `getpeername`'s, which cabi requires.
    unsafe { cabi::getname(global(), fd, addr, len, true) }
}

/// `fcntl(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    cabi::fcntl(global(), fd, cmd, arg)
}

/// `ioctl(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `ioctl`.
#[no_mangle]
pub unsafe extern "C" fn linnet_ioctl(fd: c_int, request: c_ulong, arg: *mut c_void) -> c_int {
    // SAFETY: the caller's contract is `ioctl`'s, which cabi requires.
    unsafe { cabi::ioctl(global(), fd, request, arg) }
}

/// `getsockopt(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `getsockopt`.
#[no_mangle]
pub unsafe extern "C" fn linnet_getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut socklen_t,
) -> c_int {
    // SAFETY: the caller's contract is `getsockopt`'s, which cabi requires.
    unsafe { cabi::getsockopt(global(), fd, level, name, val, len) }
}

/// `setsockopt(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `setsockopt`.
#[no_mangle]
pub unsafe extern "C" fn linnet_setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: socklen_t,
) -> c_int {
    // SAFETY: the caller's contract is `setsockopt`'s, which cabi requires.
    unsafe { cabi::setsockopt(global(), fd, level, name, val, len) }
}

/// `poll(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `poll`.
#[no_mangle]
pub unsafe extern "C" fn linnet_poll(fds: *mut pollfd, nfds: nfds_t, timeout: c_int) -> c_int {
    // SAFETY: the caller's contract is `poll`'s, which cabi requires.
    unsafe { cabi::poll(global(), fds, nfds, timeout) }
}

/// `epoll_create(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_epoll_create(size: c_int) -> c_int {
    cabi::epoll_create(global(), size)
}

/// `epoll_create1(2)` on the process-wide instance.
#[no_mangle]
pub extern "C" fn linnet_epoll_create1(flags: c_int) -> c_int {
    cabi::epoll_create1(global(), flags)
}

/// `epoll_ctl(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `epoll_ctl`.
#[no_mangle]
pub unsafe extern "C" fn linnet_epoll_ctl(
    epfd: c_int,
    op: c_int,
    fd: c_int,
    ev: *mut libc::epoll_event,
) -> c_int {
    // SAFETY: the caller's contract is `epoll_ctl`'s, which cabi requires.
    unsafe { cabi::epoll_ctl(global(), epfd, op, fd, ev) }
}

/// `epoll_wait(2)` on the process-wide instance.
///
/// # Safety
/// Pointers must be NULL or valid for the lengths given, as for libc's `epoll_wait`.
#[no_mangle]
pub unsafe extern "C" fn linnet_epoll_wait(
    epfd: c_int,
    evs: *mut libc::epoll_event,
    max: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: the caller's contract is `epoll_wait`'s, which cabi requires.
    unsafe { cabi::epoll_wait(global(), epfd, evs, max, timeout) }
}

/// `sendfile(2)` into a socket of the process-wide instance from a file of the process.
///
/// # Safety
/// `offset` must be NULL or valid for an `off_t`, as for libc's `sendfile`.
#[no_mangle]
pub unsafe extern "C" fn linnet_sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut libc::off_t,
    count: usize,
) -> ssize_t {
    // SAFETY: the caller's contract is `sendfile`'s, which cabi requires.
    unsafe { cabi::sendfile(global(), out_fd, in_fd, offset, count) }
}

/// `pipe2(2)`: a pipe of the process, for `linnet_splice`.
///
/// # Safety
/// `fds` must be valid for two ints, as for libc's `pipe2`.
#[no_mangle]
pub unsafe extern "C" fn linnet_pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    // SAFETY: the caller's contract is `pipe2`'s, which cabi requires.
    unsafe { cabi::pipe2(global(), fds, flags) }
}

/// `splice(2)` between a socket of the process-wide instance and a pipe of the process.
///
/// # Safety
/// The offsets must be NULL or valid for a `loff_t`, as for libc's `splice`.
#[no_mangle]
pub unsafe extern "C" fn linnet_splice(
    fd_in: c_int,
    off_in: *mut i64,
    fd_out: c_int,
    off_out: *mut i64,
    len: usize,
    flags: libc::c_uint,
) -> ssize_t {
    // SAFETY: the caller's contract is `splice`'s, which cabi requires.
    unsafe { cabi::splice(global(), fd_in, off_in, fd_out, off_out, len, flags) }
}
