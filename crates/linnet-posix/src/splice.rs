//! Moving data between the process's own files and Linnet's sockets: `sendfile` (a regular
//! file into a socket), `pipe2` (an OS pipe) and `splice` (a pipe to or from a socket).
//!
//! The files and pipes are the OS's; only the sockets are Linnet's. The data is copied
//! through a bounce buffer (Linnet's send queue copies anyway), with the semantics of the
//! Linux calls: what a socket takes is what the call reports, and a file offset or a pipe
//! loses no byte the socket did not take.
//!
//! Linux: fs/read_write.c (`do_sendfile`), fs/pipe.c (`do_pipe2`), fs/splice.c
//! (`do_splice`, `splice_file_to_pipe` / `tcp_splice_read`, `splice_to_socket`).

use crate::errno::{Errno, SysResult, EAGAIN, EBADF, EINVAL};
use crate::posix::{lx, Posix, Wait};
use linnet::SockType;

/// How much one step of `sendfile` / `splice` moves at most (Linux moves a pipe's worth,
/// 16 pages, per `splice_direct_to_actor` round).
const CHUNK: usize = 16 * 4096;

/// `errno` of the last failed OS call.
fn os_errno() -> Errno {
    Errno(
        std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO),
    )
}

/// `pread(2)` on an OS descriptor.
fn os_pread(fd: i32, buf: &mut [u8], off: i64) -> SysResult<usize> {
    // SAFETY: `buf` is valid for writes of its length; the result is checked.
    let r = unsafe { libc::pread(fd, buf.as_mut_ptr().cast(), buf.len(), off) };
    if r < 0 {
        Err(os_errno())
    } else {
        Ok(r as usize)
    }
}

/// `read(2)` on an OS descriptor.
fn os_read(fd: i32, buf: &mut [u8]) -> SysResult<usize> {
    // SAFETY: `buf` is valid for writes of its length; the result is checked.
    let r = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if r < 0 {
        Err(os_errno())
    } else {
        Ok(r as usize)
    }
}

/// `write(2)` of all of `buf` to an OS descriptor (a pipe with room for it).
fn os_write_all(fd: i32, mut buf: &[u8]) -> SysResult<()> {
    // Bounded: each round writes at least one byte or fails.
    while !buf.is_empty() {
        // SAFETY: `buf` is valid for reads of its length; the result is checked.
        let r = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if r < 0 {
            let e = os_errno();
            if e.0 == libc::EINTR {
                continue;
            }
            return Err(e);
        }
        buf = &buf[r as usize..];
    }
    Ok(())
}

/// `lseek(2)` on an OS descriptor.
fn os_lseek(fd: i32, off: i64, whence: i32) -> SysResult<i64> {
    // SAFETY: plain system call on a descriptor number; the result is checked.
    let r = unsafe { libc::lseek(fd, off, whence) };
    if r < 0 {
        Err(os_errno())
    } else {
        Ok(r)
    }
}

/// Whether an OS descriptor is a pipe (or FIFO).
fn os_is_pipe(fd: i32) -> SysResult<bool> {
    // SAFETY: `st` is a plain struct fstat fills; the result is checked.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is valid for writes.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(os_errno());
    }
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFIFO)
}

/// Bytes a pipe holds (`FIONREAD`) and its capacity (`F_GETPIPE_SZ`).
fn os_pipe_fill(fd: i32) -> SysResult<(usize, usize)> {
    let mut queued: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int to the pointer given.
    if unsafe { libc::ioctl(fd, libc::FIONREAD, &mut queued) } < 0 {
        return Err(os_errno());
    }
    // SAFETY: plain fcntl query; the result is checked.
    let cap = unsafe { libc::fcntl(fd, libc::F_GETPIPE_SZ) };
    if cap < 0 {
        return Err(os_errno());
    }
    Ok((queued.max(0) as usize, cap as usize))
}

