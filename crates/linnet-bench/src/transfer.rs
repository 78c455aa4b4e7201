//! One bulk transfer over any byte stream (Linux's `std::net::TcpStream` or Linnet's
//! `linnet::api::TcpStream`), bounded in time and checked by SHA-256 at the receiver.
//!
//! The sender writes a fixed payload, shuts its side down and waits for the receiver's close;
//! the receiver reads to EOF, hashing as it goes, notes the moment the last byte arrived and
//! closes. Every blocking call has a short timeout and both loops give up at a deadline, so a
//! stalled connection ends as a reported failure, never as a hung bench.

use crate::sha256::Sha256;
use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

/// Bytes per write (and largest read).
pub const CHUNK: usize = 64 * 1024;

/// How long one blocking read or write may wait before the deadline is checked again.
pub const POLL: Duration = Duration::from_millis(200);

/// A payload of `len` pseudo-random bytes (splitmix64 from `seed`): incompressible, and the
/// same for every transfer of a run.
pub fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        s = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A time-out or would-block from a stream with a timeout set: not an error, look at the
/// deadline and try again.
fn is_retry(k: ErrorKind) -> bool {
    matches!(
        k,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Send `data` on `s` by `deadline`, shut the write side down with `shut`, then wait (until
/// the deadline) for the receiver to close. The stream must have read and write timeouts of
/// about [`POLL`].
pub fn send_all<S: Read + Write>(
    s: &mut S,
    data: &[u8],
    deadline: Instant,
    shut: impl FnOnce(&S) -> std::io::Result<()>,
) -> Result<(), String> {
    let mut off = 0;
    while off < data.len() {
        let end = (off + CHUNK).min(data.len());
        match s.write(&data[off..end]) {
            Ok(0) => return Err(format!("write: peer closed after {off} bytes")),
            Ok(n) => off += n,
            Err(e) if is_retry(e.kind()) => {}
            Err(e) => return Err(format!("write after {off} bytes: {e}")),
        }
        if off < data.len() && Instant::now() >= deadline {
            return Err(format!("cut: {off} of {} bytes written", data.len()));
        }
    }
    shut(s).map_err(|e| format!("shutdown: {e}"))?;
    let mut buf = [0u8; 512];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => return Err("the receiver sent data".into()),
            Err(e) if is_retry(e.kind()) => {}
            // The receiver has what it needs once it closes; a reset after that is its
            // close racing ours, which the receiver's own result tells apart.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(()),
            Err(e) => return Err(format!("waiting for the receiver to close: {e}")),
        }
        if Instant::now() >= deadline {
            return Err("cut: all written, the receiver never closed".into());
        }
    }
}

/// What a receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Bytes read.
    pub bytes: u64,
    /// SHA-256 of them.
    pub digest: [u8; 32],
    /// When EOF was read (None if it never was: an error or the deadline).
    pub eof_at: Option<Instant>,
    /// Why reading stopped before EOF.
    pub error: Option<String>,
}

/// Read `s` to EOF by `deadline`, hashing; the stream must have a read timeout of about
/// [`POLL`].
pub fn recv_all<S: Read>(s: &mut S, deadline: Instant) -> Received {
    let mut buf = vec![0u8; CHUNK];
    let mut h = Sha256::new();
    let mut bytes = 0u64;
    let mut error = None;
    let mut eof_at = None;
    loop {
        match s.read(&mut buf) {
            Ok(0) => {
                eof_at = Some(Instant::now());
                break;
            }
            Ok(n) => {
                h.update(&buf[..n]);
                bytes += n as u64;
            }
            Err(e) if is_retry(e.kind()) => {}
            Err(e) => {
                error = Some(format!("read after {bytes} bytes: {e}"));
                break;
            }
        }
        if Instant::now() >= deadline {
            error = Some(format!("cut: {bytes} bytes read, no EOF"));
            break;
        }
    }
    Received {
        bytes,
        digest: h.finish(),
        eof_at,
        error,
    }
}

/// Call `f` until it succeeds or `deadline` passes (listeners coming up, ARP resolving),
/// pausing `pause` between tries; the last error if it never does.
pub fn retry_until<T>(
    deadline: Instant,
    pause: Duration,
    mut f: impl FnMut() -> std::io::Result<T>,
) -> std::io::Result<T> {
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(pause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_seeded_and_sized() {
        let a = payload(1000, 7);
        assert_eq!(a.len(), 1000);
        assert_eq!(a, payload(1000, 7));
        assert_ne!(a, payload(1000, 8));
        assert_eq!(&payload(1003, 7)[..1000], &a[..]);
    }

    #[test]
    fn send_and_receive_over_a_local_socket_pair() {
        use std::net::{TcpListener, TcpStream};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let data = payload(3 * CHUNK + 17, 1);
        let want = {
            let mut h = Sha256::new();
            h.update(&data);
            h.finish()
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        let got = std::thread::scope(|sc| {
            let rx = sc.spawn(move || {
                let (mut s, _) = l.accept().unwrap();
                s.set_read_timeout(Some(POLL)).unwrap();
                recv_all(&mut s, deadline)
            });
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(POLL)).unwrap();
            s.set_write_timeout(Some(POLL)).unwrap();
            send_all(&mut s, &data, deadline, |s| {
                s.shutdown(std::net::Shutdown::Write)
            })
            .unwrap();
            rx.join().unwrap()
        });
        assert_eq!(got.bytes, data.len() as u64);
        assert_eq!(got.digest, want);
        assert!(got.eof_at.is_some() && got.error.is_none(), "{got:?}");
    }

    #[test]
    fn a_silent_peer_is_cut_at_the_deadline() {
        use std::net::{TcpListener, TcpStream};
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
        let t = Instant::now();
        let got = recv_all(&mut s, t + Duration::from_millis(100));
        assert!(got.eof_at.is_none());
        assert!(got.error.unwrap().starts_with("cut"));
        assert!(t.elapsed() < Duration::from_secs(5));
    }
}
