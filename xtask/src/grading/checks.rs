//! The lab's criteria, and a few beyond it, as data: one type per criterion,
//! each judging the shared [`Evidence`] and naming the plain `docker`
//! command a student can run to see the same thing.

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
    /// Part of the lab's verdict (the others are reported beside it).
    pub lab: bool,
    pub status: Status,
    /// The measured value, short.
    pub value: String,
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

/// A verdict, its short value and its explanation.
struct Judged(Status, String, String);

fn pass(value: impl Into<String>, detail: impl Into<String>) -> Judged {
    Judged(Status::Pass, value.into(), detail.into())
}

fn fail(value: impl Into<String>, detail: impl Into<String>) -> Judged {
    Judged(Status::Fail, value.into(), detail.into())
}

fn judge_if(ok: bool, value: impl Into<String>, detail: impl Into<String>) -> Judged {
    Judged(
        if ok { Status::Pass } else { Status::Fail },
        value.into(),
        detail.into(),
    )
}

fn not_applicable(detail: &str) -> Judged {
    Judged(Status::NotApplicable, "n/a".into(), detail.into())
}

/// One criterion.
trait Check {
    fn id(&self) -> &'static str;
    fn criterion(&self) -> &'static str;
    fn lab(&self) -> bool {
        true
    }
    fn command(&self, evidence: &Evidence) -> String;
    fn judge(&self, evidence: &Evidence) -> Judged;
}

/// Every check, lab criteria first, in the order of the lab's text.
fn all() -> Vec<Box<dyn Check>> {
    vec![
        Box::new(MultiStage),
        Box::new(Size),
        Box::new(Healthcheck),
        Box::new(NonRoot),
        Box::new(Sigterm),
        Box::new(ReadOnly),
        Box::new(EnvConfig),
        Box::new(Labels),
        Box::new(Proof),
        Box::new(Health),
        Box::new(NoShell),
        Box::new(Hardened),
        Box::new(NoSecret),
        Box::new(PinnedBase),
        Box::new(DockerIgnore),
        Box::new(ImageName),
    ]
}

/// The ids of every check, in report order.
pub fn ids() -> Vec<&'static str> {
    all().iter().map(|check| check.id()).collect()
}

/// Judges the evidence against every check.
pub fn grade(evidence: &Evidence) -> Vec<Outcome> {
    all()
        .iter()
        .map(|check| {
            let Judged(status, value, detail) = check.judge(evidence);
            Outcome {
                id: check.id(),
                criterion: check.criterion(),
                lab: check.lab(),
                status,
                value,
                detail,
                command: check.command(evidence),
            }
        })
        .collect()
}

fn image(evidence: &Evidence) -> &str {
    &evidence.subject.image
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
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

/// `FROM image [AS name]` lines: (image, stage name), with `${ARG}` replaced
/// by the default of an `ARG` declared before the first `FROM`.
fn stages(dockerfile: &str) -> Vec<(String, Option<String>)> {
    let mut defaults = Vec::new();
    let mut stages = Vec::new();
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
                stages.push((base, name));
            }
            _ => {}
        }
    }
    stages
}

struct MultiStage;
impl Check for MultiStage {
    fn id(&self) -> &'static str {
        "multi-stage"
    }
    fn criterion(&self) -> &'static str {
        "one multi-stage Dockerfile"
    }
    fn command(&self, evidence: &Evidence) -> String {
        let path = evidence
            .dockerfile
            .as_ref()
            .map_or("Dockerfile".into(), |d| d.path.display().to_string());
        format!("grep -inE '^FROM ' {path}")
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let Some(dockerfile) = &evidence.dockerfile else {
            return not_applicable("no Dockerfile given (--dockerfile PATH)");
        };
        let stages = stages(&dockerfile.text);
        let Some((final_base, _)) = stages.last() else {
            return fail("0 FROM", "the Dockerfile has no FROM");
        };
        // The final stage must not be (or continue) the first, build stage.
        let first = &stages[0];
        let continues_build = first.1.as_deref() == Some(final_base.to_ascii_lowercase().as_str());
        let ok = stages.len() >= 2 && !continues_build && *final_base != first.0;
        judge_if(
            ok,
            format!("{} FROM, final: {final_base}", stages.len()),
            if ok {
                "the final stage starts from a fresh base"
            } else {
                "needs a build stage and a different final stage"
            },
        )
    }
}

