//! The grader's sandbox against hostile images of our own
//! (`tests/hostile/`): a fork bomb, one that fills memory, one that accepts
//! connections and never answers, one that prints without end. Each is
//! bounded by itself too (1,000 processes, 2 GB, 100 s of printing), so a
//! sandbox bug cannot take the machine down. And one of text: its labels,
//! healthcheck output and answers try to break out of every format a grade
//! is written in.
//!
//! Nothing here sends traffic beyond this machine: "no way out" is read from
//! the network's settings, the host's NAT table and the container's routes.
//! The trials run one at a time (the last one checks that nothing is left).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use grader::grade;
use grader::grading::evidence::BUDGET;
use grader::grading::sandbox::{self, Sandbox};
use grader::grading::{self, Subject, formats, untrusted};
use grader::seed::Seed;
use libtest_mimic::{Arguments, Failed};
use serde_json::Value;
use toolkit::container::{Container, Exec, Run};
use toolkit::docker::{self, Build, Image};
use toolkit::harness::{self, ensure};

mod support;

const MODES: [&str; 4] = ["fork", "memory", "silent", "flood"];
const TOKEN: &str = "0123456789abcdef";

/// What the text image's labels hold: a formula, a cell's end, HTML, a
/// code span's end and a terminal's escape.
const LABEL_TEXT: &str = "=1+1 | <b>label</b> `x` \u{1b}[31m";

/// The hostile images, by mode, and the one of text (`text.Dockerfile`).
struct Fixture {
    images: Vec<(&'static str, Image)>,
    text: Image,
}

impl Fixture {
    fn build() -> anyhow::Result<Self> {
        support::python_base()?;
        let mut images = Vec::new();
        for mode in MODES {
            images.push((
                mode,
                docker::build(&Build {
                    context: support::fixtures("hostile"),
                    dockerfile: None,
                    tag: format!("hostile-{mode}/image-lab:01234567"),
                    build_args: vec![
                        ("MODE".into(), mode.into()),
                        ("LAB_LOGIN".into(), format!("hostile-{mode}")),
                        ("LAB_TOKEN".into(), TOKEN.into()),
                    ],
                })?,
            ));
        }
        let text = docker::build(&Build {
            context: support::fixtures("hostile"),
            dockerfile: Some(support::fixtures("hostile").join("text.Dockerfile")),
            tag: "hostile-text/image-lab:01234567".into(),
            build_args: vec![("LABEL_TEXT".into(), LABEL_TEXT.into())],
        })?;
        Ok(Fixture { images, text })
    }

    fn image(&self, mode: &str) -> &str {
        &self
            .images
            .iter()
            .find(|(m, _)| *m == mode)
            .expect("a hostile mode")
            .1
            .reference
    }

