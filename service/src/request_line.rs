//! The JSON line logged for every request, written straight into a reused
//! buffer.
//!
//! The line is the one tracing-subscriber's JSON formatter printed, field
//! for field and byte for byte (a test compares the two):
//!
//! ```text
//! {"timestamp":"2026-11-25T14:24:53.123456Z","level":"INFO","method":"GET","path":"/health","status":200,"latency_us":41,"request_id":"9f3ab1c2d4e5f607","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","target":"service::request"}
//! ```
//!
//! (`trace_id` only when the request came with a W3C `traceparent`: see
//! [`crate::request_id`].)
//!
//! Why by hand: where the instructions of one keep-alive `GET /health` go,
//! counted with callgrind (`WORKERS=1`, 200 then 1,200 requests on one
//! connection, the difference divided by 1,000 so that start-up cancels
//! out; inclusive costs per request, from the 1,200-request run):
//!
//! | | instructions per request |
//! |---|---|
//! | bare actix-web server (bench/bare-actix) | 15,610 |
//! | this service, request lines off (`RUST_LOG=info,service::request=off`) | 17,500 |
//! | this service, line through tracing-subscriber's JSON formatter (before) | 33,090 |
//! | of which the tracing event | 13,250 |
//! | of which the timestamp (`FormatTime::format_time`, `fmt` field by field) | 3,060 |
//! | of which `serde_json`'s escaper, through the generic visitor | 3,310 |
//! | of which the visitor's `record_str` / `record_u64` (a `serde_json` map) | 2,700 / 2,130 |
//! | this service, the line written here (now) | 18,700 (1.20x bare) |
//! | of which the line (the difference with lines off) | 1,200 |
//! | of which [`crate::log_writer`]'s `write_out` (a `write` per line when idle) | 230 |
//!
//! After, no other function of the line reaches 1 % of the profile: the
//! formatting is inlined into the middleware. (Counted with a client that
//! sends only `Host`; `cargo xtask bench` counts with ureq's requests, two
//! headers more: 19.6k against the bare server's 16.7k, the same ratio.)
//!
//! Then the rest of the request, function by function against the bare
//! server's profile (a client sending `Host` and `Accept-Encoding`):
//!
//! | | instructions per request |
//! |---|---|
//! | bare actix-web server | 16,212 |
//! | this service, as above | 19,011 (1.17x) |
//! | one `from_fn` middleware instead of two | 18,693 |
//! | `wrap_fn` instead of `from_fn` (no boxed future, no `dyn` service) | 18,480 |
//! | the `/health` body written around serde_json's number (routes.rs) | 18,042 (1.11x) |
//! | the `/health` body kept while its hundredth of a second lasts | 17,590 (1.08x) |
//!
//! (The last row is counted under valgrind, some 50 times slower, where a
//! body lasts a few requests; under load it lasts a thousand.) Then, on
//! another machine (AMD EPYC; a client sending `Host` and
//! `Accept-Encoding`; bare server 16,202):
//!
//! | | instructions per request |
//! |---|---|
//! | this service, the timestamp from the latency's end read ([`wall_time`]), a log buffer per thread | 17,759 (1.10x) |
//! | a function guard for GET and HEAD instead of actix's method guards ([`crate::routes::get_resource`]) | 16,970 (1.05x) |
//! | `/health` given its start instant by value, not the state's extractor | 16,771 (1.04x) |
//!
//! The method guards cost the bare server as much: they record the method
//! in the request's extensions, a box and a hash map insert, later dropped.
//! What is left over the bare server is what it does not do: the line
//! (about 700, a clock read included) and the uptime's clock read.
//!
//! Instructions are not the whole cost. Sampled with `perf record -e
//! cpu-clock` (time, not instructions: software sampling works where a VM
//! has no hardware counters), two 4 s wrk runs each, `GET /health`, 16
//! connections, nanoseconds per request in user space:
//!
//! | | bare server | this service |
//! |---|--:|--:|
//! | all of user space (the kernel: 12–18 µs for both) | 5,400–6,700 | 6,600–7,100 |
//! | [`crate::log_writer`]'s `append` (the shared lock's cache line crossing cores) | – | 100–145 |
//! | `clock_gettime` (four reads against about two, some 70 ns each) | 140–150 | 290–320 |
//! | the `web::Data` extractor and its `type_id` | – | 60–85 |
//!
//! A state per worker instead of one shared `Arc` changed none of these
//! beyond the runs' noise. The shared lock, one clock read and, for
//! `/health`, the extractor are gone since (a buffer per thread in
//! [`crate::log_writer`], [`wall_time`], the table above).
//!
//! Then, on this machine (a client sending `Host` and `Accept-Encoding`;
//! the line's cost: the difference with lines off): 1,126 instructions, 584
//! once the method is copied as it is (an HTTP token needs no escaping), a
//! path that needs no escaping likewise, fixed-width fields written into the
//! constant text around them, the timestamp from one subtraction of
//! instants, and the line written straight into the log writer's buffer
//! instead of a buffer of its own and a copy. Then 669 (with request ids,
//! 2026-12), and 575 once a line is the worker's last one with its time,
//! latency and ids written over theirs ([`with_line`]), copied from there.
//!
//! So: the fields are known and written in order; a string that needs
//! escaping goes through `serde_json`'s escaper, numbers through `itoa`;
//! the line's start up to the second is formatted once a second (per worker
//! thread), and a line like the worker's last (same second, method, path,
//! status) is that line with four fields rewritten. It is copied from there
//! into [`crate::log_writer`]'s buffer for this thread (a lock no other
//! worker takes; no allocation) rather than through a task spawned per
//! request.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::ops::Range;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::{Method, StatusCode};

