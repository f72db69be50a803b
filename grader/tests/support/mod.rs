//! What the grader's end-to-end tests share: their fixtures' folders, the
//! Python base their student-style images build on, and this repository's
//! own images (graded as a student's would be).

#![allow(dead_code)] // each test binary uses its part

pub mod class;
pub mod lesson;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::Result;
use grader::seed::Seed;
use toolkit::debian_image::{self, DebianImage};
use toolkit::docker::{self, Build, Image};

/// A folder of fixtures beside this file: `students`, `hostile`.
pub fn fixtures(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// The repository's root, whose Dockerfiles are graded too.
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("grader/ sits in the repository")
        .to_owned()
}

/// The grader's own image (`grader/Dockerfile`), removed at the end.
pub fn grader_image() -> Result<Image> {
    let tag = toolkit::unique_name("image-lab-grader-test");
    eprintln!("building {tag} from grader/Dockerfile");
    docker::build(&Build {
        context: repository(),
        dockerfile: Some(repository().join("grader/Dockerfile")),
        tag,
        build_args: vec![],
    })
}

/// Builds one of this repository's Dockerfiles (`Dockerfile`, or the
/// anti-example `Dockerfile.naive`) with the seed's identity, as a student
/// would build theirs.
pub fn build_repository_image(seed: &Seed, dockerfile: &str, tag: &str) -> Result<Image> {
    eprintln!("building {tag} from {dockerfile}");
    docker::build(&Build {
        context: repository(),
        dockerfile: Some(repository().join(dockerfile)),
        tag: tag.to_owned(),
        build_args: vec![
            ("LAB_LOGIN".into(), seed.login.clone()),
            ("LAB_TOKEN".into(), seed.token.clone()),
        ],
    })
}

/// The stand-in for `python:3.11-slim` that the tests' student-style images
/// build on: Debian bookworm's Python 3.11 with pip and venv, trimmed as the
/// official slim image is (no `__pycache__`, tests, locales or docs) so that
/// a two-stage Flask image stays under the lab's 150 MB like a real one. It
/// carries this host's CA bundle, so pip works behind a TLS-intercepting proxy.
pub const PYTHON_BASE: &str = "image-lab-test/python:3.11-slim";

/// Makes [`PYTHON_BASE`] unless the engine has it (about a minute, as root).
pub fn python_base() -> Result<()> {
    if debian_image::exists(PYTHON_BASE, "")? {
        return Ok(());
    }
    debian_image::make(
        &DebianImage {
            reference: PYTHON_BASE,
            release: "bookworm",
            packages: "python3,python3-pip,python3-venv,python-is-python3,ca-certificates",
            complete: &slim_python,
            changes: vec![
                "ENV LANG=C.UTF-8".to_owned(),
                "ENV PYTHONDONTWRITEBYTECODE=1".into(),
                "CMD [\"python3\"]".into(),
            ],
            check: "python --version && pip --version",
        },
        "http://deb.debian.org/debian",
    )
}

/// What the official Python images leave out, and Debian's mark that makes
/// pip refuse to install outside a venv (the official images have none).
fn slim_python(rootfs: &Path) -> Result<()> {
    debian_image::empty(
        rootfs,
        &[
            "usr/share/locale",
            "usr/share/zoneinfo",
            "usr/lib/x86_64-linux-gnu/gconv",
            "usr/lib/aarch64-linux-gnu/gconv",
            "usr/lib/python3.11/test",
        ],
    )?;
    let externally_managed = rootfs.join("usr/lib/python3.11/EXTERNALLY-MANAGED");
    if externally_managed.is_file() {
        fs::remove_file(externally_managed)?;
    }
    remove_named(rootfs, "__pycache__")
}

/// Deletes every directory called `name` under `dir`.
fn remove_named(dir: &Path, name: &str) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        if entry.file_name() == name {
            fs::remove_dir_all(entry.path())?;
        } else {
            remove_named(&entry.path(), name)?;
        }
    }
    Ok(())
}
