//! The socket ABI over a loopback-only stack: calls, Linux's errno for bad arguments, and
//! blocking calls that run virtual time themselves.

use linnet_posix::{cabi, EpollEvent, Errno, PollFd, Posix, TcpInfoC, TCP_INFO_SIZE};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn e(x: i32) -> Errno {
    Errno(x)
}

/// A connected pair over loopback: (listener, client, server side).
fn pair(p: &Posix, port: u16) -> (i32, i32, i32) {
    let l = p.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    p.setsockopt(l, libc::SOL_SOCKET, libc::SO_REUSEADDR, &1i32.to_ne_bytes())
        .unwrap();
    p.bind(l, SocketAddrV4::new(LO, port)).unwrap();
    p.listen(l, 16).unwrap();
    let c = p
        .socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
        .unwrap();
    assert_eq!(
        p.connect(c, Some(SocketAddrV4::new(LO, port))),
        Err(e(libc::EINPROGRESS))
    );
    // Blocking accept runs virtual time until the handshake is done.
    let (s, peer) = p.accept4(l, 0).unwrap();
    assert_eq!(peer, p.getsockname(c).unwrap());
    // The non-blocking connect reports its completion once, then EISCONN.
    assert_eq!(p.connect(c, Some(SocketAddrV4::new(LO, port))), Ok(()));
    assert_eq!(
        p.connect(c, Some(SocketAddrV4::new(LO, port))),
        Err(e(libc::EISCONN))
    );
    (l, c, s)
}

#[test]
fn descriptors_start_at_three_and_reuse_the_lowest() {
    let p = Posix::loopback();
    let a = p.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    let b = p.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!((a, b), (3, 4));
    p.close(a).unwrap();
    assert_eq!(p.close(a), Err(e(libc::EBADF)));
    assert_eq!(p.socket(libc::AF_INET, libc::SOCK_STREAM, 0), Ok(3));
}

#[test]
fn stream_data_poll_ioctl_and_shutdown() {
    let p = Posix::loopback();
    let (_l, c, s) = pair(&p, 5000);
    assert_eq!(p.send(c, b"hello world", 0), Ok(11));
    let mut fds = [PollFd {
        fd: s,
        events: libc::POLLIN,
        revents: 0,
    }];
    assert_eq!(p.poll(&mut fds, 1000), Ok(1));
    assert_eq!(fds[0].revents, libc::POLLIN);
    assert_eq!(p.ioctl_get(s, 0x541B), Ok(11));
    let mut buf = [0u8; 5];
    assert_eq!(p.recv(s, &mut buf, libc::MSG_PEEK), Ok(5));
    assert_eq!(&buf, b"hello");
    let mut a = [0u8; 6];
    let mut b = [0u8; 100];
    let r = p.recvmsg(s, &mut [&mut a, &mut b], 0).unwrap();
    assert_eq!(r.len, 11);
    assert_eq!(&a, b"hello ");
    assert_eq!(&b[..5], b"world");
    assert_eq!(p.recv(s, &mut b, libc::MSG_DONTWAIT), Err(e(libc::EAGAIN)));
    p.shutdown(c, libc::SHUT_WR).unwrap();
    // EOF reaches the server: a blocking read returns 0 once the FIN is in.
    assert_eq!(p.recv(s, &mut b, 0), Ok(0));
    assert_eq!(p.send(c, b"x", libc::MSG_NOSIGNAL), Err(e(libc::EPIPE)));
    assert_eq!(p.shutdown(c, 7), Err(e(libc::EINVAL)));
}

