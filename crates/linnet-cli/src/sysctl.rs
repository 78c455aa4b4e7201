//! `linnet sysctl`: read and write the stack's `net.ipv4.*` settings, as `sysctl(8)` does.

use crate::{call, Failure};
use linnet::Client;
use linnet::{Request, Response};

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
                    ops.push(Op::Write(k.trim().into(), v.trim().into()))
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

/// Run `sysctl` with the words after it.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let (ops, values_only) = parse(words)?;
    let mut client = connect()?;
    for op in ops {
        let req = match op {
            Op::All => Request::Sysctl {
                key: None,
                value: None,
            },
            Op::Read(k) => Request::Sysctl {
                key: Some(k),
                value: None,
            },
            Op::Write(k, v) => Request::Sysctl {
                key: Some(k),
                value: Some(v),
            },
        };
        let Response::Sysctl { values } = call(&mut client, req)? else {
            return Err(Failure("unexpected response from linnetd".into(), 1));
        };
        for v in values {
            if values_only {
                println!("{}", v.value);
            } else {
                println!("{} = {}", v.key, v.value);
            }
        }
    }
    Ok(0)
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
}
