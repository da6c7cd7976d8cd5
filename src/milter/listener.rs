//! The milter socket: TCP with TCP_NODELAY and quick ACKs, or a Unix socket.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};

use indymilter::{EitherListener, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener};
use tracing::warn;

use crate::config::ListenAddr;

/// A TCP listener that tunes every connection for the milter's small
/// request-reply exchanges (see [`MilterStream`]).
pub struct NoDelayListener(pub TcpListener);

impl Listener for NoDelayListener {
    type Io = MilterStream;

    fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<MilterStream>> {
        self.0.poll_accept(cx).map_ok(|(stream, peer)| {
            if let Err(error) = stream.set_nodelay(true) {
                warn!(%peer, %error, "cannot set TCP_NODELAY");
            }
            MilterStream(stream)
        })
    }
}

/// A milter TCP connection.
///
/// TCP_NODELAY keeps our replies from waiting for the peer's ACK. The MTA
/// side may lack it: Sendmail 8.17 writes one milter command in two
/// segments, and with Nagle on its socket the second waits for our ACK,
/// which Linux delays by up to 40 ms. That cost about 300 ms per message
/// over loopback. Re-arming TCP_QUICKACK after each read sends those ACKs
/// at once (the kernel drops quick-ACK mode on its own, so once is not enough).
pub struct MilterStream(TcpStream);

impl AsyncRead for MilterStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.0).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            // Best effort: without it the exchange is only slower.
            let _ = socket2::SockRef::from(&self.0).set_tcp_quickack(true);
        }
        result
    }
}

impl AsyncWrite for MilterStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The listener [`run`] serves on.
pub type MilterListener = EitherListener<NoDelayListener, UnixListener>;

/// Binds the configured socket. A stale Unix socket file is removed first,
/// and `socket_mode` (e.g. 0o660) is applied to a new Unix socket.
///
/// # Errors
/// The address cannot be bound or the mode cannot be set; the error names
/// the address.
pub async fn bind(addr: &ListenAddr, socket_mode: Option<u32>) -> io::Result<MilterListener> {
    let with_addr =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    match addr {
        ListenAddr::Inet(host_port) => {
            let listener = TcpListener::bind(host_port.as_str())
                .await
                .map_err(with_addr)?;
            Ok(EitherListener::Tcp(NoDelayListener(listener)))
        }
        ListenAddr::Unix(path) => {
            remove_stale_socket(path)?;
            let listener = UnixListener::bind(path).map_err(with_addr)?;
            if let Some(mode) = socket_mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(with_addr)?;
            }
            Ok(EitherListener::Unix(listener))
        }
    }
}

fn remove_stale_socket(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => std::fs::remove_file(path),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} exists and is not a socket: remove it or choose another listen path",
                path.display()
            ),
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}
