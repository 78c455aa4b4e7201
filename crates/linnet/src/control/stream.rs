//! Streaming requests on the control socket: capture and trace. The server keeps the
//! connection, drains the stack's capture queue or trace ring every few milliseconds and
//! writes a batch per line (an empty one as a heartbeat), until the client closes the
//! connection; then the capture or trace stops.
//!
//! Linux: reading an `AF_PACKET` socket (tcpdump) or a perf ring buffer (`perf trace`).

use super::{error, Envelope, Request, Response, MAX_LINE, VERSION};
use crate::runtime::Handle;
use crate::stack::Stack;
use crate::trace::{CapturedFrame, Filter, TraceLine, TraceRecord};
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often the queue is drained.
const DRAIN_EVERY: Duration = Duration::from_millis(20);
/// Longest silence before an empty batch tells the client we are alive (and us whether it is).
const HEARTBEAT: Duration = Duration::from_millis(250);
/// Frames kept between drains.
const CAPTURE_QUEUE: usize = 4096;
/// Trace records kept between drains.
const TRACE_RING: usize = 16384;
/// Default snap length.
const DEFAULT_SNAPLEN: usize = 65535;

/// Whether `req` is a streaming request.
pub fn is_stream(req: &Request) -> bool {
    matches!(
        req,
        Request::CaptureStart { .. } | Request::TraceStart { .. }
    )
}

fn send(mut conn: &UnixStream, resp: &Response) -> io::Result<()> {
    let mut line = serde_json::to_vec(&Envelope {
        version: VERSION,
        body: resp,
    })
    .map_err(io::Error::other)?;
    line.push(b'\n');
    conn.write_all(&line)
}

fn clock(stack: &Handle) -> (u64, u64) {
    let mono = stack.now().total_micros();
    let unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0);
    (mono, unix)
}

/// Whether the client has closed its end (checked every drain, so the capture or trace
/// stops at once rather than at the next failed write).
fn client_gone(conn: &UnixStream) -> bool {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd {
        fd: conn.as_raw_fd(),
        events: libc::POLLIN | libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: one valid pollfd, zero timeout.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    if n <= 0 {
        return false;
    }
    if p.revents & (libc::POLLHUP | libc::POLLRDHUP | libc::POLLERR) != 0 {
        return true;
    }
    let mut b = [0u8; 1];
    // SAFETY: peeks at most one byte into a valid buffer, without blocking.
    let r = unsafe {
        libc::recv(
            conn.as_raw_fd(),
            b.as_mut_ptr() as *mut libc::c_void,
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    r == 0
}

/// Stops the capture (by id) or the trace however the stream ends.
struct Stop<'a> {
    stack: &'a Handle,
    capture: Option<u32>,
}

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let capture = self.capture;
        let _ = self.stack.call(move |s, _| match capture {
            Some(id) => s.capture_stop(id),
            None => s.trace_stop(),
        });
    }
}

/// Serve a streaming request until the client goes away.
pub fn serve_stream(conn: &UnixStream, stack: &Handle, req: Request) -> io::Result<()> {
    match req {
        Request::CaptureStart {
            dev,
            filter,
            snaplen,
        } => capture(conn, stack, dev, &filter, snaplen),
        Request::TraceStart { filter } => trace(conn, stack, &filter),
        _ => send(conn, &error(libc::EINVAL, "not a streaming request")),
    }
}

fn start_err(e: crate::Errno, what: &str) -> Response {
    match e {
        crate::Errno::EALREADY => error(e.raw(), format!("a {what} is already running")),
        crate::Errno::ENOBUFS => error(
            e.raw(),
            format!(
                "too many captures running (at most {})",
                crate::trace::capture::MAX_CAPTURES
            ),
        ),
        e => super::errno_response(e),
    }
}

