//! The benchmark's limit: a bare actix-web server answering `GET /health`
//! and `GET /` with fixed bodies and nothing else (no logging, no state, no
//! signal handling of its own: actix's defaults). Never shipped in the image.

use actix_web::{App, HttpResponse, HttpServer, web};

fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8000);
    actix_web::rt::System::new().block_on(
        HttpServer::new(|| {
            App::new()
                .route(
                    "/health",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("application/json")
                            .body("{\"status\":\"ok\"}\n")
                    }),
                )
                .route(
                    "/",
                    web::get().to(|| async {
                        HttpResponse::Ok()
                            .content_type("text/html; charset=utf-8")
                            .body("Hello from Docker! Rocket=Small\n")
                    }),
                )
        })
        .bind(("127.0.0.1", port))?
        .run(),
    )
}
