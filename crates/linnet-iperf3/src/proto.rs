//! iperf3's control protocol, as iperf3 3.x clients speak it.
//!
//! A test runs over one control connection and one or more data connections, all to the
//! server's port (5201 by default):
//!
//! ```text
//! client                                   server
//!   connect, cookie (37 bytes)   ─────────▶
//!                                ◀───────── PARAM_EXCHANGE
//!   parameters (JSON)            ─────────▶
//!                                ◀───────── CREATE_STREAMS
//!   N × (connect, cookie)        ═════════▶  (data connections, same cookie)
//!                                ◀───────── TEST_START, TEST_RUNNING
//!   data for `time` seconds      ═════════▶  (or ◀═════ with -R)
//!   TEST_END                     ─────────▶
//!                                ◀───────── EXCHANGE_RESULTS
//!   client results (JSON)        ─────────▶
//!                                ◀───────── server results (JSON), DISPLAY_RESULTS
//!   IPERF_DONE                   ─────────▶
//! ```
//!
//! A state is one signed byte; JSON goes as a 4-byte big-endian length and the text. A server
//! that refuses a test sends SERVER_ERROR followed by iperf3's error number and an errno, each a
//! 4-byte big-endian integer; a data connection with a foreign cookie gets ACCESS_DENIED.

use serde_json::{json, Map, Value};
use std::fmt;
use std::io::{self, Read, Write};

/// iperf3's default port.
pub const DEFAULT_PORT: u16 = 5201;
/// Length of the cookie: 36 characters and a NUL.
pub const COOKIE_SIZE: usize = 37;
/// Longest JSON message accepted (results carry at most [`MAX_STREAMS`] small objects).
pub const MAX_JSON_LEN: usize = 1 << 20;
/// Most parallel streams a test may ask for (iperf3: `MAX_STREAMS`).
pub const MAX_STREAMS: u32 = 128;
/// Largest block a test may ask for (iperf3: `MAX_BLOCKSIZE`).
pub const MAX_BLOCKSIZE: usize = 1 << 20;
/// Longest test, in seconds (iperf3: `MAX_TIME`).
pub const MAX_TIME: u64 = 86_400;
/// Longest omitted start, in seconds (iperf3: `MAX_OMIT_TIME`).
pub const MAX_OMIT: u64 = 600;
/// Block size of a TCP test when the client names none (iperf3: `DEFAULT_TCP_BLKSIZE`).
pub const DEFAULT_TCP_BLKSIZE: usize = 128 * 1024;

/// iperf3's error numbers (`i_errno`) that a server sends after SERVER_ERROR; the client prints
/// its own text for them.
pub mod ierr {
    /// "Number of parallel streams too large".
    pub const IENUMSTREAMS: i32 = 6;
    /// "Block size too large".
    pub const IEBLOCKSIZE: i32 = 7;
    /// "Bogus value for --omit".
    pub const IEOMIT: i32 = 12;
    /// "Not implemented yet".
    pub const IEUNIMP: i32 = 13;
    /// "Test duration too long".
    pub const IEDURATION: i32 = 5;
    /// "Unable to receive parameters from client".
    pub const IERECVPARAMS: i32 = 114;
    /// "Received an unknown control message".
    pub const IEMESSAGE: i32 = 110;
    /// "Unable to set TCP/SCTP MSS".
    pub const IESETMSS: i32 = 123;
    /// "Unable to set TCP_CONGESTION".
    pub const IESETCONGESTION: i32 = 134;
}

/// The states the two ends announce on the control connection (iperf3's `iperf_api.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The server starts the test clock.
    TestStart,
    /// Data may flow.
    TestRunning,
    /// The client's time (or byte count) is up.
    TestEnd,
    /// The server wants the parameters.
    ParamExchange,
    /// The server wants the data connections.
    CreateStreams,
    /// The server is shutting down.
    ServerTerminate,
    /// The client was interrupted.
    ClientTerminate,
    /// Results are exchanged next.
    ExchangeResults,
    /// The client may print its report.
    DisplayResults,
    /// Not sent on the wire by 3.x; listed for completeness.
    IperfStart,
    /// The client has finished; the test is over.
    IperfDone,
    /// The server is busy with another test.
    AccessDenied,
    /// The server refuses the test; two integers follow.
    ServerError,
}

