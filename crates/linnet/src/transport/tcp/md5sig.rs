//! TCP MD5 signatures (RFC 2385): per-peer keys set with `TCP_MD5SIG`, the option (kind 19)
//! every segment to such a peer carries, and the check of every segment received.
//!
//! The digest covers the pseudo-header (source, destination, zero, protocol, TCP length),
//! the 20-byte TCP header with a zero checksum (no options), the data and then the key
//! (RFC 2385 2.0). A socket with a key for the peer signs what it sends and drops what
//! arrives unsigned (`TCPMD5NotFound`) or signed wrongly (`TCPMD5Failure`); a socket with no
//! key drops signed segments (`TCPMD5Unexpected`). Segments are never offloaded for
//! segmentation (each one's digest differs).
//!
//! Linux: net/ipv4/tcp_ipv4.c (`tcp_md5_do_lookup`, `tcp_md5_do_add`, `tcp_md5_do_del`,
//! `tcp_v4_parse_md5_keys`, `tcp_v4_md5_hash_skb`), net/ipv4/tcp.c
//! (`tcp_inbound_md5_hash`), net/ipv4/tcp_input.c (`tcp_parse_md5sig_option`),
//! net/ipv4/tcp_output.c (`OPTION_MD5` in `tcp_options_write`).

use super::md5::Md5;
use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::stats::DropReason;
use crate::wire::tcp::TcpRepr;
use crate::wire::Ipv4Addr;

/// The option's kind. Linux: `TCPOPT_MD5SIG`.
pub const TCPOPT_MD5SIG: u8 = 19;
/// The option's length. Linux: `TCPOLEN_MD5SIG`.
pub const TCPOLEN_MD5SIG: u8 = 18;
/// The option with its two NOPs of alignment, as sent. Linux: `TCPOLEN_MD5SIG_ALIGNED`.
pub const TCPOLEN_MD5SIG_ALIGNED: usize = 20;
/// The longest key. Linux: `TCP_MD5SIG_MAXKEYLEN`.
pub const TCP_MD5SIG_MAXKEYLEN: usize = 80;
/// Keys one socket may hold (Linux bounds them by `sysctl_optmem_max`; each costs about
/// 200 bytes of its 128 KiB).
const MAX_KEYS: usize = 512;

/// One key: the peers it is for (`addr`/`prefixlen`) and its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpMd5Key {
    /// The peer address (network part, for a prefix).
    pub addr: Ipv4Addr,
    /// How many leading bits of `addr` must match (32: this address alone).
    pub prefixlen: u8,
    /// The secret (at most [`TCP_MD5SIG_MAXKEYLEN`] bytes).
    pub key: Vec<u8>,
}

impl TcpMd5Key {
    fn matches(&self, a: Ipv4Addr) -> bool {
        let mask = match self.prefixlen {
            0 => 0,
            p => u32::MAX << (32 - u32::from(p.min(32))),
        };
        u32::from(a) & mask == u32::from(self.addr) & mask
    }
}

/// A socket's keys. Linux: `struct tcp_md5sig_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpMd5Keys(Vec<TcpMd5Key>);

impl TcpMd5Keys {
    /// No keys: the socket neither signs nor accepts signed segments.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key for a peer: the longest prefix that matches. Linux: `__tcp_md5_do_lookup`.
    pub fn lookup(&self, peer: Ipv4Addr) -> Option<&TcpMd5Key> {
        self.0
            .iter()
            .filter(|k| k.matches(peer))
            .max_by_key(|k| k.prefixlen)
    }

