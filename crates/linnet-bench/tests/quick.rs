//! The bench's quick mode runs its in-memory rows end to end (briefly: this proves the tool
//! works, it asserts no timing), saves JSON, and flags a regression against a baseline.

use std::process::Command;

/// One bench at a time: the test harness runs tests in parallel, and a bench competing for
/// the CPU with another stretches its short quick-mode windows in wall time (the per-frame
/// allocation check of a 0.05 s debug run is then thrown by one-off queue growth).
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn bench(args: &[&str]) -> std::process::Output {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    Command::new(env!("CARGO_BIN_EXE_linnet-bench"))
        .args(args)
        .output()
        .expect("run linnet-bench")
}

fn tmp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("linnet-bench-{}-{name}", std::process::id()))
}

#[test]
fn quick_mode_measures_every_in_memory_row_and_saves_json() {
    let json = tmp("quick.json");
    let out = bench(&[
        "--quick",
        "--secs",
        "0.05",
        "--skip-linux",
        "--json",
        json.to_str().unwrap(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("json written");
    std::fs::remove_file(&json).ok();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let rows = v["rows"].as_array().expect("rows");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no row {name:?} in {text}"))
    };
    for name in [
        "tcp bulk mtu 1500",
        "tcp bulk mtu 1500 veth offloads",
        "tcp bulk mtu 9000",
        "tcp bulk mtu 65535",
        "tcp rr 1 byte",
        "tcp connect+close",
    ] {
        let r = row(name);
        assert!(r["linnet"].as_f64().unwrap() > 0.0, "{name}: {r}");
        assert!(r["reference"].as_f64().unwrap() > 0.0, "{name}: {r}");
        assert_eq!(r["reference_name"], "smoltcp");
        assert!(
            stdout.contains(name),
            "{name} missing from the table:\n{stdout}"
        );
    }
    // Bulk transfer allocates nothing per frame: in a run this short the window may still be
    // growing (a few more pool buffers), but far below one allocation per hundred frames.
    let a = row("allocs per packet (bulk 1500)");
    assert!(a["linnet"].as_f64().unwrap() < 0.01, "{a}");
    let a = row("allocs per packet (bulk 1500 veth offloads)");
    assert!(a["linnet"].as_f64().unwrap() < 0.01, "{a}");
    // The veth-offload row's reference is smoltcp's plain MTU 1500 figure of the same run.
    let veth = row("tcp bulk mtu 1500 veth offloads");
    assert_eq!(veth["reference"], row("tcp bulk mtu 1500")["reference"]);
    assert!(
        veth["note"]
            .as_str()
            .unwrap()
            .contains("GSO frames with partial checksums"),
        "{veth}"
    );
    let rx = row("rx cost ipv4+tcp, 0 nf rules");
    assert!(rx["linnet"].as_f64().unwrap() > 0.0, "{rx}");
    let nf = row("rx cost ipv4+tcp, 1000 nf rules");
    assert!(nf["linnet"].as_f64().unwrap() > 0.0, "{nf}");
    assert_eq!(nf["reference"], rx["linnet"], "{nf}");
    assert_eq!(nf["reference_name"], "0 nf rules");
    let tap = row("tcp linnet tap vs linux veth");
    assert!(tap["linnet"].is_null());
    assert!(tap["note"].as_str().unwrap().contains("skipped"), "{tap}");
    let plain = row("tcp linnet tap no offload vs linux veth");
    assert!(plain["linnet"].is_null());
    assert!(
        plain["note"].as_str().unwrap().contains("skipped"),
        "{plain}"
    );
    // The bulk target is reported for both links.
    for link in ["plain link", "veth-like link"] {
        assert!(
            stdout.contains(&format!(
                "target linnet >= 2x smoltcp bulk (mtu 1500, {link}"
            )),
            "{link}: {stdout}"
        );
    }
    assert!(
        stdout.contains("plain ") && stdout.contains("veth offloads "),
        "{stdout}"
    );
}

#[test]
fn the_veth_offload_row_alone_measures_its_reference_and_skips_rows_missing_from_a_baseline() {
    // A baseline saved before the row existed: the comparison skips it, without failing.
    let base = tmp("old-base.json");
    std::fs::write(
        &base,
        r#"{"quick": false, "secs_per_row": 1.0, "rows": [
            {"name": "tcp bulk mtu 1500", "linnet": 1e-9, "reference": 1e-9,
             "reference_name": "smoltcp", "unit": "Gbit/s", "better": "higher", "note": ""}]}"#,
    )
    .unwrap();
    let json = tmp("veth.json");
    let out = bench(&[
        "--secs",
        "0.05",
        "--only",
        "veth offloads",
        "--baseline",
        base.to_str().unwrap(),
        "--fail-on-regression",
        "--json",
        json.to_str().unwrap(),
    ]);
    std::fs::remove_file(&base).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("baseline: no row more than 10% worse"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&json).expect("json written");
    std::fs::remove_file(&json).ok();
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid json");
    let rows = v["rows"].as_array().expect("rows");
    let names: Vec<_> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["tcp bulk mtu 1500 veth offloads"], "{text}");
    // smoltcp was measured for it even though the plain row did not run.
    assert!(rows[0]["reference"].as_f64().unwrap() > 0.0, "{text}");
    assert!(rows[0]["linnet"].as_f64().unwrap() > 0.0, "{text}");
}

#[test]
fn a_baseline_far_better_than_this_run_is_a_regression() {
    let base = tmp("base.json");
    std::fs::write(
        &base,
        r#"{"quick": false, "secs_per_row": 1.0, "rows": [
            {"name": "tcp rr 1 byte", "linnet": 1e15, "reference": null,
             "reference_name": "smoltcp", "unit": "trans/s", "better": "higher", "note": ""}]}"#,
    )
    .unwrap();
    let args = [
        "--secs",
        "0.05",
        "--only",
        "tcp rr",
        "--baseline",
        base.to_str().unwrap(),
    ];
    let out = bench(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "without --fail-on-regression the exit is 0"
    );
    assert!(stdout.contains("REGRESSION tcp rr 1 byte"), "{stdout}");
    let mut strict = args.to_vec();
    strict.push("--fail-on-regression");
    let out = bench(&strict);
    std::fs::remove_file(&base).ok();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn bad_arguments_are_refused_by_name() {
    let out = bench(&["--secs", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--secs 0"));
    let out = bench(&["--impair-timeout", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--impair-timeout 0"));
    let out = bench(&["--impair-mib", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--impair-mib"));
    let out = bench(&["--baseline", "/nonexistent/linnet-base.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/linnet-base.json"));
}
