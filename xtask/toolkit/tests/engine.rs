//! The engine's API on the engine this runs on: reached where the docker CLI
//! would reach it, at a version negotiated with it, never pinned. (Engine
//! 20.10 speaks API 1.41; bollard's own version is newer, and a pinned newer
//! version fails on old engines once bollard sends it in the request path.)
//! Needs a Docker engine; without one it fails, saying how to start one.

use toolkit::engine::{self, engine};

#[test]
fn the_api_version_is_the_older_of_the_engines_and_bollards() {
    let engine = engine().unwrap_or_else(|error| panic!("{error:#}"));
    let server = engine
        .call(async |docker| docker.version().await)
        .expect("GET /version");
    let server_api = server
        .api_version
        .expect("the engine names its API version");
    let version = |text: &str| -> (u32, u32) {
        let (major, minor) = text.split_once('.').expect("MAJOR.MINOR");
        (major.parse().unwrap(), minor.parse().unwrap())
    };
    let expected =
        version(&server_api).min(version(bollard::API_DEFAULT_VERSION.to_string().as_str()));
    assert_eq!(
        version(&engine.api_version()),
        expected,
        "engine speaks {server_api}"
    );
    assert_eq!(
        engine::ensure_engine().unwrap(),
        server.version.unwrap_or_default()
    );
}

#[test]
fn a_missing_image_is_said_and_is_no_error_for_image_id() {
    let missing = "image-lab-test/no-such-image:never";
    assert_eq!(engine::image_id(missing).unwrap(), None);
    let error = engine::inspect_image(missing).unwrap_err().to_string();
    assert!(
        error.starts_with("no image \"image-lab-test/no-such-image:never\""),
        "{error}"
    );
}