impl State {
    /// The byte on the wire (a C `signed char`).
    pub fn code(self) -> i8 {
        match self {
            State::TestStart => 1,
            State::TestRunning => 2,
            State::TestEnd => 4,
            State::ParamExchange => 9,
            State::CreateStreams => 10,
            State::ServerTerminate => 11,
            State::ClientTerminate => 12,
            State::ExchangeResults => 13,
            State::DisplayResults => 14,
            State::IperfStart => 15,
            State::IperfDone => 16,
            State::AccessDenied => -1,
            State::ServerError => -2,
        }
    }

    /// The state a byte stands for, if any.
    pub fn from_code(c: i8) -> Option<State> {
        Some(match c {
            1 => State::TestStart,
            2 => State::TestRunning,
            4 => State::TestEnd,
            9 => State::ParamExchange,
            10 => State::CreateStreams,
            11 => State::ServerTerminate,
            12 => State::ClientTerminate,
            13 => State::ExchangeResults,
            14 => State::DisplayResults,
            15 => State::IperfStart,
            16 => State::IperfDone,
            -1 => State::AccessDenied,
            -2 => State::ServerError,
            _ => return None,
        })
    }
}

/// Send a state byte.
pub fn write_state(w: &mut impl Write, s: State) -> io::Result<()> {
    w.write_all(&[s.code() as u8])
}

/// Read a state byte. End of stream is `UnexpectedEof`, an unknown byte `InvalidData`.
pub fn read_state(r: &mut impl Read) -> io::Result<State> {
    let mut b = [0u8; 1];
    r.read_exact(&mut b)?;
    State::from_code(b[0] as i8).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("unknown control message {}", b[0] as i8),
        )
    })
}

/// Refuse a test: SERVER_ERROR, then iperf3's error number and an errno (0 when none applies).
pub fn write_server_error(w: &mut impl Write, ierrno: i32, errno: i32) -> io::Result<()> {
    let mut msg = Vec::with_capacity(9);
    msg.push(State::ServerError.code() as u8);
    msg.extend_from_slice(&ierrno.to_be_bytes());
    msg.extend_from_slice(&errno.to_be_bytes());
    w.write_all(&msg)
}

/// The token a client sends first on each of its connections; the data connections of a test
/// carry the cookie of its control connection.
#[derive(Clone, PartialEq, Eq)]
pub struct Cookie([u8; COOKIE_SIZE]);

impl Cookie {
    /// Check a received cookie: 36 printable ASCII characters and a NUL.
    pub fn parse(raw: [u8; COOKIE_SIZE]) -> Result<Cookie, String> {
        let (text, nul) = raw.split_at(COOKIE_SIZE - 1);
        if nul != [0] {
            return Err("cookie is not NUL-terminated".into());
        }
        if let Some(b) = text.iter().find(|b| !b.is_ascii_graphic()) {
            return Err(format!("cookie has a non-printable byte {b:#04x}"));
        }
        Ok(Cookie(raw))
    }

    /// Read and check a cookie.
    pub fn read_from(r: &mut impl Read) -> io::Result<Cookie> {
        let mut raw = [0u8; COOKIE_SIZE];
        r.read_exact(&mut raw)?;
        Cookie::parse(raw).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }

    /// The 36 characters.
    pub fn as_str(&self) -> &str {
        // parse() admitted only ASCII.
        std::str::from_utf8(&self.0[..COOKIE_SIZE - 1]).unwrap_or("")
    }

    /// The bytes on the wire.
    pub fn as_bytes(&self) -> &[u8; COOKIE_SIZE] {
        &self.0
    }
}

impl fmt::Debug for Cookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cookie({:?})", self.as_str())
    }
}

/// A JSON message as it goes on the wire: 4-byte big-endian length, then compact JSON text.
pub fn encode_json(v: &Value) -> Vec<u8> {
    let body = v.to_string();
    let mut out = Vec::with_capacity(4 + body.len());
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body.as_bytes());
    out
}

