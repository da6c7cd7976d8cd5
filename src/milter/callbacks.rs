//! indymilter callbacks: each unpacks its arguments and updates the
//! [`Session`]; end of message runs the analysis and turns the verdict into
//! a reply.

use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use indymilter::{
    Actions, Callbacks, Context, ContextActions, EomContext, MacroStage, Macros, NegotiateContext,
    ProtoOpts, SetErrorReply, SocketInfo, Status,
};
use tracing::{debug, error, info, warn};

use super::Shared;
use super::noreply::{self, proceed};
use super::session::{MessageState, SCAN_NOTE_HEADER, Session, VERDICT_HEADER};
use crate::analysis::{self, Verdict};
use crate::config::{Action, OnError};
use crate::origin::networks::{canonical_ip, parse_ip_text};

/// Builds the callback table around the shared state.
pub fn callbacks(shared: Arc<Shared>) -> Callbacks<Session> {
    let eom_shared = shared.clone();
    let header_shared = shared.clone();
    let body_shared = shared.clone();
    let eoh_shared = shared;
    Callbacks::new()
        .on_negotiate(|cx, actions, opts| Box::pin(negotiate(cx, actions, opts)))
        .on_connect(|cx, hostname, socket| Box::pin(connect(cx, hostname, socket)))
        .on_helo(|cx, helo| Box::pin(helo_cb(cx, helo)))
        .on_mail(|cx, args| Box::pin(mail(cx, args)))
        .on_rcpt(|cx, args| Box::pin(rcpt(cx, args)))
        .on_data(|cx| Box::pin(data(cx)))
        .on_header(move |cx, name, value| {
            let limit = header_shared.config.max_message_bytes;
            Box::pin(header(cx, name, value, limit))
        })
        .on_eoh(move |cx| {
            let limit = eoh_shared.config.max_message_bytes;
            Box::pin(eoh(cx, limit))
        })
        .on_body(move |cx, chunk| {
            let limit = body_shared.config.max_message_bytes;
            Box::pin(body(cx, chunk, limit))
        })
        .on_eom(move |cx| Box::pin(eom(cx, eom_shared.clone())))
        .on_abort(|cx| Box::pin(abort(cx)))
        .on_close(|cx| Box::pin(close(cx)))
}

/// Macros requested per stage. Postfix sends the queue id `i` from DATA
/// on; Sendmail already at MAIL.
const REQUESTED_MACROS: &[(MacroStage, &str)] = &[
    (
        MacroStage::Connect,
        "{client_addr} {client_name} {daemon_name} j",
    ),
    (MacroStage::Helo, "{tls_version}"),
    (MacroStage::Mail, "i {auth_authen} {auth_type} {mail_addr}"),
    (MacroStage::Rcpt, "i {rcpt_addr}"),
    (MacroStage::Data, "i"),
    (MacroStage::Eoh, "i"),
    (MacroStage::Eom, "i {msg_id}"),
];

async fn negotiate(
    cx: &mut NegotiateContext<Session>,
    actions: Actions,
    opts: ProtoOpts,
) -> Status {
    let required = Actions::ADD_HEADER | Actions::CHANGE_HEADER | Actions::QUARANTINE;
    if !actions.contains(required) {
        // Detection and sightings still work; only the header or
        // quarantine reply may be missing.
        error!(
            offered = ?actions,
            "MTA does not offer the add header, change header and quarantine actions; X-Wormsign headers or quarantine may fail"
        );
    }
    cx.requested_actions = actions & required;
    if actions.contains(Actions::REQUEST_MACROS) {
        for (stage, names) in REQUESTED_MACROS {
            if let Ok(names) = CString::new(*names) {
                cx.requested_macros.insert(*stage, names);
            }
        }
    }
    if opts.contains(ProtoOpts::SKIP) {
        cx.requested_opts |= ProtoOpts::SKIP;
    }
    let silent = noreply::requested(opts);
    cx.requested_opts |= silent;
    cx.data.get_or_insert_with(Session::default).noreply = silent;
    debug!(offered = ?opts, no_reply = ?silent, "milter options negotiated");
    Status::Continue
}

/// Returns the status that lets the message go on at `stage`, as negotiated.
fn stage_status(cx: &Context<Session>, stage: ProtoOpts) -> Status {
    let negotiated = cx.data.as_ref().map_or(ProtoOpts::empty(), |s| s.noreply);
    proceed(negotiated, stage)
}

fn macro_text(macros: &Macros, name: &str) -> Option<String> {
    let name = CString::new(name).ok()?;
    macros
        .get(&name)
        .map(|v| v.to_string_lossy().into_owned())
        .filter(|v| !v.is_empty())
}

fn text(value: &CStr) -> String {
    value.to_string_lossy().into_owned()
}

/// An SMTP path argument without its angle brackets: `<a@example.org>` to `a@example.org`.
fn smtp_path(value: &CStr) -> String {
    let value = value.to_string_lossy();
    let trimmed = value.trim();
    trimmed
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(trimmed)
        .to_string()
}

