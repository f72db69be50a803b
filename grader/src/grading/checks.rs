//! The lab's criteria, and a few beyond it, as a table: each row judges the
//! shared [`Evidence`] by behaviour and names the plain `docker` command a
//! student can run to see the same thing.

use serde_json::Value;

use toolkit::container::top_shown;

use super::evidence::{Evidence, KILL_AFTER, Observed, SHELL_PROBE, STOP, Standing};
use super::formats::{Lang, WITHOUT_READ_ONLY};

/// The lab's size limit (Docker counts MB as 10^6 bytes).
pub const SIZE_LIMIT_BYTES: u64 = 150_000_000;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail,
    /// The evidence it needs does not exist (say, no Dockerfile was given).
    NotApplicable,
}

/// A short value: an English message (the Russian catalogue's key) with
/// `{}` for its figures and names, which no language changes.
#[derive(Debug)]
pub struct Words {
    message: &'static str,
    figures: Vec<String>,
}

macro_rules! words {
    ($message:literal $(, $figure:expr)*) => {
        Words { message: $message, figures: vec![$($figure.to_string()),*] }
    };
}

impl Words {
    pub fn text(&self, lang: Lang) -> String {
        lang.say(self.message, &self.figures)
    }

    pub fn en(&self) -> String {
        self.text(Lang::En)
    }
}

/// A value with no words to translate (names, codes, lists of images).
impl From<String> for Words {
    fn from(value: String) -> Self {
        words!("{}", value)
    }
}

/// What a check found.
#[derive(Debug)]
pub struct Outcome {
    pub check: &'static Check,
    pub status: Status,
    /// The measured value, short.
    pub value: Words,
    /// Why it passed or failed.
    pub detail: String,
    /// The `docker` command that shows it.
    pub command: String,
}

/// A verdict, its short value and its explanation.
struct Judged(Status, Words, String);

fn judge_if(ok: bool, value: impl Into<Words>, detail: impl Into<String>) -> Judged {
    let status = if ok { Status::Pass } else { Status::Fail };
    Judged(status, value.into(), detail.into())
}

fn pass(value: impl Into<Words>, detail: impl Into<String>) -> Judged {
    judge_if(true, value, detail)
}

fn fail(value: impl Into<Words>, detail: impl Into<String>) -> Judged {
    judge_if(false, value, detail)
}

/// What a check of the Dockerfile finds without one.
fn no_dockerfile() -> Judged {
    let why = "no Dockerfile given (--dockerfile PATH)";
    Judged(Status::NotApplicable, words!("n/a"), why.into())
}

fn no_answer(why: &str) -> Judged {
    fail(words!("no answer"), why)
}

/// One criterion: plain data and a function of the evidence.
#[derive(Debug)]
pub struct Check {
    pub id: &'static str,
    /// In English; the Russian is in the catalogue.
    pub criterion: &'static str,
    /// Part of the lab's verdict (the others are reported beside it).
    pub lab: bool,
    /// Judged on the lab's containers (which ran without `--read-only` when
    /// the image does not survive it: the detail then says so).
    runtime: bool,
    judge: fn(&Evidence) -> Judged,
    /// The `docker` command that shows it, with `<image>`, `<dockerfile>`,
    /// `<port>`, `<login>`, `<token>` filled in from the evidence, and the
    /// commands of the calls the evidence was gathered with (`<read-only
    /// run>`, `<lab run>`, `<hardened run>`, `<stop>`, `<top>`, `<shell
    /// probe>`) rendered from the very descriptions those calls were made from.
    command: &'static str,
}

const GREP_FROM: &str = "grep -inE '^(FROM|COPY --from)' <dockerfile>";

