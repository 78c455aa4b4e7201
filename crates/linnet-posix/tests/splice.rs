//! `sendfile`, `pipe2` and `splice` through the ABI: a file or pipe of the process on one
//! side, a Linnet socket on the other (descriptor numbers taken from the process, so the
//! two kinds never share a number).

use linnet_posix::{Errno, Posix};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;

/// A connected loopback pair: (client, server side).
fn pair(p: &Posix, port: u16) -> (i32, i32) {
    let l = p.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    p.bind(l, SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
        .unwrap();
    p.listen(l, 4).unwrap();
    let c = p.socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    p.connect(c, Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port)))
        .unwrap();
    let (s, _) = p.accept4(l, 0).unwrap();
    (c, s)
}

fn instance() -> Posix {
    let p = Posix::loopback();
    p.use_os_fds();
    p
}

/// A temporary file holding `data`, open for reading.
fn temp_file(name: &str, data: &[u8]) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("linnet-splice-{}-{name}", std::process::id()));
    std::fs::File::create(&path)
        .unwrap()
        .write_all(data)
        .unwrap();
    let f = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    f
}

fn recv_exact(p: &Posix, fd: i32, n: usize) -> Vec<u8> {
    let mut out = vec![0u8; n];
    assert_eq!(p.recv(fd, &mut out, libc::MSG_WAITALL), Ok(n));
    out
}

fn file_pos(fd: i32) -> i64 {
    // SAFETY: lseek on an open descriptor.
    unsafe { libc::lseek(fd, 0, libc::SEEK_CUR) }
}

#[test]
fn sendfile_with_an_offset_leaves_the_file_position() {
    let p = instance();
    let (c, s) = pair(&p, 6100);
    let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let f = temp_file("off", &data);
    let mut off = 1000i64;
    assert_eq!(p.sendfile(c, f.as_raw_fd(), Some(&mut off), 5000), Ok(5000));
    assert_eq!(off, 6000);
    assert_eq!(file_pos(f.as_raw_fd()), 0);
    assert_eq!(recv_exact(&p, s, 5000), data[1000..6000]);
    // Past the end: what is left, then nothing.
    assert_eq!(
        p.sendfile(c, f.as_raw_fd(), Some(&mut off), 100_000),
        Ok(4000)
    );
    assert_eq!(p.sendfile(c, f.as_raw_fd(), Some(&mut off), 10), Ok(0));
    assert_eq!(recv_exact(&p, s, 4000), data[6000..]);
}

#[test]
fn sendfile_without_an_offset_moves_the_file_position() {
    let p = instance();
    let (c, s) = pair(&p, 6101);
    let f = temp_file("pos", b"abcdefghij");
    assert_eq!(p.sendfile(c, f.as_raw_fd(), None, 4), Ok(4));
    assert_eq!(file_pos(f.as_raw_fd()), 4);
    assert_eq!(p.sendfile(c, f.as_raw_fd(), None, 100), Ok(6));
    assert_eq!(recv_exact(&p, s, 10), b"abcdefghij");
}

#[test]
fn sendfile_refuses_what_linux_refuses() {
    let p = instance();
    let (c, s) = pair(&p, 6102);
    let f = temp_file("err", b"x");
    // A socket is no file to read from; a file descriptor is no Linnet socket to send to
    // (the caller gives that one to the kernel).
    assert_eq!(p.sendfile(c, s, None, 1), Err(Errno(libc::EINVAL)));
    assert_eq!(
        p.sendfile(f.as_raw_fd(), f.as_raw_fd(), None, 1),
        Err(Errno(libc::EBADF))
    );
    let mut neg = -1i64;
    assert_eq!(
        p.sendfile(c, f.as_raw_fd(), Some(&mut neg), 1),
        Err(Errno(libc::EINVAL))
    );
    let [r, w] = p.pipe2(libc::O_CLOEXEC).unwrap();
    // A pipe has no position to resume from.
    assert_eq!(p.sendfile(c, r, None, 1), Err(Errno(libc::EINVAL)));
    // SAFETY: closing the pipe just made.
    unsafe {
        libc::close(r);
        libc::close(w);
    }
}

#[test]
fn splice_moves_data_between_a_pipe_and_sockets() {
    let p = instance();
    let (c, s) = pair(&p, 6103);
    let [r, w] = p.pipe2(libc::O_CLOEXEC).unwrap();
    // Socket -> pipe: what the socket has, up to len.
    assert_eq!(p.send(c, b"0123456789", 0), Ok(10));
    assert_eq!(p.splice(s, None, w, None, 4, 0), Ok(4));
    assert_eq!(p.splice(s, None, w, None, 100, 0), Ok(6));
    // Nothing ready on a non-blocking splice.
    assert_eq!(
        p.splice(s, None, w, None, 100, libc::SPLICE_F_NONBLOCK),
        Err(Errno(libc::EAGAIN))
    );
    // Pipe -> socket: back the other way, then read it.
    assert_eq!(p.splice(r, None, s, None, 3, 0), Ok(3));
    assert_eq!(p.splice(r, None, s, None, 100, 0), Ok(7));
    assert_eq!(recv_exact(&p, c, 10), b"0123456789");
    // Empty pipe, non-blocking: EAGAIN; offsets on pipes or sockets: ESPIPE.
    assert_eq!(
        p.splice(r, None, s, None, 1, libc::SPLICE_F_NONBLOCK),
        Err(Errno(libc::EAGAIN))
    );
    let mut off = 0i64;
    assert_eq!(
        p.splice(s, Some(&mut off), w, None, 1, 0),
        Err(Errno(libc::ESPIPE))
    );
    // Neither end a socket of ours: not splice's business here.
    assert_eq!(p.splice(r, None, w, None, 1, 0), Err(Errno(libc::EINVAL)));
    // A closed writer ends the data.
    // SAFETY: closing the pipe's write end.
    unsafe { libc::close(w) };
    assert_eq!(p.splice(r, None, s, None, 1, 0), Ok(0));
    // SAFETY: closing the read end.
    unsafe { libc::close(r) };
}
