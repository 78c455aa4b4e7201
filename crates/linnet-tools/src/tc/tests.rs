//! tc as tc(8) behaves on a stack: a tree builds and prints as tc prints it, errors change
//! nothing and name the word, and the typed requests travel as JSON.

use super::format::{format_classes, format_filters, format_qdiscs};
use super::*;
use linnet::qdisc::opt::QdiscOpt;
use linnet::EthernetAddress;

fn stack() -> (Stack, u32) {
    let mut s = Stack::default();
    let i = s.add_interface("eth0", EthernetAddress([2, 0, 0, 0, 0, 1]), 1500);
    (s, i)
}

fn tc(s: &mut Stack, cmd: &str) -> Result<TcReply, TcError> {
    let w: Vec<String> = cmd.split_whitespace().map(String::from).collect();
    s.tc(&w, Instant::ZERO)
}

fn show(s: &mut Stack, cmd: &str) -> String {
    match tc(s, cmd).unwrap() {
        TcReply::Qdiscs(q) => format_qdiscs(&q, false),
        TcReply::Classes(c) => format_classes(&c, false),
        TcReply::Filters(f) => format_filters(&f),
        TcReply::Done => String::new(),
    }
}

#[test]
fn default_root_is_pfifo_fast_and_a_tree_builds() {
    let (mut s, _) = stack();
    assert_eq!(
        show(&mut s, "qdisc show dev eth0"),
        "qdisc pfifo_fast 0: dev eth0 root refcnt 2 bands 3 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1\n"
    );
    tc(&mut s, "qdisc add dev eth0 root handle 1: htb default 20").unwrap();
    tc(
        &mut s,
        "class add dev eth0 parent 1: classid 1:1 htb rate 10mbit",
    )
    .unwrap();
    tc(
        &mut s,
        "class add dev eth0 parent 1:1 classid 1:10 htb rate 3mbit ceil 10mbit",
    )
    .unwrap();
    tc(
        &mut s,
        "class add dev eth0 parent 1:1 classid 1:20 htb rate 7mbit ceil 10mbit",
    )
    .unwrap();
    tc(&mut s, "qdisc add dev eth0 parent 1:10 handle 10: fq_codel").unwrap();
    tc(
        &mut s,
        "qdisc add dev eth0 parent 1:20 handle 20: netem delay 5ms",
    )
    .unwrap();
    tc(&mut s, "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dport 5001 0xffff flowid 1:10").unwrap();
    tc(
        &mut s,
        "filter add dev eth0 parent 1: prio 2 handle 6 fw classid 1:20",
    )
    .unwrap();
    let q = show(&mut s, "qdisc show dev eth0");
    assert!(
        q.contains("qdisc htb 1: dev eth0 root refcnt 2 r2q 10 default 0x20"),
        "{q}"
    );
    assert!(
        q.contains("qdisc fq_codel 10: dev eth0 parent 1:10 limit 10240p"),
        "{q}"
    );
    assert!(
        q.contains("qdisc netem 20: dev eth0 parent 1:20 limit 1000 delay 5ms"),
        "{q}"
    );
    let c = show(&mut s, "class show dev eth0");
    assert!(
        c.contains("class htb 1:1 root rate 10Mbit ceil 10Mbit"),
        "{c}"
    );
    assert!(
        c.contains("class htb 1:10 parent 1:1 leaf 10: prio 0 rate 3Mbit ceil 10Mbit"),
        "{c}"
    );
    let f = show(&mut s, "filter show dev eth0");
    assert_eq!(
        f,
        "filter parent 1: protocol ip pref 1 u32 match ip dport 5001 0xffff classid 1:10\n\
         filter parent 1: protocol ip pref 2 fw handle 0x6 classid 1:20\n"
    );
    // Change a leaf in place, replace another, delete, and the root back to default.
    tc(&mut s, "qdisc change dev eth0 handle 20: netem delay 7ms").unwrap();
    assert!(show(&mut s, "qdisc show").contains("delay 7ms"));
    tc(
        &mut s,
        "qdisc replace dev eth0 parent 1:20 handle 30: pfifo limit 5",
    )
    .unwrap();
    assert!(show(&mut s, "qdisc show").contains("qdisc pfifo 30: dev eth0 parent 1:20 limit 5p"));
    tc(&mut s, "qdisc del dev eth0 parent 1:20").unwrap();
    tc(&mut s, "filter del dev eth0 parent 1: prio 2").unwrap();
    assert_eq!(show(&mut s, "filter show dev eth0").lines().count(), 1);
    tc(&mut s, "class del dev eth0 classid 1:20").unwrap();
    tc(&mut s, "qdisc del dev eth0 root").unwrap();
    assert!(show(&mut s, "qdisc show dev eth0").starts_with("qdisc pfifo_fast 0:"));
}