/// Every check, lab criteria first, in the order of the lab's text.
pub const CHECKS: &[Check] = &[
    Check {
        id: "multi-stage",
        criterion: "one multi-stage Dockerfile",
        lab: true,
        runtime: false,
        judge: multi_stage,
        command: GREP_FROM,
    },
    Check {
        id: "size",
        criterion: "image < 150 MB",
        lab: true,
        runtime: false,
        judge: size,
        command: "docker image inspect --format '{{.Size}}' <image>",
    },
    Check {
        id: "healthcheck",
        criterion: "HEALTHCHECK present and working",
        lab: true,
        runtime: true,
        judge: healthcheck,
        command: "docker inspect --format '{{json .State.Health}}' CONTAINER",
    },
    Check {
        id: "non-root",
        criterion: "runs as a non-root user",
        lab: true,
        runtime: true,
        judge: non_root,
        command: "docker image inspect --format '{{.Config.User}}' <image>; <top>",
    },
    Check {
        id: "sigterm",
        criterion: "stops correctly on SIGTERM",
        lab: true,
        runtime: true,
        judge: sigterm,
        command: "time <stop>; docker inspect --format '{{.State.ExitCode}}' CONTAINER",
    },
    Check {
        id: "read-only",
        criterion: "runs with --read-only",
        lab: true,
        runtime: false,
        judge: read_only,
        command: "<read-only run>",
    },
    Check {
        id: "env-config",
        criterion: "ROCKET_SIZE changes / without rebuild",
        lab: true,
        runtime: true,
        judge: env_config,
        command: "<lab run>; curl -s 127.0.0.1:<port>/",
    },
    Check {
        id: "labels",
        criterion: "LABEL org.lab.login / org.lab.token equal the seed",
        lab: true,
        runtime: false,
        judge: labels,
        command: "docker image inspect --format '{{json .Config.Labels}}' <image>",
    },
    Check {
        id: "proof",
        criterion: "/proof = HMAC-SHA256(SECRET, \"login:token\")",
        lab: true,
        runtime: true,
        judge: proof,
        command: "curl -s 127.0.0.1:<port>/proof; printf '%s' '<login>:<token>' | openssl dgst -sha256 -hmac \"$SECRET\"",
    },
    Check {
        id: "health",
        criterion: "GET /health answers 200 with \"status\":\"ok\"",
        lab: true,
        runtime: true,
        judge: health,
        command: "curl -si 127.0.0.1:<port>/health",
    },
    Check {
        id: "no-shell",
        criterion: "no shell in the image",
        lab: false,
        runtime: true,
        judge: no_shell,
        command: "<shell probe>",
    },
    Check {
        id: "hardened",
        criterion: "runs with --cap-drop ALL --security-opt no-new-privileges",
        lab: false,
        runtime: true,
        judge: hardened,
        command: "<hardened run>",
    },
    Check {
        id: "no-secret",
        criterion: "no SECRET in the image's env or history",
        lab: false,
        runtime: false,
        judge: no_secret,
        command: "docker image inspect --format '{{json .Config.Env}}' <image>; docker history --no-trunc <image> | grep SECRET",
    },
    Check {
        id: "pinned-base",
        criterion: "base images pinned to a version",
        lab: false,
        runtime: false,
        judge: pinned_base,
        command: GREP_FROM,
    },
    Check {
        id: "dockerignore",
        criterion: ".dockerignore present",
        lab: false,
        runtime: false,
        judge: dockerignore,
        command: "cat .dockerignore",
    },
    Check {
        id: "image-name",
        criterion: "image named <login>/image-lab:<prefix>",
        lab: false,
        runtime: false,
        judge: image_name,
        command: "docker image inspect --format '{{json .RepoTags}}' <image>",
    },
];

