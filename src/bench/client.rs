//! One message through the milter protocol on a fresh connection, as an MTA
//! sends it for an SMTP session with one transaction: negotiate, connect,
//! HELO, MAIL, RCPT, DATA, headers, end of headers, body chunks, end of
//! message, quit.
//!
//! Commands to stages the milter does not reply to (the no-reply options it
//! negotiated) are buffered and written with the next command that waits
//! for a reply, so they cost no round trip of their own. Stages the milter
//! asked not to receive are not sent.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};

use super::corpus::CorpusMessage;
use super::protocol::{self, Negotiated, Reply, opts, push_frame};

/// Envelope and connection values the generator sends. They are documented
/// example names and addresses (RFC 2606, RFC 5737), so no milter acts on a
/// real host.
const CLIENT_NAME: &[u8] = b"bench-client.example.net\0";
const HELO_NAME: &[u8] = b"bench-client.example.net\0";
const SENDER: &[u8] = b"<sender@example.net>\0";
const RECIPIENT: &[u8] = b"<postmaster@example.org>\0";

/// A corpus message with its header and body packets built once, so the
/// generator spends its share of the CPU on the exchange only.
#[derive(Debug)]
pub struct PreparedMessage {
    headers: Vec<Vec<u8>>,
    body_chunks: Vec<Vec<u8>>,
}

impl PreparedMessage {
    /// Builds the header packets and the body packets of at most
    /// [`protocol::MAX_BODY_CHUNK`] bytes each.
    pub fn new(message: &CorpusMessage) -> PreparedMessage {
        let headers = message
            .headers
            .iter()
            .map(|(name, value)| {
                let mut frame = Vec::with_capacity(name.len() + value.len() + 7);
                push_frame(&mut frame, b'L', &[name, b"\0", value, b"\0"]);
                frame
            })
            .collect();
        let body_chunks = message
            .body
            .chunks(protocol::MAX_BODY_CHUNK)
            .map(|chunk| {
                let mut frame = Vec::with_capacity(chunk.len() + 5);
                push_frame(&mut frame, b'B', &[chunk]);
                frame
            })
            .collect();
        PreparedMessage {
            headers,
            body_chunks,
        }
    }
}

/// The milter's disposition of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accept, or continue at end of message (which means accept).
    Accept,
    Reject,
    Tempfail,
    Discard,
    /// Accepted with a quarantine action.
    Quarantine,
}

/// Per-exchange settings.
#[derive(Debug, Clone, Copy)]
pub struct ExchangeOptions {
    /// Offer no no-reply options at negotiation.
    pub reply_every_stage: bool,
    /// Pause between the last body chunk and end of message, to hold the
    /// session open.
    pub hold: Duration,
}

/// One milter connection carrying one message.
struct Exchange<S> {
    stream: BufReader<S>,
    out: Vec<u8>,
    reply: Vec<u8>,
    negotiated: Negotiated,
    quarantined: bool,
    /// Queue id sent in the `i` macro, unique per message of a run.
    queue_id: String,
}

/// Sends `message` over `stream` and returns the milter's disposition.
///
/// # Errors
/// An I/O error, or a reply the protocol does not allow at that point.
pub async fn send_message<S>(
    stream: S,
    message: &PreparedMessage,
    index: usize,
    options: ExchangeOptions,
) -> io::Result<Outcome>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let offered = protocol::offered_opts(options.reply_every_stage);
    let mut exchange = Exchange {
        stream: BufReader::new(stream),
        out: Vec::with_capacity(8192),
        reply: Vec::with_capacity(256),
        negotiated: Negotiated {
            version: 0,
            actions: 0,
            protocol: 0,
        },
        quarantined: false,
        queue_id: format!("B{index:09X}"),
    };
    protocol::negotiate_frame(&mut exchange.out, offered);
    let code = exchange.read_reply().await?;
    if code != b'O' {
        return Err(protocol::protocol_error(&format!(
            "expected the negotiation reply 'O', got {:?}",
            code as char
        )));
    }
    exchange.negotiated = protocol::parse_negotiated(&exchange.reply, offered)?;

    let outcome = match exchange.envelope(index).await? {
        Some(outcome) => outcome,
        None => exchange.content(message, options.hold).await?,
    };
    push_frame(&mut exchange.out, b'Q', &[]);
    exchange.flush().await?;
    Ok(outcome)
}