/// Send a JSON message.
pub fn write_json(w: &mut impl Write, v: &Value) -> io::Result<()> {
    w.write_all(&encode_json(v))
}

/// Read a JSON message of at most [`MAX_JSON_LEN`] bytes.
pub fn read_json(r: &mut impl Read) -> io::Result<Value> {
    let mut len = [0u8; 4];
    r.read_exact(&mut len)?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_JSON_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("JSON message of {len} bytes (at most {MAX_JSON_LEN})"),
        ));
    }
    let mut body = vec![0u8; len];
    r.read_exact(&mut body)?;
    serde_json::from_slice(&body)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("bad JSON message: {e}")))
}

/// The transport a test asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `"tcp": true` (the default).
    Tcp,
    /// `"udp": true` (`-u`).
    Udp,
    /// `"sctp": true` (`--sctp`).
    Sctp,
}

/// Which way a data stream carries data, seen from the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The client sends, the server counts what it reads.
    Receive,
    /// The server sends (`-R`, and the second half of `--bidir`'s streams).
    Send,
}

/// A refused test: the error number and errno sent with SERVER_ERROR, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// iperf3's `i_errno` (see [`ierr`]).
    pub ierrno: i32,
    /// An errno for the client's message (0: none).
    pub errno: i32,
    /// For the server's log.
    pub reason: String,
}

impl Refusal {
    /// A refusal without an errno.
    pub fn new(ierrno: i32, reason: impl Into<String>) -> Refusal {
        Refusal {
            ierrno,
            errno: 0,
            reason: reason.into(),
        }
    }
}

/// The test parameters a client sends after PARAM_EXCHANGE.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Transport.
    pub protocol: Protocol,
    /// Seconds at the start left out of the results (`-O`).
    pub omit: u64,
    /// Test length in seconds (`-t`; 0 when `-n` or `-k` end the test).
    pub time: u64,
    /// Bytes to send (`-n`; 0: no limit).
    pub bytes: u64,
    /// Blocks to send (`-k`; 0: no limit).
    pub blocks: u64,
    /// Streams per direction (`-P`).
    pub parallel: u32,
    /// Server sends (`-R`).
    pub reverse: bool,
    /// Both send (`--bidir`).
    pub bidirectional: bool,
    /// Block size of reads and writes (`-l`).
    pub len: usize,
    /// Socket buffer size (`-w`).
    pub window: Option<usize>,
    /// `TCP_NODELAY` (`-N`).
    pub nodelay: bool,
    /// MSS (`-M`).
    pub mss: Option<u32>,
    /// Target rate of each sending stream in bits per second (`-b`; 0: unlimited).
    pub rate: u64,
    /// Congestion control (`-C`).
    pub congestion: Option<String>,
    /// The client wants the server's report in the results (`--get-server-output`).
    pub get_server_output: bool,
    /// The client's version string.
    pub client_version: Option<String>,
}

/// A non-negative integer from a JSON number (cJSON prints large counters as doubles).
fn as_count(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < 1.9e19)
            .map(|f| f.round() as u64)
    })
}

/// A signed integer from a JSON number.
fn as_int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_u64().map(|u| u as i64).or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.2e18)
                .map(|f| f.round() as i64)
        })
    })
}