/// Start something that may be busy because the previous client's stream is still
/// winding down (it notices a closed connection within one drain period): retry briefly.
fn retry_busy<T>(
    mut start: impl FnMut() -> io::Result<Result<T, Response>>,
) -> io::Result<Result<T, Response>> {
    let deadline = std::time::Instant::now() + 10 * DRAIN_EVERY;
    loop {
        match start()? {
            Err(Response::Error { errno: Some(e), .. })
                if e == crate::Errno::EALREADY.raw() && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(DRAIN_EVERY / 2)
            }
            r => return Ok(r),
        }
    }
}

fn capture(
    conn: &UnixStream,
    stack: &Handle,
    dev: Option<String>,
    filter: &str,
    snaplen: Option<usize>,
) -> io::Result<()> {
    let filter = match Filter::parse(filter) {
        Ok(f) => f,
        Err(e) => return send(conn, &error(libc::EINVAL, e.to_string())),
    };
    let snaplen = snaplen.unwrap_or(DEFAULT_SNAPLEN).min(DEFAULT_SNAPLEN);
    let started = retry_busy(|| {
        let (dev, filter) = (dev.clone(), filter.clone());
        stack.call(move |s: &mut Stack, _| {
            let ifindex = match dev.as_deref() {
                None | Some("any") => None,
                Some(d) => match s.ifindex_by_name(d) {
                    Some(i) => Some(i),
                    None => return Err(error(libc::ENODEV, format!("Cannot find device \"{d}\""))),
                },
            };
            let id = s
                .capture_start(ifindex, filter, snaplen, CAPTURE_QUEUE)
                .map_err(|e| start_err(e, "capture"))?;
            let interfaces = s
                .interfaces()
                .map(|i| (i.ifindex, i.name.clone()))
                .collect();
            Ok((
                id,
                interfaces,
                s.capture(id).map_or(snaplen, |c| c.snaplen()),
            ))
        })
    })?;
    let (id, interfaces, snaplen) = match started {
        Ok(v) => v,
        Err(resp) => return send(conn, &resp),
    };
    let _stop = Stop {
        stack,
        capture: Some(id),
    };
    let (mono_us, unix_us) = clock(stack);
    send(
        conn,
        &Response::CaptureStarted {
            interfaces,
            snaplen,
            mono_us,
            unix_us,
        },
    )?;
    let mut last = std::time::Instant::now();
    let mut raw: Vec<u8> = Vec::new();
    let mut descs = Vec::new();
    loop {
        std::thread::sleep(DRAIN_EVERY);
        if client_gone(conn) {
            return Ok(());
        }
        // Under the stack's lock only a copy of the bytes; hex encoding happens after.
        raw.clear();
        descs.clear();
        let dropped = stack.call(|s, _| {
            let Some(c) = s.capture_mut(id) else {
                return 0;
            };
            c.drain(|slot| {
                descs.push((
                    slot.ifindex,
                    slot.dir,
                    slot.ts_us,
                    slot.orig_len,
                    raw.len(),
                    slot.data.len(),
                ));
                raw.extend_from_slice(slot.data);
            });
            c.dropped()
        })?;
        let frames: Vec<CapturedFrame> = descs
            .iter()
            .map(|&(ifindex, dir, ts_us, orig_len, off, len)| CapturedFrame {
                ifindex,
                dir,
                ts_us,
                orig_len: orig_len as u32,
                hex: CapturedFrame::encode(&raw[off..off + len]),
            })
            .collect();
        if frames.is_empty() && last.elapsed() < HEARTBEAT {
            continue;
        }
        last = std::time::Instant::now();
        if frames.is_empty() {
            send(conn, &Response::Captured { frames, dropped })?;
            continue;
        }
        // Keep each line well under what the client reads at once.
        let mut batch = Vec::new();
        let mut size = 0;
        for f in frames {
            size += f.hex.len() + 96;
            batch.push(f);
            if size > 4 * MAX_LINE {
                send(
                    conn,
                    &Response::Captured {
                        frames: std::mem::take(&mut batch),
                        dropped,
                    },
                )?;
                size = 0;
            }
        }
        if !batch.is_empty() {
            send(
                conn,
                &Response::Captured {
                    frames: batch,
                    dropped,
                },
            )?;
        }
    }
}

