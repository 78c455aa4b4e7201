//! The namespace helpers against the real kernel: a namespace is made, used (commands,
//! `run_in`, veth, attach) and removed on drop, also when the test panics. Needs root;
//! reported ignored otherwise.

use linnet_testkit::netns::NETNS_RUN_DIR;
use linnet_testkit::{tests, Need, NetNs};
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
    let out = linnet_testkit::peer::ping(&a, "198.51.100.2", 1, "0.2").unwrap();
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

fn main() -> std::process::ExitCode {
    linnet_testkit::run(tests![NEEDS =>
        create_exec_run_in_and_delete,
        run_in_propagates_panics,
        a_panicking_test_still_removes_its_namespace,
        veth_attach_and_ping_across,
        exec_timeout_kills_a_command_that_runs_too_long,
    ])
}
