//! `qianbiao`: the command line. Parsing, progress and exit codes only; the work is in
//! the library crates.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use qianbiao_core::policy::{Pipeline, DIANZI_2022};

mod malloc;

/// Writes to standard output. A reader that stops reading (`qianbiao cases summary WS |
/// head`) ends the command quietly: a closed pipe is not an error of the command.
fn emit(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("qianbiao: error: standard output: {e}");
        std::process::exit(2);
    }
}

/// `println!` through [`emit`].
macro_rules! emitln {
    ($($arg:tt)*) => {
        emit(&format!("{}\n", format_args!($($arg)*)))
    };
}

#[derive(Parser)]
#[command(
    name = "qianbiao",
    version,
    about = "钱表: reconciliation of resident pension and medical insurance collection"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the pipeline: read the exports, check every rule, write findings and tables.
    Run(RunArgs),
    /// A Ballista scheduler for `run --cluster df://HOST:PORT` (built with --features cluster).
    Scheduler {
        /// The address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// The port to listen on.
        #[arg(long, default_value_t = 50050)]
        port: u16,
        /// Seconds without a word from an executor before it is taken as lost and its
        /// tasks are run elsewhere (at least 10: a busy executor asks for work every 5 s).
        #[arg(long, default_value_t = 30)]
        executor_timeout: u64,
    },
    /// A Ballista executor that runs qianbiao's bucket stage (built with --features cluster).
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, default_value = "localhost:50050")]
        scheduler: String,
        /// The address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind: String,
        /// The Arrow Flight port (results and shuffles).
        #[arg(long, default_value_t = 50051)]
        port: u16,
        /// The gRPC port.
        #[arg(long, default_value_t = 50052)]
        grpc_port: u16,
        /// Buckets checked at once (each uses every core and a bucket's memory).
        #[arg(long, default_value_t = 1)]
        slots: usize,
        /// Folder for the executor's shuffle files (default: a temporary folder, removed
        /// when the executor stops on Ctrl-C or SIGTERM).
        #[arg(long)]
        work_dir: Option<String>,
        /// A bucket's rows of one source beyond this size (e.g. 2GiB; `0`: always) wait
        /// for the checks in a spill file in the work folder, not in memory: for a bucket
        /// too large for the executor whatever --partitions (its largest component).
        /// Default: never.
        #[arg(long = "spill-above", value_name = "SIZE")]
        spill_above: Option<String>,
    },
    /// The case register of a workspace: export for review, import decisions, summary.
    Cases {
        #[command(subcommand)]
        action: CasesCommand,
    },
    /// Check a workspace: every output against its manifest and the chain of manifests.
    Verify {
        /// The workspace folder.
        workspace: PathBuf,
    },
    /// Print the rule catalogue.
    Rules {
        /// Print the Markdown of docs/rules.md instead of a table.
        #[arg(long)]
        markdown: bool,
    },
    /// Read every input with polars' plain readers and nothing else: the scan floor that
    /// benchmarks compare a run against.
    Scan {
        /// Folder with one input per source.
        #[arg(long)]
        data: PathBuf,
    },
    /// Generate a synthetic town with known anomalies and its truth.
    Synth {
        /// Number of persons.
        #[arg(long, default_value_t = 5000)]
        persons: usize,
        /// Random seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Exercise every input variation of the contract (encodings, formats, aliases,
        /// value forms, overlapping exports, garbage rows).
        #[arg(long)]
        dirty: bool,
        /// File format of the clean sources.
        #[arg(long, value_enum, default_value_t = SynthFormat::Csv)]
        format: SynthFormat,
        /// Persons per town: more persons make a province of towns of about this size,
        /// each with its own villages, ids and names.
        #[arg(long, default_value_t = qianbiao_synth::TOWN_PERSONS)]
        town_size: usize,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Folder with one input per source (default: the pipeline's data folder).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder, created if missing (a one-off run; see --workspace).
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// Workspace folder: the run goes to WS/runs/RUN_ID/ with changes.csv and
    /// outcomes.csv, and updates the case register WS/cases.db.
    #[arg(long, conflicts_with = "out")]
    workspace: Option<PathBuf>,
    /// Pipeline TOML (default: the built-in 2022 Dianzi pipeline).
    #[arg(long)]
    pipeline: Option<PathBuf>,
    /// The date the data is complete to (default: latest payment or deposit date).
    #[arg(long = "as-of", value_name = "YYYY-MM-DD")]
    as_of: Option<String>,
    /// Mask ids and names in every output meant for reading (for sharing outside the
    /// audit team); finding_id stays unchanged.
    #[arg(long)]
    mask: bool,
    /// Split the run into K partitions of persons, each loaded, checked and dropped
    /// in turn (1: everything in memory). Default: chosen from --memory-limit.
    #[arg(long, value_name = "K")]
    partitions: Option<usize>,
    /// The memory the run may use, e.g. 2GiB or 800MiB: above what the inputs would
    /// take in memory, the run is partitioned (default: half the machine's memory).
    #[arg(
        long = "memory-limit",
        value_name = "SIZE",
        conflicts_with = "partitions"
    )]
    memory_limit: Option<String>,
    /// Check the buckets on a Ballista cluster: `standalone` (a scheduler and an
    /// executor in this process) or `df://HOST:PORT` (a `qianbiao scheduler`). The
    /// run is always partitioned then; --out must be a folder every executor reads.
    #[arg(long, value_name = "standalone|df://HOST:PORT")]
    cluster: Option<String>,
    /// With --cluster: give up a Ballista job (the keys, or the split and checks) that
    /// has not finished after this many seconds, and fail with exit 2 (a lost executor
    /// can leave a job waiting). Default: wait.
    #[arg(long = "cluster-timeout", value_name = "SECONDS", requires = "cluster")]
    cluster_timeout: Option<u64>,
    /// In a partitioned run, a Parquet file of more than this many rows is read in pieces
    /// of whole row groups of about this many rows (0: each file whole): with --cluster
    /// each piece is a task of its own, read and split by several executors; on this
    /// machine a pass holds a piece of the file instead of the whole file. Default: with
    /// --cluster 4000000; on this machine one row a KiB of the memory limit, from 250000
    /// to 4000000.
    #[arg(long = "task-rows", value_name = "ROWS")]
    task_rows: Option<u64>,
}

