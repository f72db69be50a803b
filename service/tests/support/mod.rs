//! Helpers shared by the integration tests: serve the application
//! in-process ([`spawn_app`], for the HTTP contract), or start the real
//! `service` binary on a free port where the process is the point (signals,
//! exit codes, what it prints), capture its output, speak raw HTTP/1.1 to
//! either, and make sure no process outlives its test.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// How long the service gets to start listening.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// How long any single read or wait in a test may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a condition is re-checked while waiting on it.
const POLL: Duration = Duration::from_millis(2);

/// A port nobody listens on right now: bind port 0, read it, let it go.
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

pub fn address(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// The application served in-process, as zero2prod's `spawn_app` does.
pub struct TestApp {
    pub port: u16,
    /// Where `/metrics` is served (`METRICS_PORT=off`: nowhere).
    pub metrics_port: Option<u16>,
}

/// Builds the application from `env` (over `HOST=127.0.0.1 PORT=0
/// METRICS_PORT=0`, which it may override: the kernel picks the ports, so
/// that tests run side by side) and serves it on a thread of its own until the test binary exits;
/// returns once it listens.
pub fn spawn_app(env: &[(&str, &str)]) -> TestApp {
    let base = [("HOST", "127.0.0.1"), ("PORT", "0"), ("METRICS_PORT", "0")];
    let overridden = |name: &&str| env.iter().any(|(given, _)| given == name);
    let vars: Vec<(String, String)> = base
        .iter()
        .filter(|(name, _)| !overridden(name))
        .chain(env)
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let settings = service::configuration::Settings::from_vars(vars).expect("valid settings");
    let (port_sender, port) = std::sync::mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = service::startup::Application::build(&settings).expect("bind 127.0.0.1:0");
            port_sender
                .send((app.port(), app.metrics_port()))
                .expect("the test waits for the port");
            app.run_until_stopped().await
        })
    });
    let (port, metrics_port) = port.recv_timeout(START_DEADLINE).expect("the app is built");
    TestApp { port, metrics_port }
}

impl TestApp {
    pub fn request(&self, method: &str, path: &str) -> Response {
        request(self.port, method, path)
    }

    /// `POST path` with `body` as its JSON.
    pub fn post_json(&self, path: &str, body: &str) -> Response {
        let length = body.len();
        exchange(
            self.port,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
                 Content-Length: {length}\r\nConnection: close\r\n\r\n{body}"
            ),
        )
        .unwrap_or_else(|e| panic!("POST {path} on port {}: {e}", self.port))
    }
}

/// Bytes a child wrote to one of its pipes, with a way to wait for more.
#[derive(Default)]
struct Captured {
    state: Mutex<CaptureState>,
    changed: Condvar,
}

#[derive(Default)]
struct CaptureState {
    /// The bytes so far.
    bytes: Vec<u8>,
    /// The pipe is closed: no more will come.
    closed: bool,
    /// The pipe is left unread, as by a log driver that stalls.
    paused: bool,
}

impl Captured {
    /// Copies `pipe` into a new buffer on a thread, until end of file.
    fn collect(pipe: impl Read + Send + 'static) -> (Arc<Self>, JoinHandle<()>) {
        let captured = Arc::new(Self::default());
        let sink = Arc::clone(&captured);
        let reader = thread::spawn(move || {
            let mut pipe = pipe;
            let mut buffer = [0; 4096];
            loop {
                drop(
                    sink.changed
                        .wait_while(sink.state.lock().unwrap(), |state| state.paused),
                );
                let Ok(n @ 1..) = pipe.read(&mut buffer) else {
                    break;
                };
                sink.state
                    .lock()
                    .unwrap()
                    .bytes
                    .extend_from_slice(&buffer[..n]);
                sink.changed.notify_all();
            }
            sink.state.lock().unwrap().closed = true;
            sink.changed.notify_all();
        });
        (captured, reader)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.state.lock().unwrap().bytes).into_owned()
    }

    /// Stops or resumes reading the pipe (a read under way completes).
    fn set_paused(&self, paused: bool) {
        self.state.lock().unwrap().paused = paused;
        self.changed.notify_all();
    }

    /// Waits until a line satisfies `found` and returns it; `None` when the
    /// pipe closes or `timeout` passes first.
    fn wait_for_line(&self, timeout: Duration, found: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let mut state = self.state.lock().unwrap();
        loop {
            let text = String::from_utf8_lossy(&state.bytes);
            if let Some(line) = text.lines().find(|line| found(line)) {
                return Some(line.to_owned());
            }
            if state.closed {
                return None;
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            state = self.changed.wait_timeout(state, left).unwrap().0;
        }
    }
}