/// Judges the evidence against every check.
pub fn grade(evidence: &Evidence) -> Vec<Outcome> {
    let seed = &evidence.subject.seed;
    let dockerfile = evidence
        .dockerfile
        .as_ref()
        .map_or("Dockerfile".into(), |d| d.path.display().to_string());
    let filled = [
        ("<image>", evidence.subject.image.as_str()),
        ("<dockerfile>", &dockerfile),
        ("<port>", &evidence.port.number.to_string()),
        ("<login>", &seed.login),
        ("<token>", &seed.token),
        ("<read-only run>", &evidence.read_only.command),
        ("<lab run>", &evidence.lab.command),
        ("<hardened run>", &evidence.hardened.command),
        ("<stop>", &STOP.shown("CONTAINER")),
        ("<top>", &top_shown("CONTAINER")),
        ("<shell probe>", &SHELL_PROBE.shown("CONTAINER")),
    ];
    // The others were judged without --read-only because this one failed.
    let without_read_only = !evidence.judged_read_only && read_only(evidence).0 == Status::Fail;
    CHECKS
        .iter()
        .map(|check| {
            let Judged(status, value, mut detail) = (check.judge)(evidence);
            if check.runtime && without_read_only {
                detail = format!("{detail} ({WITHOUT_READ_ONLY})");
            }
            let command = filled
                .iter()
                .fold(check.command.to_owned(), |c, (name, value)| {
                    c.replace(name, value)
                });
            Outcome {
                check,
                status,
                value,
                detail,
                command,
            }
        })
        .collect()
}

/// The instructions of a Dockerfile: comments and blank lines dropped,
/// continuation lines joined.
fn instructions(dockerfile: &str) -> Vec<String> {
    let mut all = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines().map(str::trim) {
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => current.push_str(head),
            None => {
                current.push_str(line);
                all.push(std::mem::take(&mut current));
            }
        }
    }
    all
}

/// One `FROM` stage of a Dockerfile.
#[derive(Debug, PartialEq, Eq)]
struct Stage {
    /// The base image (`${ARG}` resolved from the defaults before the first `FROM`).
    base: String,
    /// The `AS` name, lowercased.
    name: Option<String>,
    /// The sources of its `COPY --from=` instructions, lowercased.
    copies_from: Vec<String>,
}

impl Stage {
    /// How a later stage refers to this one: its name, else its index.
    fn label(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| index.to_string())
    }
}

/// The image the last stage of `dockerfile` starts from (its `ARG`
/// defaults resolved): the base of what a build ships.
pub fn final_base(dockerfile: &str) -> Option<String> {
    stages(dockerfile).pop().map(|stage| stage.base)
}

