//! Cost of the pieces of a token check, in one run so they compare as ratios:
//! parsing (the offline reject), and one argon2id verification per token kind's defaults.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use criterion::{Criterion, criterion_group, criterion_main};
use tollgate::config::HashParams;
use tollgate::token::{TokenKind, format};

fn phc(params: HashParams, plain: &str) -> String {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .unwrap();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(plain.as_bytes())
        .unwrap()
        .to_string()
}

fn verification(c: &mut Criterion) {
    let minted = format::mint(TokenKind::Database).unwrap();
    let plain = minted.plain.clone();
    let mut group = c.benchmark_group("token check");
    group.bench_function("parse (format + checksum)", |b| {
        b.iter(|| format::parse(std::hint::black_box(&plain)).unwrap())
    });
    for (name, params) in [
        ("argon2id verify, database defaults", HashParams::DATABASE),
        (
            "argon2id verify, management defaults (OWASP)",
            HashParams::MANAGEMENT,
        ),
    ] {
        let stored = phc(params, &plain);
        group.bench_function(name, |b| {
            b.iter(|| {
                Argon2::default()
                    .verify_password(plain.as_bytes(), stored.as_str())
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(4));
    targets = verification
}
criterion_main!(benches);