/// The target tracing filters the request lines by.
pub const TARGET: &str = "service::request";

/// How long a reading of the system clock serves as the anchor of the
/// timestamps derived from the monotonic clock.
const ANCHOR_LASTS: Duration = Duration::from_secs(1);

thread_local! {
    /// The worker's last reading of both clocks, taken together: the
    /// monotonic clock's, and the system clock's since the Unix epoch.
    static ANCHOR: Cell<Option<(Instant, Duration)>> = const { Cell::new(None) };
}

/// The system clock's time at `at`, since the Unix epoch, from the worker's
/// reading of both clocks, taken again once it is a second old: the
/// monotonic reading that ends a request's latency gives its timestamp too,
/// one clock read fewer per request (each some 20–70 ns, see the module
/// doc). The two clocks run at the same, NTP-disciplined rate, so the
/// derived time is the system clock's own; only a step of the system clock
/// (set by hand, say) shows a second late. One subtraction of instants
/// (some 40 instructions each), as the anchor is kept since the epoch.
pub fn wall_time(at: Instant) -> Duration {
    ANCHOR.with(|anchor| {
        if let Some((instant, since_epoch)) = anchor.get()
            && let Some(after) = at.checked_duration_since(instant)
            && after < ANCHOR_LASTS
        {
            return since_epoch + after;
        }
        let (instant, since_epoch) = (Instant::now(), unix_time(SystemTime::now()));
        anchor.set(Some((instant, since_epoch)));
        match at.checked_duration_since(instant) {
            Some(after) => since_epoch + after,
            None => since_epoch.saturating_sub(instant.duration_since(at)),
        }
    })
}

/// `time` since the Unix epoch (zero for a time before it).
pub fn unix_time(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// The line's start up to the second's dot (`{"timestamp":"YYYY-MM-DDTHH:MM:SS.`),
/// which changes once a second, for the second it was made for.
struct LineStart {
    unix_second: u64,
    text: Vec<u8>,
}

thread_local! {
    static LINE_START: RefCell<LineStart> = const {
        RefCell::new(LineStart { unix_second: u64::MAX, text: Vec::new() })
    };
}

/// What one request's line says after its timestamp and level.
pub struct Fields<'a> {
    /// Written as it is: `Method` holds only HTTP token characters, and
    /// none of them needs escaping in JSON.
    pub method: &'a Method,
    pub path: &'a str,
    pub status: StatusCode,
    pub latency_us: u64,
    /// Letters, digits and `-_.:+/=` only ([`crate::request_id`]), as the
    /// trace id's hex: written as they are, nothing in them needs escaping.
    pub request_id: &'a [u8],
    pub trace_id: Option<&'a [u8]>,
}

