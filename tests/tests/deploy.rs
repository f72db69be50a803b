//! `deploy/k8s` held to the code: the objects exactly as `kubectl kustomize`
//! renders them, against the service's own settings and routes (its library,
//! the code the binary runs) and the Dockerfile's `USER`. A manifest that
//! drifts from the code (a port, a probe path, a grace period shorter than the
//! drain) fails here, before any cluster sees it.
//!
//! Needs kubectl (kustomize is built in) and promtool (the alerts in
//! deploy/prometheus); no cluster, no Docker engine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::LazyLock;
use std::time::Instant;

use actix_web::test::{TestRequest, call_service, init_service};
use actix_web::{App, web};
use serde::Deserialize;
use serde_json::{Value, json};
use service::configuration::Settings;
use service::routes::{AppState, configure};
use service::shutdown::Lifecycle;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the repository")
        .to_owned()
}

/// The rendered objects, or why there are none (every test then fails with it).
static RENDERED: LazyLock<Result<Vec<Value>, String>> = LazyLock::new(render);

fn render() -> Result<Vec<Value>, String> {
    let output = Command::new("kubectl")
        .arg("kustomize")
        .arg(repository().join("deploy/k8s"))
        .output()
        .map_err(|e| {
            format!(
                "cannot run `kubectl kustomize deploy/k8s` ({e}): these tests need kubectl \
                 (it carries kustomize) on PATH"
            )
        })?;
    if !output.status.success() {
        return Err(format!(
            "`kubectl kustomize deploy/k8s` failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    serde_norway::Deserializer::from_slice(&output.stdout)
        .map(|document| Value::deserialize(document).map_err(|e| format!("rendered YAML: {e}")))
        .collect()
}

fn objects() -> &'static [Value] {
    RENDERED.as_deref().unwrap_or_else(|why| panic!("{why}"))
}

/// The one rendered object of this kind.
fn object(kind: &str) -> &'static Value {
    let found: Vec<_> = objects().iter().filter(|o| o["kind"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind}, rendered {found:?}");
    found[0]
}

fn pod_spec() -> &'static Value {
    &object("Deployment")["spec"]["template"]["spec"]
}

/// The Deployment's one container.
fn container() -> &'static Value {
    let containers = pod_spec()["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "one container: {containers:?}");
    &containers[0]
}

/// The environment the container starts with, as literal values: `env`
/// entries with a `value`, and the ConfigMaps of `envFrom` (which must exist).
fn environment() -> Vec<(String, String)> {
    let mut vars = Vec::new();
    for source in container()["envFrom"].as_array().into_iter().flatten() {
        let name = &source["configMapRef"]["name"];
        let map = objects()
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == *name)
            .unwrap_or_else(|| panic!("envFrom names ConfigMap {name}, which is not rendered"));
        for (key, value) in map["data"].as_object().expect("ConfigMap data") {
            vars.push((key.clone(), value.as_str().expect("string").to_owned()));
        }
    }
    for var in container()["env"].as_array().into_iter().flatten() {
        if let Some(value) = var["value"].as_str() {
            vars.push((
                var["name"].as_str().expect("name").to_owned(),
                value.to_owned(),
            ));
        }
    }
    vars
}

/// The service's settings in the pod: its own parsing of the pod's environment.
fn settings() -> Settings {
    Settings::from_vars(environment()).unwrap_or_else(|e| panic!("the manifests' environment: {e}"))
}

fn seconds(value: &Value, what: &str) -> u64 {
    value
        .as_u64()
        .unwrap_or_else(|| panic!("{what}: expected whole seconds, got {value}"))
}

#[test]
fn the_container_ports_are_the_ports_the_service_listens_on() {
    let Settings {
        host,
        port,
        metrics_port,
        ..
    } = settings();
    let metrics_port = metrics_port.expect("metrics on in the pod");
    assert!(
        host.is_unspecified(),
        "the service must listen on every interface for the probes and the Service to reach it, not {host}"
    );
    assert_eq!(
        port, 8000,
        "the service's default, unchanged by the manifests"
    );
    assert_eq!(
        container()["ports"],
        json!([
            {"name": "http", "containerPort": port, "protocol": "TCP"},
            {"name": "metrics", "containerPort": metrics_port, "protocol": "TCP"},
        ])
    );
    // The Service leads clients to the service's port only; the NetworkPolicy
    // lets anyone in there, and only the monitoring namespace to the metrics.
    assert_eq!(
        object("Service")["spec"]["ports"],
        json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        object("NetworkPolicy")["spec"]["ingress"],
        json!([
            {"ports": [{"port": port, "protocol": "TCP"}]},
            {
                "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                "ports": [{"port": metrics_port, "protocol": "TCP"}],
            },
        ])
    );
}