async fn connect(cx: &mut Context<Session>, hostname: CString, socket: SocketInfo) -> Status {
    let client_ip = match socket {
        SocketInfo::Inet(addr) => Some(canonical_ip(addr.ip())),
        _ => macro_text(&cx.macros, "{client_addr}").and_then(|a| parse_ip_text(&a)),
    };
    let session = Session {
        // Local submission (Postfix non_smtpd_milters, sendmail -bs) has no
        // client socket: the client is this host, which is trusted, so
        // the trust walk starts with the newest Received header.
        client_ip: client_ip.or(Some(std::net::Ipv4Addr::LOCALHOST.into())),
        client_name: Some(text(&hostname)),
        daemon_name: macro_text(&cx.macros, "{daemon_name}"),
        noreply: cx.data.as_ref().map_or(ProtoOpts::empty(), |s| s.noreply),
        ..Session::default()
    };
    debug!(
        client_ip = session.client_ip.map(tracing::field::display),
        client_name = session.client_name.as_deref(),
        "milter connect"
    );
    cx.data = Some(session);
    stage_status(cx, ProtoOpts::NOREPLY_CONNECT)
}

async fn helo_cb(cx: &mut Context<Session>, helo: CString) -> Status {
    if let Some(session) = cx.data.as_mut() {
        session.helo = Some(text(&helo));
    }
    stage_status(cx, ProtoOpts::NOREPLY_HELO)
}

async fn mail(cx: &mut Context<Session>, args: Vec<CString>) -> Status {
    let sender = args.first().map(|a| smtp_path(a)).unwrap_or_default();
    let mut message = MessageState::new(sender);
    message.queue_id = macro_text(&cx.macros, "i");
    message.auth_authen = macro_text(&cx.macros, "{auth_authen}");
    // A session can lack connect state when the MTA skipped the connect
    // stage; start one rather than trusting the call order.
    cx.data.get_or_insert_with(Session::default).message = Some(message);
    stage_status(cx, ProtoOpts::NOREPLY_MAIL)
}

/// The message in progress, if the MTA called MAIL first.
fn message_mut(cx: &mut Context<Session>) -> Option<&mut MessageState> {
    let queue_id = macro_text(&cx.macros, "i");
    let message = cx.data.as_mut()?.message.as_mut()?;
    if queue_id.is_some() {
        message.queue_id = queue_id;
    }
    Some(message)
}

async fn rcpt(cx: &mut Context<Session>, args: Vec<CString>) -> Status {
    if let Some(recipient) = args.first().map(|a| smtp_path(a))
        && let Some(message) = message_mut(cx)
    {
        message.recipients.push(recipient);
    }
    stage_status(cx, ProtoOpts::NOREPLY_RCPT)
}

async fn data(cx: &mut Context<Session>) -> Status {
    message_mut(cx);
    stage_status(cx, ProtoOpts::NOREPLY_DATA)
}

async fn header(cx: &mut Context<Session>, name: CString, value: CString, limit: u64) -> Status {
    if let Some(message) = message_mut(cx) {
        message.push_header(name.as_bytes(), value.as_bytes(), limit);
    }
    stage_status(cx, ProtoOpts::NOREPLY_HEADER)
}

async fn eoh(cx: &mut Context<Session>, limit: u64) -> Status {
    if let Some(message) = message_mut(cx) {
        message.end_headers(limit);
    }
    stage_status(cx, ProtoOpts::NOREPLY_EOH)
}

async fn body(cx: &mut Context<Session>, chunk: bytes::Bytes, limit: u64) -> Status {
    let Some(message) = message_mut(cx) else {
        return Status::Continue;
    };
    if message.push_body(&chunk, limit) {
        Status::Continue
    } else {
        // Past the scan limit the rest of the body is of no use: ask the MTA
        // to stop sending it where it supports that.
        Status::Skip
    }
}

async fn abort(cx: &mut Context<Session>) -> Status {
    if let Some(session) = cx.data.as_mut() {
        session.message = None;
    }
    Status::Continue
}