#[test]
fn blocking_recv_times_out_in_virtual_time() {
    let p = Posix::loopback();
    // The accepted side is blocking (the client was made non-blocking).
    let (_l, _c, c) = pair(&p, 5001);
    let mut tv = [0u8; 16];
    tv[0..8].copy_from_slice(&2i64.to_ne_bytes());
    tv[8..16].copy_from_slice(&500_000i64.to_ne_bytes());
    p.setsockopt(c, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
        .unwrap();
    let mut out = [0u8; 16];
    assert_eq!(
        p.getsockopt(c, libc::SOL_SOCKET, libc::SO_RCVTIMEO, &mut out),
        Ok(16)
    );
    assert_eq!(out, tv);
    let t0 = p.now();
    let mut buf = [0u8; 10];
    assert_eq!(p.recv(c, &mut buf, 0), Err(e(libc::EAGAIN)));
    let waited = p.now().saturating_since(t0);
    assert!(
        waited >= Duration::from_millis(2500) && waited < Duration::from_millis(2600),
        "{waited:?}"
    );
}

#[test]
fn epoll_level_edge_and_oneshot() {
    let p = Posix::loopback();
    let (_l, c, s) = pair(&p, 5002);
    let ep = p.epoll_create1(0).unwrap();
    let ev = |events: i32, data| {
        Some(EpollEvent {
            events: events as u32,
            data,
        })
    };
    p.epoll_ctl(
        ep,
        libc::EPOLL_CTL_ADD,
        s,
        ev(libc::EPOLLIN | libc::EPOLLET, 7),
    )
    .unwrap();
    assert_eq!(
        p.epoll_ctl(ep, libc::EPOLL_CTL_ADD, s, ev(libc::EPOLLIN, 7)),
        Err(e(libc::EEXIST))
    );
    let mut out = [EpollEvent::default(); 4];
    assert_eq!(p.epoll_wait(ep, &mut out, 0), Ok(0));
    p.send(c, b"abc", 0).unwrap();
    assert_eq!(p.epoll_wait(ep, &mut out, 100), Ok(1));
    assert_eq!(out[0].data, 7);
    assert_eq!(out[0].events, libc::EPOLLIN as u32);
    // Edge-triggered: no new wake-up, no new report, though data is still there.
    assert_eq!(p.epoll_wait(ep, &mut out, 0), Ok(0));
    p.send(c, b"def", 0).unwrap();
    assert_eq!(p.epoll_wait(ep, &mut out, 100), Ok(1));
    // Level-triggered one-shot: reported once, then disabled until EPOLL_CTL_MOD.
    p.epoll_ctl(
        ep,
        libc::EPOLL_CTL_MOD,
        s,
        ev(libc::EPOLLIN | libc::EPOLLONESHOT, 9),
    )
    .unwrap();
    assert_eq!(p.epoll_wait(ep, &mut out, 0), Ok(1));
    assert_eq!(p.epoll_wait(ep, &mut out, 0), Ok(0));
    p.epoll_ctl(ep, libc::EPOLL_CTL_MOD, s, ev(libc::EPOLLIN, 9))
        .unwrap();
    assert_eq!(p.epoll_wait(ep, &mut out, 0), Ok(1));
    assert_eq!(p.epoll_wait(ep, &mut out, 0), Ok(1));
    p.epoll_ctl(ep, libc::EPOLL_CTL_DEL, s, None).unwrap();
    assert_eq!(
        p.epoll_ctl(ep, libc::EPOLL_CTL_DEL, s, None),
        Err(e(libc::ENOENT))
    );
    assert_eq!(p.epoll_wait(ep, &mut [], 0), Err(e(libc::EINVAL)));
    // An epoll descriptor is not a socket.
    assert_eq!(p.listen(ep, 1), Err(e(libc::ENOTSOCK)));
}

#[test]
fn tcp_info_is_linux_layout_and_truthful() {
    let p = Posix::loopback();
    let (_l, c, s) = pair(&p, 5003);
    p.send(c, &[1u8; 3000], 0).unwrap();
    let mut b = [0u8; 3000];
    let mut got = 0;
    while got < 3000 {
        got += p.recv(s, &mut b[got..], 0).unwrap();
    }
    let mut raw = [0u8; 400];
    let n = p
        .getsockopt(c, libc::SOL_TCP, libc::TCP_INFO, &mut raw)
        .unwrap();
    assert_eq!(n, TCP_INFO_SIZE);
    // SAFETY: TcpInfoC is plain integers; the buffer holds TCP_INFO_SIZE initialized bytes.
    let info: TcpInfoC = unsafe { std::ptr::read_unaligned(raw.as_ptr() as *const TcpInfoC) };
    assert_eq!(info.tcpi_state, 1, "ESTABLISHED");
    assert_eq!(info.tcpi_options & 7, 7, "timestamps, SACK, window scaling");
    assert_eq!(info.tcpi_bytes_sent, 3000);
    assert!(info.tcpi_snd_mss > 0 && info.tcpi_rto >= 200_000);
    // A short buffer gets a prefix, as in Linux.
    let mut short = [0u8; 8];
    assert_eq!(
        p.getsockopt(c, libc::SOL_TCP, libc::TCP_INFO, &mut short),
        Ok(8)
    );
    assert_eq!(short[0], 1);
}

#[test]
fn socket_options_and_their_errors() {
    let p = Posix::loopback();
    let fd = p.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    let one = 1i32.to_ne_bytes();
    let mut out = [0u8; 4];
    p.setsockopt(fd, libc::SOL_TCP, libc::TCP_NODELAY, &one)
        .unwrap();
    assert_eq!(
        p.getsockopt(fd, libc::SOL_TCP, libc::TCP_NODELAY, &mut out),
        Ok(4)
    );
    assert_eq!(i32::from_ne_bytes(out), 1);
    assert_eq!(
        p.setsockopt(fd, libc::SOL_TCP, libc::TCP_NODELAY, &one[..2]),
        Err(e(libc::EINVAL))
    );
    assert_eq!(p.setsockopt(fd, 99, 1, &one), Err(e(libc::ENOPROTOOPT)));
    assert_eq!(
        p.setsockopt(fd, libc::SOL_TCP, 9999, &one),
        Err(e(libc::ENOPROTOOPT))
    );
    assert_eq!(
        p.setsockopt(fd, libc::SOL_TCP, libc::TCP_KEEPCNT, &0i32.to_ne_bytes()),
        Err(e(libc::EINVAL))
    );
    assert_eq!(
        p.setsockopt(fd, libc::SOL_TCP, libc::TCP_CONGESTION, b"nosuch\0"),
        Err(e(libc::ENOENT))
    );
    p.setsockopt(fd, libc::SOL_TCP, libc::TCP_CONGESTION, b"reno\0")
        .unwrap();
    let mut name = [0u8; 16];
    p.getsockopt(fd, libc::SOL_TCP, libc::TCP_CONGESTION, &mut name)
        .unwrap();
    assert_eq!(&name[..5], b"reno\0");
    p.setsockopt(
        fd,
        libc::SOL_SOCKET,
        libc::SO_RCVBUF,
        &10000i32.to_ne_bytes(),
    )
    .unwrap();
    p.getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, &mut out)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(out), 20000, "Linux doubles SO_RCVBUF");
    p.getsockopt(fd, libc::SOL_SOCKET, libc::SO_TYPE, &mut out)
        .unwrap();
    assert_eq!(i32::from_ne_bytes(out), libc::SOCK_STREAM);
    // A UDP socket has no TCP level.
    let u = p.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    assert_eq!(
        p.getsockopt(u, libc::SOL_TCP, libc::TCP_INFO, &mut out),
        Err(e(libc::ENOPROTOOPT))
    );
    assert_eq!(
        p.socket(libc::AF_INET6, libc::SOCK_STREAM, 0),
        Err(e(libc::EAFNOSUPPORT))
    );
    assert_eq!(
        p.socket(libc::AF_INET, libc::SOCK_STREAM, libc::IPPROTO_UDP),
        Err(e(libc::EPROTONOSUPPORT))
    );
    assert_eq!(p.fcntl(fd, libc::F_GETFL, 0), Ok(libc::O_RDWR));
    p.fcntl(fd, libc::F_SETFL, libc::O_NONBLOCK as i64).unwrap();
    assert_eq!(
        p.fcntl(fd, libc::F_GETFL, 0),
        Ok(libc::O_RDWR | libc::O_NONBLOCK)
    );
    assert_eq!(p.fcntl(77, libc::F_GETFL, 0), Err(e(libc::EBADF)));
}

