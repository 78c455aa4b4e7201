//! The namespace helpers against the real kernel: a namespace is made, used (commands,
//! `run_in`, veth, attach) and removed on drop, also when the test panics. Needs root;
//! reported ignored otherwise.

use linnet_testkit::netns::NETNS_RUN_DIR;
use linnet_testkit::{peer, tests, Need, NetNs};
use std::time::{Duration, Instant};

const NEEDS: &[Need] = &[Need::Netns];

fn create_exec_run_in_and_delete() {
    let path;
    {
        let ns = NetNs::new("lnns/test").unwrap();
        assert!(ns.name().starts_with("lnns_test-"));
        path = std::path::Path::new(NETNS_RUN_DIR).join(ns.name());
        assert!(path.exists());
        let links = ns.exec_ok(&["ip", "-o", "link", "show"]).unwrap();
        assert!(links.contains("lo:"), "{links}");
        assert!(links.contains("UP"), "lo should be up: {links}");
        let err = ns
            .exec_ok(&["ip", "link", "show", "nosuchif0"])
            .unwrap_err();
        assert!(err.to_string().contains("nosuchif0"), "{err}");
        assert!(ns.exec(&[]).is_err());
        // A socket's namespace is the creating thread's: lo is the only interface.
        let inside = ns
            .run_in(|| std::fs::read_to_string("/proc/thread-self/net/dev").unwrap())
            .unwrap();
        let ifaces = inside.lines().skip(2).count();
        assert_eq!(ifaces, 1, "{inside}");
    }
    assert!(!path.exists(), "namespace not deleted on drop");
}

fn run_in_propagates_panics() {
    let ns = NetNs::new("lnpanic").unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        ns.run_in(|| panic!("boom")).unwrap();
    }));
    assert!(r.is_err());
}

fn a_panicking_test_still_removes_its_namespace() {
    let mut path = None;
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ns = NetNs::new("lnunwind").unwrap();
        path = Some(std::path::Path::new(NETNS_RUN_DIR).join(ns.name()));
        panic!("test failed half way");
    }));
    assert!(r.is_err());
    let path = path.unwrap();
    assert!(!path.exists(), "{} left behind", path.display());
}

fn veth_attach_and_ping_across() {
    let a = NetNs::new("lnveta").unwrap();
    let b = NetNs::new("lnvetb").unwrap();
    let (x, y) = (
        linnet_testkit::proc::unique("lkx"),
        linnet_testkit::proc::unique("lky"),
    );
    a.add_veth(&x, &b, &y).unwrap();
    a.addr_up(&x, "198.51.100.1/24").unwrap();
    b.addr_up(&y, "198.51.100.2/24").unwrap();
    let out = peer::ping(&a, "198.51.100.2", 1, "0.2").unwrap();
    assert!(out.status.success(), "{out:?}");
    // attach: a pair made in the test's own namespace; one end moves into b with an
    // address and a default route, the other stays here (and is deleted at the end).
    let (p, q) = (
        linnet_testkit::proc::unique("lkp"),
        linnet_testkit::proc::unique("lkq"),
    );
    let made = std::process::Command::new("ip")
        .args(["link", "add", &p, "type", "veth", "peer", "name", &q])
        .status()
        .unwrap();
    assert!(made.success());
    let _cleanup = DelLink(&q);
    b.attach(&p, "203.0.113.2/24", Some("203.0.113.1")).unwrap();
    assert!(!std::path::Path::new("/sys/class/net").join(&p).exists());
    let routes = b.exec_ok(&["ip", "route", "show", "default"]).unwrap();
    assert!(routes.contains("via 203.0.113.1"), "{routes}");
    let addrs = b.exec_ok(&["ip", "-o", "addr", "show", &p]).unwrap();
    assert!(addrs.contains("203.0.113.2/24"), "{addrs}");
}

/// Deletes a link of the test's own namespace on drop (and with it its veth peer).
struct DelLink<'a>(&'a str);

impl Drop for DelLink<'_> {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["link", "del", self.0])
            .output();
    }
}

fn exec_timeout_kills_a_command_that_runs_too_long() {
    let ns = NetNs::new("lntmo").unwrap();
    let t = Instant::now();
    let out = ns
        .exec_timeout(Duration::from_millis(300), &["sleep", "30"])
        .unwrap();
    assert_eq!(out.status.code(), Some(124), "{out:?}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

/// `nc` across a veth: one end receives a file the other sends, byte for byte.
fn nc_sends_and_receives_a_file_across_a_veth() {
    let a = NetNs::new("lnnca").unwrap();
    let b = NetNs::new("lnncb").unwrap();
    let (x, y) = (
        linnet_testkit::proc::unique("lkx"),
        linnet_testkit::proc::unique("lky"),
    );
    a.add_veth(&x, &b, &y).unwrap();
    a.addr_up(&x, "203.0.113.1/24").unwrap();
    b.addr_up(&y, "203.0.113.2/24").unwrap();
    let dir = std::env::temp_dir();
    let tag = linnet_testkit::proc::unique("nc");
    let (src, dst) = (
        dir.join(format!("{tag}-src")),
        dir.join(format!("{tag}-dst")),
    );
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&src, &data).unwrap();
    let mut rx = peer::nc_receive_file(&b, "203.0.113.2", 5999, &dst).unwrap();
    assert!(linnet_testkit::proc::wait_for_port(
        Some(&b),
        5999,
        Duration::from_secs(5)
    ));
    let out = peer::nc_send_file(&a, "203.0.113.2", 5999, &src).unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(rx.0.wait().unwrap().success());
    let got = std::fs::read(&dst).unwrap();
    let _ = (std::fs::remove_file(&src), std::fs::remove_file(&dst));
    assert!(got == data, "{} of {} bytes", got.len(), data.len());
}

fn main() -> std::process::ExitCode {
    let mut t = tests![&[Need::Netns, Need::Tool("nc")] =>
        nc_sends_and_receives_a_file_across_a_veth,
    ];
    t.extend(tests![NEEDS =>
        create_exec_run_in_and_delete,
        run_in_propagates_panics,
        a_panicking_test_still_removes_its_namespace,
        veth_attach_and_ping_across,
        exec_timeout_kills_a_command_that_runs_too_long,
    ]);
    linnet_testkit::run(t)
}