#[derive(Subcommand)]
enum CasesCommand {
    /// Write the open and recently changed cases to a workbook for the reviewers.
    Export {
        /// The workspace folder.
        workspace: PathBuf,
        /// The workbook to write (.xlsx).
        #[arg(long)]
        out: PathBuf,
        /// Mask ids and names (for sharing outside the audit team).
        #[arg(long)]
        mask: bool,
    },
    /// Record the decisions of a filled workbook: every row valid, or nothing recorded.
    Import {
        /// The workspace folder.
        workspace: PathBuf,
        /// The filled workbook.
        file: PathBuf,
    },
    /// Print per rule: findings, open, confirmed, cleared, rectified, amounts.
    Summary {
        /// The workspace folder.
        workspace: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum SynthFormat {
    Csv,
    Parquet,
}

fn main() -> ExitCode {
    // Before any thread starts: every arena is made after this.
    malloc::limit_arenas();
    // A panic inside a guarded third-party decoder (a corrupted XLSX or Parquet file)
    // becomes a one-line error; only other panics print, as bugs.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !qianbiao_ingest::read::in_guarded_decoder()
            && !qianbiao_report::xlsx::in_guarded_writer()
        {
            default_hook(info);
        }
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Run(args) => {
            stop_cleanly_on_signals();
            run(args)
        }
        Command::Scheduler {
            bind,
            port,
            executor_timeout,
        } => {
            if executor_timeout < 10 {
                Err(anyhow!(
                    "--executor-timeout {executor_timeout}: at least 10 seconds (a busy \
                     executor asks for work every 5 s, which is its heartbeat)"
                ))
            } else {
                cluster::scheduler(&bind, port, executor_timeout)
            }
        }
        Command::Executor {
            scheduler,
            bind,
            port,
            grpc_port,
            slots,
            work_dir,
            spill_above,
        } => spill_above
            .map(|size| match size.trim() {
                "0" => Ok(0),
                text => qianbiao_engine::partition::parse_size(text)
                    .ok_or_else(|| anyhow!("--spill-above: not a size: '{size}' (e.g. 2GiB)")),
            })
            .transpose()
            .and_then(|spill_above| {
                cluster::executor(
                    &scheduler,
                    (bind, port, grpc_port),
                    slots,
                    work_dir,
                    spill_above,
                )
            }),
        Command::Cases { action } => cases(action),
        Command::Verify { workspace } => verify(&workspace),
        Command::Rules { markdown } => {
            rules(markdown);
            Ok(())
        }
        Command::Scan { data } => scan(&data),
        Command::Synth {
            persons,
            seed,
            out,
            dirty,
            format,
            town_size,
        } => synth(persons, seed, out, dirty, format, town_size),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("qianbiao: error: {}", one_line(&e));
            ExitCode::from(2)
        }
    }
}

