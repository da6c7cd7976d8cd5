//! The milter socket: TCP with TCP_NODELAY and quick ACKs, or a Unix socket.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use indymilter::{EitherListener, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tracing::{info, warn};

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

/// How long [`bind`] waits for a connection to an existing socket file.
/// A listener whose accept queue is full leaves the connection pending, so
/// a timeout counts as "in use" too.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Binds the configured socket. A stale Unix socket file is removed first,
/// and `socket_mode` (e.g. 0o660) is applied to a new Unix socket. The
/// socket file stays when the listener is dropped; [`bind_owned`] also
/// returns what is needed to remove it.
///
/// # Errors
/// As [`bind_owned`].
pub async fn bind(addr: &ListenAddr, socket_mode: Option<u32>) -> io::Result<MilterListener> {
    bind_owned(addr, socket_mode)
        .await
        .map(|(listener, _)| listener)
}

/// Binds the configured socket like [`bind`], and for a Unix socket also
/// returns the [`SocketFile`] it created, to be removed at shutdown.
///
/// An existing socket file is removed only when it is stale: a connection
/// to it is refused. If a process accepts connections there, binding fails
/// instead of taking the path over, because that process would keep
/// running unreachable and the MTA would pass mail unscanned.
///
/// # Errors
/// The address cannot be bound, the socket file is in use or is no socket,
/// its directory is missing, or the mode cannot be set. The error names the
/// address.
pub async fn bind_owned(
    addr: &ListenAddr,
    socket_mode: Option<u32>,
) -> io::Result<(MilterListener, Option<SocketFile>)> {
    let with_addr =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    match addr {
        ListenAddr::Inet(host_port) => {
            let listener = TcpListener::bind(host_port.as_str())
                .await
                .map_err(with_addr)?;
            Ok((EitherListener::Tcp(NoDelayListener(listener)), None))
        }
        ListenAddr::Unix(path) => {
            check_directory(path).map_err(with_addr)?;
            remove_stale_socket(path).await.map_err(with_addr)?;
            let listener = UnixListener::bind(path).map_err(with_addr)?;
            let socket_file = SocketFile::created_at(path).map_err(with_addr)?;
            if let Some(mode) = socket_mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(with_addr)?;
            }
            Ok((EitherListener::Unix(listener), Some(socket_file)))
        }
    }
}

/// A Unix socket file that this process bound, identified by device and
/// inode so that a file another process put at the same path is left alone.
/// The bound socket keeps its inode in use, so a file created while the
/// listener was open cannot have the same inode number.
#[derive(Debug)]
pub struct SocketFile {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl SocketFile {
    fn created_at(path: &Path) -> io::Result<SocketFile> {
        let metadata = std::fs::symlink_metadata(path)?;
        Ok(SocketFile {
            path: path.to_path_buf(),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// Removes the socket file if the path still names the file this
    /// process bound. A file that was removed or replaced meanwhile belongs
    /// to someone else now and stays. Failures are logged, not returned,
    /// because this runs at shutdown.
    pub fn remove_if_ours(self) {
        let path = self.path.display();
        match std::fs::symlink_metadata(&self.path) {
            Ok(metadata) if (metadata.dev(), metadata.ino()) == (self.device, self.inode) => {
                if let Err(error) = std::fs::remove_file(&self.path) {
                    warn!(%path, %error, "failed to remove the milter socket file");
                }
            }
            Ok(_) => info!(%path, "the socket file was replaced by another process; leaving it"),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => warn!(%path, %error, "failed to check the milter socket file"),
        }
    }
}

/// Fails with a message naming the directory when the socket's directory
/// does not exist, which `bind` would report as a bare "No such file or
/// directory".
fn check_directory(path: &Path) -> io::Result<()> {
    let Some(directory) = path.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    match std::fs::metadata(directory) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!(
                "directory {} does not exist: create it (for a chrooted Postfix, \
                 under /var/spool/postfix)",
                directory.display()
            ),
        )),
        _ => Ok(()),
    }
}

/// Removes the file at `path` if it is a socket that no process accepts
/// connections on.
async fn remove_stale_socket(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {}
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                "the file exists and is not a socket: remove it or choose another listen path",
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    let in_use = || {
        io::Error::new(
            io::ErrorKind::AddrInUse,
            "another process is listening on this socket: stop it or choose another \
             listen path",
        )
    };
    match tokio::time::timeout(PROBE_TIMEOUT, UnixStream::connect(path)).await {
        Ok(Ok(_connection)) => Err(in_use()),
        Err(_elapsed) => Err(in_use()),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            info!(path = %path.display(), "removing a stale socket file");
            std::fs::remove_file(path)
        }
        // Removed between the check and the connection.
        Ok(Err(e)) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Ok(Err(e)) => Err(io::Error::new(
            e.kind(),
            format!(
                "cannot tell whether the socket is in use ({e}): remove it if no milter runs there"
            ),
        )),
    }
}
