//! The `wormsign` binary: arguments, logging, signals, exit codes. The work
//! is done by the library.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tracing::{error, info, warn};

use wormsign::analysis::Settings;
use wormsign::cli::{
    BenchArgs, Cli, Command, ConfigCommand, DelistArgs, DnsblArgs, ExportArgs, OriginArgs,
    ReportArgs, RulesCommand, RunArgs, ScanArgs, StatsArgs,
};
use wormsign::config::Config;
use wormsign::scanner::{RuleSet, check_dir};
use wormsign::{bench, dnsbl, export, milter, scan, store};

/// Writes to standard output like `print!`, but returns the I/O error
/// instead of panicking, so that a closed pipe ends the command quietly
/// (see [`is_broken_pipe`]).
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_fmt(&mut std::io::stdout().lock(), format_args!($($arg)*))
    };
}

/// [`out!`] with a newline, like `println!`.
macro_rules! outln {
    ($($arg:tt)*) => {
        out!("{}\n", format_args!($($arg)*))
    };
}

/// Exit status for a closed standard output: 128 + SIGPIPE (13), the status
/// a shell reports for a command that a closed pipe ended.
const EXIT_BROKEN_PIPE: u8 = 141;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = cli
        .log
        .clone()
        .unwrap_or_else(|| cli.command.default_log_filter().to_string());
    if let Err(error) = init_tracing(&filter) {
        eprintln!(
            "wormsign: invalid --log filter {filter:?}: {error}; use e.g. info, debug or wormsign=debug"
        );
        return ExitCode::from(2);
    }
    match dispatch(cli) {
        Ok(code) => code,
        // The reader went away (`wormsign origin ... | head`): nothing is
        // left to print to, and nothing went wrong on our side.
        Err(error) if is_broken_pipe(&error) => ExitCode::from(EXIT_BROKEN_PIPE),
        Err(error) => {
            eprintln!("wormsign: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Returns whether `error` comes from writing to a closed pipe. Only a
/// bare I/O error counts, as `out!` returns it: errors of other operations
/// carry a context, so a broken connection elsewhere is still reported.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .downcast_ref::<std::io::Error>()
        .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}

fn init_tracing(filter: &str) -> Result<(), tracing_subscriber::filter::ParseError> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)?;
    // Colour only on a terminal: journald and log files get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}

fn load_config(path: Option<&Path>) -> Result<Config> {
    match path {
        Some(path) => Ok(Config::load(path)?),
        None => Ok(Config::default()),
    }
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    let path = cli.config.as_deref();
    let config = load_config(path);
    match cli.command {
        Command::Run(args) => run(config?, args),
        Command::Scan(args) => scan(config?, args),
        Command::Export(args) => export(config?, args),
        Command::Delist(args) => delist(config?, args),
        Command::Report(args) => report(config?, args),
        Command::Stats(args) => stats(config?, args),
        Command::Rules(RulesCommand::Check { dir }) => rules_check(config?, dir.as_deref()),
        Command::Rules(RulesCommand::Test { dir, manifest }) => {
            rules_test(config?, &dir, &manifest)
        }
        Command::Config(ConfigCommand::Check) => config_check(path, config),
        Command::Origin(args) => origin_command(config?, args),
        Command::Bench(args) => run_bench(args),
        Command::Dnsbl(args) => dnsbl(config?, args),
    }
}

fn config_check(path: Option<&Path>, config: Result<Config>) -> Result<ExitCode> {
    let source = path.map_or("embedded defaults".to_string(), |p| p.display().to_string());
    let config = match config {
        Ok(config) => config,
        Err(error) => {
            eprintln!("{error:#}");
            return Ok(ExitCode::from(1));
        }
    };
    match RuleSet::load(config.signatures.as_deref()) {
        Ok(rules) => {
            outln!(
                "# {source}: valid; {} rules from {}",
                rules.len(),
                rules.source
            )?;
            if let Some(warning) = unknown_family_warning(&config, &rules) {
                eprintln!("{source}: warning: {warning}");
            }
        }
        Err(error) => {
            eprintln!("{source}: signatures: {error}");
            return Ok(ExitCode::from(1));
        }
    }
    out!("{}", config.to_toml())?;
    Ok(ExitCode::SUCCESS)
}

fn load_rules(config: &Config) -> Result<RuleSet> {
    let rules = RuleSet::load(config.signatures.as_deref())
        .context("cannot compile the rules; run `wormsign rules check` for details")?;
    info!(source = %rules.source, rules = rules.len(), "rules compiled");
    if let Some(warning) = unknown_family_warning(config, &rules) {
        warn!("{warning}");
    }
    Ok(rules)
}

/// Returns a warning naming each `[[listing.return_codes]]` family that no
/// loaded rule carries, because such an entry never matches a listing.
fn unknown_family_warning(config: &Config, rules: &RuleSet) -> Option<String> {
    let known = rules.families();
    let unknown = config.listing.unknown_families(&known);
    if unknown.is_empty() {
        return None;
    }
    let unknown: Vec<String> = unknown.iter().map(|f| format!("{f:?}")).collect();
    Some(format!(
        "listing.return_codes: family {} is not the family of any rule from {}, so that entry never matches; known families: {}",
        unknown.join(", "),
        rules.source,
        known.join(", ")
    ))
}

fn run(mut config: Config, args: RunArgs) -> Result<ExitCode> {
    if let Some(listen) = args.listen {
        config.listen = listen.parse().map_err(anyhow::Error::msg)?;
    }
    if let Some(database) = args.database {
        config.database = database;
    }
    if args.null {
        let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
        runtime.block_on(serve_null(config))?;
        return Ok(ExitCode::SUCCESS);
    }
    let rules = load_rules(&config)?;
    // Open once up front so a bad database path fails at start, not at the
    // first sighting.
    store::open(&config.database)?;

    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(serve(config, rules))?;
    Ok(ExitCode::SUCCESS)
}

async fn serve(config: Config, rules: RuleSet) -> Result<()> {
    // Installed before the socket is bound, so that a SIGHUP sent while
    // the milter starts finds a handler and does not end the process.
    let mut hangup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    let (listener, socket_file) = milter::bind_owned(&config.listen, config.socket_mode).await?;
    let (sightings, writer) =
        store::spawn_writer(config.database.clone(), config.spool_path(), 4096);
    info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %config.listen,
        database = %config.database.display(),
        action = %config.action,
        trusted_networks = %config.trusted_networks_for_log(),
        "wormsign milter started"
    );
    let shared = Arc::new(milter::Shared::new(config, rules, sightings));

    let reload_shared = shared.clone();
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            info!("SIGHUP received: reloading rules");
            match reload_shared.reload_rules().await {
                Ok(count) => info!(rules = count, "rules reloaded"),
                Err(error) => error!(%error, "rule reload failed; the previous rules stay in use"),
            }
        }
    });

    let shutdown = async {
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(error) => {
                warn!(%error, "cannot install the SIGTERM handler; stop with SIGINT");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => info!("SIGINT received: stopping"),
            _ = terminate.recv() => info!("SIGTERM received: stopping"),
        }
    };
    let result = milter::run(listener, shared.clone(), shutdown).await;
    drop(shared);
    writer.shutdown().await;
    if let Some(socket_file) = socket_file {
        socket_file.remove_if_ours();
    }
    info!("wormsign milter stopped");
    Ok(result?)
}

