//! Benchmark of the AAF import against the issue's performance targets
//! ("AAF directory": ≥ 100,000 records/s parsed, the large académie imported
//! into Redis in under 10 minutes on 2 cores, peak RSS under 300 MB, login
//! lookups under 1 ms). Not run by `cargo test` (`harness = false`):
//!
//! ```sh
//! AAF_BENCH_SCALE=100 cargo bench -p sso-directory --bench import
//! ```
//!
//! One complete 2nd-degree export is generated with `sso-testbed`'s `aaf`
//! generator, then each step runs in a child process of this binary
//! (`--step <name>`), so that each peak RSS (`VmHWM`) and CPU time is that
//! step's alone: generation, parse only (`AafReader` over every file),
//! quick-xml's tokenizer alone over the same files (a baseline), import into a `redis-server` started here, login-time lookups against
//! it, import into the memory store. The parent prints a Markdown table.
//!
//! Environment (defaults: the issue's large académie, 2,000 schools × 500
//! pupils × 40 staff, i.e. 1,000,000 pupils, about 1.5 million guardians and
//! 80,000 staff):
//! `AAF_BENCH_SCHOOLS`, `AAF_BENCH_PUPILS_PER_SCHOOL`,
//! `AAF_BENCH_STAFF_PER_SCHOOL`, `AAF_BENCH_SCALE` (divides the number of
//! schools), `AAF_BENCH_ENCODING` (`utf-8` or `iso-8859-15`),
//! `AAF_BENCH_DIR` (where the files go; default under `target/tmp`),
//! `AAF_BENCH_KEEP=1` (keep the files afterwards).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sso_directory::import::{ImportError, ImportOptions, import};
use sso_directory::model::ProfileRules;
use sso_directory::parser::{AafReader, ParseError};
use sso_directory::set::{ExportSet, SetError};
use sso_directory::store::{Directory, DirectoryError};
use sso_store::testing::{HarnessError, RedisServer};
use sso_store::{MemoryStore, RedisConfig, RedisStore, Store, StoreError};
use sso_testbed::aaf::{self, AafSpec, Encoding, GenError};
use sso_testbed::people::Degree;
use sso_testbed::procfs;
use thiserror::Error;

/// Marks the line of a child's output that carries its measure.
const RESULT_MARK: &str = "AAF-BENCH-RESULT ";
/// Person lookups timed after the Redis import.
const PERSON_LOOKUPS: usize = 10_000;
/// `staff_by_email` and `children` calls timed after the Redis import.
const OTHER_LOOKUPS: usize = 1_000;
/// Every environment variable the benchmark reads.
const ENV_VARS: [&str; 7] = [
    "AAF_BENCH_SCHOOLS",
    "AAF_BENCH_PUPILS_PER_SCHOOL",
    "AAF_BENCH_STAFF_PER_SCHOOL",
    "AAF_BENCH_SCALE",
    "AAF_BENCH_ENCODING",
    "AAF_BENCH_DIR",
    "AAF_BENCH_KEEP",
];