/// A run stopped by SIGINT (Ctrl-C), SIGTERM or SIGHUP removes its spill and staging
/// folders before it exits (128 + the signal, as the shell reports a signal); the
/// previous outputs of `--out` are left as they were.
fn stop_cleanly_on_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("qianbiao-signals".into())
        .spawn(move || {
            if let Some(sig) = signals.forever().next() {
                qianbiao_engine::remove_temp_dirs();
                std::process::exit(128 + sig);
            }
        });
}

/// A command line clap refuses: help and version print as clap prints them (exit 0);
/// anything else is one line on stderr and exit 2, as every failure to run
/// (`data-contract.md`, Command line).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!(
                "qianbiao: error: a command is missing (run, cases, verify, rules, scan, \
                 synth, ...): see `qianbiao --help`"
            );
            ExitCode::from(2)
        }
        _ => {
            let text = e.to_string();
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("bad command line");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("qianbiao: error: {first} (see `qianbiao --help`)");
            ExitCode::from(2)
        }
    }
}

/// `--cluster`, `qianbiao scheduler` and `qianbiao executor`: with the `cluster` feature,
/// the Ballista run of `qianbiao-distributed`; without it, one clear line.
mod cluster {
    #[cfg(feature = "cluster")]
    use anyhow::anyhow;
    use qianbiao_engine::BucketRunner;

    #[cfg(not(feature = "cluster"))]
    const NOT_BUILT: &str = "this qianbiao was built without the cluster feature: build it \
                             with `cargo build --release --features cluster`";

    #[cfg(feature = "cluster")]
    pub fn runner(
        text: &str,
        timeout: Option<u64>,
        task_rows: Option<u64>,
    ) -> anyhow::Result<Box<dyn BucketRunner>> {
        let c = qianbiao_distributed::Cluster::parse(text).map_err(|e| anyhow!(e))?;
        let mut runner = qianbiao_distributed::BallistaRunner::new(c);
        if let Some(n) = task_rows {
            runner = runner.with_task_rows((n > 0).then_some(n));
        }
        Ok(Box::new(match timeout {
            Some(s) => runner.with_deadline(std::time::Duration::from_secs(s)),
            None => runner,
        }))
    }

    #[cfg(not(feature = "cluster"))]
    pub fn runner(
        _: &str,
        _: Option<u64>,
        _: Option<u64>,
    ) -> anyhow::Result<Box<dyn BucketRunner>> {
        Err(anyhow::anyhow!("--cluster: {NOT_BUILT}"))
    }

    #[cfg(feature = "cluster")]
    pub fn scheduler(bind: &str, port: u16, timeout: u64) -> anyhow::Result<()> {
        qianbiao_distributed::run_scheduler(bind, port, timeout)
    }

    #[cfg(not(feature = "cluster"))]
    pub fn scheduler(_: &str, _: u16, _: u64) -> anyhow::Result<()> {
        Err(anyhow::anyhow!("scheduler: {NOT_BUILT}"))
    }

