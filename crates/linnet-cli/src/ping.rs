//! `linnet ping`: iputils' ping, sent from the Linnet stack.

use crate::{call, Failure};
use linnet::control::ip6::{Ip6Request, Ip6Response};
use linnet::Client;
use linnet::{Request, Response};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

struct Opts {
    count: u32,
    interval: Duration,
    size: usize,
    ttl: Option<u8>,
    timeout: Duration,
    dst: IpAddr,
    /// The interface of a link-local IPv6 destination (`fe80::1%eth0`).
    scope: Option<String>,
}

/// One reply, of either family.
struct Reply {
    from: IpAddr,
    seq: u16,
    ttl: u8,
    bytes: usize,
    rtt: Option<Duration>,
    error: Option<(u8, u8)>,
}

/// A ping socket on the daemon: ICMP or ICMPv6.
enum Sock {
    V4(u16),
    V6(u16),
}

impl Sock {
    fn open(client: &mut Client, v6: bool) -> Result<Sock, Failure> {
        let bad = || Failure("unexpected response from linnetd".into(), 1);
        if v6 {
            match call(client, Request::Ip6(Ip6Request::PingOpen))? {
                Response::Ip6(Ip6Response::PingOpened { ident }) => Ok(Sock::V6(ident)),
                _ => Err(bad()),
            }
        } else {
            match call(client, Request::PingOpen)? {
                Response::PingOpened { ident } => Ok(Sock::V4(ident)),
                _ => Err(bad()),
            }
        }
    }

    fn send(&self, client: &mut Client, o: &Opts, seq: u16) -> Result<Response, Failure> {
        let req = match (self, o.dst) {
            (Sock::V4(ident), IpAddr::V4(dst)) => Request::PingSend {
                ident: *ident,
                dst,
                seq,
                size: o.size,
                ttl: o.ttl,
            },
            (Sock::V6(ident), IpAddr::V6(dst)) => Request::Ip6(Ip6Request::PingSend {
                ident: *ident,
                dst,
                dev: o.scope.clone(),
                seq,
                size: o.size,
                hop_limit: o.ttl,
            }),
            _ => return Err(Failure("ping: address family mismatch".into(), 2)),
        };
        call(client, req)
    }

    fn recv(&self, client: &mut Client) -> Result<Vec<Reply>, Failure> {
        let bad = || Failure("unexpected response from linnetd".into(), 1);
        Ok(match self {
            Sock::V4(ident) => match call(client, Request::PingRecv { ident: *ident })? {
                Response::PingReplies { replies } => replies
                    .into_iter()
                    .map(|r| Reply {
                        from: IpAddr::V4(r.from),
                        seq: r.seq,
                        ttl: r.ttl,
                        bytes: r.bytes,
                        rtt: r.rtt,
                        error: r.error,
                    })
                    .collect(),
                _ => return Err(bad()),
            },
            Sock::V6(ident) => {
                match call(client, Request::Ip6(Ip6Request::PingRecv { ident: *ident }))? {
                    Response::Ip6(Ip6Response::PingReplies { replies }) => replies
                        .into_iter()
                        .map(|r| Reply {
                            from: IpAddr::V6(r.from),
                            seq: r.seq,
                            ttl: r.hop_limit,
                            bytes: r.bytes,
                            rtt: r.rtt,
                            error: r.error,
                        })
                        .collect(),
                    _ => return Err(bad()),
                }
            }
        })
    }

    fn close(&self, client: &mut Client) {
        let _ = match self {
            Sock::V4(ident) => call(client, Request::PingClose { ident: *ident }),
            Sock::V6(ident) => call(
                client,
                Request::Ip6(Ip6Request::PingClose { ident: *ident }),
            ),
        };
    }
}

fn value<T: std::str::FromStr>(flag: &str, v: Option<&String>) -> Result<T, Failure> {
    let v =
        v.ok_or_else(|| Failure(format!("ping: option requires an argument -- '{flag}'"), 2))?;
    v.parse()
        .map_err(|_| Failure(format!("ping: invalid argument: '{v}'"), 2))
}

fn parse(words: &[String]) -> Result<Opts, Failure> {
    let mut count = 0u32;
    let mut interval = 1.0f64;
    let mut size = 56usize;
    let mut ttl = None;
    let mut timeout = 10.0f64;
    let mut dst = None;
    let mut scope = None;
    let mut family6 = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-c" => count = value("c", it.next())?,
            "-i" => interval = value("i", it.next())?,
            "-s" => size = value("s", it.next())?,
            "-t" => ttl = Some(value("t", it.next())?),
            "-W" => timeout = value("W", it.next())?,
            "-4" => family6 = Some(false),
            "-6" => family6 = Some(true),
            f if f.starts_with('-') => {
                return Err(Failure(format!("ping: invalid option -- '{}'", &f[1..]), 2))
            }
            host => {
                let (a, s) = match host.split_once('%') {
                    Some((a, s)) => (a, Some(s.to_string())),
                    None => (host, None),
                };
                dst =
                    Some(a.parse::<IpAddr>().map_err(|_| {
                        Failure(format!("ping: {host}: Name or service not known"), 2)
                    })?);
                scope = s;
            }
        }
    }
    if !(0.002..=3600.0).contains(&interval) {
        return Err(Failure(format!("ping: invalid interval: {interval}"), 2));
    }
    if !(0.0..=3600.0).contains(&timeout) {
        return Err(Failure(format!("ping: invalid timeout: {timeout}"), 2));
    }
    if size > 65507 - 8 {
        return Err(Failure(format!("ping: invalid packet size: {size}"), 2));
    }
    let dst =
        dst.ok_or_else(|| Failure("ping: usage error: Destination address required".into(), 2))?;
    if family6.is_some_and(|v6| v6 != dst.is_ipv6()) {
        return Err(Failure(
            format!("ping: {dst}: Address family for hostname not supported"),
            2,
        ));
    }
    Ok(Opts {
        scope,
        count,
        interval: Duration::from_secs_f64(interval),
        size,
        ttl,
        timeout: Duration::from_secs_f64(timeout),
        dst,
    })
}

