//! A C program calling the library as a libc would: `linnet_socket`, `linnet_connect`, ...
//! with C's types, checking results and `errno`. Compiled here with `cc` against
//! `liblinnet_posix.so`, which cargo builds beside this test.

use std::path::PathBuf;
use std::process::Command;

const PROGRAM: &str = r#"
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>

int linnet_socket(int, int, int);
int linnet_bind(int, const struct sockaddr *, socklen_t);
int linnet_listen(int, int);
int linnet_accept(int, struct sockaddr *, socklen_t *);
int linnet_connect(int, const struct sockaddr *, socklen_t);
ssize_t linnet_write(int, const void *, size_t);
ssize_t linnet_read(int, void *, size_t);
ssize_t linnet_writev(int, const struct iovec *, int);
ssize_t linnet_recvmsg(int, struct msghdr *, int);
int linnet_close(int);
int linnet_shutdown(int, int);
int linnet_getsockname(int, struct sockaddr *, socklen_t *);
int linnet_getsockopt(int, int, int, void *, socklen_t *);
int linnet_setsockopt(int, int, int, const void *, socklen_t);
int linnet_fcntl(int, int, long);
int linnet_ioctl(int, unsigned long, void *);
int linnet_poll(struct pollfd *, nfds_t, int);
int linnet_epoll_create1(int);
int linnet_epoll_ctl(int, int, int, struct epoll_event *);
int linnet_epoll_wait(int, struct epoll_event *, int, int);

#define CHECK(c) do { if (!(c)) { printf("FAILED line %d: %s (errno %d)\n", __LINE__, #c, errno); return 1; } } while (0)

int main(void) {
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(7000);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int l = linnet_socket(AF_INET, SOCK_STREAM, 0);
    CHECK(l >= 3);
    int one = 1;
    CHECK(linnet_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0);
    CHECK(linnet_bind(l, (struct sockaddr *)&a, sizeof(a)) == 0);
    CHECK(linnet_listen(l, 8) == 0);
    int c = linnet_socket(AF_INET, SOCK_STREAM, 0);
    /* Blocking connect over loopback: the call runs virtual time itself. */
    CHECK(linnet_connect(c, (struct sockaddr *)&a, sizeof(a)) == 0);
    struct sockaddr_in peer;
    socklen_t plen = sizeof(peer);
    int s = linnet_accept(l, (struct sockaddr *)&peer, &plen);
    CHECK(s >= 3 && plen == sizeof(peer) && peer.sin_family == AF_INET);
    struct sockaddr_in me;
    socklen_t mlen = sizeof(me);
    CHECK(linnet_getsockname(c, (struct sockaddr *)&me, &mlen) == 0);
    CHECK(me.sin_port == peer.sin_port);

    struct iovec iov[2] = { { "hello ", 6 }, { "world", 5 } };
    CHECK(linnet_writev(c, iov, 2) == 11);
    struct pollfd pfd = { .fd = s, .events = POLLIN };
    CHECK(linnet_poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLIN));
    int inq = -1;
    CHECK(linnet_ioctl(s, FIONREAD, &inq) == 0 && inq == 11);
    char buf[64];
    struct iovec riov = { buf, sizeof(buf) };
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = &riov;
    m.msg_iovlen = 1;
    CHECK(linnet_recvmsg(s, &m, 0) == 11 && memcmp(buf, "hello world", 11) == 0);

    int ep = linnet_epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 42 };
    CHECK(linnet_epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) == 0);
    struct epoll_event out[2];
    CHECK(linnet_epoll_wait(ep, out, 2, 0) == 0);
    CHECK(linnet_write(c, "x", 1) == 1);
    CHECK(linnet_epoll_wait(ep, out, 2, 100) == 1 && out[0].data.u64 == 42 && out[0].events == EPOLLIN);

    struct tcp_info ti;
    socklen_t tlen = sizeof(ti);
    CHECK(linnet_getsockopt(c, SOL_TCP, TCP_INFO, &ti, &tlen) == 0);
    CHECK(ti.tcpi_state == 1 && ti.tcpi_snd_mss > 0);

    /* Linux's errno for bad arguments. */
    CHECK(linnet_write(c, NULL, 10) == -1 && errno == EFAULT);
    CHECK(linnet_read(99, buf, 1) == -1 && errno == EBADF);
    CHECK(linnet_read(ep, buf, 1) == -1 && errno == ENOTSOCK);
    CHECK(linnet_setsockopt(c, SOL_TCP, TCP_NODELAY, &one, 2) == -1 && errno == EINVAL);
    CHECK(linnet_setsockopt(c, 1234, 1, &one, 4) == -1 && errno == ENOPROTOOPT);
    CHECK(linnet_bind(c, (struct sockaddr *)&a, 4) == -1 && errno == EINVAL);
    CHECK(linnet_fcntl(c, F_SETFL, O_NONBLOCK) == 0);
    CHECK(linnet_read(c, buf, sizeof(buf)) == -1 && errno == EAGAIN);

    CHECK(linnet_shutdown(c, SHUT_WR) == 0);
    CHECK(linnet_read(s, buf, sizeof(buf)) == 1);
    CHECK(linnet_read(s, buf, sizeof(buf)) == 0);
    CHECK(linnet_close(s) == 0 && linnet_close(c) == 0 && linnet_close(l) == 0);
    CHECK(linnet_close(l) == -1 && errno == EBADF);
    printf("OK\n");
    return 0;
}
"#;

/// Where cargo put liblinnet_posix.so: target/<profile>/deps beside this test binary (what
/// `cargo test` builds), or target/<profile> (what `cargo build` leaves there).
fn lib_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let deps = exe.parent().expect("deps dir");
    if deps.join("liblinnet_posix.so").exists() {
        deps.to_path_buf()
    } else {
        deps.parent().expect("target dir").to_path_buf()
    }
}

#[test]
fn c_program_uses_the_abi_as_libc() {
    let lib = lib_dir();
    assert!(
        lib.join("liblinnet_posix.so").exists(),
        "liblinnet_posix.so not built"
    );
    let dir = std::env::temp_dir().join(format!("linnet-posix-c-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("prog.c");
    let bin = dir.join("prog");
    std::fs::write(&src, PROGRAM).unwrap();
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let built = Command::new(&cc)
        .arg("-Wall")
        .arg("-o")
        .arg(&bin)
        .arg(&src)
        .arg(format!("-L{}", lib.display()))
        .arg(format!("-Wl,-rpath,{}", lib.display()))
        .arg("-llinnet_posix")
        .output()
        .expect("run cc");
    assert!(
        built.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let run = Command::new(&bin).output().expect("run the C program");
    let _ = std::fs::remove_dir_all(&dir);
    let out = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success() && out.trim() == "OK", "{out}");
}