#[test]
fn errors_change_nothing_and_name_the_word() {
    let (mut s, _) = stack();
    tc(
        &mut s,
        "qdisc add dev eth0 root handle 1: tbf rate 1mbit burst 10kb latency 50ms",
    )
    .unwrap();
    let before = show(&mut s, "qdisc show");
    for (cmd, word) in [
        ("qdisc add dev eth9 root netem delay 1ms", "eth9"),
        ("qdisc add dev eth0 root netem delay 1ms", "Exclusivity"),
        ("qdisc replace dev eth0 root netem delay 1xs", "1xs"),
        ("qdisc add dev eth0 root fifo", "fifo"),
        ("qdisc add dev eth0 parent 1:2 netem", "1:2"),
        ("qdisc add dev eth0 parent 7:1 netem", "7:"),
        ("qdisc change dev eth0 root netem delay 1ms", "replace"),
        ("qdisc change dev eth0 root tbf rate 2mbit", "burst"),
        ("qdisc add dev eth0 parent 1:1 handle 1: pfifo", "in use"),
        ("qdisc add dev lo root netem delay 1ms", "loopback"),
        (
            "class add dev eth0 classid 1:1 htb rate 1mbit",
            "does not match",
        ),
        (
            "filter add dev eth0 parent 1: u32 match ip dport 1 0xffff flowid 1:1",
            "filters",
        ),
        ("qdisc frob dev eth0", "frob"),
        ("qdiscs show", "qdiscs"),
    ] {
        let e = tc(&mut s, cmd).unwrap_err();
        assert!(e.0.contains(word), "{cmd}: {e}");
        assert_eq!(
            show(&mut s, "qdisc show"),
            before,
            "{cmd} changed something"
        );
    }
}

#[test]
fn the_control_request_carries_typed_tc_changes() {
    use linnet::control::{handle, Request, Response};
    let (mut s, _) = stack();
    let words = |l: &str| l.split_whitespace().map(String::from).collect::<Vec<_>>();
    let TcCommand::Change(change) =
        parse_command(&words("qdisc add dev eth0 root handle 1: netem delay 5ms")).unwrap()
    else {
        panic!("a change")
    };
    let req = Request::TcChange {
        change: Box::new(change),
    };
    let json = serde_json::to_string(&req).unwrap();
    assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
    assert_eq!(handle(&mut s, req, Instant::ZERO), Response::Ok);
    let show = Request::TcShow {
        object: TcObject::Qdisc,
        dev: None,
    };
    match handle(&mut s, show, Instant::ZERO) {
        Response::Tc {
            reply: TcReply::Qdiscs(q),
        } => {
            assert_eq!(
                q.iter().map(|x| x.kind.as_str()).collect::<Vec<_>>(),
                ["noqueue", "netem"]
            );
            let options = q[1].options.as_ref().map(format::print_qdisc_opt);
            assert_eq!(options.as_deref(), Some("limit 1000 delay 5ms"));
        }
        r => panic!("{r:?}"),
    }
    let TcCommand::Change(bad) = parse_command(&words("qdisc add dev eth0 root sfq")).unwrap()
    else {
        panic!("a change")
    };
    let bad = Request::TcChange {
        change: Box::new(bad),
    };
    match handle(&mut s, bad, Instant::ZERO) {
        Response::Error { message, .. } => assert!(message.contains("\"sfq\""), "{message}"),
        r => panic!("{r:?}"),
    }
}

/// The words of one kind's options, parsed as tc parses them.
fn qopt(kind: &str, args: &str) -> Result<Option<QdiscOpt>, TcError> {
    let w: Vec<String> = args.split_whitespace().map(String::from).collect();
    parse_qdisc_opt(kind, &w)
}

