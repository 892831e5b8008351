//! The publisher lease: one object in the bucket naming the node that publishes snapshots
//! and keeps `studies/…` current, until when. Taken with a write-if-absent, renewed by its
//! holder, taken over by another node once expired.
//!
//! It only keeps the work to one node most of the time. Two holders at once (a takeover race,
//! a paused holder that wakes up, clocks apart) cost duplicate work, never a wrong answer:
//! see docs/adr/003-snapshot-lease.md.

use crate::Result;
use arc_objstore::{ObjectStore, StoreError};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The lease object's key.
pub const LEASE_KEY: &str = "snapshots/lease.json";

/// The lease object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseDoc {
    /// The holder's node id.
    pub node_id: String,
    /// Unique per holder process: a restarted node with the same id is another holder.
    pub token: String,
    /// Wall-clock expiry, Unix milliseconds.
    pub expires_unix_ms: i64,
}

/// This node's side of the lease.
#[derive(Debug)]
pub struct Lease {
    store: Arc<dyn ObjectStore>,
    node_id: String,
    token: String,
    ttl: Duration,
    /// Until when this node may act as the holder (local clock, a margin before expiry).
    held_until: Option<Instant>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Lease {
    /// A lease for `node_id` that lasts `ttl` after each renewal.
    pub fn new(store: Arc<dyn ObjectStore>, node_id: &str, ttl: Duration) -> Self {
        let token = format!("{}-{:016x}", std::process::id(), rand::random::<u64>());
        Lease {
            store,
            node_id: node_id.to_string(),
            token,
            ttl,
            held_until: None,
        }
    }

    /// Whether this node holds the lease now, as of its last [`tick`](Self::tick).
    pub fn held(&self) -> bool {
        self.held_until.is_some_and(|t| Instant::now() < t)
    }

    /// Until when this node may act as the holder, as of its last [`tick`](Self::tick).
    pub fn held_until(&self) -> Option<Instant> {
        self.held_until
    }

    fn doc(&self) -> Bytes {
        let doc = LeaseDoc {
            node_id: self.node_id.clone(),
            token: self.token.clone(),
            expires_unix_ms: now_ms() + self.ttl.as_millis() as i64,
        };
        Bytes::from(serde_json::to_vec(&doc).expect("lease serializes"))
    }

    /// The lease object as it is, `None` if absent; an unreadable one counts as expired.
    pub async fn current(&self) -> Result<Option<LeaseDoc>> {
        match self.store.get(LEASE_KEY).await {
            Ok(bytes) => Ok(Some(serde_json::from_slice(&bytes).unwrap_or(LeaseDoc {
                node_id: String::new(),
                token: String::new(),
                expires_unix_ms: 0,
            }))),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes, renews or gives up the lease; call it every third of the time to live. With
    /// `may_take` false it only renews a lease already held (a node still catching up
    /// should not take the work). Returns whether it holds the lease now.
    pub async fn tick(&mut self, may_take: bool) -> Result<bool> {
        let started = Instant::now();
        let had = self.held();
        let held = match self.current().await? {
            None if may_take || had => self.store.put_if_absent(LEASE_KEY, self.doc()).await?,
            None => false,
            Some(doc) if doc.token == self.token => {
                self.store.put(LEASE_KEY, self.doc()).await?;
                true
            }
            Some(doc) if (may_take || had) && doc.expires_unix_ms < now_ms() => {
                tracing::info!(from = %doc.node_id, "taking over the expired snapshot lease");
                self.store.put(LEASE_KEY, self.doc()).await?;
                true
            }
            Some(doc) => {
                if had {
                    tracing::info!(holder = %doc.node_id, "another node holds the snapshot lease now; stepping back");
                }
                false
            }
        };
        if held && !had {
            tracing::info!(node_id = %self.node_id, "holding the snapshot lease: this node publishes snapshots");
        }
        // Counted from before the request, and a quarter short of the expiry, so this node
        // stops acting before any other may take over.
        self.held_until = held.then(|| started + self.ttl * 3 / 4);
        Ok(held)
    }

    /// Gives the lease up (on shutdown) if this node holds it, so another takes over at once.
    pub async fn release(&mut self) -> Result<()> {
        if let Some(doc) = self.current().await? {
            if doc.token == self.token {
                self.store.delete(LEASE_KEY).await?;
                tracing::info!("released the snapshot lease");
            }
        }
        self.held_until = None;
        Ok(())
    }
}
