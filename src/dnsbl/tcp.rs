//! The TCP side of `wormsign dnsbl`: an accept loop with a cap on the
//! connections served at once, an idle timeout per connection and a pause
//! after failed accepts.
//!
//! hickory-server's own loop (`Server::register_listener`, 0.26) has no
//! cap, and on EMFILE it calls `accept()` again at once, so a client that
//! keeps enough connections open keeps one core busy. This loop hands each
//! connection to the same [`Responder`] that answers UDP and frames the
//! messages with hickory's own TCP stream (a 2-byte length before each
//! message, RFC 1035 section 4.2.2), so the answers are byte for byte those
//! of hickory's loop. A client may send several queries on one connection,
//! and they are answered in order, one at a time, as hickory does.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_server::net::tcp::TcpStream as DnsTcpStream;
use hickory_server::net::xfer::Protocol;
use hickory_server::proto::op::{Header, MessageType, ResponseCode};
use hickory_server::proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_server::server::{
    Request, RequestHandler, ResponseHandle, ResponseHandler, TimeoutStream,
};
use hickory_server::zone_handler::{MessageResponseBuilder, Queries};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, debug_span, info, warn};

use super::handler::Responder;

/// How long the loop waits after a failed `accept()` before the next one.
/// The usual causes (EMFILE, ENFILE, ENOBUFS) last until connections close,
/// and retrying at once would only burn CPU.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Limits of the TCP server.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// How long a connection may stay without a complete query.
    pub idle_timeout: Duration,
    /// Responses queued per connection before the server waits for the
    /// client to read.
    pub response_buffer: usize,
}

/// Serves DNS over TCP on `listener` with `responder` until `shutdown` is
/// cancelled. The open connections are closed then.
pub async fn serve(
    listener: TcpListener,
    responder: Arc<Responder>,
    limits: Limits,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut connections = JoinSet::new();
    let mut full = Burst::default();
    let mut failing = Burst::default();
    loop {
        // At the cap the loop stops accepting until a connection closes,
        // rather than accepting and closing at once. New clients then wait
        // in the kernel's listen backlog and are served as soon as an idle
        // connection times out, instead of failing outright, and no
        // descriptor is spent on them. Once the backlog is full as well,
        // the kernel drops their SYNs and they retry, which is what they
        // would face with any busy server.
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => {
                if let Some(waits) = full.end() {
                    info!(waits, "TCP connections below the limit again");
                }
                permit
            }
            Err(_) => {
                if full.hit() {
                    warn!(
                        limit = limits.max_connections,
                        "TCP connection limit reached, so new clients wait until a \
                         connection closes (max_tcp_connections in [dnsbl])"
                    );
                }
                tokio::select! {
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        // The semaphore is never closed.
                        Err(_) => break,
                    },
                    () = shutdown.cancelled() => break,
                }
            }
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Some(failures) = failing.end() {
                    info!(failures, "accepting TCP connections again");
                }
                let span = debug_span!("tcp", %peer);
                let responder = responder.clone();
                connections.spawn(
                    serve_connection(stream, peer, responder, limits, permit).instrument(span),
                );
            }
            // The client reset the connection before it was accepted, so the
            // listener itself is fine.
            Err(error) if is_per_connection(&error) => {
                debug!(%error, "TCP client gone before accept");
            }
            Err(error) => {
                drop(permit);
                if failing.hit() {
                    warn!(
                        %error,
                        retry_ms = ACCEPT_BACKOFF.as_millis(),
                        "failed to accept a TCP connection, retrying until it succeeds \
                         (raise the open-file limit or lower max_tcp_connections in [dnsbl])"
                    );
                } else {
                    debug!(%error, "failed to accept a TCP connection");
                }
                tokio::select! {
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    () = shutdown.cancelled() => break,
                }
            }
        }
        while connections.try_join_next().is_some() {}
    }
    connections.shutdown().await;
}

/// A condition that may last, logged when it starts and when it ends
/// rather than on every occurrence.
#[derive(Debug, Default)]
struct Burst {
    /// Occurrences since the burst started, 0 outside a burst.
    count: u64,
}

impl Burst {
    /// Counts an occurrence and returns true for the first one of a burst.
    fn hit(&mut self) -> bool {
        self.count += 1;
        self.count == 1
    }

    /// Ends the burst and returns its number of occurrences, or `None`
    /// outside a burst.
    fn end(&mut self) -> Option<u64> {
        let count = std::mem::take(&mut self.count);
        (count > 0).then_some(count)
    }
}

/// Returns whether an accept error concerns one client only, not the
/// listener.
fn is_per_connection(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
    )
}

/// Answers the queries on one connection until the client closes it, sends
/// something that is not a DNS message or stays idle for longer than
/// `limits.idle_timeout`. The permit `_slot` is released when this returns.
async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    responder: Arc<Responder>,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
) {
    let (messages, sender) = DnsTcpStream::from_stream_with_buffer_size(
        AsyncIoTokioAsStd(stream),
        peer,
        limits.response_buffer,
    );
    // The stream writes queued responses before it reads the next query,
    // so a client that does not read gets no more answers, and the timeout
    // closes its connection.
    let mut messages = TimeoutStream::new(messages, limits.idle_timeout);
    while let Some(message) = messages.next().await {
        let message = match message {
            Ok(message) => message,
            // Timeout, reset, or closed within a message. hickory reads a
            // length of 0 as a close once more bytes arrive, and until then
            // the idle timeout applies.
            Err(error) => {
                debug!(%error, "closing the TCP connection");
                return;
            }
        };
        let (bytes, _) = message.into_parts();
        let response = ResponseHandle::new(peer, sender.clone(), Protocol::Tcp);
        if answer(&responder, bytes, peer, response).await.is_break() {
            debug!("closing the TCP connection after a message shorter than a DNS header");
            return;
        }
    }
    debug!("TCP client closed the connection");
}

/// Answers one message as hickory-server's request handling does (0.26.3,
/// `ServerContext::handle_request`), so that TCP and UDP answers agree:
/// FORMERR when only the header can be read, nothing for a response
/// message. wormsign sets no access control, so that step is left out. A
/// message shorter than a header returns `Break`, because the framing can
/// no longer be trusted.
async fn answer(
    responder: &Responder,
    bytes: Vec<u8>,
    peer: SocketAddr,
    mut response: ResponseHandle,
) -> ControlFlow<()> {
    let Ok(header) = Header::read(&mut BinDecoder::new(&bytes)) else {
        return ControlFlow::Break(());
    };
    match Request::from_bytes(bytes, peer, Protocol::Tcp) {
        Ok(request) if request.metadata.message_type == MessageType::Response => {}
        Ok(request) => {
            responder
                .handle_request::<_, TokioTime>(&request, response)
                .await;
        }
        Err(error) => {
            debug!(%error, id = header.metadata.id, "malformed DNS query over TCP");
            let Ok(queries) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return ControlFlow::Break(());
            };
            let reply = MessageResponseBuilder::new(&queries, None)
                .error_msg(&header.metadata, ResponseCode::FormErr);
            if let Err(error) = response.send_response(reply).await {
                warn!(%error, id = header.metadata.id, "failed to send FORMERR over TCP");
            }
        }
    }
    ControlFlow::Continue(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_reports_first_hit_and_count() {
        let mut burst = Burst::default();
        assert_eq!(burst.end(), None);
        assert!(burst.hit());
        assert!(!burst.hit());
        assert!(!burst.hit());
        assert_eq!(burst.end(), Some(3));
        assert_eq!(burst.end(), None);
        assert!(burst.hit());
    }
}
