//! The publisher loop each node runs: it competes for the lease, and while it holds it,
//! publishes a snapshot every `snapshot_events` events, prunes old generations and keeps
//! `studies/…` current for the series touched since its last pass.

use crate::layout::LayoutWriter;
use crate::lease::Lease;
use crate::manifest::Generation;
use crate::publish::{prune, publish};
use crate::Result;
use arc_eventlog::EventLog;
use arc_objstore::ObjectStore;
use arc_projector::Projector;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Settings of the publisher.
#[derive(Debug, Clone)]
pub struct PublisherConfig {
    /// This node's id (in the lease and the manifests).
    pub node_id: String,
    /// Events between two snapshots; 0: no snapshots (the layout is still kept).
    pub snapshot_events: u64,
    /// A staging folder on the projection's filesystem.
    pub staging: PathBuf,
    /// Complete generations kept.
    pub keep: usize,
    /// Lease time to live; renewed every third of it.
    pub lease_ttl: Duration,
    /// A node lagging more than this many events does not take the lease.
    pub max_lag_to_lead: u64,
    /// Time between two layout passes.
    pub layout_every: Duration,
}

impl PublisherConfig {
    /// Defaults for `node_id` publishing every `snapshot_events` through `staging`.
    pub fn new(node_id: &str, snapshot_events: u64, staging: PathBuf) -> Self {
        PublisherConfig {
            node_id: node_id.to_string(),
            snapshot_events,
            staging,
            keep: 3,
            lease_ttl: Duration::from_secs(30),
            max_lag_to_lead: 1000,
            layout_every: Duration::from_secs(2),
        }
    }
}

/// One node's publisher.
#[derive(Debug)]
pub struct Publisher {
    cfg: PublisherConfig,
    store: Arc<dyn ObjectStore>,
    projector: Projector,
    layout: LayoutWriter,
    /// Position of the newest snapshot known (own or found at takeover).
    last_snapshot: u64,
    /// Position up to which `studies/…` is current.
    layout_cursor: u64,
    /// Whether the state above was loaded since the lease was last taken.
    primed: bool,
    /// Series whose layout document failed, with the passes that failed it.
    retry: BTreeMap<(String, String), u32>,
}

/// Passes that may fail one series' layout document before it is given up.
const LAYOUT_ATTEMPTS: u32 = 5;

impl Publisher {
    /// A publisher over the node's parts.
    pub fn new(
        cfg: PublisherConfig,
        store: Arc<dyn ObjectStore>,
        log: Arc<dyn EventLog>,
        projector: Projector,
        retrieve: arc_archive::Retrieve,
    ) -> Self {
        let layout = LayoutWriter::new(store.clone(), log, projector.state(), retrieve);
        Publisher {
            cfg,
            store,
            projector,
            layout,
            last_snapshot: 0,
            layout_cursor: 0,
            primed: false,
            retry: BTreeMap::new(),
        }
    }

