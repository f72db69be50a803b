//! One way to run a program, so that the line printed is derived from the
//! very arguments run (a shell could take it back as it is). Hand-written
//! rather than xshell or duct: those print nothing, or print their own way,
//! and this is the one thing the tooling needs of them.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Result, anyhow, bail};

use crate::cleanup::{Guard, Resource};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Print every command before running it (`--verbose`).
pub fn set_verbose(verbose: bool) {
    VERBOSE.store(verbose, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// The last `count` lines of `text`, for error messages.
pub fn last_lines(text: &str, count: usize) -> String {
    let lines: Vec<_> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}

/// `word` as a shell reads it back: bare when plain, else single-quoted. A
/// `$NAME` stays bare for the shell to expand: it is how a shown command
/// says "put yours here" (`PORT=$PORT`).
fn shell_word(word: &str) -> String {
    let placeholder = |rest: &str| rest.starts_with(|c: char| c.is_ascii_uppercase());
    let plain = !word.is_empty()
        && word.char_indices().all(|(at, c)| {
            c.is_ascii_alphanumeric()
                || "-_./:=,@%+".contains(c)
                || (c == '$' && placeholder(&word[at + 1..]))
        });
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A program, its arguments and environment: what runs, and what is shown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cmd {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    dir: Option<PathBuf>,
}

impl Cmd {
    pub fn new(program: impl AsRef<OsStr>) -> Self {
        let program = program.as_ref().to_owned();
        Cmd {
            program,
            ..Cmd::default()
        }
    }

    pub fn arg(self, arg: impl AsRef<OsStr>) -> Self {
        self.args([arg])
    }

    pub fn args<S: AsRef<OsStr>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// `flag value` for each value (none, one or many).
    pub fn opt<V: AsRef<OsStr>>(mut self, flag: &str, values: impl IntoIterator<Item = V>) -> Self {
        for value in values {
            self = self.arg(flag).arg(value);
        }
        self
    }

    /// A variable for the program; shown `NAME=value`, masked when its name
    /// says it is a secret.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn dir(mut self, dir: &Path) -> Self {
        self.dir = Some(dir.to_owned());
        self
    }

    /// The command line: `NAME=value program arg 'an arg'`.
    pub fn shown(&self) -> String {
        let variables = self.env.iter().map(|(name, value)| {
            let value = if name.contains("SECRET") {
                "***"
            } else {
                value
            };
            format!("{name}={}", shell_word(value))
        });
        // A program given by an absolute path (`$CARGO`, `$DOCKER`) is shown
        // by its name, as found on PATH; a relative one as it is.
        let path = Path::new(&self.program);
        let program = match path.file_name() {
            Some(name) if path.is_absolute() => name,
            _ => &self.program,
        };
        let words = std::iter::once(program.to_string_lossy().into_owned())
            .chain(self.args.iter().map(|a| shell_word(&a.to_string_lossy())));
        variables.chain(words).collect::<Vec<_>>().join(" ")
    }

    /// Prints `$ COMMAND` when verbose.
    pub fn announce(&self) {
        if verbose() {
            self.show();
        }
    }

    pub fn show(&self) {
        eprintln!("$ {}", self.shown());
    }

    /// The std command, input closed.
    pub fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.args).envs(self.env.iter().cloned());
        command.stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        command
    }

    /// Starts it in a process group of its own, stdout discarded and stderr
    /// piped; the guard kills the group (whatever it started too) when
    /// dropped or on Ctrl-C. `missing` says what to install when the program
    /// is not there.
    pub fn spawn_group(&self, missing: &str) -> Result<(Child, Guard)> {
        let program = self.program.to_string_lossy();
        let child = self
            .command()
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(crate::launch_error(&program, missing))?;
        let pid = i32::try_from(child.id()).map_err(|_| anyhow!("pid out of range"))?;
        Ok((child, Guard::register(Resource::ProcessGroup(pid))))
    }

    /// Runs it (announced); its output, whatever its exit status.
    pub fn output(&self) -> std::io::Result<Output> {
        self.announce();
        self.command().output()
    }

    /// Runs it; its trimmed stdout, or an error quoting the end of its stderr.
    pub fn run(&self) -> Result<String> {
        let out = self.output();
        self.stdout_of(out.map_err(|e| anyhow!("cannot run `{}`: {e}", self.shown()))?)
    }

    /// What it printed when it succeeded (`out` is its output), else an
    /// error quoting the end of its stderr.
    pub fn stdout_of(&self, out: Output) -> Result<String> {
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            bail!("`{}` failed: {}", self.shown(), last_lines(&stderr, 3));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// [`Cmd::output`], but killed once `timeout` has passed: for programs
    /// whose duration something untrusted decides. Its output is read after
    /// it exits, so one that prints more than a pipe holds is cut off by the
    /// timeout like a hung one.
    pub fn output_within(&self, timeout: Duration) -> std::io::Result<Option<Output>> {
        self.announce();
        let mut command = self.command();
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        if crate::wait_for(timeout, || child.try_wait().ok().flatten()).is_none() {
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        child.wait_with_output().map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shows_what_runs_as_a_shell_would_read_it() {
        let cmd = Cmd::new("/usr/bin/docker")
            .args(["run", "--env", "A=b c", "it's"])
            .env("SECRET", "s3")
            .env("ROCKET_SIZE", "Big");
        assert_eq!(
            cmd.shown(),
            "SECRET='***' ROCKET_SIZE=Big docker run --env 'A=b c' 'it'\\''s'"
        );
        assert_eq!(shell_word("PORT=$PORT"), "PORT=$PORT");
        assert_eq!(shell_word("a$1"), "'a$1'");
    }
}
