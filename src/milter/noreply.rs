//! The no-reply stages of milter protocol 6.
//!
//! A milter may declare at negotiation that it sends no reply to some
//! stages (`SMFIP_NR_*`). The MTA then writes those commands without
//! waiting, which saves a round trip per stage and per header field.
//! wormsign requests only the options the MTA offers at negotiation.
//!
//! wormsign acts only at end of message, so it gives up nothing by not
//! replying to connect, HELO, MAIL, RCPT, DATA, each header and end of
//! headers. It keeps the reply to body chunks, because there it replies
//! `Skip` once the scan limit is reached, so the MTA stops sending the rest.

use indymilter::{ProtoOpts, Status};

/// Stages whose reply wormsign and the null milter leave out when the MTA
/// offers it.
pub const NOREPLY_STAGES: ProtoOpts = ProtoOpts::NOREPLY_CONNECT
    .union(ProtoOpts::NOREPLY_HELO)
    .union(ProtoOpts::NOREPLY_MAIL)
    .union(ProtoOpts::NOREPLY_RCPT)
    .union(ProtoOpts::NOREPLY_DATA)
    .union(ProtoOpts::NOREPLY_HEADER)
    .union(ProtoOpts::NOREPLY_EOH);

/// The no-reply options to request from an MTA that offers `offered`.
// TODO: no test checks that Postfix 3.7 and Sendmail 8.17 offer these. The
// end-to-end tests only show that mail still flows when they are taken up.
pub fn requested(offered: ProtoOpts) -> ProtoOpts {
    offered & NOREPLY_STAGES
}

/// The status a callback returns to let the message go on at `stage` (one
/// `NOREPLY_*` flag): `Noreply` when that stage was negotiated silent,
/// else `Continue`. indymilter would turn a wrong `Continue` into
/// `Noreply` itself, but with a warning per call.
pub fn proceed(negotiated: ProtoOpts, stage: ProtoOpts) -> Status {
    if negotiated.contains(stage) {
        Status::Noreply
    } else {
        Status::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requested_is_limited_to_offer() {
        let offered = ProtoOpts::NOREPLY_HEADER | ProtoOpts::SKIP | ProtoOpts::NOREPLY_BODY;
        assert_eq!(requested(offered), ProtoOpts::NOREPLY_HEADER);
        assert_eq!(requested(ProtoOpts::all()), NOREPLY_STAGES);
    }

    #[test]
    fn body_keeps_its_reply() {
        assert!(!NOREPLY_STAGES.contains(ProtoOpts::NOREPLY_BODY));
    }

    #[test]
    fn proceed_follows_negotiation() {
        let negotiated = ProtoOpts::NOREPLY_HEADER;
        assert_eq!(
            proceed(negotiated, ProtoOpts::NOREPLY_HEADER),
            Status::Noreply
        );
        assert_eq!(
            proceed(negotiated, ProtoOpts::NOREPLY_MAIL),
            Status::Continue
        );
    }
}
