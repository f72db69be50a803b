//! The real image, built once from this repository's Dockerfile and run on
//! the real engine: each trial is one thing a user of the image would check.
//!
//! `main` builds the image, runs the trials (libtest's output and filters:
//! `cargo test -p e2e --test image -- proof`), removes the image, and finally
//! checks that nothing it created is left. Every container, network and image
//! is removed by its guard, also when a check fails or the run is interrupted.
//! Without a reachable engine the run fails, saying how to start one.

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use e2e::prometheus::{Prometheus, histogram_quantile, promtool_problems};

use auditable_serde::DependencyKind;
use libtest_mimic::{Arguments, Failed};
use serde_json::Value;
use service::proof::lab_proof;
use toolkit::cleanup::Guard;
use toolkit::container::{Container, Exec, Run, Stop};
use toolkit::docker::{self, Build, Compose, Image};
use toolkit::engine;
use toolkit::harness::{self, ensure};
use toolkit::{inspect, random_word};
use xtask::project_root;

/// The port the service listens on inside the container.
const PORT: u16 = 8000;

/// The port of its `/metrics`: the service's own default `METRICS_PORT`.
fn metrics_port() -> u16 {
    let defaults = service::configuration::Settings::from_vars(Vec::new());
    defaults
        .ok()
        .and_then(|settings| settings.metrics_port)
        .expect("metrics on by default")
}
/// The lab's size limit (Docker's MB are 10^6 bytes).
const SIZE_LIMIT: u64 = 150_000_000;
/// What this image aims at.
const SIZE_GOAL: u64 = 3_000_000;
/// Generous bounds: they catch a broken image, not a slow machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);
const HEALTHY_WITHIN: Duration = Duration::from_secs(20);
/// `docker stop`'s kill timeout, and how fast the service must beat it.
const KILL_AFTER: Duration = Duration::from_secs(10);
const STOPPED_WITHIN: Duration = Duration::from_secs(5);

/// The image under test and the values it was built or is run with.
struct Fixture {
    image: Image,
    id: String,
    inspect: inspect::Image,
    login: String,
    token: String,
    revision: String,
    secret: String,
    /// The compose trial's project and image, known here for the final leak check.
    compose_project: String,
    compose_login: String,
}

fn failed(error: anyhow::Error) -> Failed {
    format!("{error:#}").into()
}

fn measured(what: &str, value: impl std::fmt::Display) {
    eprintln!("  measured: {what}: {value}");
}

impl Fixture {
    fn build() -> anyhow::Result<Self> {
        let root = project_root();
        let login = "e2e-student".to_owned();
        let token = format!("tok{}", random_word(""));
        let revision = format!("rev{}", random_word(""));
        let tag = format!("{}:test", toolkit::unique_name("image-lab-e2e"));
        eprintln!("building {tag} from {}", root.join("Dockerfile").display());
        let started = Instant::now();
        let image = docker::build(&Build {
            context: root.clone(),
            dockerfile: Some(root.join("Dockerfile")),
            tag,
            build_args: vec![
                ("LAB_LOGIN".into(), login.clone()),
                ("LAB_TOKEN".into(), token.clone()),
                ("REVISION".into(), revision.clone()),
            ],
        })?;
        measured(
            "image build (layer cache as the engine has it)",
            format!("{:.1} s", started.elapsed().as_secs_f64()),
        );
        let inspect = engine::inspect_image(&image.reference)?;
        let id = inspect.id.clone();
        Ok(Fixture {
            image,
            id,
            inspect,
            login,
            token,
            revision,
            secret: format!("secret-{}", random_word("")),
            compose_project: toolkit::unique_name("image-lab-e2e-compose"),
            compose_login: toolkit::unique_name("image-lab-e2e"),
        })
    }

    /// A run of the image with the service's port published.
    fn run(&self) -> Run {
        Run::new(&self.id).publish(PORT)
    }

