//! iptables's command line (`-A/-I/-D/-R/-L/-S/-F/-Z/-N/-X/-P/-C/-E`, `-t`, `-n -v -x
//! --line-numbers`) into a [`Command`]; the rule's own words are kept for
//! [`super::rule::parse_rule`], which needs the table.
//!
//! Linux userspace: iptables/xshared.c (`do_parse`).

use super::ext;
use linnet::netfilter::table::TableId;
use linnet::netfilter::NfError;

/// What an iptables command does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `-A chain rule`.
    Append,
    /// `-I chain [num] rule`.
    Insert,
    /// `-D chain rule|num`.
    Delete,
    /// `-R chain num rule`.
    Replace,
    /// `-L [chain]`.
    List,
    /// `-S [chain]`.
    ListRules,
    /// `-F [chain]`.
    Flush,
    /// `-Z [chain]`.
    Zero,
    /// `-N chain`.
    NewChain,
    /// `-X [chain]`.
    DeleteChain,
    /// `-P chain target`.
    Policy,
    /// `-C chain rule`: does the rule exist?
    Check,
    /// `-E old new`: rename a user-defined chain.
    Rename,
}

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// `-t`.
    pub table: TableId,
    /// The command.
    pub op: Op,
    /// Its chain.
    pub chain: Option<String>,
    /// Rule number (1-based).
    pub num: Option<usize>,
    /// `-P`'s policy word, `-E`'s new name.
    pub policy: Option<String>,
    /// The rule's words.
    pub rule: Vec<String>,
    /// `-n`.
    pub numeric: bool,
    /// `-v`.
    pub verbose: bool,
    /// `-x`.
    pub exact: bool,
    /// `--line-numbers`.
    pub line_numbers: bool,
}

/// Options of the rule that take values, and how many; the command parser skips over them.
/// Linux userspace: the generic options of `do_parse` and each extension's `extra_opts`.
fn rule_option_arity(w: &str) -> Option<usize> {
    const GENERIC: &[(&str, usize)] = &[
        ("-s", 1),
        ("--source", 1),
        ("--src", 1),
        ("-d", 1),
        ("--destination", 1),
        ("--dst", 1),
        ("-p", 1),
        ("--protocol", 1),
        ("-i", 1),
        ("--in-interface", 1),
        ("-o", 1),
        ("--out-interface", 1),
        ("-j", 1),
        ("--jump", 1),
        ("-g", 1),
        ("--goto", 1),
        ("-m", 1),
        ("--match", 1),
        ("!", 0),
    ];
    GENERIC
        .iter()
        .chain(ext::OPTIONS.iter().flat_map(|o| o.iter()))
        .find(|(name, _)| *name == w)
        .map(|(_, n)| *n)
}

fn op_flag(op: &Op) -> &'static str {
    match op {
        Op::Append => "-A",
        Op::Insert => "-I",
        Op::Delete => "-D",
        Op::Replace => "-R",
        Op::List => "-L",
        Op::ListRules => "-S",
        Op::Flush => "-F",
        Op::Zero => "-Z",
        Op::NewChain => "-N",
        Op::DeleteChain => "-X",
        Op::Policy => "-P",
        Op::Check => "-C",
        Op::Rename => "-E",
    }
}

fn parse_num(w: &str) -> Option<usize> {
    if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    w.parse().ok()
}

/// The walk over the words of a command line.
struct Parser<'a> {
    words: Vec<&'a str>,
    /// Index of the word being read.
    i: usize,
    op: Option<Op>,
    table_given: bool,
    c: Command,
}