struct Size;
impl Check for Size {
    fn id(&self) -> &'static str {
        "size"
    }
    fn criterion(&self) -> &'static str {
        "image < 150 MB"
    }
    fn command(&self, evidence: &Evidence) -> String {
        format!(
            "docker image inspect --format '{{{{.Size}}}}' {}",
            image(evidence)
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let bytes = evidence.inspect["Size"].as_u64().unwrap_or(u64::MAX);
        judge_if(
            bytes < SIZE_LIMIT_BYTES,
            megabytes(bytes),
            format!("{bytes} bytes; the limit is {SIZE_LIMIT_BYTES}"),
        )
    }
}

struct Healthcheck;
impl Check for Healthcheck {
    fn id(&self) -> &'static str {
        "healthcheck"
    }
    fn criterion(&self) -> &'static str {
        "HEALTHCHECK present and working"
    }
    fn command(&self, _: &Evidence) -> String {
        "docker inspect --format '{{json .State.Health}}' CONTAINER".into()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let test = evidence.inspect["Config"]["Healthcheck"]["Test"].to_string();
        match &evidence.healthy {
            Ok(after) => pass(
                format!("healthy after {:.1} s", after.as_secs_f64()),
                format!("HEALTHCHECK {test}"),
            ),
            Err(why) => fail("not healthy", why.clone()),
        }
    }
}

fn is_root_user(user: &str) -> bool {
    let name = user.split(':').next().unwrap_or_default();
    name.is_empty() || name == "root" || name == "0"
}

struct NonRoot;
impl Check for NonRoot {
    fn id(&self) -> &'static str {
        "non-root"
    }
    fn criterion(&self) -> &'static str {
        "runs as a non-root user"
    }
    fn command(&self, evidence: &Evidence) -> String {
        format!(
            "docker image inspect --format '{{{{.Config.User}}}}' {}; docker top CONTAINER -eo pid,uid,args",
            image(evidence)
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let user = evidence.inspect["Config"]["User"]
            .as_str()
            .unwrap_or_default();
        let value = format!("USER {:?}", user);
        if is_root_user(user) {
            return fail(value, "the image's USER is unset or root");
        }
        match &evidence.uids {
            Ok(uids) if !uids.is_empty() && !uids.contains(&0) => pass(
                format!("{value}, UID {uids:?}"),
                "every process runs with a non-zero UID",
            ),
            Ok(uids) => fail(
                format!("{value}, UID {uids:?}"),
                "a process runs as UID 0, or none was seen",
            ),
            Err(why) => fail(value, why.clone()),
        }
    }
}

struct Sigterm;
impl Check for Sigterm {
    fn id(&self) -> &'static str {
        "sigterm"
    }
    fn criterion(&self) -> &'static str {
        "stops correctly on SIGTERM"
    }
    fn command(&self, _: &Evidence) -> String {
        "time docker stop CONTAINER; docker inspect --format '{{.State.ExitCode}}' CONTAINER".into()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        match &evidence.stopped {
            Ok(stopped) => {
                let value = format!(
                    "exit {} after {:.2} s",
                    stopped.exit_code,
                    stopped.elapsed.as_secs_f64()
                );
                let by_itself =
                    matches!(stopped.exit_code, 0 | 143) && stopped.elapsed < KILL_AFTER;
                judge_if(
                    by_itself,
                    value,
                    if by_itself {
                        "the process exited by itself before the kill"
                    } else {
                        "the process did not exit on SIGTERM and was killed (137), or failed"
                    },
                )
            }
            Err(why) => fail("not stopped", why.clone()),
        }
    }
}

fn answered(observed: &Observed) -> Result<&str, &str> {
    observed
        .first_answer
        .as_ref()
        .map(|(_, answer)| answer.body.as_str())
        .map_err(String::as_str)
}

struct ReadOnly;
impl Check for ReadOnly {
    fn id(&self) -> &'static str {
        "read-only"
    }
    fn criterion(&self) -> &'static str {
        "runs with --read-only"
    }
    fn command(&self, evidence: &Evidence) -> String {
        evidence.lab.command.clone()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        match &evidence.lab.first_answer {
            Ok((after, _)) => pass(
                format!("answered after {:.2} s", after.as_secs_f64()),
                "stayed up on a read-only root and answered GET /",
            ),
            Err(why) => fail("no answer", why.clone()),
        }
    }
}