#[test]
fn prometheus_is_told_where_the_metrics_are() {
    let annotations = &object("Deployment")["spec"]["template"]["metadata"]["annotations"];
    let metrics_port = settings().metrics_port.expect("metrics on in the pod");
    assert_eq!(annotations["prometheus.io/scrape"], "true");
    assert_eq!(annotations["prometheus.io/port"], metrics_port.to_string());
    let path = annotations["prometheus.io/path"].as_str().expect("a path");
    // The path answers on the metrics port's own app, in the OpenMetrics format.
    let content_type = actix_web::rt::System::new().block_on(async {
        let (registry, _) = service::metrics::register();
        let registry = std::sync::Arc::new(registry);
        let app = init_service(
            App::new().configure(|config| service::metrics::configure_endpoint(config, registry)),
        )
        .await;
        let answer = call_service(&app, TestRequest::get().uri(path).to_request()).await;
        assert_eq!(answer.status(), 200, "GET {path} on the metrics port");
        let content_type = answer
            .headers()
            .get("content-type")
            .expect("a content type");
        content_type.to_str().unwrap().to_owned()
    });
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
}

#[test]
fn the_pod_runs_as_the_dockerfiles_user() {
    let dockerfile = std::fs::read_to_string(repository().join("Dockerfile")).expect("Dockerfile");
    // The last USER instruction is the final stage's: the one the image runs as.
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("USER "))
        .expect("the Dockerfile has a USER instruction");
    let (uid, gid) = user.trim().split_once(':').expect("USER uid:gid, numeric");
    let (uid, gid): (u64, u64) = (uid.parse().expect("uid"), gid.parse().expect("gid"));
    assert_eq!((uid, gid), (10001, 10001));
    let pod = &pod_spec()["securityContext"];
    assert_eq!(pod["runAsUser"], uid);
    assert_eq!(pod["runAsGroup"], gid);
    assert_eq!(pod["runAsNonRoot"], true);
}

/// The status the service's own routes give `GET path`, serving or draining.
fn status(path: &str, draining: bool) -> u16 {
    actix_web::rt::System::new().block_on(async {
        let settings = settings();
        let lifecycle = Lifecycle::default();
        let state = web::Data::new(AppState::new(&settings, Instant::now(), lifecycle.clone()));
        let app = init_service(App::new().configure(|config| configure(config, state))).await;
        if draining {
            lifecycle.begin_draining();
        }
        let request = TestRequest::get().uri(path).to_request();
        call_service(&app, request).await.status().as_u16()
    })
}

#[test]
fn the_probes_ask_the_services_own_routes() {
    let probe = |name: &str| {
        let get = &container()[name]["httpGet"];
        assert_eq!(get["port"], "http", "{name} asks the container's port");
        get["path"].as_str().expect("path").to_owned()
    };
    let (startup, readiness, liveness) = (
        probe("startupProbe"),
        probe("readinessProbe"),
        probe("livenessProbe"),
    );
    assert_eq!(
        (&*startup, &*readiness, &*liveness),
        ("/health", "/ready", "/health")
    );
    // Serving, every probe passes; once the drain begins the pod leaves the
    // endpoints (readiness fails) but is not restarted (liveness passes).
    for path in [&startup, &readiness, &liveness] {
        assert_eq!(status(path, false), 200, "GET {path} while serving");
    }
    assert_eq!(
        status(&readiness, true),
        503,
        "GET {readiness} while draining"
    );
    assert_eq!(
        status(&liveness, true),
        200,
        "GET {liveness} while draining"
    );
    // A restart costs more than leaving the endpoints: liveness decides slower.
    assert!(
        container()["livenessProbe"]["failureThreshold"].as_u64()
            > container()["readinessProbe"]["failureThreshold"].as_u64()
    );
}