/// Why the benchmark stopped.
#[derive(Debug, Error)]
enum BenchError {
    #[error("{name}={value:?} is not a positive whole number")]
    Env { name: &'static str, value: String },
    #[error("AAF_BENCH_ENCODING={0:?}: expected utf-8 or iso-8859-15")]
    Encoding(String),
    #[error(
        "usage: import [--step generate|parse|tokenize|redis|lookups|memory --dir <folder> [--url <redis url>]]: {0}"
    )]
    Usage(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    #[error("generating the export: {0}")]
    Generate(#[from] GenError),
    #[error("opening the export set: {0}")]
    Set(#[from] SetError),
    #[error("{file}: {error}")]
    Parse { file: String, error: ParseError },
    #[error("{file}: XML error: {reason}")]
    Xml { file: String, reason: String },
    #[error("import: {0}")]
    Import(#[from] ImportError),
    #[error("state store: {0}")]
    Store(#[from] StoreError),
    #[error("directory read: {0}")]
    Directory(#[from] DirectoryError),
    #[error("test redis-server: {0}")]
    Harness(#[from] HarnessError),
    #[error("step {step} failed: {status}")]
    Child { step: String, status: String },
    #[error("step {step} printed no readable result: {reason}")]
    ChildOutput { step: String, reason: String },
    #[error("redis-cli {args}: {reason}")]
    RedisCli { args: String, reason: String },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Io { what, source }
}

/// What one step measured, sent by the child to the parent as JSON.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Measure {
    /// Wall time of the measured work, seconds.
    wall_s: f64,
    /// CPU time (user + system) of the child process, seconds.
    cpu_s: f64,
    /// Peak RSS of the child process (`VmHWM`), KiB.
    vmhwm_kib: u64,
    /// Records read.
    records: u64,
    /// Persons stored.
    persons: u64,
    /// Records rejected.
    rejected: u64,
    /// Bytes of XML.
    bytes: u64,
    /// XML files.
    files: u64,
    /// Time to open the set (names, bordereau, SHA-256 of every file), seconds.
    open_s: f64,
    /// CPU time spent opening the set, seconds.
    open_cpu_s: f64,
    /// Lookup timings.
    lookups: Vec<Lookups>,
}

/// Timings of one kind of lookup.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Lookups {
    name: String,
    calls: u64,
    not_found: u64,
    mean_us: f64,
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
}

fn env_number(name: &'static str, default: u32) -> Result<u32, BenchError> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(value) => match value.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(BenchError::Env { name, value }),
        },
    }
}

/// The export to measure, from the environment.
fn spec_from_env() -> Result<AafSpec, BenchError> {
    let scale = env_number("AAF_BENCH_SCALE", 1)?;
    let date = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default();
    let mut spec = AafSpec::new("AC-RENNES", Degree::Second, date);
    spec.schools = (env_number("AAF_BENCH_SCHOOLS", 2_000)? / scale).max(1);
    spec.pupils_per_school = env_number("AAF_BENCH_PUPILS_PER_SCHOOL", 500)?;
    spec.staff_per_school = env_number("AAF_BENCH_STAFF_PER_SCHOOL", 40)?;
    spec.seed = 20_261_127;
    spec.encoding = match std::env::var("AAF_BENCH_ENCODING").as_deref() {
        Err(_) | Ok("utf-8" | "UTF-8") => Encoding::Utf8,
        Ok("iso-8859-15" | "ISO-8859-15") => Encoding::Iso8859_15,
        Ok(other) => return Err(BenchError::Encoding(other.to_owned())),
    };
    Ok(spec)
}

fn default_dir(spec: &AafSpec) -> PathBuf {
    let name = format!(
        "aaf-bench-{}x{}x{}",
        spec.schools, spec.pupils_per_school, spec.staff_per_school
    );
    std::env::var_os("AAF_BENCH_DIR").map_or_else(
        || Path::new(env!("CARGO_TARGET_TMPDIR")).join(name),
        PathBuf::from,
    )
}

fn xml_files(dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(format!("reading {}", dir.display())))? {
        let path = entry
            .map_err(io(format!("reading {}", dir.display())))?
            .path();
        if path.extension().is_some_and(|e| e == "xml") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn runtime() -> Result<tokio::runtime::Runtime, BenchError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io("building the tokio runtime"))
}

fn redis_config(url: &str) -> RedisConfig {
    RedisConfig {
        key_prefix: "sso:".to_owned(),
        connect_timeout: Duration::from_secs(10),
        // Pipelines of 1,000 writes on a busy 2-core machine: be generous.
        command_timeout: Duration::from_secs(30),
        ..RedisConfig::new(url)
    }
}

// Steps, each run in a child process.

/// Writes the complete export.
fn step_generate(dir: &Path) -> Result<Measure, BenchError> {
    let spec = spec_from_env()?;
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(io(format!("removing {}", dir.display())))?;
    }
    let start = Instant::now();
    let set = aaf::write_complete(&spec, dir)?;
    let wall_s = start.elapsed().as_secs_f64();
    let mut bytes = 0;
    for file in &set.files {
        let path = set.path(&file.name);
        bytes += std::fs::metadata(&path)
            .map_err(io(format!("reading {}", path.display())))?
            .len();
    }
    Ok(Measure {
        wall_s,
        cpu_s: procfs::cpu_seconds("self").unwrap_or(0.0),
        vmhwm_kib: procfs::status_kib("self", "VmHWM").unwrap_or(0),
        records: set.files.iter().map(|f| f.records).sum(),
        bytes,
        files: set.files.len() as u64,
        ..Measure::default()
    })
}

