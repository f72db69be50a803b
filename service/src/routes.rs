//! The HTTP contract, answering byte for byte like the lab's Flask app.
//!
//! Everything that depends only on the configuration (the `/` page, the
//! `/proof` answer) is rendered once at start, so a request costs no more than
//! copying a reference-counted buffer.

use std::cell::RefCell;
use std::time::Instant;

use actix_web::body::BoxBody;
use actix_web::http::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes, ServiceConfig};
use actix_web::{Handler, HttpResponse, Resource, Responder, guard};
use serde::Serialize;

use crate::configuration::Settings;
use crate::proof::lab_proof;
use crate::shutdown::Lifecycle;

const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// What the handlers need, built once at start.
pub struct AppState {
    started: Instant,
    index: Bytes,
    proof: (StatusCode, Bytes),
    lifecycle: Lifecycle,
}

/// A JSON body as Flask's `jsonify` writes it: compact, then a newline.
fn json_line(value: &impl Serialize) -> Bytes {
    let mut body = serde_json::to_vec(value).expect("plain structs always serialize");
    body.push(b'\n');
    Bytes::from(body)
}

fn error_body(error: &str) -> Bytes {
    #[derive(Serialize)]
    struct Error<'a> {
        error: &'a str,
    }
    json_line(&Error { error })
}

impl AppState {
    pub fn new(settings: &Settings, started: Instant, lifecycle: Lifecycle) -> Self {
        #[derive(Serialize)]
        struct Proof<'a> {
            login: &'a str,
            ok: bool,
            proof: String,
        }
        let proof = match &settings.secret {
            None => (StatusCode::BAD_REQUEST, error_body("no-secret")),
            Some(secret) => (
                StatusCode::OK,
                json_line(&Proof {
                    login: &settings.lab_login,
                    ok: true,
                    proof: lab_proof(secret.expose(), &settings.lab_login, &settings.lab_token),
                }),
            ),
        };
        Self {
            started,
            index: Bytes::from(format!(
                "Hello from Docker! Rocket={}\n",
                settings.rocket_size
            )),
            proof,
            lifecycle,
        }
    }
}

