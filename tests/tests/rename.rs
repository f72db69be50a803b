//! `cargo xtask rename` on a copy of this repository: a bad name or an
//! edited tree touches nothing; a good name renames every place the command
//! owns, and the renamed tree builds, passes the service's tests, keeps its
//! lock files exact and renders its Kubernetes objects under the new name.
//!
//! Needs cargo and kubectl; no Docker engine. The copy's builds go to
//! target/rename-test (kept: the next run recompiles only the service).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use xtask::cleanup::{Guard, Resource};
use xtask::rename::{PLACES, current_names, rename, texts};

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// The repository's files as git sees them (committed or not, never
/// ignored ones), copied into a fresh directory removed at the end.
fn copy_of_repository() -> (PathBuf, Guard) {
    let root = repository();
    let copy = std::env::temp_dir().join(xtask::unique_name("rename-test"));
    let guard = Guard::register(Resource::TempDir(copy.clone()));
    let listed = run(Command::new("git")
        .args([
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
        ])
        .current_dir(&root));
    for path in listed.split('\0').filter(|p| !p.is_empty()) {
        let (from, to) = (root.join(path), copy.join(path));
        if from.is_file() {
            std::fs::create_dir_all(to.parent().expect("a file has a folder")).unwrap();
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {path}: {e}"));
        }
    }
    (copy, guard)
}

/// Runs a command to success; its stdout.
fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(
        out.status.success(),
        "{command:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every file of the tree and its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn cargo(copy: &Path, args: &[&str]) -> String {
    run(Command::new(env!("CARGO"))
        .args(args)
        .current_dir(copy)
        .env("CARGO_TARGET_DIR", repository().join("target/rename-test")))
}

#[test]
fn rename_refuses_bad_names_and_edited_trees_then_renames_a_tree_that_builds() {
    let (copy, _removed_at_the_end) = copy_of_repository();
    let (project, package) = current_names(&copy).expect("the tree's names");
    // The template's names, or a fork's: either way, a name it does not have yet.
    let new = if project == "orders-api" {
        "renamed-api"
    } else {
        "orders-api"
    };
    let before = snapshot(&copy);

    for bad in ["Orders", "9lives", "orders_api", "-api", "fn", "xtask", ""] {
        let error = rename(&copy, bad).expect_err(bad).to_string();
        assert!(!error.contains('\n'), "one line: {error}");
        assert!(
            error.contains("not a valid name") || error.contains("reserved"),
            "{error}"
        );
    }
    assert!(snapshot(&copy) == before, "a bad name changed files");

    // A tree edited where the command expects a name: refused, untouched.
    let namespace = copy.join("deploy/k8s/namespace.yaml");
    let original = std::fs::read_to_string(&namespace).unwrap();
    std::fs::write(&namespace, original.replace(&project, "edited")).unwrap();
    let edited = snapshot(&copy);
    let error = rename(&copy, new).expect_err("an edited tree").to_string();
    assert!(
        error.starts_with("deploy/k8s/namespace.yaml no longer holds"),
        "{error}"
    );
    assert!(snapshot(&copy) == edited, "a refused rename changed files");
    std::fs::write(&namespace, original).unwrap();

    let changes = rename(&copy, new).expect("rename");
    assert!(changes.len() >= PLACES.len(), "{changes:#?}");
    assert_eq!(
        changes.last(),
        Some(&format!("renamed {project} (package {package}) to {new}"))
    );
    for &(path, place) in PLACES {
        let [old, renamed] = texts(place, [&project, &package], new);
        let text = std::fs::read_to_string(copy.join(path)).unwrap();
        assert!(!text.contains(&old), "{path} still holds {old:?}");
        assert!(text.contains(&renamed), "{path}: {renamed:?}");
    }
    assert_eq!(
        current_names(&copy).unwrap(),
        (new.to_owned(), new.to_owned())
    );
    for lock in ["Cargo.lock", "xtask/Cargo.lock"] {
        let text = std::fs::read_to_string(copy.join(lock)).unwrap();
        assert!(text.contains(&format!("name = \"{new}\"")), "{lock}");
        assert!(!text.contains(&format!("name = \"{package}\"")), "{lock}");
    }

    // The tree builds from its lock files as they are (the image builds with --locked too).
    cargo(&copy, &["build", "--locked"]);
    let binary = repository().join("target/rename-test/debug").join(new);
    let version = run(Command::new(&binary).arg("--version"));
    assert_eq!(version.trim(), format!("{new} 0.1.0"));
    cargo(&copy, &["test", "--locked"]);
    let tooling = [
        "metadata",
        "--locked",
        "--format-version",
        "1",
        "--manifest-path",
        "xtask/Cargo.toml",
    ];
    cargo(&copy, &tooling);

    let rendered = run(Command::new("kubectl")
        .arg("kustomize")
        .arg(copy.join("deploy/k8s")));
    assert!(!rendered.contains(&project), "{rendered}");
    for renamed in [
        format!("  name: {new}\n"),
        format!("  namespace: {new}\n"),
        format!("name: {new}-secret\n"),
        format!("image: local/{new}:dev\n"),
    ] {
        assert!(rendered.contains(&renamed), "{renamed:?} in\n{rendered}");
    }
}
