//! End to end: a bounce (DSN) that carries a Sober mail as
//! `message/rfc822`, sent with a null sender through real Postfix on
//! loopback with `wormsign run` attached. The sighting must name the
//! worm's sender from the embedded original's chain, not the bouncing MTA,
//! and be marked as reported by a third party (`bounce`).

mod common;

use std::time::Duration;

use common::{DOMAIN, Milter, Postfix, smtp_send};

const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

/// The MTA that sent the bounce: innocent, never the origin.
const BOUNCER_IP: &str = "192.0.2.25";
/// The newest hop of the embedded Sober mail (see expected.json).
const WORM_IP: &str = "203.0.113.7";

/// Builds a Postfix-style DSN around the Sober.Y fixture.
fn dsn() -> Vec<u8> {
    let original = std::fs::read(common::repo_root().join("tests/fixtures/e2e/a-sober-y-fbi.eml"))
        .expect("read the Sober fixture");
    let original = String::from_utf8_lossy(&original).replace("\r\n", "\n");
    format!(
        "Received: from mx.bouncer.example (mx.bouncer.example [{BOUNCER_IP}])\n\
         \tby mx1.{DOMAIN} (Postfix) with ESMTP id 7C1D2E3F4A; Tue, 22 Nov 2005 10:05:00 +0000\n\
         From: MAILER-DAEMON@bouncer.example (Mail Delivery System)\n\
         To: alice@{DOMAIN}\n\
         Subject: Undelivered Mail Returned to Sender\n\
         Message-ID: <dsn-4AB12C0DE1@bouncer.example>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"DSN-B\"\n\
         \n\
         --DSN-B\n\
         Content-Type: text/plain\n\
         \n\
         Your message could not be delivered to nobody@bouncer.example.\n\
         \n\
         --DSN-B\n\
         Content-Type: message/delivery-status\n\
         \n\
         Reporting-MTA: dns; mx.bouncer.example\n\
         \n\
         Final-Recipient: rfc822; nobody@bouncer.example\n\
         Action: failed\n\
         Status: 5.1.1\n\
         \n\
         --DSN-B\n\
         Content-Type: message/rfc822\n\
         \n\
         {original}\n\
         --DSN-B--\n"
    )
    .into_bytes()
}

#[test]
fn postfix_bounce_records_embedded_origin() {
    let mut milter = Milter::start("action = \"accept\"");
    let postfix = Postfix::start(Some(&milter.socket()));

    let recipient = format!("alice@{DOMAIN}");
    smtp_send(postfix.port(), "", &[&recipient], &dsn())
        .unwrap_or_else(|e| panic!("sending the DSN failed: {e}"));
    let delivered = postfix.wait_for_messages("alice", 1, DELIVERY_TIMEOUT);
    assert_eq!(delivered.len(), 1, "milter log:\n{}", milter.log());

    let status = milter.stop();
    assert!(status.success(), "milter exit {status}:\n{}", milter.log());

    let connection = rusqlite::Connection::open(milter.database()).expect("open the database");
    let rows: Vec<(String, String, String)> = connection
        .prepare("SELECT origin_ip, origin_method, family FROM sightings")
        .expect("prepare query")
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .expect("query sightings")
        .collect::<Result<_, _>>()
        .expect("read sightings");
    assert_eq!(rows.len(), 1, "sightings: {rows:?}\n{}", milter.log());
    let (origin_ip, method, family) = &rows[0];
    assert_eq!(origin_ip, WORM_IP);
    assert_ne!(origin_ip, BOUNCER_IP);
    assert_eq!(method, "bounce");
    assert_eq!(family, "Sober");
}