#[test]
fn each_kind_prints_what_it_was_given() {
    let (mut s, _) = stack();
    for (kind, args, printed) in [
        ("pfifo", "limit 2", "limit 2p"),
        ("bfifo", "limit 2kb", "limit 2Kb"),
        ("tbf", "rate 8mbit burst 3000 latency 100ms", "rate 8Mbit burst 3000b lat 100ms"),
        ("netem", "delay 50ms", "limit 1000 delay 50ms"),
        ("netem", "rate 8mbit", "limit 1000 rate 8Mbit"),
        (
            "netem",
            "loss gemodel 1% 10% limit 100000",
            "limit 100000 loss gemodel p 1% r 10% 1-h 100% 1-k 0%",
        ),
        (
            "netem",
            "delay 10ms 2ms 25% distribution normal loss 1% 2% duplicate 3% reorder 4% 5% gap 3 corrupt 6% ecn seed 9",
            "limit 1000 delay 10ms  2ms 25% distribution normal loss 1% 2% duplicate 3% reorder 4% 5% gap 3 corrupt 6% ecn seed 9",
        ),
        (
            "fq_codel",
            "limit 10",
            "limit 10p flows 1024 quantum 1514 target 5ms interval 100ms memory_limit 32Mb ecn drop_batch 64",
        ),
        ("prio", "bands 4", "bands 4 priomap 1 2 2 2 1 2 0 0 1 1 1 1 1 1 1 1"),
        ("htb", "default 20 r2q 5", "r2q 5 default 0x20 direct_packets_stat 0 direct_qlen 1000"),
    ] {
        tc(&mut s, &format!("qdisc replace dev eth0 root {kind} {args}")).unwrap();
        let shown = show(&mut s, "qdisc show dev eth0");
        let want = format!("qdisc {kind} 8001: dev eth0 root refcnt 2 {printed}\n");
        assert!(
            shown.starts_with(&want.replace("8001:", shown.split(' ').nth(2).unwrap())),
            "{kind} {args}: {shown}"
        );
    }
}

#[test]
fn bad_words_get_tc_errors_and_no_change() {
    for (kind, args, word) in [
        ("pfifo", "limit lots", "\"lots\""),
        ("bfifo", "limit 2kq", "2kq"),
        ("bfifo", "size", "\"size\""),
        ("pfifo_fast", "limit 1", "\"limit\""),
        ("tbf", "burst 10kb latency 50ms", "rate"),
        ("tbf", "rate 1mbit latency 50ms", "burst"),
        ("tbf", "rate 1mbit burst 10kb", "latency"),
        (
            "tbf",
            "rate 1mbit burst 10kb limit 1kb latency 5ms",
            "not both",
        ),
        ("tbf", "rate 1mbot burst 10kb latency 5ms", "1mbot"),
        (
            "tbf",
            "rate 1mbit burst 10kb latency 5ms peakrate 2mbit",
            "mtu",
        ),
        (
            "tbf",
            "rate 1mbit burst 10kb latency 5ms peakrate 1mbit mtu 1500",
            "peakrate",
        ),
        ("tbf", "rate 1mbit burst 10kb latency 5ms speed 3", "speed"),
        ("netem", "delay 50mz", "50mz"),
        ("netem", "loss 120%", "120%"),
        ("netem", "reorder 10%", "delay"),
        ("netem", "delay 1ms distribution normal", "jitter"),
        ("netem", "delay 1ms 1ms distribution cauchy", "cauchy"),
        ("netem", "loss random", "loss random"),
        ("netem", "jitter 5ms", "jitter"),
        ("fq_codel", "target 5x", "5x"),
        ("fq_codel", "fast", "fast"),
        ("prio", "bands 2 priomap 0 1 2", "priomap"),
        ("prio", "bands 1", "bands 1"),
        ("htb", "r2q 0", "r2q"),
        ("htb", "default x", "\"x\""),
    ] {
        let e = qopt(kind, args).unwrap_err();
        assert!(e.0.contains(word), "{kind} {args}: {e}");
    }
    // What only the stack can check comes back from it, the tree as it was.
    let (mut s, _) = stack();
    let before = show(&mut s, "qdisc show");
    for (cmd, word) in [
        ("qdisc add dev eth0 root fq_codel flows 0", "flows 0"),
        ("qdisc add dev eth0 root fq_codel quantum 10", "quantum 10"),
        (
            "qdisc add dev eth0 root prio bands 2 priomap 0 1 2 2 0 0 0 0 0 0 0 0 0 0 0 0",
            "band 2",
        ),
    ] {
        let e = tc(&mut s, cmd).unwrap_err();
        assert!(e.0.contains(word), "{cmd}: {e}");
        assert_eq!(show(&mut s, "qdisc show"), before, "{cmd}");
    }
    tc(&mut s, "qdisc add dev eth0 root handle 1: fq_codel").unwrap();
    let e = tc(&mut s, "qdisc change dev eth0 root fq_codel flows 16").unwrap_err();
    assert!(e.0.contains("cannot be changed"), "{e}");
}

