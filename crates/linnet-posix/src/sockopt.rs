//! `getsockopt`/`setsockopt` at `SOL_SOCKET`, `SOL_TCP` and `SOL_IP`, byte for byte as Linux
//! takes and returns option values (ints, `struct linger`, `struct timeval`, `struct
//! tcp_info`, the congestion control name).
//!
//! Linux: `sk_setsockopt`/`sk_getsockopt` (net/core/sock.c), `do_tcp_setsockopt`/
//! `do_tcp_getsockopt` (net/ipv4/tcp.c), `do_ip_setsockopt`/`do_ip_getsockopt`
//! (net/ipv4/ip_sockglue.c).

use crate::consts::*;
use crate::errno::{Errno, SysResult, EINVAL, ENOPROTOOPT, ENOTCONN};
use crate::posix::{lx, Posix};
use crate::tcp_info::tcp_get_info;
use linnet::socket::{SockOpt, SockOptName, SockOptValue, SockType};
use linnet::transport::tcp::sock::{TcpSock, TcpState};
use std::time::Duration;

/// Bytes written but not yet sent (`write_seq - snd_nxt`). Linux: `tcp_notsent_bytes` as
/// `SIOCOUTQNSD` and `tcpi_notsent_bytes` report it.
pub fn notsent_bytes(t: &TcpSock) -> u32 {
    let end = t.data_end();
    let nxt = t.snd_nxt.max(t.data_seq());
    (end - nxt).max(0) as u32
}

/// An int option value: at least 4 bytes (Linux: `optlen < sizeof(int)` is `EINVAL`).
fn int_of(v: &[u8]) -> SysResult<i32> {
    if v.len() < 4 {
        return Err(EINVAL);
    }
    Ok(i32::from_ne_bytes([v[0], v[1], v[2], v[3]]))
}

/// An `SOL_IP` int value: Linux's `do_ip_setsockopt` also takes a single byte.
fn ip_int_of(v: &[u8]) -> SysResult<i32> {
    match v.len() {
        0 => Err(EINVAL),
        1..=3 => Ok(i32::from(v[0])),
        _ => int_of(v),
    }
}

/// Copy an int out, truncated to the caller's length (Linux: `len = min(len, sizeof(int))`).
fn put_int(out: &mut [u8], v: i32) -> usize {
    let b = v.to_ne_bytes();
    let n = out.len().min(4);
    out[..n].copy_from_slice(&b[..n]);
    n
}

fn put_bytes(out: &mut [u8], b: &[u8]) -> usize {
    let n = out.len().min(b.len());
    out[..n].copy_from_slice(&b[..n]);
    n
}

fn timeval_of(v: &[u8]) -> SysResult<Option<Duration>> {
    if v.len() < 16 {
        return Err(EINVAL);
    }
    let sec = i64::from_ne_bytes(v[0..8].try_into().unwrap_or([0; 8]));
    let usec = i64::from_ne_bytes(v[8..16].try_into().unwrap_or([0; 8]));
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno(libc::EDOM));
    }
    if sec < 0 || (sec == 0 && usec == 0) {
        return Ok(None);
    }
    Ok(Some(
        Duration::from_secs(sec as u64) + Duration::from_micros(usec as u64),
    ))
}

fn put_timeval(out: &mut [u8], d: Option<Duration>) -> usize {
    let d = d.unwrap_or_default();
    let mut b = [0u8; 16];
    b[0..8].copy_from_slice(&(d.as_secs() as i64).to_ne_bytes());
    b[8..16].copy_from_slice(&(d.subsec_micros() as i64).to_ne_bytes());
    put_bytes(out, &b)
}

fn secs(v: i32) -> Duration {
    Duration::from_secs(v as u64)
}

/// `SO_MEMINFO`'s `u32[SK_MEMINFO_VARS]`: Linux counts buffer memory (`truesize`), Linnet
/// counts data bytes: receive queue, receive buffer, bytes in flight, send buffer, 0,
/// send queue, 0, 0, drops. Linux: `sk_get_meminfo`.
fn meminfo(n: &crate::net::Net, id: linnet::SockId, o: &crate::fd::SockOpts) -> [u8; 36] {
    let mut v = [0u32; 9];
    if let Ok(t) = n.stack.tcp_sock(id) {
        v[0] = t.rcv_queued() as u32;
        v[1] = o
            .rcvbuf_set
            .map_or(t.rcvbuf.capacity() as u32, |b| b.saturating_mul(2) as u32);
        v[2] = (t.snd_nxt - t.snd_una).max(0) as u32;
        v[3] = o
            .sndbuf_set
            .map_or(t.sndbuf.capacity() as u32, |b| b.saturating_mul(2) as u32);
        v[5] = t.sndbuf.len() as u32;
    }
    let mut b = [0u8; 36];
    for (i, x) in v.iter().enumerate() {
        b[i * 4..i * 4 + 4].copy_from_slice(&x.to_ne_bytes());
    }
    b
}

