//! `linnet iptables`, `linnet iptables-save`, `linnet iptables-restore`: iptables's command
//! lines, sent whole to the daemon, whose library parses them (so errors are iptables's own
//! words wherever the command comes from). Exit status as iptables's: 1 other problem,
//! 2 parameter problem.

use crate::Failure;
use linnet::control::client::Client;
use linnet::control::{Request, Response};
use std::io::Read;

fn answer(resp: Response) -> Result<u8, Failure> {
    match resp {
        Response::NfText { text } => {
            print!("{text}");
            Ok(0)
        }
        Response::Ok => Ok(0),
        Response::NfError { message, status } => Err(Failure(message, status)),
        Response::Error { message, .. } => Err(Failure(message, 1)),
        other => Err(Failure(format!("unexpected answer {other:?}"), 1)),
    }
}

/// `iptables ARGS...`.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let mut c = connect()?;
    answer(c.call(Request::Iptables {
        argv: words.to_vec(),
    })?)
}

/// Parse `iptables-save [-t table]`.
pub fn parse_save(words: &[String]) -> Result<Option<String>, Failure> {
    let mut table = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "-t" | "--table" => {
                table = Some(
                    it.next()
                        .ok_or_else(|| {
                            Failure(
                                "iptables-save: option '--table' requires an argument".into(),
                                1,
                            )
                        })?
                        .clone(),
                );
            }
            o => {
                return Err(Failure(
                    format!("iptables-save: unrecognized option '{o}'"),
                    1,
                ))
            }
        }
    }
    Ok(table)
}

/// `iptables-save [-t table]`.
pub fn run_save(
    words: &[String],
    connect: impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let table = parse_save(words)?;
    let mut c = connect()?;
    answer(c.call(Request::IptablesSave { table })?)
}

/// Parse `iptables-restore [-n|--noflush]`.
pub fn parse_restore(words: &[String]) -> Result<bool, Failure> {
    let mut noflush = false;
    for w in words {
        match w.as_str() {
            "-n" | "--noflush" => noflush = true,
            o => {
                return Err(Failure(
                    format!("iptables-restore: unrecognized option '{o}'"),
                    1,
                ))
            }
        }
    }
    Ok(noflush)
}

/// `iptables-restore [--noflush] < rules`.
pub fn run_restore(
    words: &[String],
    connect: impl Fn() -> Result<Client, Failure>,
) -> Result<u8, Failure> {
    let noflush = parse_restore(words)?;
    let mut text = String::new();
    std::io::stdin()
        .take(4 * linnet::control::MAX_LINE as u64)
        .read_to_string(&mut text)?;
    let req = Request::IptablesRestore { text, noflush };
    check_size(&req)?;
    let mut c = connect()?;
    answer(c.call(req)?)
}

/// A request must fit one control-socket line.
fn check_size(req: &Request) -> Result<(), Failure> {
    let n = serde_json::to_string(req).map_or(usize::MAX, |s| s.len());
    if n >= linnet::control::MAX_LINE {
        return Err(Failure(
            format!(
                "iptables-restore: input too large for the control socket ({n} bytes encoded, at most {})",
                linnet::control::MAX_LINE - 1
            ),
            1,
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn save_and_restore_options() {
        assert_eq!(parse_save(&w("-t nat")).unwrap(), Some("nat".into()));
        assert_eq!(parse_save(&w("")).unwrap(), None);
        assert_eq!(
            parse_save(&w("-c")).unwrap_err().0,
            "iptables-save: unrecognized option '-c'"
        );
        assert!(parse_restore(&w("--noflush")).unwrap());
        assert!(!parse_restore(&w("")).unwrap());
        assert!(parse_restore(&w("-x")).is_err());
    }

    #[test]
    fn oversized_restore_is_refused_before_sending() {
        let small = Request::IptablesRestore {
            text: "*filter\nCOMMIT\n".into(),
            noflush: false,
        };
        assert!(check_size(&small).is_ok());
        let big = Request::IptablesRestore {
            text: "-A INPUT -j ACCEPT\n".repeat(5000),
            noflush: false,
        };
        assert!(check_size(&big).unwrap_err().0.contains("input too large"));
    }

    #[test]
    fn errors_keep_iptables_status() {
        let e = answer(Response::NfError {
            message: "iptables: Chain 'X' does not exist".into(),
            status: 1,
        })
        .unwrap_err();
        assert_eq!(
            (e.0.as_str(), e.1),
            ("iptables: Chain 'X' does not exist", 1)
        );
        assert_eq!(answer(Response::Ok).unwrap(), 0);
    }
}
