//! The lab's criteria, and a few beyond it, as a table: each row judges the
//! shared [`Evidence`] by behaviour and names the plain `docker` command a
//! student can run to see the same thing.

use serde::Serialize;
use serde_json::Value;

use super::evidence::{Evidence, KILL_AFTER, Observed};

/// The lab's size limit (Docker counts MB as 10^6 bytes).
pub const SIZE_LIMIT_BYTES: u64 = 150_000_000;

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Pass,
    Fail,
    /// The evidence it needs does not exist (say, no Dockerfile was given).
    NotApplicable,
}

/// What a check found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub id: &'static str,
    pub criterion: &'static str,
    /// The criterion in Russian, the course's language.
    pub criterion_ru: &'static str,
    /// Part of the lab's verdict (the others are reported beside it).
    pub lab: bool,
    pub status: Status,
    /// The measured value, short.
    pub value: String,
    /// The same value in Russian (units and words; the figures are the same).
    pub value_ru: String,
    /// Why it passed or failed.
    pub detail: String,
    /// The `docker` command that shows it.
    pub command: String,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
}

/// A short value in both of the report's languages.
pub struct Words {
    en: String,
    ru: String,
}

/// The same words in English and Russian.
fn en_ru(en: impl Into<String>, ru: impl Into<String>) -> Words {
    Words {
        en: en.into(),
        ru: ru.into(),
    }
}

/// A value with no words to translate (names, codes, lists of images).
impl From<String> for Words {
    fn from(value: String) -> Self {
        en_ru(value.clone(), value)
    }
}

impl From<&str> for Words {
    fn from(value: &str) -> Self {
        value.to_owned().into()
    }
}

/// A verdict, its short value and its explanation.
struct Judged(Status, Words, String);

fn pass(value: impl Into<Words>, detail: impl Into<String>) -> Judged {
    Judged(Status::Pass, value.into(), detail.into())
}

fn fail(value: impl Into<Words>, detail: impl Into<String>) -> Judged {
    Judged(Status::Fail, value.into(), detail.into())
}

fn judge_if(ok: bool, value: impl Into<Words>, detail: impl Into<String>) -> Judged {
    Judged(
        if ok { Status::Pass } else { Status::Fail },
        value.into(),
        detail.into(),
    )
}

fn not_applicable(detail: &str) -> Judged {
    Judged(Status::NotApplicable, en_ru("n/a", "н/п"), detail.into())
}

fn no_answer() -> Words {
    en_ru("no answer", "нет ответа")
}

fn seconds(what_en: &str, what_ru: &str, duration: std::time::Duration, places: usize) -> Words {
    let figure = format!("{:.places$}", duration.as_secs_f64());
    en_ru(
        format!("{what_en} {figure} s"),
        format!("{what_ru} {figure} с"),
    )
}

/// One criterion: plain data and two functions of the evidence.
pub struct Check {
    pub id: &'static str,
    pub criterion: &'static str,
    pub criterion_ru: &'static str,
    /// Part of the lab's verdict (the others are reported beside it).
    pub lab: bool,
    /// Judged on the lab's containers (which ran without `--read-only` when
    /// the image does not survive it: the detail then says so).
    runtime: bool,
    judge: fn(&Evidence) -> Judged,
    /// The `docker` command that shows it.
    command: fn(&Evidence) -> String,
}