fn stages(dockerfile: &str) -> Vec<Stage> {
    let mut defaults = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for instruction in instructions(dockerfile) {
        let words: Vec<&str> = instruction.split_whitespace().collect();
        match words.first().map(|w| w.to_ascii_uppercase()).as_deref() {
            Some("ARG") if stages.is_empty() => {
                if let Some((name, value)) = words.get(1).and_then(|w| w.split_once('=')) {
                    defaults.push((name.to_owned(), value.trim_matches('"').to_owned()));
                }
            }
            Some("FROM") => {
                let operands: Vec<&str> = words[1..]
                    .iter()
                    .copied()
                    .filter(|w| !w.starts_with("--"))
                    .collect();
                let Some(base) = operands.first() else {
                    continue;
                };
                let base = defaults
                    .iter()
                    .fold(base.to_string(), |base, (name, value)| {
                        base.replace(&format!("${{{name}}}"), value)
                            .replace(&format!("${name}"), value)
                    });
                let name = match operands.get(1..3) {
                    Some([r#as, name]) if r#as.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    _ => None,
                };
                stages.push(Stage {
                    base,
                    name,
                    copies_from: Vec::new(),
                });
            }
            Some("COPY") => {
                let from = words[1..]
                    .iter()
                    .take_while(|w| w.starts_with("--"))
                    .find_map(|w| w.strip_prefix("--from="));
                if let (Some(stage), Some(from)) = (stages.last_mut(), from) {
                    stage.copies_from.push(from.to_ascii_lowercase());
                }
            }
            _ => {}
        }
    }
    stages
}

/// Multi-stage means: two or more stages, the final one starting from a base
/// image of its own (not `FROM <earlier stage>`), and taking files from an
/// earlier stage with `COPY --from=`. Whether the bases differ is irrelevant.
fn multi_stage(evidence: &Evidence) -> Judged {
    match &evidence.dockerfile {
        Some(dockerfile) => judge_stages(&dockerfile.text),
        None => no_dockerfile(),
    }
}

fn judge_stages(dockerfile: &str) -> Judged {
    let stages = stages(dockerfile);
    let Some((last, earlier)) = stages.split_last() else {
        return fail(words!("0 FROM"), "the Dockerfile has no FROM");
    };
    let labels: Vec<String> = earlier
        .iter()
        .enumerate()
        .map(|(i, s)| s.label(i))
        .collect();
    let from_stages: Vec<&str> = last
        .copies_from
        .iter()
        .filter(|from| labels.contains(from))
        .map(String::as_str)
        .collect();
    let before: String = earlier
        .iter()
        .zip(&labels)
        .map(|(stage, label)| format!("{label}: {} -> ", stage.base))
        .collect();
    let copies = match from_stages.is_empty() {
        true => String::new(),
        false => format!(", COPY --from={}", from_stages.join(",")),
    };
    let value = words!("{}final: {}{}", before, last.base, copies);
    if earlier.is_empty() {
        return fail(value, "one stage: the image ships whatever built it");
    }
    if labels.contains(&last.base.to_ascii_lowercase()) {
        return fail(
            value,
            format!(
                "the final stage continues the earlier stage {:?} instead of starting from a base image of its own",
                last.base
            ),
        );
    }
    judge_if(
        !from_stages.is_empty(),
        value,
        if from_stages.is_empty() {
            "the final stage takes nothing from an earlier stage (no COPY --from=<stage>)"
        } else {
            "the final stage starts from a base of its own and copies what it needs from an earlier stage"
        },
    )
}

fn size(evidence: &Evidence) -> Judged {
    let bytes = evidence.image.size;
    judge_if(
        bytes < SIZE_LIMIT_BYTES,
        words!("{} MB", format!("{:.1}", bytes as f64 / 1e6)),
        format!("{bytes} bytes; the limit is {SIZE_LIMIT_BYTES}"),
    )
}

fn healthcheck(evidence: &Evidence) -> Judged {
    match (&evidence.healthy, evidence.image.healthcheck()) {
        (Ok(after), Some(check)) => pass(
            words!("healthy after {} s", format!("{:.1}", after.as_secs_f64())),
            format!("HEALTHCHECK {}", check.command()),
        ),
        (Ok(_), None) => fail(words!("not healthy"), "the image has no HEALTHCHECK"),
        (Err(why), _) => fail(words!("not healthy"), why),
    }
}

fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    name.is_empty() || name == "root" || name == "0"
}

fn non_root(evidence: &Evidence) -> Judged {
    let user = evidence.image.config.user.as_str();
    let value = format!("USER {:?}", user);
    if is_root_user(user) {
        return fail(value, "the image's USER is unset or root");
    }
    let uids = evidence
        .processes
        .as_ref()
        .map(|processes| processes.iter().map(|p| p.uid).collect::<Vec<_>>());
    match &uids {
        Ok(uids) if !uids.is_empty() && !uids.contains(&0) => pass(
            format!("{value}, UID {uids:?}"),
            "every process runs with a non-zero UID",
        ),
        Ok(uids) => fail(
            format!("{value}, UID {uids:?}"),
            "a process runs as UID 0, or none was seen",
        ),
        // Nothing ran to look at (the container died): the image's USER decides.
        Err(why) => pass(value, format!("the image's USER is not root; {why}")),
    }
}

fn sigterm(evidence: &Evidence) -> Judged {
    let stopped = match &evidence.stopped {
        Ok(stopped) => stopped,
        Err(why) => return fail(words!("not stopped"), why),
    };
    let code = stopped.exit_code;
    let elapsed = format!("{:.2}", stopped.elapsed.as_secs_f64());
    let value = words!("exit {} after {} s", code, elapsed);
    if matches!(code, 0 | 143) && stopped.elapsed < KILL_AFTER {
        return pass(value, "the process exited by itself before the kill");
    }
    let pid1 = evidence
        .processes
        .as_ref()
        .ok()
        .and_then(|processes| processes.first())
        .map_or("?", |p| p.command.as_str());
    let shell = ["/bin/sh -c ", "sh -c ", "/bin/bash -c ", "bash -c "]
        .iter()
        .any(|prefix| pid1.starts_with(prefix));
    fail(
        value,
        if shell {
            format!(
                "PID 1 is a shell ({pid1:?}), which does not pass SIGTERM on: the app was killed. \
                 Use the exec form, CMD [\"...\"], or `exec` in the shell form"
            )
        } else if code == 137 {
            format!(
                "PID 1 ({pid1:?}) did not exit on SIGTERM within {} s and was killed (137): \
                 it needs a SIGTERM handler (a process without one ignores SIGTERM as PID 1)",
                KILL_AFTER.as_secs()
            )
        } else {
            format!("PID 1 ({pid1:?}) failed on SIGTERM")
        },
    )
}

fn answered(observed: &Observed) -> Result<&str, &str> {
    observed
        .first_answer
        .as_ref()
        .map(|(_, answer)| answer.body.as_str())
        .map_err(String::as_str)
}

fn read_only(evidence: &Evidence) -> Judged {
    match (&evidence.read_only.first_answer, &evidence.lab.first_answer) {
        (Ok((after, _)), _) => pass(
            words!("answered after {} s", format!("{:.2}", after.as_secs_f64())),
            "stayed up on a read-only root and answered GET /",
        ),
        (Err(why), Ok(_)) => no_answer(&format!(
            "{why}; without --read-only it answers, so it writes to its root filesystem"
        )),
        // Neither answers: the read-only root is to blame only where the
        // run on it did worse than the run without.
        (Err(why), Err(_)) => {
            let (with, without) = (&evidence.read_only.standing, &evidence.lab.standing);
            if !with.running && without.running {
                fail(
                    words!("exits"),
                    format!(
                        "{why}; without --read-only it keeps running, so it writes to its root filesystem"
                    ),
                )
            } else if !with.healthy() && without.healthy() {
                let health = with.health.as_deref().unwrap_or("none");
                fail(
                    words!("never healthy"),
                    format!(
                        "with --read-only it never turned healthy (health: {health}); without, it did, \
                         so it writes to its root filesystem"
                    ),
                )
            } else {
                pass(
                    words!("as without"),
                    format!(
                        "did no worse with --read-only than without: {}; neither answered, for another \
                         reason (see the notes). With --read-only: {why}",
                        shown_standing(with)
                    ),
                )
            }
        }
    }
}

/// A container's standing, in words.
fn shown_standing(standing: &Standing) -> String {
    match (standing.running, standing.health.as_deref()) {
        (false, _) => "exited".to_owned(),
        (true, None) => "running".to_owned(),
        (true, Some(health)) => format!("running, {health}"),
    }
}

/// One run suffices: its `ROCKET_SIZE` is a random word, so an image shows
/// it on `/` only by reading it from the run's environment.
fn env_config(evidence: &Evidence) -> Judged {
    let size = &evidence.rocket_size;
    match answered(&evidence.lab) {
        Ok(body) if body.contains(&format!("Rocket={size}")) => pass(
            words!("as given"),
            format!("ROCKET_SIZE={size}, a random value, and / answered Rocket={size}"),
        ),
        Ok(body) => fail(
            words!("ignored"),
            format!("ROCKET_SIZE={size} but / answered {:?}", body.trim()),
        ),
        Err(why) => no_answer(why),
    }
}

fn labels(evidence: &Evidence) -> Judged {
    let seed = &evidence.subject.seed;
    let login = evidence.image.label("org.lab.login").unwrap_or("<missing>");
    let token = evidence.image.label("org.lab.token").unwrap_or("<missing>");
    let value = format!("login={login} token={token}");
    match (login == seed.login, token == seed.token) {
        (true, true) => pass(value, "both labels match the seed"),
        (false, _) => fail(value, format!("org.lab.login should be {:?}", seed.login)),
        (_, false) => fail(value, format!("org.lab.token should be {:?}", seed.token)),
    }
}

fn json_field(body: &str, field: &str) -> Option<Value> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get(field)
        .cloned()
}

