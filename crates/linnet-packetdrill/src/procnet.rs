//! `/proc/net/tcp` and `/proc/net/tcp6` for Linnet's sockets, for the scripts' shell lines
//! (`grep " 0A " /proc/net/tcp`). The harness mounts a directory over `/proc/net` in the
//! script's private mount namespace (`--so_flags=procnet=DIR`); this module keeps `tcp` and
//! `tcp6` there current, rewriting them (atomically, by rename) when their text changes.
//!
//! Linux: `tcp4_seq_show` / `get_tcp4_sock` / `get_openreq4` (net/ipv4/tcp_ipv4.c).

use linnet::transport::tcp::sock::TcpState;
use linnet::Stack;
use std::fmt::Write as _;
use std::net::SocketAddrV4;
use std::path::PathBuf;

/// Width of each line before its newline (Linux: `seq_setwidth(seq, TMPSZ - 1)`, TMPSZ 150).
const LINE_WIDTH: usize = 149;
/// Clock ticks per second of the times shown (Linux: `USER_HZ`).
const USER_HZ: u64 = 100;

/// Linux's numbering of TCP states (include/net/tcp_states.h).
fn tcp_state_num(s: TcpState) -> u8 {
    match s {
        TcpState::Established => 1,
        TcpState::SynSent => 2,
        TcpState::SynReceived => 3,
        TcpState::FinWait1 => 4,
        TcpState::FinWait2 => 5,
        TcpState::TimeWait => 6,
        TcpState::Closed => 7,
        TcpState::CloseWait => 8,
        TcpState::LastAck => 9,
        TcpState::Listen => 10,
        TcpState::Closing => 11,
    }
}

/// An address as `/proc/net/tcp` prints it: the network-order word in hex as the host reads
/// it, then the port.
fn addr_hex(a: std::net::SocketAddr) -> String {
    // /proc/net/tcp lists IPv4 sockets (TCP is IPv4 only so far).
    let a = linnet::socket::inet4_only(a)
        .unwrap_or_else(|_| SocketAddrV4::new(std::net::Ipv4Addr::UNSPECIFIED, 0));
    let word = u32::from_ne_bytes(a.ip().octets());
    format!("{:08X}:{:04X}", word, a.port())
}

/// Pad a line to the width Linux pads it to, then end it.
fn push_line(out: &mut String, line: &str) {
    let _ = write!(out, "{line:<LINE_WIDTH$}");
    out.push('\n');
}

/// The text of `/proc/net/tcp` for the stack's TCP sockets. Linux: `tcp4_seq_show`.
pub fn proc_net_tcp(stack: &Stack) -> String {
    let mut out = String::new();
    push_line(
        &mut out,
        "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    );
    let mut sl = 0;
    for s in stack.sockets_info() {
        let Ok(t) = stack.tcp_sock(s.id) else {
            continue;
        };
        if t.state == TcpState::Closed {
            continue; // unbound or closed sockets are in no hash table
        }
        let listen = t.state == TcpState::Listen;
        let (tx_q, rx_q) = if listen {
            // A listener shows its accept queue and backlog (Linux: sk_ack_backlog, 0).
            (0, t.accept_queue.len() as u64)
        } else {
            (s.send_q, s.recv_q)
        };
        let info = t.info();
        let rto = info.rto_us * USER_HZ / 1_000_000;
        let last = if listen {
            i64::from(t.backlog as i32)
        } else if info.ssthresh >= 0x7fff_ffff {
            -1
        } else {
            i64::from(info.ssthresh)
        };
        let line = format!(
            "{:4}: {} {} {:02X} {:08X}:{:08X} {:02X}:{:08X} {:08X} {:5} {:8} {} {} {:016x} {} {} {} {} {}",
            sl,
            addr_hex(s.local),
            addr_hex(s.remote),
            tcp_state_num(t.state),
            tx_q as u32,
            rx_q as u32,
            0, // no timer shown
            0,
            info.retrans as u32,
            0, // uid
            0, // probes
            sl + 1, // inode: a stand-in per socket
            2,      // references: the table's and the descriptor's
            0,
            rto,
            USER_HZ / 25, // ato: 40 ms
            0,
            info.cwnd,
            last,
        );
        push_line(&mut out, &line);
        sl += 1;
    }
    out
}

/// The text of `/proc/net/tcp6`: Linnet has no IPv6 sockets, so the header alone.
pub fn proc_net_tcp6() -> String {
    let mut out = String::new();
    push_line(
        &mut out,
        "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    );
    out
}

/// The directory standing for `/proc/net` and what was last written there.
#[derive(Debug)]
pub struct ProcNetDir {
    dir: PathBuf,
    last: String,
}

impl ProcNetDir {
    /// Keep `tcp` and `tcp6` in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> ProcNetDir {
        let d = ProcNetDir {
            dir: dir.into(),
            last: String::from("\0"),
        };
        let _ = write_atomic(&d.dir.join("tcp6"), &proc_net_tcp6());
        d
    }

    /// Rewrite `tcp` if the stack's sockets show differently now.
    pub fn refresh(&mut self, stack: &Stack) {
        let text = proc_net_tcp(stack);
        if text != self.last && write_atomic(&self.dir.join("tcp"), &text).is_ok() {
            self.last = text;
        }
    }
}

/// Write a file whole: readers see the old or the new text, never a part.
fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}
