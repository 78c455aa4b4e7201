//! `linnet sysctl`: read and write the stack's `net.ipv4.*` settings, as `sysctl(8)` does.

use crate::{call, Failure};
use linnet::control::sysctl::{SysctlError, SysctlValue};
use linnet::Client;
use linnet::{Request, Response};
use std::io::Write;

/// One operation: read `key`, or write `key=value`.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    /// List every setting.
    All,
    /// Read one.
    Read(String),
    /// Write one.
    Write(String, String),
}

/// Parse `sysctl [-a] [-w] [-n] KEY[=VALUE]...`; returns the operations and `-n`.
pub fn parse(words: &[String]) -> Result<(Vec<Op>, bool), Failure> {
    let mut ops = Vec::new();
    let mut values_only = false;
    for w in words {
        match w.as_str() {
            "-a" | "--all" => ops.push(Op::All),
            // `-w` is implied by `=`, as in procps sysctl.
            "-w" | "--write" => {}
            "-n" | "--values" => values_only = true,
            o if o.starts_with('-') => {
                return Err(Failure(format!("sysctl: unknown option \"{o}\""), 255))
            }
            kv => match kv.split_once('=') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                    ops.push(Op::Write(k.trim().replace('/', "."), v.trim().into()))
                }
                Some(_) => {
                    return Err(Failure(
                        format!("sysctl: \"{kv}\" must be of the form name=value"),
                        255,
                    ))
                }
                None => ops.push(Op::Read(kv.replace('/', "."))),
            },
        }
    }
    if ops.is_empty() {
        ops.push(Op::All);
    }
    Ok((ops, values_only))
}

/// Run `sysctl` with the words after it. As procps `sysctl(8)`: every key is read or written
/// in turn, a bad one is reported on stderr (`sysctl: cannot stat /proc/sys/...`, `sysctl:
/// setting key "...": Invalid argument`) without stopping the others, and the exit status is 1
/// if any failed.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let (ops, values_only) = parse(words)?;
    let mut client = connect()?;
    let mut failed = false;
    let mut keys: Vec<(String, Option<String>)> = Vec::new();
    let mut out = std::io::stdout();
    let mut err = std::io::stderr();
    for op in ops.into_iter().map(Some).chain([None]) {
        let list_all = match op {
            Some(Op::Read(k)) => {
                keys.push((k, None));
                continue;
            }
            Some(Op::Write(k, v)) => {
                keys.push((k, Some(v)));
                continue;
            }
            Some(Op::All) => true,
            None => false,
        };
        // A list (or the end) after keys: carry those out first, in order.
        if !keys.is_empty() {
            let req = Request::SysctlMany {
                ops: std::mem::take(&mut keys),
            };
            let Response::SysctlMany { results } = call(&mut client, req)? else {
                return Err(Failure("unexpected response from linnetd".into(), 1));
            };
            failed |= report(&results, values_only, &mut out, &mut err)?;
        }
        if list_all {
            let req = Request::Sysctl {
                key: None,
                value: None,
            };
            let Response::Sysctl { values } = call(&mut client, req)? else {
                return Err(Failure("unexpected response from linnetd".into(), 1));
            };
            let results: Vec<_> = values.into_iter().map(Ok).collect();
            failed |= report(&results, values_only, &mut out, &mut err)?;
        }
    }
    Ok(u8::from(failed))
}

/// Print each result as `sysctl(8)` does: `key = value` (or the value alone with `-n`) on
/// `out`, an error's line on `err`, in order. Returns whether any failed.
fn report(
    results: &[Result<SysctlValue, SysctlError>],
    values_only: bool,
    out: &mut impl Write,
    err: &mut impl Write,
) -> std::io::Result<bool> {
    let mut failed = false;
    for r in results {
        match r {
            Ok(v) if values_only => writeln!(out, "{}", v.value)?,
            Ok(v) => writeln!(out, "{} = {}", v.key, v.value)?,
            Err(e) => {
                out.flush()?;
                writeln!(err, "{}", e.message)?;
                failed = true;
            }
        }
    }
    out.flush()?;
    Ok(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn reads_writes_and_errors() {
        let (ops, n) = parse(&w("-w net.ipv4.ip_forward=1 net/ipv4/tcp_sack -n")).unwrap();
        assert!(n);
        assert_eq!(
            ops,
            [
                Op::Write("net.ipv4.ip_forward".into(), "1".into()),
                Op::Read("net.ipv4.tcp_sack".into())
            ]
        );
        assert_eq!(parse(&[]).unwrap().0, [Op::All]);
        assert!(parse(&w("net.ipv4.ip_forward="))
            .err()
            .unwrap()
            .0
            .contains("name=value"));
        assert!(parse(&w("-q")).err().unwrap().0.contains("\"-q\""));
    }

    #[test]
    fn every_key_is_reported_in_order_and_a_bad_one_fails_the_run() {
        let ok = |k: &str, v: &str| {
            Ok(SysctlValue {
                key: k.into(),
                value: v.into(),
            })
        };
        let bad = |m: &str| {
            Err(SysctlError {
                errno: 22,
                message: m.into(),
                why: String::new(),
            })
        };
        let results = [
            ok("net.ipv4.ip_forward", "1"),
            bad("sysctl: setting key \"net.ipv4.ip_default_ttl\": Invalid argument"),
            ok("net.ipv4.tcp_sack", "0"),
        ];
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(report(&results, false, &mut out, &mut err).unwrap());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "net.ipv4.ip_forward = 1\nnet.ipv4.tcp_sack = 0\n"
        );
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "sysctl: setting key \"net.ipv4.ip_default_ttl\": Invalid argument\n"
        );
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(!report(&results[..1], true, &mut out, &mut err).unwrap());
        assert_eq!((out, err), (b"1\n".to_vec(), Vec::new()));
        let (ops, _) = parse(&w("-w net/ipv4/ip_forward=1")).unwrap();
        assert_eq!(ops, [Op::Write("net.ipv4.ip_forward".into(), "1".into())]);
    }
}
