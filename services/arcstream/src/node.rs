//! Starting a node (listener first, snapshot restore, catch-up, the snapshot publisher)
//! and rebuilding its projection.

use anyhow::{Context, Result};
use arc_archive::Archive;
use arc_cluster::{Publisher, PublisherConfig};
use arc_config::NodeConfig;
use arc_projector::Projector;
use axum::extract::Request;
use axum::Router;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use tower::ServiceExt;

/// Holds the data folder for this process: two processes on one embedded log would corrupt it.
fn lock_data_dir(cfg: &NodeConfig) -> Result<std::fs::File> {
    std::fs::create_dir_all(&cfg.data_dir).with_context(|| {
        format!(
            "cannot create the data folder {}; choose another with --data-dir",
            cfg.data_dir.display()
        )
    })?;
    let path = cfg.data_dir.join("LOCK");
    let file = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another arcstream process is using {}; stop it first, or choose another folder with --data-dir",
            cfg.data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

async fn open_parts(
    cfg: &NodeConfig,
) -> Result<(
    Arc<dyn arc_eventlog::EventLog>,
    Arc<dyn arc_objstore::ObjectStore>,
)> {
    let log = arc_eventlog::open_uri(&cfg.log_uri())
        .await
        .with_context(|| format!("cannot open the event log {}", cfg.log_uri()))?;
    let store = arc_objstore::open(&cfg.store_uri())
        .await
        .with_context(|| format!("cannot open the object store {}", cfg.store_uri()))?;
    Ok((log, store))
}

/// Whether the projection folder has nothing in it (missing counts as empty).
fn projection_empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut entries| entries.next().is_none())
}

/// The router the listener serves, replaced once the node can serve DICOMweb: before that
/// it answers `/health` and `/ready` only, so orchestrators see a live node from the start.
#[derive(Clone)]
struct Switch(Arc<RwLock<Router>>);

impl Switch {
    fn set(&self, router: Router) {
        *self.0.write().expect("router switch") = router;
    }

    fn service(&self) -> Router {
        let switch = self.clone();
        Router::new().fallback(move |mut req: Request| {
            let current = switch.0.read().expect("router switch").clone();
            // HEAD goes in as GET: this fallback route answers HEAD itself (a length only
            // when the GET's body has one, then no body), so no inner route may empty the
            // body first and make this one claim `content-length: 0` (RFC 9110 9.3.2)
            if req.method() == axum::http::Method::HEAD {
                *req.method_mut() = axum::http::Method::GET;
            }
            async move { current.oneshot(req).await }
        })
    }
}

