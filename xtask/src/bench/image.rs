//! The image figures: size (production and naive), build time cold and
//! warm, container start → healthy, and `docker stop`.
//!
//! Cold, honestly: `--no-cache` alone rebuilds every step, but whether the
//! contents of `RUN --mount=type=cache` mounts (the cargo registry and
//! target folders) survive it depends on the engine's BuildKit, so such a
//! "cold" build may compile nothing anew. The cold build therefore runs a copy of the Dockerfile in which
//! every cache mount gets an id of its own, new for this run: it starts from
//! empty cache mounts and no layer cache, with only the base images present
//! (which this engine could not pull anyway). The user's own cache mounts
//! are neither used nor touched; this run's are pruned at the end.
//!
//! Warm: the same copy of the Dockerfile, right after, with one line added to
//! a service source file. BuildKit keys `COPY` by content, not by
//! modification time, so a bare `touch` would rebuild nothing; a comment line
//! is the smallest change that makes cargo recompile the service. The file's
//! contents and modification time are restored afterwards (also on Ctrl-C).

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

use super::{Progress, Report, median, megabytes, millis};
use toolkit::cleanup::{Guard, Resource};
use toolkit::container::{Run, Stop};
use toolkit::docker::{self, Build, Image};

/// The source file changed for the warm rebuilds.
const TOUCHED: &str = "service/src/main.rs";
/// Where the isolated copy of the Dockerfile goes (repository-relative).
const COLD_DOCKERFILE: &str = "target/bench/Dockerfile.cold";

/// The images built by this run, removed (with their cache mounts) by [`Built::finish`].
pub struct Built {
    /// The production image: the cold build of the repo's sources.
    pub image: Image,
    naive: Option<Image>,
    /// The cache-mount records that existed before the cold build.
    cache_before: BTreeSet<String>,
    /// The build figures; [`runtime`] adds the others.
    pub figures: ImageReport,
}

/// The image figures for the report.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageReport {
    pub reference: String,
    pub size_mb: f64,
    pub naive_size_mb: Option<f64>,
    pub build_cold_s: Option<f64>,
    /// Median of the warm rebuilds.
    pub build_warm_s: Option<f64>,
    pub build_warm_samples_s: Vec<f64>,
    /// Dockerfile.naive's build, with whatever cache the engine had.
    pub naive_build_s: Option<f64>,
    /// Cache mounts of the Dockerfile given fresh ids for the cold build.
    pub cache_mounts: Option<usize>,
    pub healthcheck: Option<String>,
    pub start_to_healthy_ms: Option<f64>,
    pub start_to_healthy_samples_ms: Vec<f64>,
    pub docker_stop_ms: f64,
    pub docker_stop_samples_ms: Vec<f64>,
    pub stop_exit_codes: Vec<i64>,
}

/// Gives every `RUN --mount=type=cache` its own id, prefixed with `nonce`
/// (a mount without an id is keyed by its target, so the target is kept in
/// the new id: mounts that shared a cache still share one). Returns the new
/// text and how many mounts it changed.
pub fn isolate_cache_mounts(dockerfile: &str, nonce: &str) -> (String, usize) {
    const FLAG: &str = "--mount=";
    let mut out = String::with_capacity(dockerfile.len() + 64);
    let mut changed = 0;
    let mut rest = dockerfile;
    while let Some(at) = rest.find(FLAG) {
        let (before, flag) = rest.split_at(at + FLAG.len());
        out.push_str(before);
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (options, after) = flag.split_at(end);
        let mut fields: Vec<String> = options.split(',').map(str::to_owned).collect();
        let value = |key: &str, fields: &[String]| {
            fields
                .iter()
                .find_map(|f| f.strip_prefix(key).map(str::to_owned))
        };
        if value("type=", &fields).as_deref() == Some("cache") {
            match fields.iter().position(|f| f.starts_with("id=")) {
                Some(index) => fields[index] = format!("id={nonce}-{}", &fields[index][3..]),
                None => {
                    let target = ["target=", "dst=", "destination="]
                        .iter()
                        .find_map(|key| value(key, &fields))
                        .unwrap_or_default();
                    fields.push(format!("id={nonce}-{target}"));
                }
            }
            changed += 1;
        }
        out.push_str(&fields.join(","));
        rest = after;
    }
    out.push_str(rest);
    (out, changed)
}

/// Builds `spec` (`--no-cache` when `no_cache`), its command (with `why`)
/// added to the report's; the image and the seconds it took.
fn timed_build(
    spec: &Build,
    no_cache: bool,
    why: &str,
    report: &mut Report,
) -> Result<(Image, f64)> {
    let file = spec
        .dockerfile
        .as_deref()
        .unwrap_or(Path::new("Dockerfile"));
    report.commands.push(format!(
        "DOCKER_BUILDKIT=1 docker build{} --file {} --tag {} .   # {why}",
        if no_cache { " --no-cache" } else { "" },
        file.strip_prefix(&spec.context).unwrap_or(file).display(),
        spec.tag.split(':').next().unwrap_or_default()
    ));
    let started = Instant::now();
    let flags: &[&str] = if no_cache { &["--no-cache"] } else { &[] };
    let image = docker::build_with(spec, flags)?;
    Ok((image, started.elapsed().as_secs_f64()))
}

