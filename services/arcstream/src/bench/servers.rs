//! Starting, watching and stopping the servers under test (arcstream's `serve` from this same
//! executable; Orthanc with its DICOMweb plugin, installed from Debian packages if missing)
//! and running `arcstream reindex`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A server process we started. Dropping it kills the process (`kill_on_drop`), so an error
/// anywhere in the benchmark does not leave servers behind.
pub(crate) struct Server {
    pub name: &'static str,
    /// DICOMweb base URL (no trailing slash).
    pub base: String,
    child: Child,
    pid: u32,
    log: PathBuf,
}

impl Server {
    /// Peak resident set size of the process so far (VmHWM), in KiB.
    pub fn vm_hwm_kib(&self) -> Option<u64> {
        vm_hwm_kib(self.pid)
    }

    /// The exit status if the process has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `n` lines of the server's log.
    pub fn log_tail(&self, n: usize) -> String {
        log_tail(&self.log, n)
    }

    /// Sends SIGTERM and waits up to `grace` for the process to exit; kills it after that.
    pub async fn terminate(&mut self, grace: Duration) -> Result<ExitStatus> {
        if let Some(status) = self.child.try_wait()? {
            return Ok(status);
        }
        let sent = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .context("cannot run `kill`")?;
        if !sent.success() {
            bail!("`kill -TERM {}` failed", self.pid);
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                self.child.kill().await?;
                bail!(
                    "{} did not exit within {} s of SIGTERM; killed it",
                    self.name,
                    grace.as_secs()
                )
            }
        }
    }
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Total size of the files under `dir`, in bytes.
pub(crate) fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// Starts `arcstream serve` (this executable) on a free port and `data`; logs go to `log`.
pub(crate) async fn start_arcstream(exe: &Path, data: &Path, log: &Path) -> Result<Server> {
    start_arcstream_with(exe, data, log, &[], &[]).await
}

/// [`start_arcstream`] with more `serve` arguments and environment variables.
pub(crate) async fn start_arcstream_with(
    exe: &Path,
    data: &Path,
    log: &Path,
    args: &[String],
    env: &[(String, String)],
) -> Result<Server> {
    std::fs::create_dir_all(data).with_context(|| format!("cannot create {}", data.display()))?;
    let log_file =
        std::fs::File::create(log).with_context(|| format!("cannot create {}", log.display()))?;
    let mut cmd = Command::new(exe);
    cmd.arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    // The node reads ARCSTREAM_* settings; the benchmark runs the defaults.
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ARCSTREAM_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {} serve", exe.display()))?;
    let pid = child.id().context("arcstream serve exited at once")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = BufReader::new(stdout).lines();
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await? {
            if let Some(rest) = line.split("(DICOMweb: ").nth(1) {
                return Ok(rest
                    .trim()
                    .trim_end_matches(')')
                    .trim_end_matches('/')
                    .to_string());
            }
        }
        anyhow::Ok(String::new())
    })
    .await;
    let base = match found {
        Ok(Ok(base)) if !base.is_empty() => base,
        Ok(Ok(_)) => bail!(
            "arcstream serve exited before it was ready; log tail:\n{}",
            log_tail(log, 30)
        ),
        Ok(Err(e)) => bail!("cannot read arcstream serve's output: {e}"),
        Err(_) => bail!(
            "arcstream serve was not ready within 120 s; log tail:\n{}",
            log_tail(log, 30)
        ),
    };
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Server {
        name: "arcstream",
        base,
        child,
        pid,
        log: log.to_path_buf(),
    })
}

/// What `arcstream reindex` reported, and what we saw of it.
#[derive(Debug, Clone)]
pub(crate) struct Reindex {
    pub events: u64,
    pub secs: f64,
    pub events_per_sec: f64,
    /// Wall time of the whole command (process start, opening, catch-up, exit).
    pub wall_secs: f64,
    /// Peak RSS of the reindex process, sampled every 20 ms (may miss the last moments).
    pub peak_rss_kib: Option<u64>,
}

/// Runs `arcstream reindex --data-dir data` (the server must be stopped) and parses its line
/// `reindexed N events in S s (R events/s)`.
pub(crate) async fn reindex(exe: &Path, data: &Path, log: &Path) -> Result<Reindex> {
    let log_file = std::fs::File::create(log)?;
    let start = Instant::now();
    let mut cmd = Command::new(exe);
    cmd.arg("reindex")
        .arg("--data-dir")
        .arg(data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("ARCSTREAM_") {
            cmd.env_remove(k);
        }
    }
    let mut child = cmd.spawn().context("cannot start arcstream reindex")?;
    let pid = child.id();
    let mut stdout = child.stdout.take().context("no stdout")?;
    let reader = tokio::spawn(async move {
        let mut s = String::new();
        let _ = tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut s).await;
        s
    });
    let mut peak = None;
    let status = loop {
        if let Some(pid) = pid {
            if let Some(v) = vm_hwm_kib(pid) {
                peak = Some(peak.map_or(v, |p: u64| p.max(v)));
            }
        }
        match tokio::time::timeout(Duration::from_millis(20), child.wait()).await {
            Ok(status) => break status?,
            Err(_) if start.elapsed() > Duration::from_secs(3600) => {
                child.kill().await?;
                bail!("reindex ran over an hour; killed it");
            }
            Err(_) => {}
        }
    };
    let wall_secs = start.elapsed().as_secs_f64();
    let out = reader.await.unwrap_or_default();
    if !status.success() {
        bail!(
            "arcstream reindex exited with {status}; log tail:\n{}",
            log_tail(log, 30)
        );
    }
    let line = out
        .lines()
        .find(|l| l.starts_with("reindexed "))
        .with_context(|| {
            format!("arcstream reindex printed no `reindexed …` line; it printed {out:?}")
        })?;
    let parts: Vec<&str> = line.split_whitespace().collect();
    // reindexed N events in S s (R events/s)
    let parse = |i: usize| -> Result<f64> {
        parts
            .get(i)
            .map(|s| s.trim_start_matches('('))
            .and_then(|s| s.parse::<f64>().ok())
            .with_context(|| format!("cannot parse {line:?}"))
    };
    Ok(Reindex {
        events: parse(1)? as u64,
        secs: parse(4)?,
        events_per_sec: parse(6)?,
        wall_secs,
        peak_rss_kib: peak,
    })
}

