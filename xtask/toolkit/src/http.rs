//! Talking to the services under test: HTTP probes, and picking a free port.

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use anyhow::Result;

/// A free TCP port on 127.0.0.1 (the kernel's pick).
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
}

/// `GET http://127.0.0.1:PORT/PATH` with a 2 s timeout; any status is an answer.
pub fn http_get(port: u16, path: &str) -> Result<Answer> {
    http_get_at(SocketAddr::from(([127, 0, 0, 1], port)), path)
}

/// `GET http://ADDRESS/PATH` with a 2 s timeout; any status is an answer.
pub fn http_get_at(address: SocketAddr, path: &str) -> Result<Answer> {
    http_get_query(address, path, &[])
}

/// [`http_get_at`] with a query string made of `query`'s pairs, encoded.
pub fn http_get_query(address: SocketAddr, path: &str, query: &[(&str, &str)]) -> Result<Answer> {
    let agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .http_status_as_error(false)
        .build()
        .new_agent();
    let request = agent.get(&format!("http://{address}{path}"));
    let mut response = query
        .iter()
        .fold(request, |request, (name, value)| request.query(name, value))
        .call()?;
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response
        .body_mut()
        .with_config()
        .limit(1 << 20)
        .read_to_string()?;
    Ok(Answer {
        status: response.status().as_u16(),
        content_type,
        body,
    })
}