impl Posix {
    /// `setsockopt`. Linux: `__sys_setsockopt`.
    pub fn setsockopt(&self, fd: i32, level: i32, name: i32, val: &[u8]) -> SysResult<()> {
        self.sys(|n| {
            let now = n.now;
            let sysctl_lowat = n.defaults.notsent_lowat;
            let s = n.fds.sock_mut(fd)?;
            let (id, ty) = (s.id, s.ty);
            let tcp = ty == SockType::Stream;
            let o = &mut s.opts;
            let opt: Option<SockOpt> = match level {
                libc::SOL_SOCKET => match name {
                    libc::SO_REUSEADDR => Some(SockOpt::ReuseAddr(int_of(val)? != 0)),
                    libc::SO_REUSEPORT => {
                        o.reuseport = int_of(val)? != 0;
                        None
                    }
                    libc::SO_KEEPALIVE => Some(SockOpt::KeepAlive(int_of(val)? != 0)),
                    libc::SO_BROADCAST => Some(SockOpt::Broadcast(int_of(val)? != 0)),
                    libc::SO_RCVBUF | libc::SO_RCVBUFFORCE => {
                        let v = int_of(val)?;
                        o.rcvbuf_set = Some(v.max(SOCK_MIN_RCVBUF / 2));
                        Some(SockOpt::RcvBuf(v.max(0) as usize))
                    }
                    libc::SO_SNDBUF | libc::SO_SNDBUFFORCE => {
                        let v = int_of(val)?;
                        o.sndbuf_set = Some(v.max(SOCK_MIN_SNDBUF / 2));
                        // Linux doubles the value and lets the send queue hold about that
                        // much data (sk_sndbuf counts skb memory, nearly all payload for
                        // full-sized skbs); Linnet's send buffer counts data bytes.
                        Some(SockOpt::SndBuf((v.max(0) as usize).saturating_mul(2)))
                    }
                    libc::SO_LINGER => {
                        if val.len() < 8 {
                            return Err(EINVAL);
                        }
                        let on = int_of(&val[0..4])?;
                        let secs_ = int_of(&val[4..8])?;
                        Some(SockOpt::Linger(
                            (on != 0).then(|| Duration::from_secs(secs_.max(0) as u64)),
                        ))
                    }
                    libc::SO_RCVLOWAT => {
                        let v = int_of(val)?;
                        o.rcvlowat = if v < 0 { i32::MAX } else { v.max(1) };
                        None
                    }
                    libc::SO_SNDLOWAT => return Err(ENOPROTOOPT),
                    libc::SO_RCVTIMEO => {
                        o.rcvtimeo = timeval_of(val)?;
                        None
                    }
                    libc::SO_SNDTIMEO => {
                        o.sndtimeo = timeval_of(val)?;
                        None
                    }
                    libc::SO_PRIORITY => {
                        o.priority = int_of(val)?;
                        None
                    }
                    libc::SO_MARK => {
                        o.mark = int_of(val)?;
                        None
                    }
                    libc::SO_OOBINLINE => {
                        o.oobinline = int_of(val)? != 0;
                        tcp.then_some(SockOpt::OobInline(o.oobinline))
                    }
                    SO_ZEROCOPY => {
                        let v = int_of(val)?;
                        if !(0..=1).contains(&v) {
                            return Err(EINVAL);
                        }
                        o.zerocopy = v != 0;
                        None
                    }
                    libc::SO_TIMESTAMPING => {
                        let v = int_of(val)?;
                        if v as u32 & crate::fd::SOF_TIMESTAMPING_OPT_ID != 0
                            && o.timestamping as u32 & crate::fd::SOF_TIMESTAMPING_OPT_ID == 0
                            && tcp
                        {
                            // Linux: sk_tskey = snd_una; refused before a connection.
                            let t = lx(n.stack.tcp_sock(id))?;
                            if matches!(t.state, TcpState::Closed | TcpState::Listen) {
                                return Err(EINVAL);
                            }
                            let base = t.snd_una;
                            let s = n.fds.sock_mut(fd)?;
                            s.ts.base = base;
                            s.opts.timestamping = v;
                            return Ok(());
                        }
                        o.timestamping = v;
                        None
                    }
                    libc::SO_MAX_PACING_RATE => {
                        o.max_pacing_rate = if val.len() >= 8 {
                            u64::from_ne_bytes(val[0..8].try_into().unwrap_or([0; 8]))
                        } else {
                            int_of(val)? as u32 as u64
                        };
                        None
                    }
                    libc::SO_DEBUG | libc::SO_DONTROUTE | libc::SO_NO_CHECK => {
                        int_of(val)?;
                        None
                    }
                    _ => return Err(ENOPROTOOPT),
                },
                libc::SOL_TCP if tcp => match name {
                    libc::TCP_NODELAY => Some(SockOpt::NoDelay(int_of(val)? != 0)),
                    libc::TCP_CORK => {
                        o.cork = int_of(val)? != 0;
                        Some(SockOpt::Cork(o.cork || o.more))
                    }
                    libc::TCP_MAXSEG => {
                        let v = int_of(val)?;
                        if v != 0 && !(TCP_MIN_MSS..=MAX_TCP_WINDOW).contains(&v) {
                            return Err(EINVAL);
                        }
                        Some(SockOpt::MaxSeg(v as u32))
                    }
                    libc::TCP_KEEPIDLE => {
                        let v = int_of(val)?;
                        if !(1..=MAX_TCP_KEEPIDLE).contains(&v) {
                            return Err(EINVAL);
                        }
                        Some(SockOpt::KeepIdle(secs(v)))
                    }
                    libc::TCP_KEEPINTVL => {
                        let v = int_of(val)?;
                        if !(1..=MAX_TCP_KEEPIDLE).contains(&v) {
                            return Err(EINVAL);
                        }
                        Some(SockOpt::KeepIntvl(secs(v)))
                    }
                    libc::TCP_KEEPCNT => {
                        let v = int_of(val)?;
                        if !(1..=MAX_TCP_KEEPCNT).contains(&v) {
                            return Err(EINVAL);
                        }
                        Some(SockOpt::KeepCnt(v as u32))
                    }
                    libc::TCP_SYNCNT => {
                        let v = int_of(val)?;
                        // Linux: 1..=MAX_TCP_SYNCNT (127).
                        if !(1..=127).contains(&v) {
                            return Err(EINVAL);
                        }
                        o.syncnt = v;
                        Some(SockOpt::SynCnt(v as u8))
                    }
                    libc::TCP_LINGER2 => {
                        o.linger2 = int_of(val)?;
                        None
                    }
                    libc::TCP_DEFER_ACCEPT => {
                        o.defer_accept = int_of(val)?.max(0);
                        None
                    }
                    libc::TCP_WINDOW_CLAMP => {
                        o.window_clamp = int_of(val)?;
                        None
                    }
                    libc::TCP_QUICKACK => {
                        o.quickack = int_of(val)? != 0;
                        None
                    }
                    libc::TCP_USER_TIMEOUT => {
                        let v = int_of(val)?;
                        if v < 0 {
                            return Err(EINVAL);
                        }
                        o.user_timeout = v;
                        Some(SockOpt::UserTimeout(Duration::from_millis(v as u64)))
                    }
                    libc::TCP_NOTSENT_LOWAT => {
                        let v = int_of(val)? as u32;
                        o.notsent_lowat_set = v;
                        // Linux: tcp_notsent_lowat() is the option, or the sysctl when 0.
                        o.notsent_lowat = if v != 0 { v } else { sysctl_lowat };
                        Some(SockOpt::NotsentLowat(o.notsent_lowat))
                    }
                    TCP_INQ => {
                        let v = int_of(val)?;
                        if !(0..=1).contains(&v) {
                            return Err(EINVAL);
                        }
                        o.inq = v != 0;
                        None
                    }
                    libc::TCP_FASTOPEN => {
                        o.fastopen = int_of(val)?;
                        Some(SockOpt::FastOpen(o.fastopen.max(0) as u32))
                    }
                    TCP_FASTOPEN_CONNECT => {
                        let v = int_of(val)?;
                        if !(0..=1).contains(&v) {
                            return Err(EINVAL);
                        }
                        o.fastopen_connect = v != 0;
                        Some(SockOpt::FastOpenConnect(v != 0))
                    }
                    TCP_FASTOPEN_NO_COOKIE => {
                        o.fastopen_no_cookie = int_of(val)? != 0;
                        Some(SockOpt::FastOpenNoCookie(o.fastopen_no_cookie))
                    }
                    TCP_FASTOPEN_KEY => {
                        // Linux: 16 bytes, or 32 (primary and backup); anything else EINVAL.
                        let key = |b: &[u8]| {
                            let mut k = [0u8; 16];
                            k.copy_from_slice(b);
                            k
                        };
                        match val.len() {
                            16 => Some(SockOpt::FastOpenKey {
                                primary: key(val),
                                backup: None,
                            }),
                            32 => Some(SockOpt::FastOpenKey {
                                primary: key(&val[..16]),
                                backup: Some(key(&val[16..])),
                            }),
                            _ => return Err(EINVAL),
                        }
                    }
                    TCP_MD5SIG | TCP_MD5SIG_EXT => Some(tcp_md5sig_of(name, val)?),
                    libc::TCP_CONGESTION => {
                        let end = val.iter().position(|&b| b == 0).unwrap_or(val.len());
                        let name = std::str::from_utf8(&val[..end.min(TCP_CA_NAME_MAX)])
                            .map_err(|_| Errno(libc::ENOENT))?;
                        let alg = name.parse().map_err(|_| Errno(libc::ENOENT))?;
                        Some(SockOpt::Congestion(alg))
                    }
                    TCP_TX_DELAY | libc::TCP_THIN_LINEAR_TIMEOUTS => {
                        int_of(val)?;
                        None
                    }
                    _ => return Err(ENOPROTOOPT),
                },
                libc::SOL_IP => match name {
                    libc::IP_TOS => {
                        o.tos = int_of(val)
                            .or_else(|_| val.first().map(|&b| b as i32).ok_or(EINVAL))?
                            & 0xff;
                        None
                    }
                    libc::IP_TTL => {
                        let v = ip_int_of(val)?;
                        if v != -1 && !(1..=255).contains(&v) {
                            return Err(EINVAL);
                        }
                        o.ttl = (v != -1).then_some(v);
                        None
                    }
                    libc::IP_RECVERR => {
                        o.recverr = ip_int_of(val)? != 0;
                        None
                    }
                    libc::IP_FREEBIND
                    | libc::IP_PKTINFO
                    | libc::IP_RECVTOS
                    | libc::IP_RECVTTL
                    | libc::IP_BIND_ADDRESS_NO_PORT
                    | libc::IP_TRANSPARENT => {
                        let on = ip_int_of(val)? != 0;
                        let bit = 1u32 << (name as u32 & 31);
                        o.ip_flags = if on {
                            o.ip_flags | bit
                        } else {
                            o.ip_flags & !bit
                        };
                        None
                    }
                    libc::IP_MTU_DISCOVER => {
                        let v = ip_int_of(val)?;
                        if !(0..=5).contains(&v) {
                            return Err(EINVAL);
                        }
                        o.mtu_discover = v;
                        None
                    }
                    _ => return Err(ENOPROTOOPT),
                },
                _ => return Err(ENOPROTOOPT),
            };
            match opt {
                Some(opt) => lx(n.stack.setsockopt(id, opt, now)),
                None => Ok(()),
            }
        })
    }

