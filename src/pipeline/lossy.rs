//! A bounded channel for live frames that drops the OLDEST frame when full, so the
//! consumer always gets the newest picture and a live producer never blocks.
//! Dropped frames are counted and their buffers recycled.

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The sending half.
pub struct LossySender<T> {
    tx: Sender<T>,
    /// A receiver clone used only to evict the oldest item.
    evict: Receiver<T>,
    dropped: Arc<AtomicU64>,
}

/// A bounded channel of `cap` items; `dropped` counts evictions.
pub fn lossy<T>(cap: usize, dropped: Arc<AtomicU64>) -> (LossySender<T>, Receiver<T>) {
    let (tx, rx) = bounded(cap);
    (
        LossySender {
            tx,
            evict: rx.clone(),
            dropped,
        },
        rx,
    )
}

impl<T> LossySender<T> {
    /// Sends `item`, evicting the oldest queued item if the channel is full. The evicted
    /// item is handed to `recycle`. Returns `false` when the receiver is gone.
    pub fn send(&self, mut item: T, mut recycle: impl FnMut(T)) -> bool {
        loop {
            match self.tx.try_send(item) {
                Ok(()) => return true,
                Err(TrySendError::Disconnected(_)) => return false,
                Err(TrySendError::Full(back)) => {
                    item = back;
                    match self.evict.try_recv() {
                        Ok(old) => {
                            self.dropped.fetch_add(1, Ordering::Relaxed);
                            recycle(old);
                        }
                        // The consumer took one meanwhile; just retry.
                        Err(TryRecvError::Empty) => {}
                        Err(TryRecvError::Disconnected) => return false,
                    }
                }
            }
        }
    }
}

/// Backpressure for a producer whose items cost work to make (a USB round trip per live
/// frame): the consumer grants a ticket each time it takes an item, and the producer
/// takes a ticket before making the next one. One ticket circulates, so the producer
/// makes the next item while the consumer works on the current one, and never more than
/// one item waits: a consumer slower than the source no longer makes the producer fetch
/// items only for the lossy channel to throw them away. A mutex and a condition variable
/// rather than a channel: waiting allocates nothing, even the first time it blocks.
pub fn gate() -> (Grant, Tickets) {
    let g = Arc::new(GateState {
        state: Mutex::new(TicketState {
            ticket: true,
            closed: false,
        }),
        cv: Condvar::new(),
    });
    (Grant(g.clone()), Tickets(g))
}

struct GateState {
    state: Mutex<TicketState>,
    cv: Condvar,
}

struct TicketState {
    ticket: bool,
    /// The consumer is gone: waits return at once.
    closed: bool,
}

impl GateState {
    fn lock(&self) -> MutexGuard<'_, TicketState> {
        // Two booleans cannot be left inconsistent by a panic elsewhere.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The consumer's half of [`gate`].
pub struct Grant(Arc<GateState>);

impl Grant {
    /// The consumer took an item: the producer may make another. Never blocks long.
    pub fn grant(&self) {
        self.0.lock().ticket = true;
        self.0.cv.notify_one();
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.cv.notify_all();
    }
}

/// The producer's half of [`gate`].
pub struct Tickets(Arc<GateState>);

impl Tickets {
    /// Waits until the consumer took the last item, at most `limit` (then the producer
    /// goes on anyway: a stuck consumer must not stall the source), or until `stop`.
    /// Returns at once when the consumer is gone.
    pub fn wait(&self, limit: Duration, stop: &AtomicBool) {
        let end = Instant::now() + limit;
        let mut st = self.0.lock();
        loop {
            if st.ticket {
                st.ticket = false;
                return;
            }
            let now = Instant::now();
            if st.closed || stop.load(Ordering::Relaxed) || now >= end {
                return;
            }
            // Short slices so a stop request is seen promptly.
            let slice = (end - now).min(Duration::from_millis(50));
            st = match self.0.cv.wait_timeout(st, slice) {
                Ok((g, _)) => g,
                Err(p) => p.into_inner().0,
            };
        }
    }
}

/// A receiver that grants a [`gate`] ticket for every item it hands out.
pub struct GatedReceiver<T> {
    rx: Receiver<T>,
    grant: Grant,
}

impl<T> GatedReceiver<T> {
    /// Items from `rx`; each one taken grants a ticket through `grant`.
    pub fn new(rx: Receiver<T>, grant: Grant) -> Self {
        GatedReceiver { rx, grant }
    }