struct EnvConfig;
impl Check for EnvConfig {
    fn id(&self) -> &'static str {
        "env-config"
    }
    fn criterion(&self) -> &'static str {
        "ROCKET_SIZE changes / without rebuild"
    }
    fn command(&self, evidence: &Evidence) -> String {
        format!(
            "docker run -d -e ROCKET_SIZE=Big -p 127.0.0.1:8080:8000 {}; curl -s 127.0.0.1:8080/",
            image(evidence)
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let runs = [&evidence.lab, &evidence.second];
        let mut seen = Vec::new();
        for (observed, size) in runs.iter().zip(&evidence.rocket_sizes) {
            match answered(observed) {
                Ok(body) if body.contains(&format!("Rocket={size}")) => {
                    seen.push(format!("Rocket={size}"))
                }
                Ok(body) => {
                    return fail(
                        "ignored",
                        format!("ROCKET_SIZE={size} but / answered {:?}", body.trim()),
                    );
                }
                Err(why) => return fail("no answer", why.to_owned()),
            }
        }
        pass(
            "2 of 2 runs",
            format!("same image, two values: {}", seen.join(", ")),
        )
    }
}

struct Labels;
impl Check for Labels {
    fn id(&self) -> &'static str {
        "labels"
    }
    fn criterion(&self) -> &'static str {
        "LABEL org.lab.login / org.lab.token equal the seed"
    }
    fn command(&self, evidence: &Evidence) -> String {
        format!(
            "docker image inspect --format '{{{{json .Config.Labels}}}}' {}",
            image(evidence)
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let labels = &evidence.inspect["Config"]["Labels"];
        let seed = &evidence.subject.seed;
        let login = labels["org.lab.login"].as_str().unwrap_or("<missing>");
        let token = labels["org.lab.token"].as_str().unwrap_or("<missing>");
        let value = format!("login={login} token={token}");
        match (login == seed.login, token == seed.token) {
            (true, true) => pass(value, "both labels match the seed"),
            (false, _) => fail(value, format!("org.lab.login should be {:?}", seed.login)),
            (_, false) => fail(value, format!("org.lab.token should be {:?}", seed.token)),
        }
    }
}

fn json_field(body: &str, field: &str) -> Option<Value> {
    serde_json::from_str::<Value>(body)
        .ok()?
        .get(field)
        .cloned()
}

struct Proof;
impl Check for Proof {
    fn id(&self) -> &'static str {
        "proof"
    }
    fn criterion(&self) -> &'static str {
        "/proof = HMAC-SHA256(SECRET, \"login:token\")"
    }
    fn command(&self, evidence: &Evidence) -> String {
        let seed = &evidence.subject.seed;
        format!(
            "curl -s 127.0.0.1:8080/proof; printf '%s' '{}:{}' | openssl dgst -sha256 -hmac \"$SECRET\"",
            seed.login, seed.token
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
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
            Err(why) => fail("no answer", why.clone()),
        }
    }
}

struct Health;
impl Check for Health {
    fn id(&self) -> &'static str {
        "health"
    }
    fn criterion(&self) -> &'static str {
        "GET /health answers 200 with \"status\":\"ok\""
    }
    fn command(&self, _: &Evidence) -> String {
        "curl -si 127.0.0.1:8080/health".into()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
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
            Err(why) => fail("no answer", why.clone()),
        }
    }
}

struct NoShell;
impl Check for NoShell {
    fn id(&self) -> &'static str {
        "no-shell"
    }
    fn criterion(&self) -> &'static str {
        "no shell in the image"
    }
    fn lab(&self) -> bool {
        false
    }
    fn command(&self, _: &Evidence) -> String {
        "docker exec CONTAINER sh -c true".into()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        match evidence.has_shell {
            Ok(false) => pass("no sh", "an attacker inside gets no shell"),
            Ok(true) => fail("sh present", "`sh` runs inside the container"),
            Err(ref why) => fail("unknown", why.clone()),
        }
    }
}