fn proof(evidence: &Evidence) -> Judged {
    let expected = evidence.subject.seed.proof(&evidence.secret);
    let answer = match &evidence.lab.proof {
        Ok(answer) => answer,
        Err(why) => return no_answer(why),
    };
    let proof = json_field(&answer.body, "proof");
    let value = format!("HTTP {}", answer.status);
    if answer.status == 200 && proof.as_ref().and_then(Value::as_str) == Some(expected.as_str()) {
        return pass(
            value,
            "matches the HMAC computed from the seed and a random SECRET",
        );
    }
    fail(
        value,
        format!("expected proof {expected}, got {:?}", answer.body.trim()),
    )
}

fn health(evidence: &Evidence) -> Judged {
    match &evidence.lab.health {
        Ok(answer) => judge_if(
            answer.status == 200 && json_field(&answer.body, "status") == Some(Value::from("ok")),
            format!("HTTP {}", answer.status),
            answer.body.trim(),
        ),
        Err(why) => no_answer(why),
    }
}

fn no_shell(evidence: &Evidence) -> Judged {
    match &evidence.has_shell {
        Ok(false) => pass(words!("no sh"), "an attacker inside gets no shell"),
        Ok(true) => fail(words!("sh present"), "`sh` runs inside the container"),
        Err(why) => fail(words!("unknown"), why),
    }
}