/// Serves the null milter until SIGINT or SIGTERM. SIGHUP is logged and
/// otherwise ignored, because the null milter has nothing to reload.
async fn serve_null(config: Config) -> Result<()> {
    let mut hangup = signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
    let (listener, socket_file) = milter::bind_owned(&config.listen, config.socket_mode).await?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            info!("SIGHUP received: the null milter has nothing to reload");
        }
    });
    info!(
        version = env!("CARGO_PKG_VERSION"),
        listen = %config.listen,
        "null milter started: accepts every message, analyses nothing"
    );
    let shutdown = async {
        let mut terminate = match signal(SignalKind::terminate()) {
            Ok(terminate) => terminate,
            Err(error) => {
                warn!(%error, "cannot install the SIGTERM handler; stop with SIGINT");
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => info!("SIGINT received: stopping"),
            _ = terminate.recv() => info!("SIGTERM received: stopping"),
        }
    };
    let result = milter::run_null(listener, &config, shutdown).await;
    if let Some(socket_file) = socket_file {
        socket_file.remove_if_ours();
    }
    info!("null milter stopped");
    Ok(result?)
}

fn run_bench(args: BenchArgs) -> Result<ExitCode> {
    let socket: wormsign::config::ListenAddr = args.socket.parse().map_err(anyhow::Error::msg)?;
    if args.concurrency == 0 {
        anyhow::bail!("invalid --concurrency 0: give at least 1");
    }
    let corpus = bench::corpus::load(&args.corpus)?;
    let options = bench::BenchOptions {
        socket,
        concurrency: args.concurrency,
        messages: args.messages.unwrap_or(corpus.len()),
        timeout: std::time::Duration::from_secs(args.timeout),
        exchange: bench::client::ExchangeOptions {
            reply_every_stage: args.reply_every_stage,
            hold: std::time::Duration::from_millis(args.hold_ms),
        },
    };
    // One thread: the generator shares the machine with the milter under
    // test and should take as little of it as it can.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the tokio runtime")?;
    let report = runtime.block_on(bench::run(&corpus, &options));
    if args.json {
        outln!("{}", serde_json::to_string(&report)?)?;
    } else {
        out!("{}", report.to_text())?;
    }
    Ok(if report.errors > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn scan(config: Config, args: ScanArgs) -> Result<ExitCode> {
    let rules = load_rules(&config)?;
    let settings = Settings::from_config(&config);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = std::time::Instant::now();
    let reports = scan::scan_paths(&args.paths, &rules, &settings, threads);
    if args.stats {
        let peak = scan::peak_rss_kib().map_or("unknown".to_string(), |kib| format!("{kib} KiB"));
        eprintln!(
            "scanned {} message(s) in {:.3} s; peak RSS {peak}",
            reports.len(),
            started.elapsed().as_secs_f64()
        );
    }

    let mut infected = false;
    let mut errors = false;
    for report in &reports {
        infected |= report.verdict == "infected";
        errors |= report.verdict == "error";
        if args.json {
            outln!("{}", serde_json::to_string(report)?)?;
        } else {
            outln!("{}", report.line())?;
        }
    }
    if args.record {
        let database = args.database.unwrap_or(config.database);
        let sightings: Vec<_> = reports.iter().filter_map(|r| r.sighting.clone()).collect();
        let mut connection = store::open(&database)?;
        store::insert_batch(&mut connection, &sightings)?;
        eprintln!(
            "recorded {} sighting(s) in {}",
            sightings.len(),
            database.display()
        );
    }
    Ok(match (errors, infected) {
        (true, _) => ExitCode::from(2),
        (false, true) => ExitCode::from(1),
        (false, false) => ExitCode::SUCCESS,
    })
}

fn export(config: Config, args: ExportArgs) -> Result<ExitCode> {
    let format: export::Format = args.format.parse()?;
    if args.output6.is_some() && format != export::Format::Rbldnsd {
        anyhow::bail!("--output6 applies to --format rbldnsd only");
    }
    if let (Some(path), Some(path6)) = (&args.output, &args.output6)
        && export::file_identity(path) == export::file_identity(path6)
    {
        anyhow::bail!(
            "--output6 {} is the same file as --output {}, so the IPv6 data set would replace the IPv4 one: give --output6 a file of its own, or leave it out to write {}6",
            path6.display(),
            path.display(),
            path.display()
        );
    }
    let policy = export_policy(&config, &args)?;
    let mut settings = config.export.clone();
    for name in args.zone.iter().chain(&args.nameservers) {
        export::check_domain_name(name).map_err(anyhow::Error::msg)?;
    }
    if args.zone.is_some() {
        settings.zone = args.zone.clone();
    }
    if !args.nameservers.is_empty() {
        settings.nameservers = args.nameservers.clone();
    }
    settings.ip4tset |= args.ip4tset;
    if args.no_sensor_fields {
        settings.ndjson_sensor_fields = Some(false);
    }
    let options = settings.options(&policy);
    let database = args.database.clone().unwrap_or(config.database);
    let connection = store::open_for_reading(&database)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let Some(path) = args.output else {
        let listed = wormsign::listing::listed(&connection, &policy, now)?;
        if format == export::Format::Ndjson {
            let keys = listed.iter().map(|l| l.listing.ip.clone()).collect();
            let sightings = store::sightings_since(&connection, policy.query(now).since)?;
            let text = export::render_ndjson(&sightings, &keys, options.ndjson_sensor_fields).0;
            out!("{text}")?;
            return Ok(ExitCode::SUCCESS);
        }
        out!("{}", export::render(format, &listed, &options, now)?)?;
        let ipv6 = listed.iter().filter(|l| l.network.addr().is_ipv6()).count();
        if format == export::Format::Rbldnsd && ipv6 > 0 {
            eprintln!(
                "wormsign: {ipv6} IPv6 listing(s) not printed: the rbldnsd IPv6 data set needs --output (and --output6)"
            );
        }
        return Ok(ExitCode::SUCCESS);
    };
    let output = export::Output {
        format,
        path,
        path6: args.output6,
    };
    let summary = export::export_to_file(&connection, &output, &policy, &options, now)?;
    let path = output.path.display();
    let (ipv4, ipv6) = (summary.ipv4_listings, summary.ipv6_listings);
    match format {
        export::Format::Rbldnsd => {
            eprintln!("wrote {ipv4} IPv4 listing(s) to {path}");
            let path6 = output.ipv6_path();
            eprintln!("wrote {ipv6} IPv6 listing(s) to {}", path6.display());
        }
        export::Format::Ndjson => eprintln!(
            "wrote {} sighting(s) of {ipv4} IPv4 and {ipv6} IPv6 listing(s) to {path}",
            summary.sightings
        ),
        _ => eprintln!("wrote {ipv4} IPv4 and {ipv6} IPv6 listing(s) to {path}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn dnsbl(config: Config, args: DnsblArgs) -> Result<ExitCode> {
    let mut settings = config.dnsbl;
    if let Some(listen) = args.listen {
        settings.listen = listen;
    }
    if let Some(zone) = args.zone {
        settings = settings
            .with_zone(&zone)
            .map_err(|message| anyhow::anyhow!("--zone: {message}"))?;
    }
    let database = args.database.unwrap_or(config.database);
    // The responder reads through read-only connections, so an older schema
    // is upgraded here, once, as export, report and stats do.
    drop(store::open_for_reading(&database)?);
    let runtime = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    runtime.block_on(async {
        let reload = Arc::new(tokio::sync::Notify::new());
        let mut hangup =
            signal(SignalKind::hangup()).context("cannot install the SIGHUP handler")?;
        let requests = reload.clone();
        tokio::spawn(async move {
            while hangup.recv().await.is_some() {
                info!("SIGHUP received: reloading the DNSBL listings");
                requests.notify_one();
            }
        });
        let (udp, tcp) = dnsbl::bind(settings.listen).await?;
        dnsbl::run(settings, database, udp, tcp, stop_signal(), reload).await?;
        anyhow::Ok(())
    })?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT or SIGTERM.
async fn stop_signal() {
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(terminate) => terminate,
        Err(error) => {
            warn!(%error, "cannot install the SIGTERM handler; stop with SIGINT");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => info!("SIGINT received: stopping"),
        _ = terminate.recv() => info!("SIGTERM received: stopping"),
    }
}

/// Returns the config's listing policy with the export flags applied.
fn export_policy(config: &Config, args: &ExportArgs) -> Result<wormsign::listing::Policy> {
    let mut policy = config.listing.clone();
    if let Some(min) = args.min_sightings {
        if !min.is_finite() || min <= 0.0 {
            anyhow::bail!("invalid --min-sightings {min}: use a number above 0, e.g. 1 or 2.5");
        }
        policy.min_sightings = min;
    }
    let hours = |value: u64| match value {
        0 => None,
        hours => Some(i64::try_from(hours.saturating_mul(3600)).unwrap_or(i64::MAX)),
    };
    if let Some(value) = args.window_hours {
        policy.window_secs = hours(value);
    }
    if let Some(value) = args.expire_after_hours {
        policy.expire_after_secs = hours(value);
    }
    for entry in &args.weights {
        policy.set_weight(entry).map_err(anyhow::Error::msg)?;
    }
    for entry in &args.allow {
        policy.allow(entry).map_err(anyhow::Error::msg)?;
    }
    policy.list_documentation_ranges |= args.list_documentation_ranges;
    if let Some(template) = &args.txt_template {
        policy.txt_template = template
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
    }
    Ok(policy)
}

fn delist(config: Config, args: DelistArgs) -> Result<ExitCode> {
    let database = args.database.unwrap_or(config.database);
    let connection = store::open(&database)?;
    let sightings = store::sightings_of(&connection, args.ip)?;
    if sightings == 0 && !args.force {
        eprintln!(
            "wormsign: {} has no sightings in {}, so it is not listed and delisting it would \
             change nothing: check the address, or pass --force to record the delisting anyway",
            args.ip,
            database.display()
        );
        return Ok(ExitCode::from(1));
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let delisting = store::delist(&connection, args.ip, &args.reason, now)?;
    info!(ip = %delisting.ip, reason = %args.reason, sightings, "delisted");
    if sightings == 0 {
        eprintln!(
            "wormsign: warning: {} has no sightings; the delisting is recorded because of --force",
            delisting.ip
        );
    }
    outln!(
        "delisted {} at {}; a new sighting lists it again",
        delisting.ip,
        export::rfc3339(now)
    )?;
    Ok(ExitCode::SUCCESS)
}

fn report(config: Config, args: ReportArgs) -> Result<ExitCode> {
    use wormsign::report::{self, arf};
    if args.format != "arf" {
        anyhow::bail!(
            "invalid report --format {:?}: only arf (RFC 5965) is supported",
            args.format
        );
    }
    let group_by: report::GroupBy = args.group_by.parse().map_err(anyhow::Error::msg)?;
    arf::check_address("--from", &args.from).map_err(anyhow::Error::msg)?;
    if let Some(to) = &args.to {
        arf::check_address("--to", to).map_err(anyhow::Error::msg)?;
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let since = match &args.since {
        Some(text) => Some(report::parse_since(text, now).map_err(anyhow::Error::msg)?),
        None => config.listing.window_secs.map(|secs| now - secs),
    };
    let database = args.database.unwrap_or(config.database);
    let connection = store::open_for_reading(&database)?;
    let reports = report::build_reports(&connection, &config.listing, since, group_by, now)?;
    std::fs::create_dir_all(&args.output)
        .with_context(|| format!("cannot create report directory {}", args.output.display()))?;
    let envelope = arf::Envelope {
        from: args.from,
        to: args.to,
        // The zone the DNSBL is published under, by rbldnsd or BIND from
        // the export, or by `wormsign dnsbl`.
        zone: config
            .export
            .zone
            .clone()
            .or_else(|| config.dnsbl.configured_zone()),
    };
    for report in &reports {
        let path = args.output.join(report.file_name());
        export::write_atomic(&path, arf::render(report, &envelope, now).as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    eprintln!(
        "wrote {} report(s) to {}",
        reports.len(),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

fn stats(config: Config, args: StatsArgs) -> Result<ExitCode> {
    let database = args.database.clone().unwrap_or(config.database.clone());
    let connection = store::open_for_reading(&database)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let summary = wormsign::stats::collect(&connection, &config, now)?;
    out!("{}", summary.render())?;
    Ok(ExitCode::SUCCESS)
}

fn rules_check(config: Config, dir: Option<&Path>) -> Result<ExitCode> {
    let dir = dir.or(config.signatures.as_deref());
    let errors = check_dir(dir)?;
    let source = dir.map_or("embedded signatures".to_string(), |d| {
        d.display().to_string()
    });
    if errors.is_empty() {
        outln!("{source}: all rules compile")?;
        return Ok(ExitCode::SUCCESS);
    }
    for error in &errors {
        outln!("{error}")?;
    }
    outln!("{source}: {} error(s)", errors.len())?;
    Ok(ExitCode::from(1))
}

fn rules_test(config: Config, dir: &Path, manifest: &Path) -> Result<ExitCode> {
    let rules = if dir == Path::new("-") {
        RuleSet::embedded()
    } else {
        RuleSet::from_dir(dir)
    }
    .with_context(|| format!("cannot compile the rules in {}", dir.display()))?;
    let settings = Settings::from_config(&config);
    let report = wormsign::rules_cmd::run(&rules, &settings, manifest)?;
    out!("{}", report.render())?;
    Ok(if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `wormsign origin`: relays, trust flags and origin of each message file.
fn origin_command(config: Config, args: OriginArgs) -> Result<ExitCode> {
    let flags = [
        &args.trusted_networks,
        &args.internal_networks,
        &args.msa_networks,
    ];
    let settings = if flags.iter().all(|flag| flag.is_none()) {
        config.trust
    } else {
        let list = |name: &str, flag: &Option<String>| -> Result<Option<Vec<String>>> {
            let parsed = flag.as_deref().map(wormsign::origin_cmd::parse_list);
            parsed
                .transpose()
                .map_err(|error| anyhow::anyhow!("invalid --{name}: {error}"))
        };
        wormsign::origin::TrustSettings::parse(
            list("trusted-networks", &args.trusted_networks)?.as_deref(),
            list("internal-networks", &args.internal_networks)?.as_deref(),
            list("msa-networks", &args.msa_networks)?.as_deref(),
        )
        .map_err(|error| anyhow::anyhow!("invalid --{}: {error}", error.key().replace('_', "-")))?
    };
    let mut unreadable = false;
    for file in &args.files {
        for report in wormsign::origin_cmd::report_file(file, &settings) {
            unreadable |= report.error.is_some();
            if args.json {
                outln!("{}", serde_json::to_string(&report)?)?;
            } else {
                out!("{}", report.text())?;
            }
        }
    }
    Ok(if unreadable {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