/// A running `service` process. Dropping it kills the process, so nothing is
/// left behind even when an assertion fails half-way through a test.
pub struct Service {
    child: Child,
    pub port: u16,
    /// When the process was spawned.
    pub spawned: Instant,
    stdout: Arc<Captured>,
    stderr: Arc<Captured>,
    readers: Vec<JoinHandle<()>>,
    status: Option<ExitStatus>,
}

impl Service {
    /// Spawns the service binary with `args` and only the given environment
    /// (plus `PATH`), without waiting for anything.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_program(Path::new(env!("CARGO_BIN_EXE_service")), args, env)
    }

    /// [`Service::spawn`] for another program serving the same application.
    pub fn spawn_program(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(path) = std::env::var_os("PATH") {
            command.env("PATH", path);
        }
        // Any free port for /metrics, unless the test says otherwise: tests
        // run side by side, and the default 9000 fits one at a time.
        command.env("METRICS_PORT", "0");
        command.envs(env.iter().copied());
        let port = env
            .iter()
            .find(|(name, _)| *name == "PORT")
            .and_then(|(_, port)| port.parse().ok())
            .unwrap_or(0);
        let spawned = Instant::now();
        let mut child = command.spawn().expect("spawn the service binary");
        let (stdout, out_reader) = Captured::collect(child.stdout.take().unwrap());
        let (stderr, err_reader) = Captured::collect(child.stderr.take().unwrap());
        Self {
            child,
            port,
            spawned,
            stdout,
            stderr,
            readers: vec![out_reader, err_reader],
            status: None,
        }
    }

    /// Starts the server on a free port of 127.0.0.1 with JSON logs, the
    /// given extra environment, and waits until its port accepts connections.
    pub fn start(extra_env: &[(&str, &str)]) -> Self {
        Self::start_program(Path::new(env!("CARGO_BIN_EXE_service")), extra_env)
    }

    /// [`Service::start`] for another program serving the same application.
    pub fn start_program(program: &Path, extra_env: &[(&str, &str)]) -> Self {
        // The free port can in principle be taken by someone else between
        // our probe and the service's bind: then try another one.
        for _ in 0..3 {
            let port = free_port().to_string();
            let mut env = vec![
                ("HOST", "127.0.0.1"),
                ("PORT", port.as_str()),
                ("LOG_FORMAT", "json"),
            ];
            env.extend_from_slice(extra_env);
            let mut service = Self::spawn_program(program, &[], &env);
            if service.wait_until_listening() {
                return service;
            }
            let status = service.wait_exit(Duration::from_secs(1));
            if !service.stderr().contains("in use") {
                panic!(
                    "the service did not start (exit: {status:?})\nstdout:\n{}\nstderr:\n{}",
                    service.stdout(),
                    service.stderr()
                );
            }
        }
        panic!("no free port found for the service");
    }

    /// Polls the port until it accepts a connection (true) or the process
    /// exits (false); panics after [`START_DEADLINE`]. A connection alone
    /// could reach another program holding the port, so the service's own
    /// start-up line is awaited too.
    fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if TcpStream::connect_timeout(&address(self.port), POLL * 50).is_ok() {
                let left = deadline.saturating_duration_since(Instant::now());
                return self
                    .stdout
                    .wait_for_line(left, |line| line.contains(r#""message":"listening""#))
                    .is_some();
            }
            if self.try_wait().is_some() {
                return false;
            }
            assert!(
                Instant::now() < deadline,
                "the service did not listen on port {} within {START_DEADLINE:?}",
                self.port
            );
            thread::sleep(POLL);
        }
    }

    pub fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap())
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: Signal) {
        kill(self.pid(), signal).expect("signal the service");
    }

    /// Leaves stdout unread from now on: once the pipe is full, the
    /// service's writes to it block, as with a stalled log driver.
    pub fn stall_stdout(&self) {
        self.stdout.set_paused(true);
    }

    /// Reads stdout again after [`Service::stall_stdout`].
    pub fn drain_stdout(&self) {
        self.stdout.set_paused(false);
    }

    /// The process's resident memory, in bytes (from /proc).
    pub fn resident_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the service's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().strip_suffix(" kB"))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or_else(|| panic!("no VmRSS in {status}"));
        kib * 1024
    }

    /// Everything written to stdout so far.
    /// The port its `/metrics` listens on, from its start-up line.
    pub fn metrics_port(&self) -> u16 {
        let stdout = self.stdout();
        stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|line| line["message"] == "listening")
            .and_then(|line| line["metrics_port"].as_u64())
            .and_then(|port| u16::try_from(port).ok())
            .unwrap_or_else(|| panic!("no metrics_port in the start-up line:\n{stdout}"))
    }

    pub fn stdout(&self) -> String {
        self.stdout.text()
    }

    /// Everything written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Waits until a stdout line satisfies `found`; panics after [`IO_TIMEOUT`].
    pub fn wait_for_stdout_line(&self, found: impl Fn(&str) -> bool) -> String {
        self.stdout
            .wait_for_line(IO_TIMEOUT, found)
            .unwrap_or_else(|| panic!("awaited line not on stdout:\n{}", self.stdout()))
    }

    /// The exit status if the process has ended (then all its output has
    /// been collected).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("wait for the service");
            if self.status.is_some() {
                self.drain_stdout();
                for reader in self.readers.drain(..) {
                    reader.join().expect("output reader");
                }
            }
        }
        self.status
    }

    /// Waits for the process to exit, at most `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(POLL);
        }
    }

    /// Waits for the exit, panicking with the output if it takes longer
    /// than `timeout`; returns the status and how long the wait took.
    pub fn expect_exit(&mut self, timeout: Duration) -> (ExitStatus, Duration) {
        let waiting = Instant::now();
        let status = self.wait_exit(timeout).unwrap_or_else(|| {
            panic!(
                "the service did not exit within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        });
        (status, waiting.elapsed())
    }

    /// SIGTERM, then waits for a clean exit; for tests that inspect the
    /// complete output.
    pub fn stop(&mut self) {
        self.signal(Signal::SIGTERM);
        let (status, _) = self.expect_exit(IO_TIMEOUT);
        assert!(status.success(), "stopped with {status:?}");
    }

    /// A new connection to the service.
    pub fn connect(&self) -> Connection {
        Connection::open(self.port)
    }

    /// One request on its own connection (`Connection: close`).
    pub fn request(&self, method: &str, path: &str) -> Response {
        request(self.port, method, path)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A parsed HTTP/1.1 response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// The status line and headers exactly as received, without the blank line.
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Parses a head (up to, not including, the blank line).
    fn from_head(head: &str) -> Self {
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP/1.1 status line: {status_line:?}"));
        let headers = lines
            .map(|line| {
                let (name, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("bad header line {line:?}"));
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        Self {
            status,
            head: head.to_owned(),
            headers,
            body: Vec::new(),
        }
    }

    /// The value of header `name` (case-insensitive); panics if it appears
    /// more than once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str());
        let first = values.next();
        assert!(
            values.next().is_none(),
            "{name} repeated in {:?}",
            self.head
        );
        first
    }

    pub fn content_length(&self) -> Option<usize> {
        self.header("content-length")
            .map(|value| value.parse().expect("numeric Content-Length"))
    }

    pub fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    /// True when the server announced it closes the connection.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|value| value.eq_ignore_ascii_case("close"))
    }
}

/// A raw HTTP/1.1 client connection, able to keep the connection alive and
/// to send a request in pieces.
pub struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    pub fn open(port: u16) -> Self {
        Self::try_open(port).unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
    }

    pub fn try_open(port: u16) -> io::Result<Self> {
        let stream = TcpStream::connect_timeout(&address(port), IO_TIMEOUT)?;
        stream.set_read_timeout(Some(IO_TIMEOUT))?;
        stream.set_write_timeout(Some(IO_TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buffer: Vec::new(),
        })
    }

    /// A second handle on the connection, to send from another thread
    /// while this one reads.
    pub fn sender(&self) -> TcpStream {
        self.stream
            .try_clone()
            .expect("clone the connection's socket")
    }

    /// Sends raw bytes.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .write_all(bytes.as_ref())
            .expect("send to the service");
    }

    /// A keep-alive request and its response.
    pub fn keep_alive_request(&mut self, method: &str, path: &str) -> Response {
        self.send(format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        ));
        self.read_response(method == "HEAD")
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0; 4096];
        let n = self.stream.read(&mut chunk)?;
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one response; its body is Content-Length bytes (none after HEAD).
    pub fn read_response(&mut self, to_head: bool) -> Response {
        let head_end = loop {
            if let Some(end) = self.buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            match self.fill() {
                Ok(0) => panic!(
                    "connection closed before a full response head: {:?}",
                    String::from_utf8_lossy(&self.buffer)
                ),
                Ok(_) => {}
                Err(e) => panic!("reading a response head: {e}"),
            }
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).expect("ASCII head");
        self.buffer.drain(..head_end + 4);
        let mut response = Response::from_head(&head);
        let length = if to_head {
            0
        } else {
            response.content_length().expect("a Content-Length")
        };
        while self.buffer.len() < length {
            match self.fill() {
                Ok(0) => panic!("connection closed inside a body"),
                Ok(_) => {}
                Err(e) => panic!("reading a body: {e}"),
            }
        }
        response.body = self.buffer.drain(..length).collect();
        response
    }

    /// Whether nothing has come from the server yet, and it has not closed
    /// the connection.
    pub fn has_nothing_yet(&self) -> bool {
        let peek = |stream: &TcpStream| {
            stream.set_nonblocking(true)?;
            let peeked = stream.peek(&mut [0]);
            stream.set_nonblocking(false)?;
            peeked
        };
        let waiting = matches!(peek(&self.stream), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        waiting && self.buffer.is_empty()
    }

    /// Reads until the server closes the connection; returns what came.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        loop {
            match self.fill() {
                Ok(0) => break,
                Ok(_) => {}
                // A reset also means the server closed the connection.
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("reading until the server closes: {e}"),
            }
        }
        std::mem::take(&mut self.buffer)
    }
}

