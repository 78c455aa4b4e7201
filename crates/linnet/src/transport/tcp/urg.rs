//! Urgent data (RFC 9293 3.8.5, RFC 6093): a segment with URG points at the urgent byte
//! (the byte before the urgent pointer, as Linux reads it with `tcp_stdurg` off). Unless
//! `SO_OOBINLINE` is set, that byte is taken out of the stream: a read stops just before
//! it, the next one steps over it, and `recv(MSG_OOB)` returns it; `splice` (which reads
//! like `tcp_read_sock`) stops at it and does not step over it.
//!
//! Linux: net/ipv4/tcp_input.c (`tcp_check_urg`, `tcp_urg`), net/ipv4/tcp.c
//! (`tcp_recv_urg`, the urgent mark in `tcp_recvmsg_locked` and `tcp_read_sock`).

use super::sock::TcpSock;
use crate::core::sock::SockId;
use crate::errno::Errno;
use crate::stack::Stack;
use crate::wire::tcp::SeqNumber;

/// The urgent byte a connection knows of. Linux: `tp->urg_seq` with `tp->urg_data`
/// (`TCP_URG_NOTYET`, `TCP_URG_VALID | byte`, `TCP_URG_READ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Urg {
    /// Its sequence number.
    pub seq: SeqNumber,
    /// The byte, once its segment arrived (`None`: announced, not received yet).
    pub byte: Option<u8>,
    /// Already returned by `recv(MSG_OOB)`.
    pub read: bool,
}

impl TcpSock {
    /// The first unread sequence number. Linux: `tp->copied_seq`.
    pub fn copied_seq(&self) -> SeqNumber {
        self.rcv_nxt - self.rcv_queued()
    }

    /// Bytes a read may take before the urgent byte: `None` when no urgent byte lies ahead
    /// in the stream (or it is read inline). Linux: `urg_offset` in `tcp_recvmsg_locked`.
    pub fn urg_offset(&self) -> Option<usize> {
        let u = self.urg.filter(|_| !self.urg_inline)?;
        let off = u.seq - self.copied_seq();
        (off >= 0).then_some(off as usize)
    }
}

impl Stack {
    /// A segment of an established connection arrived: note the urgent byte its URG
    /// pointer (`urg_ptr`, when the URG flag is set) announces, and take the byte if this
    /// segment (`seq`, `payload`) carries the one announced. Linux: `tcp_urg` →
    /// `tcp_check_urg`.
    pub(crate) fn tcp_urg(
        &mut self,
        id: SockId,
        seq: SeqNumber,
        urg_ptr: Option<u16>,
        payload: &[u8],
    ) {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return;
        };
        if !sk.state.can_receive() {
            return;
        }
        if let Some(p) = urg_ptr {
            // Linux's reading (tcp_stdurg off): the pointer is one past the urgent byte.
            let ptr = seq + usize::from(p.saturating_sub(1));
            let copied = sk.copied_seq();
            let fresh = copied <= ptr && ptr >= sk.rcv_nxt && sk.urg.is_none_or(|u| ptr > u.seq);
            if fresh {
                if let Some(old) = sk.urg {
                    // The previous urgent byte is next to read: it is no longer urgent,
                    // and out of band it was, so the stream steps over it.
                    if old.seq == copied && !sk.urg_inline && copied != sk.rcv_nxt {
                        let mut skip = [0u8; 1];
                        let pool = &mut self.pool;
                        sk.rcv_copy(&mut skip, false, |b| pool.put(b));
                    }
                }
                sk.urg = Some(Urg {
                    seq: ptr,
                    byte: None,
                    read: false,
                });
            }
        }
        let Some(u) = sk.urg.filter(|u| u.byte.is_none() && !u.read) else {
            return;
        };
        let off = u.seq - seq;
        if off >= 0 && (off as usize) < payload.len() {
            sk.urg = Some(Urg {
                byte: Some(payload[off as usize]),
                ..u
            });
            self.sk_wake(id);
        }
    }

    /// `recv(MSG_OOB)`: the urgent byte. `EINVAL` when there is none (or it was read, or
    /// it is read inline), `EAGAIN` while it is announced but not here yet. Linux:
    /// `tcp_recv_urg`.
    pub(crate) fn tcp_recv_urg(&mut self, id: SockId, peek: bool) -> Result<u8, Errno> {
        let sk = self.sockets.tcp_mut(id)?;
        let u = match sk.urg {
            Some(u) if !sk.urg_inline && !u.read => u,
            _ => return Err(Errno::EINVAL),
        };
        let Some(b) = u.byte else {
            if sk.fin_rcvd || sk.rd_shutdown {
                return Err(Errno::EINVAL);
            }
            return Err(Errno::EAGAIN);
        };
        if !peek {
            sk.urg = Some(Urg { read: true, ..u });
        }
        Ok(b)
    }

    /// Before a read copies: how much it may take (`out_len` or less, stopping at the
    /// urgent byte), stepping over the urgent byte first when it is next and the read is no
    /// `tcp_read_sock` (which stops there instead: `None` then). Linux: the urgent-mark
    /// handling of `tcp_recvmsg_locked` / `tcp_read_sock`.
    pub(crate) fn tcp_urg_read_limit(
        &mut self,
        id: SockId,
        out_len: usize,
        peek: bool,
        read_sock: bool,
    ) -> Option<usize> {
        let Ok(sk) = self.sockets.tcp_mut(id) else {
            return Some(out_len);
        };
        let Some(off) = sk.urg_offset() else {
            return Some(out_len);
        };
        if off > 0 {
            return Some(out_len.min(off));
        }
        if read_sock {
            return None;
        }
        if peek || sk.rcv_queued() == 0 {
            return Some(out_len);
        }
        // Step over the urgent byte; it is behind the reader now (Linux clears urg_data
        // once copied_seq passes urg_seq).
        let mut skip = [0u8; 1];
        let pool = &mut self.pool;
        sk.rcv_copy(&mut skip, false, |b| pool.put(b));
        sk.urg = None;
        Some(out_len)
    }
}
