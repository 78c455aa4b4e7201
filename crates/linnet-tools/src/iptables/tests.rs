//! iptables as iptables(8) behaves: rules print back as saved, numbers, user chains, errors
//! worded as iptables words them, listings, save and restore.

use super::restore::split_words;
use super::*;
use linnet::netfilter::change::TableChange;

fn ok(s: &mut Stack, line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    s.iptables(&w, Instant::ZERO)
        .unwrap_or_else(|e| panic!("{line}: {e}"))
}

fn err(s: &mut Stack, line: &str) -> String {
    let w: Vec<&str> = line.split_whitespace().collect();
    let before = s.iptables_save(None).unwrap();
    let e = s.iptables(&w, Instant::ZERO).expect_err(line).message;
    assert_eq!(
        s.iptables_save(None).unwrap(),
        before,
        "{line} changed nothing"
    );
    e
}

#[test]
fn rules_print_back_as_iptables_save_writes_them() {
    let mut s = Stack::default();
    let lines = [
        "-A INPUT -s 192.0.2.0/24 -p tcp -m tcp --dport 22 -j ACCEPT",
        "-A INPUT ! -s 198.51.100.7/32 -i eth+ -p udp -m udp --sport 1000:2000 -j DROP",
        "-A INPUT -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j LOG --log-prefix \"new: \"",
        "-A INPUT -p icmp -m icmp --icmp-type 8 -j ACCEPT",
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A INPUT -m state --state INVALID -j DROP",
        "-A INPUT -p tcp -m multiport --dports 80,443,8000:8080 -j ACCEPT",
        "-A INPUT -m limit --limit 5/min --limit-burst 10 -j ACCEPT",
        "-A INPUT -p tcp -m tcp --dport 22 -m comment --comment \"ssh from anywhere\" -j ACCEPT",
        "-A INPUT -p tcp -j REJECT --reject-with tcp-reset",
        "-A FORWARD -o eth1 -j REJECT --reject-with icmp-port-unreachable",
    ];
    for l in lines {
        let words = split_words(l).unwrap();
        s.iptables(&words, Instant::ZERO)
            .unwrap_or_else(|e| panic!("{l}: {e}"));
    }
    let out = ok(&mut s, "-S");
    let mut expect = String::from("-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n");
    for l in lines {
        expect.push_str(l);
        expect.push('\n');
    }
    assert_eq!(out, expect);
    // --syn prints as the flags it stands for; -s without a mask gains /32.
    ok(&mut s, "-F");
    ok(&mut s, "-A INPUT -s 192.0.2.5 -p tcp --syn -j DROP");
    assert_eq!(
        ok(&mut s, "-S INPUT"),
        "-P INPUT ACCEPT\n-A INPUT -s 192.0.2.5/32 -p tcp -m tcp --tcp-flags FIN,SYN,RST,ACK SYN -j DROP\n"
    );
}

#[test]
fn insert_delete_replace_and_numbers() {
    let mut s = Stack::default();
    ok(&mut s, "-A INPUT -p tcp --dport 1 -j ACCEPT");
    ok(&mut s, "-A INPUT -p tcp --dport 3 -j ACCEPT");
    ok(&mut s, "-I INPUT 2 -p tcp --dport 2 -j ACCEPT");
    ok(&mut s, "-I INPUT -p tcp --dport 0 -j ACCEPT");
    let ports = |s: &mut Stack| -> Vec<u16> {
        s.netfilter().table(TableId::Filter).chains[0]
            .rules
            .iter()
            .map(|r| r.m.dport.unwrap().0.lo)
            .collect()
    };
    assert_eq!(ports(&mut s), [0, 1, 2, 3]);
    ok(&mut s, "-D INPUT 1");
    ok(&mut s, "-D INPUT -p tcp --dport 2 -j ACCEPT");
    ok(&mut s, "-R INPUT 2 -p tcp --dport 9 -j ACCEPT");
    assert_eq!(ports(&mut s), [1, 9]);
    ok(&mut s, "-C INPUT -p tcp --dport 9 -j ACCEPT");
    assert_eq!(
        err(&mut s, "-C INPUT -p tcp --dport 9 -j DROP"),
        "iptables: Bad rule (does a matching rule exist in that chain?)."
    );
    assert_eq!(
        err(&mut s, "-D INPUT 3"),
        "iptables: Index of deletion too big."
    );
    assert_eq!(
        err(&mut s, "-I INPUT 4 -j DROP"),
        "iptables: Index of insertion too big."
    );
    assert_eq!(
        err(&mut s, "-R INPUT 3 -j DROP"),
        "iptables: Index of replacement too big."
    );
    assert_eq!(
        err(&mut s, "-D INPUT -p tcp --dport 7 -j ACCEPT"),
        "iptables: Bad rule (does a matching rule exist in that chain?)."
    );
}