/// Every check, lab criteria first, in the order of the lab's text.
pub const CHECKS: &[Check] = &[
    Check {
        id: "multi-stage",
        criterion: "one multi-stage Dockerfile",
        criterion_ru: "один multi-stage Dockerfile",
        lab: true,
        runtime: false,
        judge: multi_stage,
        command: grep_from,
    },
    Check {
        id: "size",
        criterion: "image < 150 MB",
        criterion_ru: "образ < 150 МБ",
        lab: true,
        runtime: false,
        judge: size,
        command: |e| inspect_format("{{.Size}}", e),
    },
    Check {
        id: "healthcheck",
        criterion: "HEALTHCHECK present and working",
        criterion_ru: "HEALTHCHECK есть и работает",
        lab: true,
        runtime: true,
        judge: healthcheck,
        command: |_| "docker inspect --format '{{json .State.Health}}' CONTAINER".into(),
    },
    Check {
        id: "non-root",
        criterion: "runs as a non-root user",
        criterion_ru: "запуск не от root",
        lab: true,
        runtime: true,
        judge: non_root,
        command: |e| {
            inspect_format("{{.Config.User}}", e) + "; docker top CONTAINER -eo pid,uid,args"
        },
    },
    Check {
        id: "sigterm",
        criterion: "stops correctly on SIGTERM",
        criterion_ru: "корректная остановка по SIGTERM",
        lab: true,
        runtime: true,
        judge: sigterm,
        command: |_| {
            "time docker stop CONTAINER; docker inspect --format '{{.State.ExitCode}}' CONTAINER"
                .into()
        },
    },
    Check {
        id: "read-only",
        criterion: "runs with --read-only",
        criterion_ru: "работает с --read-only",
        lab: true,
        runtime: false,
        judge: read_only,
        command: |e| e.read_only.command.clone(),
    },
    Check {
        id: "env-config",
        criterion: "ROCKET_SIZE changes / without rebuild",
        criterion_ru: "ROCKET_SIZE меняет / без пересборки",
        lab: true,
        runtime: true,
        judge: env_config,
        command: |e| {
            format!(
                "docker run -d -e ROCKET_SIZE=Big -p 127.0.0.1:8080:{} {}; curl -s 127.0.0.1:8080/",
                e.port.number, e.subject.image
            )
        },
    },
    Check {
        id: "labels",
        criterion: "LABEL org.lab.login / org.lab.token equal the seed",
        criterion_ru: "LABEL org.lab.login / org.lab.token совпадают с seed",
        lab: true,
        runtime: false,
        judge: labels,
        command: |e| inspect_format("{{json .Config.Labels}}", e),
    },
    Check {
        id: "proof",
        criterion: "/proof = HMAC-SHA256(SECRET, \"login:token\")",
        criterion_ru: "/proof = HMAC-SHA256(SECRET, \"login:token\")",
        lab: true,
        runtime: true,
        judge: proof,
        command: |e| {
            let seed = &e.subject.seed;
            format!(
                "curl -s 127.0.0.1:8080/proof; printf '%s' '{}:{}' | openssl dgst -sha256 -hmac \"$SECRET\"",
                seed.login, seed.token
            )
        },
    },
    Check {
        id: "health",
        criterion: "GET /health answers 200 with \"status\":\"ok\"",
        criterion_ru: "GET /health отвечает 200 с \"status\":\"ok\"",
        lab: true,
        runtime: true,
        judge: health,
        command: |_| "curl -si 127.0.0.1:8080/health".into(),
    },
    Check {
        id: "no-shell",
        criterion: "no shell in the image",
        criterion_ru: "в образе нет shell",
        lab: false,
        runtime: true,
        judge: no_shell,
        command: |_| "docker exec CONTAINER sh -c true".into(),
    },
    Check {
        id: "hardened",
        criterion: "runs with --cap-drop ALL --security-opt no-new-privileges",
        criterion_ru: "работает с --cap-drop ALL --security-opt no-new-privileges",
        lab: false,
        runtime: true,
        judge: hardened,
        command: |e| e.hardened.command.clone(),
    },
    Check {
        id: "no-secret",
        criterion: "no SECRET in the image's env or history",
        criterion_ru: "SECRET нет ни в env, ни в history образа",
        lab: false,
        runtime: false,
        judge: no_secret,
        command: |e| {
            inspect_format("{{json .Config.Env}}", e)
                + &format!(
                    "; docker history --no-trunc {} | grep SECRET",
                    e.subject.image
                )
        },
    },
    Check {
        id: "pinned-base",
        criterion: "base images pinned to a version",
        criterion_ru: "базовые образы с закреплённой версией",
        lab: false,
        runtime: false,
        judge: pinned_base,
        command: grep_from,
    },
    Check {
        id: "dockerignore",
        criterion: ".dockerignore present",
        criterion_ru: "есть .dockerignore",
        lab: false,
        runtime: false,
        judge: dockerignore,
        command: |_| "cat .dockerignore".into(),
    },
    Check {
        id: "image-name",
        criterion: "image named <login>/image-lab:<prefix>",
        criterion_ru: "образ назван <login>/image-lab:<prefix>",
        lab: false,
        runtime: false,
        judge: image_name,
        command: |e| inspect_format("{{json .RepoTags}}", e),
    },
];

