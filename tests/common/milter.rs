//! The milter served in-process on a Unix socket in a temporary directory, with its SQLite
//! database, for tests that drive it with indymilter-test as an MTA would.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use indymilter_test::{EomAction, EomActions, Status, TestConnection};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use wormsign::config::Config;
use wormsign::milter::{self, Shared};
use wormsign::scanner::RuleSet;
use wormsign::store;

/// A running milter and the directory that holds its socket and database.
pub struct Harness {
    dir: tempfile::TempDir,
    socket: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
}

impl Harness {
    /// Starts the milter with `listen` and `database` in a new temporary directory, followed
    /// by the TOML lines in `extra_config` (may be empty).
    pub async fn start(extra_config: &str) -> Harness {
        let dir = tempfile::tempdir().expect("temporary directory");
        let socket = dir.path().join("milter.sock");
        let database = dir.path().join("wormsign.db");
        let text = format!(
            "listen = \"unix:{}\"\ndatabase = \"{}\"\n{extra_config}\n",
            socket.display(),
            database.display()
        );
        let config = Config::parse(&text, Path::new("test.toml")).expect("valid config");
        let rules = RuleSet::load(config.signatures.as_deref()).expect("rules compile");
        let listener = milter::bind(&config.listen, config.socket_mode)
            .await
            .expect("bind unix socket");
        let (sightings, writer) =
            store::spawn_writer(config.database.clone(), config.spool_path(), 64);
        let shared = Arc::new(Shared::new(config, rules, sightings));
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            milter::run(listener, shared, async {
                let _ = stopped.await;
            })
            .await
            .expect("milter runs");
            writer.shutdown().await;
        });
        Harness {
            dir,
            socket,
            stop: Some(stop),
            server: Some(server),
        }
    }

    /// Opens a milter connection that has not sent the SMTP connect stage yet.
    pub async fn open(&self) -> TestConnection {
        TestConnection::configure()
            .open_unix(&self.socket)
            .await
            .expect("open milter connection")
    }

    /// Opens a milter connection and sends the connect stage for client `hostname` at
    /// `address`.
    pub async fn connect(&self, hostname: &str, address: ([u8; 4], u16)) -> TestConnection {
        let mut conn = self.open().await;
        let status = conn.connect(hostname, address).await.expect("connect");
        // indymilter-test offers every protocol option, so wormsign
        // negotiates no reply to the stages before end of message.
        assert_eq!(status, Status::Noreply);
        conn
    }

    /// Stops the milter and its writer, so every sighting is committed.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.expect("milter task");
        }
    }

    /// Reads up to 100 sightings from the database. Call [`Harness::stop`] first so the
    /// writer has committed them.
    pub fn sightings(&self) -> Vec<store::Sighting> {
        let connection = store::open(&self.dir.path().join("wormsign.db")).expect("open database");
        store::sightings(&connection, 100).expect("read sightings")
    }
}

/// Returns the value of the X-Wormsign header that the end-of-message `actions` add, trimmed.
pub fn verdict_header(actions: &EomActions) -> Option<String> {
    actions.actions.iter().find_map(|action| match action {
        EomAction::AddHeader { name, value } if name.to_bytes() == b"X-Wormsign" => {
            Some(value.to_string_lossy().trim().to_string())
        }
        _ => None,
    })
}
