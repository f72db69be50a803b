//! `cargo xtask rename NEW_NAME`: a fork takes its own name.
//!
//! The template is the project `image-lab` with the package `service`. Both
//! become NEW_NAME wherever they name the product: the package and its
//! binary, the image and the Compose project, the OCI title label, the
//! Kubernetes objects, the README's title and commands. What belongs to the
//! lab stays (the grader's `<login>/image-lab:<prefix>` rule, `/proof`, the
//! `org.lab.*` labels); README's "Start your own service from this" says how
//! to drop it. The library keeps the name `service` (service/Cargo.toml's
//! `[lib]`), so no `use service::...` changes.
//!
//! Every place is an exact text in a named file, checked before anything is
//! written: a tree that was edited or renamed already gets a one-line error
//! and stays as it was.

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::command::Cmd;

/// Options of `cargo xtask rename`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The new name: lowercase letters, digits and hyphens, starting with a
    /// letter (a DNS label, also a valid package name), at most 40 characters.
    pub name: String,
}

/// The places the names are: file, text, and the text it becomes (`{name}`
/// is the new name).
pub const PLACES: &[(&str, &str, &str)] = &[
    (
        "service/Cargo.toml",
        "[package]\nname = \"service\"",
        "[package]\nname = \"{name}\"",
    ),
    (
        "service/Cargo.toml",
        "[[bin]]\nname = \"service\"",
        "[[bin]]\nname = \"{name}\"",
    ),
    (
        "service/tests/support/mod.rs",
        "CARGO_BIN_EXE_service",
        "CARGO_BIN_EXE_{name}",
    ),
    (
        "tests/Cargo.toml",
        "service = { path = \"../service\" }",
        "service = { path = \"../service\", package = \"{name}\" }",
    ),
    ("Dockerfile", "-t alice/image-lab:", "-t alice/{name}:"),
    (
        "Dockerfile",
        "image-lab service:/nonexistent",
        "{name} service:/nonexistent",
    ),
    ("Dockerfile", "id=image-lab-target", "id={name}-target"),
    ("Dockerfile", "-p service ", "-p {name} "),
    ("Dockerfile", "release/service\"", "release/{name}\""),
    (
        "Dockerfile",
        "image.title=\"image-lab\"",
        "image.title=\"{name}\"",
    ),
    ("Dockerfile.naive", "-p service", "-p {name}"),
    (
        "Dockerfile.naive",
        "target/release/service\"",
        "target/release/{name}\"",
    ),
    ("compose.yml", "name: image-lab", "name: {name}"),
    (
        "compose.yml",
        "are image-lab-service-1",
        "are {name}-service-1",
    ),
    (
        "compose.yml",
        "/image-lab:${LAB_PREFIX",
        "/{name}:${LAB_PREFIX",
    ),
    ("compose.yml", "local/image-lab:dev", "local/{name}:dev"),
    (
        ".env.example",
        "repository: <login>/image-lab",
        "repository: <login>/{name}",
    ),
    ("deploy/k8s/kustomization.yaml", "image-lab", "{name}"),
    ("deploy/k8s/namespace.yaml", "image-lab", "{name}"),
    ("deploy/k8s/deployment.yaml", "image-lab", "{name}"),
    ("deploy/k8s/service.yaml", "image-lab", "{name}"),
    ("deploy/k8s/poddisruptionbudget.yaml", "image-lab", "{name}"),
    ("deploy/k8s/networkpolicy.yaml", "image-lab", "{name}"),
    ("docs/deploy.md", "image-lab", "{name}"),
    (
        "tests/tests/image.rs",
        "(\"org.opencontainers.image.title\", \"image-lab\")",
        "(\"org.opencontainers.image.title\", \"{name}\")",
    ),
    (
        "tests/tests/image.rs",
        "/image-lab:compose",
        "/{name}:compose",
    ),
    (
        "tests/tests/deploy.rs",
        "\"image-lab-secret\"",
        "\"{name}-secret\"",
    ),
    (
        "tests/tests/deploy.rs",
        "local/image-lab:dev",
        "local/{name}:dev",
    ),
    ("README.md", "# image-lab:", "# {name}:"),
    ("README.md", "namespace image-lab", "namespace {name}"),
    (
        "README.md",
        "-n image-lab create secret generic image-lab-secret",
        "-n {name} create secret generic {name}-secret",
    ),
    ("README.md", "local/image-lab:dev", "local/{name}:dev"),
    ("README.md", "cargo run -p service", "cargo run -p {name}"),
];

/// Names cargo refuses for a package (Rust keywords and the standard
/// crates), and the tooling's own packages.
const RESERVED: &[&str] = &[
    "abstract",
    "alloc",
    "as",
    "async",
    "await",
    "bare-actix",
    "become",
    "box",
    "break",
    "const",
    "continue",
    "core",
    "crate",
    "do",
    "dyn",
    "e2e",
    "else",
    "enum",
    "extern",
    "false",
    "final",
    "fn",
    "for",
    "gen",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "macro",
    "match",
    "mod",
    "move",
    "mut",
    "override",
    "priv",
    "proc-macro",
    "pub",
    "ref",
    "return",
    "self",
    "service",
    "static",
    "std",
    "struct",
    "super",
    "test",
    "trait",
    "true",
    "try",
    "type",
    "typeof",
    "unsafe",
    "unsized",
    "use",
    "virtual",
    "where",
    "while",
    "xtask",
    "yield",
];

pub fn run(args: &Args) -> Result<()> {
    let root = crate::project_root();
    for change in rename(&root, &args.name)? {
        println!("{change}");
    }
    println!(
        "renamed image-lab (package service) to {0}; next: cargo build, cargo xtask test, docker compose up --build \
         (see README: Start your own service from this)",
        args.name
    );
    Ok(())
}

/// Renames the tree at `root`; one line per place changed.
pub fn rename(root: &Path, name: &str) -> Result<Vec<String>> {
    check(name)?;
    let mut files: Vec<(&str, String)> = Vec::new();
    let mut changes = Vec::new();
    for &(path, old, new) in PLACES {
        let new = new.replace("{name}", name);
        if !files.iter().any(|(p, _)| *p == path) {
            let text = std::fs::read_to_string(root.join(path))
                .with_context(|| format!("cannot read {path}"))?;
            files.push((path, text));
        }
        let text = &mut files
            .iter_mut()
            .find(|(p, _)| *p == path)
            .expect("read above")
            .1;
        let count = text.matches(old).count();
        if count == 0 {
            bail!(
                "{path} no longer holds {old:?}: renamed already, or edited; nothing was changed"
            );
        }
        *text = text.replace(old, &new);
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
    Ok(changes)
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
    if RESERVED.contains(&name) {
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