fn hardened(evidence: &Evidence) -> Judged {
    match (&evidence.hardened.first_answer, &evidence.hardened.health) {
        (Ok(_), Ok(health)) if health.status == 200 => {
            pass(words!("answers"), "no capability needed")
        }
        (Err(why), _) | (_, Err(why)) => no_answer(why),
        (_, Ok(health)) => fail(format!("HTTP {}", health.status), "GET /health failed"),
    }
}

fn no_secret(evidence: &Evidence) -> Judged {
    let env = &evidence.image.config.env;
    let in_env = env.iter().any(|variable| variable.starts_with("SECRET="));
    let in_history = (evidence.history.iter()).any(|layer| layer.created_by.contains("SECRET="));
    match (in_env, in_history) {
        (false, false) => pass(words!("none"), "SECRET is given only at run time"),
        (true, _) => fail(words!("in env"), "the image sets SECRET in its environment"),
        (_, true) => fail(
            words!("in history"),
            "a layer was built with SECRET= (build arg or ENV)",
        ),
    }
}

fn pinned_base(evidence: &Evidence) -> Judged {
    let Some(dockerfile) = &evidence.dockerfile else {
        return no_dockerfile();
    };
    let stages = stages(&dockerfile.text);
    let names: Vec<_> = stages.iter().filter_map(|s| s.name.clone()).collect();
    let bases: Vec<&str> = stages
        .iter()
        .map(|s| s.base.as_str())
        .filter(|base| *base != "scratch" && !names.contains(&base.to_ascii_lowercase()))
        .collect();
    let unpinned: Vec<_> = bases
        .iter()
        .filter(|base| {
            let name = base.rsplit('/').next().unwrap_or(base);
            let tag = name.split_once(':').map(|(_, tag)| tag);
            !base.contains('@') && matches!(tag, None | Some("latest"))
        })
        .collect();
    if unpinned.is_empty() {
        return pass(bases.join(", "), "every base names a version");
    }
    fail(bases.join(", "), format!("unpinned: {unpinned:?}"))
}