    #[cfg(feature = "cluster")]
    pub fn executor(
        scheduler: &str,
        (bind, port, grpc_port): (String, u16, u16),
        slots: usize,
        work_dir: Option<String>,
        spill_above: Option<u64>,
    ) -> anyhow::Result<()> {
        let (host, sport) = scheduler
            .rsplit_once(':')
            .and_then(|(h, p)| Some((h.to_string(), p.parse::<u16>().ok()?)))
            .ok_or_else(|| anyhow!("--scheduler {scheduler:?}: expected HOST:PORT"))?;
        qianbiao_distributed::run_executor(&qianbiao_distributed::ExecutorSettings {
            scheduler_host: host,
            scheduler_port: sport,
            bind,
            port,
            grpc_port,
            slots,
            work_dir,
            spill_above,
        })
    }

    #[cfg(not(feature = "cluster"))]
    pub fn executor(
        _: &str,
        _: (String, u16, u16),
        _: usize,
        _: Option<String>,
        _: Option<u64>,
    ) -> anyhow::Result<()> {
        Err(anyhow::anyhow!("executor: {NOT_BUILT}"))
    }
}

/// The error and its causes on one line.
fn one_line(e: &anyhow::Error) -> String {
    // A cause whose text the message before it already ends with (an error that prints
    // its source) is said once.
    let mut line = String::new();
    for c in e.chain().map(|c| c.to_string()) {
        if line.is_empty() {
            line = c;
        } else if !line.ends_with(&c) {
            line = format!("{line}: {c}");
        }
    }
    line.replace('\n', " ")
}

fn load_pipeline(path: Option<&Path>) -> anyhow::Result<(Pipeline, String, PathBuf)> {
    match path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .with_context(|| format!("{}: cannot read pipeline", p.display()))?;
            let pipeline = Pipeline::from_toml(&text)
                .map_err(|e| anyhow!("{}: bad configuration: {e}", p.display()))?;
            let base = p.parent().unwrap_or(Path::new(".")).to_path_buf();
            Ok((pipeline, p.display().to_string(), base))
        }
        None => {
            let pipeline =
                Pipeline::from_toml(DIANZI_2022).map_err(|e| anyhow!("built-in pipeline: {e}"))?;
            // Relative to the current directory, never a path fixed when the binary was
            // built: the built-in pipeline's data is `sample-data/dianzi-2022` of the
            // folder qianbiao is run from.
            let base = PathBuf::from("pipelines");
            Ok((
                pipeline,
                "built-in: pipelines/dianzi-2022.toml".into(),
                base,
            ))
        }
    }
}

fn run(args: RunArgs) -> anyhow::Result<()> {
    let RunArgs {
        data,
        out,
        workspace,
        pipeline,
        as_of,
        mask,
        partitions,
        memory_limit,
        cluster,
        cluster_timeout,
        task_rows,
    } = args;
    let partitioning = partitioning(partitions, memory_limit.as_deref())?;
    let runner: Option<Box<dyn qianbiao_engine::BucketRunner>> = match cluster.as_deref() {
        Some(c) => Some(cluster::runner(c, cluster_timeout, task_rows)?),
        // On this machine: a runner only to change the size of the pieces.
        None => task_rows.map(|n| {
            Box::new(qianbiao_engine::LocalRunner {
                task_rows: (n > 0).then_some(n),
            }) as Box<dyn qianbiao_engine::BucketRunner>
        }),
    };
    let (pipeline, source, base) = load_pipeline(pipeline.as_deref())?;
    let data = match data {
        Some(d) => d,
        None => {
            let rel = pipeline.data.as_ref().ok_or_else(|| {
                anyhow!("{source}: no `data` folder in the pipeline; pass --data")
            })?;
            let d = normalise_path(&base.join(rel));
            if !d.is_dir() {
                let cwd = std::env::current_dir()
                    .map(|c| c.display().to_string())
                    .unwrap_or_default();
                return Err(anyhow!(
                    "{}: data folder not found relative to the current directory {cwd}; \
                     run from the project folder or pass --data",
                    d.display()
                ));
            }
            d
        }
    };
    let as_of = match as_of {
        None => None,
        Some(s) => Some(
            qianbiao_core::date::parse_date(&s)
                .ok_or_else(|| anyhow!("--as-of: not a date: '{s}' (use YYYY-MM-DD)"))?,
        ),
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new_spinner();
        b.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                .expect("valid template"),
        );
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b
    });
    let status = std::sync::Mutex::new(ProgressState::default());
    let progress = |what: &str, rows: u64| {
        if let Some(b) = &bar {
            if let Ok(mut st) = status.lock() {
                b.set_message(st.message(what, rows));
            }
        }
    };
    let opts = qianbiao_engine::RunOptions {
        data,
        out: workspace.clone().unwrap_or_else(|| out.clone()),
        pipeline,
        pipeline_source: source,
        as_of,
        progress: Some(&progress),
        mask,
        partitioning,
        runner: runner.as_deref(),
    };
    if let Some(ws) = workspace {
        let result = qianbiao_workspace::run(&ws, &opts);
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        return report_workspace_run(&ws, result?);
    }
    let summary = qianbiao_engine::run(&opts)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let m = &summary.manifest;
    eprintln!(
        "qianbiao: {} rows read, {} rejected; as_of {}; {} findings ({} yuan) written to {}",
        m["rows"]["read"],
        m["rows"]["rejected"],
        m["as_of"].as_str().unwrap_or(""),
        summary.findings.len(),
        m["findings"]["amount"].as_str().unwrap_or("0.00"),
        out.display()
    );
    Ok(())
}