/// A port free on 127.0.0.1 right now.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn find_orthanc() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"].map(PathBuf::from))
        .map(|d| d.join("Orthanc"))
        .find(|p| p.is_file())
}

/// The DICOMweb plugin's shared library, as the `orthanc-dicomweb` package lists it.
fn find_dicomweb_plugin() -> Option<PathBuf> {
    let out = std::process::Command::new("dpkg")
        .args(["-L", "orthanc-dicomweb"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let files: Vec<PathBuf> = text
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    let is_so = |p: &&PathBuf| p.extension().is_some_and(|e| e == "so");
    let has_so = |p: &&PathBuf| {
        p.file_name()
            .is_some_and(|n| n.to_string_lossy().contains(".so"))
    };
    files
        .iter()
        .find(is_so)
        .or_else(|| files.iter().find(has_so))
        .cloned()
}

/// Installs `orthanc` and `orthanc-dicomweb` with apt-get (output to our stderr).
async fn install_orthanc() -> Result<()> {
    eprintln!("bench: Orthanc or its DICOMweb plugin is missing; installing orthanc and orthanc-dicomweb with apt-get");
    for args in [
        &["update"][..],
        &["install", "-y", "orthanc", "orthanc-dicomweb"][..],
    ] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .stderr(Stdio::from(std::io::stderr()))
            .status()
            .await
            .context("cannot run apt-get")?;
        if !status.success() {
            bail!(
                "`apt-get {}` failed ({status}); install orthanc and orthanc-dicomweb, or use --peer none",
                args.join(" ")
            );
        }
    }
    Ok(())
}

/// Starts Orthanc with its DICOMweb plugin, everything under `dir`; returns the server and its
/// version text.
pub(crate) async fn start_orthanc(
    dir: &Path,
    client: &reqwest::Client,
) -> Result<(Server, String)> {
    if find_orthanc().is_none() || find_dicomweb_plugin().is_none() {
        install_orthanc().await?;
    }
    let bin = find_orthanc().context("no Orthanc binary after installing the package")?;
    let plugin = find_dicomweb_plugin()
        .context("no DICOMweb plugin library in the orthanc-dicomweb package")?;
    let http_port = free_port()?;
    let dicom_port = free_port()?;
    let storage = dir.join("storage");
    let index = dir.join("index");
    std::fs::create_dir_all(&storage)?;
    std::fs::create_dir_all(&index)?;
    let config = serde_json::json!({
        "Name": "arcstream-bench",
        "StorageDirectory": storage,
        "IndexDirectory": index,
        "HttpPort": http_port,
        "RemoteAccessAllowed": false,
        "AuthenticationEnabled": false,
        // Our client does not ask for compression; say so explicitly.
        "HttpCompressionEnabled": false,
        "DicomServerEnabled": false,
        "DicomPort": dicom_port,
        "Plugins": [plugin],
        "DicomWeb": { "Enable": true, "Root": "/dicom-web/", "EnableWado": false },
    });
    let config_path = dir.join("orthanc.json");
    std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)?;
    let log = dir.join("orthanc.log");
    let log_file = std::fs::File::create(&log)?;
    let mut child = Command::new(&bin)
        .arg(&config_path)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.try_clone()?))
        .stderr(Stdio::from(log_file))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let pid = child.id().context("Orthanc exited at once")?;
    let root = format!("http://127.0.0.1:{http_port}");
    let start = Instant::now();
    let system: serde_json::Value = loop {
        if let Some(status) = child.try_wait()? {
            bail!(
                "Orthanc exited ({status}) before it was ready; log tail:\n{}",
                log_tail(&log, 30)
            );
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!(
                "Orthanc did not answer GET /system within 60 s; log tail:\n{}",
                log_tail(&log, 30)
            );
        }
        if let Ok(r) = client.get(format!("{root}/system")).send().await {
            if r.status().is_success() {
                break r.json().await.unwrap_or_default();
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let plugin_version = match client.get(format!("{root}/plugins/dicom-web")).send().await {
        Ok(r) if r.status().is_success() => r
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["Version"].as_str().map(str::to_string)),
        _ => None,
    };
    let version = format!(
        "{}, DICOMweb plugin {}",
        system["Version"].as_str().unwrap_or("?"),
        plugin_version.as_deref().unwrap_or("?")
    );
    let server = Server {
        name: "Orthanc",
        base: format!("{root}/dicom-web"),
        child,
        pid,
        log,
    };
    Ok((server, version))
}
