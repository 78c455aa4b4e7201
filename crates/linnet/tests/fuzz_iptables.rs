//! Random iptables command lines (from iptables's own vocabulary, so they reach deep into
//! the parser): never a panic, a failing command changes nothing, and every rule that was
//! accepted prints (`-S`) as a command line that parses back to the same rule.

use linnet::{Instant, Stack};
use linnet_tools::iptables::Iptables;
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "-A",
    "-I",
    "-D",
    "-R",
    "-C",
    "-E",
    "web2",
    "-L",
    "-S",
    "-F",
    "-Z",
    "-N",
    "-X",
    "-P",
    "-t",
    "nat",
    "filter",
    "INPUT",
    "FORWARD",
    "OUTPUT",
    "PREROUTING",
    "POSTROUTING",
    "web",
    "-s",
    "-d",
    "192.0.2.0/24",
    "198.51.100.7",
    "10.0.0.0/255.0.0.0",
    "0/0",
    "!",
    "-p",
    "tcp",
    "udp",
    "icmp",
    "all",
    "-i",
    "-o",
    "eth0",
    "eth+",
    "--sport",
    "--dport",
    "22",
    "1000:2000",
    ":80",
    "--syn",
    "--tcp-flags",
    "SYN,ACK",
    "SYN",
    "ALL",
    "NONE",
    "--icmp-type",
    "echo-request",
    "3/3",
    "-m",
    "conntrack",
    "state",
    "multiport",
    "limit",
    "comment",
    "--comment",
    "--ctstate",
    "--state",
    "NEW,ESTABLISHED",
    "RELATED",
    "INVALID",
    "--dports",
    "--sports",
    "--ports",
    "80,443",
    "--limit",
    "5/min",
    "--limit-burst",
    "10",
    "-j",
    "-g",
    "ACCEPT",
    "DROP",
    "RETURN",
    "REJECT",
    "LOG",
    "SNAT",
    "DNAT",
    "MASQUERADE",
    "REDIRECT",
    "--reject-with",
    "tcp-reset",
    "icmp-host-prohibited",
    "--log-prefix",
    "x: ",
    "--log-level",
    "6",
    "--to-source",
    "--to-destination",
    "198.51.100.1",
    "192.0.2.10:80",
    "--to-ports",
    "8080",
    "1024-2000",
    "-n",
    "-v",
    "-x",
    "--line-numbers",
    "1",
    "2",
    "0",
    "-nvL",
    "bogus",
    "--bogus",
    "",
];

fn line() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        prop_oneof![
            8 => prop::sample::select(WORDS).prop_map(String::from),
            1 => "\\PC{0,12}",
        ],
        0..14,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn random_command_lines(lines in prop::collection::vec(line(), 1..12)) {
        let mut s = Stack::default();
        // A user chain to jump to, in both tables.
        s.iptables(&["-N", "web"], Instant::ZERO).unwrap();
        s.iptables(&["-t", "nat", "-N", "web"], Instant::ZERO).unwrap();
        for argv in &lines {
            let before = s.iptables_save(None).unwrap();
            match s.iptables(argv, Instant::ZERO) {
                Ok(_) => {}
                Err(e) => {
                    prop_assert!(!e.message.is_empty());
                    prop_assert_eq!(&s.iptables_save(None).unwrap(), &before, "{:?} failed yet changed the tables", argv);
                }
            }
        }
        // Whatever was accepted reloads to the same tables.
        let saved = s.iptables_save(None).unwrap();
        let mut t = Stack::default();
        t.iptables_restore(&saved, false).map_err(|e| TestCaseError::fail(format!("{e}\n{saved}")))?;
        prop_assert_eq!(t.iptables_save(None).unwrap(), saved);
    }
}