/// What the terminal shows of a long run: the stage, the file or bucket, rows per second
/// and, for the buckets, the time left.
#[derive(Default)]
struct ProgressState {
    /// The file or bucket being worked on, and when it started.
    current: String,
    since: Option<std::time::Instant>,
    /// When the first bucket started.
    buckets_since: Option<std::time::Instant>,
}

impl ProgressState {
    /// The message for a progress report: `what` is a file being read (a run in memory),
    /// `[keys] FILE` or `[split] FILE` (passes 1 and 2 of a partitioned run), or
    /// `[bucket K/N]`; `rows` the rows read of the file, or the rows of the bucket.
    fn message(&mut self, what: &str, rows: u64) -> String {
        let now = std::time::Instant::now();
        if self.current != what {
            self.current = what.to_string();
            self.since = Some(now);
        }
        let secs = self.since.map_or(0.0, |t| (now - t).as_secs_f64());
        let rate = if secs > 0.5 {
            format!(", {}/s", human(rows as f64 / secs))
        } else {
            String::new()
        };
        if let Some(b) = what
            .strip_prefix("[bucket ")
            .and_then(|r| r.strip_suffix(']'))
        {
            let started = *self.buckets_since.get_or_insert(now);
            let (k, n) = b.split_once('/').unwrap_or((b, b));
            let (k, n): (f64, f64) = (k.parse().unwrap_or(1.0), n.parse().unwrap_or(1.0));
            let done = (k - 1.0).max(0.0);
            let eta = if done > 0.0 {
                let left = (now - started).as_secs_f64() / done * (n - done);
                format!(", about {} left", duration(left))
            } else {
                String::new()
            };
            return format!(
                "stage 3/3 checks: bucket {b} ({} rows){eta}",
                human(rows as f64)
            );
        }
        let (stage, file) = match what.split_once("] ") {
            Some(("[keys", f)) => ("stage 1/3 keys: ", f),
            Some(("[split", f)) => ("stage 2/3 split: ", f),
            // A cluster's stage: its tasks run on the executors.
            Some(("[cluster", stage)) => return format!("{stage}, on the cluster"),
            // The driver joins the keys the executors read.
            Some(("[join", f)) => {
                return format!("stage 1/3 keys: joining the keys of {f}: {rows} rows")
            }
            _ => ("", what),
        };
        format!("{stage}reading {file}: {rows} rows{rate}")
    }
}

