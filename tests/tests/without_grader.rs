//! The grader is a product of its own that a fork may not want: in a copy of
//! this tree without it (grader/ deleted; its line in the tooling workspace,
//! its `cargo lesson` alias and its CI steps in .ci/run, ci.yml and
//! release.yml removed; nothing else), nothing left names it, and the service and the rest of the tooling
//! still build and pass their tests.
//!
//! Needs cargo and kubectl; no Docker engine. The tests that need one are
//! built, not run: what they run is the same code in this tree, and cargo
//! building every target without the grader proves none depends on it.
//! The copy's builds go to target/repository-copies, kept between runs.

use std::path::Path;

use e2e::{cargo, copy_of_repository};

/// `file` in `copy` without the lines from the one starting with `first` up
/// to (not including) the first one after it that `ends` accepts.
fn remove_lines(copy: &Path, file: &str, first: &str, ends: impl Fn(&str) -> bool) {
    let path = copy.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with(first))
        .unwrap_or_else(|| panic!("{file} has no line starting {first:?}"));
    let end = lines[start + 1..]
        .iter()
        .position(|line| ends(line))
        .map_or(lines.len(), |n| start + 1 + n);
    let kept: Vec<&str> = [&lines[..start], &lines[end..]].concat();
    std::fs::write(&path, kept.join("\n") + "\n").unwrap();
}

/// Every file under `dir` that no compiler checks, with its text: manifests,
/// scripts, workflows, Dockerfiles. Not Rust (the builds below check it),
/// lock files (cargo rewrites them) or Markdown (which may still mention
/// what a fork deleted).
fn sources(dir: &Path) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            found.extend(sources(&path));
        } else if ![".rs", ".lock", ".md"]
            .iter()
            .any(|end| name.ends_with(end))
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            found.push((path.display().to_string(), text));
        }
    }
    found
}

#[test]
fn without_the_grader_the_service_and_the_rest_of_the_tooling_build_and_pass() {
    let (copy, _removed_at_the_end) = copy_of_repository();
    std::fs::remove_dir_all(copy.join("grader")).unwrap();
    remove_lines(&copy, "xtask/Cargo.toml", "    \"../grader\",", |_| true);
    remove_lines(&copy, ".cargo/config.toml", "# `cargo lesson`", |line| {
        !line.starts_with('#') && !line.starts_with("lesson")
    });
    remove_lines(&copy, ".ci/run", "# The grader (grader/)", |line| {
        line.starts_with("section \"done\"")
    });
    remove_lines(
        &copy,
        ".github/workflows/ci.yml",
        "      # A fork that deletes grader/",
        |line| !line.starts_with("        ") && !line.starts_with("      - name: the grader"),
    );
    remove_lines(
        &copy,
        ".github/workflows/release.yml",
        "  # The grader, a product of its own",
        |line| {
            line.starts_with("  ")
                && !line.starts_with("   ")
                && !line.starts_with("  #")
                && !line.starts_with("  grader:")
        },
    );

    let named: Vec<String> = sources(&copy)
        .into_iter()
        .filter(|(_, text)| text.contains("image-lab-grader") || text.contains("grader/"))
        .map(|(path, _)| path)
        .collect();
    assert!(named.is_empty(), "still naming the grader: {named:#?}");

    let cargo = |args: &[&str]| cargo(&copy, "repository-copies", args);
    let tooling = ["--manifest-path", "xtask/Cargo.toml"];
    cargo(&["test", "--no-run"]);
    cargo(&[&["test", "--workspace", "--no-run"][..], &tooling].concat());
    cargo(&[&["test", "--workspace", "--lib", "--bins"][..], &tooling].concat());
    cargo(
        &[
            &["test", "--package", "e2e", "--test", "deploy"][..],
            &tooling,
        ]
        .concat(),
    );
}
