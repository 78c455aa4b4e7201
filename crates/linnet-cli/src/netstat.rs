//! `linnet netstat`: protocol counters (`-s`) and the connections table (`-tuanl`), in
//! net-tools' layout.

use crate::{call, Failure};
use linnet::socket::SocketInfo;
use linnet::Client;
use linnet::{Request, Response};

/// What `netstat` was asked for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Opts {
    stats: bool,
    json: bool,
    tcp: bool,
    udp: bool,
    all: bool,
    listening: bool,
}

/// Parse net-tools' options: `-s [-j]` for counters, `-t -u -a -l -n` (combinable, `-tan`) for
/// connections.
fn parse(words: &[String]) -> Result<Opts, Failure> {
    let mut o = Opts::default();
    for w in words {
        let letters: Vec<char> = match w.as_str() {
            "--statistics" => vec!['s'],
            "--json" => vec!['j'],
            "--tcp" => vec!['t'],
            "--udp" => vec!['u'],
            "--all" => vec!['a'],
            "--listening" => vec!['l'],
            "--numeric" => vec!['n'],
            _ if w.starts_with('-') && !w.starts_with("--") && w.len() > 1 => {
                w.chars().skip(1).collect()
            }
            other => {
                return Err(Failure(
                    format!(
                        "netstat: invalid option -- '{}'",
                        other.trim_start_matches('-')
                    ),
                    2,
                ))
            }
        };
        for c in letters {
            match c {
                's' => o.stats = true,
                'j' => o.json = true,
                't' => o.tcp = true,
                'u' => o.udp = true,
                'a' => o.all = true,
                'l' => o.listening = true,
                // Linnet never resolves names: numeric is the only output.
                'n' => {}
                other => return Err(Failure(format!("netstat: invalid option -- '{other}'"), 2)),
            }
        }
    }
    if !o.tcp && !o.udp {
        o.tcp = true;
        o.udp = true;
    }
    Ok(o)
}

/// A TCP state as net-tools names it (`tcp_state[]` in netstat.c).
fn state_name(ss: &str) -> &str {
    match ss {
        "ESTAB" => "ESTABLISHED",
        "SYN-SENT" => "SYN_SENT",
        "SYN-RECV" => "SYN_RECV",
        "FIN-WAIT-1" => "FIN_WAIT1",
        "FIN-WAIT-2" => "FIN_WAIT2",
        "TIME-WAIT" => "TIME_WAIT",
        "UNCONN" => "CLOSE",
        "CLOSE-WAIT" => "CLOSE_WAIT",
        "LAST-ACK" => "LAST_ACK",
        other => other,
    }
}

/// `netstat -tuanl`: the Internet connections table, in net-tools' layout (`tcp_do_one`).
fn connections(o: &Opts, sockets: &[SocketInfo]) -> String {
    let which = if o.all {
        "servers and established"
    } else if o.listening {
        "only servers"
    } else {
        "w/o servers"
    };
    let mut out = format!(
        "Active Internet connections ({which})\n{:<5} {:>6} {:>6} {:<23} {:<23} {:<11}\n",
        "Proto", "Recv-Q", "Send-Q", "Local Address", "Foreign Address", "State"
    );
    for s in sockets {
        let tcp = s.proto == "tcp";
        if (tcp && !o.tcp) || (!tcp && !o.udp) {
            continue;
        }
        let listening = s.state == "LISTEN" || s.state == "UNCONN";
        if !o.all && (listening != o.listening) {
            continue;
        }
        // netstat prints IPv6 without brackets: `2001:db8::2:80`, `:::*`.
        let addr = |a: &std::net::SocketAddr| {
            if a.port() == 0 {
                format!("{}:*", a.ip())
            } else {
                format!("{}:{}", a.ip(), a.port())
            }
        };
        let state = match (tcp, s.state.as_str()) {
            (true, st) => state_name(st),
            (false, "ESTAB") => "ESTABLISHED",
            (false, _) => "",
        };
        // /proc/net/tcp: a listener's tx_queue is 0 (its backlog is not a send queue).
        let send_q = if s.state == "LISTEN" { 0 } else { s.send_q };
        out.push_str(&format!(
            "{:<5} {:>6} {:>6} {:<23} {:<23} {:<11}\n",
            s.proto,
            s.recv_q,
            send_q,
            addr(&s.local),
            addr(&s.remote),
            state
        ));
    }
    out
}

