//! `cargo xtask rename` on a copy of this repository: a bad name or an
//! edited tree touches nothing; a good name renames every place the command
//! owns, and the renamed tree, with the README's "add a route" example added
//! as a forker would, builds, passes the service's tests (the example's
//! included), keeps its lock files exact and renders its Kubernetes objects
//! under the new name.
//!
//! Needs cargo and kubectl; no Docker engine. The copy's builds go to
//! target/repository-copies (kept: the next run recompiles only the service).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e::{copy_of_repository, repository, run};
use xtask::rename::{PLACES, current_names, rename, texts};

/// The README's "Add a route." example added to `tree` as its text says:
/// the module `service/src/orders.rs`, declared in lib.rs, mounted in
/// `routes::configure`, and its test `service/tests/orders.rs`.
fn add_the_readme_route(tree: &Path) {
    let readme = std::fs::read_to_string(tree.join("README.md")).unwrap();
    let (_, example) = readme
        .split_once("Add a route.")
        .expect("the README's route example");
    let blocks: Vec<&str> = (example.split("```rust\n").skip(1).take(3))
        .map(|block| block.split_once("```").expect("a closed code block").0)
        .collect();
    let [module, mount, test] = blocks[..] else {
        panic!("the example is three Rust blocks: {blocks:#?}")
    };
    let edit = |file: &str, edit: &dyn Fn(String) -> String| {
        let path = tree.join(file);
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        std::fs::write(&path, edit(text)).unwrap();
    };
    edit("service/src/orders.rs", &|_| module.to_owned());
    edit("service/tests/orders.rs", &|_| test.to_owned());
    edit("service/src/lib.rs", &|text| text + "pub mod orders;\n");
    let last_route = "        .default_service(web::to(not_found));";
    edit("service/src/routes.rs", &|text| {
        assert!(text.contains(last_route), "routes::configure changed");
        text.replacen(last_route, &format!("{mount}{last_route}"), 1)
    });
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
    add_the_readme_route(&copy);
    let cargo = |args: &[&str]| e2e::cargo(&copy, "repository-copies", args);
    cargo(&["build", "--locked"]);
    let binary = repository()
        .join("target/repository-copies/debug")
        .join(new);
    let version = run(Command::new(&binary).arg("--version"));
    assert_eq!(version.trim(), format!("{new} 0.1.0"));
    cargo(&["test", "--locked"]);
    let tooling = [
        "metadata",
        "--locked",
        "--format-version",
        "1",
        "--manifest-path",
        "xtask/Cargo.toml",
    ];
    cargo(&tooling);

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