/// The samples of a `/metrics` answer: each line's name, labels and value.
pub struct Samples(Vec<(String, BTreeMap<String, String>, f64)>);

impl Samples {
    /// `GET /metrics` on `port`; panics unless it answers 200.
    pub fn scrape(port: u16) -> Self {
        let answer = request(port, "GET", "/metrics");
        assert_eq!(answer.status, 200, "GET /metrics: {answer:?}");
        Self::parse(answer.text())
    }

    /// The sample lines of the exposition text `text`, as
    /// `name{label="value",...} number`: the form this service's metrics
    /// take (no spaces, commas or quotes inside a label's value).
    pub fn parse(text: &str) -> Self {
        let sample = |line: &str| {
            let (series, value) = line.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((name, labels)) => (name, labels.strip_suffix('}')?),
                None => (series, ""),
            };
            let labels = labels
                .split(',')
                .filter(|label| !label.is_empty())
                .map(|label| {
                    let (key, value) = label.split_once('=')?;
                    Some((key.to_owned(), value.trim_matches('"').to_owned()))
                })
                .collect::<Option<_>>()?;
            Some((name.to_owned(), labels, value.parse().ok()?))
        };
        let lines = text.lines().filter(|line| !line.starts_with('#'));
        Self(
            lines
                .map(|line| sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}")))
                .collect(),
        )
    }

    /// Every series of metric `name`: its labels, as `k=v` joined by
    /// commas in name order, and its value.
    pub fn series(&self, name: &str) -> BTreeMap<String, f64> {
        self.0
            .iter()
            .filter(|(sample, _, _)| sample == name)
            .map(|(_, labels, value)| {
                let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                (labels.join(","), *value)
            })
            .collect()
    }

    /// The value of the one series of `name` without labels.
    pub fn value(&self, name: &str) -> f64 {
        self.series(name)
            .get("")
            .copied()
            .unwrap_or_else(|| panic!("no {name} without labels"))
    }
}

/// One request with `Connection: close` on a new connection: the whole
/// answer is read to the end, so a body after HEAD would be seen.
pub fn request(port: u16, method: &str, path: &str) -> Response {
    try_request(port, method, path)
        .unwrap_or_else(|e| panic!("{method} {path} on port {port}: {e}"))
}

/// [`request`], with an error when the connection cannot be opened.
pub fn try_request(port: u16, method: &str, path: &str) -> io::Result<Response> {
    let body_length = if matches!(method, "POST" | "PUT") {
        "Content-Length: 0\r\n"
    } else {
        ""
    };
    exchange(
        port,
        &format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{body_length}Connection: close\r\n\r\n"
        ),
    )
}

/// Sends `request` (with `Connection: close`) on a new connection; the answer.
fn exchange(port: u16, request: &str) -> io::Result<Response> {
    let mut connection = Connection::try_open(port)?;
    connection.send(request);
    let raw = connection.read_to_end();
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {text:?}"));
    let mut response = Response::from_head(head);
    response.body = body.as_bytes().to_vec();
    Ok(response)
}
