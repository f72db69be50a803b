//! `cargo xtask rename NEW_NAME`: a fork takes its own name.
//!
//! The template is the project `image-lab` with the package `service` (a
//! fork renamed once has its own names; it can be renamed again). Both
//! become NEW_NAME wherever they name the product: the package and its
//! binary, the image and the Compose project, the OCI title label, the
//! Kubernetes objects, the README's title and commands. What belongs to the
//! lab stays (the grader's `<login>/image-lab:<prefix>` rule, `/proof`, the
//! `org.lab.*` labels); README's "Start your own service from this" says how
//! to drop it. The library keeps the name `service` (service/Cargo.toml's
//! `[lib]`), so no `use service::...` changes.
//!
//! Every place is an exact text in a named file, checked before anything is
//! written: a tree edited there gets a one-line error and stays as it was.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::Path;

use anyhow::{Context, Result, bail};

use toolkit::command::Cmd;

/// Options of `cargo xtask rename`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The new name: lowercase letters, digits and hyphens, starting with a
    /// letter (a DNS label, also a valid package name), at most 40 characters.
    pub name: String,
}

/// The places the names are: a file and a text in it, where `{project}` and
/// `{package}` stand for the current names. The text it becomes is the same
/// with the new name in both (see [`texts`]): a row changes the names and
/// nothing around them.
pub const PLACES: &[(&str, &str)] = &[
    ("service/Cargo.toml", "[package]\nname = \"{package}\""),
    ("service/Cargo.toml", "[[bin]]\nname = \"{package}\""),
    ("service/tests/support/mod.rs", "CARGO_BIN_EXE_{package}"),
    ("tests/Cargo.toml", "package = \"{package}\" }"),
    ("Dockerfile", "-t alice/{project}:"),
    ("Dockerfile", "{project} service:/nonexistent"),
    ("Dockerfile", "id={project}-target"),
    ("Dockerfile", "-p {package} "),
    ("Dockerfile", "release/{package}\""),
    ("Dockerfile", "image.title=\"{project}\""),
    ("Dockerfile.naive", "-p {package}"),
    ("Dockerfile.naive", "target/release/{package}\""),
    ("compose.yml", "name: {project}"),
    ("compose.yml", "are {project}-service-1"),
    ("compose.yml", "/{project}:${LAB_PREFIX"),
    ("compose.yml", "local/{project}:dev"),
    (".env.example", "repository: <login>/{project}"),
    ("deploy/k8s/kustomization.yaml", "{project}"),
    ("deploy/k8s/namespace.yaml", "{project}"),
    ("deploy/k8s/deployment.yaml", "{project}"),
    ("deploy/k8s/service.yaml", "{project}"),
    ("deploy/k8s/poddisruptionbudget.yaml", "{project}"),
    ("deploy/k8s/networkpolicy.yaml", "{project}"),
    ("deploy/prometheus/alerts.yml", "{project}"),
    ("deploy/prometheus/alerts.test.yml", "{project}"),
    ("docs/deploy.md", "{project}"),
    (
        "tests/tests/image.rs",
        "(\"org.opencontainers.image.title\", \"{project}\")",
    ),
    ("tests/tests/image.rs", "/{project}:compose"),
    ("tests/tests/deploy.rs", "\"{project}-secret\""),
    ("tests/tests/deploy.rs", "local/{project}:dev"),
    ("README.md", "# {project}:"),
    ("README.md", "namespace {project}"),
    (
        "README.md",
        "-n {project} create secret generic {project}-secret",
    ),
    ("README.md", "local/{project}:dev"),
    ("README.md", "cargo run -p {package}"),
];

/// Names cargo refuses for a package (Rust keywords and the standard
/// crates), and the tooling's own packages and the library's name.
const RESERVED: &str = "abstract alloc as async await bare-actix become box break const continue core \
    crate do dyn e2e else enum extern false final fn for gen grader if image-lab-grader impl in let loop \
    macro match mod move mut override priv proc-macro pub ref return self service static std struct \
    super test toolkit trait true try type typeof unsafe unsized use virtual where while xtask yield";