/// Run `netstat` with the words after it: `-s [-j]` (counters) or the connections table.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let o = parse(words)?;
    let json = o.json;
    if !o.stats {
        let Response::Sockets { sockets } = call(&mut connect()?, Request::Sockets)? else {
            return Err(Failure("unexpected response from linnetd".into(), 1));
        };
        print!("{}", connections(&o, &sockets));
        return Ok(0);
    }
    let Response::Snmp { snmp } = call(&mut connect()?, Request::Snmp)? else {
        return Err(Failure("unexpected response from linnetd".into(), 1));
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&snmp)?);
        return Ok(0);
    }
    let ip = &snmp.ip;
    println!("Ip:");
    println!("    Forwarding: {}", ip.forwarding);
    println!("    {} total packets received", ip.in_receives);
    println!("    {} with invalid headers", ip.in_hdr_errors);
    println!("    {} with invalid addresses", ip.in_addr_errors);
    println!("    {} forwarded", ip.forw_datagrams);
    println!("    {} with unknown protocol", ip.in_unknown_protos);
    println!("    {} incoming packets discarded", ip.in_discards);
    println!("    {} incoming packets delivered", ip.in_delivers);
    println!("    {} requests sent out", ip.out_requests);
    println!("    {} outgoing packets dropped", ip.out_discards);
    println!("    {} dropped because of missing route", ip.out_no_routes);
    println!("    {} fragments dropped after timeout", ip.reasm_timeout);
    println!("    {} reassemblies required", ip.reasm_reqds);
    println!("    {} packets reassembled ok", ip.reasm_oks);
    println!("    {} packet reassembles failed", ip.reasm_fails);
    println!("    {} fragments received ok", ip.frag_oks);
    println!("    {} fragments failed", ip.frag_fails);
    println!("    {} fragments created", ip.frag_creates);
    println!("IpExt:");
    println!("    InNoRoutes: {}", ip.in_no_routes);
    println!("    InNoECTPkts: {}", ip.in_noect_pkts);
    if ip.in_ect1_pkts > 0 {
        println!("    InECT1Pkts: {}", ip.in_ect1_pkts);
    }
    if ip.in_ect0_pkts > 0 {
        println!("    InECT0Pkts: {}", ip.in_ect0_pkts);
    }
    if ip.in_ce_pkts > 0 {
        println!("    InCEPkts: {}", ip.in_ce_pkts);
    }
    let ic = &snmp.icmp;
    println!("Icmp:");
    println!("    {} ICMP messages received", ic.in_msgs);
    println!("    {} input ICMP message failed", ic.in_errors);
    println!("    InCsumErrors: {}", ic.in_csum_errors);
    println!("    ICMP input histogram:");
    for (n, what) in [
        (ic.in_dest_unreachs, "destination unreachable"),
        (ic.in_time_excds, "timeout in transit"),
        (ic.in_echos, "echo requests"),
        (ic.in_echo_reps, "echo replies"),
    ] {
        if n > 0 {
            println!("        {what}: {n}");
        }
    }
    println!("    {} ICMP messages sent", ic.out_msgs);
    println!("    {} ICMP messages failed", ic.out_errors);
    println!(
        "    {} ICMP messages rate limited",
        ic.out_rate_limit_global
    );
    println!("    ICMP output histogram:");
    for (n, what) in [
        (ic.out_dest_unreachs, "destination unreachable"),
        (ic.out_time_excds, "time exceeded"),
        (ic.out_echos, "echo requests"),
        (ic.out_echo_reps, "echo replies"),
    ] {
        if n > 0 {
            println!("        {what}: {n}");
        }
    }
    crate::netstat_tcp::print_tcp(&snmp.tcp);
    let u = &snmp.udp;
    println!("Udp:");
    println!("    {} packets received", u.in_datagrams);
    println!("    {} packets to unknown port received", u.no_ports);
    println!("    {} packet receive errors", u.in_errors);
    println!("    {} packets sent", u.out_datagrams);
    println!("    InCsumErrors: {}", u.in_csum_errors);
    let a = &snmp.arp;
    println!("Arp:");
    println!("    {} packets received", a.rx);
    println!("    {} requests sent", a.requests_sent);
    println!("    {} replies sent", a.replies_sent);
    println!("    {} resolutions failed", a.res_failed);
    println!(
        "    {} packets dropped awaiting resolution",
        a.unresolved_discards
    );
    let c = &snmp.core;
    println!("Core:");
    println!("    {} received frames dropped (rx_dropped)", c.rx_dropped);
    println!(
        "    {} transmitted packets dropped (tx_dropped)",
        c.tx_dropped
    );
    println!(
        "    {} frames of unhandled protocols (rx_nohandler)",
        c.rx_nohandler
    );
    println!(
        "    {} frames for other hosts (rx_otherhost_dropped)",
        c.rx_otherhost_dropped
    );
    println!("    {} dropped by queueing disciplines", c.qdisc_drops);
    println!("    {} dropped by netfilter rules", c.nf_drops);
    println!("    {} dropped by conntrack", c.ct_drops);
    println!("    {} martian packets", c.martians);
    if !snmp.drops.is_empty() {
        println!("Drops:");
        for (reason, n) in &snmp.drops {
            let name = serde_json::to_value(reason)?;
            println!("    {}: {n}", name.as_str().unwrap_or("?"));
        }
    }
    // The IPv6 groups, as /proc/net/snmp6 names them (net-tools prints them so for `-6`).
    println!("Ip6:");
    for (name, v) in snmp.ip6.lines() {
        println!("    {name}: {v}");
    }
    println!("Icmp6:");
    for (name, v) in snmp.icmp6.lines() {
        println!("    {name}: {v}");
    }
    println!("Udp6:");
    for (name, v) in snmp.udp6.lines6() {
        println!("    {name}: {v}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn sock(proto: &str, state: &str, local: &str, remote: &str, q: (u64, u64)) -> SocketInfo {
        serde_json::from_value(serde_json::json!({
            "id": {"idx": 0, "gen": 0}, "proto": proto, "state": state,
            "recv_q": q.0, "send_q": q.1, "local": local, "remote": remote, "tcp": null,
        }))
        .expect("a SocketInfo")
    }

    #[test]
    fn tan_lists_listeners_and_connections_in_net_tools_layout() {
        let o = parse(&w("-tan")).unwrap();
        assert!(o.tcp && !o.udp && o.all && !o.stats);
        let socks = [
            sock("tcp", "LISTEN", "0.0.0.0:7", "0.0.0.0:0", (0, 128)),
            sock("tcp", "ESTAB", "192.0.2.2:7", "192.0.2.1:40000", (5, 10)),
            sock("udp", "UNCONN", "0.0.0.0:53", "0.0.0.0:0", (0, 0)),
        ];
        let out = connections(&o, &socks);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Active Internet connections (servers and established)"
        );
        assert_eq!(
            lines[1].trim_end(),
            "Proto Recv-Q Send-Q Local Address           Foreign Address         State"
        );
        assert_eq!(
            lines[2].trim_end(),
            "tcp        0      0 0.0.0.0:7               0.0.0.0:*               LISTEN"
        );
        assert_eq!(
            lines[3].trim_end(),
            "tcp        5     10 192.0.2.2:7             192.0.2.1:40000         ESTABLISHED"
        );
        assert_eq!(lines.len(), 4, "no UDP socket under -t: {out}");
        // Without -a: connections only; with -l: listeners only.
        let est = connections(&parse(&w("-tn")).unwrap(), &socks);
        assert!(
            est.contains("ESTABLISHED") && !est.contains("LISTEN"),
            "{est}"
        );
        let lis = connections(&parse(&w("-lnu")).unwrap(), &socks);
        assert!(lis.contains("0.0.0.0:53") && !lis.contains("tcp "), "{lis}");
        assert!(parse(&w("-x")).is_err());
    }
}