/// Serves `app` on `listener` until `stop`, then lets open requests finish. It is
/// `axum::serve` (`ConnectInfo`, no upgrades: nothing here uses them) plus what that has no
/// setting for:
///
/// * TCP_NODELAY: answers are streamed in many writes (multipart parts, chunks), and with
///   Nagle's algorithm a small write waits for the client's delayed ACK (about 40 ms on
///   Linux) on kept-alive connections;
/// * a header read timeout: a client that sends its headers a byte at a time, or nothing, or
///   a kept-alive connection left idle, is closed after `header_timeout` instead of holding a
///   socket and a task for ever (slowloris).
///
/// HTTP/1.1 only: hyper-util's sniffing for cleartext HTTP/2 reads the first bytes with no
/// timeout at all, and HTTP/2 and TLS belong to the proxy in front (docs/operations.md).
async fn serve_http(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
    stop: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // The peer gave up before we took the connection: nothing to do.
                Err(e) if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) => continue,
                // Out of file descriptors and the like: wait for some to close, not spin.
                Err(e) => {
                    tracing::error!(error = %e, "cannot accept a connection; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        let service = app
            .clone()
            .map_request(move |req: Request<hyper::body::Incoming>| {
                let mut req = req.map(axum::body::Body::new);
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                req
            });
        let conn = builder.serve_connection(
            TokioIo::new(tcp),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::trace!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Runs a node until Ctrl-C or SIGTERM.
///
/// Order: the log and the store are checked; a node with a projection opens it and checks
/// it against the log before it listens (a reset log stops it here). Then it listens:
/// `/health` answers from now on. A node with an empty projection restores the newest
/// snapshot meanwhile (`/ready` 503, DICOMweb 503). Then DICOMweb is served while the
/// projection catches up with the log (`/ready` 503 until it is within `ready_max_lag`);
/// the "listening" line on stdout comes once that start-up catch-up is done. On a shared
/// log the node also competes for the lease to publish snapshots.
pub(crate) async fn serve(cfg: NodeConfig) -> Result<()> {
    let _lock = lock_data_dir(&cfg)?;
    let (log, store) = open_parts(&cfg).await?;
    let node_id = cfg.node_id();
    let dir = cfg.projection_dir();
    let fresh = projection_empty(&dir);
    let existing = if fresh {
        None
    } else {
        Some(open_projection(&dir, &*log).await?)
    };

    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server using it? choose another with --listen",
                cfg.listen
            )
        })?;
    let addr = listener.local_addr()?;
    let switch = Switch(Arc::new(RwLock::new(arc_dicomweb::starting_router(
        node_id.clone(),
        "restoring a snapshot",
    ))));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown().await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    let server = tokio::spawn(serve_http(
        listener,
        switch.service(),
        Duration::from_millis(cfg.header_read_timeout_ms),
        stopped(stop_rx.clone()),
    ));
    tracing::info!(%addr, aet = %cfg.aet, node_id = %node_id, log = %cfg.log_uri(), store = %cfg.store_uri(),
        "node started: /health answers, /ready once caught up with the log");

    let projector = match existing {
        Some(p) => p,
        None => {
            let end = log.end().await?;
            let started = Instant::now();
            let restored = arc_cluster::restore(&*store, &dir, end)
                .await
                .context("cannot restore a snapshot")?;
            match &restored {
                Some(r) => tracing::info!(
                    generation = %r.generation, position = r.position, log_end = end,
                    elapsed_ms = started.elapsed().as_millis() as u64, "projection restored from a snapshot"
                ),
                None => tracing::info!(
                    log_end = end,
                    "no snapshot to restore; replaying the log from its start"
                ),
            }
            let p = open_projection(&dir, &*log).await?;
            if let Some(r) = restored {
                p.set_restored(r);
            }
            p
        }
    };
    tokio::spawn(
        projector
            .clone()
            .watch_log_end(log.clone(), Duration::from_millis(500)),
    );
    let archive = Archive::new(
        log.clone(),
        store.clone(),
        projector.clone(),
        cfg.overwrite,
        Duration::from_millis(cfg.write_wait_ms),
    )
    .with_spool_dir(cfg.data_dir.join("spool"));
    let publisher = cfg.shared_log().then(|| {
        let mut pc = PublisherConfig::new(
            &node_id,
            cfg.snapshot_events,
            cfg.data_dir.join("snapshot-staging"),
        );
        pc.max_lag_to_lead = cfg.ready_max_lag;
        let publisher = Publisher::new(
            pc,
            store.clone(),
            log.clone(),
            projector.clone(),
            archive.retrieve(),
        );
        tokio::spawn(publisher.run(stopped(stop_rx.clone())))
    });
    let state = arc_dicomweb::AppState {
        archive,
        config: Arc::new(cfg.clone()),
    };
    // DICOMweb from now on; /ready says whether its answers are current.
    switch.set(arc_dicomweb::router(state));

    let start = Instant::now();
    let from = projector.applied();
    tokio::select! {
        caught = projector.catch_up(&*log, |_, _| {}) => match caught {
            Ok(applied) => tracing::info!(
                applied, replayed = applied - from, elapsed_ms = start.elapsed().as_millis() as u64,
                "projection caught up with the log"
            ),
            Err(e) => tracing::warn!(error = %e, "catching up with the log failed; following it goes on"),
        },
        _ = stopped(stop_rx.clone()) => {}
    }
    // Tests and scripts read this line to learn the port when listening on port 0; it comes
    // once the start-up catch-up is done, so what the node answers from then on is current.
    println!(
        "arcstream listening on http://{addr}  (DICOMweb: http://{addr}/aets/{}/rs)",
        cfg.aet
    );
    tokio::spawn(projector.clone().run(log.clone()));

    server.await.context("the HTTP server task failed")?;
    if let Some(p) = publisher {
        // Gives the lease up so another node takes over at once; bounded, it expires anyway.
        let _ = tokio::time::timeout(Duration::from_secs(5), p).await;
    }
    Ok(())
}

/// Opens the projection and refuses a log that ends before it.
async fn open_projection(dir: &Path, log: &dyn arc_eventlog::EventLog) -> Result<Projector> {
    let d = dir.to_path_buf();
    let projector = tokio::task::spawn_blocking(move || Projector::open(&d)).await??;
    projector.check_log(log).await?;
    Ok(projector)
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

/// Refuses to reindex from a local log that is not there: opening it would create an empty
/// one (and the data folder), and "reindexed 0 events" would hide a mistyped --data-dir.
fn check_local_log(cfg: &NodeConfig) -> Result<()> {
    let uri = cfg.log_uri();
    let path = match uri.strip_prefix("file://") {
        Some(rest) => rest.strip_prefix("localhost").unwrap_or(rest),
        None if !uri.contains("://") => uri.as_str(),
        None => return Ok(()),
    };
    if !Path::new(path).is_dir() {
        anyhow::bail!(
            "no event log at {path}: {} is not the data folder of an arcstream node; \
give the one `arcstream serve` used with --data-dir (or the log with --log)",
            cfg.data_dir.display()
        );
    }
    Ok(())
}

/// Rebuilds the projection from the start of the log.
pub(crate) async fn reindex(cfg: NodeConfig) -> Result<()> {
    check_local_log(&cfg)?;
    let _lock = lock_data_dir(&cfg)?;
    let (log, _) = open_parts(&cfg).await?;
    let dir = cfg.projection_dir();
    let old = dir.with_extension("old");
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&dir, &old).with_context(|| {
            format!(
                "cannot move {} aside; is a node still running on it?",
                dir.display()
            )
        })?;
    }
    let d = dir.clone();
    let projector = tokio::task::spawn_blocking(move || Projector::open(&d)).await??;
    let end = log.end().await?;
    let bar = ProgressBar::new(end);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  eta {eta}")
            .expect("template"),
    );
    let start = Instant::now();
    let applied = projector
        .catch_up(&*log, |n, _| bar.set_position(n))
        .await?;
    bar.finish();
    let secs = start.elapsed().as_secs_f64();
    println!(
        "reindexed {applied} events in {secs:.2} s ({:.0} events/s)",
        applied as f64 / secs.max(1e-9)
    );
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