fn dockerignore(evidence: &Evidence) -> Judged {
    let why = "keeps target/, .git and secrets out of the build context";
    match &evidence.dockerfile {
        None => no_dockerfile(),
        Some(dockerfile) if dockerfile.has_dockerignore => pass(words!("present"), why),
        Some(_) => fail(words!("missing"), why),
    }
}

fn image_name(evidence: &Evidence) -> Judged {
    let wanted = evidence.subject.seed.image_name();
    let tags = &evidence.image.repo_tags;
    let ok = evidence.subject.image == wanted || tags.contains(&wanted);
    judge_if(ok, tags.join(", "), format!("expected the tag {wanted}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_resolve_arg_defaults_and_names() {
        let dockerfile = "ARG RUST_IMAGE=rust:1.95.0-slim\n# c\nFROM ${RUST_IMAGE} AS build\nRUN x \\\n  y\nFROM scratch\n";
        let stages = stages(dockerfile);
        let bases: Vec<_> = stages
            .iter()
            .map(|s| (s.base.as_str(), s.name.as_deref()))
            .collect();
        assert_eq!(
            bases,
            [("rust:1.95.0-slim", Some("build")), ("scratch", None)]
        );
        assert_eq!(final_base(dockerfile).as_deref(), Some("scratch"));
    }

    fn multi_stage_verdict(dockerfile: &str) -> (Status, String) {
        let Judged(status, value, _) = judge_stages(dockerfile);
        (status, value.en())
    }

    #[test]
    fn multi_stage_is_judged_by_its_meaning_not_its_spelling() {
        // The commonest Python pattern: the same base twice, the venv copied across.
        assert_eq!(
            multi_stage_verdict(
                "FROM python:3.11-slim AS deps\nRUN python -m venv /venv\n\
                 FROM python:3.11-slim\nCOPY --from=deps /venv /venv\n"
            ),
            (
                Status::Pass,
                "deps: python:3.11-slim -> final: python:3.11-slim, COPY --from=deps".into()
            )
        );
        // Stages referred to by index, instructions in any case, flags before --from.
        assert_eq!(
            multi_stage_verdict(
                "from golang:1.22\nrun go build\nfrom scratch\ncopy --chown=1:1 --from=0 /app /\n"
            )
            .0,
            Status::Pass
        );
        let repository =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Dockerfile")).unwrap();
        assert_eq!(
            multi_stage_verdict(&repository),
            (
                Status::Pass,
                "build: rust:1.95.0-slim-bookworm -> final: scratch, COPY --from=build".into()
            )
        );
        for (one_stage_or_not_fresh, why) in [
            ("FROM python:3.11-slim\nCOPY . .\n", "one stage"),
            (
                "FROM python:3.11 AS build\nRUN make\nFROM build AS final\nCOPY --from=build /a /b\n",
                "continues an earlier stage",
            ),
            (
                "FROM python:3.11 AS build\nRUN make\nFROM python:3.11-slim\nCOPY . .\n",
                "takes nothing from the build stage",
            ),
            (
                "FROM python:3.11 AS build\nFROM python:3.11-slim\nCOPY --from=nginx:1.27 /etc/nginx /etc/nginx\n",
                "copies from an image, not a stage",
            ),
        ] {
            assert_eq!(
                multi_stage_verdict(one_stage_or_not_fresh).0,
                Status::Fail,
                "{why}"
            );
        }
    }

    #[test]
    fn root_users() {
        for user in ["", "root", "0", "0:0", "root:root"] {
            assert!(is_root_user(user), "{user}");
        }
        for user in ["10001:10001", "app", "65534"] {
            assert!(!is_root_user(user), "{user}");
        }
    }
}