/// 1234567 as `1.2M`.
fn human(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.1}G", x / 1e9),
        x if x >= 1e6 => format!("{:.1}M", x / 1e6),
        x if x >= 1e3 => format!("{:.0}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// Seconds as `1h02m`, `3m05s` or `42s`.
fn duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        s if s >= 3600 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// `--partitions` / `--memory-limit` as the engine takes them.
fn partitioning(
    partitions: Option<usize>,
    memory_limit: Option<&str>,
) -> anyhow::Result<qianbiao_engine::Partitioning> {
    use qianbiao_engine::Partitioning;
    Ok(match (partitions, memory_limit) {
        (Some(0), _) => return Err(anyhow!("--partitions: must be 1 or more")),
        (Some(k), _) => Partitioning::Partitions(k),
        (None, Some(m)) => Partitioning::MemoryLimit(
            qianbiao_engine::partition::parse_size(m)
                .ok_or_else(|| anyhow!("--memory-limit: not a size: '{m}' (e.g. 2GiB, 800MiB)"))?,
        ),
        (None, None) => Partitioning::Auto,
    })
}

/// The lines a workspace run prints: counts and run ids only, never an id or a name.
fn report_workspace_run(ws: &Path, r: qianbiao_workspace::RunReport) -> anyhow::Result<()> {
    if let Some(h) = &r.took_over {
        eprintln!("qianbiao: took over the stale lock of {h}: that process is gone");
    }
    for id in &r.replayed {
        eprintln!("qianbiao: recorded run {id} in cases.db (it was killed before it could)");
    }
    let m = &r.manifest;
    let [new, persisting, changed, resolved] = r.changes;
    eprintln!(
        "qianbiao: run {}: {} rows read, {} rejected; as_of {}; {} findings ({} yuan): \
         {new} new, {persisting} persisting, {changed} changed, {resolved} resolved; \
         written to {}",
        r.run_id,
        m["rows"]["read"],
        m["rows"]["rejected"],
        m["as_of"].as_str().unwrap_or(""),
        r.findings,
        r.amount,
        ws.join("runs").join(&r.run_id).display()
    );
    Ok(())
}

fn cases(action: CasesCommand) -> anyhow::Result<()> {
    match action {
        CasesCommand::Export {
            workspace,
            out,
            mask,
        } => {
            let n = qianbiao_workspace::cases_xlsx::export(&workspace, &out, mask)?;
            eprintln!(
                "qianbiao: {n} cases written to {}{}",
                out.display(),
                if mask { " (ids and names masked)" } else { "" }
            );
        }
        CasesCommand::Import { workspace, file } => {
            let n = qianbiao_workspace::cases_xlsx::import(&workspace, &file)?;
            eprintln!("qianbiao: {n} decisions recorded from {}", file.display());
        }
        CasesCommand::Summary { workspace } => {
            let rows = qianbiao_workspace::cases_xlsx::summary(&workspace)?;
            emitln!(
                "{:<8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>15} {:>15}",
                "rule",
                "findings",
                "open",
                "confirmed",
                "cleared",
                "rectified",
                "at_stake",
                "recovered"
            );
            for o in &rows {
                emitln!(
                    "{:<8} {:>8} {:>6} {:>9} {:>7} {:>9} {:>15} {:>15}",
                    o.rule,
                    o.findings,
                    o.open,
                    o.confirmed,
                    o.cleared,
                    o.rectified,
                    o.at_stake.to_string(),
                    o.recovered.to_string()
                );
            }
        }
    }
    Ok(())
}

fn verify(ws: &Path) -> anyhow::Result<()> {
    let r = qianbiao_workspace::verify(ws)?;
    emitln!(
        "verify: ok: {} runs, every file matches its manifest and the chain holds; latest {}{}",
        r.runs,
        r.latest.as_deref().unwrap_or("(none)"),
        match &r.pending {
            Some(p) =>
                format!("; run {p} is complete but not yet in cases.db (the next run records it)"),
            None => String::new(),
        }
    );
    Ok(())
}

fn scan(data: &Path) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let rows = qianbiao_ingest::scan_floor(data)?;
    emitln!(
        "scan {rows} rows in {:.3} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn rules(markdown: bool) {
    if markdown {
        emit(&qianbiao_rules::catalogue_markdown());
        return;
    }
    for r in qianbiao_rules::registry() {
        let m = r.meta();
        let needs: Vec<&str> = m.needs.iter().map(|s| s.name()).collect();
        emitln!(
            "{:<8} {:<6} {}  {}{}",
            m.code,
            m.severity.as_str(),
            m.name_zh,
            m.name_en,
            if needs.is_empty() {
                String::new()
            } else {
                format!("  [needs {}]", needs.join(", "))
            }
        );
    }
}

fn synth(
    persons: usize,
    seed: u64,
    out: PathBuf,
    dirty: bool,
    format: SynthFormat,
    town_persons: usize,
) -> anyhow::Result<()> {
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = indicatif::ProgressBar::new(persons as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed} {bar:30} {human_pos}/{human_len} persons, {per_sec}, about {eta} left",
            )
            .expect("valid template"),
        );
        b
    });
    let progress = |done: usize, _total: usize| {
        if let Some(b) = &bar {
            b.set_position(done as u64);
        }
    };
    let options = qianbiao_synth::SynthOptions {
        persons,
        seed,
        out: out.clone(),
        dirty,
        format: match format {
            SynthFormat::Csv => qianbiao_synth::Format::Csv,
            SynthFormat::Parquet => qianbiao_synth::Format::Parquet,
        },
        town_persons,
    };
    let summary = qianbiao_synth::generate_reporting(&options, true, &progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let what = if summary.towns > 1 {
        format!("province of {} towns", summary.towns)
    } else {
        "town".to_string()
    };
    eprintln!(
        "qianbiao: synthetic {what} of {} persons, {} payments, {} planted findings written to {}",
        summary.persons,
        summary.payments,
        summary.truth_rows,
        out.display()
    );
    Ok(())
}