/// The ids of every check, in report order.
pub fn ids() -> Vec<&'static str> {
    CHECKS.iter().map(|check| check.id).collect()
}

/// What a runtime criterion's detail says when the image did not survive `--read-only`.
pub const WITHOUT_READ_ONLY: &str =
    "judged on a run without --read-only, which this image does not survive";

/// Judges the evidence against every check.
pub fn grade(evidence: &Evidence) -> Vec<Outcome> {
    CHECKS
        .iter()
        .map(|check| {
            let Judged(status, Words { en, ru }, mut detail) = (check.judge)(evidence);
            if check.runtime && !evidence.judged_read_only {
                detail = format!("{detail} ({WITHOUT_READ_ONLY})");
            }
            Outcome {
                id: check.id,
                criterion: check.criterion,
                criterion_ru: check.criterion_ru,
                lab: check.lab,
                status,
                value: en,
                value_ru: ru,
                detail,
                command: (check.command)(evidence),
            }
        })
        .collect()
}

/// `docker image inspect --format 'FORMAT' IMAGE`.
fn inspect_format(format: &str, evidence: &Evidence) -> String {
    format!(
        "docker image inspect --format '{format}' {}",
        evidence.subject.image
    )
}

fn grep_from(evidence: &Evidence) -> String {
    let path = evidence
        .dockerfile
        .as_ref()
        .map_or("Dockerfile".into(), |d| d.path.display().to_string());
    format!("grep -inE '^(FROM|COPY --from)' {path}")
}

pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

/// [`megabytes`] in Russian.
pub fn megabytes_ru(bytes: u64) -> String {
    format!("{:.1} МБ", bytes as f64 / 1e6)
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
        None => not_applicable("no Dockerfile given (--dockerfile PATH)"),
    }
}

fn judge_stages(dockerfile: &str) -> Judged {
    let stages = stages(dockerfile);
    let Some((last, earlier)) = stages.split_last() else {
        return fail("0 FROM", "the Dockerfile has no FROM");
    };
    let labels: Vec<String> = earlier
        .iter()
        .enumerate()
        .map(|(i, s)| s.label(i))
        .collect();
    let from_stages: Vec<&String> = last
        .copies_from
        .iter()
        .filter(|from| labels.contains(from))
        .collect();
    let described = |final_word: &str| {
        let mut value: Vec<String> = earlier
            .iter()
            .zip(&labels)
            .map(|(stage, label)| format!("{label}: {}", stage.base))
            .collect();
        value.push(format!("{final_word}: {}", last.base));
        let mut value = value.join(" -> ");
        if !from_stages.is_empty() {
            let sources: Vec<&str> = from_stages.iter().map(|s| s.as_str()).collect();
            value += &format!(", COPY --from={}", sources.join(","));
        }
        value
    };
    let value = || en_ru(described("final"), described("финальная"));
    if earlier.is_empty() {
        return fail(value(), "one stage: the image ships whatever built it");
    }
    if labels.contains(&last.base.to_ascii_lowercase()) {
        return fail(
            value(),
            format!(
                "the final stage continues the earlier stage {:?} instead of starting from a base image of its own",
                last.base
            ),
        );
    }
    judge_if(
        !from_stages.is_empty(),
        value(),
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
        en_ru(megabytes(bytes), megabytes_ru(bytes)),
        format!("{bytes} bytes; the limit is {SIZE_LIMIT_BYTES}"),
    )
}

