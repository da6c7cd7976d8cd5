//! Connection and message state of one milter session.
//!
//! Connection state (client, HELO) lives as long as the SMTP connection;
//! message state is created at MAIL and dropped at end of message or
//! abort, so nothing of one message leaks into the next.

use std::net::IpAddr;

use crate::analysis::Envelope;

/// Header name wormsign writes; copies that arrive with the message are removed.
pub const VERDICT_HEADER: &str = "X-Wormsign";
/// Header that lists what could not be scanned. Copies that arrive with
/// the message are removed too.
pub const SCAN_NOTE_HEADER: &str = "X-Wormsign-Scan";

/// State of one milter connection.
#[derive(Debug, Default)]
pub struct Session {
    /// Client IP from the connect callback, canonical (mapped IPv4 as IPv4).
    pub client_ip: Option<IpAddr>,
    /// Client host name as the MTA resolved it (`unknown` when it did not).
    pub client_name: Option<String>,
    pub helo: Option<String>,
    /// `{daemon_name}`: which MTA listener the client came in on.
    pub daemon_name: Option<String>,
    /// State of the message in progress, `None` between messages.
    pub message: Option<MessageState>,
    /// Stages the MTA agreed to send without waiting for a reply.
    pub noreply: indymilter::ProtoOpts,
}

/// State of one message, from MAIL to end of message.
#[derive(Debug, Default)]
pub struct MessageState {
    pub envelope_from: String,
    pub recipients: Vec<String>,
    /// Queue id (macro `i`); Postfix sends it from DATA on, Sendmail at MAIL.
    pub queue_id: Option<String>,
    pub auth_authen: Option<String>,
    /// Header block and body as received, up to the scan limit.
    pub raw: Vec<u8>,
    /// Bytes of the message seen, including those past the limit.
    pub size: u64,
    /// True once bytes were dropped at the scan limit.
    pub truncated: bool,
    /// Number of `X-Wormsign` headers that came with the message.
    pub verdict_headers_seen: usize,
    /// Number of `X-Wormsign-Scan` headers that came with the message.
    pub scan_note_headers_seen: usize,
    /// True once the header block has been closed with an empty line.
    pub headers_done: bool,
}

impl MessageState {
    /// Starts a message for `envelope_from` (as given in MAIL FROM).
    pub fn new(envelope_from: String) -> MessageState {
        MessageState {
            envelope_from,
            ..MessageState::default()
        }
    }

    /// Appends one header field, keeping at most `limit` bytes in total.
    pub fn push_header(&mut self, name: &[u8], value: &[u8], limit: u64) {
        if name.eq_ignore_ascii_case(VERDICT_HEADER.as_bytes()) {
            self.verdict_headers_seen += 1;
        } else if name.eq_ignore_ascii_case(SCAN_NOTE_HEADER.as_bytes()) {
            self.scan_note_headers_seen += 1;
        }
        let mut line = Vec::with_capacity(name.len() + value.len() + 4);
        line.extend_from_slice(name);
        line.extend_from_slice(b": ");
        line.extend_from_slice(value);
        line.extend_from_slice(b"\r\n");
        self.append(&line, limit);
    }

    /// Closes the header block with the empty line that separates the body.
    pub fn end_headers(&mut self, limit: u64) {
        if !self.headers_done {
            self.headers_done = true;
            self.append(b"\r\n", limit);
        }
    }

    /// Appends a body chunk, keeping at most `limit` bytes in total.
    /// Returns false once the limit has been reached.
    pub fn push_body(&mut self, chunk: &[u8], limit: u64) -> bool {
        self.end_headers(limit);
        self.append(chunk, limit);
        !self.truncated
    }

    fn append(&mut self, bytes: &[u8], limit: u64) {
        self.size += bytes.len() as u64;
        let room = limit.saturating_sub(self.raw.len() as u64);
        let take = (bytes.len() as u64).min(room) as usize;
        self.raw.extend_from_slice(&bytes[..take]);
        if take < bytes.len() {
            self.truncated = true;
        }
    }

    /// The envelope part of the analysis input.
    pub fn envelope(&self, session: &Session) -> Envelope {
        Envelope {
            client_ip: session.client_ip,
            client_name: session.client_name.clone(),
            helo: session.helo.clone(),
            envelope_from: Some(self.envelope_from.clone()).filter(|s| !s.is_empty()),
            recipients: self.recipients.clone(),
            queue_id: self.queue_id.clone(),
            auth_authen: self.auth_authen.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_is_kept_up_to_limit() {
        let mut message = MessageState::new("<a@example.org>".into());
        message.push_header(b"Subject", b"hi", 30);
        assert!(message.push_body(b"0123456789", 30));
        assert!(!message.push_body(b"0123456789", 30));
        assert_eq!(message.raw.len(), 30);
        assert!(message.truncated);
        assert_eq!(message.size, 13 + 2 + 20);
        assert!(message.raw.starts_with(b"Subject: hi\r\n\r\n0123"));
    }

    #[test]
    fn verdict_headers_are_counted() {
        let mut message = MessageState::new(String::new());
        message.push_header(b"x-wormsign", b"clean", 1000);
        message.push_header(b"X-Wormsign", b"clean", 1000);
        message.push_header(b"X-Other", b"clean", 1000);
        assert_eq!(message.verdict_headers_seen, 2);
    }

    #[test]
    fn empty_body_still_ends_headers() {
        let mut message = MessageState::new(String::new());
        message.push_header(b"Subject", b"x", 100);
        message.end_headers(100);
        message.end_headers(100);
        assert_eq!(message.raw, b"Subject: x\r\n\r\n");
    }
}