#[test]
fn c_boundary_checks_pointers_and_lengths() {
    let p = Posix::loopback();
    let fd = cabi::socket(&p, libc::AF_INET, libc::SOCK_STREAM, 0);
    assert_eq!(fd, 3);
    let errno = || std::io::Error::last_os_error().raw_os_error().unwrap();
    // SAFETY: NULL and short lengths are what is being tested; no pointer is dereferenced
    // beyond the lengths given.
    unsafe {
        assert_eq!(cabi::bind(&p, fd, std::ptr::null(), 16), -1);
        assert_eq!(errno(), libc::EFAULT);
        let sin: libc::sockaddr_in = std::mem::zeroed();
        assert_eq!(
            cabi::bind(&p, fd, &sin as *const _ as *const libc::sockaddr, 8),
            -1
        );
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(
            cabi::sendto(&p, fd, std::ptr::null(), 10, 0, std::ptr::null(), 0),
            -1
        );
        assert_eq!(errno(), libc::EFAULT);
        let mut len: libc::socklen_t = 4;
        assert_eq!(
            cabi::getsockopt(
                &p,
                fd,
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                std::ptr::null_mut(),
                &mut len
            ),
            -1
        );
        assert_eq!(errno(), libc::EFAULT);
        let mut v = 0i32;
        let mut neg = -1i32 as libc::socklen_t;
        assert_eq!(
            cabi::getsockopt(
                &p,
                fd,
                libc::SOL_SOCKET,
                libc::SO_TYPE,
                &mut v as *mut i32 as *mut _,
                &mut neg
            ),
            -1
        );
        assert_eq!(errno(), libc::EINVAL);
        assert_eq!(cabi::recvmsg(&p, fd, std::ptr::null_mut(), 0), -1);
        assert_eq!(errno(), libc::EFAULT);
        assert_eq!(cabi::poll(&p, std::ptr::null_mut(), 1, 0), -1);
        assert_eq!(errno(), libc::EFAULT);
        assert_eq!(
            cabi::ioctl(&p, 99, 0x541B, &mut v as *mut i32 as *mut _),
            -1
        );
        assert_eq!(errno(), libc::EBADF);
    }
    assert_eq!(cabi::close(&p, 42), -1);
    assert_eq!(errno(), libc::EBADF);
}

