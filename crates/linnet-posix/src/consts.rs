//! Linux's numbers that `libc` does not name on every target (x86_64/aarch64 values).

/// `SOCK_NONBLOCK` (= `O_NONBLOCK`).
pub const SOCK_NONBLOCK: i32 = libc::O_NONBLOCK;
/// `SOCK_CLOEXEC` (= `O_CLOEXEC`).
pub const SOCK_CLOEXEC: i32 = libc::O_CLOEXEC;
/// `FIONREAD` / `SIOCINQ`.
pub const FIONREAD: u64 = 0x541B;
/// `FIONBIO`.
pub const FIONBIO: u64 = 0x5421;
/// `SIOCOUTQ` (= `TIOCOUTQ`).
pub const SIOCOUTQ: u64 = 0x5411;
/// `SIOCOUTQNSD`.
pub const SIOCOUTQNSD: u64 = 0x894B;
/// `TCP_CA_NAME_MAX`: longest congestion control name, with its NUL.
pub const TCP_CA_NAME_MAX: usize = 16;
/// `MAX_TCP_KEEPIDLE` / `MAX_TCP_KEEPINTVL` (seconds).
pub const MAX_TCP_KEEPIDLE: i32 = 32767;
/// `MAX_TCP_KEEPCNT`.
pub const MAX_TCP_KEEPCNT: i32 = 127;
/// `TCP_MIN_MSS`.
pub const TCP_MIN_MSS: i32 = 88;
/// `MAX_TCP_WINDOW`.
pub const MAX_TCP_WINDOW: i32 = 32767;
/// `SOCK_MIN_RCVBUF` as Linux computes it on 64-bit (2048 + sizeof(struct sk_buff) rounded).
pub const SOCK_MIN_RCVBUF: i32 = 2304;
/// `SOCK_MIN_SNDBUF`.
pub const SOCK_MIN_SNDBUF: i32 = 4608;
/// `TCP_INQ` (not in every libc).
pub const TCP_INQ: i32 = 36;
/// `TCP_TX_DELAY`.
pub const TCP_TX_DELAY: i32 = 37;
/// `SO_ZEROCOPY`.
pub const SO_ZEROCOPY: i32 = 60;
/// `TCP_FASTOPEN_NO_COOKIE`.
pub const TCP_FASTOPEN_NO_COOKIE: i32 = 34;
/// `TCP_FASTOPEN_CONNECT`.
pub const TCP_FASTOPEN_CONNECT: i32 = 30;
/// `TCP_FASTOPEN_KEY`: a listener's cookie key (16 bytes, or 32 with a backup key).
pub const TCP_FASTOPEN_KEY: i32 = 33;
/// `TCP_MD5SIG`: an RFC 2385 key for a peer.
pub const TCP_MD5SIG: i32 = 14;
/// `TCP_MD5SIG_EXT`: the same, with a prefix or interface.
pub const TCP_MD5SIG_EXT: i32 = 32;
/// `SO_MEMINFO`.
pub const SO_MEMINFO: i32 = 55;
