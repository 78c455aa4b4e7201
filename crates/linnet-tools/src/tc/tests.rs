//! tc as tc(8) behaves on a stack: a tree builds and prints as tc prints it, errors change
//! nothing and name the word, and the typed requests travel as JSON.

use super::format::{format_classes, format_filters, format_qdiscs};
use super::*;
use linnet::wire::EthernetAddress;

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
            assert_eq!(q[1].options, "limit 1000 delay 5ms");
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