impl<S: AsyncRead + AsyncWrite + Unpin> Exchange<S> {
    /// Connect, HELO, MAIL, RCPT and DATA. Returns the outcome when the
    /// milter settled the message at one of these stages.
    async fn envelope(&mut self, index: usize) -> io::Result<Option<Outcome>> {
        let octet = (index % 250 + 1) as u8;
        let address = format!("192.0.2.{octet}\0");
        let queue_id = self.queue_id.clone();
        // The client port varies like a real one; any value is valid.
        let port = (40_000 + index % 20_000) as u16;

        let client = format!("bench-client.example.net [192.0.2.{octet}]");
        macros(
            &mut self.out,
            b'C',
            &[
                (b"j", b"mx.example.org"),
                (b"{daemon_name}", b"bench"),
                (b"{daemon_addr}", b"203.0.113.25"),
                (b"v", b"wormsign bench"),
                (b"_", client.as_bytes()),
            ],
        );
        let connect: [&[u8]; 5] = [
            CLIENT_NAME,
            b"4",
            &port.to_be_bytes(),
            address.as_bytes(),
            b"",
        ];
        if let Some(outcome) = self
            .stage(b'C', &connect, opts::NO_CONNECT, opts::NOREPLY_CONNECT)
            .await?
        {
            return Ok(Some(outcome));
        }
        if let Some(outcome) = self
            .stage(b'H', &[HELO_NAME], opts::NO_HELO, opts::NOREPLY_HELO)
            .await?
        {
            return Ok(Some(outcome));
        }
        macros(
            &mut self.out,
            b'M',
            &[
                (b"i", queue_id.as_bytes()),
                (b"{mail_addr}", b"sender@example.net"),
            ],
        );
        if let Some(outcome) = self
            .stage(b'M', &[SENDER], opts::NO_MAIL, opts::NOREPLY_MAIL)
            .await?
        {
            return Ok(Some(outcome));
        }
        macros(
            &mut self.out,
            b'R',
            &[
                (b"i", queue_id.as_bytes()),
                (b"{rcpt_addr}", b"postmaster@example.org"),
            ],
        );
        if let Some(outcome) = self
            .stage(b'R', &[RECIPIENT], opts::NO_RCPT, opts::NOREPLY_RCPT)
            .await?
        {
            return Ok(Some(outcome));
        }
        // SMFIC_DATA exists from protocol version 4 on.
        if self.negotiated.version >= 4 {
            macros(&mut self.out, b'T', &[(b"i", queue_id.as_bytes())]);
            return self
                .stage(b'T', &[], opts::NO_DATA, opts::NOREPLY_DATA)
                .await;
        }
        Ok(None)
    }

    /// Headers, end of headers, body and end of message.
    async fn content(&mut self, message: &PreparedMessage, hold: Duration) -> io::Result<Outcome> {
        if !self.negotiated.skips(opts::NO_HEADER) {
            let silent = self.negotiated.silent(opts::NOREPLY_HEADER);
            for frame in &message.headers {
                self.out.extend_from_slice(frame);
                if !silent && let Some(outcome) = self.settle().await? {
                    return Ok(outcome);
                }
            }
        }
        let queue_id = self.queue_id.clone();
        macros(&mut self.out, b'N', &[(b"i", queue_id.as_bytes())]);
        if let Some(outcome) = self
            .stage(b'N', &[], opts::NO_EOH, opts::NOREPLY_EOH)
            .await?
        {
            return Ok(outcome);
        }
        if !self.negotiated.skips(opts::NO_BODY) {
            let silent = self.negotiated.silent(opts::NOREPLY_BODY);
            for frame in &message.body_chunks {
                self.out.extend_from_slice(frame);
                if silent {
                    continue;
                }
                match self.read_stage_reply().await? {
                    Reply::Skip => break,
                    reply => {
                        if let Some(outcome) = early_outcome(reply)? {
                            return Ok(outcome);
                        }
                    }
                }
            }
        }
        if !hold.is_zero() {
            self.flush().await?;
            tokio::time::sleep(hold).await;
        }
        macros(&mut self.out, b'E', &[(b"i", queue_id.as_bytes())]);
        push_frame(&mut self.out, b'E', &[]);
        self.end_of_message().await
    }

    /// Sends one envelope-stage command unless the milter skips the stage,
    /// and waits for its reply unless the milter declared it silent.
    async fn stage(
        &mut self,
        command: u8,
        payload: &[&[u8]],
        no_flag: u32,
        noreply_flag: u32,
    ) -> io::Result<Option<Outcome>> {
        if self.negotiated.skips(no_flag) {
            return Ok(None);
        }
        push_frame(&mut self.out, command, payload);
        if self.negotiated.silent(noreply_flag) {
            return Ok(None);
        }
        self.settle().await
    }

