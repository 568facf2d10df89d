//! Which concurrent cache holds verified tokens: quick_cache against moka, on what the data
//! path does most (hits on a warm cache from several threads at once) and on inserts.
//! `scripts/bench` prints the figures; the README says which won and by how much.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const ENTRIES: u64 = 100_000;
const THREADS: u64 = 4;

/// Something the size of a cached entry's handle.
type Value = Arc<[u8; 64]>;

trait Bench: Send + Sync + 'static {
    fn get(&self, key: u64) -> Option<Value>;
    fn put(&self, key: u64, value: Value);
}

impl Bench for quick_cache::sync::Cache<u64, Value> {
    fn get(&self, key: u64) -> Option<Value> {
        quick_cache::sync::Cache::get(self, &key)
    }
    fn put(&self, key: u64, value: Value) {
        self.insert(key, value);
    }
}

impl Bench for moka::sync::Cache<u64, Value> {
    fn get(&self, key: u64) -> Option<Value> {
        moka::sync::Cache::get(self, &key)
    }
    fn put(&self, key: u64, value: Value) {
        self.insert(key, value);
    }
}

/// `iterations` hits spread over `THREADS` threads; returns the wall time.
fn hits(cache: Arc<dyn Bench>, iterations: u64) -> Duration {
    let per_thread = iterations.div_ceil(THREADS);
    let started = Instant::now();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let mut key = t.wrapping_mul(0x9e37_79b9_7f4a_7c15);
                for _ in 0..per_thread {
                    key = key.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    std::hint::black_box(cache.get(key % ENTRIES));
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
    started.elapsed()
}

fn filled(cache: Arc<dyn Bench>) -> Arc<dyn Bench> {
    let value: Value = Arc::new([7; 64]);
    for key in 0..ENTRIES {
        cache.put(key, value.clone());
    }
    cache
}

fn caches(c: &mut Criterion) {
    let quick: Arc<dyn Bench> = filled(Arc::new(quick_cache::sync::Cache::<u64, Value>::new(
        ENTRIES as usize,
    )));
    let moka: Arc<dyn Bench> = filled(Arc::new(
        moka::sync::Cache::<u64, Value>::builder()
            .max_capacity(ENTRIES)
            .time_to_live(Duration::from_secs(360))
            .build(),
    ));
    let mut group = c.benchmark_group("verified-token cache");
    for (name, cache) in [("quick_cache", &quick), ("moka", &moka)] {
        group.bench_function(format!("hit, {THREADS} threads: {name}"), |b| {
            b.iter_custom(|iterations| hits(cache.clone(), iterations))
        });
        let value: Value = Arc::new([1; 64]);
        let mut key = ENTRIES;
        group.bench_function(format!("insert (evicting): {name}"), |b| {
            b.iter(|| {
                key += 1;
                cache.put(key, value.clone());
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = caches
}
criterion_main!(benches);