impl<'a> Parser<'a> {
    /// The value of the option at `i`, which must be there.
    fn need(&self, flag: &str) -> Result<&'a str, NfError> {
        self.words
            .get(self.i + 1)
            .copied()
            .filter(|w| !w.starts_with('-') || w.len() == 1)
            .ok_or_else(|| NfError::param(format!("option \"{flag}\" requires an argument")))
    }

    /// The word after `i`, if it is not an option.
    fn optional(&self) -> Option<&'a str> {
        self.words
            .get(self.i + 1)
            .copied()
            .filter(|w| !w.starts_with('-') && *w != "!")
    }

    fn set_op(&mut self, o: Op) -> Result<(), NfError> {
        if let Some(prev) = &self.op {
            return Err(NfError::param(format!(
                "Cannot use {} with {}",
                op_flag(&o),
                op_flag(prev)
            )));
        }
        self.op = Some(o);
        Ok(())
    }

    /// One flag; `last` says whether it is the last of a group (`-nvL`), the only one that
    /// may take the following word.
    fn flag(&mut self, f: &str, last: bool) -> Result<(), NfError> {
        match f {
            "-t" | "--table" => self.table(f)?,
            "-A" | "--append" | "-N" | "--new-chain" | "-C" | "--check" => {
                self.set_op(match f {
                    "-A" | "--append" => Op::Append,
                    "-C" | "--check" => Op::Check,
                    _ => Op::NewChain,
                })?;
                self.c.chain = Some(self.need(f)?.to_string());
                self.i += 1;
            }
            "-I" | "--insert" | "-D" | "--delete" | "-R" | "--replace" => self.numbered(f)?,
            "-L" | "--list" | "-S" | "--list-rules" | "-F" | "--flush" | "-Z" | "--zero" | "-X"
            | "--delete-chain" => self.listing(f, last)?,
            "-P" | "--policy" | "-E" | "--rename-chain" => {
                self.set_op(if matches!(f, "-P" | "--policy") {
                    Op::Policy
                } else {
                    Op::Rename
                })?;
                self.c.chain = Some(self.need(f)?.to_string());
                self.i += 1;
                self.c.policy = Some(self.need(f)?.to_string());
                self.i += 1;
            }
            "-n" | "--numeric" => self.c.numeric = true,
            "-v" | "--verbose" => self.c.verbose = true,
            "-x" | "--exact" => self.c.exact = true,
            "--line-numbers" => self.c.line_numbers = true,
            "-w" | "--wait" => {
                if self.optional().and_then(parse_num).is_some() {
                    self.i += 1;
                }
            }
            _ => self.rule_word(f)?,
        }
        Ok(())
    }

    /// `-t table`.
    fn table(&mut self, f: &str) -> Result<(), NfError> {
        let t = self.need(f)?;
        if self.table_given {
            return Err(NfError::param("multiple -t flags not allowed"));
        }
        self.c.table = TableId::from_name(t).ok_or_else(|| NfError {
            message: format!(
                "iptables v1.8.9 (linnet): can't initialize iptables table `{t}': Table does not exist (do you need to insmod?)"
            ),
            status: 3,
        })?;
        self.table_given = true;
        self.i += 1;
        Ok(())
    }

    /// `-I/-D/-R chain [num]`.
    fn numbered(&mut self, f: &str) -> Result<(), NfError> {
        let o = match f {
            "-I" | "--insert" => Op::Insert,
            "-D" | "--delete" => Op::Delete,
            _ => Op::Replace,
        };
        self.c.chain = Some(self.need(f)?.to_string());
        self.i += 1;
        if let Some(n) = self.optional().and_then(parse_num) {
            if n == 0 {
                return Err(NfError::param("Invalid rule number `0'"));
            }
            self.c.num = Some(n);
            self.i += 1;
        } else if o == Op::Replace {
            return Err(NfError::param("-R requires a rule number"));
        }
        self.set_op(o)
    }

    /// `-L/-S/-F/-Z/-X [chain [num]]`.
    fn listing(&mut self, f: &str, last: bool) -> Result<(), NfError> {
        let o = match f {
            "-L" | "--list" => Op::List,
            "-S" | "--list-rules" => Op::ListRules,
            "-F" | "--flush" => Op::Flush,
            "-Z" | "--zero" => Op::Zero,
            _ => Op::DeleteChain,
        };
        self.set_op(o.clone())?;
        let Some(ch) = self.optional().filter(|_| last) else {
            return Ok(());
        };
        self.c.chain = Some(ch.to_string());
        self.i += 1;
        if matches!(o, Op::List | Op::ListRules | Op::Zero) {
            if let Some(n) = self.optional().and_then(parse_num) {
                self.c.num = Some(n);
                self.i += 1;
            }
        }
        Ok(())
    }

    /// A word of the rule, with the values its option takes.
    fn rule_word(&mut self, f: &str) -> Result<(), NfError> {
        let Some(n) = rule_option_arity(f) else {
            if f.starts_with('-') && f.len() > 1 {
                return Err(NfError::param(format!("unknown option \"{f}\"")));
            }
            return Err(NfError::param(format!("Bad argument `{f}'")));
        };
        self.c.rule.push(f.to_string());
        for j in 0..n {
            let v = self
                .words
                .get(self.i + 1 + j)
                .ok_or_else(|| NfError::param(format!("option \"{f}\" requires an argument")))?;
            self.c.rule.push((*v).to_string());
        }
        self.i += n;
        Ok(())
    }
}

/// Parse an iptables command line (without the leading `iptables`).
/// Linux userspace: `do_parse` (iptables/xshared.c).
pub fn parse_command<S: AsRef<str>>(argv: &[S]) -> Result<Command, NfError> {
    let mut p = Parser {
        words: argv.iter().map(|s| s.as_ref()).collect(),
        i: 0,
        op: None,
        table_given: false,
        c: Command {
            table: TableId::Filter,
            op: Op::List,
            chain: None,
            num: None,
            policy: None,
            rule: Vec::new(),
            numeric: false,
            verbose: false,
            exact: false,
            line_numbers: false,
        },
    };
    while p.i < p.words.len() {
        let w = p.words[p.i];
        // Grouped short flags: -nvL, -vnL INPUT, -nL.
        let flags: Vec<String> = if w.len() > 2
            && w.starts_with('-')
            && !w.starts_with("--")
            && w[1..].chars().all(|ch| "nvxLSFZX".contains(ch))
        {
            w[1..].chars().map(|ch| format!("-{ch}")).collect()
        } else {
            vec![w.to_string()]
        };
        let last = flags.len() - 1;
        for (k, f) in flags.iter().enumerate() {
            p.flag(f, k == last)?;
        }
        p.i += 1;
    }
    let mut c = p.c;
    c.op = p.op.ok_or_else(|| NfError::param("no command specified"))?;
    let takes_rule = matches!(c.op, Op::Append | Op::Insert | Op::Replace | Op::Check)
        || c.op == Op::Delete && c.num.is_none();
    if !takes_rule && !c.rule.is_empty() {
        return Err(NfError::param(format!(
            "Illegal option `{}' with this command",
            c.rule[0]
        )));
    }
    if c.op == Op::Delete && c.num.is_some() && !c.rule.is_empty() {
        return Err(NfError::param(format!("Bad argument `{}'", c.rule[0])));
    }
    Ok(c)
}