    /// `--read-only --cap-drop ALL --security-opt no-new-privileges`.
    fn hardened(&self) -> Run {
        let mut run = self.run();
        run.read_only = true;
        run.hardened = true;
        run
    }
}

/// Starts a container and waits for its first answer on `/`.
fn start_answering(run: &Run) -> Result<Container, Failed> {
    let container = run.start().map_err(failed)?;
    container
        .wait_answering("/", ANSWER_WITHIN)
        .map_err(failed)?;
    Ok(container)
}

fn json(body: &str) -> Result<Value, Failed> {
    serde_json::from_str(body).map_err(|e| format!("not JSON ({e}): {body:?}").into())
}

// ---------------------------------------------------------------- the checks

fn size_is_under_150_mb(fx: &Fixture) -> Result<(), Failed> {
    let size = fx.inspect.size;
    measured(
        "image size",
        format!(
            "{size} bytes = {:.2} MB ({} the {} MB goal)",
            size as f64 / 1e6,
            if size < SIZE_GOAL { "within" } else { "OVER" },
            SIZE_GOAL / 1_000_000
        ),
    );
    ensure(size < SIZE_LIMIT, || {
        format!("{size} bytes, the limit is {SIZE_LIMIT}")
    })
}

/// The crates in the image's binary, as `cargo auditable` embedded their
/// list (read back with auditable-info, the reader behind the scanners'
/// support for it), against what `cargo tree` says a release build of the
/// service compiles for this platform; and the image still within 3 MB.
///
/// Not quite equal, by cargo-auditable's design: it takes the graph from
/// `cargo metadata`, whose features are unified across every target and
/// platform, so it may list a build-time crate that this build never
/// compiles (time-macros, today), and it calls a proc-macro "runtime" when
/// a runtime crate depends on it. What a scanner must not miss holds
/// exactly: every crate the build compiles is listed, every crate linked
/// into the binary is listed as runtime, and nothing extra is.
fn the_binary_lists_the_crates_it_was_built_from(fx: &Fixture) -> Result<(), Failed> {
    let container = fx.run().start().map_err(failed)?;
    let binary = container.read_file("/service").map_err(failed)?;
    let listed = auditable_info::audit_info_from_slice(
        &binary,
        auditable_info::Limits::default().decompressed_json_size,
    )
    .map_err(|error| format!("no crate list in /service: {error}"))?;
    let listed_as = |kind: Option<DependencyKind>| -> BTreeSet<String> {
        (listed.packages.iter())
            .filter(|crate_| kind.is_none_or(|kind| crate_.kind == kind))
            .map(|crate_| format!("{} v{}", crate_.name, crate_.version))
            .collect()
    };
    let (all, runtime) = (listed_as(None), listed_as(Some(DependencyKind::Runtime)));
    let built = cargo_tree("normal,build")?;
    let linked = cargo_tree("normal,no-proc-macro")?;
    let missing = |from: &BTreeSet<String>, list: &BTreeSet<String>| -> Vec<String> {
        from.difference(list).cloned().collect()
    };
    ensure(missing(&built, &all).is_empty(), || {
        format!("built but not listed: {:?}", missing(&built, &all))
    })?;
    ensure(missing(&linked, &runtime).is_empty(), || {
        format!(
            "linked in but not listed as runtime: {:?}",
            missing(&linked, &runtime)
        )
    })?;
    let extra = missing(&all, &built);
    ensure(extra.iter().all(|crate_| !runtime.contains(crate_)), || {
        format!("listed as runtime but never built: {extra:?}")
    })?;
    measured(
        "crates listed in /service",
        format!(
            "{} ({} linked in; listed though never built, as build-time: {extra:?})",
            all.len(),
            linked.len()
        ),
    );
    ensure(fx.inspect.size <= SIZE_GOAL, || {
        format!(
            "{} bytes: over {SIZE_GOAL} with the crate list",
            fx.inspect.size
        )
    })
}