/// `a/b/../c` as `a/c`, so that messages name the folder a user would type.
fn normalise_path(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir if out.file_name().is_some() => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_names_the_stage_the_bucket_and_the_time_left() {
        let mut st = ProgressState::default();
        assert_eq!(
            st.message("[keys] payments.parquet", 10),
            "stage 1/3 keys: reading payments.parquet: 10 rows"
        );
        assert_eq!(
            st.message("[split] hukou/2.csv", 7),
            "stage 2/3 split: reading hukou/2.csv: 7 rows"
        );
        assert_eq!(st.message("hukou.csv", 3), "reading hukou.csv: 3 rows");
        assert_eq!(
            st.message(
                "[cluster] stages 2-3/3 split and checks: 8 tasks, 4 buckets",
                0
            ),
            "stages 2-3/3 split and checks: 8 tasks, 4 buckets, on the cluster"
        );
        assert_eq!(
            st.message("[join] payments/1.csv", 1200),
            "stage 1/3 keys: joining the keys of payments/1.csv: 1200 rows"
        );
        assert_eq!(
            st.message("[bucket 1/4]", 2_500_000),
            "stage 3/3 checks: bucket 1/4 (2.5M rows)"
        );
        // Three buckets done in 30 s: one left, about 10 s.
        st.buckets_since = Some(std::time::Instant::now() - std::time::Duration::from_secs(30));
        let m = st.message("[bucket 4/4]", 10);
        assert!(m.ends_with("about 10s left"), "{m}");
    }

    #[test]
    fn numbers_and_durations_read_short() {
        assert_eq!(human(999.0), "999");
        assert_eq!(human(412_345.0), "412k");
        assert_eq!(human(60_155_575.0), "60.2M");
        assert_eq!(duration(42.4), "42s");
        assert_eq!(duration(185.0), "3m05s");
        assert_eq!(duration(3720.0), "1h02m");
    }

    #[test]
    fn partitions_and_memory_limit_as_the_engine_takes_them() {
        use qianbiao_engine::Partitioning;
        assert_eq!(
            partitioning(Some(7), None).unwrap(),
            Partitioning::Partitions(7)
        );
        assert_eq!(
            partitioning(None, Some("2GiB")).unwrap(),
            Partitioning::MemoryLimit(2 << 30)
        );
        assert_eq!(partitioning(None, None).unwrap(), Partitioning::Auto);
        assert!(partitioning(Some(0), None).is_err());
        let e = partitioning(None, Some("lots")).unwrap_err().to_string();
        assert!(e.contains("--memory-limit") && e.contains("lots"), "{e}");
    }
}
