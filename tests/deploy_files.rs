//! The deployment files (`deploy/`) against what the binary actually uses: ports and
//! addresses, the health check command and probes, config and state paths, settings keys,
//! the metrics path and every metric the Grafana dashboard queries. A rename in the server
//! breaks this test instead of a deployment.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use switchboard_server::settings::Overrides;
use switchboard_server::{LoadedConfig, Settings};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(deploy(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_yaml_ng::from_str(&read(path)).unwrap_or_else(|e| panic!("deploy/{path}: {e}"))
}

fn str_of<'a>(v: &'a Value, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what}: expected a string, got {v}"))
}

fn strings(v: &Value, what: &str) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("{what}: expected a list, got {v}"))
        .iter()
        .map(|s| str_of(s, what).to_string())
        .collect()
}

/// `SWITCHBOARD_*` variables through the server's real settings loader (figment, with
/// `deny_unknown_fields`), as a `[server]` table: an unknown key or a bad value fails here.
fn settings_from_env(vars: &BTreeMap<String, String>, what: &str) -> Settings {
    let mut table = String::from("[server]\n");
    for (key, value) in vars {
        let key = key
            .strip_prefix("SWITCHBOARD_")
            .unwrap_or_else(|| panic!("{what}: {key} is not a SWITCHBOARD_ setting"));
        assert!(!key.contains("__"), "{what}: nested keys are not checked here: {key}");
        table.push_str(&format!("{} = {:?}\n", key.to_ascii_lowercase(), value));
    }
    let file = std::env::temp_dir().join(format!(
        "switchboard-deploy-{}-{}.toml",
        std::process::id(),
        what.replace('/', "-")
    ));
    std::fs::write(&file, table).unwrap();
    let settings = Settings::load(Some(&file), &Overrides::default())
        .unwrap_or_else(|e| panic!("{what}: settings the server refuses: {e}"));
    let _ = std::fs::remove_file(&file);
    settings
}

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

/// Every `--flag` of `switchboard ARGS --help`.
fn flags_of(args: &[&str]) -> Vec<String> {
    let out = Command::new(binary()).args(args).arg("--help").output().unwrap();
    assert!(out.status.success(), "switchboard {args:?} --help failed");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter(|w| w.starts_with("--"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_alphanumeric()).to_string())
        .collect()
}

/// Checks `args` (after the binary) are a real subcommand with real flags; returns the flags
/// and their values.
fn check_command(args: &[String], what: &str) -> BTreeMap<String, String> {
    let subcommand = args.first().unwrap_or_else(|| panic!("{what}: no subcommand"));
    let known = flags_of(&[subcommand]);
    let mut flags = BTreeMap::new();
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        assert!(known.contains(flag), "{what}: `switchboard {subcommand}` has no flag {flag}");
        flags.insert(flag.clone(), rest.next().cloned().unwrap_or_default());
    }
    flags
}

/// The example center's files, which every deployment ships.
fn example_files() -> Vec<&'static str> {
    vec!["contact-center.toml", "customers.csv"]
}

// --- Dockerfile ---------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Dockerfile {
    stages: Vec<String>,
    /// Instructions of the last stage: (keyword, rest of the line).
    runtime: Vec<(String, String)>,
}

fn parse_dockerfile(text: &str) -> Dockerfile {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(start) = trimmed.strip_suffix('\\') {
            current.push_str(start);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            joined.push(std::mem::take(&mut current));
        }
    }
    let mut file = Dockerfile::default();
    for line in joined {
        let (keyword, rest) = line.split_once(' ').unwrap_or((&line, ""));
        let keyword = keyword.to_ascii_uppercase();
        if keyword == "FROM" {
            file.stages.push(rest.trim().to_string());
            file.runtime.clear();
        }
        file.runtime.push((keyword, rest.trim().to_string()));
    }
    file
}