#[test]
fn udp_sendto_recvfrom() {
    let p = Posix::loopback();
    let a = p.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    let b = p.socket(libc::AF_INET, libc::SOCK_DGRAM, 0).unwrap();
    p.bind(a, SocketAddrV4::new(LO, 6000)).unwrap();
    p.bind(b, SocketAddrV4::new(LO, 6001)).unwrap();
    assert_eq!(
        p.sendmsg(a, &[b"da", b"tagram"], Some(SocketAddrV4::new(LO, 6001)), 0),
        Ok(8)
    );
    let mut buf = [0u8; 64];
    let r = p.recvmsg(b, &mut [&mut buf], 0).unwrap();
    assert_eq!(r.len, 8);
    assert_eq!(&buf[..8], b"datagram");
    assert_eq!(r.from, Some(SocketAddrV4::new(LO, 6000)));
    assert_eq!(p.listen(a, 1), Err(e(libc::EOPNOTSUPP)));
}

/// Driven externally (packetdrill's threads): a call blocked in one thread is woken by a
/// change another thread makes, while that thread goes on moving the clock.
#[test]
fn external_driver_wakes_a_blocked_call() {
    use linnet_posix::Driven;
    let p = Posix::new(
        linnet::Stack::new(linnet::StackConfig::default()),
        linnet::Instant::from_secs(1),
        Driven::External,
    );
    let l = p.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    p.bind(l, SocketAddrV4::new(LO, 5004)).unwrap();
    p.listen(l, 4).unwrap();
    let c = p
        .socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0)
        .unwrap();
    assert_eq!(
        p.connect(c, Some(SocketAddrV4::new(LO, 5004))),
        Err(e(libc::EINPROGRESS))
    );
    // Loopback completes the handshake within the calls themselves.
    let (s, _) = p.accept4(l, 0).unwrap();
    // Calls that never waited are not counted as released.
    assert_eq!(p.woken_returns(), 0);
    let reader = {
        let p = p.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8];
            let n = p.recv(s, &mut buf, 0).unwrap();
            (n, p.now())
        })
    };
    // Let the reader block (real time; virtual time does not move meanwhile).
    std::thread::sleep(Duration::from_millis(50));
    let sent_at = p.now();
    p.send(c, b"wake", 0).unwrap();
    for _ in 0..100 {
        p.advance(Duration::from_millis(10));
    }
    let (n, returned_at) = reader.join().unwrap();
    assert_eq!(n, 4);
    assert!(returned_at >= sent_at);
    // The driver can tell that a blocked call was released (packetdrill's .so hands its
    // lock over then).
    assert_eq!(p.woken_returns(), 1);
}

/// `MSG_ZEROCOPY` sends are reported complete on the error queue once acknowledged; the
/// queue raises POLLERR while it holds a report.
#[test]
fn zerocopy_completions_on_the_error_queue() {
    use linnet_posix::calls::ErrReport;
    let p = Posix::loopback();
    let (_l, c, s) = pair(&p, 5005);
    p.setsockopt(c, libc::SOL_SOCKET, 60, &1i32.to_ne_bytes())
        .unwrap();
    assert_eq!(p.recv_errqueue(c), Err(e(libc::EAGAIN)));
    p.send(c, &[5u8; 3000], libc::MSG_ZEROCOPY).unwrap();
    p.send(c, &[6u8; 10], libc::MSG_ZEROCOPY).unwrap();
    let mut buf = [0u8; 4000];
    let mut got = 0;
    while got < 3010 {
        got += p.recv(s, &mut buf, 0).unwrap();
    }
    // The peer's delayed ACK comes within the delayed-ACK timeout.
    p.advance(Duration::from_millis(300));
    let mut fds = [PollFd {
        fd: c,
        events: 0,
        revents: 0,
    }];
    assert_eq!(p.poll(&mut fds, 0), Ok(1));
    assert_eq!(fds[0].revents, libc::POLLERR);
    assert_eq!(p.recv_errqueue(c), Ok(ErrReport::Zerocopy { lo: 0, hi: 1 }));
    assert_eq!(p.recv_errqueue(c), Err(e(libc::EAGAIN)));
}