impl Params {
    /// Parse and check the parameters object. Absent keys take iperf3's defaults.
    pub fn from_json(v: &Value) -> Result<Params, Refusal> {
        let bad = |what: &str| Refusal::new(ierr::IERECVPARAMS, format!("bad parameter {what}"));
        let obj = v.as_object().ok_or_else(|| bad("object"))?;
        let count = |key: &str| -> Result<Option<u64>, Refusal> {
            obj.get(key)
                .map(|v| as_count(v).ok_or_else(|| bad(key)))
                .transpose()
        };
        let flag = |key: &str| {
            obj.get(key)
                .is_some_and(|v| !matches!(v, Value::Bool(false)))
        };
        let text = |key: &str| -> Result<Option<String>, Refusal> {
            obj.get(key)
                .map(|v| v.as_str().map(str::to_string).ok_or_else(|| bad(key)))
                .transpose()
        };
        let protocol = if flag("udp") {
            Protocol::Udp
        } else if flag("sctp") {
            Protocol::Sctp
        } else {
            Protocol::Tcp
        };
        let p = Params {
            protocol,
            omit: count("omit")?.unwrap_or(0),
            time: count("time")?.unwrap_or(10),
            bytes: count("num")?.unwrap_or(0),
            blocks: count("blockcount")?.unwrap_or(0),
            parallel: count("parallel")?.unwrap_or(1).min(u32::MAX.into()) as u32,
            reverse: flag("reverse"),
            bidirectional: flag("bidirectional"),
            len: count("len")?.map_or(DEFAULT_TCP_BLKSIZE, |l| l.min(usize::MAX as u64) as usize),
            window: count("window")?.filter(|w| *w > 0).map(|w| w as usize),
            nodelay: flag("nodelay"),
            mss: count("MSS")?.filter(|m| *m > 0).map(|m| m as u32),
            rate: count("bandwidth")?.unwrap_or(0),
            congestion: text("congestion")?,
            get_server_output: count("get_server_output")?.is_some_and(|g| g != 0),
            client_version: text("client_version")?,
        };
        if p.parallel == 0 || p.parallel > MAX_STREAMS {
            return Err(Refusal::new(
                ierr::IENUMSTREAMS,
                format!("{} parallel streams (1 to {MAX_STREAMS})", p.parallel),
            ));
        }
        if p.len == 0 || p.len > MAX_BLOCKSIZE {
            return Err(Refusal::new(
                ierr::IEBLOCKSIZE,
                format!("block size {} (1 to {MAX_BLOCKSIZE})", p.len),
            ));
        }
        if p.time > MAX_TIME {
            return Err(Refusal::new(
                ierr::IEDURATION,
                format!("duration {} s (at most {MAX_TIME})", p.time),
            ));
        }
        if p.omit > MAX_OMIT {
            return Err(Refusal::new(
                ierr::IEOMIT,
                format!("omit {} s (at most {MAX_OMIT})", p.omit),
            ));
        }
        if p.reverse && p.bidirectional {
            return Err(Refusal::new(
                ierr::IEUNIMP,
                "both reverse and bidirectional".to_string(),
            ));
        }
        Ok(p)
    }

    /// The parameters as a client sends them (what [`Params::from_json`] reads).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        let proto = match self.protocol {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        };
        m.insert(proto.into(), Value::Bool(true));
        m.insert("omit".into(), self.omit.into());
        m.insert("time".into(), self.time.into());
        m.insert("num".into(), self.bytes.into());
        m.insert("blockcount".into(), self.blocks.into());
        m.insert("parallel".into(), self.parallel.into());
        if self.reverse {
            m.insert("reverse".into(), Value::Bool(true));
        }
        if self.bidirectional {
            m.insert("bidirectional".into(), Value::Bool(true));
        }
        m.insert("len".into(), self.len.into());
        if let Some(w) = self.window {
            m.insert("window".into(), w.into());
        }
        if self.nodelay {
            m.insert("nodelay".into(), Value::Bool(true));
        }
        if let Some(mss) = self.mss {
            m.insert("MSS".into(), mss.into());
        }
        if self.rate > 0 {
            m.insert("bandwidth".into(), self.rate.into());
        }
        if let Some(c) = &self.congestion {
            m.insert("congestion".into(), c.clone().into());
        }
        if self.get_server_output {
            m.insert("get_server_output".into(), 1.into());
        }
        if let Some(v) = &self.client_version {
            m.insert("client_version".into(), v.clone().into());
        }
        Value::Object(m)
    }

    /// Data connections the client opens.
    pub fn num_streams(&self) -> usize {
        self.parallel as usize * if self.bidirectional { 2 } else { 1 }
    }

    /// The role of each data connection, in the order the client opens them: with `--bidir`
    /// the client's sending streams come first.
    pub fn roles(&self) -> Vec<Role> {
        let n = self.parallel as usize;
        if self.bidirectional {
            [vec![Role::Receive; n], vec![Role::Send; n]].concat()
        } else if self.reverse {
            vec![Role::Send; n]
        } else {
            vec![Role::Receive; n]
        }
    }

    /// Cap on bytes the server sends in all (`-n`, or `-k` blocks), if any.
    pub fn send_limit(&self) -> Option<u64> {
        if self.bytes > 0 {
            Some(self.bytes)
        } else if self.blocks > 0 {
            Some(self.blocks.saturating_mul(self.len as u64))
        } else {
            None
        }
    }
}