    /// Blocks for each item until every sender is gone, granting a ticket per item.
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        self.rx.iter().inspect(|_| self.grant.grant())
    }
}

/// A pool of reusable buffers: a bounded channel of spares. `get` never blocks.
#[derive(Clone)]
pub struct Pool<T> {
    tx: Sender<T>,
    rx: Receiver<T>,
}

impl<T> Pool<T> {
    /// A pool that keeps at most `cap` spare buffers.
    pub fn new(cap: usize) -> Self {
        let (tx, rx) = bounded(cap);
        Pool { tx, rx }
    }

    /// A spare buffer, or `make()` when none is free (only while the pool warms up).
    pub fn get(&self, make: impl FnOnce() -> T) -> T {
        self.rx.try_recv().unwrap_or_else(|_| make())
    }

    /// Returns a buffer; if the pool is full it is freed.
    pub fn put(&self, item: T) {
        let _ = self.tx.try_send(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gate_lets_one_item_wait_while_the_consumer_works() {
        let (tx, rx) = lossy::<u32>(2, Arc::new(AtomicU64::new(0)));
        let (grant, tickets) = gate();
        let rx = GatedReceiver::new(rx, grant);
        let stop = AtomicBool::new(false);
        // The first ticket is there at once.
        let t = Instant::now();
        tickets.wait(Duration::from_secs(5), &stop);
        assert!(tx.send(1, drop));
        // Nothing taken yet: the next wait runs to its limit.
        tickets.wait(Duration::from_millis(30), &stop);
        assert!(t.elapsed() >= Duration::from_millis(30));
        assert!(tx.send(2, drop));
        // The consumer takes one item: exactly one ticket, not one per item queued.
        let mut items = rx.iter();
        assert_eq!(items.next(), Some(1));
        let t = Instant::now();
        tickets.wait(Duration::from_secs(5), &stop);
        assert!(
            t.elapsed() < Duration::from_secs(4),
            "the grant ended the wait"
        );
        tickets.wait(Duration::from_millis(30), &stop);
        assert!(t.elapsed() >= Duration::from_millis(30), "no second ticket");
        // A stop request or a consumer that is gone ends a wait early.
        stop.store(true, Ordering::Relaxed);
        let t = Instant::now();
        tickets.wait(Duration::from_secs(5), &stop);
        stop.store(false, Ordering::Relaxed);
        drop(items);
        drop(rx);
        tickets.wait(Duration::from_secs(5), &stop);
        assert!(t.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn full_channel_drops_the_oldest_and_counts_it() {
        let dropped = Arc::new(AtomicU64::new(0));
        let (tx, rx) = lossy(2, dropped.clone());
        let mut recycled = Vec::new();
        for i in 0..5 {
            assert!(tx.send(i, |old| recycled.push(old)));
        }
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![3, 4]);
        assert_eq!(recycled, vec![0, 1, 2]);
        assert_eq!(dropped.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn slow_consumer_sees_the_newest_frames_and_the_producer_never_blocks() {
        let dropped = Arc::new(AtomicU64::new(0));
        let (tx, rx) = lossy::<u32>(2, dropped.clone());
        let consumer = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while let Ok(v) = rx.recv() {
                seen.push(v);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            seen
        });
        for i in 0..2000 {
            tx.send(i, drop);
        }
        drop(tx);
        let seen = consumer.join().unwrap();
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "order kept");
        assert_eq!(
            *seen.last().unwrap(),
            1999,
            "the newest frame always arrives"
        );
        assert_eq!(
            seen.len() as u64 + dropped.load(Ordering::Relaxed),
            2000,
            "every frame is either seen or counted"
        );
        assert!(dropped.load(Ordering::Relaxed) > 0);
    }

    #[test]
    fn pool_reuses_buffers() {
        let pool: Pool<Vec<u8>> = Pool::new(4);
        let mut b = pool.get(|| Vec::with_capacity(100));
        b.push(1);
        let ptr = b.as_ptr();
        pool.put(b);
        let b2 = pool.get(Vec::new);
        assert_eq!(b2.as_ptr(), ptr);
    }
}