#[test]
fn filter_words_get_tc_errors() {
    for (cmd, word) in [
        ("u32 match ip dport 80 0xffff", "flowid"),
        ("u32 match ip dport eighty 0xffff flowid 1:1", "eighty"),
        ("u32 match ip src 10.0.0.300/8 flowid 1:1", "10.0.0.300/8"),
        ("u32 match ip sport 80 0x1ffff flowid 1:1", "0x1ffff"),
        ("u32 match ipv6 dst ::1 flowid 1:1", "ipv6"),
        ("fw classid 1:1", "handle"),
        ("u32 flowid 1:x", "1:x"),
        ("bpf flowid 1:1", "bpf"),
    ] {
        let w: Vec<String> = cmd.split_whitespace().map(String::from).collect();
        let e = f_u32::parse_filter(&w).unwrap_err();
        assert!(e.0.contains(word), "{cmd}: {e}");
    }
    let (mut s, _) = stack();
    tc(&mut s, "qdisc add dev eth0 root handle 1: prio").unwrap();
    tc(&mut s, "filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip src 192.0.2.0/24 match ip protocol 17 0xff flowid 1:2").unwrap();
    tc(
        &mut s,
        "filter add dev eth0 parent 1: handle 6/0xf fw classid 1:3",
    )
    .unwrap();
    assert_eq!(
        show(&mut s, "filter show dev eth0"),
        "filter parent 1: protocol ip pref 1 u32 match ip src 192.0.2.0/24 match ip protocol 17 0xff classid 1:2\n\
         filter parent 1: protocol ip pref 1 fw handle 0x6/0xf classid 1:3\n"
    );
}

#[test]
fn htb_classes_print_their_rates_and_counters() {
    let (mut s, _) = stack();
    tc(&mut s, "qdisc add dev eth0 root handle 1: htb default 10").unwrap();
    tc(
        &mut s,
        "class add dev eth0 parent 1: classid 1:1 htb rate 10mbit",
    )
    .unwrap();
    tc(
        &mut s,
        "class add dev eth0 parent 1:1 classid 1:10 htb rate 3mbit ceil 10mbit prio 2",
    )
    .unwrap();
    let TcReply::Classes(c) = tc(&mut s, "class show dev eth0").unwrap() else {
        panic!("classes")
    };
    assert_eq!(
        format_classes(&c, true),
        "class htb 1:1 root rate 10Mbit ceil 10Mbit burst 2850b cburst 2850b\n \
         Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\n backlog 0b 0p requeues 0\n \
         lended: 0 borrowed: 0 giants: 0\n tokens: 2280 ctokens: 2280\n\
         class htb 1:10 parent 1:1 prio 2 rate 3Mbit ceil 10Mbit burst 1975b cburst 2850b\n \
         Sent 0 bytes 0 pkt (dropped 0, overlimits 0 requeues 0)\n backlog 0b 0p requeues 0\n \
         lended: 0 borrowed: 0 giants: 0\n tokens: 5266 ctokens: 2280\n"
    );
    let e = tc(&mut s, "class change dev eth0 classid 1:10 htb prio 8").unwrap_err();
    assert!(e.0.contains("prio 8"), "{e}");
    let e = tc(
        &mut s,
        "class add dev eth0 parent 1: classid 1:2 htb ceil 1mbit",
    )
    .unwrap_err();
    assert!(e.0.contains("rate"), "{e}");
}

/// Option words of tc commands, plus junk, for the property test.
const VOCAB: [&str; 60] = [
    "qdisc",
    "class",
    "filter",
    "add",
    "change",
    "replace",
    "del",
    "show",
    "dev",
    "eth0",
    "lo",
    "root",
    "parent",
    "handle",
    "classid",
    "1:",
    "1:1",
    "1:10",
    "10:",
    "2:",
    "ffff:",
    "netem",
    "tbf",
    "htb",
    "prio",
    "fq_codel",
    "pfifo",
    "bfifo",
    "pfifo_fast",
    "delay",
    "10ms",
    "5ms",
    "loss",
    "10%",
    "gemodel",
    "state",
    "rate",
    "1mbit",
    "burst",
    "10kb",
    "latency",
    "limit",
    "100",
    "0",
    "ceil",
    "default",
    "bands",
    "3",
    "u32",
    "match",
    "ip",
    "dport",
    "0xffff",
    "flowid",
    "fw",
    "prio",
    "reorder",
    "x:y",
    "-1",
    "99999999999",
];

mod prop {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any sequence of tc command lines made of tc's words and junk: no panic, and a
        /// refused one changes nothing.
        #[test]
        fn arbitrary_words_never_panic_and_errors_change_nothing(
            cmds in proptest::collection::vec(
                proptest::collection::vec(0usize..VOCAB.len(), 0..14), 1..12)
        ) {
            let (mut s, _) = stack();
            for (n, words) in cmds.iter().enumerate() {
                let w: Vec<String> = words.iter().map(|&i| VOCAB[i].to_string()).collect();
                let before = (s.tc_qdiscs(None), s.tc_classes(None), s.tc_filters(None));
                if s.tc(&w, Instant::from_millis(n as u64)).is_err() {
                    let after = (s.tc_qdiscs(None), s.tc_classes(None), s.tc_filters(None));
                    proptest::prop_assert_eq!(before, after, "{:?}", w);
                }
            }
        }
    }
}