impl Dockerfile {
    fn all(&self, keyword: &str) -> Vec<&str> {
        self.runtime.iter().filter(|(k, _)| k == keyword).map(|(_, r)| r.as_str()).collect()
    }
    fn one(&self, keyword: &str) -> &str {
        let all = self.all(keyword);
        assert_eq!(all.len(), 1, "Dockerfile runtime stage: one {keyword} expected");
        all[0]
    }
    fn exec_form(&self, keyword: &str) -> Vec<String> {
        let text = self.one(keyword);
        let json = text.strip_prefix("CMD ").unwrap_or(text);
        let json =
            &json[json.find('[').unwrap_or_else(|| panic!("{keyword}: exec form expected"))..];
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{keyword}: {e}"))
    }
    fn env(&self) -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        for env in self.all("ENV") {
            for pair in env.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("ENV key=value");
                vars.insert(k.to_string(), v.trim_matches('"').to_string());
            }
        }
        vars
    }
    /// COPY destinations of the runtime stage.
    fn copies(&self) -> Vec<(String, String)> {
        self.all("COPY")
            .iter()
            .map(|c| {
                let words: Vec<&str> =
                    c.split_whitespace().filter(|w| !w.starts_with("--")).collect();
                (words[0].to_string(), words[words.len() - 1].to_string())
            })
            .collect()
    }
}

fn parent(path: &str) -> String {
    Path::new(path).parent().unwrap().display().to_string()
}

struct Image {
    binary: String,
    health: Vec<String>,
    cmd: Vec<String>,
    env: BTreeMap<String, String>,
}

fn check_dockerfile() -> Image {
    let file = parse_dockerfile(&read("Dockerfile"));
    assert!(file.stages.len() >= 2, "multi-stage build expected: {:?}", file.stages);
    assert!(file.stages[0].to_ascii_lowercase().ends_with(" as build"), "{:?}", file.stages);
    let user = file.one("USER");
    let uid = user.split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "the runtime image runs as root: USER {user}");

    let env = file.env();
    let settings = settings_from_env(&env, "Dockerfile");
    let exposed: Vec<u16> = file
        .all("EXPOSE")
        .iter()
        .flat_map(|e| e.split_whitespace())
        .map(|p| p.parse().unwrap())
        .collect();
    for (what, addr) in [("grpc", settings.grpc_addr), ("http", settings.http_addr)] {
        assert!(
            addr.ip().is_unspecified(),
            "Dockerfile: {what} must listen on all interfaces in a container"
        );
        assert!(
            exposed.contains(&addr.port()),
            "Dockerfile: {what} port {} not exposed",
            addr.port()
        );
    }

    let copies = file.copies();
    let entrypoint = file.exec_form("ENTRYPOINT");
    assert_eq!(entrypoint.len(), 1);
    let binary = entrypoint[0].clone();
    assert!(
        copies.iter().any(|(from, to)| from.ends_with("/switchboard") && *to == binary),
        "{binary} is not copied into the image"
    );

    let cmd = file.exec_form("CMD");
    let flags = check_command(&cmd, "Dockerfile CMD");
    let config = &flags["--config"];
    assert!(
        copies.iter().any(|(_, to)| *to == parent(config)),
        "Dockerfile: {config} is not in a copied directory"
    );
    assert!(example_files().contains(&Path::new(config).file_name().unwrap().to_str().unwrap()));

    let records = parent(settings.records_db.to_str().unwrap());
    let volume: Vec<String> = serde_json::from_str(file.one("VOLUME")).unwrap();
    assert_eq!(
        volume,
        std::slice::from_ref(&records),
        "Dockerfile: the records directory is the volume"
    );
    assert!(
        file.all("COPY")
            .iter()
            .any(|c| c.contains(&format!("--chown={user}")) && c.ends_with(&records)),
        "Dockerfile: {records} must belong to the runtime user"
    );

    let health = file.exec_form("HEALTHCHECK");
    assert_eq!(health[0], binary, "the health check runs the image's binary");
    let health_flags = check_command(&health[1..], "Dockerfile HEALTHCHECK");
    let probed: SocketAddr = health_flags["--addr"].parse().unwrap();
    assert_eq!(probed.port(), settings.grpc_addr.port(), "the health check asks the gRPC port");
    assert!(probed.ip().is_loopback());
    Image { binary, health, cmd, env }
}

