//! `linnet iptables`, `linnet iptables-save`, `linnet iptables-restore`: iptables's text is
//! read and written here, in user space (`linnet-tools`), and the daemon is asked for tables
//! and given typed changes, as iptables(8) reads and replaces the kernel's tables. Exit
//! status as iptables's: 1 other problem, 2 parameter problem, 4 resource problem.

use crate::Failure;
use linnet::netfilter::change::TableChange;
use linnet::netfilter::table::{Table, TableId};
use linnet::netfilter::NfError;
use linnet::Client;
use linnet::{Request, Response};
use linnet_tools::iptables::{self as ipt, Backend};
use std::io::Read;

/// A daemon's tables, through its control socket.
struct Daemon(Client);

impl Daemon {
    fn call(&mut self, req: Request) -> Result<Response, NfError> {
        self.0.call(req).map_err(|e| NfError::new(e.to_string()))
    }
}

/// The daemon's answer to a change.
fn done(resp: Response) -> Result<(), NfError> {
    match resp {
        Response::Ok => Ok(()),
        Response::NfError { message, status } => Err(NfError { message, status }),
        Response::Error { message, .. } => Err(NfError::new(message)),
        other => Err(NfError::new(format!("unexpected answer {other:?}"))),
    }
}

impl Backend for Daemon {
    fn get_table(&mut self, id: TableId) -> Result<(Table, Option<u64>), NfError> {
        match self.call(Request::NfGetTable { table: id })? {
            Response::NfTable { table, gen } => Ok((table, Some(gen))),
            other => done(other).and(Err(NfError::new("unexpected answer Ok"))),
        }
    }

    fn change(&mut self, id: TableId, gen: Option<u64>, c: TableChange) -> Result<(), NfError> {
        done(self.call(Request::NfChange {
            table: id,
            gen,
            change: Box::new(c),
        })?)
    }

    fn replace(&mut self, tables: Vec<Table>) -> Result<(), NfError> {
        let req = Request::NfReplace { tables };
        check_size(&req)?;
        done(self.call(req)?)
    }
}

fn failure(e: NfError) -> Failure {
    Failure(e.message, e.status)
}

/// Print what a command printed.
fn answer(r: Result<String, NfError>) -> Result<u8, Failure> {
    let text = r.map_err(failure)?;
    print!("{text}");
    Ok(0)
}

/// `iptables ARGS...`.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let mut d = Daemon(connect()?);
    answer(ipt::do_command(&mut d, words))
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
    let mut d = Daemon(connect()?);
    answer(ipt::save(&mut d, table.as_deref()))
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
    let mut d = Daemon(connect()?);
    ipt::restore::restore(&mut d, &text, noflush).map_err(failure)?;
    Ok(0)
}

/// A request must fit one control-socket line.
fn check_size(req: &Request) -> Result<(), NfError> {
    let n = serde_json::to_string(req).map_or(usize::MAX, |s| s.len());
    if n >= linnet::control::MAX_REQUEST {
        return Err(NfError::new(format!(
            "iptables-restore: input too large for the control socket ({n} bytes encoded, at most {})",
            linnet::control::MAX_REQUEST - 1
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use linnet_tools::iptables::Iptables;

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

    /// The tables an iptables-restore of `text` would send.
    fn restored(text: &str) -> Request {
        let mut s = linnet::Stack::default();
        s.iptables_restore(text, false).unwrap();
        let tables = [TableId::Filter, TableId::Nat]
            .map(|id| s.netfilter().table(id).clone())
            .to_vec();
        Request::NfReplace { tables }
    }

    #[test]
    fn oversized_restore_is_refused_before_sending() {
        let small = restored("*filter\nCOMMIT\n");
        assert!(check_size(&small).is_ok());
        let big = restored(&format!(
            "*filter\n{}COMMIT\n",
            "-A INPUT -j ACCEPT\n".repeat(5000)
        ));
        assert!(check_size(&big)
            .unwrap_err()
            .message
            .contains("input too large"));
    }

    #[test]
    fn errors_keep_iptables_status() {
        let e = answer(
            done(Response::NfError {
                message: "iptables: Chain 'X' does not exist".into(),
                status: 1,
            })
            .map(|()| String::new()),
        )
        .unwrap_err();
        assert_eq!(
            (e.0.as_str(), e.1),
            ("iptables: Chain 'X' does not exist", 1)
        );
        assert_eq!(
            answer(done(Response::Ok).map(|()| String::new())).unwrap(),
            0
        );
    }
}
