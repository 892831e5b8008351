//! Starting a node and rebuilding its projection.

use anyhow::{Context, Result};
use arc_archive::Archive;
use arc_config::NodeConfig;
use arc_projector::Projector;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Holds the data folder for this process: two processes on one embedded log would corrupt it.
fn lock_data_dir(cfg: &NodeConfig) -> Result<std::fs::File> {
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create the data folder {}; choose another with --data-dir", cfg.data_dir.display()))?;
    let path = cfg.data_dir.join("LOCK");
    let file = std::fs::File::create(&path).with_context(|| format!("cannot create {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another arcstream process is using {}; stop it first, or choose another folder with --data-dir",
            cfg.data_dir.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => Err(e).with_context(|| format!("cannot lock {}", path.display())),
    }
}

async fn open_parts(cfg: &NodeConfig) -> Result<(Arc<dyn arc_eventlog::EventLog>, Arc<dyn arc_objstore::ObjectStore>)> {
    let log = arc_eventlog::open_uri(&cfg.log_uri())
        .await
        .with_context(|| format!("cannot open the event log {}", cfg.log_uri()))?;
    let store = arc_objstore::open(&cfg.store_uri()).await.with_context(|| format!("cannot open the object store {}", cfg.store_uri()))?;
    Ok((log, store))
}

/// Runs a node until Ctrl-C or SIGTERM.
pub(crate) async fn serve(cfg: NodeConfig) -> Result<()> {
    let _lock = lock_data_dir(&cfg)?;
    let (log, store) = open_parts(&cfg).await?;
    let dir = cfg.projection_dir();
    let projector = tokio::task::spawn_blocking(move || Projector::open(&dir)).await??;
    projector.check_log(&*log).await?;
    let start = Instant::now();
    let applied = projector.catch_up(&*log, |_, _| {}).await?;
    tracing::info!(applied, elapsed_ms = start.elapsed().as_millis() as u64, "projection caught up with the log");
    tokio::spawn(projector.clone().run(log.clone()));

    let archive = Archive::new(log, store, projector, cfg.overwrite, Duration::from_millis(cfg.write_wait_ms))
        .with_spool_dir(cfg.data_dir.join("spool"));
    let state = arc_dicomweb::AppState { archive, config: Arc::new(cfg.clone()) };
    let app = arc_dicomweb::router(state);
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .with_context(|| format!("cannot listen on {}; is another server using it? choose another with --listen", cfg.listen))?;
    let addr = listener.local_addr()?;
    // Tests and scripts read this line to learn the port when listening on port 0.
    println!("arcstream listening on http://{addr}  (DICOMweb: http://{addr}/aets/{}/rs)", cfg.aet);
    tracing::info!(%addr, aet = %cfg.aet, log = %cfg.log_uri(), store = %cfg.store_uri(), "node started");
    // Answers are streamed in many writes (multipart parts, chunks); with Nagle's algorithm a
    // small write waits for the client's delayed ACK (about 40 ms on Linux) on kept-alive
    // connections.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    Ok(())
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = ctrl_c => {},
        _ = term.recv() => {},
    }
    tracing::info!("shutting down");
}

/// Rebuilds the projection from the start of the log.
pub(crate) async fn reindex(cfg: NodeConfig) -> Result<()> {
    let _lock = lock_data_dir(&cfg)?;
    let (log, _) = open_parts(&cfg).await?;
    let dir = cfg.projection_dir();
    let old = dir.with_extension("old");
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&dir, &old).with_context(|| format!("cannot move {} aside; is a node still running on it?", dir.display()))?;
    }
    let d = dir.clone();
    let projector = tokio::task::spawn_blocking(move || Projector::open(&d)).await??;
    let end = log.end().await?;
    let bar = ProgressBar::new(end);
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} events  {per_sec}  eta {eta}").expect("template"));
    let start = Instant::now();
    let applied = projector.catch_up(&*log, |n, _| bar.set_position(n)).await?;
    bar.finish();
    let secs = start.elapsed().as_secs_f64();
    println!("reindexed {applied} events in {secs:.2} s ({:.0} events/s)", applied as f64 / secs.max(1e-9));
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}
