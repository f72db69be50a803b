//! The harness the end-to-end test binaries share (each is `harness =
//! false`, with libtest's output and filters through libtest-mimic): fail
//! without an engine, saying how to start one; remove what a run created on
//! Ctrl-C; build the binary's fixture (images, a graded class ...) once, and
//! only when a trial will run; then one trial per check of that fixture.

use std::process::ExitCode;
use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

/// A check of a fixture `F` that is a plain function.
pub type CheckFn<F> = fn(&F) -> Result<(), Failed>;

/// One check of a fixture `F`.
pub type Check<F> = Box<dyn Fn(&F) -> Result<(), Failed> + Send + Sync>;

/// A named check.
pub fn check<F: 'static>(
    name: impl Into<String>,
    check: impl Fn(&F) -> Result<(), Failed> + Send + Sync + 'static,
) -> (String, Check<F>) {
    (name.into(), Box::new(check))
}

/// Named checks from a table of plain functions.
pub fn table<F: 'static>(checks: &[(&str, CheckFn<F>)]) -> Vec<(String, Check<F>)> {
    checks
        .iter()
        .map(|&(name, check)| self::check(name, check))
        .collect()
}

/// `Err(message)` unless `condition`.
pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Result<(), Failed> {
    if condition {
        Ok(())
    } else {
        Err(message().into())
    }
}

/// Runs `checks` against the fixture `build` makes; what the trials did,
/// and the fixture for what the binary checks after them (that nothing is
/// left behind, say). `what` says what the fixture is, for its errors.
pub fn run<F: Send + Sync + 'static>(
    args: &Arguments,
    what: &str,
    build: impl FnOnce() -> anyhow::Result<F>,
    checks: Vec<(String, Check<F>)>,
) -> (ExitCode, Option<F>) {
    if let Err(error) = crate::engine::ensure_engine() {
        eprintln!("these tests build and run {what} on a real Docker engine: {error:#}");
        return (ExitCode::FAILURE, None);
    }
    crate::cleanup::remove_on_interrupt();
    // `--list`, or a filter matching no trial, builds nothing.
    let wanted = !args.list
        && checks.iter().any(|(name, _)| {
            args.filter.as_ref().is_none_or(|filter| {
                if args.exact {
                    name == filter
                } else {
                    name.contains(filter.as_str())
                }
            })
        });
    let fixture: Arc<Result<F, String>> = Arc::new(if wanted {
        build().map_err(|e| format!("{what} could not be made: {e:#}"))
    } else {
        Err("not made".into())
    });
    let trials = checks
        .into_iter()
        .map(|(name, check)| {
            let fixture = Arc::clone(&fixture);
            Trial::test(name, move || match fixture.as_ref() {
                Ok(fixture) => check(fixture),
                Err(why) => Err(why.clone().into()),
            })
        })
        .collect();
    let conclusion = libtest_mimic::run(args, trials);
    let Ok(fixture) = Arc::try_unwrap(fixture) else {
        unreachable!("every trial has ended");
    };
    (conclusion.exit_code(), fixture.ok())
}