/// The id of the `index`-th data connection (from 0). iperf3 numbers its streams 1, 3, 4, 5...
/// (the second one skips 2); both ends count the same way, and results name streams by id.
pub fn stream_id(index: usize) -> u32 {
    if index == 0 {
        1
    } else {
        index as u32 + 2
    }
}

/// One stream in a results object.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamResult {
    /// Stream id ([`stream_id`]).
    pub id: u32,
    /// Bytes sent (by a sending end) or received (by a receiving end).
    pub bytes: u64,
    /// Retransmitted segments (-1: not known / receiving end).
    pub retransmits: i64,
    /// UDP jitter (0 for TCP).
    pub jitter: f64,
    /// UDP lost datagrams (0 for TCP).
    pub errors: i64,
    /// UDP datagrams (0 for TCP).
    pub packets: i64,
    /// Seconds from the test start to the start of the measured interval.
    pub start_time: f64,
    /// Seconds from the test start to the end of the measured interval.
    pub end_time: f64,
}

/// A results object, exchanged in both directions after TEST_END.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Process CPU use during the test, percent of one CPU: total, user, system.
    pub cpu_util: [f64; 3],
    /// 1: the sender's retransmit counts are real; 0: not known; -1: this end only received.
    pub sender_has_retransmits: i64,
    /// Congestion control of the streams, if known.
    pub congestion_used: Option<String>,
    /// Per-stream counts.
    pub streams: Vec<StreamResult>,
    /// The server's report, when the client asked for it.
    pub server_output_text: Option<String>,
}

