//! Who holds the server's connection slots: each client address gets a share, and when every
//! slot is taken, the connection idle longest between requests is asked to close so a new
//! client is served instead of waiting in the backlog behind keep-alives.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use crate::verify::limits::ClientKey;

/// The slots of one listener.
pub struct Slots {
    total: Arc<Semaphore>,
    per_client: usize,
    trusted: Arc<Vec<ipnet::IpNet>>,
    epoch: Instant,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_client: HashMap<ClientKey, usize>,
    live: HashMap<u64, Arc<Activity>>,
    next_id: u64,
}

/// What a connection is doing, as its request handling reports it.
#[derive(Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    served: AtomicBool,
    /// When the last response was ready, in nanoseconds since [`Slots`] was made.
    idle_since: AtomicU64,
    /// Notified when this connection should close once it is between requests.
    pub shed: Notify,
}

/// A client's share, taken before a slot.
pub struct Share {
    slots: Arc<Slots>,
    client: Option<ClientKey>,
}

/// A connection's slot; dropping it frees the slot and the client's share.
pub struct Held {
    slots: Arc<Slots>,
    id: u64,
    pub activity: Arc<Activity>,
    _share: Share,
    _permit: OwnedSemaphorePermit,
}

impl Slots {
    pub fn new(total: usize, per_client: usize, trusted: Arc<Vec<ipnet::IpNet>>) -> Arc<Slots> {
        Arc::new(Slots {
            total: Arc::new(Semaphore::new(total)),
            per_client,
            trusted,
            epoch: Instant::now(),
            inner: Mutex::new(Inner::default()),
        })
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map stays consistent whatever panicked while holding it: each update is one call.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The client's share, or `None` when `peer` already holds all of it. A trusted proxy
    /// carries many clients' requests, so it is not limited.
    pub fn share(self: &Arc<Self>, peer: IpAddr) -> Option<Share> {
        let peer = peer.to_canonical();
        if self.trusted.iter().any(|net| net.contains(&peer)) {
            return Some(Share {
                slots: self.clone(),
                client: None,
            });
        }
        let key = ClientKey::from(peer);
        let mut inner = self.inner();
        let held = inner.by_client.entry(key).or_insert(0);
        if *held >= self.per_client {
            return None;
        }
        *held += 1;
        Some(Share {
            slots: self.clone(),
            client: Some(key),
        })
    }

    /// A free slot now, if there is one.
    pub fn try_slot(&self) -> Option<OwnedSemaphorePermit> {
        self.total.clone().try_acquire_owned().ok()
    }

    /// The next slot to be freed.
    pub async fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.total.clone().acquire_owned().await.ok()
    }

    /// Asks the connection idle longest between requests to close; false if none is idle
    /// (each is in a request, or has not finished its first one).
    pub fn shed_idlest(&self) -> bool {
        let inner = self.inner();
        let idlest = inner
            .live
            .values()
            .filter(|a| {
                a.served.load(Ordering::Acquire) && a.in_flight.load(Ordering::Acquire) == 0
            })
            .min_by_key(|a| a.idle_since.load(Ordering::Relaxed));
        match idlest {
            Some(activity) => {
                // Not asked twice: the next new client sheds another one.
                activity.served.store(false, Ordering::Release);
                activity.shed.notify_one();
                true
            }
            None => false,
        }
    }

    pub fn hold(self: &Arc<Self>, share: Share, permit: OwnedSemaphorePermit) -> Held {
        let activity = Arc::new(Activity::default());
        let mut inner = self.inner();
        let id = inner.next_id;
        inner.next_id += 1;
        inner.live.insert(id, activity.clone());
        Held {
            slots: self.clone(),
            id,
            activity,
            _share: share,
            _permit: permit,
        }
    }
}

impl Held {
    /// A request on this connection started.
    pub fn started(&self) {
        self.activity.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// Its response is ready: the connection is idle again unless another is in flight.
    pub fn answered(&self) {
        let nanos = u64::try_from(self.slots.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.activity.idle_since.store(nanos, Ordering::Relaxed);
        self.activity.served.store(true, Ordering::Release);
        self.activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.slots.inner().live.remove(&self.id);
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let Some(key) = self.client else { return };
        let mut inner = self.slots.inner();
        if let Some(held) = inner.by_client.get_mut(&key) {
            *held -= 1;
            if *held == 0 {
                inner.by_client.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(total: usize, per_client: usize, trusted: &[&str]) -> Arc<Slots> {
        let trusted = trusted.iter().map(|n| n.parse().unwrap()).collect();
        Slots::new(total, per_client, Arc::new(trusted))
    }

    #[test]
    fn a_client_holds_at_most_its_share_and_gets_it_back_as_connections_close() {
        let slots = slots(10, 2, &["10.0.0.1/32"]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let first = slots.share(a).unwrap();
        let _second = slots.share(a).unwrap();
        assert!(slots.share(a).is_none());
        // The same host through a dual-stack listener, and its /64, count as one client.
        assert!(slots.share("::ffff:192.0.2.1".parse().unwrap()).is_none());
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        let _v6 = [
            slots.share(v6).unwrap(),
            slots.share("2001:db8::2".parse().unwrap()).unwrap(),
        ];
        assert!(slots.share("2001:db8::ffff".parse().unwrap()).is_none());
        drop(first);
        assert!(slots.share(a).is_some());
        let proxy: Vec<Share> = (0..5)
            .map(|_| slots.share("10.0.0.1".parse().unwrap()).unwrap())
            .collect();
        assert_eq!(proxy.len(), 5);
    }

    #[test]
    fn only_a_connection_between_requests_is_shed_the_idlest_first() {
        let slots = slots(3, 3, &[]);
        let peer: IpAddr = "192.0.2.1".parse().unwrap();
        let mut held = Vec::new();
        for _ in 0..3 {
            let share = slots.share(peer).unwrap();
            let permit = slots.try_slot().unwrap();
            held.push(slots.hold(share, permit));
        }
        assert!(slots.try_slot().is_none());
        // Never served, and in a request: neither may be shed.
        held[1].started();
        assert!(!slots.shed_idlest());
        held[2].started();
        held[2].answered();
        held[1].answered();
        assert!(slots.shed_idlest());
        assert!(slots.shed_idlest());
        assert!(!slots.shed_idlest(), "each is asked once");
    }
}
