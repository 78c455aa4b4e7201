//! `linnet netstat -s`: protocol counters in net-tools' layout.

use crate::{call, Failure};
use linnet::control::client::Client;
use linnet::control::{Request, Response};

/// Run `netstat` with the words after it (only `-s` is known, optionally with `-j`).
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let mut json = false;
    let mut stats = false;
    for w in words {
        match w.as_str() {
            "-s" | "--statistics" => stats = true,
            "-j" | "--json" => json = true,
            other => {
                return Err(Failure(
                    format!(
                        "netstat: invalid option -- '{}'",
                        other.trim_start_matches('-')
                    ),
                    2,
                ))
            }
        }
    }
    if !stats {
        return Err(Failure("usage: linnet netstat -s [-j]".into(), 2));
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
    Ok(0)
}