impl Results {
    /// The object on the wire.
    pub fn to_json(&self) -> Value {
        let streams: Vec<Value> = self
            .streams
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "bytes": s.bytes,
                    "retransmits": s.retransmits,
                    "jitter": s.jitter,
                    "errors": s.errors,
                    "packets": s.packets,
                    "start_time": s.start_time,
                    "end_time": s.end_time,
                })
            })
            .collect();
        let mut m = Map::new();
        m.insert("cpu_util_total".into(), json!(self.cpu_util[0]));
        m.insert("cpu_util_user".into(), json!(self.cpu_util[1]));
        m.insert("cpu_util_system".into(), json!(self.cpu_util[2]));
        m.insert(
            "sender_has_retransmits".into(),
            self.sender_has_retransmits.into(),
        );
        if let Some(cc) = &self.congestion_used {
            m.insert("congestion_used".into(), cc.clone().into());
        }
        if let Some(text) = &self.server_output_text {
            m.insert("server_output_text".into(), text.clone().into());
        }
        m.insert("streams".into(), Value::Array(streams));
        Value::Object(m)
    }

    /// Parse a results object, requiring the keys iperf3 itself requires.
    pub fn from_json(v: &Value) -> Result<Results, String> {
        let obj = v.as_object().ok_or("results are not an object")?;
        let num = |o: &Map<String, Value>, k: &str| -> Result<f64, String> {
            o.get(k)
                .and_then(Value::as_f64)
                .ok_or_else(|| format!("results lack number {k:?}"))
        };
        let int = |o: &Map<String, Value>, k: &str| -> Result<i64, String> {
            o.get(k)
                .and_then(as_int)
                .ok_or_else(|| format!("results lack integer {k:?}"))
        };
        let cpu_util = [
            num(obj, "cpu_util_total")?,
            num(obj, "cpu_util_user")?,
            num(obj, "cpu_util_system")?,
        ];
        let sender_has_retransmits = int(obj, "sender_has_retransmits")?;
        let list = obj
            .get("streams")
            .and_then(Value::as_array)
            .ok_or("results lack \"streams\"")?;
        if list.len() > 2 * MAX_STREAMS as usize {
            return Err(format!("results list {} streams", list.len()));
        }
        let mut streams = Vec::with_capacity(list.len());
        for s in list {
            let o = s.as_object().ok_or("a stream result is not an object")?;
            let id = int(o, "id")?;
            streams.push(StreamResult {
                id: u32::try_from(id).map_err(|_| format!("stream id {id}"))?,
                bytes: o
                    .get("bytes")
                    .and_then(as_count)
                    .ok_or("a stream result lacks \"bytes\"")?,
                retransmits: int(o, "retransmits")?,
                jitter: num(o, "jitter")?,
                errors: int(o, "errors")?,
                packets: int(o, "packets")?,
                start_time: o.get("start_time").and_then(Value::as_f64).unwrap_or(0.0),
                end_time: o.get("end_time").and_then(Value::as_f64).unwrap_or(0.0),
            });
        }
        Ok(Results {
            cpu_util,
            sender_has_retransmits,
            congestion_used: obj
                .get("congestion_used")
                .and_then(Value::as_str)
                .map(str::to_string),
            streams,
            server_output_text: obj
                .get("server_output_text")
                .and_then(Value::as_str)
                .map(str::to_string),
        })
    }

    /// Bytes over all streams.
    pub fn total_bytes(&self) -> u64 {
        self.streams.iter().map(|s| s.bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parameters iperf3 3.12 sends for `iperf3 -c HOST -t 2 -P 2` (captured with `-d`).
    const IPERF_3_12_PARAMS: &str = r#"{"tcp":true,"omit":0,"time":2,"num":0,"blockcount":0,"parallel":2,"len":131072,"pacing_timer":1000,"client_version":"3.12"}"#;

    #[test]
    fn states_round_trip_and_match_iperf3() {
        let all = [
            (State::TestStart, 1),
            (State::TestRunning, 2),
            (State::TestEnd, 4),
            (State::ParamExchange, 9),
            (State::CreateStreams, 10),
            (State::ServerTerminate, 11),
            (State::ClientTerminate, 12),
            (State::ExchangeResults, 13),
            (State::DisplayResults, 14),
            (State::IperfStart, 15),
            (State::IperfDone, 16),
            (State::AccessDenied, -1),
            (State::ServerError, -2),
        ];
        for (s, code) in all {
            assert_eq!(s.code(), code);
            assert_eq!(State::from_code(code), Some(s));
            let mut wire = Vec::new();
            write_state(&mut wire, s).unwrap();
            assert_eq!(wire, [code as u8]);
            assert_eq!(read_state(&mut &wire[..]).unwrap(), s);
        }
        for unknown in [0i8, 3, 5, 8, 17, -3, 127] {
            assert_eq!(State::from_code(unknown), None);
        }
        let err = read_state(&mut &[3u8][..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let err = read_state(&mut &[][..]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn server_error_is_state_then_two_big_endian_ints() {
        let mut wire = Vec::new();
        write_server_error(&mut wire, ierr::IEUNIMP, 95).unwrap();
        assert_eq!(wire, [0xfe, 0, 0, 0, 13, 0, 0, 0, 95]);
    }

    #[test]
    fn cookies_are_checked() {
        let mut raw = [b'a'; COOKIE_SIZE];
        raw[COOKIE_SIZE - 1] = 0;
        let c = Cookie::parse(raw).unwrap();
        assert_eq!(c.as_str(), "a".repeat(36));
        assert_eq!(Cookie::read_from(&mut &raw[..]).unwrap(), c);
        let mut other = raw;
        other[0] = b'b';
        assert_ne!(Cookie::parse(other).unwrap(), c);
        let mut no_nul = raw;
        no_nul[COOKIE_SIZE - 1] = b'x';
        assert!(Cookie::parse(no_nul).is_err());
        let mut control = raw;
        control[5] = b'\n';
        assert!(Cookie::parse(control).unwrap_err().contains("0x0a"));
        // A short cookie (the peer closed) is an EOF.
        let err = Cookie::read_from(&mut &raw[..10]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    }

    #[test]
    fn json_is_length_prefixed_and_bounded() {
        let v = json!({"a": 1});
        let wire = encode_json(&v);
        assert_eq!(&wire[..4], &[0, 0, 0, 7]);
        assert_eq!(&wire[4..], br#"{"a":1}"#);
        let mut w = Vec::new();
        write_json(&mut w, &v).unwrap();
        assert_eq!(w, wire);
        assert_eq!(read_json(&mut &wire[..]).unwrap(), v);
        // Truncated body, oversized length, not JSON.
        assert_eq!(
            read_json(&mut &wire[..6]).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let huge = ((MAX_JSON_LEN + 1) as u32).to_be_bytes();
        assert_eq!(
            read_json(&mut &huge[..]).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        let junk = [0, 0, 0, 3, b'{', b'x', b'}'];
        assert_eq!(
            read_json(&mut &junk[..]).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn parses_what_iperf3_3_12_sends() {
        let v: Value = serde_json::from_str(IPERF_3_12_PARAMS).unwrap();
        let p = Params::from_json(&v).unwrap();
        assert_eq!(p.protocol, Protocol::Tcp);
        assert_eq!((p.time, p.omit, p.bytes, p.blocks), (2, 0, 0, 0));
        assert_eq!(p.parallel, 2);
        assert_eq!(p.len, 131072);
        assert!(!p.reverse && !p.bidirectional && !p.nodelay);
        assert_eq!(p.window, None);
        assert_eq!(p.client_version.as_deref(), Some("3.12"));
        assert_eq!(p.roles(), vec![Role::Receive, Role::Receive]);
        assert_eq!(p.send_limit(), None);
        // to_json writes what from_json reads.
        assert_eq!(Params::from_json(&p.to_json()).unwrap(), p);
    }

    #[test]
    fn roles_follow_the_direction() {
        let base: Value = serde_json::from_str(IPERF_3_12_PARAMS).unwrap();
        let with = |k: &str| {
            let mut v = base.clone();
            v[k] = Value::Bool(true);
            Params::from_json(&v).unwrap()
        };
        assert_eq!(with("reverse").roles(), vec![Role::Send, Role::Send]);
        let bidir = with("bidirectional");
        assert_eq!(bidir.num_streams(), 4);
        assert_eq!(
            bidir.roles(),
            vec![Role::Receive, Role::Receive, Role::Send, Role::Send]
        );
        let mut both = base.clone();
        both["reverse"] = Value::Bool(true);
        both["bidirectional"] = Value::Bool(true);
        assert!(Params::from_json(&both).is_err());
    }

    #[test]
    fn bad_parameters_are_refused_with_iperf3_error_numbers() {
        let base: Value = serde_json::from_str(IPERF_3_12_PARAMS).unwrap();
        let refuse = |k: &str, val: Value| {
            let mut v = base.clone();
            v[k] = val;
            Params::from_json(&v).unwrap_err().ierrno
        };
        assert_eq!(refuse("parallel", 0.into()), ierr::IENUMSTREAMS);
        assert_eq!(refuse("parallel", 129.into()), ierr::IENUMSTREAMS);
        assert_eq!(refuse("len", 0.into()), ierr::IEBLOCKSIZE);
        assert_eq!(refuse("len", (2 << 20).into()), ierr::IEBLOCKSIZE);
        assert_eq!(refuse("time", 100_000.into()), ierr::IEDURATION);
        assert_eq!(refuse("omit", 601.into()), ierr::IEOMIT);
        assert_eq!(refuse("time", (-1).into()), ierr::IERECVPARAMS);
        assert_eq!(refuse("time", "2".into()), ierr::IERECVPARAMS);
        assert_eq!(refuse("congestion", 5.into()), ierr::IERECVPARAMS);
        assert_eq!(
            Params::from_json(&json!([1])).unwrap_err().ierrno,
            ierr::IERECVPARAMS
        );
        // UDP parses; whether it is served is the server's business.
        let mut udp = base.clone();
        udp.as_object_mut().unwrap().remove("tcp");
        udp["udp"] = Value::Bool(true);
        assert_eq!(Params::from_json(&udp).unwrap().protocol, Protocol::Udp);
        // An empty object is a default test.
        let p = Params::from_json(&json!({})).unwrap();
        assert_eq!((p.time, p.parallel, p.len), (10, 1, DEFAULT_TCP_BLKSIZE));
        let mut n = base.clone();
        n["num"] = 1000.into();
        assert_eq!(Params::from_json(&n).unwrap().send_limit(), Some(1000));
        let mut k = base;
        k["blockcount"] = 3.into();
        assert_eq!(
            Params::from_json(&k).unwrap().send_limit(),
            Some(3 * 131072)
        );
    }

    #[test]
    fn stream_ids_skip_two_like_iperf3() {
        let ids: Vec<u32> = (0..5).map(stream_id).collect();
        assert_eq!(ids, [1, 3, 4, 5, 6]);
    }

    #[test]
    fn results_round_trip_and_parse_iperf3_output() {
        // What iperf3 3.12 sent as a client (`-d` output), sender_has_retransmits 1.
        let client = r#"{"cpu_util_total":98.1,"cpu_util_user":1.2,"cpu_util_system":96.9,
            "sender_has_retransmits":1,"congestion_used":"bbr","streams":[
            {"id":1,"bytes":1110048768,"retransmits":2,"jitter":0,"errors":0,"packets":0,"start_time":0,"end_time":1.001524},
            {"id":3,"bytes":4.22019072e9,"retransmits":1,"jitter":0,"errors":0,"packets":0}]}"#;
        let r = Results::from_json(&serde_json::from_str(client).unwrap()).unwrap();
        assert_eq!(r.sender_has_retransmits, 1);
        assert_eq!(r.congestion_used.as_deref(), Some("bbr"));
        assert_eq!(r.streams.len(), 2);
        assert_eq!(r.streams[0].id, 1);
        assert_eq!(r.streams[0].bytes, 1_110_048_768);
        assert_eq!(r.streams[0].end_time, 1.001524);
        assert_eq!(r.streams[1].id, 3);
        assert_eq!(r.streams[1].bytes, 4_220_190_720);
        assert_eq!(r.streams[1].end_time, 0.0);
        assert_eq!(r.total_bytes(), 1_110_048_768 + 4_220_190_720);
        let back = Results::from_json(&r.to_json()).unwrap();
        assert_eq!(back, r);
        // A receiving server's results: -1 for what it cannot know.
        let server = Results {
            cpu_util: [10.0, 4.0, 6.0],
            sender_has_retransmits: -1,
            congestion_used: None,
            streams: vec![StreamResult {
                id: 1,
                bytes: 5,
                retransmits: -1,
                jitter: 0.0,
                errors: 0,
                packets: 0,
                start_time: 0.0,
                end_time: 2.0,
            }],
            server_output_text: Some("hello".into()),
        };
        let v = server.to_json();
        assert_eq!(v["sender_has_retransmits"], -1);
        assert_eq!(v["streams"][0]["retransmits"], -1);
        assert_eq!(v["streams"][0]["bytes"], 5);
        assert_eq!(v["server_output_text"], "hello");
        assert!(v.get("congestion_used").is_none());
        assert_eq!(Results::from_json(&v).unwrap(), server);
    }

    #[test]
    fn incomplete_results_are_rejected() {
        let full = json!({"cpu_util_total":1,"cpu_util_user":1,"cpu_util_system":0,
            "sender_has_retransmits":0,"streams":[{"id":1,"bytes":1,"retransmits":0,
            "jitter":0,"errors":0,"packets":0}]});
        assert!(Results::from_json(&full).is_ok());
        for key in [
            "cpu_util_total",
            "cpu_util_user",
            "cpu_util_system",
            "sender_has_retransmits",
            "streams",
        ] {
            let mut v = full.clone();
            v.as_object_mut().unwrap().remove(key);
            let err = Results::from_json(&v).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
        for key in ["id", "bytes", "retransmits", "jitter", "errors", "packets"] {
            let mut v = full.clone();
            v["streams"][0].as_object_mut().unwrap().remove(key);
            let err = Results::from_json(&v).unwrap_err();
            assert!(err.contains(key), "{key}: {err}");
        }
        let mut v = full;
        v["streams"][0]["id"] = (-4).into();
        assert!(Results::from_json(&v).is_err());
    }
}