/// Hands one request's line, ending in `\n`, to `use_line`; `since_epoch`
/// is its time, since the Unix epoch. The line is the worker's last one
/// with its time, latency and ids written over theirs, when it had the same
/// second, method, path and status and its fields the same widths: under
/// load a worker's requests mostly do (a probe, a hot route), and a copy
/// and four small writes cost less than the line's dozen pieces.
pub fn with_line<R>(
    since_epoch: Duration,
    fields: &Fields,
    use_line: impl FnOnce(&[u8]) -> R,
) -> R {
    let mut latency = itoa::Buffer::new();
    let latency = latency.format(fields.latency_us).as_bytes();
    LAST_LINE.with_borrow_mut(|last| {
        if !last.rewrite(since_epoch, fields, latency) {
            last.make(since_epoch, fields, latency);
        }
        use_line(&last.text)
    })
}

/// A worker's last request line, and where its fields are in it.
struct LastLine {
    text: Vec<u8>,
    unix_second: u64,
    status: StatusCode,
    method: Range<usize>,
    /// Between the quotes; `None` when the path was escaped (no path
    /// written as it is equals an escaped one).
    path: Option<Range<usize>>,
    micros: Range<usize>,
    latency: Range<usize>,
    request_id: Range<usize>,
    trace_id: Option<Range<usize>>,
}

thread_local! {
    static LAST_LINE: RefCell<LastLine> = const { RefCell::new(LastLine::NONE) };
}

impl LastLine {
    /// No line yet: nothing matches it.
    const NONE: Self = Self {
        text: Vec::new(),
        unix_second: u64::MAX,
        status: StatusCode::OK,
        method: 0..0,
        path: None,
        micros: 0..0,
        latency: 0..0,
        request_id: 0..0,
        trace_id: None,
    };

    /// Writes this request's time, `latency` and ids over the last line's,
    /// if the rest of its line is the last one's; whether it was.
    fn rewrite(&mut self, since_epoch: Duration, fields: &Fields, latency: &[u8]) -> bool {
        let text = &self.text;
        let same = self.unix_second == since_epoch.as_secs()
            && self.status == fields.status
            && text[self.method.clone()] == *fields.method.as_str().as_bytes()
            && self
                .path
                .as_ref()
                .is_some_and(|path| text[path.clone()] == *fields.path.as_bytes())
            && self.latency.len() == latency.len()
            && self.request_id.len() == fields.request_id.len()
            && self.trace_id.as_ref().map(Range::len) == fields.trace_id.map(<[u8]>::len);
        if !same {
            return false;
        }
        write_six_digits(
            &mut self.text[self.micros.clone()],
            since_epoch.subsec_micros(),
        );
        self.text[self.latency.clone()].copy_from_slice(latency);
        self.text[self.request_id.clone()].copy_from_slice(fields.request_id);
        if let (Some(at), Some(trace_id)) = (&self.trace_id, fields.trace_id) {
            self.text[at.clone()].copy_from_slice(trace_id);
        }
        true
    }