    /// `getsockopt`: writes the value into `out` (truncated to its length) and returns how
    /// many bytes it wrote (the new `optlen`). Linux: `__sys_getsockopt`.
    pub fn getsockopt(&self, fd: i32, level: i32, name: i32, out: &mut [u8]) -> SysResult<usize> {
        self.sys(|n| {
            let now = n.now;
            let s = n.fds.sock(fd)?;
            let (id, ty, protocol) = (s.id, s.ty, s.protocol);
            let o = s.opts.clone();
            let tcp = ty == SockType::Stream;
            let get = |n: &mut crate::net::Net, name: SockOptName| -> SysResult<SockOpt> {
                match lx(n.stack.getsockopt(id, name))? {
                    SockOptValue::Opt(o) => Ok(o),
                    SockOptValue::Error(_) => Err(ENOPROTOOPT),
                }
            };
            let flag = |b: bool| b as i32;
            let v: i32 = match level {
                libc::SOL_SOCKET => match name {
                    libc::SO_TYPE => match ty {
                        SockType::Stream => libc::SOCK_STREAM,
                        SockType::Dgram => libc::SOCK_DGRAM,
                    },
                    libc::SO_PROTOCOL => protocol,
                    libc::SO_DOMAIN => libc::AF_INET,
                    libc::SO_ACCEPTCONN => flag(n.stack.tcp_state(id) == Some(TcpState::Listen)),
                    libc::SO_ERROR => match lx(n.stack.getsockopt(id, SockOptName::Error))? {
                        SockOptValue::Error(e) => e.unwrap_or(0),
                        SockOptValue::Opt(_) => 0,
                    },
                    libc::SO_REUSEADDR => match get(n, SockOptName::ReuseAddr)? {
                        SockOpt::ReuseAddr(b) => flag(b),
                        _ => 0,
                    },
                    libc::SO_REUSEPORT => flag(o.reuseport),
                    libc::SO_KEEPALIVE => match get(n, SockOptName::KeepAlive) {
                        Ok(SockOpt::KeepAlive(b)) => flag(b),
                        _ => 0,
                    },
                    libc::SO_BROADCAST => match get(n, SockOptName::Broadcast) {
                        Ok(SockOpt::Broadcast(b)) => flag(b),
                        _ => 0,
                    },
                    libc::SO_RCVBUF => match o.rcvbuf_set {
                        Some(v) => v.saturating_mul(2).max(SOCK_MIN_RCVBUF),
                        None => match get(n, SockOptName::RcvBuf)? {
                            SockOpt::RcvBuf(b) => b.min(i32::MAX as usize) as i32,
                            _ => 0,
                        },
                    },
                    libc::SO_SNDBUF => match o.sndbuf_set {
                        Some(v) => v.saturating_mul(2).max(SOCK_MIN_SNDBUF),
                        None => match get(n, SockOptName::SndBuf) {
                            Ok(SockOpt::SndBuf(b)) => b.min(i32::MAX as usize) as i32,
                            _ => n.stack.config().tcp.wmem_default as i32,
                        },
                    },
                    libc::SO_LINGER => {
                        let l = match get(n, SockOptName::Linger) {
                            Ok(SockOpt::Linger(l)) => l,
                            _ => None,
                        };
                        let mut b = [0u8; 8];
                        b[0..4].copy_from_slice(&flag(l.is_some()).to_ne_bytes());
                        b[4..8]
                            .copy_from_slice(&(l.map_or(0, |d| d.as_secs()) as i32).to_ne_bytes());
                        return Ok(put_bytes(out, &b));
                    }
                    libc::SO_RCVLOWAT => o.rcvlowat.max(1),
                    libc::SO_SNDLOWAT => 1,
                    libc::SO_RCVTIMEO => return Ok(put_timeval(out, o.rcvtimeo)),
                    libc::SO_SNDTIMEO => return Ok(put_timeval(out, o.sndtimeo)),
                    libc::SO_PRIORITY => o.priority,
                    libc::SO_MARK => o.mark,
                    libc::SO_OOBINLINE => flag(o.oobinline),
                    SO_ZEROCOPY => flag(o.zerocopy),
                    libc::SO_TIMESTAMPING => o.timestamping,
                    SO_MEMINFO => return Ok(put_bytes(out, &meminfo(n, id, &o))),
                    _ => return Err(ENOPROTOOPT),
                },
                libc::SOL_TCP if tcp => {
                    let t = lx(n.stack.tcp_sock(id))?;
                    match name {
                        libc::TCP_INFO => {
                            let info = tcp_get_info(t, now, notsent_bytes(t));
                            return Ok(put_bytes(out, info.as_bytes()));
                        }
                        libc::TCP_CONGESTION => {
                            let mut b = [0u8; TCP_CA_NAME_MAX];
                            let name = t.cc.name().as_bytes();
                            b[..name.len()].copy_from_slice(name);
                            return Ok(put_bytes(out, &b));
                        }
                        libc::TCP_CC_INFO => {
                            // Linux: the algorithm's get_info; CUBIC and Reno have none, so
                            // the answer is empty.
                            return Ok(0);
                        }
                        libc::TCP_NODELAY => flag(t.nodelay),
                        libc::TCP_CORK => flag(o.cork),
                        libc::TCP_MAXSEG => {
                            if t.state.is_synchronized() || t.state == TcpState::SynSent {
                                t.mss as i32
                            } else if t.user_mss != 0 {
                                t.user_mss as i32
                            } else {
                                536
                            }
                        }
                        libc::TCP_KEEPIDLE => t.keep_idle.as_secs() as i32,
                        libc::TCP_KEEPINTVL => t.keep_intvl.as_secs() as i32,
                        libc::TCP_KEEPCNT => t.keep_cnt as i32,
                        libc::TCP_SYNCNT => {
                            if o.syncnt != 0 {
                                o.syncnt
                            } else {
                                n.stack.config().tcp.syn_retries as i32
                            }
                        }
                        libc::TCP_LINGER2 => {
                            if o.linger2 != 0 {
                                o.linger2
                            } else {
                                n.stack.config().tcp.fin_timeout.as_secs() as i32
                            }
                        }
                        libc::TCP_DEFER_ACCEPT => o.defer_accept,
                        libc::TCP_WINDOW_CLAMP => o.window_clamp,
                        libc::TCP_QUICKACK => flag(o.quickack),
                        libc::TCP_USER_TIMEOUT => o.user_timeout,
                        libc::TCP_NOTSENT_LOWAT => o.notsent_lowat_set as i32,
                        TCP_INQ => flag(o.inq),
                        libc::TCP_FASTOPEN => o.fastopen,
                        TCP_FASTOPEN_CONNECT => flag(o.fastopen_connect),
                        TCP_FASTOPEN_NO_COOKIE => flag(o.fastopen_no_cookie),
                        _ => return Err(ENOPROTOOPT),
                    }
                }
                libc::SOL_IP => match name {
                    libc::IP_TOS => o.tos,
                    libc::IP_TTL => o.ttl.unwrap_or(n.stack.config().default_ttl as i32),
                    libc::IP_RECVERR => flag(o.recverr),
                    libc::IP_FREEBIND
                    | libc::IP_PKTINFO
                    | libc::IP_RECVTOS
                    | libc::IP_RECVTTL
                    | libc::IP_BIND_ADDRESS_NO_PORT
                    | libc::IP_TRANSPARENT => flag(o.ip_flags & (1u32 << (name as u32 & 31)) != 0),
                    libc::IP_MTU_DISCOVER => o.mtu_discover,
                    libc::IP_MTU => {
                        let peer = lx(n.stack.getpeername(id).and_then(linnet::socket::inet4_only))
                            .map_err(|_| ENOTCONN)?;
                        let rt = lx(n.stack.ip_route_output(*peer.ip(), None))?;
                        n.stack.iface(rt.ifindex).map_or(1500, |i| i.mtu) as i32
                    }
                    _ => return Err(ENOPROTOOPT),
                },
                _ => return Err(ENOPROTOOPT),
            };
            Ok(put_int(out, v))
        })
    }
}