async fn close(cx: &mut Context<Session>) -> Status {
    cx.data = None;
    Status::Continue
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

async fn eom(cx: &mut EomContext<Session>, shared: Arc<Shared>) -> Status {
    let queue_id_macro = macro_text(&cx.macros, "i");
    let Some(session) = cx.data.as_mut() else {
        warn!("end of message without a session; accepting");
        return Status::Continue;
    };
    let Some(mut message) = session.message.take() else {
        warn!("end of message without MAIL; accepting");
        return Status::Continue;
    };
    if queue_id_macro.is_some() {
        message.queue_id = queue_id_macro;
    }
    message.end_headers(shared.config.max_message_bytes);
    let envelope = message.envelope(session);
    let queue_id = envelope.queue_id.clone().unwrap_or_else(|| "-".to_string());

    let verdict = match shared
        .analyse(
            std::mem::take(&mut message.raw),
            envelope.clone(),
            message.truncated,
        )
        .await
    {
        Ok((verdict, raw)) => {
            record(&shared, &verdict, &envelope, &raw, message.size, &queue_id);
            verdict
        }
        Err(reason) => return fail_open(&shared, cx, &queue_id, &reason),
    };
    shared.stats.count_verdict(&verdict);

    replace_verdict_headers(cx, &queue_id, &message, &verdict).await;
    if !verdict.is_infected() {
        return Status::Continue;
    }
    act_on_infected(&shared, cx, &queue_id, &verdict).await
}

fn record(
    shared: &Shared,
    verdict: &Verdict,
    envelope: &analysis::Envelope,
    raw: &[u8],
    size: u64,
    queue_id: &str,
) {
    if let Some(note) = verdict.incomplete_note() {
        let first_error = verdict.scan_errors.first().map(|e| analysis::printable(e));
        warn!(
            queue_id,
            note,
            anomalies = verdict.anomalies.len(),
            first_scan_error = first_error.as_deref().unwrap_or(""),
            "message not scanned in full"
        );
    }
    let Some(hit) = verdict.primary() else {
        debug!(queue_id, objects = verdict.objects, "message clean");
        return;
    };
    match analysis::sighting(verdict, envelope, raw, size, unix_now()) {
        Some(sighting) => {
            info!(
                queue_id,
                origin_ip = %sighting.origin_ip,
                origin_method = %sighting.origin_method,
                rule = %hit.rule,
                family = %hit.family,
                variant = hit.variant.as_deref().unwrap_or(""),
                object = %analysis::printable(&hit.object),
                "worm detected"
            );
            shared.sightings.send(sighting);
        }
        None if hit.test_file => info!(
            queue_id,
            rule = %hit.rule,
            "test file detected: a test signature creates no sighting"
        ),
        None => warn!(
            queue_id,
            rule = %hit.rule,
            client_ip = envelope.client_ip.map(tracing::field::display),
            "worm detected but every relay is trusted: no origin, no sighting"
        ),
    }
}

fn fail_open(
    shared: &Shared,
    cx: &mut EomContext<Session>,
    queue_id: &str,
    reason: &str,
) -> Status {
    shared.stats.count_error();
    match shared.config.on_error {
        OnError::Accept => {
            error!(
                queue_id,
                error = reason,
                "analysis failed; accepting the message unchanged"
            );
            Status::Accept
        }
        OnError::Tempfail => {
            error!(
                queue_id,
                error = reason,
                "analysis failed; replying tempfail"
            );
            let _ = cx.reply.set_error_reply(
                "451",
                Some("4.7.1"),
                ["Message could not be scanned, try again later"],
            );
            Status::Tempfail
        }
    }
}

/// Removes `X-Wormsign` and `X-Wormsign-Scan` headers that came with the
/// message, since a sender could forge `clean`, and adds ours.
async fn replace_verdict_headers(
    cx: &mut EomContext<Session>,
    queue_id: &str,
    message: &MessageState,
    verdict: &Verdict,
) {
    let incoming = [
        (VERDICT_HEADER, message.verdict_headers_seen),
        (SCAN_NOTE_HEADER, message.scan_note_headers_seen),
    ];
    for (name, seen) in incoming {
        // Highest index first, so each deletion leaves the lower indexes valid.
        for index in (1..=seen).rev() {
            let index = i32::try_from(index).unwrap_or(i32::MAX);
            if let Err(error) = cx.actions.change_header(name, index, None::<CString>).await {
                warn!(queue_id, %error, header = name, "cannot remove an incoming header");
            }
        }
    }
    if let Err(error) = cx
        .actions
        .add_header(VERDICT_HEADER, verdict.header_value())
        .await
    {
        warn!(queue_id, %error, "cannot add the X-Wormsign header");
    }
    if let Some(note) = verdict.incomplete_note()
        && let Err(error) = cx.actions.add_header(SCAN_NOTE_HEADER, note).await
    {
        warn!(queue_id, %error, "cannot add the X-Wormsign-Scan header");
    }
}

async fn act_on_infected(
    shared: &Shared,
    cx: &mut EomContext<Session>,
    queue_id: &str,
    verdict: &Verdict,
) -> Status {
    let rule = verdict.primary().map_or("unknown", |m| m.rule.as_str());
    match shared.config.action {
        Action::Accept => Status::Continue,
        Action::Reject => {
            let text = format!("Message rejected: worm detected by rule {rule}");
            if let Err(error) = cx.reply.set_error_reply("550", Some("5.7.1"), [text]) {
                warn!(queue_id, %error, "cannot set the reject reply text");
            }
            Status::Reject
        }
        Action::Quarantine => {
            let reason = format!("wormsign: worm detected by rule {rule}");
            if let Err(error) = cx.actions.quarantine(reason).await {
                error!(queue_id, %error, "cannot quarantine the message; accepting it");
            }
            Status::Continue
        }
        Action::Discard => Status::Discard,
    }
}