/// Streams every file through the reader, storing nothing.
fn step_parse(dir: &Path) -> Result<Measure, BenchError> {
    let files = xml_files(dir)?;
    let cpu_before = procfs::cpu_seconds("self").unwrap_or(0.0);
    let start = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    for path in &files {
        let name = path.display().to_string();
        let file = File::open(path).map_err(io(format!("opening {name}")))?;
        bytes += file
            .metadata()
            .map_err(io(format!("reading {name}")))?
            .len();
        let reader =
            AafReader::new(BufReader::with_capacity(256 * 1024, file)).map_err(|error| {
                BenchError::Parse {
                    file: name.clone(),
                    error,
                }
            })?;
        for record in reader {
            let record = record.map_err(|error| BenchError::Parse {
                file: name.clone(),
                error,
            })?;
            records += 1;
            std::hint::black_box(&record);
        }
    }
    Ok(Measure {
        wall_s: start.elapsed().as_secs_f64(),
        cpu_s: procfs::cpu_seconds("self").unwrap_or(0.0) - cpu_before,
        vmhwm_kib: procfs::status_kib("self", "VmHWM").unwrap_or(0),
        records,
        bytes,
        files: files.len() as u64,
        ..Measure::default()
    })
}

/// Baseline for the parse: the same files through quick-xml's event loop
/// alone (no decoding, no record built), to tell the tokenizer's share of
/// the parse time from the reader's.
fn step_tokenize(dir: &Path) -> Result<Measure, BenchError> {
    let files = xml_files(dir)?;
    let cpu_before = procfs::cpu_seconds("self").unwrap_or(0.0);
    let start = Instant::now();
    let (mut records, mut bytes) = (0u64, 0u64);
    let mut buf = Vec::with_capacity(4096);
    for path in &files {
        let name = path.display().to_string();
        let file = File::open(path).map_err(io(format!("opening {name}")))?;
        bytes += file
            .metadata()
            .map_err(io(format!("reading {name}")))?
            .len();
        let mut reader = quick_xml::Reader::from_reader(BufReader::with_capacity(256 * 1024, file));
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(quick_xml::events::Event::End(end)) => {
                    let name = end.local_name();
                    let local = name.as_ref();
                    if local == b"addRequest"
                        || local == b"modifyRequest"
                        || local == b"deleteRequest"
                    {
                        records += 1;
                    }
                }
                Ok(event) => {
                    std::hint::black_box(&event);
                }
                Err(error) => {
                    return Err(BenchError::Xml {
                        file: name,
                        reason: error.to_string(),
                    });
                }
            }
            buf.clear();
        }
    }
    Ok(Measure {
        wall_s: start.elapsed().as_secs_f64(),
        cpu_s: procfs::cpu_seconds("self").unwrap_or(0.0) - cpu_before,
        vmhwm_kib: procfs::status_kib("self", "VmHWM").unwrap_or(0),
        records,
        bytes,
        files: files.len() as u64,
        ..Measure::default()
    })
}