fn healthcheck(evidence: &Evidence) -> Judged {
    match (&evidence.healthy, evidence.image.healthcheck()) {
        (Ok(after), Some(check)) => pass(
            seconds("healthy after", "healthy через", *after, 1),
            format!("HEALTHCHECK {}", check.command()),
        ),
        (Ok(_), None) => fail(
            en_ru("not healthy", "не healthy"),
            "the image has no HEALTHCHECK",
        ),
        (Err(why), _) => fail(en_ru("not healthy", "не healthy"), why.clone()),
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
        Err(why) => return fail(en_ru("not stopped", "не остановлен"), why.clone()),
    };
    let value = || {
        seconds(
            &format!("exit {} after", stopped.exit_code),
            &format!("код выхода {} через", stopped.exit_code),
            stopped.elapsed,
            2,
        )
    };
    if matches!(stopped.exit_code, 0 | 143) && stopped.elapsed < KILL_AFTER {
        return pass(value(), "the process exited by itself before the kill");
    }
    let pid1 = evidence
        .processes
        .as_ref()
        .ok()
        .and_then(|processes| processes.first())
        .map(|p| p.command.as_str())
        .unwrap_or("?");
    let shell = ["/bin/sh -c ", "sh -c ", "/bin/bash -c ", "bash -c "]
        .iter()
        .any(|prefix| pid1.starts_with(prefix));
    fail(
        value(),
        if shell {
            format!(
                "PID 1 is a shell ({pid1:?}), which does not pass SIGTERM on: the app was killed. \
                 Use the exec form, CMD [\"...\"], or `exec` in the shell form"
            )
        } else if stopped.exit_code == 137 {
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
            seconds("answered after", "ответил через", *after, 2),
            "stayed up on a read-only root and answered GET /",
        ),
        (Err(why), Ok(_)) => fail(
            no_answer(),
            format!("{why}; without --read-only it answers, so it writes to its root filesystem"),
        ),
        // The cause both runs share first (the port, say), then its own.
        (Err(why), Err(_)) => {
            let shared = evidence.unanswered.clone().unwrap_or_default();
            if *why == shared {
                fail(no_answer(), shared)
            } else {
                fail(no_answer(), format!("{shared}; with --read-only: {why}"))
            }
        }
    }
}

fn env_config(evidence: &Evidence) -> Judged {
    let runs = [&evidence.lab, &evidence.second];
    let mut seen = Vec::new();
    for (observed, size) in runs.iter().zip(&evidence.rocket_sizes) {
        match answered(observed) {
            Ok(body) if body.contains(&format!("Rocket={size}")) => {
                seen.push(format!("Rocket={size}"))
            }
            Ok(body) => {
                return fail(
                    en_ru("ignored", "не учитывается"),
                    format!("ROCKET_SIZE={size} but / answered {:?}", body.trim()),
                );
            }
            Err(why) => return fail(no_answer(), why.to_owned()),
        }
    }
    pass(
        en_ru("2 of 2 runs", "2 из 2 запусков"),
        format!("same image, two values: {}", seen.join(", ")),
    )
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
    match &evidence.lab.proof {
        Ok(answer) => {
            let proof = json_field(&answer.body, "proof");
            let ok = answer.status == 200
                && proof.as_ref().and_then(Value::as_str) == Some(expected.as_str());
            judge_if(
                ok,
                format!("HTTP {}", answer.status),
                if ok {
                    "matches the HMAC computed from the seed and a random SECRET".to_owned()
                } else {
                    format!("expected proof {expected}, got {:?}", answer.body.trim())
                },
            )
        }
        Err(why) => fail(no_answer(), why.clone()),
    }
}

