//! Answers to DNS queries for the DNSBL zone (hickory-server request
//! handler).
//!
//! The answers follow RFC 5782. For queries over UDP without EDNS they
//! match rbldnsd's on the same data, as tests/dnsbl.rs checks; rbldnsd
//! serves no TCP and returns no OPT record.
//!
//! | query                          | answer                                  |
//! |--------------------------------|-----------------------------------------|
//! | listed address, A / TXT / ANY  | the A value and/or the TXT, NS in authority |
//! | listed address, other type     | NOERROR, no data, SOA in authority      |
//! | unlisted address or other name | NXDOMAIN, SOA in authority              |
//! | apex SOA / NS / ANY            | the SOA and/or NS records               |
//! | apex, other type               | NOERROR, no data, SOA in authority      |
//! | name outside the zone          | REFUSED                                 |
//! | AXFR or IXFR                   | REFUSED                                 |
//! | opcode other than QUERY        | NOTIMP                                  |
//!
//! The SOA in a negative answer carries the TTL min(ttl, negative_ttl), as
//! RFC 2308 section 5 asks.

use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use hickory_server::net::runtime::Time;
use hickory_server::proto::op::{Edns, Header, HeaderCounts, Metadata, OpCode, ResponseCode};
use hickory_server::proto::rr::rdata::{A, NS, SOA, TXT};
use hickory_server::proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tracing::warn;

use super::listing_set::{Entry, ListingSet, txt_text};
use super::name::{QueryName, parse_labels};
use super::settings::Settings;

/// One version of the served data: the listings and the apex records whose
/// SOA serial belongs to them.
#[derive(Debug)]
pub struct Snapshot {
    listings: ListingSet,
    soa: Record,
    negative_soa: Record,
    ns: Vec<Record>,
}

impl Snapshot {
    /// Builds the apex records for `listings`, with `serial` as SOA serial.
    pub fn new(listings: ListingSet, settings: &Settings, serial: u32) -> Snapshot {
        let soa_data = SOA::new(
            settings.soa_mname.clone(),
            settings.soa_rname.clone(),
            serial,
            soa_timer(settings.refresh),
            soa_timer(settings.retry),
            soa_timer(settings.expire),
            settings.negative_ttl,
        );
        let zone = settings.zone.clone();
        let negative_ttl = settings.ttl.min(settings.negative_ttl);
        Snapshot {
            listings,
            soa: Record::from_rdata(zone.clone(), settings.ttl, RData::SOA(soa_data.clone())),
            negative_soa: Record::from_rdata(zone.clone(), negative_ttl, RData::SOA(soa_data)),
            ns: settings
                .ns
                .iter()
                .map(|name| {
                    Record::from_rdata(zone.clone(), settings.ttl, RData::NS(NS(name.clone())))
                })
                .collect(),
        }
    }

    /// Returns the listings of this version.
    pub fn listings(&self) -> &ListingSet {
        &self.listings
    }
}

/// The current [`Snapshot`], replaced as a whole when the database changes.
pub type SharedSnapshot = Arc<RwLock<Arc<Snapshot>>>;

/// The hickory-server request handler of `wormsign dnsbl`.
pub struct Responder {
    zone: LowerName,
    zone_labels: usize,
    ttl: u32,
    snapshot: SharedSnapshot,
}

/// A response before encoding.
struct Reply<'s> {
    code: ResponseCode,
    authoritative: bool,
    answers: Vec<Record>,
    /// Apex answers (SOA, NS) borrowed from the snapshot.
    apex_answers: Vec<&'s Record>,
    /// NS records for the authority section of a positive answer.
    authority: &'s [Record],
    /// The SOA for the authority section of a negative answer.
    soa: Option<&'s Record>,
}

