//! tc's output and errors, line for line, over a script of commands (every kind, its options
//! good and bad, classes, filters, deletes; `RESET` starts a fresh stack): after each change
//! the whole tree as `tc -s qdisc|class|filter show` prints it. `tc_golden/expected.txt` is
//! what the stack printed when each kind still read its own words (before the options became
//! typed), except for commands with two faults, which now name the bad option first, as
//! iproute2 reads options before it looks up the device (`tc_qdisc_modify`).

use linnet::qdisc::tc::TcReply;
use linnet::EthernetAddress;
use linnet::Instant;
use linnet::Stack;
use linnet_tools::tc::format::{format_classes, format_filters, format_qdiscs};
use linnet_tools::tc::Tc;

fn stack() -> Stack {
    let mut s = Stack::default();
    s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
    s
}

/// Every list, with counters, as `tc -s ... show` prints it.
fn show_all(s: &mut Stack) -> String {
    let mut out = String::new();
    for obj in ["qdisc", "class", "filter"] {
        let w: Vec<String> = vec![obj.into(), "show".into()];
        match s.tc(&w, Instant::ZERO).expect("show") {
            TcReply::Qdiscs(q) => out += &format_qdiscs(&q, true),
            TcReply::Classes(c) => out += &format_classes(&c, true),
            TcReply::Filters(f) => out += &format_filters(&f),
            TcReply::Done => {}
        }
    }
    out
}

#[test]
fn output_and_errors_line_for_line() {
    let commands = include_str!("tc_golden/commands.txt");
    let mut out = String::new();
    let mut s = stack();
    for line in commands.lines() {
        if line.trim() == "RESET" {
            s = stack();
            continue;
        }
        let w: Vec<String> = line.split_whitespace().map(String::from).collect();
        out += &format!("$ tc {line}\n");
        match s.tc(&w, Instant::ZERO) {
            Err(e) => out += &format!("ERR {e}\n"),
            Ok(TcReply::Done) => out += &show_all(&mut s),
            Ok(TcReply::Qdiscs(q)) => out += &format_qdiscs(&q, false),
            Ok(TcReply::Classes(c)) => out += &format_classes(&c, false),
            Ok(TcReply::Filters(f)) => out += &format_filters(&f),
        }
    }
    let expected = include_str!("tc_golden/expected.txt");
    for (n, (got, want)) in out.lines().zip(expected.lines()).enumerate() {
        assert_eq!(got, want, "line {}", n + 1);
    }
    assert_eq!(out.lines().count(), expected.lines().count());
}
