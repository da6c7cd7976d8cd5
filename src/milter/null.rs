//! The null milter (`wormsign run --null`): it receives every stage as
//! wormsign does, negotiates the same protocol options, and accepts every
//! message without analysing it. Driven by `wormsign bench`, it measures
//! the protocol ceiling of a machine: the rate no milter on the same
//! library and socket can beat.

use std::future::Future;
use std::io;

use indymilter::{Actions, Callbacks, Context, NegotiateContext, ProtoOpts, Status};

use super::MilterListener;
use super::noreply::{self, proceed};
use crate::config::Config;

/// Serves the null milter on `listener` until `shutdown` completes. It
/// takes the session limit and idle timeout from `config`.
///
/// # Errors
/// The listener failed to accept connections.
pub async fn run_null(
    listener: MilterListener,
    config: &Config,
    shutdown: impl Future,
) -> io::Result<()> {
    let milter_config = indymilter::Config {
        max_connections: config.max_sessions,
        connection_timeout: config.idle_timeout,
        ..Default::default()
    };
    indymilter::run(listener, null_callbacks(), milter_config, shutdown).await
}

/// The session data is the negotiated protocol options.
type Negotiated = ProtoOpts;

fn stage_status(cx: &Context<Negotiated>, stage: ProtoOpts) -> Status {
    proceed(cx.data.unwrap_or_default(), stage)
}

fn null_callbacks() -> Callbacks<Negotiated> {
    Callbacks::new()
        .on_negotiate(|cx, actions, opts| Box::pin(negotiate(cx, actions, opts)))
        .on_connect(|cx, _, _| {
            Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_CONNECT) })
        })
        .on_helo(|cx, _| Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_HELO) }))
        .on_mail(|cx, _| Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_MAIL) }))
        .on_rcpt(|cx, _| Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_RCPT) }))
        .on_data(|cx| Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_DATA) }))
        .on_header(|cx, _, _| Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_HEADER) }))
        .on_eoh(|cx| Box::pin(async move { stage_status(cx, ProtoOpts::NOREPLY_EOH) }))
        .on_body(|_, _| Box::pin(async { Status::Continue }))
        .on_eom(|_| Box::pin(async { Status::Accept }))
}

async fn negotiate(
    cx: &mut NegotiateContext<Negotiated>,
    _actions: Actions,
    opts: ProtoOpts,
) -> Status {
    cx.requested_actions = Actions::empty();
    let silent = noreply::requested(opts);
    cx.requested_opts |= silent;
    cx.data = Some(silent);
    Status::Continue
}