/// Wait (in real time: the other end is the process's) until an OS descriptor is ready for
/// `events`.
fn os_wait(fd: i32, events: i16) -> SysResult<()> {
    let mut p = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    // SAFETY: one valid pollfd; the result is checked.
    if unsafe { libc::poll(&mut p, 1, -1) } < 0 {
        return Err(os_errno());
    }
    Ok(())
}

/// Whether an OS descriptor was opened non-blocking.
fn os_nonblock(fd: i32) -> bool {
    // SAFETY: plain fcntl query.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    fl >= 0 && fl & libc::O_NONBLOCK != 0
}

impl Posix {
    /// Whether `fd` is one of this instance's socket descriptors (else it is the process's).
    pub fn is_socket_fd(&self, fd: i32) -> bool {
        self.sys(|n| n.fds.sock(fd).is_ok())
    }

    /// `sendfile(out_fd, in_fd, offset, count)` with `out_fd` a Linnet stream socket and
    /// `in_fd` a file of the process: up to `count` bytes from `*offset` (the offset then
    /// moves past what was sent and the file position stays), or from the file position
    /// (which then moves). A blocking socket takes everything (waiting for room); a
    /// non-blocking one what fits (`EAGAIN` if nothing). Linux: `do_sendfile` →
    /// `do_splice_direct`.
    pub fn sendfile(
        &self,
        out_fd: i32,
        in_fd: i32,
        offset: Option<&mut i64>,
        count: usize,
    ) -> SysResult<usize> {
        match self.sys(|n| n.fds.sock(out_fd).map(|s| s.ty)) {
            Ok(SockType::Stream) => {}
            Ok(SockType::Dgram) => return Err(EINVAL),
            Err(e) => return Err(e),
        }
        if self.is_socket_fd(in_fd) {
            // A socket cannot be read like a file (no mmap-like read).
            return Err(EINVAL);
        }
        if in_fd < 0 {
            return Err(EBADF);
        }
        let mut pos = match offset.as_deref() {
            Some(&o) if o < 0 => return Err(EINVAL),
            Some(&o) => o,
            // Only a seekable file has a position to resume from (Linux: in_fd needs
            // FMODE_PREAD / splice_read; a pipe here would lose what the socket refuses).
            None => match os_lseek(in_fd, 0, libc::SEEK_CUR) {
                Ok(p) => p,
                Err(e) if e.0 == libc::ESPIPE => return Err(EINVAL),
                Err(e) => return Err(e),
            },
        };
        let mut buf = vec![0u8; count.min(CHUNK)];
        let mut done = 0usize;
        // Bounded: each round moves at least one byte or ends the call.
        while done < count {
            let want = (count - done).min(buf.len());
            let got = match os_pread(in_fd, &mut buf[..want], pos) {
                Ok(0) => break, // end of file
                Ok(k) => k,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            let sent = match self.sendmsg(out_fd, &[&buf[..got]], None, 0) {
                Ok(k) => k,
                Err(e) if done == 0 => return Err(e),
                Err(_) => break,
            };
            done += sent;
            pos += sent as i64;
            if sent < got {
                break;
            }
        }
        match offset {
            Some(o) => *o = pos,
            None => {
                os_lseek(in_fd, pos, libc::SEEK_SET)?;
            }
        }
        Ok(done)
    }

    /// `pipe2(flags)`: a pipe of the process (Linnet has no pipes of its own; `splice`
    /// moves data between one and a Linnet socket). Linux: `do_pipe2`.
    pub fn pipe2(&self, flags: i32) -> SysResult<[i32; 2]> {
        if flags & !(libc::O_CLOEXEC | libc::O_NONBLOCK | libc::O_DIRECT) != 0 {
            return Err(EINVAL);
        }
        let mut fds = [-1i32; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes; the result is checked.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } < 0 {
            return Err(os_errno());
        }
        Ok(fds)
    }

    /// `splice(fd_in, off_in, fd_out, off_out, len, flags)` between a Linnet stream socket
    /// and a pipe of the process, either way (offsets must be absent: neither end is
    /// seekable, `ESPIPE`). Socket to pipe: what the socket has ready, up to `len` and the
    /// pipe's room (a blocking socket waits for its first byte). Pipe to socket: what the
    /// pipe holds, up to `len` and, for a non-blocking socket, its free send space (a
    /// blocking socket waits for room; an empty pipe waits for a writer unless
    /// `SPLICE_F_NONBLOCK`). Linux: `do_splice` → `tcp_splice_read` / `splice_to_socket`.
    pub fn splice(
        &self,
        fd_in: i32,
        off_in: Option<&mut i64>,
        fd_out: i32,
        off_out: Option<&mut i64>,
        len: usize,
        flags: u32,
    ) -> SysResult<usize> {
        let nonblock_flag = flags & libc::SPLICE_F_NONBLOCK != 0;
        let in_sock = self.is_socket_fd(fd_in);
        let out_sock = self.is_socket_fd(fd_out);
        if in_sock == out_sock {
            // Socket to socket needs a pipe between them; two OS descriptors are not ours.
            return Err(EINVAL);
        }
        let (sock, pipe) = if in_sock {
            (fd_in, fd_out)
        } else {
            (fd_out, fd_in)
        };
        if self.sys(|n| n.fds.sock(sock).map(|s| s.ty))? != SockType::Stream {
            return Err(EINVAL);
        }
        if !os_is_pipe(pipe)? {
            return Err(EINVAL);
        }
        if off_in.is_some() || off_out.is_some() {
            return Err(Errno(libc::ESPIPE));
        }
        if len == 0 {
            return Ok(0);
        }
        if in_sock {
            // tcp_splice_read: into the pipe's free room.
            let room = loop {
                let (queued, cap) = os_pipe_fill(pipe)?;
                let room = cap.saturating_sub(queued);
                if room > 0 {
                    break room;
                }
                if nonblock_flag || os_nonblock(pipe) {
                    return Err(EAGAIN);
                }
                os_wait(pipe, libc::POLLOUT)?;
            };
            let mut buf = vec![0u8; len.min(room).min(CHUNK)];
            let k = self.block(sock, Wait::Rcv, nonblock_flag, |n| {
                let id = n.fds.sock(sock)?.id;
                let now = n.now;
                lx(n.stack.recv_read_sock(id, &mut buf, now))
            })?;
            os_write_all(pipe, &buf[..k])?;
            Ok(k)
        } else {
            // splice_to_socket: from what the pipe holds.
            let queued = loop {
                let (queued, _) = os_pipe_fill(pipe)?;
                if queued > 0 {
                    break queued;
                }
                if nonblock_flag || os_nonblock(pipe) {
                    return Err(EAGAIN);
                }
                // An empty pipe with no writer left is the end of the data.
                let mut p = libc::pollfd {
                    fd: pipe,
                    events: libc::POLLIN,
                    revents: 0,
                };
                // SAFETY: one valid pollfd; the result is checked.
                if unsafe { libc::poll(&mut p, 1, -1) } < 0 {
                    return Err(os_errno());
                }
                if p.revents & libc::POLLHUP != 0 && p.revents & libc::POLLIN == 0 {
                    return Ok(0);
                }
            };
            let sock_nonblock = self.sys(|n| n.fds.sock(sock).map(|s| s.nonblock))?;
            let mut want = len.min(queued).min(CHUNK);
            if sock_nonblock {
                // Take from the pipe only what the socket can queue now.
                let space = self.sys(|n| {
                    let id = n.fds.sock(sock)?.id;
                    n.stack
                        .tcp_sock(id)
                        .map(|t| t.sndbuf.window())
                        .map_err(Errno::from)
                })?;
                if space == 0 {
                    return Err(EAGAIN);
                }
                want = want.min(space);
            }
            let mut buf = vec![0u8; want];
            let got = os_read(pipe, &mut buf)?;
            let more = if flags & libc::SPLICE_F_MORE != 0 {
                libc::MSG_MORE
            } else {
                0
            };
            self.sendmsg(sock, &[&buf[..got]], None, more)
        }
    }
}