/// Opens the set and imports it into `store`, printing progress on stderr.
async fn import_into(store: &dyn Store, dir: &Path) -> Result<Measure, BenchError> {
    let spec = spec_from_env()?;
    let cpu_start = procfs::cpu_seconds("self").unwrap_or(0.0);
    let start = Instant::now();
    let set = ExportSet::open(&[dir.to_path_buf()])?;
    let open_s = start.elapsed().as_secs_f64();
    let open_cpu_s = procfs::cpu_seconds("self").unwrap_or(0.0) - cpu_start;
    let options = ImportOptions {
        today: spec.date,
        ..ImportOptions::new()
    };
    let mut shown = 0u64;
    let mut progress = |p: sso_directory::import::Progress| {
        if p.records >= shown + 500_000 {
            shown = p.records;
            eprintln!(
                "  {} records, {:.0} % of the bytes, {:.0} s",
                p.records,
                p.bytes_done as f64 * 100.0 / p.bytes_total.max(1) as f64,
                start.elapsed().as_secs_f64()
            );
        }
    };
    let cpu_before = procfs::cpu_seconds("self").unwrap_or(0.0);
    let begin = Instant::now();
    let report = import(
        store,
        &set,
        &ProfileRules::default(),
        &options,
        &mut progress,
    )
    .await?;
    let wall_s = begin.elapsed().as_secs_f64();
    let cpu_s = procfs::cpu_seconds("self").unwrap_or(0.0) - cpu_before;
    let counts = report.categories.iter();
    let (mut records, mut persons, mut rejected) = (0, 0, 0);
    for (category, c) in counts {
        records += c.read;
        rejected += c.rejected;
        if sso_directory::model::PersonKind::of(*category).is_some() {
            persons += c.added;
        }
    }
    Ok(Measure {
        wall_s,
        cpu_s,
        vmhwm_kib: procfs::status_kib("self", "VmHWM").unwrap_or(0),
        records,
        persons,
        rejected,
        bytes: set.bytes(),
        files: set.files.len() as u64,
        open_s,
        open_cpu_s,
        lookups: Vec::new(),
    })
}

fn step_redis(dir: &Path, url: &str) -> Result<Measure, BenchError> {
    runtime()?.block_on(async {
        let store = RedisStore::connect(redis_config(url)).await?;
        import_into(&store, dir).await
    })
}

fn step_memory(dir: &Path) -> Result<Measure, BenchError> {
    runtime()?.block_on(async {
        let store = MemoryStore::new();
        let measure = import_into(&store, dir).await?;
        // The store is dropped after VmHWM was read: the figure includes it.
        drop(store);
        Ok(measure)
    })
}

/// A small deterministic generator for picking persons.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        u32::try_from(self.0 % u64::from(n.max(1))).unwrap_or(0)
    }
}

fn stats(name: &str, mut micros: Vec<f64>, not_found: u64) -> Lookups {
    micros.sort_by(f64::total_cmp);
    let at = |q: f64| {
        let index = ((micros.len() as f64 - 1.0) * q).round() as usize;
        micros.get(index).copied().unwrap_or(0.0)
    };
    Lookups {
        name: name.to_owned(),
        calls: micros.len() as u64,
        not_found,
        mean_us: micros.iter().sum::<f64>() / micros.len().max(1) as f64,
        p50_us: at(0.5),
        p99_us: at(0.99),
        max_us: micros.last().copied().unwrap_or(0.0),
    }
}

