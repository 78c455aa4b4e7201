//! `linnet conntrack -L|-C`: the connection tracking table, in conntrack-tools' format.

use crate::{call, Failure};
use linnet::Client;
use linnet::{Request, Response};

/// What to do.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    /// `-L`: list connections.
    List,
    /// `-C`: count them.
    Count,
}

/// Parse `conntrack -L [conntrack] | -C`.
pub fn parse(words: &[String]) -> Result<Op, Failure> {
    match words.iter().map(|s| s.as_str()).collect::<Vec<_>>()[..] {
        ["-L"] | ["--dump"] | ["-L", "conntrack"] | ["--dump", "conntrack"] => Ok(Op::List),
        ["-C"] | ["--count"] => Ok(Op::Count),
        [] => Err(Failure("conntrack v1.4.7 (conntrack-tools): no command specified\nTry `conntrack -h' or 'conntrack --help' for more information.".into(), 2)),
        [w, ..] => Err(Failure(format!("conntrack v1.4.7 (conntrack-tools): Bad parameter `{w}'\nTry `conntrack -h' or 'conntrack --help' for more information."), 2)),
    }
}

/// Run `conntrack` with the words after it.
pub fn run(words: &[String], connect: impl Fn() -> Result<Client, Failure>) -> Result<u8, Failure> {
    let op = parse(words)?;
    let mut c = connect()?;
    let Response::Conntrack { entries } = call(&mut c, Request::ConntrackList)? else {
        return Err(Failure("unexpected answer".into(), 1));
    };
    match op {
        Op::List => {
            for e in &entries {
                println!("{}", e.line());
            }
            eprintln!(
                "conntrack v1.4.7 (conntrack-tools): {} flow entries have been shown.",
                entries.len()
            );
        }
        Op::Count => println!("{}", entries.len()),
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let w = |s: &str| s.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(parse(&w("-L")).unwrap(), Op::List);
        assert_eq!(parse(&w("-L conntrack")).unwrap(), Op::List);
        assert_eq!(parse(&w("-C")).unwrap(), Op::Count);
        assert!(parse(&w("-X"))
            .unwrap_err()
            .0
            .contains("Bad parameter `-X'"));
    }
}
