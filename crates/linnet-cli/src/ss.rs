//! `linnet ss`: sockets, as iproute2's `ss` lists them (`-t -u -a -l -n -i -j`, combinable as
//! in `ss -tan`).

use crate::{call, Failure};
use linnet::socket::SocketInfo;
use linnet::Client;
use linnet::{Request, Response};
use std::net::SocketAddr;

/// What to list.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Opts {
    tcp: bool,
    udp: bool,
    all: bool,
    listening: bool,
    info: bool,
    json: bool,
}

/// Parse `ss`'s options; a word it does not know is named in the error.
pub fn parse(words: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts::default();
    for w in words {
        let long = match w.as_str() {
            "--tcp" => Some('t'),
            "--udp" => Some('u'),
            "--all" => Some('a'),
            "--listening" => Some('l'),
            "--numeric" => Some('n'),
            "--info" => Some('i'),
            "--json" => Some('j'),
            _ => None,
        };
        let letters: Vec<char> = match long {
            Some(c) => vec![c],
            None if w.starts_with('-') && !w.starts_with("--") && w.len() > 1 => {
                w.chars().skip(1).collect()
            }
            None => {
                return Err(Failure(
                    format!("ss: unknown argument \"{w}\" (filters are not supported)"),
                    255,
                ))
            }
        };
        for c in letters {
            match c {
                't' => o.tcp = true,
                'u' => o.udp = true,
                'a' => o.all = true,
                'l' => o.listening = true,
                // Linnet never resolves names: numeric is the only output.
                'n' => {}
                'i' => o.info = true,
                'j' => o.json = true,
                other => {
                    return Err(Failure(
                        format!("ss: invalid option -- '{other}' in \"{w}\""),
                        255,
                    ))
                }
            }
        }
    }
    if !o.tcp && !o.udp {
        o.tcp = true;
        o.udp = true;
    }
    Ok(o)
}

/// Is this socket "listening" the way ss counts it (LISTEN, or unconnected UDP)?
fn is_listening(s: &SocketInfo) -> bool {
    s.state == "LISTEN" || s.state == "UNCONN"
}

/// The sockets `opts` selects, in the daemon's order.
pub fn select(opts: &Opts, sockets: Vec<SocketInfo>) -> Vec<SocketInfo> {
    sockets
        .into_iter()
        .filter(|s| (s.proto == "tcp" && opts.tcp) || (s.proto == "udp" && opts.udp))
        .filter(|s| {
            if opts.all {
                true
            } else if opts.listening {
                is_listening(s)
            } else {
                !is_listening(s)
            }
        })
        .collect()
}

/// An address as iproute2's ss prints it (`inet_addr_print`): `192.0.2.2:80`,
/// `[2001:db8::2]:80`, a missing port as `*` (`0.0.0.0:*`), and the IPv6 wildcard of a
/// socket that also serves IPv4 (no `IPV6_V6ONLY`) as `*` (`*:7`, `*:*`); with
/// `IPV6_V6ONLY` it stays `[::]`.
fn addr_port(a: &SocketAddr, v6only: bool) -> String {
    let host = match a {
        SocketAddr::V4(v) => v.ip().to_string(),
        SocketAddr::V6(v) if v.ip().is_unspecified() && !v6only => "*".to_string(),
        SocketAddr::V6(v) => format!("[{}]", v.ip()),
    };
    match a.port() {
        0 => format!("{host}:*"),
        p => format!("{host}:{p}"),
    }
}

fn peer(a: &SocketAddr, v6only: bool) -> String {
    addr_port(a, v6only)
}

fn local(a: &SocketAddr, v6only: bool) -> String {
    addr_port(a, v6only)
}

/// A rate in bits per second as ss prints it (`sprint_bw`: `12.3Mbps`).
pub fn bw(bps: f64) -> String {
    if bps > 1e9 {
        format!("{:.1}Gbps", bps / 1e9)
    } else if bps > 1e6 {
        format!("{:.1}Mbps", bps / 1e6)
    } else if bps > 1e3 {
        format!("{:.1}Kbps", bps / 1e3)
    } else {
        format!("{bps:.0}bps")
    }
}