    /// A container of the `mode` image in `sandbox`, confined as a grading's are.
    fn start(&self, mode: &str, sandbox: &Sandbox) -> Result<Container, Failed> {
        sandbox
            .confine(Run::new(self.image(mode)).publish(8000))
            .start()
            .map_err(|e| format!("{e:#}").into())
    }
}

fn docker_json(args: &[&str]) -> Result<Value, Failed> {
    let text = docker::run(args).map_err(|e| format!("{e:#}"))?;
    let all: Vec<Value> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    all.into_iter().next().ok_or_else(|| "no object".into())
}

/// Polls `probe` (every 50 ms, at most `within`) until it gives a value.
fn wait_until<T>(
    within: Duration,
    what: &str,
    probe: impl FnMut() -> Option<T>,
) -> Result<T, Failed> {
    toolkit::wait_for(within, probe).ok_or_else(|| format!("{what} within {within:?}").into())
}

/// Limits, a network without NAT, a route only to the grader, a port on
/// 127.0.0.1 only: read from the engine, the host and the container.
fn a_confined_container_has_no_way_out(fx: &Fixture) -> Result<(), Failed> {
    let sandbox = Sandbox::create().map_err(|e| format!("{e:#}"))?;
    let container = fx.start("silent", &sandbox)?;
    let inspect = container.inspect().map_err(|e| format!("{e:#}"))?;
    let host = &inspect.host_config;
    let number = |value: Option<i64>| value.map_or("unset".to_owned(), |v| v.to_string());
    let log = host.log_config.clone().unwrap_or_default();
    let log_option = |name: &str| log.config.as_ref().and_then(|c| c.get(name).cloned());
    let limits = [
        ("Memory", number(host.memory), (512i64 << 20).to_string()),
        (
            "MemorySwap",
            number(host.memory_swap),
            (512i64 << 20).to_string(),
        ),
        ("PidsLimit", number(host.pids_limit), "256".into()),
        ("NanoCpus", number(host.nano_cpus), "1000000000".into()),
        (
            "LogConfig.Type",
            log.typ.clone().unwrap_or_default(),
            "json-file".into(),
        ),
        (
            "max-size",
            log_option("max-size").unwrap_or_default(),
            "1m".into(),
        ),
        (
            "max-file",
            log_option("max-file").unwrap_or_default(),
            "1".into(),
        ),
    ];
    for (name, got, wanted) in limits {
        ensure(got == wanted, || {
            format!("HostConfig {name} = {got}, expected {wanted}")
        })?;
    }
    let bindings = host.port_bindings.clone().unwrap_or_default();
    ensure(
        (bindings.values().flatten().flatten())
            .all(|binding| binding.host_ip.as_deref() == Some("127.0.0.1")),
        || format!("a port is published beyond 127.0.0.1: {bindings:?}"),
    )?;
    let networks = inspect
        .network_settings
        .networks
        .clone()
        .unwrap_or_default();
    ensure(networks.len() == 1, || {
        format!("on networks {:?}", networks.keys())
    })?;
    let (name, attachment) = networks.iter().next().expect("one network");
    let network = docker_json(&["network", "inspect", name])?;
    for &(key, value) in sandbox::NETWORK_OPTIONS {
        ensure(network["Options"][key] == value, || {
            format!("network {name}: {key} = {}", network["Options"][key])
        })?;
    }
    let subnet = network["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let gateway = attachment.gateway.clone().unwrap_or_default();
    // No NAT rule: the host masquerades nothing from this subnet.
    let nat = std::process::Command::new("iptables")
        .args(["-t", "nat", "-S", "POSTROUTING"])
        .output()
        .map_err(|e| {
            format!("cannot run iptables (needed to read the NAT table; run as root): {e}")
        })?;
    ensure(nat.status.success(), || {
        format!(
            "iptables -t nat -S POSTROUTING failed (run as root): {}",
            String::from_utf8_lossy(&nat.stderr)
        )
    })?;
    let nat = String::from_utf8_lossy(&nat.stdout);
    ensure(
        !nat.lines()
            .any(|rule| rule.contains(&format!("-s {subnet}")) && rule.contains("MASQUERADE")),
        || format!("the host masquerades {subnet}:\n{nat}"),
    )?;
    // The container's routes: its one interface, and a default route to the
    // bridge (the grader's side), nothing else.
    let read_routes = Exec {
        command: &["cat", "/proc/net/route"],
    };
    let routes = container
        .exec(read_routes, Duration::from_secs(5))
        .map_err(|e| format!("{e:#}"))?
        .stdout;
    let gateways: Vec<String> = routes
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(2))
        .filter(|hex| *hex != "00000000")
        .filter_map(|hex| u32::from_str_radix(hex, 16).ok())
        .map(|raw| std::net::Ipv4Addr::from(raw.to_le_bytes()).to_string())
        .collect();
    ensure(gateways == [gateway.clone()], || {
        format!("routes via {gateways:?}, expected only the bridge {gateway}:\n{routes}")
    })?;
    ensure(
        routes.lines().skip(1).all(|l| l.starts_with("eth0")),
        || format!("routes:\n{routes}"),
    )
}

/// The fork bomb asks for 1,000 processes and gets at most 256 (itself included).
fn a_fork_bomb_gets_256_processes(fx: &Fixture) -> Result<(), Failed> {
    let sandbox = Sandbox::create().map_err(|e| format!("{e:#}"))?;
    let container = fx.start("fork", &sandbox)?;
    let line = wait_until(
        Duration::from_secs(60),
        "the fork bomb said how many it started",
        || {
            container
                .logs()
                .lines()
                .find(|l| l.starts_with("started "))
                .map(str::to_owned)
        },
    )?;
    let started: u32 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(u32::MAX);
    ensure(started < 256, || {
        format!("{line}: the pids limit did not hold")
    })
}

/// The flood prints megabytes a second; its log stays at most 1 MB.
fn a_flood_keeps_a_log_of_1_mb(fx: &Fixture) -> Result<(), Failed> {
    let sandbox = Sandbox::create().map_err(|e| format!("{e:#}"))?;
    let container = fx.start("flood", &sandbox)?;
    // Each line is about 1 kB and numbered: line 20,000 means 20 MB printed.
    let last_number = || {
        docker::run(&["logs", "--tail", "1", &container.name])
            .ok()?
            .split_whitespace()
            .next()?
            .parse::<u64>()
            .ok()
    };
    wait_until(Duration::from_secs(60), "20 MB printed", || {
        last_number().filter(|n| *n > 20_000)
    })?;
    let kept = container.logs().len();
    ensure(kept <= 1 << 20, || format!("the log kept {kept} bytes"))
}

/// Each hostile image is graded within the budget, failing what it fails;
/// the engine keeps answering meanwhile; nothing is left behind.
fn hostile_images_are_graded_within_the_budget(fx: &Fixture) -> Result<(), Failed> {
    // Runs nothing the image decides: times `docker version` once a second.
    let done = Arc::new(AtomicBool::new(false));
    let slowest = Arc::new(Mutex::new(Duration::ZERO));
    let watcher = {
        let (done, slowest) = (Arc::clone(&done), Arc::clone(&slowest));
        thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                let started = Instant::now();
                let _ = toolkit::engine::ensure_engine();
                let took = started.elapsed();
                let mut slowest = slowest.lock().unwrap_or_else(|e| e.into_inner());
                *slowest = (*slowest).max(took);
                drop(slowest);
                thread::sleep(Duration::from_secs(1));
            }
        })
    };
    // Two at a time, as `grade --jobs 2` would.
    let results: Vec<Result<Graded, String>> = thread::scope(|scope| {
        let handles: Vec<_> = fx
            .images
            .chunks(2)
            .map(|pair| {
                scope.spawn(move || {
                    pair.iter()
                        .map(|(mode, image)| Graded::of(mode, image))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a grading thread"))
            .collect()
    });
    done.store(true, Ordering::SeqCst);
    let _ = watcher.join();
    let mut problems = Vec::new();
    for graded in results {
        let graded = match graded {
            Ok(graded) => graded,
            Err(error) => {
                problems.push(error);
                continue;
            }
        };
        let Graded {
            mode,
            took,
            failed,
            read_only,
        } = graded;
        eprintln!(
            "  {mode}: graded in {:.1} s, failed {failed:?}",
            took.as_secs_f64()
        );
        if took > BUDGET {
            problems.push(format!("{mode}: took {took:?}, over the {BUDGET:?} budget"));
        }
        // Labelled and non-root, no HEALTHCHECK, never answering: the rest
        // fails, but read-only (they do no worse with it than without). The
        // memory hog dies of its limit, the others are killed by `docker
        // stop` (a Python PID 1 ignores SIGTERM).
        let expected = ["healthcheck", "sigterm", "env-config", "proof", "health"];
        if failed != expected {
            problems.push(format!("{mode}: failed {failed:?}, expected {expected:?}"));
        }
        if mode == "memory" && !read_only.contains("was killed for going over its memory limit") {
            problems.push(format!(
                "memory: the read-only detail does not name the limit: {read_only}"
            ));
        }
    }
    let slowest = *slowest.lock().unwrap_or_else(|e| e.into_inner());
    eprintln!(
        "  slowest `docker version` meanwhile: {:.2} s",
        slowest.as_secs_f64()
    );
    if slowest > Duration::from_secs(5) {
        problems.push(format!(
            "the engine took {slowest:?} to answer `docker version` meanwhile"
        ));
    }
    let left: Vec<String> = [
        ("container", "name=labcheck"),
        ("network", "name=image-lab-grading"),
    ]
    .iter()
    .flat_map(|(kind, filter)| {
        docker::list(kind, filter)
            .unwrap_or_default()
            .into_iter()
            .map(move |id| format!("{kind} {id}"))
    })
    .collect();
    if !left.is_empty() {
        problems.push(format!("left behind: {left:?}"));
    }
    ensure(problems.is_empty(), || problems.join("\n"))
}

/// The `|` of `line` that end a Markdown table cell: those not escaped by
/// an odd run of backslashes.
fn cell_ends(line: &str) -> usize {
    let mut backslashes = 0;
    let mut ends = 0;
    for c in line.chars() {
        if c == '|' && backslashes % 2 == 0 {
            ends += 1;
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    ends
}

/// What a grade written in `what` must never hold: a raw control character
/// (but the newline), or HTML.
fn text_only(what: &str, text: &str, problems: &mut Vec<String>) {
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        problems.push(format!("{what}: a raw control character {c:?}"));
    }
    if what.ends_with(".md") && (text.contains("<script") || text.contains("<b>")) {
        problems.push(format!("{what}: HTML"));
    }
}

/// Every Markdown table in `text` keeps its header's number of cells.
fn tables_keep_their_cells(what: &str, text: &str, problems: &mut Vec<String>) {
    let mut header_cells = None;
    for line in text.lines() {
        if !line.starts_with('|') {
            header_cells = None;
            continue;
        }
        let cells = cell_ends(line);
        match header_cells {
            None => header_cells = Some(cells),
            Some(expected) if cells != expected => {
                problems.push(format!(
                    "{what}: a row of {cells} cell ends, not {expected}: {line}"
                ));
            }
            Some(_) => {}
        }
    }
}

/// Labels, a healthcheck's output and answers that try to break out of a
/// report stay text in every format; a roster's logins that are not plain
/// names are refused, row by row; nothing is written outside `--out`.
fn text_an_image_controls_stays_text(fx: &Fixture) -> Result<(), Failed> {
    let base = std::env::temp_dir().join(toolkit::unique_name("untrusted"));
    let (roster, out) = (base.join("roster.csv"), base.join("grades"));
    let image = &fx.text.reference;
    let bad_logins = ["..", "a/b", "a\\b", &"a".repeat(65), "a\u{1b}b", ""];
    let mut csv = format!("login,token,image\nhostile-text,{TOKEN},{image}\n");
    for login in bad_logins {
        csv += &format!("\"{login}\",{TOKEN},{image}\n");
    }
    let result = std::fs::create_dir_all(&base)
        .and_then(|()| std::fs::write(&roster, csv))
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let args = grade::Args {
                roster: roster.clone(),
                out: out.clone(),
                jobs: 1,
                pull: false,
                force: false,
            };
            grade::run(&args).map_err(|e| format!("{e:#}"))
        })
        .and_then(|()| check_the_written_grades(&base, &out, bad_logins.len()));
    let _ = std::fs::remove_dir_all(&base);
    result?;

    // The formats `verify` prints, from one grading.
    let grade = grading::grade(&Subject {
        image: image.clone(),
        seed: Seed::from_parts("hostile-text", TOKEN).map_err(|e| e.to_string())?,
        dockerfile: None,
        port: None,
    })
    .map_err(|e| format!("{e:#}"))?;
    let mut problems = Vec::new();
    let failed = grade.failed(true);
    let expected = [
        "healthcheck",
        "sigterm",
        "env-config",
        "labels",
        "proof",
        "health",
    ];
    if failed != expected {
        problems.push(format!("failed {failed:?}, expected {expected:?}"));
    }
    let markdown = formats::markdown(&grade, formats::Lang::En);
    text_only("the criteria.md", &markdown, &mut problems);
    tables_keep_their_cells("the criteria.md", &markdown, &mut problems);
    text_only("the table", &formats::table(&grade, false), &mut problems);
    let junit = formats::junit(&grade, false);
    text_only("the JUnit XML", &junit, &mut problems);
    let mut reader = quick_xml::Reader::from_str(&junit);
    loop {
        match reader.read_event() {
            Ok(quick_xml::events::Event::Eof) => break,
            Ok(_) => {}
            Err(error) => {
                problems.push(format!("the JUnit XML does not parse: {error}\n{junit}"));
                break;
            }
        }
    }
    let json: Value =
        serde_json::from_str(&formats::json(&grade, false)).map_err(|e| e.to_string())?;
    for check in json["checks"].as_array().into_iter().flatten() {
        let detail = check["detail"].as_str().unwrap_or_default();
        // The cut's own words come on top of the characters kept.
        if detail.chars().count() > untrusted::QUOTED_MAX + 50 {
            problems.push(format!(
                "{}: a detail of {} characters",
                check["id"],
                detail.len()
            ));
        }
    }
    ensure(problems.is_empty(), || problems.join("\n"))
}

/// What `grade` wrote in `base` (the roster's folder) and `out`: the one
/// good row graded, each bad login refused by row, every file text.
fn check_the_written_grades(base: &Path, out: &Path, bad_rows: usize) -> Result<(), String> {
    let names = |dir: &Path| -> Result<BTreeSet<String>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(entries
            .filter_map(|entry| Some(entry.ok()?.file_name().to_string_lossy().into_owned()))
            .collect())
    };
    let mut problems = Vec::new();
    let beside = names(base)?;
    if beside != BTreeSet::from(["grades".to_owned(), "roster.csv".to_owned()]) {
        problems.push(format!("written beside --out: {beside:?}"));
    }
    let written = names(out)?;
    let expected = [
        "hostile-text.json",
        "hostile-text.md",
        "summary.csv",
        "summary.json",
        "summary.md",
    ];
    if written != expected.iter().map(|name| name.to_string()).collect() {
        problems.push(format!("in --out: {written:?}, expected {expected:?}"));
    }
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    let summary: Value = serde_json::from_str(&read("summary.json")).map_err(|e| e.to_string())?;
    let students = summary["students"].as_array().cloned().unwrap_or_default();
    for row in 3..3 + bad_rows {
        let refused = students.iter().any(|student| {
            student["error"]
                .as_str()
                .is_some_and(|e| e.contains(&format!("row {row}: field \"login\"")))
        });
        if !refused {
            problems.push(format!(
                "row {row} is not refused by its login: {students:?}"
            ));
        }
    }
    for name in &written {
        text_only(name, &read(name), &mut problems);
    }
    for name in ["hostile-text.md", "summary.md"] {
        tables_keep_their_cells(name, &read(name), &mut problems);
    }
    let summary_csv = read("summary.csv");
    for record in csv::Reader::from_reader(summary_csv.as_bytes()).records() {
        let record = record.map_err(|e| e.to_string())?;
        if let Some(cell) = record
            .iter()
            .find(|cell| cell.starts_with(['=', '+', '-', '@', '\t', '\r']))
        {
            problems.push(format!("summary.csv: a formula cell {cell:?}"));
        }
    }
    match problems.is_empty() {
        true => Ok(()),
        false => Err(problems.join("\n")),
    }
}

/// A hostile image's grade: how long it took, what failed, and why `read-only` did.
struct Graded {
    mode: &'static str,
    took: Duration,
    failed: Vec<&'static str>,
    read_only: String,
}

impl Graded {
    fn of(mode: &'static str, image: &Image) -> Result<Self, String> {
        let started = Instant::now();
        let grade = grading::grade(&Subject {
            image: image.reference.clone(),
            seed: Seed::from_parts(&format!("hostile-{mode}"), TOKEN).map_err(|e| e.to_string())?,
            dockerfile: None,
            port: None,
        })
        .map_err(|e| format!("{mode}: not graded: {e:#}"))?;
        Ok(Graded {
            mode,
            took: started.elapsed(),
            failed: grade.failed(true),
            read_only: grade
                .outcome("read-only")
                .map(|o| o.detail.clone())
                .unwrap_or_default(),
        })
    }
}

const CHECKS: &[(&str, harness::CheckFn<Fixture>)] = &[
    (
        "a confined container has limits and no way out",
        a_confined_container_has_no_way_out,
    ),
    (
        "a fork bomb gets fewer than 256 processes",
        a_fork_bomb_gets_256_processes,
    ),
    (
        "an image printing without end keeps a log of at most 1 MB",
        a_flood_keeps_a_log_of_1_mb,
    ),
    (
        "text an image controls stays text in every format",
        text_an_image_controls_stays_text,
    ),
    (
        "hostile images are graded within the budget, leaving nothing",
        hostile_images_are_graded_within_the_budget,
    ),
];

fn main() -> ExitCode {
    let mut args = Arguments::from_args();
    // One at a time: the last trial checks that no grading left anything.
    args.test_threads = Some(1);
    let checks = harness::table(CHECKS);
    let (mut code, fixture) = harness::run(&args, "the hostile images", Fixture::build, checks);
    if let Some(fx) = fixture {
        let images: Vec<String> = fx.images.iter().map(|(_, i)| i.reference.clone()).collect();
        drop(fx);
        let left: Vec<&String> = images
            .iter()
            .filter(|i| toolkit::engine::image_id(i).ok().flatten().is_some())
            .collect();
        if !left.is_empty() {
            eprintln!("error: images left behind: {left:?}");
            code = ExitCode::FAILURE;
        }
    }
    code
}