/// Times the reads of a login against the imported directory.
fn step_lookups(url: &str) -> Result<Measure, BenchError> {
    let spec = spec_from_env()?;
    let academie = spec.academie.clone();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut pick = || (rng.below(spec.schools), rng.below(spec.pupils_per_school));
    let pupils: Vec<String> = (0..PERSON_LOOKUPS)
        .filter_map(|_| {
            let (school, index) = pick();
            aaf::pupil(&spec, school, index).map(|p| p.id)
        })
        .collect();
    let guardians: Vec<String> = (0..OTHER_LOOKUPS)
        .filter_map(|_| {
            let (school, index) = pick();
            aaf::guardians(&spec, school, index)
                .into_iter()
                .next()
                .map(|g| g.id)
        })
        .collect();
    let mut rng = XorShift(0xD1B5_4A32_D192_ED03);
    let mails: Vec<String> = (0..OTHER_LOOKUPS)
        .filter_map(|_| {
            let school = rng.below(spec.schools);
            let index = rng.below(spec.staff_per_school);
            aaf::staff(&spec, school, index).and_then(|s| s.mail)
        })
        .collect();
    runtime()?.block_on(async {
        let store: Arc<dyn Store> = Arc::new(RedisStore::connect(redis_config(url)).await?);
        let directory = Directory::new(store);
        let cpu_before = procfs::cpu_seconds("self").unwrap_or(0.0);
        let start = Instant::now();
        let mut results = Vec::new();
        let (mut times, mut missing) = (Vec::with_capacity(pupils.len()), 0);
        for id in &pupils {
            let t = Instant::now();
            let found = directory.person(&academie, id).await?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
            missing += u64::from(found.is_none());
        }
        results.push(stats("person (random pupil)", times, missing));
        let (mut times, mut missing) = (Vec::with_capacity(mails.len()), 0);
        for mail in &mails {
            let t = Instant::now();
            let found = directory.staff_by_email(mail).await?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
            missing += u64::from(found.is_none());
        }
        results.push(stats("staff_by_email", times, missing));
        let (mut times, mut missing) = (Vec::with_capacity(guardians.len()), 0);
        for guardian in &guardians {
            let t = Instant::now();
            let found = directory.children(&academie, guardian).await?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
            missing += u64::from(found.is_empty());
        }
        results.push(stats("children (a guardian)", times, missing));
        Ok(Measure {
            wall_s: start.elapsed().as_secs_f64(),
            cpu_s: procfs::cpu_seconds("self").unwrap_or(0.0) - cpu_before,
            vmhwm_kib: procfs::status_kib("self", "VmHWM").unwrap_or(0),
            lookups: results,
            ..Measure::default()
        })
    })
}

// The parent: runs the steps and prints the table.

/// Runs `--step <step>` in a child process and reads its measure.
fn child(step: &str, dir: &Path, url: Option<&str>) -> Result<Measure, BenchError> {
    eprintln!("step {step}...");
    let exe = std::env::current_exe().map_err(io("locating this benchmark binary"))?;
    let mut command = Command::new(exe);
    command.args(["--step", step, "--dir"]).arg(dir);
    if let Some(url) = url {
        command.args(["--url", url]);
    }
    let output = command
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(io(format!("running step {step}")))?;
    if !output.status.success() {
        return Err(BenchError::Child {
            step: step.to_owned(),
            status: output.status.to_string(),
        });
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix(RESULT_MARK))
        .ok_or_else(|| BenchError::ChildOutput {
            step: step.to_owned(),
            reason: "no result line".to_owned(),
        })?;
    serde_json::from_str(line).map_err(|e| BenchError::ChildOutput {
        step: step.to_owned(),
        reason: e.to_string(),
    })
}

