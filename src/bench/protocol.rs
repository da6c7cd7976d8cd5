//! The MTA side of the milter protocol (version 6, as Postfix and Sendmail
//! speak it): command frames, the negotiation, and reply parsing.
//!
//! Every packet is a 4-byte big-endian length, a command or reply byte,
//! and the payload. The length counts the byte and the payload.

use std::io;

/// Milter protocol version the generator offers.
pub const VERSION: u32 = 6;
/// Largest body chunk an MTA sends (libmilter's `MILTER_CHUNK_SIZE`).
pub const MAX_BODY_CHUNK: usize = 65_535;
/// Largest reply the generator accepts; a bigger length is a protocol error.
const MAX_REPLY: usize = 1 << 20;

/// Actions offered at negotiation: every modification protocol 6 defines
/// (add, change and insert headers, body replacement, recipients, sender,
/// quarantine, macro requests).
pub const OFFERED_ACTIONS: u32 = 0x1ff;

/// Protocol option bits (`SMFIP_*` in libmilter's `mfapi.h`).
pub mod opts {
    pub const NO_CONNECT: u32 = 0x1;
    pub const NO_HELO: u32 = 0x2;
    pub const NO_MAIL: u32 = 0x4;
    pub const NO_RCPT: u32 = 0x8;
    pub const NO_BODY: u32 = 0x10;
    pub const NO_HEADER: u32 = 0x20;
    pub const NO_EOH: u32 = 0x40;
    pub const NOREPLY_HEADER: u32 = 0x80;
    pub const NO_UNKNOWN: u32 = 0x100;
    pub const NO_DATA: u32 = 0x200;
    pub const SKIP: u32 = 0x400;
    pub const NOREPLY_CONNECT: u32 = 0x1000;
    pub const NOREPLY_HELO: u32 = 0x2000;
    pub const NOREPLY_MAIL: u32 = 0x4000;
    pub const NOREPLY_RCPT: u32 = 0x8000;
    pub const NOREPLY_DATA: u32 = 0x10000;
    pub const NOREPLY_UNKNOWN: u32 = 0x20000;
    pub const NOREPLY_EOH: u32 = 0x40000;
    pub const NOREPLY_BODY: u32 = 0x80000;

    /// Every "do not send this stage" option.
    pub const ALL_NO_STAGE: u32 = NO_CONNECT
        | NO_HELO
        | NO_MAIL
        | NO_RCPT
        | NO_BODY
        | NO_HEADER
        | NO_EOH
        | NO_UNKNOWN
        | NO_DATA;
    /// Every "the milter sends no reply to this stage" option.
    pub const ALL_NOREPLY: u32 = NOREPLY_CONNECT
        | NOREPLY_HELO
        | NOREPLY_MAIL
        | NOREPLY_RCPT
        | NOREPLY_DATA
        | NOREPLY_UNKNOWN
        | NOREPLY_HEADER
        | NOREPLY_EOH
        | NOREPLY_BODY;
}

/// Protocol options offered at negotiation. `reply_every_stage` leaves out
/// the no-reply options, as an MTA of protocol version 2 would. Neither
/// offer includes `SMFIP_HDR_LEADSPC` or `SMFIP_RCPT_REJ`, which the
/// generator does not implement.
pub fn offered_opts(reply_every_stage: bool) -> u32 {
    let base = opts::ALL_NO_STAGE | opts::SKIP;
    if reply_every_stage {
        base
    } else {
        base | opts::ALL_NOREPLY
    }
}

/// Appends one packet to `out`.
pub fn push_frame(out: &mut Vec<u8>, command: u8, payload: &[&[u8]]) {
    let len: usize = 1 + payload.iter().map(|p| p.len()).sum::<usize>();
    // A payload over 4 GiB cannot come from a corpus message split into
    // 64 KiB chunks.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.push(command);
    for part in payload {
        out.extend_from_slice(part);
    }
}

/// Appends the negotiation packet (`SMFIC_OPTNEG`) to `out`.
pub fn negotiate_frame(out: &mut Vec<u8>, protocol: u32) {
    push_frame(
        out,
        b'O',
        &[
            &VERSION.to_be_bytes(),
            &OFFERED_ACTIONS.to_be_bytes(),
            &protocol.to_be_bytes(),
        ],
    );
}

/// Protocol version, actions and options the milter chose at negotiation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub version: u32,
    pub actions: u32,
    pub protocol: u32,
}

impl Negotiated {
    /// True when the milter asked not to receive the stage `no_flag`.
    pub fn skips(&self, no_flag: u32) -> bool {
        self.protocol & no_flag != 0
    }

    /// True when the milter sends no reply to the stage `noreply_flag`.
    pub fn silent(&self, noreply_flag: u32) -> bool {
        self.protocol & noreply_flag != 0
    }
}