#[test]
fn the_grace_period_outlasts_the_prestop_sleep_and_the_drain() {
    let grace = seconds(&pod_spec()["terminationGracePeriodSeconds"], "grace period");
    let pre_stop = seconds(
        &container()["lifecycle"]["preStop"]["sleep"]["seconds"],
        "preStop sleep",
    );
    let drain = settings().shutdown_timeout.as_secs();
    assert_eq!((grace, pre_stop, drain), (15, 5, 5));
    assert!(
        grace > pre_stop + drain,
        "SIGKILL after {grace} s, before the {pre_stop} s sleep and the {drain} s drain end"
    );
}

#[test]
fn the_pod_meets_the_restricted_profile() {
    assert_eq!(
        object("Namespace")["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "restricted"
    );
    let pod = pod_spec();
    assert_eq!(
        pod["securityContext"]["seccompProfile"],
        json!({"type": "RuntimeDefault"})
    );
    assert_eq!(pod["automountServiceAccountToken"], false);
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        assert_eq!(pod[host], Value::Null, "{host} is not set");
    }
    assert_eq!(
        container()["securityContext"],
        json!({
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": {"drop": ["ALL"]},
            "privileged": false,
            "runAsNonRoot": true,
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    );
}

#[test]
fn the_secret_is_referenced_never_written() {
    let secret: Vec<_> = container()["env"]
        .as_array()
        .expect("env")
        .iter()
        .filter(|var| var["name"] == "SECRET")
        .collect();
    assert_eq!(
        secret,
        [
            &json!({"name": "SECRET", "valueFrom": {"secretKeyRef": {"name": "image-lab-secret", "key": "SECRET"}}})
        ]
    );
    assert!(
        objects().iter().all(|o| o["kind"] != "Secret"),
        "no Secret object in the repository: the operator creates it"
    );
    assert!(
        settings().secret.is_none(),
        "no literal SECRET in the environment"
    );
}

#[test]
fn two_replicas_roll_without_going_below_two() {
    let deployment = object("Deployment");
    assert_eq!(deployment["spec"]["replicas"], 2);
    assert_eq!(
        deployment["spec"]["strategy"],
        json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}})
    );
    assert_eq!(
        container()["image"],
        "local/image-lab:dev",
        "compose.yml's default image"
    );
    // Every object that selects the pods selects them by their labels.
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(deployment["spec"]["selector"]["matchLabels"], *labels);
    assert_eq!(object("Service")["spec"]["selector"], *labels);
    assert_eq!(
        object("PodDisruptionBudget")["spec"]["selector"]["matchLabels"],
        *labels
    );
    assert_eq!(object("PodDisruptionBudget")["spec"]["minAvailable"], 1);
    assert_eq!(
        object("NetworkPolicy")["spec"]["podSelector"]["matchLabels"],
        *labels
    );
}

/// `promtool` with `args` in deploy/prometheus: its output, once it succeeded.
fn promtool(args: &[&str]) -> String {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(repository().join("deploy/prometheus"))
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run promtool ({e}): install Debian's prometheus package (.ci/run does)")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "promtool {args:?}:\n{said}");
    said
}

#[test]
fn the_alerts_are_valid_and_fire_as_their_tests_say() {
    assert!(promtool(&["check", "rules", "alerts.yml"]).contains("SUCCESS: 3 rules found"));
    promtool(&["test", "rules", "alerts.test.yml"]);
    // Each asks for the namespace the manifests deploy into, and no other.
    let namespace = object("Namespace")["metadata"]["name"]
        .as_str()
        .expect("a name");
    let alerts = std::fs::read_to_string(repository().join("deploy/prometheus/alerts.yml"))
        .expect("deploy/prometheus/alerts.yml");
    let asked: Vec<&str> = alerts
        .split("namespace=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert_eq!(asked, [namespace; 4]);
    // MemoryNearLimit's limit is the container's.
    assert_eq!(container()["resources"]["limits"]["memory"], "64Mi");
    assert!(alerts.contains("> 0.8 * 64 * 1024 * 1024"), "{alerts}");
}
