//! `linnet capture` and `linnet trace`: stream frames or per-packet stage records from the
//! daemon, the way `tcpdump` reads an `AF_PACKET` socket and `perf trace` reads a ring.
//!
//! ```text
//! linnet capture [-i DEV|any] [-w FILE] [-c COUNT] [-s SNAPLEN] [FILTER...]
//! linnet trace [-c COUNT] [-j] [FILTER...]
//! ```

use crate::{call, Failure};
use linnet::trace::pcapng::PcapngWriter;
use linnet::trace::{Direction, Filter, TraceLine};
use linnet::Client;
use linnet::{Request, Response};
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Ctrl-C and SIGTERM end the stream cleanly (the file is complete, the counts printed).
fn catch_signals() {
    let handler = on_signal as extern "C" fn(libc::c_int);
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, handler as libc::sighandler_t);
        libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
    }
}

fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Options of `linnet capture`.
#[derive(Debug, Default, PartialEq)]
pub struct CaptureOpts {
    dev: Option<String>,
    write: Option<String>,
    count: Option<u64>,
    snaplen: Option<usize>,
    filter: String,
}

fn value<'a>(words: &'a [String], i: usize, opt: &str) -> Result<&'a str, Failure> {
    words
        .get(i + 1)
        .map(String::as_str)
        .ok_or_else(|| Failure(format!("option {opt} needs a value"), 2))
}

fn number<T: std::str::FromStr>(v: &str, opt: &str) -> Result<T, Failure> {
    v.parse()
        .map_err(|_| Failure(format!("invalid {opt} value \"{v}\""), 2))
}

/// Parse `capture`'s words. The filter is checked here, so a bad word is named before
/// anything is started.
pub fn parse_capture(words: &[String]) -> Result<CaptureOpts, Failure> {
    let mut o = CaptureOpts::default();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "-i" => {
                o.dev = Some(value(words, i, "-i")?.to_string());
                i += 1;
            }
            "-w" => {
                o.write = Some(value(words, i, "-w")?.to_string());
                i += 1;
            }
            "-c" => {
                o.count = Some(number(value(words, i, "-c")?, "-c")?);
                i += 1;
            }
            "-s" => {
                o.snaplen = Some(number(value(words, i, "-s")?, "-s")?);
                i += 1;
            }
            w if w.starts_with('-') && w.len() > 1 && rest.is_empty() => {
                return Err(Failure(format!("capture: unknown option \"{w}\""), 2))
            }
            w => rest.push(w.to_string()),
        }
        i += 1;
    }
    let f = Filter::parse_words(&rest).map_err(|e| Failure(e.to_string(), 2))?;
    o.filter = f.text().to_string();
    Ok(o)
}

/// Options of `linnet trace`.
#[derive(Debug, Default, PartialEq)]
pub struct TraceOpts {
    count: Option<u64>,
    json: bool,
    filter: String,
}

/// Parse `trace`'s words.
pub fn parse_trace(words: &[String]) -> Result<TraceOpts, Failure> {
    let mut o = TraceOpts::default();
    let mut rest = Vec::new();
    let mut i = 0;
    while i < words.len() {
        match words[i].as_str() {
            "-c" => {
                o.count = Some(number(value(words, i, "-c")?, "-c")?);
                i += 1;
            }
            "-j" | "--json" => o.json = true,
            w if w.starts_with('-') && w.len() > 1 && rest.is_empty() => {
                return Err(Failure(format!("trace: unknown option \"{w}\""), 2))
            }
            w => rest.push(w.to_string()),
        }
        i += 1;
    }
    let f = Filter::parse_words(&rest).map_err(|e| Failure(e.to_string(), 2))?;
    o.filter = f.text().to_string();
    Ok(o)
}

/// `HH:MM:SS.uuuuuu` (UTC) of a Unix time in microseconds.
pub fn clock_time(unix_us: u64) -> String {
    let s = unix_us / 1_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:06}",
        (s / 3600) % 24,
        (s / 60) % 60,
        s % 60,
        unix_us % 1_000_000
    )
}