    /// Makes the line afresh. Fixed-width fields are written into the
    /// constant text around them, so that the line is a dozen copies, not
    /// twenty (each also checks the buffer's room).
    fn make(&mut self, since_epoch: Duration, fields: &Fields, latency: &[u8]) {
        let line = &mut self.text;
        line.clear();
        LINE_START.with_borrow_mut(|cache| {
            if cache.unix_second != since_epoch.as_secs() {
                cache.unix_second = since_epoch.as_secs();
                cache.text.clear();
                cache.text.extend_from_slice(b"{\"timestamp\":\"");
                write_date_time(&mut cache.text, cache.unix_second);
                cache.text.push(b'.');
            }
            line.extend_from_slice(&cache.text);
        });
        let mut micros = *b"000000Z\",\"level\":\"INFO\",\"method\":\"";
        write_six_digits(&mut micros[..6], since_epoch.subsec_micros());
        self.micros = line.len()..line.len() + 6;
        line.extend_from_slice(&micros);
        self.method = append(line, fields.method.as_str().as_bytes());
        line.extend_from_slice(b"\",\"path\":");
        self.path = json_string(line, fields.path);
        // A status code has three digits.
        let mut status = *b",\"status\":000,\"latency_us\":";
        status[10..13].copy_from_slice(fields.status.as_str().as_bytes());
        line.extend_from_slice(&status);
        self.latency = append(line, latency);
        line.extend_from_slice(b",\"request_id\":\"");
        self.request_id = append(line, fields.request_id);
        self.trace_id = fields.trace_id.map(|trace_id| {
            line.extend_from_slice(b"\",\"trace_id\":\"");
            append(line, trace_id)
        });
        line.extend_from_slice(b"\",\"target\":\"");
        line.extend_from_slice(TARGET.as_bytes());
        line.extend_from_slice(b"\"}\n");
        (self.unix_second, self.status) = (since_epoch.as_secs(), fields.status);
    }
}

/// Appends `bytes` to `line`; where they are in it.
fn append(line: &mut Vec<u8>, bytes: &[u8]) -> Range<usize> {
    let start = line.len();
    line.extend_from_slice(bytes);
    start..line.len()
}

/// `text` as a JSON string, quotes included, escaped as `serde_json` (and so
/// tracing-subscriber) escapes it; where it is between the quotes, if it
/// was written as it is. A path seldom needs escaping; one that does not is
/// copied as it is, which costs `/health` some 80 instructions fewer than
/// `serde_json`'s writer (callgrind).
fn json_string(line: &mut Vec<u8>, text: &str) -> Option<Range<usize>> {
    // What serde_json escapes: control characters, the quote, the backslash.
    let plain = |b: &u8| *b >= 0x20 && *b != b'"' && *b != b'\\';
    if text.as_bytes().iter().all(plain) {
        line.push(b'"');
        let at = append(line, text.as_bytes());
        line.push(b'"');
        Some(at)
    } else {
        serde_json::to_writer(line, text).expect("a str serializes into a Vec");
        None
    }
}