pub fn run(args: &Args) -> Result<()> {
    for line in rename(&crate::project_root(), &args.name)? {
        println!("{line}");
    }
    println!(
        "next: cargo build, cargo xtask test, docker compose up --build \
         (README: Start your own service from this)"
    );
    Ok(())
}

/// The project's name (compose.yml's `name:`) and the package's.
pub fn current_names(root: &Path) -> Result<(String, String)> {
    let value_after = |path: &str, key: &str| -> Result<String> {
        let text = std::fs::read_to_string(root.join(path))
            .with_context(|| format!("cannot read {path}"))?;
        let rest = text.split_once(key).map(|(_, rest)| rest);
        let value = rest.and_then(|rest| rest.split(['"', '\n']).next());
        value
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .with_context(|| format!("{path} holds no {key:?}: rename by hand"))
    };
    Ok((
        value_after("compose.yml", "\nname: ")?,
        value_after("service/Cargo.toml", "[package]\nname = \"")?,
    ))
}

/// Renames the tree at `root` from its current names to `name`: one line
/// per place changed, then one saying from what to what.
pub fn rename(root: &Path, name: &str) -> Result<Vec<String>> {
    check(name)?;
    let (project, package) = current_names(root)?;
    if project == name && package == name {
        bail!("the project and its package are named {name:?} already");
    }
    // Each file read once, and written only once every place is found.
    let mut files: BTreeMap<&str, String> = BTreeMap::new();
    let mut changes = Vec::new();
    for &(path, place) in PLACES {
        let [old, new] = texts(place, [&project, &package], name);
        let text = match files.entry(path) {
            Entry::Occupied(read) => read.into_mut(),
            Entry::Vacant(unread) => unread.insert(
                std::fs::read_to_string(root.join(path))
                    .with_context(|| format!("cannot read {path}"))?,
            ),
        };
        let count = text.matches(&old).count();
        if count == 0 {
            bail!("{path} no longer holds {old:?}: edited since; nothing was changed");
        }
        *text = text.replace(&old, &new);
        changes.push(format!("{path}: {old:?} -> {new:?} ({count}x)"));
    }
    for (path, text) in &files {
        std::fs::write(root.join(path), text).with_context(|| format!("cannot write {path}"))?;
    }
    // The lock files name the package too; cargo rewrites just the
    // workspaces' own entries (`--offline`: no dependency changes).
    for manifest in ["Cargo.toml", "xtask/Cargo.toml"] {
        Cmd::new(crate::cargo())
            .dir(root)
            .args([
                "update",
                "--workspace",
                "--offline",
                "--quiet",
                "--manifest-path",
                manifest,
            ])
            .run()?;
        changes.push(format!(
            "{}: the package's entry",
            manifest.replace("toml", "lock")
        ));
    }
    changes.push(format!("renamed {project} (package {package}) to {name}"));
    Ok(changes)
}

/// A place's text as it stands under the current `[project, package]`
/// names, and as it becomes under the new `name`.
pub fn texts(place: &str, [project, package]: [&str; 2], name: &str) -> [String; 2] {
    let with = |project: &str, package: &str| {
        place
            .replace("{project}", project)
            .replace("{package}", package)
    };
    [with(project, package), with(name, name)]
}

/// A DNS label that is also a package name cargo accepts.
fn check(name: &str) -> Result<()> {
    let well_formed = name.len() <= 40
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !well_formed {
        bail!(
            "{name:?} is not a valid name: use lowercase letters, digits and hyphens, start with a letter, \
             end with a letter or digit, at most 40 characters (e.g. orders-api)"
        );
    }
    if RESERVED.split_whitespace().any(|reserved| reserved == name) {
        bail!(
            "{name:?} is reserved (a Rust keyword, a standard crate or a package of this repository)"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn names_are_dns_labels_cargo_accepts() {
        for good in ["orders-api", "a", "api2", "my-service-v2"] {
            assert!(check(good).is_ok(), "{good}");
        }
        let too_long = "a".repeat(41);
        for bad in [
            "", "Orders", "9lives", "-api", "api-", "a_b", "a.b", "fn", "test", "xtask", &too_long,
        ] {
            assert!(check(bad).is_err(), "{bad}");
        }
    }
}