#[test]
fn user_chains_policies_and_their_errors() {
    let mut s = Stack::default();
    ok(&mut s, "-N web");
    assert_eq!(err(&mut s, "-N web"), "iptables: Chain already exists.");
    ok(&mut s, "-A web -p tcp --dport 80 -j ACCEPT");
    ok(&mut s, "-A INPUT -j web");
    assert_eq!(err(&mut s, "-X web"), "iptables: Too many links.");
    ok(&mut s, "-D INPUT -j web");
    assert_eq!(err(&mut s, "-X web"), "iptables: Directory not empty.");
    ok(&mut s, "-F web");
    ok(&mut s, "-X web");
    assert_eq!(
        err(&mut s, "-A web -j DROP"),
        "iptables: Chain 'web' does not exist"
    );
    ok(&mut s, "-P INPUT DROP");
    assert!(ok(&mut s, "-S").starts_with("-P INPUT DROP\n"));
    assert_eq!(
        err(&mut s, "-P INPUT FOO"),
        "iptables: Bad policy name. Run `dmesg' for more information."
    );
    ok(&mut s, "-N x");
    assert_eq!(
        err(&mut s, "-P x DROP"),
        "iptables: Bad built-in chain name."
    );
    ok(&mut s, "-N y");
    ok(&mut s, "-A x -j y");
    ok(&mut s, "-E y z");
    assert!(ok(&mut s, "-S x").contains("-A x -j z\n"));
    assert_eq!(err(&mut s, "-E z x"), "iptables: File exists.");
    ok(&mut s, "-E z y");
    assert_eq!(
        err(&mut s, "-A y -j x"),
        "iptables: Too many levels of symbolic links."
    );
}

#[test]
fn errors_read_like_iptables() {
    let mut s = Stack::default();
    let hint = "\nTry `iptables -h' or 'iptables --help' for more information.";
    let p = |m: &str| format!("iptables v1.8.9 (linnet): {m}{hint}");
    assert_eq!(err(&mut s, "-A INPUT foo"), p("Bad argument `foo'"));
    assert_eq!(
        err(&mut s, "-A INPUT -j FOO"),
        p("Couldn't load target `FOO':No such file or directory")
    );
    assert_eq!(
        err(&mut s, "-A INPUT --dport 22 -j DROP"),
        p("unknown option \"--dport\"")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -p foo"),
        p("unknown protocol \"foo\" specified")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -s 300.1.1.1"),
        p("host/network `300.1.1.1' not found")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -p tcp --dport http2"),
        p("invalid port/service `http2' specified")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -m conntrack --ctstate NEW,BOGUS"),
        p("Bad ctstate \"BOGUS\"")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -m foo"),
        p("Couldn't load match `foo':No such file or directory")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -D INPUT 1"),
        p("Cannot use -D with -A")
    );
    assert_eq!(err(&mut s, "-n"), p("no command specified"));
    assert_eq!(err(&mut s, "-L --bogus"), p("unknown option \"--bogus\""));
    assert!(err(&mut s, "-t mangle -L").contains("can't initialize iptables table `mangle'"));
    assert_eq!(
        err(&mut s, "-A INPUT -j REJECT --reject-with tcp-reset"),
        p("Can only specify tcp-reset with -p tcp (and no ! before -p)")
    );
    assert_eq!(
        err(&mut s, "-A INPUT -j MASQUERADE"),
        "iptables: MASQUERADE target: only valid in nat table."
    );
    assert_eq!(
        err(&mut s, "-t nat -A PREROUTING -j MASQUERADE"),
        "iptables: MASQUERADE target: used from a chain hooked at PREROUTING, where it is not valid."
    );
    assert_eq!(
        err(&mut s, "-t nat -A PREROUTING -j DNAT"),
        p("DNAT: option \"--to-destination\" must be specified")
    );
    assert_eq!(err(&mut s, "-A"), p("option \"-A\" requires an argument"));
}