#[test]
fn dockerfile_compose_prometheus_and_grafana_match_the_binary() {
    let image = check_dockerfile();

    let compose = yaml("compose.yaml");
    let sb = &compose["services"]["switchboard"];
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(str_of(&sb["build"]["context"], "build.context"))
        .join(str_of(&sb["build"]["dockerfile"], "build.dockerfile"));
    assert!(dockerfile.exists(), "compose: {} does not exist", dockerfile.display());
    let env: BTreeMap<String, String> = sb["environment"]
        .as_object()
        .expect("environment as a map")
        .iter()
        .map(|(k, v)| (k.clone(), str_of(v, k).to_string()))
        .collect();
    assert_eq!(env, image.env, "compose and the image set the same settings");
    let settings = settings_from_env(&env, "compose");
    let published: Vec<u16> = strings(&sb["ports"], "ports")
        .iter()
        .map(|p| p.rsplit(':').next().unwrap().parse().unwrap())
        .collect();
    assert!(
        published.contains(&settings.grpc_addr.port())
            && published.contains(&settings.http_addr.port()),
        "compose ports {published:?}"
    );
    let test = strings(&sb["healthcheck"]["test"], "healthcheck.test");
    assert_eq!(test[0], "CMD");
    assert_eq!(test[1..], image.health[..], "compose and Dockerfile health checks agree");
    assert_eq!(strings(&sb["command"], "command"), image.cmd);
    let mounts = strings(&sb["volumes"], "volumes");
    let config_dir = parent(&check_command(&image.cmd, "compose command")["--config"]);
    let config_mount = mounts
        .iter()
        .find(|m| m.split(':').nth(1) == Some(config_dir.as_str()))
        .unwrap_or_else(|| panic!("compose: nothing mounted at {config_dir}"));
    let source = deploy(config_mount.split(':').next().unwrap());
    for f in example_files() {
        assert!(source.join(f).exists(), "compose: {} has no {f}", source.display());
    }
    let records_dir = parent(settings.records_db.to_str().unwrap());
    assert!(
        mounts.iter().any(|m| m.split(':').nth(1) == Some(records_dir.as_str())),
        "compose: records directory {records_dir} is not a volume"
    );
    assert!(image.binary.starts_with('/'));

    // Prometheus scrapes the path and port the server serves metrics on.
    let prometheus = &compose["services"]["prometheus"];
    let prom_mount = strings(&prometheus["volumes"], "prometheus.volumes")
        .into_iter()
        .find(|m| m.ends_with("prometheus.yml:ro") || m.ends_with("prometheus.yml"))
        .expect("prometheus.yml mounted");
    let prom_file = prom_mount.split(':').next().unwrap().trim_start_matches("./");
    let prom = yaml(prom_file);
    let job = &prom["scrape_configs"][0];
    assert_eq!(str_of(&job["metrics_path"], "metrics_path"), "/metrics");
    let targets = strings(&job["static_configs"][0]["targets"], "targets");
    assert_eq!(targets, [format!("switchboard:{}", settings.http_addr.port())]);

    // Grafana: the datasource points at the Prometheus service, the provider at the mounted
    // dashboards.
    let grafana = &compose["services"]["grafana"];
    let gmounts = strings(&grafana["volumes"], "grafana.volumes");
    let mounted = |target: &str| {
        gmounts
            .iter()
            .find_map(|m| {
                let mut parts = m.split(':');
                let (src, dst) = (parts.next()?, parts.next()?);
                (dst == target).then(|| src.trim_start_matches("./").to_string())
            })
            .unwrap_or_else(|| panic!("grafana: nothing mounted at {target}"))
    };
    let provisioning = mounted("/etc/grafana/provisioning");
    let datasource = yaml(&format!("{provisioning}/datasources/prometheus.yml"));
    assert_eq!(str_of(&datasource["datasources"][0]["url"], "url"), "http://prometheus:9090");
    let provider = yaml(&format!("{provisioning}/dashboards/switchboard.yml"));
    let dashboards_path = str_of(&provider["providers"][0]["options"]["path"], "path").to_string();
    let dashboards = mounted(&dashboards_path);
    let home = str_of(&grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"], "home");
    let home_file = Path::new(home)
        .strip_prefix(&dashboards_path)
        .expect("home dashboard under the provider path");
    let dashboard: Value =
        serde_json::from_str(&read(&format!("{dashboards}/{}", home_file.display()))).unwrap();
    let uid = str_of(&datasource["datasources"][0]["uid"], "uid");
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(panels.len() >= 6);
    for panel in panels {
        assert_eq!(
            panel["datasource"]["uid"], uid,
            "panel {} uses the provisioned datasource",
            panel["title"]
        );
    }
    let metrics = served_metric_names();
    for name in dashboard_metrics(&dashboard) {
        assert!(metrics.contains(&name), "the dashboard queries {name}, which the server does not export; it exports {metrics:?}");
    }
}

/// Metric names in the dashboard's queries and variables.
fn dashboard_metrics(dashboard: &Value) -> Vec<String> {
    let text = dashboard.to_string();
    let mut names = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("switchboard_") {
        let name: String =
            rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        if !names.contains(&name) {
            names.push(name);
        }
    }
    assert!(names.len() >= 6, "the dashboard queries metrics: {names:?}");
    names
}

// --- A live server: health command, metrics --------------------------------------------

struct Live {
    runtime: tokio::runtime::Runtime,
    grpc: SocketAddr,
    http: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: PathBuf,
}

impl Live {
    fn start(name: &str) -> Live {
        let dir =
            std::env::temp_dir().join(format!("switchboard-deploy-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let settings = Settings { records_db: dir.join("records.sqlite"), ..Settings::default() };
        let config = LoadedConfig::load(None).unwrap();
        let (stop, rx) = tokio::sync::oneshot::channel::<()>();
        let (grpc, http, handle) = runtime.block_on(async {
            let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (g, h) = (grpc.local_addr().unwrap(), http.local_addr().unwrap());
            let handle =
                tokio::spawn(switchboard_server::run(settings, config, grpc, http, async move {
                    let _ = rx.await;
                }));
            (g, h, handle)
        });
        Live { runtime, grpc, http, stop: Some(stop), handle: Some(handle), dir }
    }

    fn metrics(&self) -> String {
        use std::io::{Read, Write};
        for _ in 0..100 {
            if let Ok(mut s) = std::net::TcpStream::connect(self.http) {
                s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut out = String::new();
                s.read_to_string(&mut out).unwrap();
                assert!(out.starts_with("HTTP/1.1 200"), "{out}");
                return out;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        panic!("metrics never answered");
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = self.runtime.block_on(handle);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Metric names in the server's `/metrics` (with their `_bucket`, `_total` ... series).
fn served_metric_names() -> Vec<String> {
    let live = Live::start("metrics");
    // One RPC of ours so the labelled RPC counter has a series.
    let grpc = live.grpc;
    live.runtime.block_on(async {
        use switchboard_proto::v1 as pb;
        for _ in 0..100 {
            if let Ok(channel) = tonic::transport::Channel::from_shared(format!("http://{grpc}"))
                .unwrap()
                .connect()
                .await
            {
                let mut client = pb::supervisor_client::SupervisorClient::new(channel);
                client.list_queue_stats(pb::ListQueueStatsRequest {}).await.unwrap();
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("server did not start");
    });
    // The stats refresher fills the gauges.
    std::thread::sleep(std::time::Duration::from_millis(400));
    let text = live.metrics();
    let mut names: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("switchboard_"))
        .map(|l| l.split(['{', ' ']).next().unwrap().to_string())
        .collect();
    // Families declared without a series yet (a ratio with nothing answered) still count.
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else { continue };
        let mut words = rest.split_whitespace();
        let (Some(family), Some(kind)) = (words.next(), words.next()) else { continue };
        match kind {
            "counter" => names.push(format!("{family}_total")),
            "histogram" => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    names.push(format!("{family}{suffix}"));
                }
            }
            _ => names.push(family.to_string()),
        }
    }
    names.sort();
    names.dedup();
    names
}

#[test]
fn the_health_command_asks_the_grpc_health_service() {
    let live = Live::start("health");
    let health = |extra: &[&str]| {
        let mut args = vec!["health".to_string(), "--addr".into(), live.grpc.to_string()];
        args.extend(extra.iter().map(|s| s.to_string()));
        Command::new(binary()).args(&args).output().unwrap()
    };
    let mut ok = health(&[]);
    for _ in 0..50 {
        if ok.status.success() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        ok = health(&[]);
    }
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim(), "serving");
    // The Kubernetes readiness probe asks for the Router service by name.
    let readiness = yaml("kubernetes/deployment.yaml")["spec"]["template"]["spec"]["containers"][0]
        ["readinessProbe"]["grpc"]["service"]
        .clone();
    let service = str_of(&readiness, "readinessProbe.grpc.service").to_string();
    assert!(health(&["--service", &service]).status.success(), "{service} is not reported serving");
    let unknown = health(&["--service", "switchboard.v1.Nothing"]);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("switchboard.v1.Nothing"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let down = Command::new(binary())
        .args(["health", "--addr", &closed.to_string(), "--timeout-s", "2"])
        .output()
        .unwrap();
    assert!(!down.status.success(), "nothing listens on {closed}");
}

// --- Kubernetes ---------------------------------------------------------------------------

#[test]
fn kubernetes_manifests_match_the_binary() {
    let kustomization = yaml("kubernetes/kustomization.yaml");
    let mut by_kind: BTreeMap<String, Value> = BTreeMap::new();
    for file in strings(&kustomization["resources"], "resources") {
        let doc = yaml(&format!("kubernetes/{file}"));
        let kind = str_of(&doc["kind"], "kind").to_string();
        by_kind.insert(kind, doc);
    }
    for kind in
        ["Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "PersistentVolumeClaim"]
    {
        assert!(by_kind.contains_key(kind), "kustomization lists no {kind}");
    }
    let deployment = &by_kind["Deployment"];
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1, "one active router per tenant partition");
    assert_eq!(
        spec["strategy"]["type"], "Recreate",
        "never two routers for one partition, even during a rollout"
    );
    let pod = &spec["template"];
    let labels = pod["metadata"]["labels"].as_object().unwrap();
    let container = &pod["spec"]["containers"][0];
    let env: BTreeMap<String, String> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                str_of(&e["name"], "env.name").to_string(),
                str_of(&e["value"], "env.value").to_string(),
            )
        })
        .collect();
    let settings = settings_from_env(&env, "deployment");
    let ports: BTreeMap<String, u64> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (str_of(&p["name"], "port name").to_string(), p["containerPort"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(ports["grpc"], u64::from(settings.grpc_addr.port()));
    assert_eq!(ports["http"], u64::from(settings.http_addr.port()));
    for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
        let grpc = &container[probe]["grpc"];
        assert_eq!(
            grpc["port"].as_u64(),
            Some(ports["grpc"]),
            "{probe} must be a gRPC probe on the gRPC port"
        );
    }
    for resource in ["cpu", "memory"] {
        assert!(
            container["resources"]["requests"][resource].is_string(),
            "resource request for {resource}"
        );
    }
    let annotations = &pod["metadata"]["annotations"];
    assert_eq!(annotations["prometheus.io/port"], ports["http"].to_string());
    assert_eq!(annotations["prometheus.io/path"], "/metrics");

    let args = strings(&container["args"], "args");
    let flags = check_command(&args, "deployment args");
    let config = &flags["--config"];
    let mounts = container["volumeMounts"].as_array().unwrap();
    let volume_at = |dir: &str| {
        let mount = mounts
            .iter()
            .find(|m| m["mountPath"] == dir)
            .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
        assert!(
            mount.get("subPath").is_none(),
            "{dir}: a subPath mount never sees ConfigMap updates"
        );
        let name = &mount["name"];
        pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == *name)
            .unwrap()
            .clone()
    };
    let config_volume = volume_at(&parent(config));
    let configmap = &by_kind["ConfigMap"];
    assert_eq!(config_volume["configMap"]["name"], configmap["metadata"]["name"]);
    // The ConfigMap is the example center, byte for byte, and the server loads it.
    for file in example_files() {
        let data = str_of(&configmap["data"][file], file);
        assert_eq!(
            data,
            read(&format!("examples/{file}")),
            "ConfigMap {file} differs from deploy/examples/{file}"
        );
    }
    let file_name = Path::new(config).file_name().unwrap().to_str().unwrap();
    assert!(configmap["data"][file_name].is_string(), "ConfigMap has no {file_name}");
    LoadedConfig::load(Some(&deploy(&format!("examples/{file_name}"))))
        .expect("the example center loads");

    let records_volume = volume_at(&parent(settings.records_db.to_str().unwrap()));
    assert_eq!(
        records_volume["persistentVolumeClaim"]["claimName"],
        by_kind["PersistentVolumeClaim"]["metadata"]["name"]
    );

    let context = &pod["spec"]["securityContext"];
    assert_eq!(context["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    let service = &by_kind["Service"]["spec"];
    for (key, value) in service["selector"].as_object().unwrap() {
        assert_eq!(labels.get(key), Some(value), "the Service selects the pods");
    }
    for port in service["ports"].as_array().unwrap() {
        let target = str_of(&port["targetPort"], "targetPort");
        assert_eq!(port["port"].as_u64(), Some(ports[target]), "Service port {target}");
    }
    let pdb = &by_kind["PodDisruptionBudget"]["spec"];
    for (key, value) in pdb["selector"]["matchLabels"].as_object().unwrap() {
        assert_eq!(labels.get(key), Some(value), "the PDB covers the pods");
    }
    assert!(pdb["minAvailable"].is_number() || pdb["maxUnavailable"].is_number());
}

// --- systemd ------------------------------------------------------------------------------

#[test]
fn the_systemd_unit_is_hardened_and_matches_the_binary() {
    let text = read("systemd/switchboard.service");
    let mut section = String::new();
    let mut keys: Vec<(String, String, String)> = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            section = line.trim_matches(['[', ']']).to_string();
            continue;
        }
        let (k, v) =
            line.split_once('=').unwrap_or_else(|| panic!("systemd: not key=value: {line}"));
        keys.push((section.clone(), k.to_string(), v.to_string()));
    }
    let get = |k: &str| -> Vec<String> {
        keys.iter()
            .filter(|(s, key, _)| s == "Service" && key == k)
            .map(|(_, _, v)| v.clone())
            .collect()
    };
    let one = |k: &str| -> String {
        let all = get(k);
        assert_eq!(all.len(), 1, "systemd: one {k}= expected");
        all[0].clone()
    };
    for (key, value) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("CapabilityBoundingSet", ""),
        ("ProtectKernelTunables", "yes"),
        ("ProtectControlGroups", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("DynamicUser", "yes"),
        ("KillSignal", "SIGTERM"),
    ] {
        assert_eq!(one(key), value, "systemd: {key}");
    }
    let families = one("RestrictAddressFamilies");
    assert!(
        families.contains("AF_INET") && families.contains("AF_INET6"),
        "the server needs TCP sockets"
    );
    assert!(!get("SystemCallFilter").is_empty());

    let exec: Vec<String> = one("ExecStart").split_whitespace().map(str::to_string).collect();
    assert!(exec[0].starts_with('/'), "ExecStart needs an absolute path");
    let flags = check_command(&exec[1..], "ExecStart");
    let config = Path::new(&flags["--config"]);
    assert!(
        config.starts_with(format!("/etc/{}", one("ConfigurationDirectory"))),
        "config outside ConfigurationDirectory"
    );
    let records = Path::new(&flags["--records-db"]);
    // ProtectSystem=strict leaves only the StateDirectory writable.
    assert!(
        records.starts_with(format!("/var/lib/{}", one("StateDirectory"))),
        "records outside StateDirectory"
    );

    let env: BTreeMap<String, String> = get("Environment")
        .iter()
        .map(|e| {
            let (k, v) = e.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    let settings = settings_from_env(&env, "systemd");
    assert!(
        settings.grpc_addr.ip().is_loopback(),
        "exposing gRPC beyond this host is a decision: edit the unit"
    );
}

#[test]
fn the_dashboard_helper_finds_metric_names() {
    let d: Value = serde_json::json!({"panels": [{"expr": "rate(switchboard_rpcs_total[1m]) + switchboard_a + switchboard_b + switchboard_c + switchboard_d + switchboard_e"}]});
    assert_eq!(
        dashboard_metrics(&d),
        [
            "switchboard_rpcs_total",
            "switchboard_a",
            "switchboard_b",
            "switchboard_c",
            "switchboard_d",
            "switchboard_e"
        ]
    );
    let docker = parse_dockerfile(
        "FROM a AS build\nRUN x \\\n  y\nFROM b\n# c\nENV A=1 \\\n    B=2\nUSER 1:1\n",
    );
    assert_eq!(docker.stages, ["a AS build", "b"]);
    assert_eq!(docker.env(), BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]));
}
