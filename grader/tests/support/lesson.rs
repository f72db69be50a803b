//! The lesson (docs/lesson.md, docs/lesson.ru.md): its steps from
//! `Dockerfile.naive` to `Dockerfile`, each a Dockerfile the grader judges,
//! with the mistakes shown beside them; what a run measured of them
//! (grader/lesson/measured.json); and how the two become the lesson's text.
//! The lesson bench measures and writes; the lesson test builds and grades
//! every step again and checks the text says what was measured.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use grader::grading::checks::CHECKS;
use grader::grading::formats::Lang;
use grader::grading::{self, Grade, Subject};
use grader::seed::Seed;
use serde::{Deserialize, Serialize};
use toolkit::debian_image::{self, DebianImage};
use toolkit::docker::{self, Build, Image};

use super::class::EXPECTED;

/// One step of the lesson: one idea, one Dockerfile.
pub struct Step {
    /// Its name in the templates and in `measured.json`.
    pub id: &'static str,
    /// The Dockerfile, from the repository's root (the build's context).
    pub file: &'static str,
    /// The lab criteria the grader fails it on.
    pub fails: &'static [&'static str],
    /// The mistakes this step shows: its Dockerfile with one thing wrong.
    pub mistakes: &'static [Mistake],
}

/// A mistake students make, shown by the grader's verdict on it.
pub struct Mistake {
    pub id: &'static str,
    pub file: &'static str,
    pub fails: &'static [&'static str],
}

/// What the steps between the naive image and `FROM scratch` run on.
pub const DEBIAN_SLIM: &str = "debian:bookworm-slim";

/// The lesson's steps, in order.
pub const STEPS: &[Step] = &[
    Step {
        id: "naive",
        file: "Dockerfile.naive",
        fails: &["multi-stage", "size", "healthcheck", "non-root"],
        mistakes: &[],
    },
    Step {
        id: "multi-stage",
        file: "docs/lesson/02-multi-stage.Dockerfile",
        fails: &["healthcheck", "non-root"],
        mistakes: &[Mistake {
            id: "shell-form",
            file: "docs/lesson/02-multi-stage.shell-form.Dockerfile",
            fails: &["healthcheck", "non-root", "sigterm"],
        }],
    },
    Step {
        id: "dependency-cache",
        file: "docs/lesson/03-dependency-cache.Dockerfile",
        fails: &["healthcheck", "non-root"],
        mistakes: &[],
    },
    Step {
        id: "non-root",
        file: "docs/lesson/04-non-root.Dockerfile",
        fails: &["healthcheck"],
        mistakes: &[],
    },
    Step {
        id: "healthcheck",
        file: "docs/lesson/05-healthcheck.Dockerfile",
        fails: &[],
        mistakes: &[
            Mistake {
                id: "curl",
                file: "docs/lesson/05-healthcheck.curl.Dockerfile",
                fails: &["healthcheck"],
            },
            Mistake {
                id: "log-file",
                file: "docs/lesson/05-healthcheck.log-file.Dockerfile",
                fails: &["read-only"],
            },
        ],
    },
    Step {
        id: "static-scratch",
        file: "docs/lesson/06-static-scratch.Dockerfile",
        fails: &[],
        mistakes: &[],
    },
    Step {
        id: "production",
        file: "Dockerfile",
        fails: &[],
        mistakes: &[],
    },
];

