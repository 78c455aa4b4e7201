//! The CLI side of the control socket.

use super::{Envelope, Request, Response, MAX_LINE, VERSION};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// A connection to a running daemon.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connect to the daemon's socket.
    pub fn connect(path: &Path) -> io::Result<Client> {
        let s = UnixStream::connect(path).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot reach linnetd at {}: {e} — is it running? Start it with \
                     `sudo linnetd --tap tap0 --addr 192.0.2.2/24` (or point at its socket with -S PATH)",
                    path.display()
                ),
            )
        })?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        Ok(Client {
            reader: BufReader::new(s.try_clone()?),
            writer: s,
        })
    }

    /// Send a request and wait for its response.
    pub fn call(&mut self, req: Request) -> io::Result<Response> {
        self.send(req)?;
        self.recv()
    }

    /// Send a request without waiting (a streaming request's responses follow with
    /// [`Client::recv`]).
    pub fn send(&mut self, req: Request) -> io::Result<()> {
        let mut line = serde_json::to_vec(&Envelope {
            version: VERSION,
            body: req,
        })
        .map_err(io::Error::other)?;
        line.push(b'\n');
        self.writer.write_all(&line)
    }

    /// Wait for the next response (of a streaming request, a batch).
    pub fn recv(&mut self) -> io::Result<Response> {
        let mut buf = Vec::new();
        (&mut self.reader)
            .take(16 * MAX_LINE as u64)
            .read_until(b'\n', &mut buf)?;
        if buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "linnetd closed the connection",
            ));
        }
        let env: Envelope<Response> = serde_json::from_slice(&buf)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        if env.version != VERSION {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("linnetd speaks control protocol {}", env.version),
            ));
        }
        Ok(env.body)
    }
}