/// Builds the production image cold, then warm (`plan.warm_builds` times),
/// then the naive image.
pub fn build_all(root: &Path, progress: &Progress, report: &mut Report) -> Result<Built> {
    let cache_before = cache_mount_records()?;
    build_steps(root, progress, report, cache_before.clone()).inspect_err(|_| {
        // The images are removed by their guards; the cache mounts are not.
        let _ = prune_cache_mounts(&cache_before);
    })
}

fn build_steps(
    root: &Path,
    progress: &Progress,
    report: &mut Report,
    cache_before: BTreeSet<String>,
) -> Result<Built> {
    let dockerfile = root.join("Dockerfile");
    let original = fs::read_to_string(&dockerfile).with_context(|| {
        format!(
            "no Dockerfile at {}: the image figures need it (or pass --no-image)",
            dockerfile.display()
        )
    })?;
    docker::build_client()?;
    let nonce = toolkit::unique_name("bench");
    let (isolated, cache_mounts) = isolate_cache_mounts(&original, &nonce);
    let cold_file = root.join(COLD_DOCKERFILE);
    fs::create_dir_all(cold_file.parent().expect("has a parent"))?;
    fs::write(&cold_file, isolated)?;
    let cold = Build {
        context: root.to_path_buf(),
        dockerfile: Some(cold_file),
        tag: format!("image-lab-bench:{nonce}"),
        ..Build::default()
    };
    progress.say(format!(
        "cold build ({cache_mounts} cache mounts given fresh ids, --no-cache)"
    ));
    let why = format!("cold; {COLD_DOCKERFILE} is the Dockerfile with fresh cache-mount ids");
    let (image, cold_s) = timed_build(&cold, true, &why, report)?;
    progress.say(format!("cold build: {cold_s:.1} s"));

    let source = root.join(TOUCHED);
    let contents =
        fs::read(&source).with_context(|| format!("cannot read {}", source.display()))?;
    let restore = Guard::register(Resource::FileContents {
        path: source.clone(),
        contents: contents.clone(),
        modified: fs::metadata(&source)?.modified()?,
    });
    let mut warm_s = Vec::new();
    for k in 1..=report.plan.warm_builds {
        let mut changed = contents.clone();
        if !changed.ends_with(b"\n") {
            changed.push(b'\n');
        }
        changed.extend_from_slice(
            format!("// cargo xtask bench: warm rebuild {nonce}-{k}\n").as_bytes(),
        );
        fs::write(&source, changed)?;
        let warm = Build {
            tag: format!("image-lab-bench-warm:{nonce}-{k}"),
            ..cold.clone()
        };
        let started = Instant::now();
        let _removed_when_dropped = docker::build(&warm)?;
        let seconds = started.elapsed().as_secs_f64();
        progress.say(format!("warm rebuild {k}: {seconds:.1} s"));
        warm_s.push(seconds);
    }
    drop(restore);
    report.commands.push(format!(
        "echo '// warm' >> {TOUCHED} && DOCKER_BUILDKIT=1 docker build --file {COLD_DOCKERFILE} --tag image-lab-bench .   # warm; {TOUCHED} restored after"
    ));

    let naive_file = root.join("Dockerfile.naive");
    let naive = if naive_file.is_file() {
        let spec = Build {
            dockerfile: Some(naive_file),
            tag: format!("image-lab-bench-naive:{nonce}"),
            ..cold.clone()
        };
        progress.say("naive build (Dockerfile.naive, cache as found)");
        // Only its size is wanted: a failure costs that figure, not the run.
        match timed_build(&spec, false, "the naive image, for its size", report) {
            Ok((naive, seconds)) => {
                progress.say(format!("naive build: {seconds:.1} s"));
                Some((naive, seconds))
            }
            Err(error) => {
                progress.say(format!("naive build failed: {error:#}"));
                report.notes.push(format!(
                    "Dockerfile.naive did not build, so its size is missing: {}",
                    format!("{error:#}").lines().last().unwrap_or_default()
                ));
                None
            }
        }
    } else {
        report.notes.push(
            "no Dockerfile.naive at the repository root: the naive image's size is missing"
                .to_owned(),
        );
        None
    };
    let figures = ImageReport {
        build_cold_s: Some(cold_s),
        build_warm_s: Some(median(&warm_s)),
        build_warm_samples_s: warm_s,
        naive_build_s: naive.as_ref().map(|(_, seconds)| *seconds),
        cache_mounts: Some(cache_mounts),
        ..ImageReport::default()
    };
    let naive = naive.map(|(image, _)| image);
    Ok(Built {
        image,
        naive,
        cache_before,
        figures,
    })
}

impl Built {
    /// Removes the images and this run's cache mounts.
    pub fn finish(self) {
        drop((self.image, self.naive));
        if let Err(error) = prune_cache_mounts(&self.cache_before) {
            eprintln!(
                "warning: cannot remove this run's build cache ({error:#}); \
                 `docker builder prune --filter type=exec.cachemount` removes every unused cache mount"
            );
        }
    }
}