/// Every Dockerfile of the lesson, steps and mistakes, with the lab
/// criteria it fails.
pub fn every_dockerfile() -> Vec<(&'static str, &'static [&'static str])> {
    STEPS
        .iter()
        .flat_map(|step| {
            std::iter::once((step.file, step.fails))
                .chain(step.mistakes.iter().map(|m| (m.file, m.fails)))
        })
        .collect()
}

/// The student the lesson's images are built for: fixed, so that a new run
/// changes the text only where a figure moved.
pub fn seed() -> Seed {
    Seed::from_parts("student", "5f3c8a1e9b2d4c6f").expect("a valid seed")
}

/// The build of `dockerfile` (from the root of `tree`) as `tag`, with the
/// lesson student's identity.
pub fn build_spec(tree: &Path, dockerfile: &str, tag: &str) -> Build {
    let seed = seed();
    Build {
        context: tree.to_owned(),
        dockerfile: Some(tree.join(dockerfile)),
        tag: tag.to_owned(),
        build_args: vec![
            ("LAB_LOGIN".into(), seed.login),
            ("LAB_TOKEN".into(), seed.token),
        ],
    }
}

/// The `docker build` a student types for `dockerfile`, from the
/// repository's root: what [`build_spec`] builds.
pub fn shown_build(dockerfile: &str) -> String {
    let spec = build_spec(Path::new("."), dockerfile, &seed().image_name());
    let args: String = (spec.build_args.iter())
        .map(|(name, value)| format!(" --build-arg {name}={value}"))
        .collect();
    format!(
        "DOCKER_BUILDKIT=1 docker build -f {dockerfile}{args} -t {} .",
        spec.tag
    )
}

/// The grader's arguments for the image [`shown_build`] makes of `dockerfile`.
pub fn shown_verify(dockerfile: &str) -> String {
    let seed = seed();
    format!(
        "verify --image {} --login {} --token {} --dockerfile {dockerfile}",
        seed.image_name(),
        seed.login,
        seed.token
    )
}

/// Grades `image`, built from `dockerfile`, as the lesson's student's.
pub fn grade(image: &str, dockerfile: &Path) -> Result<Grade> {
    grading::grade(&Subject {
        image: image.to_owned(),
        seed: seed(),
        dockerfile: Some(dockerfile.to_owned()),
        port: None,
    })
}

/// Every step and mistake built from `tree` (context: its root), each
/// image beside its Dockerfile; removed when dropped.
pub fn build_all(tree: &Path) -> Result<Vec<(&'static str, Image)>> {
    debian_slim()?;
    every_dockerfile()
        .into_iter()
        .map(|(file, _)| Ok((file, docker::build(&build_spec(tree, file, &tag(file)))?)))
        .collect()
}

/// An image name of its own for a Dockerfile of the lesson.
pub fn tag(dockerfile: &str) -> String {
    let name = Path::new(dockerfile)
        .file_name()
        .map_or(dockerfile.into(), |n| n.to_string_lossy());
    let name: String = (name.to_lowercase().chars())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("image-lab-lesson/{name}:{}", toolkit::unique_name("run"))
}

/// `debian:bookworm-slim`, made from Debian's packages unless the engine has
/// it (a machine without a registry cannot pull it; about a minute, as root).
/// Trimmed as the official slim image is: no documentation or locales.
pub fn debian_slim() -> Result<()> {
    if debian_image::exists(DEBIAN_SLIM, "")? {
        return Ok(());
    }
    debian_image::make(
        &DebianImage {
            reference: DEBIAN_SLIM,
            release: "bookworm",
            // Already in minbase: nothing more than the official image has.
            packages: "apt",
            complete: &|rootfs: &Path| {
                debian_image::empty(rootfs, &["usr/share/locale", "usr/share/lintian"])
            },
            changes: vec!["CMD [\"bash\"]".to_owned()],
            check: "cat /etc/debian_version",
        },
        "http://deb.debian.org/debian",
    )
}

/// What a run of the lesson bench measured.
#[derive(Debug, Serialize, Deserialize)]
pub struct Measured {
    /// The machine: its CPU, how many cores, the Docker Engine's version.
    pub cpu: String,
    pub cores: usize,
    pub engine: String,
    /// When, in UTC.
    pub date: String,
    /// Base images and their sizes in bytes.
    pub bases: BTreeMap<String, u64>,
    pub steps: Vec<StepFigures>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct StepFigures {
    pub id: String,
    pub size: u64,
    /// Seconds, with no layer cache and no cache mounts (the base images there).
    pub cold_build: f64,
    /// Seconds, after one `.rs` file of the service was edited.
    pub rebuild: f64,
    pub verdict: Verdict,
    /// The final stage's own layers, oldest first: instruction, bytes.
    pub history: Vec<(String, i64)>,
    pub mistakes: BTreeMap<String, Verdict>,
}

/// The grader's lab verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub passed: usize,
    pub of: usize,
    /// The lab criteria failed, in the lab's order.
    pub failed: Vec<String>,
}

impl Verdict {
    pub fn of(grade: &Grade) -> Self {
        let (passed, of) = grade.lab_score();
        Verdict {
            passed,
            of,
            failed: grade.failed(true).into_iter().map(str::to_owned).collect(),
        }
    }
}

/// The step's own layers in `history` (newest first, as the engine gives
/// it), oldest first: those above the `base_layers` of its final stage's base.
pub fn own_layers(history: &[toolkit::engine::Layer], base_layers: usize) -> Vec<(String, i64)> {
    let own = history.len().saturating_sub(base_layers);
    (history[..own].iter().rev())
        .map(|layer| {
            let instruction = (layer
                .created_by
                .trim_end_matches("# buildkit")
                .split_whitespace())
            .collect::<Vec<_>>()
            .join(" ");
            (instruction, layer.size)
        })
        .collect()
}

/// The repository's root.
pub fn repository() -> PathBuf {
    super::repository()
}

/// Where a run's figures are kept, beside the templates.
pub fn measured_path() -> PathBuf {
    repository().join("grader/lesson/measured.json")
}

impl Measured {
    pub fn read() -> Result<Self> {
        let path = measured_path();
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {} (`cargo lesson` writes it)", path.display())
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{} is not what the lesson bench writes", path.display()))
    }

    pub fn write(&self) -> Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        std::fs::write(measured_path(), text)?;
        Ok(())
    }

    /// The steps' verdicts are those of [`STEPS`]: the text never says what
    /// the grader does not.
    pub fn agrees_with_the_steps(&self) -> Result<()> {
        let names = |failed: &[&str]| failed.iter().map(|id| id.to_string()).collect::<Vec<_>>();
        anyhow::ensure!(
            self.steps.len() == STEPS.len(),
            "{} steps measured, {} in the lesson",
            self.steps.len(),
            STEPS.len()
        );
        for (step, figures) in STEPS.iter().zip(&self.steps) {
            anyhow::ensure!(
                step.id == figures.id,
                "measured {} where the lesson has {}",
                figures.id,
                step.id
            );
            anyhow::ensure!(
                figures.verdict.failed == names(step.fails),
                "{}: measured failing {:?}, the lesson says {:?}",
                step.file,
                figures.verdict.failed,
                step.fails
            );
            for mistake in step.mistakes {
                let measured = figures.mistakes.get(mistake.id).map(|v| &v.failed);
                anyhow::ensure!(
                    measured == Some(&names(mistake.fails)),
                    "{}: measured failing {measured:?}, the lesson says {:?}",
                    mistake.file,
                    mistake.fails
                );
            }
        }
        Ok(())
    }
}

