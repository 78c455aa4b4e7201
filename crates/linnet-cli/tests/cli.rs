//! The `linnet` command without a daemon: clear errors, never a panic. (Testing this package
//! also makes Cargo build the `linnet` binary that linnetd's namespace tests drive.)

use std::process::Command;

fn linnet(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_linnet"))
        .args(args)
        .output()
        .expect("run linnet")
}

#[test]
fn missing_daemon_is_a_clear_error() {
    let out = linnet(&[
        "--socket",
        "/nonexistent/linnetd.sock",
        "ip",
        "link",
        "show",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/linnetd.sock"), "{err}");
    assert!(
        err.contains("is it running?") && err.contains("sudo linnetd --tap"),
        "the error says what to do next: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn unknown_words_are_refused() {
    for args in [
        &["ip", "bogus"][..],
        &["frobnicate"],
        &["ip", "link", "show", "dev"],
    ] {
        let out = linnet(args);
        assert!(!out.status.success(), "{args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.is_empty() && !err.contains("panicked"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn help_is_answered() {
    let out = linnet(&["--help"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("Usage"));
}

#[test]
fn deep_and_huge_filters_are_refused_without_a_crash() {
    let nested = |n: usize| format!("{}tcp{}", "(".repeat(n), ")".repeat(n));
    for (filter, want) in [
        (nested(3500), "too deeply"),
        (nested(20_000), "too long"),
        ("not ".repeat(3000) + "tcp", "too deeply"),
    ] {
        for cmd in ["trace", "capture"] {
            let out = linnet(&[
                "--socket",
                "/nonexistent/linnetd.sock",
                cmd,
                "-c",
                "1",
                &filter,
            ]);
            assert!(!out.status.success());
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(want), "{cmd} {} bytes: {err}", filter.len());
        }
    }
}