struct Hardened;
impl Check for Hardened {
    fn id(&self) -> &'static str {
        "hardened"
    }
    fn criterion(&self) -> &'static str {
        "runs with --cap-drop ALL --security-opt no-new-privileges"
    }
    fn lab(&self) -> bool {
        false
    }
    fn command(&self, evidence: &Evidence) -> String {
        evidence.hardened.command.clone()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        match (&evidence.hardened.first_answer, &evidence.hardened.health) {
            (Ok(_), Ok(health)) if health.status == 200 => pass("answers", "no capability needed"),
            (Err(why), _) | (_, Err(why)) => fail("no answer", why.clone()),
            (_, Ok(health)) => fail(format!("HTTP {}", health.status), "GET /health failed"),
        }
    }
}

struct NoSecret;
impl Check for NoSecret {
    fn id(&self) -> &'static str {
        "no-secret"
    }
    fn criterion(&self) -> &'static str {
        "no SECRET in the image's env or history"
    }
    fn lab(&self) -> bool {
        false
    }
    fn command(&self, evidence: &Evidence) -> String {
        format!(
            "docker image inspect --format '{{{{json .Config.Env}}}}' {0}; docker history --no-trunc {0} | grep SECRET",
            image(evidence)
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let in_env = evidence.inspect["Config"]["Env"]
            .as_array()
            .is_some_and(|env| {
                env.iter()
                    .any(|v| v.as_str().is_some_and(|v| v.starts_with("SECRET=")))
            });
        let in_history = evidence.history.iter().any(|line| line.contains("SECRET="));
        match (in_env, in_history) {
            (false, false) => pass("none", "SECRET is given only at run time"),
            (true, _) => fail("in env", "the image sets SECRET in its environment"),
            (_, true) => fail(
                "in history",
                "a layer was built with SECRET= (build arg or ENV)",
            ),
        }
    }
}

struct PinnedBase;
impl Check for PinnedBase {
    fn id(&self) -> &'static str {
        "pinned-base"
    }
    fn criterion(&self) -> &'static str {
        "base images pinned to a version"
    }
    fn lab(&self) -> bool {
        false
    }
    fn command(&self, evidence: &Evidence) -> String {
        MultiStage.command(evidence)
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let Some(dockerfile) = &evidence.dockerfile else {
            return not_applicable("no Dockerfile given (--dockerfile PATH)");
        };
        let stages = stages(&dockerfile.text);
        let names: Vec<_> = stages.iter().filter_map(|(_, name)| name.clone()).collect();
        let bases: Vec<&String> = stages
            .iter()
            .map(|(base, _)| base)
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
}

struct DockerIgnore;
impl Check for DockerIgnore {
    fn id(&self) -> &'static str {
        "dockerignore"
    }
    fn criterion(&self) -> &'static str {
        ".dockerignore present"
    }
    fn lab(&self) -> bool {
        false
    }
    fn command(&self, _: &Evidence) -> String {
        "cat .dockerignore".into()
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        match &evidence.dockerfile {
            None => not_applicable("no Dockerfile given (--dockerfile PATH)"),
            Some(dockerfile) => judge_if(
                dockerfile.has_dockerignore,
                if dockerfile.has_dockerignore {
                    "present"
                } else {
                    "missing"
                },
                "keeps target/, .git and secrets out of the build context",
            ),
        }
    }
}

struct ImageName;
impl Check for ImageName {
    fn id(&self) -> &'static str {
        "image-name"
    }
    fn criterion(&self) -> &'static str {
        "image named <login>/image-lab:<prefix>"
    }
    fn lab(&self) -> bool {
        false
    }
    fn command(&self, evidence: &Evidence) -> String {
        format!(
            "docker image inspect --format '{{{{json .RepoTags}}}}' {}",
            image(evidence)
        )
    }
    fn judge(&self, evidence: &Evidence) -> Judged {
        let wanted = evidence.subject.seed.image_name();
        let tags: Vec<&str> = evidence.inspect["RepoTags"]
            .as_array()
            .map(|tags| tags.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let ok = evidence.subject.image == wanted || tags.contains(&wanted.as_str());
        judge_if(ok, tags.join(", "), format!("expected the tag {wanted}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_resolve_arg_defaults_and_names() {
        let dockerfile = "ARG RUST_IMAGE=rust:1.95.0-slim\n# c\nFROM ${RUST_IMAGE} AS build\nRUN x \\\n  y\nFROM scratch\n";
        assert_eq!(
            stages(dockerfile),
            vec![
                ("rust:1.95.0-slim".to_owned(), Some("build".to_owned())),
                ("scratch".to_owned(), None)
            ]
        );
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
