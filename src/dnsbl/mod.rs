//! `wormsign dnsbl`: a DNS server that publishes the listings of the
//! sightings database as a DNSBL zone (RFC 5782), built on hickory-server.
//!
//! - [`name`]: query names (reversed IPv4 octets, IPv6 nibbles) to addresses;
//! - [`listing_set`]: the listed addresses in memory, from the listing
//!   policy that `wormsign export` also applies;
//! - [`handler`]: the answers, the same as rbldnsd gives on the exported data;
//! - [`reload`]: polls the database and swaps in new listings while serving;
//! - [`settings`]: the `[dnsbl]` section, joined with the `[listing]` and
//!   `[export]` settings it shares with the export;
//! - [`tcp`]: the TCP accept loop, with a cap on connections served at once.
//!
//! [`run`] serves UDP (through hickory-server) and TCP (through [`tcp`]) on
//! one address until its shutdown future completes. The binary's `dnsbl`
//! command binds with [`bind`], installs the signal handlers (SIGHUP
//! requests a reload) and calls [`run`].

pub mod handler;
pub mod listing_set;
pub mod name;
pub mod reload;
pub mod settings;
pub mod tcp;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hickory_server::Server;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::Notify;
use tracing::{error, info};

pub use listing_set::ListingSet;
pub use settings::{RawSettings, Settings};

use crate::store::StoreError;

/// How long a TCP client may stay idle before its connection is closed.
const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Responses queued per TCP connection before the server waits for the
/// client to read.
const TCP_RESPONSE_BUFFER: usize = 32;

/// Errors that stop the responder.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DnsblError {
    /// The UDP socket or TCP listener could not be bound.
    #[error(
        "failed to listen on {address} ({protocol}); choose a free address with \
         --listen or `listen` in [dnsbl]"
    )]
    Bind {
        address: SocketAddr,
        protocol: &'static str,
        #[source]
        source: std::io::Error,
    },

    /// The database could not be read at start.
    #[error("failed to read the DNSBL listings")]
    Store(#[from] StoreError),

    /// The DNS server stopped with an error.
    #[error("the DNS server failed")]
    Serve(#[source] hickory_server::net::NetError),

    /// The blocking task that read the first listings panicked.
    #[error("reading the first listings panicked")]
    Panicked(#[source] tokio::task::JoinError),
}

/// Binds the UDP socket and the TCP listener on `address`.
///
/// # Errors
///
/// [`DnsblError::Bind`] naming the protocol that failed.
pub async fn bind(address: SocketAddr) -> Result<(UdpSocket, TcpListener), DnsblError> {
    let udp = UdpSocket::bind(address)
        .await
        .map_err(|source| DnsblError::Bind {
            address,
            protocol: "UDP",
            source,
        })?;
    let tcp = TcpListener::bind(address)
        .await
        .map_err(|source| DnsblError::Bind {
            address,
            protocol: "TCP",
            source,
        })?;
    Ok((udp, tcp))
}

/// Serves the DNSBL zone of `settings` from `database` on the bound sockets
/// until `shutdown` completes, reloading the listings when the database
/// changes and at once whenever `reload` is notified (the binary does that
/// on SIGHUP).
///
/// # Errors
///
/// [`DnsblError::Store`] if the database cannot be read at start, and
/// [`DnsblError::Serve`] if the DNS server fails. A database that becomes
/// unreadable later is logged and the previous listings stay in service.
pub async fn run(
    settings: Settings,
    database: PathBuf,
    udp: UdpSocket,
    tcp: TcpListener,
    shutdown: impl Future<Output = ()>,
    reload: Arc<Notify>,
) -> Result<(), DnsblError> {
    let (poller, first) = {
        let database = database.clone();
        let settings = settings.clone();
        tokio::task::spawn_blocking(move || reload::Poller::open(database, settings))
            .await
            .map_err(DnsblError::Panicked)??
    };
    let (ipv4, ipv6) = first.listings().len();
    let shared = Arc::new(RwLock::new(Arc::new(first)));
    let local = udp.local_addr().unwrap_or(settings.listen);

    let reloader = reload::Reloader::spawn(poller, shared.clone());
    let trigger = reloader.trigger();
    let requests = tokio::spawn(async move {
        loop {
            reload.notified().await;
            trigger.request();
        }
    });
    let tcp_responder = Arc::new(handler::Responder::new(&settings, shared.clone()));
    let mut server = Server::new(handler::Responder::new(&settings, shared));
    server.register_socket(udp);
    let limits = tcp::Limits {
        max_connections: settings.max_tcp_connections,
        idle_timeout: TCP_IDLE_TIMEOUT,
        response_buffer: TCP_RESPONSE_BUFFER,
    };
    // The server's token, so that a graceful shutdown stops TCP as well.
    let stop_tcp = server.shutdown_token().clone();
    let tcp_task = tokio::spawn(tcp::serve(tcp, tcp_responder, limits, stop_tcp.clone()));
    info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %local,
        zone = %settings.zone,
        database = %database.display(),
        ipv4,
        ipv6,
        max_tcp_connections = settings.max_tcp_connections,
        "wormsign DNSBL responder started"
    );

    let result = tokio::select! {
        result = server.block_until_done() => result,
        () = shutdown => server.shutdown_gracefully().await,
    };
    stop_tcp.cancel();
    if let Err(error) = tcp_task.await {
        error!(%error, "the TCP server task failed");
    }
    requests.abort();
    reloader.stop();
    info!("wormsign DNSBL responder stopped");
    result.map_err(DnsblError::Serve)
}