fn error_text(v6: bool, t: u8, code: u8) -> String {
    if v6 {
        return match (t, code) {
            (1, 0) => "Destination unreachable: No route".into(),
            (1, 1) => "Destination unreachable: Administratively prohibited".into(),
            (1, 2) => "Destination unreachable: Beyond scope".into(),
            (1, 3) => "Destination unreachable: Address unreachable".into(),
            (1, 4) => "Destination unreachable: Port unreachable".into(),
            (2, _) => "Packet too big".into(),
            (3, 0) => "Time exceeded: Hop limit".into(),
            (4, c) => format!("Parameter problem: code {c}"),
            (t, c) => format!("ICMPv6 type {t} code {c}"),
        };
    }
    match (t, code) {
        (3, 0) => "Destination Net Unreachable".into(),
        (3, 1) => "Destination Host Unreachable".into(),
        (3, 2) => "Destination Protocol Unreachable".into(),
        (3, 3) => "Destination Port Unreachable".into(),
        (3, 4) => "Frag needed and DF set".into(),
        (3, 13) => "Packet filtered".into(),
        (11, 0) => "Time to live exceeded".into(),
        (11, 1) => "Frag reassembly time exceeded".into(),
        (t, c) => format!("ICMP type {t} code {c}"),
    }
}

/// Run `ping` with the words after it. Exit status as iputils: 0 if any reply, 1 if none.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let o = parse(words)?;
    let mut client = connect()?;
    let v6 = o.dst.is_ipv6();
    let sock = Sock::open(&mut client, v6)?;
    if v6 {
        println!("PING {0} ({0}) {1} data bytes", o.dst, o.size);
    } else {
        println!(
            "PING {0} ({0}) {1}({2}) bytes of data.",
            o.dst,
            o.size,
            o.size + 28
        );
    }
    let start = Instant::now();
    let mut sent = 0u32;
    let mut received = 0u32;
    let mut errors = 0u32;
    let mut rtts: Vec<f64> = Vec::new();
    let mut seen: BTreeMap<u16, ()> = BTreeMap::new();
    let mut next_send = start;
    let mut last_send = start;
    loop {
        let now = Instant::now();
        let more = o.count == 0 || sent < o.count;
        if more && now >= next_send {
            sent += 1;
            if let Err(Failure(msg, _)) = sock.send(&mut client, &o, sent as u16) {
                println!("ping: sendmsg: {msg}");
                errors += 1;
            }
            last_send = now;
            next_send += o.interval;
        }
        for r in sock.recv(&mut client)? {
            match r.error {
                Some((t, c)) => {
                    errors += 1;
                    println!(
                        "From {} icmp_seq={} {}",
                        r.from,
                        r.seq,
                        error_text(v6, t, c)
                    );
                }
                None => {
                    let dup = seen.insert(r.seq, ()).is_some();
                    if !dup {
                        received += 1;
                    }
                    let ms = r.rtt.map(|d| d.as_secs_f64() * 1000.0);
                    if let Some(ms) = ms {
                        rtts.push(ms);
                    }
                    println!(
                        "{} bytes from {}: icmp_seq={} ttl={}{}{}",
                        r.bytes,
                        r.from,
                        r.seq,
                        r.ttl,
                        ms.map(|m| format!(" time={m:.3} ms")).unwrap_or_default(),
                        if dup { " (DUP!)" } else { "" }
                    );
                }
            }
        }
        let all_answered = received + errors >= sent;
        if !more && (all_answered || now.duration_since(last_send) >= o.timeout) {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    sock.close(&mut client);
    let elapsed = start.elapsed().as_millis();
    println!("\n--- {} ping statistics ---", o.dst);
    let loss = (100 * (sent - received.min(sent)))
        .checked_div(sent)
        .unwrap_or(0);
    let errs = if errors > 0 {
        format!(", +{errors} errors")
    } else {
        String::new()
    };
    println!("{sent} packets transmitted, {received} received{errs}, {loss}% packet loss, time {elapsed}ms");
    if !rtts.is_empty() {
        let n = rtts.len() as f64;
        let min = rtts.iter().cloned().fold(f64::INFINITY, f64::min);
        let max = rtts.iter().cloned().fold(0.0, f64::max);
        let avg = rtts.iter().sum::<f64>() / n;
        let mdev = (rtts.iter().map(|r| (r - avg) * (r - avg)).sum::<f64>() / n).sqrt();
        println!("rtt min/avg/max/mdev = {min:.3}/{avg:.3}/{max:.3}/{mdev:.3} ms");
    }
    Ok(if received > 0 { 0 } else { 1 })
}