/// `INFO <section>` of the bench's Redis, as fields.
fn redis_info(port: u16, section: &str) -> Result<BTreeMap<String, String>, BenchError> {
    let args = format!("-p {port} INFO {section}");
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "INFO", section])
        .output()
        .map_err(|e| BenchError::RedisCli {
            args: args.clone(),
            reason: e.to_string(),
        })?;
    if !output.status.success() {
        return Err(BenchError::RedisCli {
            args,
            reason: output.status.to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn info_number(info: &BTreeMap<String, String>, field: &str) -> f64 {
    info.get(field)
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
}

fn redis_cpu(port: u16) -> Result<f64, BenchError> {
    let info = redis_info(port, "cpu")?;
    Ok(info_number(&info, "used_cpu_user") + info_number(&info, "used_cpu_sys"))
}

fn redis_memory(port: u16) -> Result<f64, BenchError> {
    Ok(info_number(&redis_info(port, "memory")?, "used_memory"))
}

fn mib(bytes: f64) -> String {
    format!("{:.1} MiB", bytes / (1024.0 * 1024.0))
}

fn kib_to_mb(kib: u64) -> String {
    format!("{:.0} MB", kib as f64 * 1024.0 / 1e6)
}

fn per_second(count: u64, seconds: f64) -> String {
    thousands((count as f64 / seconds.max(1e-9)).round() as u64)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn machine() -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let memory = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
        .map_or_else(
            || "unknown".to_owned(),
            |kib| format!("{:.1} GiB", kib / (1024.0 * 1024.0)),
        );
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    vec![
        ("CPU".to_owned(), format!("{cores} × {model}")),
        ("memory".to_owned(), memory),
        (
            "load average at start (1, 5, 15 min)".to_owned(),
            load.join(", "),
        ),
    ]
}

fn command_line() -> String {
    let mut parts: Vec<String> = ENV_VARS
        .iter()
        .filter_map(|name| std::env::var(name).ok().map(|v| format!("{name}={v}")))
        .collect();
    parts.push("cargo bench -p sso-directory --bench import".to_owned());
    parts.join(" ")
}

/// A row of the table: step, figure, value, target.
type Row = [String; 4];

fn row(step: &str, figure: &str, value: String, target: &str) -> Row {
    [step.to_owned(), figure.to_owned(), value, target.to_owned()]
}

fn orchestrate() -> Result<(), BenchError> {
    let spec = spec_from_env()?;
    let dir = default_dir(&spec);
    let machine = machine();
    let command = command_line();
    eprintln!(
        "AAF import benchmark: {} schools × {} pupils × {} staff into {}",
        spec.schools,
        spec.pupils_per_school,
        spec.staff_per_school,
        dir.display()
    );
    let total = Instant::now();
    let generate = child("generate", &dir, None)?;
    let parse = child("parse", &dir, None)?;
    let tokenize = child("tokenize", &dir, None)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(io("building the tokio runtime"))?;
    let server = runtime.block_on(RedisServer::start())?;
    let port = server.port();
    let memory_before = redis_memory(port)?;
    let redis_cpu_before = redis_cpu(port)?;
    let redis = child("redis", &dir, Some(&server.url()))?;
    let redis_cpu_import = redis_cpu(port)? - redis_cpu_before;
    let memory_after = redis_memory(port)?;
    let lookups = child("lookups", &dir, Some(&server.url()))?;
    drop(server);

    let memory = child("memory", &dir, None)?;
    if std::env::var("AAF_BENCH_KEEP").is_err() {
        std::fs::remove_dir_all(&dir).map_err(io(format!("removing {}", dir.display())))?;
    }

    let pupils = u64::from(spec.schools) * u64::from(spec.pupils_per_school);
    let staff = u64::from(spec.schools) * u64::from(spec.staff_per_school);
    let guardians = redis.persons.saturating_sub(pupils + staff);
    let redis_used = memory_after - memory_before;
    let mut rows: Vec<Row> = vec![
        row(
            "export",
            "size",
            format!(
                "{} schools, {} pupils, {} guardians, {} staff; {} records in {} files",
                thousands(u64::from(spec.schools)),
                thousands(pupils),
                thousands(guardians),
                thousands(staff),
                thousands(generate.records),
                generate.files
            ),
            "",
        ),
        row(
            "generation",
            "wall time",
            format!("{:.1} s", generate.wall_s),
            "",
        ),
        row("generation", "size on disk", mib(generate.bytes as f64), ""),
        row(
            "generation",
            "peak RSS (own process)",
            kib_to_mb(generate.vmhwm_kib),
            "",
        ),
        row(
            "parse only",
            "wall time (CPU time)",
            format!("{:.1} s ({:.1} s)", parse.wall_s, parse.cpu_s),
            "",
        ),
        row(
            "parse only",
            "records/s",
            per_second(parse.records, parse.wall_s),
            "≥ 100,000",
        ),
        row(
            "parse only",
            "MiB/s",
            format!(
                "{:.0}",
                parse.bytes as f64 / (1024.0 * 1024.0) / parse.wall_s.max(1e-9)
            ),
            "",
        ),
        row(
            "parse only",
            "peak RSS (own process)",
            kib_to_mb(parse.vmhwm_kib),
            "",
        ),
        row(
            "tokenize only (baseline)",
            "quick-xml events, no record built: wall (CPU), records/s, MiB/s",
            format!(
                "{:.1} s ({:.1} s), {}, {:.0}",
                tokenize.wall_s,
                tokenize.cpu_s,
                per_second(tokenize.records, tokenize.wall_s),
                tokenize.bytes as f64 / (1024.0 * 1024.0) / tokenize.wall_s.max(1e-9)
            ),
            "",
        ),
        row(
            "Redis import",
            "open the set (names, bordereau, SHA-256): wall (CPU)",
            format!("{:.1} s ({:.1} s)", redis.open_s, redis.open_cpu_s),
            "",
        ),
        row(
            "Redis import",
            "import: wall time",
            format!("{:.1} s", redis.wall_s),
            "",
        ),
        row(
            "Redis import",
            "open + import: wall time",
            format!("{:.1} s", redis.open_s + redis.wall_s),
            "< 10 min for the large académie on 2 cores",
        ),
        row(
            "Redis import",
            "records/s (import)",
            per_second(redis.records, redis.wall_s),
            "",
        ),
        row(
            "Redis import",
            "CPU time: importer / redis-server",
            format!("{:.1} s / {:.1} s", redis.cpu_s, redis_cpu_import),
            "",
        ),
        row(
            "Redis import",
            "peak RSS of the importer (own process)",
            kib_to_mb(redis.vmhwm_kib),
            "< 300 MB",
        ),
        row(
            "Redis import",
            "records rejected",
            thousands(redis.rejected),
            "0",
        ),
        row(
            "Redis import",
            "Redis used_memory before → after",
            format!("{} → {}", mib(memory_before), mib(memory_after)),
            "",
        ),
        row(
            "Redis import",
            "Redis memory per person",
            format!(
                "{:.0} bytes ({} persons)",
                redis_used / redis.persons.max(1) as f64,
                thousands(redis.persons)
            ),
            "",
        ),
        row(
            "memory import",
            "import: wall time (CPU time)",
            format!("{:.1} s ({:.1} s)", memory.wall_s, memory.cpu_s),
            "",
        ),
        row(
            "memory import",
            "records/s",
            per_second(memory.records, memory.wall_s),
            "",
        ),
        row(
            "memory import",
            "peak RSS (includes the whole store)",
            kib_to_mb(memory.vmhwm_kib),
            "",
        ),
    ];
    for l in &lookups.lookups {
        rows.push(row(
            "login lookups (Redis)",
            &format!(
                "{} × {}: mean / p50 / p99 / max",
                thousands(l.calls),
                l.name
            ),
            format!(
                "{:.0} / {:.0} / {:.0} / {:.0} µs{}",
                l.mean_us,
                l.p50_us,
                l.p99_us,
                l.max_us,
                if l.not_found > 0 {
                    format!(" ({} not found)", l.not_found)
                } else {
                    String::new()
                }
            ),
            "< 1 ms",
        ));
    }
    for (name, value) in machine {
        rows.push(row("machine", &name, value, ""));
    }
    rows.push(row(
        "run",
        "total wall time",
        format!("{:.0} s", total.elapsed().as_secs_f64()),
        "",
    ));
    println!("\nCommand: `{command}`\n");
    println!("| step | figure | value | target (issue) |");
    println!("|---|---|---|---|");
    for [step, figure, value, target] in rows {
        println!("| {step} | {figure} | {value} | {target} |");
    }
    Ok(())
}

/// Runs one step in this (child) process and prints its measure.
fn run_step(args: &[String]) -> Result<(), BenchError> {
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let step = value("--step").ok_or_else(|| BenchError::Usage("no step".to_owned()))?;
    let dir =
        PathBuf::from(value("--dir").ok_or_else(|| BenchError::Usage("no --dir".to_owned()))?);
    let url = || value("--url").ok_or_else(|| BenchError::Usage("no --url".to_owned()));
    let measure = match step.as_str() {
        "generate" => step_generate(&dir)?,
        "parse" => step_parse(&dir)?,
        "tokenize" => step_tokenize(&dir)?,
        "redis" => step_redis(&dir, &url()?)?,
        "lookups" => step_lookups(&url()?)?,
        "memory" => step_memory(&dir)?,
        other => return Err(BenchError::Usage(format!("unknown step {other}"))),
    };
    let json = serde_json::to_string(&measure).map_err(|e| BenchError::ChildOutput {
        step,
        reason: e.to_string(),
    })?;
    println!("{RESULT_MARK}{json}");
    Ok(())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = if args.iter().any(|a| a == "--step") {
        run_step(&args)
    } else {
        orchestrate()
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
