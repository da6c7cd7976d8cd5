//! Export benchmark: generates a database of sightings, then times
//! `export_to_file` in the rbldnsd format (listing query, policy, rendering
//! and both atomic writes) as `wormsign run` and `wormsign export` run it.
//!
//! ```sh
//! cargo bench --bench export_rbldnsd -- [SIGHTINGS] [HOSTS] [RUNS] [DELISTINGS]
//! ```
//!
//! Defaults: 1,000,000 sightings from 200,000 hosts (one in ten IPv6), spread
//! over the last 6 days, 5 timed runs, no delistings (DELISTINGS delists the
//! first hosts an hour ago, which adds the delisting join to the query). Prints the generation time, then per
//! run the wall-clock and CPU time of the whole export and the wall-clock
//! time of its query, policy and render-and-write steps, then the medians.
//! CPU time (user plus system, from /proc/self/stat) is less disturbed than
//! wall-clock time when other processes share the cores.

use std::time::Instant;

use wormsign::export::{ExportOptions, Format, Output, export_to_file};
use wormsign::listing::Policy;
use wormsign::store::{self, Sighting};

const BATCH: usize = 50_000;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with("--"))
        .map(|arg| arg.parse::<usize>().expect("numeric arguments"));
    let sightings = args.next().unwrap_or(1_000_000);
    let hosts = args.next().unwrap_or(200_000).max(1);
    let runs = args.next().unwrap_or(5).max(1);
    let delistings = args.next().unwrap_or(0).min(hosts);

    let directory = tempfile::tempdir().expect("temporary directory");
    let database = directory.path().join("wormsign.db");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let started = Instant::now();
    generate(&database, sightings, hosts, now);
    let connection = store::open(&database).expect("open database");
    for host in 0..delistings {
        let ip = sighting(host, now, 0)
            .origin_ip
            .parse()
            .expect("generated address");
        store::delist(&connection, ip, "bench", now - 3600).expect("delist");
    }
    drop(connection);
    println!(
        "generated {sightings} sightings from {hosts} hosts and {delistings} delistings in {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let connection = store::open_read_only(&database).expect("open database");
    let policy = Policy::default();
    let options = ExportOptions::for_policy(&policy);
    let output = Output {
        format: Format::Rbldnsd,
        path: directory.path().join("bl.ip4"),
        path6: None,
    };
    let mut wall_times = Vec::new();
    let mut cpu_times = Vec::new();
    for run in 1..=runs {
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let summary =
            export_to_file(&connection, &output, &policy, &options, now).expect("export succeeds");
        let elapsed = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;

        let step = Instant::now();
        let listings = store::listings(&connection, &policy.query(now)).expect("query");
        let query = step.elapsed().as_secs_f64();
        let step = Instant::now();
        let listed = wormsign::listing::apply(listings, &policy);
        let apply = step.elapsed().as_secs_f64();
        let step = Instant::now();
        let ipv4 =
            wormsign::export::render(Format::Rbldnsd, &listed, &options, now).expect("render");
        let ipv6 = wormsign::export::render_rbldnsd_ip6(&listed, &options, now);
        wormsign::export::write_atomic(&output.path, ipv4.as_bytes()).expect("write");
        wormsign::export::write_atomic(&output.ipv6_path(), ipv6.as_bytes()).expect("write");
        let render = step.elapsed().as_secs_f64();

        println!(
            "run {run}: {elapsed:.3} s wall, {cpu:.2} s CPU, {} IPv4 and {} IPv6 listings \
             (steps: query {query:.3} s, policy {apply:.3} s, render and write {render:.3} s)",
            summary.ipv4_listings, summary.ipv6_listings
        );
        wall_times.push(elapsed);
        cpu_times.push(cpu);
    }
    let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |m| m.len());
    println!(
        "file sizes: IPv4 {} bytes, IPv6 {} bytes",
        size(&output.path),
        size(&output.ipv6_path())
    );
    wall_times.sort_by(f64::total_cmp);
    cpu_times.sort_by(f64::total_cmp);
    println!(
        "median over {runs} runs: {:.3} s wall, {:.2} s CPU",
        wall_times[runs / 2],
        cpu_times[runs / 2]
    );
}

/// Returns the user plus system CPU time of this process in seconds, from
/// /proc/self/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("read /proc/self/stat");
    // The command name in field 2 may contain spaces, so count from after it.
    let after_name = &stat[stat.rfind(')').expect("stat format") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let user: u64 = fields[11].parse().expect("utime");
    let system: u64 = fields[12].parse().expect("stime");
    (user + system) as f64 / 100.0
}

/// Fills the database: host `n` is IPv4 in 20.0.0.0/8 upwards (public,
/// listable space) or, for every tenth host, an IPv6 address in its own /64.
fn generate(database: &std::path::Path, sightings: usize, hosts: usize, now: i64) {
    let mut connection = store::open(database).expect("create database");
    let mut batch = Vec::with_capacity(BATCH);
    for index in 0..sightings {
        let host = (index.wrapping_mul(2_654_435_761)) % hosts;
        batch.push(sighting(host, now - (index as i64 % (6 * 86_400)), index));
        if batch.len() == BATCH {
            store::insert_batch(&mut connection, &batch).expect("insert");
            batch.clear();
        }
    }
    store::insert_batch(&mut connection, &batch).expect("insert");
}

fn sighting(host: usize, seen_at: i64, index: usize) -> Sighting {
    let host_number = u32::try_from(host).expect("host count fits 32 bits");
    let origin_ip = if host % 10 == 9 {
        format!("2a00:{:x}:{:x}::1", host_number >> 16, host_number & 0xffff)
    } else {
        std::net::Ipv4Addr::from(0x1400_0000 + host_number).to_string()
    };
    Sighting {
        seen_at,
        origin_ip: origin_ip.clone(),
        origin_method: if index.is_multiple_of(7) {
            "received"
        } else {
            "connect"
        }
        .to_string(),
        family: "Sober".to_string(),
        variant: Some(["P", "Q", "Y"][index % 3].to_string()),
        rule: "Sober_P_zip".to_string(),
        confidence: "high".to_string(),
        queue_id: Some(format!("Q{index}")),
        message_id: Some(format!("<{index}@pc.example>")),
        client_ip: Some(origin_ip),
        helo: Some("pc".to_string()),
        envelope_from: Some("someone@example.com".to_string()),
        size: 20_000,
        headers: Some("Subject: Ihr Passwort\r\nFrom: service@example.com\r\n".to_string()),
        evidence: serde_json::json!({"matches": [{"rule": "Sober_P_zip", "object": "2"}]}),
    }
}