#[test]
fn list_formats() {
    let mut s = Stack::default();
    ok(&mut s, "-N web");
    ok(&mut s, "-A INPUT -p tcp --dport 22 -j ACCEPT");
    ok(&mut s, "-A INPUT -s 192.0.2.7 -j web");
    let l = ok(&mut s, "-L -n");
    assert!(l.starts_with(
        "Chain INPUT (policy ACCEPT)\ntarget     prot opt source               destination\nACCEPT     tcp  --  0.0.0.0/0            0.0.0.0/0            tcp dpt:22\nweb        all  --  192.0.2.7            0.0.0.0/0\n"
    ), "{l}");
    assert!(l.contains("\nChain web (1 references)\n"), "{l}");
    let named = ok(&mut s, "-L INPUT");
    assert!(
        named.contains(
            "\nACCEPT     tcp  --  anywhere             anywhere             tcp dpt:ssh\n"
        ),
        "{named}"
    );
    let v = ok(&mut s, "-nvL INPUT --line-numbers");
    assert!(
        v.starts_with("Chain INPUT (policy ACCEPT 0 packets, 0 bytes)\nnum   pkts bytes target"),
        "{v}"
    );
    assert!(
        v.contains("\n1        0     0 ACCEPT     tcp  --  *      *       0.0.0.0/0"),
        "{v}"
    );
}

#[test]
fn save_and_restore_round_trip_atomically() {
    let mut s = Stack::default();
    ok(&mut s, "-N web");
    ok(&mut s, "-A web -p tcp --dport 80 -j ACCEPT");
    ok(&mut s, "-A INPUT -j web");
    ok(&mut s, "-P INPUT DROP");
    ok(&mut s, "-t nat -A POSTROUTING -o eth1 -j MASQUERADE");
    ok(
        &mut s,
        "-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 192.0.2.10:80",
    );
    let saved = s.iptables_save(None).unwrap();
    assert!(saved.contains("*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:web - [0:0]\n-A INPUT -j web\n-A web -p tcp -m tcp --dport 80 -j ACCEPT\nCOMMIT\n"), "{saved}");
    assert!(
        saved.contains(
            "-A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 192.0.2.10:80\n"
        ),
        "{saved}"
    );
    let mut t = Stack::default();
    t.iptables_restore(&saved, false).unwrap();
    assert_eq!(t.iptables_save(None).unwrap(), saved);
    assert!(t.netfilter().is_active());
    // A bad line anywhere changes nothing, and names the line.
    let bad = "*filter\n-F\nCOMMIT\n*nat\n-A POSTROUTING -j BOGUS\nCOMMIT\n";
    let e = t.iptables_restore(bad, false).unwrap_err();
    assert!(
        e.message.ends_with("iptables-restore: line 5 failed"),
        "{e}"
    );
    assert_eq!(t.iptables_save(None).unwrap(), saved);
    // A restore replaces the table (flush), or adds to it with --noflush.
    t.iptables_restore("*filter\n-A OUTPUT -j ACCEPT\nCOMMIT\n", true)
        .unwrap();
    assert!(t
        .iptables_save(Some("filter"))
        .unwrap()
        .contains("-A INPUT -j web\n"));
    t.iptables_restore("*filter\n:INPUT ACCEPT [0:0]\nCOMMIT\n", false)
        .unwrap();
    let f = t.iptables_save(Some("filter")).unwrap();
    assert!(!f.contains("web") && f.contains(":INPUT ACCEPT"), "{f}");
}

/// A stack behind the control protocol, every message through JSON as the daemon gets it;
/// `meddle` is a change someone else makes between the first read and the change.
struct Wire {
    s: Stack,
    meddle: Option<TableChange>,
}