impl<'s> Reply<'s> {
    fn code(code: ResponseCode, authoritative: bool) -> Reply<'s> {
        Reply {
            code,
            authoritative,
            answers: Vec::new(),
            apex_answers: Vec::new(),
            authority: &[],
            soa: None,
        }
    }

    fn negative(code: ResponseCode, snapshot: &'s Snapshot) -> Reply<'s> {
        Reply {
            soa: Some(&snapshot.negative_soa),
            ..Reply::code(code, true)
        }
    }

    fn positive(snapshot: &'s Snapshot) -> Reply<'s> {
        Reply {
            authority: &snapshot.ns,
            ..Reply::code(ResponseCode::NoError, true)
        }
    }
}

impl Responder {
    /// Creates the handler for the zone of `settings`, serving what
    /// `snapshot` contains at the time of each query.
    pub fn new(settings: &Settings, snapshot: SharedSnapshot) -> Responder {
        Responder {
            zone: LowerName::new(&settings.zone),
            zone_labels: usize::from(settings.zone.num_labels()),
            ttl: settings.ttl,
            snapshot,
        }
    }

    fn current(&self) -> Arc<Snapshot> {
        // A poisoned lock still contains a complete snapshot, because the
        // writer only swaps an Arc.
        match self.snapshot.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn reply<'s>(&self, request: &Request, snapshot: &'s Snapshot) -> Reply<'s> {
        if request.metadata.op_code != OpCode::Query {
            return Reply::code(ResponseCode::NotImp, false);
        }
        let Ok(info) = request.request_info() else {
            return Reply::code(ResponseCode::FormErr, false);
        };
        if request.edns.as_ref().is_some_and(|edns| edns.version() > 0) {
            return Reply::code(ResponseCode::BADVERS, false);
        }
        let query = info.query;
        let name = query.name();
        if query.query_class() != DNSClass::IN || !self.zone.zone_of(name) {
            return Reply::code(ResponseCode::Refused, false);
        }
        // The listings are not a zone file, so there is nothing to transfer.
        if matches!(query.query_type(), RecordType::AXFR | RecordType::IXFR) {
            return Reply::code(ResponseCode::Refused, true);
        }
        let below_zone = usize::from(name.num_labels()).saturating_sub(self.zone_labels);
        let labels: Vec<&[u8]> = name.iter().take(below_zone).collect();
        let owner = query.original().name();
        match parse_labels(&labels) {
            QueryName::Apex => apex_reply(query.query_type(), snapshot),
            QueryName::Address(ip) => match snapshot.listings.lookup(ip) {
                Some(entry) => self.listed_reply(query.query_type(), owner, ip, entry, snapshot),
                None => Reply::negative(ResponseCode::NXDomain, snapshot),
            },
            QueryName::Other => Reply::negative(ResponseCode::NXDomain, snapshot),
        }
    }

    fn listed_reply<'s>(
        &self,
        kind: RecordType,
        owner: &Name,
        ip: IpAddr,
        entry: &Entry,
        snapshot: &'s Snapshot,
    ) -> Reply<'s> {
        let mut reply = Reply::positive(snapshot);
        if matches!(kind, RecordType::A | RecordType::ANY) {
            let data = RData::A(A(entry.return_code));
            reply
                .answers
                .push(Record::from_rdata(owner.clone(), self.ttl, data));
        }
        if matches!(kind, RecordType::TXT | RecordType::ANY) {
            let text = txt_text(entry, ip);
            let data = RData::TXT(TXT::new(vec![text]));
            reply
                .answers
                .push(Record::from_rdata(owner.clone(), self.ttl, data));
        }
        if reply.answers.is_empty() {
            return Reply::negative(ResponseCode::NoError, snapshot);
        }
        reply
    }
}

/// Converts a configured SOA timer to the `i32` field of hickory's SOA
/// record, capped at `i32::MAX` (2^31 - 1, also RFC 2181's maximum TTL).
fn soa_timer(seconds: u32) -> i32 {
    i32::try_from(seconds).unwrap_or(i32::MAX)
}

fn apex_reply(kind: RecordType, snapshot: &Snapshot) -> Reply<'_> {
    let mut reply = Reply::positive(snapshot);
    if matches!(kind, RecordType::SOA | RecordType::ANY) {
        reply.apex_answers.push(&snapshot.soa);
    }
    if matches!(kind, RecordType::NS | RecordType::ANY) {
        reply.apex_answers.extend(snapshot.ns.iter());
    }
    if reply.apex_answers.is_empty() {
        return Reply::negative(ResponseCode::NoError, snapshot);
    }
    reply
}

/// The OPT record of the response: present when the request had one, with
/// version 0 and the client's payload size, at least 512 bytes.
fn response_edns(request: &Request) -> Option<Edns> {
    let request_edns = request.edns.as_ref()?;
    let mut edns = Edns::new();
    edns.set_max_payload(request_edns.max_payload().max(512));
    edns.set_version(0);
    Some(edns)
}

#[async_trait::async_trait]
impl RequestHandler for Responder {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        let snapshot = self.current();
        let reply = self.reply(request, &snapshot);
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.response_code = reply.code;
        metadata.authoritative = reply.authoritative;

        let edns = response_edns(request);
        let builder = MessageResponseBuilder::new(&request.queries, edns.as_ref());
        let answers = reply
            .answers
            .iter()
            .chain(reply.apex_answers.iter().copied());
        let response = builder.build(
            metadata,
            answers,
            reply.authority.iter(),
            reply.soa,
            std::iter::empty(),
        );
        match response_handle.send_response(response).await {
            Ok(info) => info,
            Err(error) => {
                warn!(%error, client = %request.src(), "failed to send a DNS response");
                metadata.response_code = ResponseCode::ServFail;
                ResponseInfo::from(Header {
                    metadata,
                    counts: HeaderCounts::default(),
                })
            }
        }
    }
}