/// `name vX.Y.Z` of every package `cargo tree --edges EDGES` shows for the
/// service's workspace on this machine's platform (the image's: it was built here).
fn cargo_tree(edges: &str) -> Result<BTreeSet<String>, Failed> {
    let target = format!("{}-unknown-linux-gnu", std::env::consts::ARCH);
    let manifest = project_root().join("Cargo.toml");
    let tree = toolkit::command::Cmd::new(env!("CARGO"))
        .arg("tree")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["--locked", "--edges", edges, "--target", &target])
        .args(["--prefix", "none", "--format", "{p}"])
        .run()
        .map_err(failed)?;
    // `serde v1.0.219`, `serde v1.0.219 (*)` for a repeat, a path after the workspace's own.
    Ok(tree
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            Some(format!("{} {}", words.next()?, words.next()?))
        })
        .collect())
}

fn runs_as_a_numeric_non_root_user(fx: &Fixture) -> Result<(), Failed> {
    let user = fx.inspect.config.user.as_str();
    let ids: Vec<Option<u32>> = user.split(':').map(|id| id.parse().ok()).collect();
    ensure(!user.is_empty() && ids.iter().all(Option::is_some), || {
        format!("Config.User is {user:?}, not numeric UID[:GID]")
    })?;
    ensure(ids[0] != Some(0), || {
        format!("Config.User is {user:?}: root")
    })?;
    let container = start_answering(&fx.run())?;
    let uids = container.process_uids().map_err(failed)?;
    ensure(
        !uids.is_empty() && uids.iter().all(|&uid| Some(uid) == ids[0]),
        || format!("the processes run as UIDs {uids:?}, not {user}"),
    )
}