/// Parses the milter's `SMFIC_OPTNEG` reply payload (after the reply byte).
///
/// # Errors
/// The payload is shorter than three 32-bit words, or the milter asked for
/// options that were not offered.
pub fn parse_negotiated(payload: &[u8], offered: u32) -> io::Result<Negotiated> {
    let word = |i: usize| -> io::Result<u32> {
        payload
            .get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| protocol_error("negotiation reply shorter than 12 bytes"))
    };
    let negotiated = Negotiated {
        version: word(0)?,
        actions: word(1)?,
        protocol: word(2)?,
    };
    let unoffered = negotiated.protocol & !offered;
    if unoffered != 0 {
        return Err(protocol_error(&format!(
            "milter requested protocol options {unoffered:#x} that were not offered ({offered:#x})"
        )));
    }
    Ok(negotiated)
}

/// Final or intermediate reply of a milter to one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    Continue,
    Accept,
    Reject,
    Tempfail,
    Discard,
    /// `SMFIR_SKIP`: send no more body chunks.
    Skip,
    /// `SMFIR_QUARANTINE`, a modification at end of message.
    Quarantine,
    /// Any other modification at end of message (headers, recipients, body).
    Modification,
    /// `SMFIR_PROGRESS`: the milter is still working.
    Progress,
}

/// Classifies a reply packet by its reply byte; `SMFIR_REPLYCODE` counts as
/// reject or tempfail by the first digit of its SMTP code.
///
/// # Errors
/// The byte is not a reply protocol 6 defines, or a reply code is not 4xx or 5xx.
pub fn classify_reply(code: u8, payload: &[u8]) -> io::Result<Reply> {
    Ok(match code {
        b'c' => Reply::Continue,
        b'a' => Reply::Accept,
        b'r' => Reply::Reject,
        b't' => Reply::Tempfail,
        b'd' => Reply::Discard,
        b's' => Reply::Skip,
        b'q' => Reply::Quarantine,
        b'p' => Reply::Progress,
        b'+' | b'-' | b'2' | b'b' | b'e' | b'h' | b'i' | b'm' => Reply::Modification,
        b'y' => match payload.first() {
            Some(b'4') => Reply::Tempfail,
            Some(b'5') => Reply::Reject,
            _ => {
                return Err(protocol_error(&format!(
                    "reply code {:?} is not 4xx or 5xx",
                    String::from_utf8_lossy(payload)
                )));
            }
        },
        other => {
            return Err(protocol_error(&format!(
                "unknown milter reply {:?} ({other:#04x})",
                other as char
            )));
        }
    })
}

/// Checks a reply length read from the wire.
///
/// # Errors
/// Zero (no reply byte) or larger than 1 MiB.
pub fn check_reply_len(len: u32) -> io::Result<usize> {
    let len = len as usize;
    if len == 0 || len > MAX_REPLY {
        return Err(protocol_error(&format!(
            "invalid milter reply length {len}"
        )));
    }
    Ok(len)
}

/// Builds the `io::Error` for a reply the protocol does not allow.
pub fn protocol_error(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_length_counts_command_byte() {
        let mut out = Vec::new();
        push_frame(&mut out, b'H', &[b"mx.example\0"]);
        assert_eq!(&out[..4], &12u32.to_be_bytes());
        assert_eq!(out[4], b'H');
        assert_eq!(&out[5..], b"mx.example\0");
    }

    #[test]
    fn negotiation_rejects_unoffered_options() {
        let mut payload = Vec::new();
        payload.extend_from_slice(&6u32.to_be_bytes());
        payload.extend_from_slice(&1u32.to_be_bytes());
        payload.extend_from_slice(&opts::NOREPLY_HEADER.to_be_bytes());
        let offered_all = offered_opts(false);
        assert!(parse_negotiated(&payload, offered_all).is_ok());
        assert!(parse_negotiated(&payload, offered_opts(true)).is_err());
        assert!(parse_negotiated(&payload[..8], offered_all).is_err());
    }

    #[test]
    fn reply_codes_are_classified() {
        let cases: &[(u8, &[u8], Reply)] = &[
            (b'c', b"", Reply::Continue),
            (b'a', b"", Reply::Accept),
            (b'y', b"550 5.7.1 no", Reply::Reject),
            (b'y', b"451 4.7.1 later", Reply::Tempfail),
            (b'h', b"X-A\0b\0", Reply::Modification),
            (b'q', b"why\0", Reply::Quarantine),
        ];
        for (code, payload, expected) in cases {
            assert_eq!(classify_reply(*code, payload).unwrap(), *expected);
        }
        assert!(classify_reply(b'Z', b"").is_err());
        assert!(classify_reply(b'y', b"250 ok").is_err());
    }
}