    /// Runs until `shutdown` resolves, then gives the lease up.
    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        // The lease is kept by a task of its own, so a long upload never delays a renewal.
        let lease = Lease::new(self.store.clone(), &self.cfg.node_id, self.cfg.lease_ttl);
        let (held_tx, held) = watch::channel(None);
        let (stop_tx, stop) = watch::channel(false);
        let keeper = tokio::spawn(keep_lease(
            lease,
            self.projector.clone(),
            self.cfg.max_lag_to_lead,
            self.cfg.lease_ttl / 3,
            held_tx,
            stop,
        ));
        let mut next_layout = Instant::now();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            }
            let holding = held.borrow().is_some_and(|until| Instant::now() < until);
            if !holding {
                self.primed = false;
                continue;
            }
            if let Err(e) = self.work(&mut next_layout).await {
                tracing::warn!(error = %e, "snapshot publisher: will try again");
            }
        }
        let _ = stop_tx.send(true);
        let _ = keeper.await;
    }

    async fn work(&mut self, next_layout: &mut Instant) -> Result<()> {
        if !self.primed {
            // Carry on from the newest snapshot, whoever published it.
            for g in Generation::list(&*self.store)
                .await?
                .iter()
                .filter(|g| g.complete)
            {
                if let Ok(m) = g.manifest(&*self.store).await {
                    self.last_snapshot = self.last_snapshot.max(m.position);
                    self.layout_cursor = self.layout_cursor.max(m.layout_position);
                    break;
                }
            }
            self.primed = true;
        }
        let applied = self.projector.applied();
        if Instant::now() >= *next_layout
            && (self.layout_cursor < applied || !self.retry.is_empty())
        {
            *next_layout = Instant::now() + self.cfg.layout_every;
            // A failed layout pass does not hold snapshots back.
            if let Err(e) = self.layout_pass(applied).await {
                tracing::warn!(error = %e, "studies layout: will try again");
            }
        }
        let caught_up = self
            .projector
            .lag()
            .is_some_and(|lag| lag <= self.cfg.snapshot_events);
        if self.cfg.snapshot_events > 0
            && caught_up
            && applied >= self.last_snapshot + self.cfg.snapshot_events
        {
            let p = publish(
                &self.projector,
                &*self.store,
                &self.cfg.staging,
                &self.cfg.node_id,
                self.layout_cursor,
            )
            .await?;
            self.last_snapshot = p.manifest.position;
            tracing::info!(
                generation = %p.manifest.generation,
                position = p.manifest.position,
                files = p.manifest.files.len(),
                bytes = p.bytes,
                stage_ms = p.stage.as_millis() as u64,
                upload_ms = p.upload.as_millis() as u64,
                "snapshot published"
            );
            let pruned = prune(&*self.store, self.cfg.keep).await?;
            if pruned > 0 {
                tracing::info!(pruned, "old snapshot generations deleted");
            }
        }
        Ok(())
    }

    /// One layout pass; series that failed are tried again by the next passes, a few times.
    async fn layout_pass(&mut self, applied: u64) -> Result<()> {
        let retry: Vec<(String, String)> = self.retry.keys().cloned().collect();
        let pass = self.layout.pass(self.layout_cursor, applied, retry).await?;
        let failed: std::collections::BTreeSet<&(String, String)> =
            pass.failed.iter().map(|(s, _)| s).collect();
        self.retry.retain(|s, _| failed.contains(s));
        for (series, why) in &pass.failed {
            let attempts = self.retry.entry(series.clone()).or_insert(0);
            *attempts += 1;
            if *attempts >= LAYOUT_ATTEMPTS {
                tracing::error!(study = %series.0, series = %series.1, error = %why,
                    "giving up on this series' layout document until the series changes again");
                self.retry.remove(series);
            } else {
                tracing::warn!(study = %series.0, series = %series.1, error = %why, "layout document not written; will try again");
            }
        }
        if pass.written > 0 {
            tracing::debug!(
                from = self.layout_cursor,
                to = pass.cursor,
                written = pass.written,
                "studies layout updated"
            );
        }
        self.layout_cursor = pass.cursor;
        Ok(())
    }
}

/// Takes or renews the lease every `every` (a node lagging more than `max_lag` only renews),
/// publishing until when this node may act as the holder; gives it up when `stop` turns true.
async fn keep_lease(
    mut lease: Lease,
    projector: Projector,
    max_lag: u64,
    every: Duration,
    held: watch::Sender<Option<Instant>>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let may_take = projector.lag().is_some_and(|lag| lag <= max_lag);
        if let Err(e) = lease.tick(may_take).await {
            tracing::warn!(error = %e, "snapshot lease: cannot reach the object store");
        }
        held.send_replace(lease.held_until());
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            _ = tokio::time::sleep(every) => {}
        }
    }
    held.send_replace(None);
    if let Err(e) = lease.release().await {
        tracing::warn!(error = %e, "cannot release the snapshot lease; it expires by itself");
    }
}
