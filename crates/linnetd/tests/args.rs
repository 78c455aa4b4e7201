//! linnetd's command line, without root: `--help`, unknown arguments refused, and the
//! control socket's path checked before any device is touched.

use std::process::Command;

fn linnetd(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_linnetd"))
        .args(args)
        .output()
        .expect("run linnetd")
}

#[test]
fn help_and_unknown_arguments() {
    let out = linnetd(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for opt in ["--max-conns", "--idle-timeout", "--mkdir", "--control"] {
        assert!(help.contains(opt), "{opt} missing from --help:\n{help}");
    }
    let out = linnetd(&["--tap", "x", "--addr", "192.0.2.2/24", "--bogus"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--bogus"));
}

#[test]
fn control_path_never_replaces_a_file_or_makes_a_directory_unasked() {
    let dir = std::env::temp_dir().join(format!("linnetd-args-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("precious");
    std::fs::write(&file, b"data").unwrap();
    let out = linnetd(&[
        "--tap",
        "lnargs0",
        "--addr",
        "192.0.2.2/24",
        "--control",
        file.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a socket"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), b"data");
    let missing = dir.join("no").join("such").join("d.sock");
    let out = linnetd(&[
        "--tap",
        "lnargs0",
        "--addr",
        "192.0.2.2/24",
        "--control",
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--mkdir"), "{err}");
    assert!(!dir.join("no").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn addr_without_prefix_is_refused_with_the_fix() {
    let out = linnetd(&["--tap", "lnargs1", "--addr", "192.0.2.2"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--addr 192.0.2.2/24"), "{err}");
    // No colour codes in what goes to a pipe.
    assert!(!err.contains('\u{1b}'), "{err:?}");
}