fn trace(conn: &UnixStream, stack: &Handle, filter: &str) -> io::Result<()> {
    let filter = match Filter::parse(filter) {
        Ok(f) => f,
        Err(e) => return send(conn, &error(libc::EINVAL, e.to_string())),
    };
    let started = retry_busy(|| {
        let filter = filter.clone();
        stack.call(move |s, _| {
            s.trace_start(filter, TRACE_RING)
                .map_err(|e| start_err(e, "trace"))
        })
    })?;
    if let Err(resp) = started {
        return send(conn, &resp);
    }
    let _stop = Stop {
        stack,
        capture: None,
    };
    let (mono_us, unix_us) = clock(stack);
    send(conn, &Response::TraceStarted { mono_us, unix_us })?;
    let mut last = std::time::Instant::now();
    let mut recs: Vec<TraceRecord> = Vec::new();
    loop {
        std::thread::sleep(DRAIN_EVERY);
        if client_gone(conn) {
            return Ok(());
        }
        // Only the drain holds the stack's lock; the rendering happens after.
        recs.clear();
        let (names, lost) = stack.call(|s, _| {
            s.trace_drain(&mut recs);
            let names = if recs.is_empty() {
                Vec::new()
            } else {
                s.dev.ifnames()
            };
            (names, s.tracer().lost())
        })?;
        let name_of = |i: u32| names.iter().find(|n| n.0 == i).map(|n| n.1.as_str());
        let lines: Vec<TraceLine> = recs.iter().map(|r| TraceLine::new(r, name_of)).collect();
        if lines.is_empty() && last.elapsed() < HEARTBEAT {
            continue;
        }
        last = std::time::Instant::now();
        for chunk in lines.chunks(2048) {
            send(
                conn,
                &Response::Traced {
                    records: chunk.to_vec(),
                    lost,
                },
            )?;
        }
        if lines.is_empty() {
            send(
                conn,
                &Response::Traced {
                    records: Vec::new(),
                    lost,
                },
            )?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::Stack;
    use crate::time::Instant;

    #[test]
    fn streaming_requests_travel_as_json_and_are_not_one_shot() {
        let req = Request::CaptureStart {
            dev: Some("tap0".into()),
            filter: "tcp port 80".into(),
            snaplen: None,
        };
        let line = serde_json::to_string(&Envelope {
            version: VERSION,
            body: req.clone(),
        })
        .unwrap();
        assert!(line.contains("\"op\":\"capture_start\""), "{line}");
        let back: Envelope<Request> = serde_json::from_str(&line).unwrap();
        assert_eq!(back.body, req);
        assert!(is_stream(&req));
        assert!(is_stream(&Request::TraceStart {
            filter: String::new()
        }));
        assert!(!is_stream(&Request::Snmp));
        // Through the one-shot path they are refused, and nothing starts.
        let mut s = Stack::default();
        let r = super::super::handle(&mut s, req, Instant::ZERO);
        assert!(matches!(r, Response::Error { .. }), "{r:?}");
        assert!(!s.capturing() && !s.tracer().on());
    }

    #[test]
    fn batches_round_trip() {
        let r = Response::Traced {
            records: vec![TraceLine {
                id: 3,
                ts_us: 10,
                stage: crate::trace::Stage::KfreeSkb,
                text: "kfree_skb_reason: NO_SOCKET".into(),
                drop: Some(crate::stats::DropReason::NoSocket),
            }],
            lost: 2,
        };
        let s = serde_json::to_string(&r).unwrap();
        assert!(s.contains("\"drop\":\"NO_SOCKET\""), "{s}");
        assert_eq!(serde_json::from_str::<Response>(&s).unwrap(), r);
    }
}