pub(crate) fn respond(status: StatusCode, content_type: HeaderValue, body: Bytes) -> HttpResponse {
    let mut response = HttpResponse::with_body(status, BoxBody::new(body));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

// Handlers take the state as actix's `web::Data` extractor: `configure`
// registers it, so it is always there (a missing one would be a 500, not a panic).
async fn index(state: web::Data<AppState>) -> HttpResponse {
    respond(StatusCode::OK, HTML, state.index.clone())
}

/// `started`: when the service started. Taken by value rather than through
/// the state's extractor, which costs some 240 instructions a request
/// (callgrind): this is the path orchestrators probe every few seconds.
async fn health(started: Instant) -> HttpResponse {
    // Python's round(x, 2): the body changes once every hundredth of a
    // second, so each worker keeps its last one and under load most requests
    // share it (making it costs some 600 instructions: a float, a buffer).
    let hundredths = (started.elapsed().as_secs_f64() * 100.0).round();
    let body = HEALTH_BODY.with_borrow_mut(|(made_for, body)| {
        if *made_for != Some((started, hundredths.to_bits())) {
            *made_for = Some((started, hundredths.to_bits()));
            *body = health_body(hundredths / 100.0);
        }
        body.clone()
    });
    respond(StatusCode::OK, JSON, body)
}

thread_local! {
    /// The worker's last `/health` body, and the start and uptime it was made for.
    static HEALTH_BODY: RefCell<(Option<(Instant, u64)>, Bytes)> =
        const { RefCell::new((None, Bytes::new())) };
}

/// `{"status":"ok","uptime":3.0}`: serde_json writes 3.0 rather than 3, as
/// Flask does. Only the number goes through it; the rest is fixed.
fn health_body(uptime: f64) -> Bytes {
    let mut body = Vec::with_capacity(40);
    body.extend_from_slice(br#"{"status":"ok","uptime":"#);
    serde_json::to_writer(&mut body, &uptime).expect("an f64 serializes into a Vec");
    body.extend_from_slice(b"}\n");
    Bytes::from(body)
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if !state.lifecycle.is_draining() {
        respond(
            StatusCode::OK,
            JSON,
            Bytes::from_static(b"{\"status\":\"ready\"}\n"),
        )
    } else {
        respond(
            StatusCode::SERVICE_UNAVAILABLE,
            JSON,
            Bytes::from_static(b"{\"status\":\"shutting-down\"}\n"),
        )
    }
}

async fn proof(state: web::Data<AppState>) -> HttpResponse {
    let (status, body) = &state.proof;
    respond(*status, JSON, body.clone())
}

pub(crate) async fn not_found() -> HttpResponse {
    respond(
        StatusCode::NOT_FOUND,
        JSON,
        Bytes::from_static(b"{\"error\":\"not-found\"}\n"),
    )
}

/// The answer to a request whose handler panicked (see panics.rs).
pub fn internal_error() -> HttpResponse {
    respond(
        StatusCode::INTERNAL_SERVER_ERROR,
        JSON,
        Bytes::from_static(b"{\"error\":\"internal\"}\n"),
    )
}

async fn method_not_allowed() -> HttpResponse {
    let mut response = respond(
        StatusCode::METHOD_NOT_ALLOWED,
        JSON,
        Bytes::from_static(b"{\"error\":\"method-not-allowed\"}\n"),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

/// A path answering GET and HEAD (actix-web sends HEAD answers without their
/// body), and 405 with an `Allow` header to any other method.
///
/// The method is compared by a plain function guard: actix's method guards
/// (`guard::Get()`, `web::get()`) also record every method they see in the
/// request's extensions, for actix's own 405 answer (this one writes its
/// `Allow` itself), at some 430 instructions a request, an allocation
/// included (callgrind, `GET /health`).
pub fn get_resource<F, Args>(path: &str, handler: F) -> Resource
where
    F: Handler<Args>,
    Args: actix_web::FromRequest + 'static,
    F::Output: Responder + 'static,
{
    web::resource(path)
        // Named by its own pattern, so that /metrics knows it without
        // building the pattern each request (see request_metrics.rs).
        .name(path)
        .route(
            web::route()
                .guard(guard::fn_guard(|context| {
                    matches!(context.head().method, Method::GET | Method::HEAD)
                }))
                .to(handler),
        )
        .default_service(web::to(method_not_allowed))
}

/// Mounts the service's routes and their shared state on an app.
pub fn configure(config: &mut ServiceConfig, state: web::Data<AppState>) {
    let started = state.started;
    config
        .app_data(state)
        .service(get_resource("/", index))
        .service(get_resource("/health", move || health(started)))
        .service(get_resource("/ready", ready))
        .service(get_resource("/proof", proof))
        .default_service(web::to(not_found));
}

#[cfg(test)]
mod tests {
    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, web};

    use super::*;

    /// `/ready` seen in-process: over the network the drain refuses new
    /// connections, so only the application itself shows the flip.
    #[test]
    fn ready_turns_503_once_draining_begins() {
        actix_web::rt::System::new().block_on(async {
            let lifecycle = Lifecycle::default();
            let settings = Settings::from_vars(Vec::new()).unwrap();
            let state = web::Data::new(AppState::new(&settings, Instant::now(), lifecycle.clone()));
            let app = init_service(App::new().configure(|config| configure(config, state))).await;
            let ready = || TestRequest::get().uri("/ready").to_request();

            let serving = call_service(&app, ready()).await;
            assert_eq!(serving.status(), StatusCode::OK);
            assert_eq!(read_body(serving).await, "{\"status\":\"ready\"}\n");

            lifecycle.begin_draining();
            let draining = call_service(&app, ready()).await;
            assert_eq!(draining.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(
                draining.headers().get(CONTENT_TYPE).unwrap(),
                "application/json"
            );
            assert_eq!(
                read_body(draining).await,
                "{\"status\":\"shutting-down\"}\n"
            );
        });
    }
}