/// Zero-padded, as the six digits after the second's dot.
fn write_six_digits(digits: &mut [u8], mut micros: u32) {
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS` (UTC) of a Unix time, as tracing-subscriber writes it.
fn write_date_time(out: &mut Vec<u8>, unix_second: u64) {
    let (days, second_of_day) = (unix_second / 86_400, unix_second % 86_400);
    let (year, month, day) = civil_from_days(days);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
}

/// The proleptic Gregorian date of a day count since 1970-01-01, by Howard
/// Hinnant's `civil_from_days` (public domain), for days on or after it.
/// Twelve lines do not justify a date crate in the runtime binary.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153; // March is 0
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn line(at: SystemTime, method: &Method, path: &str) -> String {
        let fields = Fields {
            method,
            path,
            status: StatusCode::NOT_FOUND,
            latency_us: 1234,
            request_id: b"9f3ab1c2d4e5f607",
            trace_id: None,
        };
        with_line(unix_time(at), &fields, |line| {
            String::from_utf8(line.to_vec())
        })
        .expect("the line is UTF-8")
    }

    #[test]
    fn fields_in_tracing_subscribers_order_with_its_timestamp() {
        let at = UNIX_EPOCH + Duration::new(1_795_616_693, 123_456_789);
        assert_eq!(
            line(at, &Method::GET, "/health"),
            "{\"timestamp\":\"2026-11-25T14:24:53.123456Z\",\"level\":\"INFO\",\"method\":\"GET\",\
             \"path\":\"/health\",\"status\":404,\"latency_us\":1234,\"request_id\":\"9f3ab1c2d4e5f607\",\
             \"target\":\"service::request\"}\n"
        );
    }

    #[test]
    fn wall_time_is_the_system_clocks_for_past_and_later_instants() {
        let close = |a: Duration, b: SystemTime| {
            let b = unix_time(b);
            let apart = a.abs_diff(b);
            assert!(apart < Duration::from_millis(50), "{a:?} against {b:?}");
        };
        let now = Instant::now();
        close(wall_time(now), SystemTime::now());
        // From the anchor just taken, then across a new one, and back to
        // an instant before it.
        for offset in [Duration::from_millis(300), Duration::from_secs(5)] {
            close(wall_time(now + offset), SystemTime::now() + offset);
            close(wall_time(now), SystemTime::now());
        }
    }

    /// Lines in a row on one thread: each, made from the last one where it
    /// can be, is the line made afresh.
    #[test]
    fn a_line_made_from_the_last_one_is_the_line_made_afresh() {
        let second = Duration::from_secs(1_795_616_693);
        let (get, post) = (Method::GET, Method::POST);
        let trace = b"4bf92f3577b34da6a3ce929d0e0e4736".as_slice();
        let other_trace = b"0af7651916cd43dd8448eb211c80319c".as_slice();
        let fields = |method, path, status, latency_us, request_id, trace_id| Fields {
            method,
            path,
            status: StatusCode::from_u16(status).unwrap(),
            latency_us,
            request_id,
            trace_id,
        };
        #[rustfmt::skip]
        let lines = [
            fields(&get, "/health", 200, 41, b"9f3ab1c2d4e5f607", None),
            fields(&get, "/health", 200, 57, b"0123456789abcdef", None), // time, latency, id
            fields(&get, "/health", 200, 9, b"0123456789abcdef", None), // a shorter latency
            fields(&get, "/health", 200, 1234, b"short", None), // a longer one, a shorter id
            fields(&get, "/health", 200, 1234, b"short", Some(trace)), // a trace id
            fields(&get, "/health", 200, 1234, b"short", Some(other_trace)),
            fields(&get, "/health", 200, 1234, b"short", None), // none again
            fields(&get, "/", 200, 1234, b"short", None), // another path
            fields(&post, "/", 200, 1234, b"short", None), // method
            fields(&post, "/", 404, 1234, b"short", None), // status
            fields(&post, "/\"q\"", 404, 1234, b"short", None), // escaped
            fields(&post, "/\"q\"", 404, 1234, b"short", None), // escaped again
        ];
        for (micros, fields) in (1..).zip(lines) {
            let at = second + Duration::from_micros(micros);
            let line = with_line(at, &fields, <[u8]>::to_vec);
            let mut afresh = LastLine::NONE;
            let latency = itoa::Buffer::new().format(fields.latency_us).to_owned();
            afresh.make(at, &fields, latency.as_bytes());
            assert_eq!(
                String::from_utf8(line).unwrap(),
                String::from_utf8(afresh.text).unwrap(),
                "line {micros}"
            );
        }
        // A new second: the line's start is made again.
        let next_second = second + Duration::from_secs(1);
        let line = with_line(
            next_second,
            &fields(&get, "/", 200, 1, b"a", None),
            <[u8]>::to_vec,
        );
        assert!(line.starts_with(b"{\"timestamp\":\"2026-11-25T14:24:54.000000Z\""));
    }

    #[test]
    fn dates_across_leap_years_and_centuries() {
        for (unix_second, expected) in [
            (0, "1970-01-01T00:00:00"),
            (951_782_400, "2000-02-29T00:00:00"),
            (4_107_542_399, "2100-02-28T23:59:59"),
            (4_107_542_400, "2100-03-01T00:00:00"),
            (1_709_251_199, "2024-02-29T23:59:59"),
        ] {
            let mut text = Vec::new();
            write_date_time(&mut text, unix_second);
            assert_eq!(String::from_utf8(text).unwrap(), expected, "{unix_second}");
        }
    }
}
