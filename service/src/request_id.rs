//! What ties a request's log line to its caller: a request id, answered in
//! `X-Request-Id`, and the trace id of a W3C `traceparent`, when one came in.
//!
//! The caller's own `X-Request-Id` is kept when it is short and plain (a
//! proxy's or a client's id then names the request in both logs); anything
//! else is replaced by one made here, 16 hex digits, so that a client cannot
//! put arbitrary text in the service's logs or answers. Both are taken
//! before the handler runs (the request itself is gone by the time a
//! panicking handler's line is written): the request id as the header value
//! its answer will carry, sharing the bytes it came in or was made in, the
//! trace id copied.
//!
//! Their cost, counted with callgrind (`GET /health`): two header lookups
//! (some 70 instructions each), the answer's header (190, actix's insert),
//! an id made here (45: ids are made 256 at a time, and each answer shares
//! their buffer) and the line's two fields (30). Copying a made id into a
//! header value of its own cost 280 more: an allocation, its free, and the
//! value's check.

use std::cell::RefCell;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::web::Bytes;

/// The header a request id comes in and is answered in.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The W3C Trace Context header.
static TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The longest caller's id kept: a UUID (36) or a ULID (26) fits, with room.
const ID_MAX: usize = 64;

/// A trace id: 32 lowercase hex digits.
const TRACE_ID_LEN: usize = 32;

/// The ids of one request.
pub struct RequestIds {
    /// As the answer will carry it: the caller's, its bytes shared with
    /// the request, or one made here.
    id: HeaderValue,
    trace: Option<[u8; TRACE_ID_LEN]>,
}

impl RequestIds {
    /// The ids of a request with these headers.
    pub fn of(headers: &HeaderMap) -> Self {
        let given = headers
            .get(&X_REQUEST_ID)
            .filter(|value| is_plain_id(value.as_bytes()));
        let id = match given {
            Some(value) => value.clone(),
            None => made_id(),
        };
        let trace = headers
            .get(&TRACEPARENT)
            .and_then(|value| trace_id(value.as_bytes()));
        Self { id, trace }
    }

    /// The request id's bytes: ASCII letters, digits and `-_.:+/=`. The
    /// request line writes them as they are; making a `str` of them first
    /// would cost some 160 instructions a request (callgrind).
    pub fn request_id_bytes(&self) -> &[u8] {
        self.id.as_bytes()
    }

    /// The trace id's bytes: 32 lowercase hex digits.
    pub fn trace_id_bytes(&self) -> Option<&[u8]> {
        self.trace.as_ref().map(|trace| &trace[..])
    }

    pub fn request_id(&self) -> &str {
        std::str::from_utf8(self.request_id_bytes()).unwrap_or_default()
    }

    pub fn trace_id(&self) -> Option<&str> {
        std::str::from_utf8(self.trace_id_bytes()?).ok()
    }

    /// The request id as the answer's `X-Request-Id`.
    pub fn header(&self) -> HeaderValue {
        self.id.clone()
    }

    /// [`RequestIds::header`], for the last use of the ids.
    pub fn into_header(self) -> HeaderValue {
        self.id
    }
}

/// 1 to [`ID_MAX`] letters, digits and `-_.:+/=`: UUIDs, ULIDs, hex and
/// base64 ids, nothing that needs escaping anywhere.
fn is_plain_id(value: &[u8]) -> bool {
    (1..=ID_MAX).contains(&value.len())
        && value
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"-_.:+/=".contains(&b))
}

/// The trace id of a `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`), if it
/// is one: lowercase hex, the ids not all zeros, version `ff` refused, and a
/// later version allowed to append fields, as the W3C recommendation says.
fn trace_id(value: &[u8]) -> Option<[u8; TRACE_ID_LEN]> {
    let hex = |part: &[u8]| part.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let zeros = |part: &[u8]| part.iter().all(|&b| b == b'0');
    let (version, trace, parent, flags) = (
        value.get(0..2)?,
        value.get(3..35)?,
        value.get(36..52)?,
        value.get(53..55)?,
    );
    let dashes = [2, 35, 52].iter().all(|&at| value[at] == b'-');
    let ending = match value.get(55) {
        None => true,
        Some(&b) => version != b"00" && b == b'-',
    };
    let valid = dashes
        && ending
        && [version, trace, parent, flags].into_iter().all(hex)
        && version != b"ff"
        && !zeros(trace)
        && !zeros(parent);
    valid.then(|| trace.try_into().expect("32 bytes"))
}

/// The length of an id made here: 16 hex digits.
const MADE_ID_LEN: usize = 16;

/// How many ids made here one buffer holds: 4 KiB.
const IDS_PER_BATCH: usize = 256;

