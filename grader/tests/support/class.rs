//! The class of `tests/students/`: the lab's Flask app (`app/`), one
//! Dockerfile per student in a style seen in public submissions,
//! `roster.csv`, and the lab criteria each style fails. The students test
//! grades it; the class bench grades it repeated under other logins.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use toolkit::docker::{self, Build, Image};

/// Every style of the class (its login in `roster.csv`, its Dockerfile
/// `<style>.Dockerfile`) and the lab criteria its image fails, as found
/// first by hand: `docker run -d --read-only -e ROCKET_SIZE=Big -e
/// SECRET=s3 -p 127.0.0.1::PORT IMAGE`, curl on `/`, `/health` and `/proof`
/// (against `openssl dgst -sha256 -hmac s3`), `docker inspect` for the
/// labels, user and health, `docker top` for the UIDs, `time docker stop`
/// for the exit code; again without `--read-only` when that run died.
pub const EXPECTED: &[(&str, &[&str])] = &[
    ("venv-two-stage", &[]),
    // python app.py: Flask's server as PID 1 has no SIGTERM handler: 137 after 10 s.
    ("user-install", &["sigterm"]),
    ("one-stage", &["multi-stage"]),
    // Shell form with exec: gunicorn is PID 1 and exits 0 at once.
    ("shell-exec", &[]),
    // Shell form without exec: sh is PID 1: 137 after 10 s.
    ("shell-no-exec", &["sigterm"]),
    // Probes 5000, listens on 8000: unhealthy.
    ("healthcheck-port", &["healthcheck"]),
    // EXPOSE 5000 and listens there: everything answers on 5000.
    ("port-5000", &[]),
    // "No usable temporary directory found" with --read-only; fine without.
    ("gunicorn-tmp", &["read-only"]),
    ("as-root", &["non-root"]),
    ("no-labels", &["labels"]),
    // /proof signs "unknown:unknown".
    ("labels-no-env", &["proof"]),
    // `flask run` listens on 127.0.0.1: healthy inside, no answer outside,
    // with --read-only as without; and no SIGTERM handler: 137 after 10 s.
    ("flask-run", &["sigterm", "env-config", "proof", "health"]),
];

/// The class's folder: the app, the Dockerfiles, `roster.csv`.
pub fn dir() -> PathBuf {
    super::fixtures("students")
}

/// One row of a roster.
pub struct Student {
    pub login: String,
    pub token: String,
    pub image: String,
    /// Relative to the roster's folder.
    pub dockerfile: String,
}

impl Student {
    /// A student who writes like `model` (a student of [`roster`]) under
    /// `login`, with a token of their own: `<login>/image-lab:<prefix>`, as
    /// the lab names it. Their Dockerfile, `<login>.Dockerfile` in `folder`,
    /// is the model's with their identity where the model writes one in.
    pub fn like(model: &Student, login: &str, folder: &Path) -> Result<Self> {
        let token = format!("{}{}", toolkit::random_word(""), toolkit::random_word(""));
        let text = std::fs::read_to_string(dir().join(&model.dockerfile))?
            .replace(&model.token, &token)
            .replace(&format!("={}", model.login), &format!("={login}"));
        let dockerfile = format!("{login}.Dockerfile");
        std::fs::write(folder.join(&dockerfile), text)?;
        Ok(Student {
            login: login.to_owned(),
            image: format!("{login}/image-lab:{}", &token[..8]),
            token,
            dockerfile,
        })
    }

    /// Builds the student's image from their Dockerfile in `folder`, with
    /// their login and token as its build arguments; removed when dropped.
    pub fn build(&self, folder: &Path) -> Result<Image> {
        eprintln!("building {}", self.image);
        docker::build(&Build {
            context: dir().join("app"),
            dockerfile: Some(folder.join(&self.dockerfile)),
            tag: self.image.clone(),
            build_args: vec![
                ("LAB_LOGIN".into(), self.login.clone()),
                ("LAB_TOKEN".into(), self.token.clone()),
            ],
        })
    }

    /// The roster's line: `login,token,image,dockerfile`.
    pub fn row(&self) -> String {
        [&self.login, &self.token, &self.image, &self.dockerfile]
            .map(String::as_str)
            .join(",")
    }
}

/// `roster.csv` (our own file: no quoting, so a split will do).
pub fn roster() -> Vec<Student> {
    let text = std::fs::read_to_string(dir().join("roster.csv")).expect("roster.csv");
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            Student {
                login: fields[0].into(),
                token: fields[1].into(),
                image: fields[2].into(),
                dockerfile: fields[3].into(),
            }
        })
        .collect()
}

/// Who the grader's image runs as: a user of no one's, to see whose its files are.
pub const IMAGE_USER: u32 = 12345;

/// A grading of a class by the grader's own image.
pub struct FromImage {
    /// The folder mounted as `/grades`; the grades are in its `class/`.
    pub dir: PathBuf,
    pub took: Duration,
    /// The `docker run`, as run.
    pub command: String,
}

/// The README's `docker run` of the grader's `image` on the roster in
/// `roster_dir`: the engine's socket, `roster_dir` as `/work`, a new folder
/// for the grades, as [`IMAGE_USER`] in the socket's group.
pub fn grade_in_the_graders_image(image: &str, roster_dir: &Path, jobs: u16) -> Result<FromImage> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let socket = "/var/run/docker.sock";
    let group = std::fs::metadata(socket)?.gid().to_string();
    let dir = std::env::temp_dir().join(toolkit::unique_name("grades-from-image"));
    std::fs::create_dir_all(&dir)?;
    // Anyone may write into it: the grader's user is no one here.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))?;
    let name = toolkit::unique_name("image-lab-grader");
    let _removed =
        toolkit::cleanup::Guard::register(toolkit::cleanup::Resource::Container(name.clone()));
    let user = format!("{IMAGE_USER}:{IMAGE_USER}");
    let mounts = [
        format!("{socket}:/var/run/docker.sock"),
        format!("{}:/work:ro", roster_dir.display()),
        format!("{}:/grades", dir.display()),
    ];
    let jobs = jobs.to_string();
    let args = [
        "run",
        "--rm",
        "--name",
        &name,
        "--user",
        &user,
        "--group-add",
        &group,
        "-v",
        &mounts[0],
        "-v",
        &mounts[1],
        "-v",
        &mounts[2],
        "-w",
        "/work",
        image,
        "grade",
        "--roster",
        "roster.csv",
        "--out",
        "/grades/class",
        "--jobs",
        &jobs,
    ];
    let started = Instant::now();
    docker::run(&args)?;
    let took = started.elapsed();
    eprintln!(
        "the grader's image graded the class in {:.0} s",
        took.as_secs_f64()
    );
    Ok(FromImage {
        dir,
        took,
        command: format!("docker {}", args.join(" ")),
    })
}