impl Wire {
    fn call(&mut self, req: linnet::Request) -> linnet::Response {
        use linnet::control::{handle, Request, Response};
        let req: Request = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        let resp = handle(&mut self.s, req, Instant::ZERO);
        serde_json::from_str::<Response>(&serde_json::to_string(&resp).unwrap()).unwrap()
    }
}

impl Backend for Wire {
    fn get_table(&mut self, id: TableId) -> Result<(Table, Option<u64>), NfError> {
        use linnet::{Request, Response};
        let r = self.call(Request::NfGetTable { table: id });
        if let Some(c) = self.meddle.take() {
            self.s.nf_change(TableId::Filter, None, &c).unwrap();
        }
        match r {
            Response::NfTable { table, gen } => Ok((table, Some(gen))),
            other => panic!("{other:?}"),
        }
    }

    fn change(&mut self, id: TableId, gen: Option<u64>, c: TableChange) -> Result<(), NfError> {
        use linnet::{Request, Response};
        match self.call(Request::NfChange {
            table: id,
            gen,
            change: Box::new(c),
        }) {
            Response::Ok => Ok(()),
            Response::NfError { message, status } => Err(NfError { message, status }),
            other => panic!("{other:?}"),
        }
    }

    fn replace(&mut self, tables: Vec<Table>) -> Result<(), NfError> {
        use linnet::{Request, Response};
        match self.call(Request::NfReplace { tables }) {
            Response::Ok => Ok(()),
            Response::NfError { message, status } => Err(NfError { message, status }),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn the_same_through_the_typed_control_protocol() {
    let lines = [
        "-N early",
        "-N web",
        "-A web -p tcp -m multiport --dports 80,443 -j ACCEPT",
        "-A INPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
        "-A INPUT -s 192.0.2.0/24 -j web",
        "-A INPUT -m limit --limit 5/min -j LOG --log-prefix \"in: \"",
        "-A INPUT -p tcp -j REJECT --reject-with tcp-reset",
        "-t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 192.0.2.10:80",
        "-t nat -A POSTROUTING -o eth1 -j MASQUERADE",
        "-D INPUT -p tcp -j REJECT --reject-with tcp-reset",
        "-P FORWARD DROP",
    ];
    let mut local = Stack::default();
    let mut wire = Wire {
        s: Stack::default(),
        meddle: None,
    };
    for l in lines {
        let w = split_words(l).unwrap();
        assert_eq!(
            do_command(&mut wire, &w).unwrap(),
            local.iptables(&w, Instant::ZERO).unwrap(),
            "{l}"
        );
    }
    for l in ["-nvL", "-S", "-t nat -L -n --line-numbers", "-L web"] {
        let w = split_words(l).unwrap();
        assert_eq!(
            do_command(&mut wire, &w).unwrap(),
            local.iptables(&w, Instant::ZERO).unwrap(),
            "{l}"
        );
    }
    for l in ["-A INPUT -j nosuch", "-X web", "-P web DROP", "-D INPUT 9"] {
        let w = split_words(l).unwrap();
        assert_eq!(
            do_command(&mut wire, &w).unwrap_err(),
            local.iptables(&w, Instant::ZERO).unwrap_err(),
            "{l}"
        );
    }
    let saved = save(&mut wire, None).unwrap();
    assert_eq!(saved, local.iptables_save(None).unwrap());
    let mut again = Wire {
        s: Stack::default(),
        meddle: None,
    };
    restore::restore(&mut again, &saved, false).unwrap();
    assert_eq!(save(&mut again, None).unwrap(), saved);
    // Someone else deletes a chain between iptables's read and its change: the jump is read
    // again against the new table, and lands on the right chain.
    wire.meddle = Some(TableChange::DeleteChain {
        name: Some("early".into()),
    });
    do_command(&mut wire, &split_words("-A INPUT -j web").unwrap()).unwrap();
    let rules = do_command(&mut wire, &split_words("-S INPUT").unwrap()).unwrap();
    assert!(rules.ends_with("-A INPUT -j web\n"), "{rules}");
}