    /// Reads the reply to the last command; returns an outcome when the
    /// reply ends the message.
    async fn settle(&mut self) -> io::Result<Option<Outcome>> {
        let reply = self.read_stage_reply().await?;
        early_outcome(reply)
    }

    /// Reads replies to end of message until the final one, noting a
    /// quarantine among the modifications.
    async fn end_of_message(&mut self) -> io::Result<Outcome> {
        loop {
            let code = self.read_reply().await?;
            let reply = protocol::classify_reply(code, &self.reply)?;
            let outcome = match reply {
                Reply::Progress | Reply::Modification => continue,
                Reply::Quarantine => {
                    self.quarantined = true;
                    continue;
                }
                Reply::Continue | Reply::Accept if self.quarantined => Outcome::Quarantine,
                Reply::Continue | Reply::Accept => Outcome::Accept,
                Reply::Reject => Outcome::Reject,
                Reply::Tempfail => Outcome::Tempfail,
                Reply::Discard => Outcome::Discard,
                Reply::Skip => {
                    return Err(protocol::protocol_error("skip reply to end of message"));
                }
            };
            return Ok(outcome);
        }
    }

    /// Flushes the buffered commands and reads one reply, passing over
    /// progress notes.
    async fn read_stage_reply(&mut self) -> io::Result<Reply> {
        loop {
            let code = self.read_reply().await?;
            let reply = protocol::classify_reply(code, &self.reply)?;
            if reply != Reply::Progress {
                return Ok(reply);
            }
        }
    }

    /// Flushes the buffered commands and reads one packet into `self.reply`.
    async fn read_reply(&mut self) -> io::Result<u8> {
        self.flush().await?;
        let len = protocol::check_reply_len(self.stream.read_u32().await?)?;
        let code = self.stream.read_u8().await?;
        self.reply.resize(len - 1, 0);
        self.stream.read_exact(&mut self.reply).await?;
        Ok(code)
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.stream.get_mut().write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }
}

/// Maps a reply to a stage before end of message: continue goes on, the
/// others settle the message.
fn early_outcome(reply: Reply) -> io::Result<Option<Outcome>> {
    Ok(match reply {
        Reply::Continue | Reply::Skip => None,
        Reply::Accept => Some(Outcome::Accept),
        Reply::Reject => Some(Outcome::Reject),
        Reply::Tempfail => Some(Outcome::Tempfail),
        Reply::Discard => Some(Outcome::Discard),
        Reply::Quarantine | Reply::Modification | Reply::Progress => {
            return Err(protocol::protocol_error(
                "modification reply before end of message",
            ));
        }
    })
}

/// Appends a macro packet (`SMFIC_MACRO`) for the stage `command`.
// TODO: the generator sends a fixed set, the macros of Postfix 3.7's default
// `milter_*_macros` that a plain SMTP session without TLS or AUTH has. It
// ignores the list a milter requests at negotiation.
fn macros(out: &mut Vec<u8>, command: u8, pairs: &[(&[u8], &[u8])]) {
    let mut payload: Vec<&[u8]> = Vec::with_capacity(1 + pairs.len() * 4);
    let stage = [command];
    payload.push(&stage);
    for (name, value) in pairs {
        payload.extend_from_slice(&[name, b"\0", value, b"\0"]);
    }
    push_frame(out, b'D', &payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_is_cut_into_protocol_chunks() {
        let message = CorpusMessage {
            headers: vec![(b"Subject".to_vec(), b"x".to_vec())],
            body: vec![b'a'; protocol::MAX_BODY_CHUNK * 2 + 1],
        };
        let prepared = PreparedMessage::new(&message);
        assert_eq!(prepared.body_chunks.len(), 3);
        assert_eq!(prepared.body_chunks[0].len(), protocol::MAX_BODY_CHUNK + 5);
        assert_eq!(prepared.body_chunks[2].len(), 1 + 5);
        assert_eq!(prepared.headers[0], b"\0\0\0\x0bLSubject\0x\0");
    }

    #[test]
    fn early_reject_settles_message() {
        assert_eq!(early_outcome(Reply::Continue).unwrap(), None);
        assert_eq!(early_outcome(Reply::Reject).unwrap(), Some(Outcome::Reject));
        assert!(early_outcome(Reply::Modification).is_err());
    }
}