/// The table, as ss prints it.
pub fn render(opts: &Opts, sockets: &[SocketInfo]) -> String {
    let show_netid = opts.tcp && opts.udp;
    let mut out = String::new();
    if show_netid {
        out.push_str("Netid ");
    }
    out.push_str(&format!(
        "{:<10} {:>6} {:>6} {:>24} {:<24}\n",
        "State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"
    ));
    for s in sockets {
        if show_netid {
            out.push_str(&format!("{:<5} ", s.proto));
        }
        out.push_str(&format!(
            "{:<10} {:>6} {:>6} {:>24} {:<24}\n",
            s.state,
            s.recv_q,
            s.send_q,
            local(&s.local, s.v6only),
            peer(&s.remote, s.v6only)
        ));
        if let (true, Some(t)) = (opts.info, &s.tcp) {
            let ms = |us: u64| us as f64 / 1000.0;
            let ssthresh = if t.ssthresh == u32::MAX {
                String::new()
            } else {
                format!(" ssthresh:{}", t.ssthresh / t.mss.max(1))
            };
            let mut line = format!(
                "\t {}{}{}{}{} wscale:{},{} rto:{} rtt:{}/{} mss:{} cwnd:{}{ssthresh} bytes_sent:{} bytes_acked:{} bytes_received:{} retrans:{}/{} rcv_space:{} snd_wnd:{}",
                if t.ts { "ts " } else { "" },
                if t.sack { "sack " } else { "" },
                if t.ecn { "ecn " } else { "" },
                if t.ecn_seen { "ecnseen " } else { "" },
                t.cc,
                t.wscale.1,
                t.wscale.0,
                ms(t.rto_us),
                ms(t.rtt_us),
                ms(t.rttvar_us),
                t.mss,
                t.cwnd / t.mss.max(1),
                t.bytes_sent,
                t.bytes_acked,
                t.bytes_received,
                t.retrans_out,
                t.retrans,
                t.rcv_wnd,
                t.snd_wnd,
            );
            // BBR's model (Linux: `bbr:(bw:...,mrtt:...,pacing_gain:...,cwnd_gain:...)`).
            if let Some(b) = &t.bbr {
                line.push_str(&format!(
                    " bbr:(bw:{},mrtt:{}",
                    bw(b.bw as f64 * 8.0),
                    b.min_rtt_us as f64 / 1000.0
                ));
                if b.pacing_gain > 0 {
                    line.push_str(&format!(",pacing_gain:{}", b.pacing_gain as f64 / 256.0));
                }
                if b.cwnd_gain > 0 {
                    line.push_str(&format!(",cwnd_gain:{}", b.cwnd_gain as f64 / 256.0));
                }
                line.push(')');
            }
            // ss's "send": what the window allows per RTT (cwnd * 8 / srtt).
            if t.rtt_us > 0 {
                let send = t.cwnd as f64 * 8.0 * 1e6 / t.rtt_us as f64;
                line.push_str(&format!(" send {}", bw(send)));
            }
            if t.pacing_rate > 0 {
                line.push_str(&format!(" pacing_rate {}", bw(t.pacing_rate as f64 * 8.0)));
            }
            if t.delivery_rate > 0 {
                line.push_str(&format!(
                    " delivery_rate {}",
                    bw(t.delivery_rate as f64 * 8.0)
                ));
            }
            // ss prints these only when they say something (reordering: when not the
            // default 3).
            for (n, name) in [
                (t.lost, "lost"),
                (t.sacked, "sacked"),
                (t.dsack_dups, "dsack_dups"),
            ] {
                if n > 0 {
                    line.push_str(&format!(" {name}:{n}"));
                }
            }
            if t.reordering != 3 && t.reordering != 0 {
                line.push_str(&format!(" reordering:{}", t.reordering));
            }
            if t.reord_seen > 0 {
                line.push_str(&format!(" reord_seen:{}", t.reord_seen));
            }
            line.push('\n');
            out.push_str(&line);
        }
    }
    out
}