/// Each language's template and the lesson it becomes.
pub const LESSONS: &[(Lang, &str, &str)] = &[
    (Lang::En, "grader/lesson/lesson.en.md", "docs/lesson.md"),
    (Lang::Ru, "grader/lesson/lesson.ru.md", "docs/lesson.ru.md"),
];

/// The lesson in `lang` from its template and `measured`; the diffs between
/// the steps are taken from the Dockerfiles as they are now.
pub fn render(measured: &Measured, lang: Lang, template: &str) -> Result<String> {
    let root = repository();
    let source =
        std::fs::read_to_string(root.join(template)).with_context(|| template.to_owned())?;
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.add_template("lesson", &source)?;
    let read =
        |file: &str| std::fs::read_to_string(root.join(file)).with_context(|| file.to_owned());
    let mut steps = Vec::new();
    let mut previous: Option<(&Step, &StepFigures)> = None;
    for (n, (step, figures)) in STEPS.iter().zip(&measured.steps).enumerate() {
        let text = read(step.file)?;
        let diff = match previous {
            Some((before, _)) => unified_diff(&read(before.file)?, &text, before.file, step.file),
            None => String::new(),
        };
        let newly_passed: Vec<String> = previous
            .map(|(_, before)| {
                before
                    .verdict
                    .failed
                    .iter()
                    .filter(|id| !figures.verdict.failed.contains(id))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let mut mistakes = BTreeMap::new();
        for mistake in step.mistakes {
            let verdict = &figures.mistakes[mistake.id];
            mistakes.insert(
                mistake.id,
                minijinja::context! {
                    file => mistake.file,
                    link => link(mistake.file),
                    score => format!("{}/{}", verdict.passed, verdict.of),
                    failed => verdict.failed,
                    diff => unified_diff(&text, &read(mistake.file)?, step.file, mistake.file),
                    build => shown_build(mistake.file),
                },
            );
        }
        steps.push(minijinja::context! {
            n => n + 1,
            id => step.id,
            file => step.file,
            link => link(step.file),
            size => size_in(lang, figures.size),
            cold_build => lang.say("{} s", &[format!("{:.0}", figures.cold_build)]),
            rebuild => lang.say("{} s", &[format!("{:.0}", figures.rebuild)]),
            score => format!("{}/{}", figures.verdict.passed, figures.verdict.of),
            failed => figures.verdict.failed,
            newly_passed,
            history => (figures.history.iter())
                .map(|(instruction, size)| format!("{:>8}  {}", megabytes(*size), cut(instruction, 110)))
                .collect::<Vec<_>>(),
            diff,
            mistakes,
            build => shown_build(step.file),
            verify => shown_verify(step.file),
        });
        previous = Some((step, figures));
    }
    let by_id: BTreeMap<&str, minijinja::Value> = STEPS
        .iter()
        .map(|s| s.id)
        .zip(steps.iter().cloned())
        .collect();
    let corpus: BTreeMap<&str, &[&str]> = EXPECTED.iter().copied().collect();
    let criteria: Vec<(&str, &str)> = (CHECKS.iter().filter(|check| check.lab))
        .map(|check| (check.id, lang.tr(check.criterion)))
        .collect();
    let bases: BTreeMap<&str, String> = measured
        .bases
        .iter()
        .map(|(name, size)| (name.as_str(), size_in(lang, *size)))
        .collect();
    let text = env.get_template("lesson")?.render(minijinja::context! {
        steps,
        step => by_id,
        corpus,
        criteria,
        image => seed().image_name(),
        bases,
        cpu => measured.cpu,
        cores => measured.cores,
        engine => measured.engine,
        date => measured.date,
    })?;
    Ok(text)
}

/// Where `file` (from the repository's root) is, seen from `docs/`.
fn link(file: &str) -> String {
    match file.strip_prefix("docs/") {
        Some(inside) => inside.to_owned(),
        None => format!("../{file}"),
    }
}

fn unified_diff(before: &str, after: &str, before_name: &str, after_name: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(1)
        .header(before_name, after_name)
        .to_string()
}

/// An image's size in decimal megabytes, as `docker images` gives it, in `lang`.
fn size_in(lang: Lang, bytes: u64) -> String {
    let mb = bytes as f64 / 1e6;
    let digits = if mb >= 100.0 { 0 } else { 1 };
    lang.say("{} MB", &[format!("{mb:.digits$}")])
}

/// A layer's size as `docker history` shows it.
fn megabytes(bytes: i64) -> String {
    let mb = bytes as f64 / 1e6;
    if mb >= 100.0 {
        format!("{mb:.0} MB")
    } else if mb >= 0.1 {
        format!("{mb:.1} MB")
    } else {
        format!("{:.0} kB", bytes as f64 / 1e3)
    }
}

/// `text` cut to `width` characters, with an ellipsis when it was longer.
fn cut(text: &str, width: usize) -> String {
    match text.char_indices().nth(width) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