/// Run `linnet capture`.
pub fn run_capture(
    words: &[String],
    connect: impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let o = parse_capture(words)?;
    let mut client = connect()?;
    let started = call(
        &mut client,
        Request::CaptureStart {
            dev: o.dev.clone(),
            filter: o.filter.clone(),
            snaplen: o.snaplen,
        },
    )?;
    let Response::CaptureStarted {
        interfaces,
        snaplen,
        mono_us,
        unix_us,
    } = started
    else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    catch_signals();
    let to_unix = |ts: u64| unix_us.saturating_add(ts).saturating_sub(mono_us);
    let names: HashMap<u32, String> = interfaces.iter().cloned().collect();
    let mut pcap = match &o.write {
        Some(path) => {
            let file =
                std::fs::File::create(path).map_err(|e| Failure(format!("{path}: {e}"), 1))?;
            let mut w = PcapngWriter::new(std::io::BufWriter::new(file), "linnet capture")?;
            let mut ids = HashMap::new();
            for (ifindex, name) in &interfaces {
                ids.insert(*ifindex, w.interface(name, snaplen as u32)?);
            }
            Some((w, ids))
        }
        None => None,
    };
    let on = o.dev.as_deref().unwrap_or("any");
    eprintln!(
        "linnet capture: listening on {on}, link-type EN10MB (Ethernet), snapshot length {snaplen} bytes"
    );
    let mut got = 0u64;
    let mut dropped = 0u64;
    let mut line = String::new();
    let out = std::io::stdout();
    'stream: while !interrupted() && o.count.is_none_or(|c| got < c) {
        let resp = match client.recv() {
            Ok(r) => r,
            Err(e) if interrupted() => {
                let _ = e;
                break;
            }
            Err(e) => return Err(Failure(format!("capture: {e}"), 1)),
        };
        let frames = match resp {
            Response::Captured { frames, dropped: d } => {
                dropped = d;
                frames
            }
            Response::Error { message, .. } => return Err(Failure(message, 2)),
            _ => return Err(Failure("unexpected response from linnetd".into(), 1)),
        };
        for f in frames {
            if o.count.is_some_and(|c| got >= c) {
                break 'stream;
            }
            let Some(data) = f.bytes() else {
                return Err(Failure("linnetd sent a frame that is not hex".into(), 1));
            };
            got += 1;
            let ts = to_unix(f.ts_us);
            match &mut pcap {
                Some((w, ids)) => {
                    let Some(id) = ids.get(&f.ifindex) else {
                        continue;
                    };
                    w.packet(*id, ts, &data, f.orig_len as usize, f.dir)?;
                }
                None => {
                    line.clear();
                    let dev = names
                        .get(&f.ifindex)
                        .cloned()
                        .unwrap_or_else(|| format!("if{}", f.ifindex));
                    let dir = match f.dir {
                        Direction::In => "In ",
                        Direction::Out => "Out",
                    };
                    line.push_str(&format!("{} {dev} {dir} ", clock_time(ts)));
                    linnet::trace::summary::summarize(&data, &mut line);
                    let mut l = out.lock();
                    writeln!(l, "{line}")?;
                    l.flush()?;
                }
            }
        }
        if let Some((w, _)) = &mut pcap {
            w.flush()?;
        }
    }
    if let Some((w, _)) = &mut pcap {
        w.flush()?;
    }
    eprintln!("{got} packets captured");
    eprintln!("{dropped} packets dropped by kernel");
    Ok(0)
}

/// Print one batch of trace records: per packet, its stages joined by arrows, with the time
/// of the first and the offset of any later stage that happened at another time.
pub fn render_trace(records: &[TraceLine], to_unix: impl Fn(u64) -> u64) -> Vec<String> {
    let mut order: Vec<u32> = Vec::new();
    let mut by_id: HashMap<u32, Vec<&TraceLine>> = HashMap::new();
    for r in records {
        by_id
            .entry(r.id)
            .or_insert_with(|| {
                order.push(r.id);
                Vec::new()
            })
            .push(r);
    }
    order
        .iter()
        .map(|id| {
            let recs = &by_id[id];
            let t0 = recs[0].ts_us;
            let stages: Vec<String> = recs
                .iter()
                .map(|r| {
                    if r.ts_us != t0 {
                        // The stack thread may have read its clock just before the call
                        // that started the chain: offsets can be negative.
                        let d = r.ts_us as i64 - t0 as i64;
                        format!("{} ({d:+}us)", r.text)
                    } else {
                        r.text.clone()
                    }
                })
                .collect();
            format!("{} #{id} {}", clock_time(to_unix(t0)), stages.join(" → "))
        })
        .collect()
}