/// Run `ss` with the words after it.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let opts = parse(words)?;
    let Response::Sockets { sockets } = call(&mut connect()?, Request::Sockets)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    let chosen = select(&opts, sockets);
    if opts.json {
        let v = chosen
            .iter()
            .map(|s| crate::json::socket(s, opts.info))
            .collect();
        crate::json::print(&serde_json::Value::Array(v), true)?;
    } else {
        print!("{}", render(&opts, &chosen));
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use linnet::SockId;
    use std::net::Ipv4Addr;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn sock(proto: &str, state: &str, port: u16) -> SocketInfo {
        SocketInfo {
            id: serde_json::from_str::<SockId>(r#"{"idx":0,"gen":0}"#).unwrap(),
            proto: proto.into(),
            state: state.into(),
            recv_q: 0,
            send_q: 0,
            local: std::net::SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), port).into(),
            remote: std::net::SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0).into(),
            tcp: None,
            v6only: false,
        }
    }

    #[test]
    fn ipv6_addresses_as_iproute2_prints_them() {
        let a = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(local(&a("[2001:db8::2]:80"), false), "[2001:db8::2]:80");
        // As Linux 6.18's ss prints a dual-stack listener and a V6ONLY one: `*:7 *:*` and
        // `[::]:8 [::]:*`.
        assert_eq!(local(&a("[::]:7"), false), "*:7");
        assert_eq!(peer(&a("[::]:0"), false), "*:*");
        assert_eq!(local(&a("[::]:8"), true), "[::]:8");
        assert_eq!(peer(&a("[::]:0"), true), "[::]:*");
        assert_eq!(
            peer(&a("[::ffff:192.0.2.1]:5000"), false),
            "[::ffff:192.0.2.1]:5000"
        );
        assert_eq!(peer(&a("0.0.0.0:0"), false), "0.0.0.0:*");
        assert_eq!(local(&a("0.0.0.0:7"), false), "0.0.0.0:7");
    }

    #[test]
    fn combined_letters_and_selection() {
        let o = parse(&w("-tan")).unwrap();
        assert!(o.tcp && o.all && !o.udp);
        let socks = vec![
            sock("tcp", "LISTEN", 80),
            sock("tcp", "ESTAB", 80),
            sock("udp", "UNCONN", 53),
            sock("tcp", "TIME-WAIT", 80),
        ];
        assert_eq!(select(&o, socks.clone()).len(), 3);
        let l = parse(&w("-l")).unwrap();
        let got: Vec<_> = select(&l, socks.clone())
            .into_iter()
            .map(|s| s.state)
            .collect();
        assert_eq!(got, ["LISTEN", "UNCONN"]);
        let d = parse(&[]).unwrap();
        let got: Vec<_> = select(&d, socks.clone())
            .into_iter()
            .map(|s| s.state)
            .collect();
        assert_eq!(got, ["ESTAB", "TIME-WAIT"]);
        let table = render(&o, &select(&o, socks));
        assert!(table.starts_with("State"), "{table}");
        assert!(
            table.contains("LISTEN") && table.contains("0.0.0.0:*"),
            "{table}"
        );
    }

    #[test]
    fn info_line_has_rates() {
        let mut s = sock("tcp", "ESTAB", 80);
        s.tcp = Some(
            serde_json::from_value(serde_json::json!({
                "state": "ESTAB", "rtt_us": 2000, "rttvar_us": 500, "rto_us": 202000,
                "cwnd": 14480, "ssthresh": 4294967295u32, "mss": 1448, "cc": "cubic",
                "retrans": 2, "bytes_sent": 100000, "bytes_acked": 90000,
                "bytes_received": 10, "send_q": 0, "recv_q": 0, "snd_wnd": 65535,
                "rcv_wnd": 65535, "wscale": [7, 7], "ts": true, "sack": true,
                "delivery_rate": 1250000
            }))
            .unwrap(),
        );
        let o = parse(&w("-ti")).unwrap();
        let mut s2 = s.clone();
        let out = render(&o, &[s]);
        assert!(
            out.contains(" rtt:2/0.5 mss:1448 cwnd:10 bytes_sent:100000"),
            "{out}"
        );
        assert!(out.contains("retrans:0/2"), "{out}");
        assert!(
            out.contains(" send 57.9Mbps delivery_rate 10.0Mbps"),
            "{out}"
        );
        assert!(!out.contains("ssthresh"), "{out}");
        assert!(
            !out.contains("lost")
                && !out.contains("reordering")
                && !out.contains("bbr")
                && !out.contains("pacing_rate"),
            "{out}"
        );
        // In recovery: what is lost, SACKed, the reordering seen.
        if let Some(t) = s2.tcp.as_mut() {
            (t.retrans_out, t.lost, t.sacked, t.dsack_dups) = (1, 2, 5, 1);
            (t.reordering, t.reord_seen) = (9, 4);
        }
        let out = render(&o, &[s2]);
        assert!(
            out.contains("retrans:1/2")
                && out.contains(" lost:2 sacked:5 dsack_dups:1 reordering:9 reord_seen:4"),
            "{out}"
        );
        // BBR: its model and the pacing rate, as Linux's ss prints them.
        let mut b = sock("tcp", "ESTAB", 80);
        b.tcp = Some(
            serde_json::from_value(serde_json::json!({
                "state": "ESTAB", "rtt_us": 40000, "rttvar_us": 500, "rto_us": 240000,
                "cwnd": 144800, "ssthresh": 4294967295u32, "mss": 1448, "cc": "bbr",
                "retrans": 0, "bytes_sent": 100000, "bytes_acked": 90000,
                "bytes_received": 10, "send_q": 0, "recv_q": 0, "snd_wnd": 65535,
                "rcv_wnd": 65535, "wscale": [7, 7], "ts": true, "sack": true, "ecn": true,
                "delivery_rate": 1250000, "pacing_rate": 1562500,
                "bbr": {"bw": 1200000, "min_rtt_us": 40012, "pacing_gain": 320, "cwnd_gain": 512}
            }))
            .unwrap(),
        );
        let out = render(&o, &[b]);
        assert!(out.contains("\t ts sack ecn bbr wscale:7,7"), "{out}");
        assert!(
            out.contains(" bbr:(bw:9.6Mbps,mrtt:40.012,pacing_gain:1.25,cwnd_gain:2) send 29.0Mbps pacing_rate 12.5Mbps delivery_rate 10.0Mbps"),
            "{out}"
        );
        assert_eq!(bw(999.0), "999bps");
        assert_eq!(bw(1.5e9), "1.5Gbps");
    }

    #[test]
    fn bad_words_are_named() {
        let e = parse(&w("-tz")).err().unwrap();
        assert!(e.0.contains("'z'"), "{}", e.0);
        let e = parse(&w("state")).err().unwrap();
        assert!(e.0.contains("\"state\""), "{}", e.0);
    }
}