fn healthcheck_reports_healthy(fx: &Fixture) -> Result<(), Failed> {
    let check = fx
        .inspect
        .healthcheck()
        .ok_or("the image has no HEALTHCHECK")?;
    ensure(check.test == ["CMD", "/service", "healthcheck"], || {
        format!("HEALTHCHECK is {:?}", check.test)
    })?;
    let interval = Duration::from_nanos(check.interval);
    ensure(
        !interval.is_zero() && interval <= Duration::from_secs(3),
        || {
            format!(
                "interval {interval:?}: the first probe on Engine 20.10 comes one interval after start"
            )
        },
    )?;
    let started = Instant::now();
    let container = fx.run().start().map_err(failed)?;
    container.wait_healthy(HEALTHY_WITHIN).map_err(failed)?;
    measured(
        "docker run -> healthy",
        format!("{:.2} s", started.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// The metrics port as a real Prometheus scrapes it, the image hardened
/// and read-only as compose.yml and deploy/k8s run it: after known requests,
/// PromQL answers those counts, a quantile of the duration histogram is the
/// one the endpoint's own buckets give, and promtool passes the endpoint's text.
fn metrics_are_scraped_by_a_real_prometheus(fx: &Fixture) -> Result<(), Failed> {
    // Routes nothing else asks for: the HEALTHCHECK probes /health, and
    // waiting for the first answer asks for /.
    const PROOFS: u32 = 37;
    const UNMATCHED: u32 = 5;
    let container = start_answering(&fx.hardened().publish(metrics_port()))?;
    let metrics = container
        .endpoint_of(metrics_port(), None)
        .map_err(failed)?;
    let prometheus = Prometheus::start("image-lab", metrics).map_err(failed)?;
    for _ in 0..PROOFS {
        // No SECRET in this run: 400.
        let answer = container.get("/proof").map_err(failed)?;
        ensure(answer.status == 400, || format!("GET /proof: {answer:?}"))?;
    }
    for n in 0..UNMATCHED {
        container.get(&format!("/no/such/{n}")).map_err(failed)?;
    }
    prometheus
        .wait_scraped_after(SystemTime::now())
        .map_err(failed)?;

    let value = |promql: &str| prometheus.value(promql).map_err(failed);
    let proofs = value(r#"http_requests_total{method="GET",route="/proof",status="400"}"#)?;
    let unmatched = value(r#"sum(http_requests_total{route="unmatched"})"#)?;
    ensure(
        (proofs, unmatched) == (f64::from(PROOFS), f64::from(UNMATCHED)),
        || {
            format!(
                "Prometheus counted {proofs} of {PROOFS} /proof and {unmatched} of {UNMATCHED} unmatched"
            )
        },
    )?;

    let text = toolkit::http::http_get_at(metrics, "/metrics")
        .map_err(failed)?
        .body;
    let mut buckets: Vec<(f64, f64)> = text
        .lines()
        .filter(|line| line.starts_with("http_request_duration_seconds_bucket{"))
        .filter(|line| line.contains(r#"route="/proof""#))
        .filter_map(|line| {
            let le = line.split("le=\"").nth(1)?.split('"').next()?;
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((le, line.rsplit(' ').next()?.parse().ok()?))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    let expected = histogram_quantile(0.9, &buckets).ok_or("no /proof buckets")?;
    let answered =
        value(r#"histogram_quantile(0.9, http_request_duration_seconds_bucket{route="/proof"})"#)?;
    ensure((answered - expected).abs() <= 1e-12 * expected, || {
        format!("the 0.9 quantile: Prometheus {answered}, the buckets {expected} ({buckets:?})")
    })?;
    measured(
        "GET /proof, 0.9 quantile",
        format!("{:.0} µs", answered * 1e6),
    );

    let problems = promtool_problems(&text).map_err(failed)?;
    ensure(problems.is_empty(), || {
        format!("promtool check metrics:\n{problems}")
    })
}

fn answers_the_contract_hardened_and_read_only(fx: &Fixture) -> Result<(), Failed> {
    let container = start_answering(&fx.hardened().env("SECRET", &fx.secret))?;
    let index = container.get("/").map_err(failed)?;
    ensure(
        index.status == 200
            && index.content_type == "text/html; charset=utf-8"
            && index.body == "Hello from Docker! Rocket=Small\n",
        || format!("GET / answered {index:?}"),
    )?;
    let health = container.get("/health").map_err(failed)?;
    let body = json(&health.body)?;
    ensure(
        health.status == 200
            && health.content_type == "application/json"
            && body["status"] == "ok"
            && body["uptime"].is_f64(),
        || format!("GET /health answered {health:?}"),
    )?;
    let proof = container.get("/proof").map_err(failed)?;
    let expected = format!(
        "{{\"login\":\"{}\",\"ok\":true,\"proof\":\"{}\"}}\n",
        fx.login,
        lab_proof(&fx.secret, &fx.login, &fx.token)
    );
    ensure(proof.status == 200 && proof.body == expected, || {
        format!("GET /proof answered {proof:?}, expected {expected:?}")
    })
}

fn runs_as_any_user(fx: &Fixture) -> Result<(), Failed> {
    let mut run = fx.hardened();
    run.user = Some("65534:65534".into());
    let container = start_answering(&run)?;
    let health = container.get("/health").map_err(failed)?;
    ensure(health.status == 200, || {
        format!("GET /health answered {health:?}")
    })?;
    let uids = container.process_uids().map_err(failed)?;
    ensure(
        !uids.is_empty() && uids.iter().all(|&uid| uid == 65534),
        || format!("--user 65534:65534 but the processes run as {uids:?}"),
    )?;
    container
        .wait_healthy(HEALTHY_WITHIN)
        .map_err(failed)
        .map(drop)
}

fn rocket_size_changes_the_index_without_rebuild(fx: &Fixture) -> Result<(), Failed> {
    let sizes = ["Big".to_owned(), format!("Rocket{}", random_word(""))];
    for size in &sizes {
        let container = start_answering(&fx.run().env("ROCKET_SIZE", size))?;
        let index = container.get("/").map_err(failed)?;
        let wanted = format!("Hello from Docker! Rocket={size}\n");
        ensure(index.body == wanted, || {
            format!("ROCKET_SIZE={size}, but / answered {:?}", index.body)
        })?;
        // Without SECRET, /proof refuses rather than signing with a default key.
        let proof = container.get("/proof").map_err(failed)?;
        ensure(
            proof.status == 400 && proof.body == "{\"error\":\"no-secret\"}\n",
            || format!("without SECRET, /proof answered {proof:?}"),
        )?;
    }
    Ok(())
}

fn labels_equal_the_build_args(fx: &Fixture) -> Result<(), Failed> {
    let label = |name: &str| fx.inspect.label(name).unwrap_or("<missing>").to_owned();
    for (name, wanted) in [
        ("org.lab.login", fx.login.as_str()),
        ("org.lab.token", fx.token.as_str()),
        ("org.opencontainers.image.revision", fx.revision.as_str()),
        ("org.opencontainers.image.licenses", "MIT"),
        ("org.opencontainers.image.title", "image-lab"),
    ] {
        ensure(label(name) == wanted, || {
            format!("label {name} is {:?}, not {wanted:?}", label(name))
        })?;
    }
    // The Dockerfile cannot read Cargo.toml: this catches the two drifting apart.
    let manifest = std::fs::read_to_string(project_root().join("service/Cargo.toml"))
        .map_err(|e| format!("cannot read service/Cargo.toml: {e}"))?;
    let version = manifest
        .lines()
        .find_map(|line| line.strip_prefix("version = "))
        .map(|v| v.trim_matches('"'))
        .ok_or("service/Cargo.toml has no version line")?;
    ensure(label("org.opencontainers.image.version") == version, || {
        format!(
            "label org.opencontainers.image.version is {:?}, service/Cargo.toml says {version:?}",
            label("org.opencontainers.image.version")
        )
    })?;
    let source = label("org.opencontainers.image.source");
    ensure(source.starts_with("https://"), || {
        format!("label org.opencontainers.image.source is {source:?}")
    })?;
    let env = fx.inspect.config.env.join(" ");
    ensure(
        env.contains(&format!("LAB_LOGIN={}", fx.login))
            && env.contains(&format!("LAB_TOKEN={}", fx.token)),
        || format!("the image's env lacks LAB_LOGIN/LAB_TOKEN from the build args: {env}"),
    )
}

fn no_secret_in_env_or_history(fx: &Fixture) -> Result<(), Failed> {
    let env = fx.inspect.config.env.join(" ");
    ensure(!env.contains("SECRET"), || {
        format!("the image's env mentions SECRET: {env}")
    })?;
    let history = docker::run(&[
        "history",
        "--no-trunc",
        "--format",
        "{{.CreatedBy}}",
        &fx.id,
    ])
    .map_err(failed)?;
    ensure(!history.contains("SECRET"), || {
        format!("`docker history --no-trunc` mentions SECRET:\n{history}")
    })
}

fn docker_exec_sh_fails(fx: &Fixture) -> Result<(), Failed> {
    let container = start_answering(&fx.run())?;
    for shell in [["sh", "-c", "true"], ["/bin/sh", "-c", "true"]] {
        let exec = Exec { command: &shell };
        let executed = container.exec(exec, KILL_AFTER).map_err(failed)?;
        ensure(executed.exit_code != 0, || {
            format!("`{}` worked: there is a shell", exec.shown("CONTAINER"))
        })?;
    }
    Ok(())
}

fn docker_stop_exits_0_quickly(fx: &Fixture) -> Result<(), Failed> {
    let container = start_answering(&fx.run())?;
    let stop = Stop {
        kill_after: KILL_AFTER,
    };
    let stopped = container.stop(stop).map_err(failed)?;
    measured(
        "docker stop",
        format!(
            "{:.2} s, exit code {}",
            stopped.elapsed.as_secs_f64(),
            stopped.exit_code
        ),
    );
    ensure(stopped.exit_code == 0, || {
        format!("exit code {} (137: killed)", stopped.exit_code)
    })?;
    ensure(stopped.elapsed < STOPPED_WITHIN, || {
        format!("took {:?}", stopped.elapsed)
    })?;
    let logs = container.logs();
    ensure(logs.contains("Shutting down..."), || {
        format!("no `Shutting down...` in the logs:\n{logs}")
    })
}

fn compose_up_is_healthy_and_down_leaves_nothing(fx: &Fixture) -> Result<(), Failed> {
    let root = project_root();
    let port = toolkit::http::free_port().map_err(failed)?.to_string();
    let metrics_port = toolkit::http::free_port().map_err(failed)?.to_string();
    let rocket = format!("Compose{}", random_word(""));
    let image = format!("{}/image-lab:compose", fx.compose_login);
    let _image_guard = Guard::register(docker::remove_image(&image));
    let vars = [
        ("LAB_LOGIN", fx.compose_login.as_str()),
        ("LAB_PREFIX", "compose"),
        ("LAB_TOKEN", fx.token.as_str()),
        ("REVISION", fx.revision.as_str()),
        ("HOST_PORT", port.as_str()),
        ("METRICS_HOST_PORT", metrics_port.as_str()),
        ("ROCKET_SIZE", rocket.as_str()),
        ("SECRET", fx.secret.as_str()),
    ];
    let compose = Compose {
        file: root.join("compose.yml"),
        project: fx.compose_project.clone(),
        // The documented example, rather than whatever .env this checkout has.
        env_file: Some(root.join(".env.example")),
        env: vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    let started = Instant::now();
    let up = compose.up(&["--wait-timeout", "300"]).map_err(failed)?;
    measured(
        "docker compose up --build --wait",
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    );
    let project = format!("label=com.docker.compose.project={}", compose.project);
    let containers = docker::list("container", &project).map_err(failed)?;
    ensure(containers.len() == 1, || {
        format!("expected 1 container, found {containers:?}")
    })?;
    let container = engine::inspect_container(&containers[0]).map_err(failed)?;
    let (state, host) = (&container.state, &container.host_config);
    ensure(state.health_status() == Some("healthy"), || {
        format!("health: {:?}", state.health)
    })?;
    ensure(
        host.readonly_rootfs == Some(true)
            && host.cap_drop == Some(vec!["ALL".to_owned()])
            && (host.security_opt.iter().flatten()).any(|o| o.contains("no-new-privileges"))
            && host.memory.is_some_and(|m| m > 0)
            && host.nano_cpus.is_some_and(|n| n > 0)
            && host.pids_limit.is_some_and(|n| n > 0)
            && (host.restart_policy.as_ref().and_then(|p| p.name))
                .is_some_and(|name| name.to_string() == "unless-stopped"),
        || format!("not hardened as compose.yml says: {host:#?}"),
    )?;
    ensure(container.config.user == "10001:10001", || {
        format!("runs as {:?}, not the image's user", container.config.user)
    })?;
    let bindings = format!("{:?}", host.port_bindings);
    ensure(
        bindings.contains("127.0.0.1") && bindings.contains(&port),
        || format!("ports not on 127.0.0.1:{port}: {bindings}"),
    )?;
    let index = toolkit::http::http_get(port.parse().unwrap_or_default(), "/").map_err(failed)?;
    ensure(
        index.body == format!("Hello from Docker! Rocket={rocket}\n"),
        || {
            format!(
                "ROCKET_SIZE={rocket} through compose, but / answered {:?}",
                index.body
            )
        },
    )?;
    let proof =
        toolkit::http::http_get(port.parse().unwrap_or_default(), "/proof").map_err(failed)?;
    let wanted = lab_proof(&fx.secret, &fx.compose_login, &fx.token);
    ensure(proof.body.contains(&wanted), || {
        format!("/proof through compose answered {:?}", proof.body)
    })?;
    let metrics = toolkit::http::http_get(metrics_port.parse().unwrap_or_default(), "/metrics")
        .map_err(failed)?;
    ensure(
        metrics.status == 200 && metrics.body.contains("http_requests_total{"),
        || format!("/metrics on 127.0.0.1:{metrics_port} answered {metrics:?}"),
    )?;

    up.down().map_err(failed)?;
    let left: Vec<String> = ["container", "network", "volume"]
        .iter()
        .map(|kind| {
            docker::list(kind, &project).map(|ids| {
                ids.iter()
                    .map(|id| format!("{kind} {id}"))
                    .collect::<Vec<_>>()
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()
        .map_err(failed)?
        .concat();
    ensure(left.is_empty(), || {
        format!("`docker compose down` left {left:?}")
    })
}

// ---------------------------------------------------------------- main

const CHECKS: &[(&str, harness::CheckFn<Fixture>)] = &[
    ("size_is_under_150_mb", size_is_under_150_mb),
    (
        "runs_as_a_numeric_non_root_user",
        runs_as_a_numeric_non_root_user,
    ),
    ("healthcheck_reports_healthy", healthcheck_reports_healthy),
    (
        "answers_the_contract_hardened_and_read_only",
        answers_the_contract_hardened_and_read_only,
    ),
    ("runs_as_any_user", runs_as_any_user),
    (
        "the_binary_lists_the_crates_it_was_built_from",
        the_binary_lists_the_crates_it_was_built_from,
    ),
    (
        "metrics_are_scraped_by_a_real_prometheus",
        metrics_are_scraped_by_a_real_prometheus,
    ),
    (
        "rocket_size_changes_the_index_without_rebuild",
        rocket_size_changes_the_index_without_rebuild,
    ),
    ("labels_equal_the_build_args", labels_equal_the_build_args),
    ("no_secret_in_env_or_history", no_secret_in_env_or_history),
    ("docker_exec_sh_fails", docker_exec_sh_fails),
    ("docker_stop_exits_0_quickly", docker_stop_exits_0_quickly),
    (
        "compose_up_is_healthy_and_down_leaves_nothing",
        compose_up_is_healthy_and_down_leaves_nothing,
    ),
];

/// What this run created and should have removed by now: its containers,
/// the compose project's networks, and both images.
fn leftovers(images: &[String], compose_project: &str) -> anyhow::Result<Vec<String>> {
    let pid = std::process::id();
    let mut left = Vec::new();
    for filter in [
        format!("name=labcheck-{pid}-"),
        format!("name=image-lab-once-{pid}-"),
    ] {
        left.extend(
            docker::list("container", &filter)?
                .into_iter()
                .map(|id| format!("container {id}")),
        );
    }
    let project = format!("label=com.docker.compose.project={compose_project}");
    left.extend(
        docker::list("network", &project)?
            .into_iter()
            .map(|id| format!("network {id}")),
    );
    for image in images {
        if engine::image_id(image)?.is_some() {
            left.push(format!("image {image}"));
        }
    }
    Ok(left)
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let checks = harness::table(CHECKS);
    let (mut code, fixture) = harness::run(&args, "the image", Fixture::build, checks);
    if let Some(fx) = fixture {
        let images = [
            fx.image.reference.clone(),
            format!("{}/image-lab:compose", fx.compose_login),
        ];
        drop(fx.image); // removes the image
        match leftovers(&images, &fx.compose_project) {
            Ok(left) if left.is_empty() => {}
            Ok(left) => {
                eprintln!("error: this run left behind {left:?}");
                code = ExitCode::FAILURE;
            }
            Err(error) => {
                eprintln!("error: cannot list what this run left behind: {error:#}");
                code = ExitCode::FAILURE;
            }
        }
    }
    code
}