    /// Add or replace the key for (`addr`, `prefixlen`); an empty key deletes it (`ENOENT`
    /// if there is none). Linux: `tcp_v4_parse_md5_keys` → `tcp_md5_do_add` /
    /// `tcp_md5_do_del`.
    pub fn tcp_md5_do_set(
        &mut self,
        addr: Ipv4Addr,
        prefixlen: u8,
        key: &[u8],
    ) -> Result<(), Errno> {
        if prefixlen > 32 || key.len() > TCP_MD5SIG_MAXKEYLEN {
            return Err(Errno::EINVAL);
        }
        let pos = self
            .0
            .iter()
            .position(|k| k.addr == addr && k.prefixlen == prefixlen);
        match (pos, key.is_empty()) {
            (Some(i), true) => {
                self.0.remove(i);
            }
            (None, true) => return Err(Errno::ENOENT),
            (Some(i), false) => self.0[i].key = key.to_vec(),
            (None, false) => {
                if self.0.len() >= MAX_KEYS {
                    return Err(Errno::ENOBUFS);
                }
                self.0.push(TcpMd5Key {
                    addr,
                    prefixlen,
                    key: key.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// The key a connection to `peer` accepted by a listener with these keys starts with.
    /// Linux: `tcp_v4_syn_recv_sock` copying the listener's key for the peer.
    pub fn for_child(&self, peer: Ipv4Addr) -> TcpMd5Keys {
        TcpMd5Keys(self.lookup(peer).cloned().into_iter().collect())
    }
}

impl super::sock::TcpSock {
    /// Whether this connection signs its segments (it has a key for its peer).
    pub fn md5_signs(&self) -> bool {
        !self.md5.is_empty() && self.md5.lookup(self.inet_daddr()).is_some()
    }

    /// The option bytes every segment carries, which the MSS leaves room for: the
    /// timestamp option and the MD5 option. Linux: `tp->tcp_header_len` less the fixed header
    /// (`tcp_connect_init`, `tcp_create_openreq_child`).
    pub fn tcp_header_opts_len(&self) -> u32 {
        let ts = if self.ts_ok { 12 } else { 0 };
        let md5 = if self.md5_signs() {
            TCPOLEN_MD5SIG_ALIGNED as u32
        } else {
            0
        };
        ts + md5
    }
}

/// Where the digest of an MD5 option starts in a TCP header's options (`opts`: the bytes
/// after the fixed 20). Linux: `tcp_parse_md5sig_option`.
pub fn tcp_parse_md5sig_option(opts: &[u8]) -> Option<usize> {
    let mut i = 0;
    // Bounded: each round moves past at least one byte.
    while i < opts.len() {
        match opts[i] {
            0 => return None,
            1 => i += 1,
            kind => {
                let len = usize::from(*opts.get(i + 1)?);
                if len < 2 || i + len > opts.len() {
                    return None;
                }
                if kind == TCPOPT_MD5SIG {
                    return (len == usize::from(TCPOLEN_MD5SIG)).then_some(i + 2);
                }
                i += len;
            }
        }
    }
    None
}

/// The signature of a segment: `th` its fixed header (checksum taken as zero whatever it
/// holds), `tcp_len` the whole segment's length (header with options, and data), `data`
/// the data in pieces. Linux: `tcp_v4_md5_hash_skb`.
pub fn tcp_v4_md5_hash_skb(
    key: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    th: &[u8],
    tcp_len: usize,
    data: &[&[u8]],
) -> [u8; 16] {
    let mut m = Md5::new();
    // Pseudo-header. Linux: tcp_v4_md5_hash_headers (struct tcp4_pseudohdr).
    m.update(&src.octets());
    m.update(&dst.octets());
    m.update(&[0, 6]);
    m.update(&(tcp_len as u16).to_be_bytes());
    let mut h = [0u8; 20];
    h.copy_from_slice(&th[..20]);
    h[16] = 0;
    h[17] = 0;
    m.update(&h);
    for d in data {
        m.update(d);
    }
    m.update(key);
    m.finish()
}

/// Write `repr`'s header into `h` (its length plus [`TCPOLEN_MD5SIG_ALIGNED`]) with the
/// MD5 option first (NOP, NOP, kind, length, digest) and `repr`'s options after it, signed
/// with `key` over the segment of `tcp_len` bytes whose data is `data`. Linux:
/// `tcp_options_write` (`OPTION_MD5`) and `tcp_v4_md5_hash_skb` in `__tcp_transmit_skb`.
pub(crate) fn tcp_md5_emit(
    repr: &TcpRepr,
    h: &mut [u8],
    key: &[u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    tcp_len: usize,
    data: [&[u8]; 2],
) {
    let plain = repr.header_len();
    let mut tmp = [0u8; 60];
    repr.emit(&mut tmp[..plain]);
    h[..20].copy_from_slice(&tmp[..20]);
    h[12] = (((h.len() / 4) as u8) << 4) | (tmp[12] & 0x0f);
    h[20..24].copy_from_slice(&[1, 1, TCPOPT_MD5SIG, TCPOLEN_MD5SIG]);
    h[20 + TCPOLEN_MD5SIG_ALIGNED..].copy_from_slice(&tmp[20..plain]);
    let digest = tcp_v4_md5_hash_skb(key, src, dst, &h[..20], tcp_len, &data);
    h[24..40].copy_from_slice(&digest);
}

/// What a received segment's header contributes to its check: the fixed header and the
/// digest it carries, if it has an MD5 option.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RxMd5 {
    /// The fixed 20 bytes of the TCP header.
    pub th: [u8; 20],
    /// The whole TCP header's length.
    pub hlen: usize,
    /// The digest of its MD5 option.
    pub digest: Option<[u8; 16]>,
}

impl RxMd5 {
    /// Read from a TCP header (`hdr`, options included): `None` when it has no options, or
    /// only the timestamp in the layout Linux and Linnet send (the common case, not walked).
    pub fn from_header(hdr: &[u8]) -> Option<RxMd5> {
        if hdr.len() <= 20 || (hdr.len() == 32 && hdr[20..23] == [1, 1, 8]) {
            return None;
        }
        let mut th = [0u8; 20];
        th.copy_from_slice(hdr.get(..20)?);
        let digest = tcp_parse_md5sig_option(&hdr[20..]).map(|at| {
            let mut d = [0u8; 16];
            d.copy_from_slice(&hdr[20 + at..20 + at + 16]);
            d
        });
        Some(RxMd5 {
            th,
            hlen: hdr.len(),
            digest,
        })
    }
}

impl Stack {
    /// Check a received segment against the keys of the socket it is for (a listener or a
    /// connection): `Err` with the reason it must be dropped (counted here). Linux:
    /// `tcp_inbound_md5_hash` (from `tcp_v4_rcv`, before the socket sees the segment).
    pub(crate) fn tcp_inbound_md5_hash(
        &mut self,
        id: SockId,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        rx: Option<&RxMd5>,
        data: &[u8],
    ) -> Result<(), DropReason> {
        let Ok(sk) = self.sockets.tcp(id) else {
            return Ok(());
        };
        let key = sk.md5.lookup(src);
        match (key, rx.and_then(|r| r.digest.map(|d| (r, d)))) {
            (None, None) => Ok(()),
            (Some(_), None) => {
                self.tcp.stats.md5_not_found += 1;
                Err(DropReason::TcpMd5NotFound)
            }
            (None, Some(_)) => {
                self.tcp.stats.md5_unexpected += 1;
                Err(DropReason::TcpMd5Unexpected)
            }
            (Some(k), Some((rx, got))) => {
                let want =
                    tcp_v4_md5_hash_skb(&k.key, src, dst, &rx.th, rx.hlen + data.len(), &[data]);
                if want == got {
                    Ok(())
                } else {
                    self.tcp.stats.md5_failure += 1;
                    Err(DropReason::TcpMd5Failure)
                }
            }
        }
    }

    /// `setsockopt(TCP_MD5SIG)` on a TCP socket. Linux: `tcp_v4_parse_md5_keys`.
    pub(crate) fn tcp_md5_set_key(
        &mut self,
        id: SockId,
        addr: Ipv4Addr,
        prefixlen: u8,
        key: &[u8],
    ) -> Result<(), Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        sk.md5.tcp_md5_do_set(addr, prefixlen, key)?;
        // Route capabilities are looked at again: no segmentation offload while signing
        // (Linux: sk_gso_disable in tcp_md5_do_add).
        sk.route_caps_genid = u64::MAX;
        if !sk.md5.is_empty() {
            sk.route_caps.tso = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_and_empty_key_deletes() {
        let mut k = TcpMd5Keys::default();
        let net = Ipv4Addr::new(192, 0, 2, 0);
        let host = Ipv4Addr::new(192, 0, 2, 7);
        k.tcp_md5_do_set(net, 24, b"net").unwrap();
        k.tcp_md5_do_set(host, 32, b"host").unwrap();
        assert_eq!(k.lookup(host).unwrap().key, b"host");
        assert_eq!(k.lookup(Ipv4Addr::new(192, 0, 2, 9)).unwrap().key, b"net");
        assert!(k.lookup(Ipv4Addr::new(198, 51, 100, 1)).is_none());
        k.tcp_md5_do_set(host, 32, b"").unwrap();
        assert_eq!(k.lookup(host).unwrap().key, b"net");
        assert_eq!(k.tcp_md5_do_set(host, 32, b""), Err(Errno::ENOENT));
        assert_eq!(k.tcp_md5_do_set(host, 33, b"x"), Err(Errno::EINVAL));
        assert_eq!(k.tcp_md5_do_set(host, 32, &[0; 81]), Err(Errno::EINVAL));
    }

    #[test]
    fn option_is_found_among_others() {
        // nop, nop, md5 (18), then a timestamp.
        let mut o = vec![1, 1, 19, 18];
        o.extend(1..=16u8);
        o.extend([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(tcp_parse_md5sig_option(&o), Some(4));
        assert_eq!(tcp_parse_md5sig_option(&o[16..]), None);
        // A wrong length is no MD5 option; a truncated one ends the walk.
        assert_eq!(
            tcp_parse_md5sig_option(&[19, 10, 0, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
        assert_eq!(tcp_parse_md5sig_option(&[1, 19]), None);
        assert_eq!(tcp_parse_md5sig_option(&[2, 0, 19, 18]), None);
    }

    #[test]
    fn digest_ignores_checksum_and_depends_on_key_and_data() {
        let (s, d) = (Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2));
        let mut th = [0u8; 20];
        th[0..2].copy_from_slice(&1234u16.to_be_bytes());
        th[12] = 10 << 4;
        let a = tcp_v4_md5_hash_skb(b"k", s, d, &th, 40 + 3, &[b"abc"]);
        th[16] = 0xab;
        assert_eq!(a, tcp_v4_md5_hash_skb(b"k", s, d, &th, 43, &[b"a", b"bc"]));
        assert_ne!(a, tcp_v4_md5_hash_skb(b"j", s, d, &th, 43, &[b"abc"]));
        assert_ne!(a, tcp_v4_md5_hash_skb(b"k", s, d, &th, 43, &[b"abd"]));
        assert_ne!(a, tcp_v4_md5_hash_skb(b"k", d, s, &th, 43, &[b"abc"]));
    }
}
