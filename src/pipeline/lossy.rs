//! A bounded channel for live frames that drops the OLDEST frame when full, so the
//! consumer always gets the newest picture and a live producer never blocks.
//! Dropped frames are counted and their buffers recycled.

use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError, TrySendError};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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