/// A worker's ids made here, made a batch at a time into one buffer that
/// their answers' headers share: a request's id then costs a reference
/// count, not an allocation and its free (some 200 instructions a request,
/// callgrind).
struct MadeIds {
    /// The next id's number: a random start, then counting.
    counter: u64,
    batch: Bytes,
    /// The batch's next id not given yet.
    next: usize,
}

thread_local! {
    static MADE_IDS: RefCell<Option<MadeIds>> = const { RefCell::new(None) };
}

/// A new id, 16 lowercase hex digits, unique on this thread: SplitMix64 of
/// a counter from a random start is a bijection, so ids on one thread never
/// repeat, and threads start 2^64 values apart at random. Written here, not
/// with a crate: std's seeded hasher is the randomness, and the rest is 10
/// lines.
fn made_id() -> HeaderValue {
    MADE_IDS.with_borrow_mut(|made| {
        let made = made.get_or_insert_with(|| MadeIds {
            counter: random_start(),
            batch: Bytes::new(),
            next: IDS_PER_BATCH,
        });
        if made.next == IDS_PER_BATCH {
            made.make_batch();
        }
        let at = made.next * MADE_ID_LEN;
        made.next += 1;
        // SAFETY: hex digits are visible ASCII, all a header value needs;
        // checking them again cost some 80 instructions a request (callgrind).
        unsafe { HeaderValue::from_maybe_shared_unchecked(made.batch.slice(at..at + MADE_ID_LEN)) }
    })
}

impl MadeIds {
    fn make_batch(&mut self) {
        let mut batch = Vec::with_capacity(IDS_PER_BATCH * MADE_ID_LEN);
        for _ in 0..IDS_PER_BATCH {
            let mut z = self.counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            let mut id = [0; MADE_ID_LEN];
            hex::encode_to_slice(z.to_be_bytes(), &mut id).expect("16 digits for 8 bytes");
            batch.extend_from_slice(&id);
            self.counter = self.counter.wrapping_add(1);
        }
        self.batch = Bytes::from(batch);
        self.next = 0;
    }
}

/// A random u64: std's hasher keys are random, per thread.
fn random_start() -> u64 {
    use std::hash::BuildHasher;
    std::collections::hash_map::RandomState::new().hash_one(0_u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(headers: &[(&str, &str)]) -> RequestIds {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        RequestIds::of(&map)
    }

    fn is_made_here(id: &str) -> bool {
        id.len() == 16 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    }

    #[test]
    fn a_plain_short_id_is_kept_and_anything_else_replaced() {
        for kept in [
            "abc-123",
            "0f8fad5b-d9cb-469f-a165-70867728950e",
            &"x".repeat(64),
        ] {
            let ids = ids(&[("x-request-id", kept)]);
            assert_eq!(ids.request_id(), kept);
            assert_eq!(ids.header(), kept);
        }
        for replaced in ["", &"x".repeat(65), "a b", "a\"b", "<script>", "ид"] {
            let ids = ids(&[("x-request-id", replaced)]);
            assert!(
                is_made_here(ids.request_id()),
                "{replaced:?}: {}",
                ids.request_id()
            );
        }
        assert!(is_made_here(ids(&[]).request_id()));
    }

    #[test]
    fn ids_made_here_do_not_repeat() {
        let made: std::collections::HashSet<String> = (0..10_000)
            .map(|_| ids(&[]).request_id().to_owned())
            .collect();
        assert_eq!(made.len(), 10_000);
    }

    #[test]
    fn a_valid_traceparent_gives_its_trace_id() {
        let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
        let valid = [
            format!("00-{trace}-00f067aa0ba902b7-01"),
            format!("00-{trace}-00f067aa0ba902b7-00"),
            format!("01-{trace}-00f067aa0ba902b7-01-future-field"),
        ];
        for value in &valid {
            assert_eq!(
                ids(&[("traceparent", value)]).trace_id(),
                Some(trace),
                "{value}"
            );
        }
        let invalid = [
            format!("00-{}-00f067aa0ba902b7-01", "0".repeat(32)),
            format!("00-{trace}-0000000000000000-01"),
            format!("00-{}-00f067aa0ba902b7-01", trace.to_uppercase()),
            format!("ff-{trace}-00f067aa0ba902b7-01"),
            format!("00-{trace}-00f067aa0ba902b7-01-extra"),
            format!("00-{trace}-00f067aa0ba902b7"),
            format!("00_{trace}_00f067aa0ba902b7_01"),
            "garbage".to_owned(),
        ];
        for value in &invalid {
            assert_eq!(ids(&[("traceparent", value)]).trace_id(), None, "{value}");
        }
        assert_eq!(ids(&[]).trace_id(), None);
    }
}