fn health(evidence: &Evidence) -> Judged {
    match &evidence.lab.health {
        Ok(answer) => {
            let ok = answer.status == 200
                && json_field(&answer.body, "status") == Some(Value::from("ok"));
            judge_if(
                ok,
                format!("HTTP {}", answer.status),
                answer.body.trim().to_owned(),
            )
        }
        Err(why) => fail(no_answer(), why.clone()),
    }
}

fn no_shell(evidence: &Evidence) -> Judged {
    match evidence.has_shell {
        Ok(false) => pass(en_ru("no sh", "нет sh"), "an attacker inside gets no shell"),
        Ok(true) => fail(
            en_ru("sh present", "есть sh"),
            "`sh` runs inside the container",
        ),
        Err(ref why) => fail(en_ru("unknown", "неизвестно"), why.clone()),
    }
}

fn hardened(evidence: &Evidence) -> Judged {
    match (&evidence.hardened.first_answer, &evidence.hardened.health) {
        (Ok(_), Ok(health)) if health.status == 200 => {
            pass(en_ru("answers", "отвечает"), "no capability needed")
        }
        (Err(why), _) | (_, Err(why)) => fail(no_answer(), why.clone()),
        (_, Ok(health)) => fail(format!("HTTP {}", health.status), "GET /health failed"),
    }
}

fn no_secret(evidence: &Evidence) -> Judged {
    let in_env = evidence
        .image
        .config
        .env
        .iter()
        .any(|variable| variable.starts_with("SECRET="));
    let in_history = evidence.history.iter().any(|line| line.contains("SECRET="));
    match (in_env, in_history) {
        (false, false) => pass(en_ru("none", "нет"), "SECRET is given only at run time"),
        (true, _) => fail(
            en_ru("in env", "в env"),
            "the image sets SECRET in its environment",
        ),
        (_, true) => fail(
            en_ru("in history", "в history"),
            "a layer was built with SECRET= (build arg or ENV)",
        ),
    }
}

fn pinned_base(evidence: &Evidence) -> Judged {
    let Some(dockerfile) = &evidence.dockerfile else {
        return not_applicable("no Dockerfile given (--dockerfile PATH)");
    };
    let stages = stages(&dockerfile.text);
    let names: Vec<_> = stages.iter().filter_map(|s| s.name.clone()).collect();
    let bases: Vec<&String> = stages
        .iter()
        .map(|s| &s.base)
        .filter(|base| *base != "scratch" && !names.contains(&base.to_ascii_lowercase()))
        .collect();
    let unpinned: Vec<_> = bases
        .iter()
        .filter(|base| {
            let tag = base
                .rsplit('/')
                .next()
                .unwrap_or(base)
                .split_once(':')
                .map(|(_, tag)| tag);
            !base.contains('@') && matches!(tag, None | Some("latest"))
        })
        .collect();
    judge_if(
        unpinned.is_empty(),
        bases
            .iter()
            .map(|b| b.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        if unpinned.is_empty() {
            "every base names a version".to_owned()
        } else {
            format!("unpinned: {unpinned:?}")
        },
    )
}

fn dockerignore(evidence: &Evidence) -> Judged {
    match &evidence.dockerfile {
        None => not_applicable("no Dockerfile given (--dockerfile PATH)"),
        Some(dockerfile) => judge_if(
            dockerfile.has_dockerignore,
            if dockerfile.has_dockerignore {
                en_ru("present", "есть")
            } else {
                en_ru("missing", "нет")
            },
            "keeps target/, .git and secrets out of the build context",
        ),
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
    }

    fn multi_stage_verdict(dockerfile: &str) -> (Status, String) {
        let Judged(status, value, _) = judge_stages(dockerfile);
        (status, value.en)
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
        let repository = std::fs::read_to_string(crate::project_root().join("Dockerfile")).unwrap();
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