/// Run `linnet trace`.
pub fn run_trace(
    words: &[String],
    connect: impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let o = parse_trace(words)?;
    let mut client = connect()?;
    let Response::TraceStarted { mono_us, unix_us } = call(
        &mut client,
        Request::TraceStart {
            filter: o.filter.clone(),
        },
    )?
    else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    catch_signals();
    eprintln!(
        "linnet trace: following {}",
        if o.filter.is_empty() {
            "every packet"
        } else {
            o.filter.as_str()
        }
    );
    let to_unix = |ts: u64| unix_us.saturating_add(ts).saturating_sub(mono_us);
    let mut seen = std::collections::HashSet::new();
    let mut lost = 0;
    let out = std::io::stdout();
    while !interrupted() && o.count.is_none_or(|c| (seen.len() as u64) < c) {
        let resp = match client.recv() {
            Ok(r) => r,
            Err(_) if interrupted() => break,
            Err(e) => return Err(Failure(format!("trace: {e}"), 1)),
        };
        let records = match resp {
            Response::Traced { records, lost: l } => {
                lost = l;
                records
            }
            Response::Error { message, .. } => return Err(Failure(message, 2)),
            _ => return Err(Failure("unexpected response from linnetd".into(), 1)),
        };
        // With -c, whole packets only: those beyond the count are left out.
        let records: Vec<TraceLine> = records
            .into_iter()
            .filter(|r| {
                seen.contains(&r.id)
                    || o.count.is_none_or(|c| (seen.len() as u64) < c) && seen.insert(r.id)
            })
            .collect();
        let mut l = out.lock();
        if o.json {
            for r in &records {
                writeln!(l, "{}", serde_json::to_string(r)?)?;
            }
        } else {
            for line in render_trace(&records, to_unix) {
                writeln!(l, "{line}")?;
            }
        }
        l.flush()?;
    }
    eprintln!("{} packets traced", seen.len());
    eprintln!("{lost} records lost");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linnet::trace::Stage;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn options_and_filter_words() {
        let o = parse_capture(&w("-i tap0 -w /tmp/x.pcapng -c 10 tcp and port 80")).unwrap();
        assert_eq!(o.dev.as_deref(), Some("tap0"));
        assert_eq!(o.write.as_deref(), Some("/tmp/x.pcapng"));
        assert_eq!(o.count, Some(10));
        assert_eq!(o.filter, "tcp and port 80");
        let e = parse_capture(&w("-c ten")).unwrap_err();
        assert!(e.0.contains("\"ten\""), "{}", e.0);
        let e = parse_capture(&w("tcp and prot 80")).unwrap_err();
        assert!(e.0.contains("\"prot\""), "{}", e.0);
        let e = parse_capture(&w("-x")).unwrap_err();
        assert!(e.0.contains("\"-x\""), "{}", e.0);
        let t = parse_trace(&w("-c 2 -j port 7")).unwrap();
        assert_eq!(
            (t.count, t.json, t.filter.as_str()),
            (Some(2), true, "port 7")
        );
    }

    #[test]
    fn trace_lines_join_stages_per_packet() {
        let r = |id, ts, text: &str| TraceLine {
            id,
            ts_us: ts,
            stage: Stage::IpRcv,
            text: text.into(),
            drop: None,
        };
        let lines = render_trace(
            &[
                r(1, 5, "tap0 rx"),
                r(2, 5, "tcp_transmit_skb: ."),
                r(1, 5, "ip_rcv"),
                r(1, 25, "tap0 tx"),
            ],
            |t| 3_600_000_000 + t,
        );
        assert_eq!(
            lines,
            [
                "01:00:00.000005 #1 tap0 rx → ip_rcv → tap0 tx (+20us)",
                "01:00:00.000005 #2 tcp_transmit_skb: ."
            ]
        );
    }
}