/// `struct tcp_md5sig` (include/uapi/linux/tcp.h): the peer (`sockaddr_storage`, 128
/// bytes), flags, prefix length, key length, interface index, then the key (80 bytes).
const TCP_MD5SIG_LEN: usize = 216;
/// `TCP_MD5SIG_FLAG_PREFIX`: `tcpm_prefixlen` is meant (`TCP_MD5SIG_EXT` only).
const TCP_MD5SIG_FLAG_PREFIX: u8 = 1;
/// `TCP_MD5SIG_FLAG_IFINDEX`: the key is for one interface only.
const TCP_MD5SIG_FLAG_IFINDEX: u8 = 2;

/// `TCP_MD5SIG` / `TCP_MD5SIG_EXT` from its `struct tcp_md5sig`. Linux:
/// `tcp_v4_parse_md5_keys`.
fn tcp_md5sig_of(name: i32, val: &[u8]) -> SysResult<SockOpt> {
    if val.len() < TCP_MD5SIG_LEN {
        return Err(EINVAL);
    }
    if i32::from(u16::from_ne_bytes([val[0], val[1]])) != libc::AF_INET {
        return Err(EINVAL);
    }
    let addr = std::net::Ipv4Addr::new(val[4], val[5], val[6], val[7]);
    let (flags, prefix) = (val[128], val[129]);
    let keylen = usize::from(u16::from_ne_bytes([val[130], val[131]]));
    let ifindex = i32::from_ne_bytes([val[132], val[133], val[134], val[135]]);
    let ext = name == TCP_MD5SIG_EXT;
    let prefixlen = if ext && flags & TCP_MD5SIG_FLAG_PREFIX != 0 {
        if prefix > 32 {
            return Err(EINVAL);
        }
        prefix
    } else {
        32
    };
    if ext && flags & TCP_MD5SIG_FLAG_IFINDEX != 0 && ifindex != 0 {
        // Keys bound to an L3 master device (VRF): Linnet has none.
        return Err(Errno(libc::ENODEV));
    }
    if keylen > 80 {
        return Err(EINVAL);
    }
    SockOpt::md5sig(addr, prefixlen, &val[136..136 + keylen]).ok_or(EINVAL)
}