/// The ids of the engine's cache-mount records (BuildKit's description of
/// one does not name its id, so this run's are told apart as the ones that
/// appeared during its builds).
fn cache_mount_records() -> Result<BTreeSet<String>> {
    let format = [
        "system",
        "df",
        "--verbose",
        "--format",
        "{{json .BuildCache}}",
    ];
    let records: Vec<Value> =
        serde_json::from_str(&docker::run(&format)?).context("docker system df printed no JSON")?;
    Ok(records
        .iter()
        .filter(|record| record["CacheType"] == "exec.cachemount")
        // The CLI marks records in use with a trailing '*'.
        .filter_map(|record| Some(record["ID"].as_str()?.trim_end_matches('*').to_owned()))
        .collect())
}

/// Removes the cache-mount records that appeared since `before`.
fn prune_cache_mounts(before: &BTreeSet<String>) -> Result<()> {
    for id in cache_mount_records()?.difference(before) {
        let filter = format!("id={id}");
        docker::run(&["builder", "prune", "--force", "--filter", &filter])?;
    }
    Ok(())
}

/// Size, start → healthy and `docker stop`, on the image as a user runs it
/// (`docker run --detach --publish 127.0.0.1:PORT:8000 IMAGE`), added to
/// `built`'s figures (if it was built here); the report's image figures.
pub fn runtime(reference: &str, built: Option<&Built>, report: &mut Report) -> Result<ImageReport> {
    let image = toolkit::engine::inspect_image(reference)?;
    let healthcheck = image.healthcheck().map(|check| check.describe());
    // The container port the image listens on: its first EXPOSE, else 8000.
    let port = image
        .config
        .exposed_ports
        .iter()
        .find_map(|port| port.split('/').next()?.parse().ok())
        .unwrap_or(8000);
    let (mut healthy, mut stops, mut codes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..report.plan.image_trials {
        let started = Instant::now();
        let container = Run::new(reference).publish(port).start()?;
        while healthcheck.is_some() {
            match container.health().as_deref() {
                Some("healthy") => {
                    healthy.push(millis(started.elapsed()));
                    break;
                }
                Some("unhealthy") => bail!(
                    "{reference} became unhealthy; its logs:\n{}",
                    container.logs()
                ),
                _ if !container.is_running() => {
                    bail!("{reference} exited; its logs:\n{}", container.logs())
                }
                _ if started.elapsed() > Duration::from_secs(90) => {
                    bail!("{reference} was not healthy after 90 s")
                }
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        let stopped = container.stop(Stop {
            kill_after: Duration::from_secs(10),
        })?;
        stops.push(millis(stopped.elapsed));
        codes.push(stopped.exit_code);
    }
    if healthcheck.is_none() {
        report.notes.push(format!(
            "{reference} has no HEALTHCHECK: start → healthy not measured"
        ));
    }
    if codes.iter().any(|&code| code != 0) {
        report.notes.push(format!(
            "`docker stop` exit codes of the image: {codes:?} (0 is a clean exit)"
        ));
    }
    let naive = built.and_then(|b| b.naive.as_ref());
    let naive_size_mb = naive
        .map(|naive| toolkit::engine::inspect_image(&naive.reference).map(|i| megabytes(i.size)))
        .transpose()?;
    Ok(ImageReport {
        reference: reference.to_owned(),
        size_mb: megabytes(image.size),
        naive_size_mb,
        healthcheck,
        start_to_healthy_ms: (!healthy.is_empty()).then(|| median(&healthy)),
        start_to_healthy_samples_ms: healthy,
        docker_stop_ms: median(&stops),
        docker_stop_samples_ms: stops,
        stop_exit_codes: codes,
        ..built.map(|b| b.figures.clone()).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_mounts_get_fresh_ids() {
        let dockerfile = "FROM rust AS build\n\
            RUN --mount=type=cache,target=/usr/local/cargo/registry \\\n    \
            --mount=type=cache,id=target,target=/src/target,sharing=locked \\\n    \
            --mount=type=bind,source=Cargo.toml,target=Cargo.toml cargo build\n";
        let (text, changed) = isolate_cache_mounts(dockerfile, "bench-1");
        assert_eq!(changed, 2);
        assert!(text.contains("--mount=type=cache,target=/usr/local/cargo/registry,id=bench-1-/usr/local/cargo/registry \\"));
        assert!(
            text.contains(
                "--mount=type=cache,id=bench-1-target,target=/src/target,sharing=locked \\"
            )
        );
        assert!(
            text.contains("--mount=type=bind,source=Cargo.toml,target=Cargo.toml cargo build\n")
        );
        assert!(text.starts_with("FROM rust AS build\nRUN "));
    }

    #[test]
    fn dockerfiles_without_cache_mounts_are_unchanged() {
        let dockerfile = "FROM scratch\nCOPY service /\n";
        assert_eq!(
            isolate_cache_mounts(dockerfile, "n"),
            (dockerfile.to_owned(), 0)
        );
    }
}
