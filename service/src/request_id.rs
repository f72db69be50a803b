//! What ties a request's log line to its caller: a request id, answered in
//! `X-Request-Id`, and the trace id of a W3C `traceparent`, when one came in.
//!
//! The caller's own `X-Request-Id` is kept when it is short and plain (a
//! proxy's or a client's id then names the request in both logs); anything
//! else is replaced by one made here, 16 hex digits, so that a client cannot
//! put arbitrary text in the service's logs or answers. Both ids are copied
//! into a buffer of fixed size before the handler runs: the request itself
//! is gone by the time a panicking handler's line is written.
//!
//! Their cost, counted with callgrind (`cargo xtask bench --quick`, `GET
//! /health`): 18,321 instructions a request without them, 19,545 with; two
//! header lookups (some 85 each), the answer's header (190, and its
//! allocation), the id made here (60) and the line's two fields (60).

use std::cell::Cell;

use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

/// The header a request id comes in and is answered in.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The W3C Trace Context header.
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");

/// The longest caller's id kept: a UUID (36) or a ULID (26) fits, with room.
const ID_MAX: usize = 64;

/// A trace id: 32 lowercase hex digits.
const TRACE_ID_LEN: usize = 32;

/// The ids of one request.
#[derive(Clone, Copy)]
pub struct RequestIds {
    id: [u8; ID_MAX],
    id_len: u8,
    trace: Option<[u8; TRACE_ID_LEN]>,
}

impl RequestIds {
    /// The ids of a request with these headers.
    pub fn of(headers: &HeaderMap) -> Self {
        let mut id = [0; ID_MAX];
        let given = headers
            .get(X_REQUEST_ID)
            .map(HeaderValue::as_bytes)
            .filter(|value| is_plain_id(value));
        let id_len = match given {
            Some(value) => {
                id[..value.len()].copy_from_slice(value);
                value.len()
            }
            None => {
                id[..16].copy_from_slice(&new_id());
                16
            }
        };
        let trace = headers
            .get(TRACEPARENT)
            .and_then(|value| trace_id(value.as_bytes()));
        Self {
            id,
            id_len: id_len as u8,
            trace,
        }
    }

    /// The request id's bytes: ASCII letters, digits and `-_.:+/=`. The
    /// request line writes them as they are; making a `str` of them first
    /// would cost some 160 instructions a request (callgrind).
    pub fn request_id_bytes(&self) -> &[u8] {
        &self.id[..usize::from(self.id_len)]
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
        HeaderValue::from_bytes(self.request_id_bytes()).expect("a request id is visible ASCII")
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

thread_local! {
    /// The worker's id generator: a random start, then a counter.
    static NEXT_ID: Cell<Option<u64>> = const { Cell::new(None) };
}

/// 16 lowercase hex digits, new on this thread: SplitMix64 of a counter
/// from a random start is a bijection, so ids on one thread never repeat,
/// and threads start 2^64 values apart at random. Written here, not with a
/// crate: std's seeded hasher is the randomness, and the rest is 10 lines.
fn new_id() -> [u8; 16] {
    let counter = NEXT_ID.with(|next| {
        let value = next.get().unwrap_or_else(random_start);
        next.set(Some(value.wrapping_add(1)));
        value
    });
    let mut z = counter.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    let mut out = [0; 16];
    for (i, digit) in out.iter_mut().enumerate() {
        *digit = b"0123456789abcdef"[(z >> (60 - 4 * i)) as usize & 0xf];
    }
    out
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
