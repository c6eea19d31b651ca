//! Criterion benches of the person view, each rule family, and the whole rule stage, on a
//! generated town (size `QB_BENCH_PERSONS`, default [`PERSONS`]).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use qianbiao_core::Policy;
use qianbiao_rules::{registry, Context};

/// Persons in the benched town.
const PERSONS: usize = 100_000;
/// Rule families, by code prefix.
const FAMILIES: [&str; 7] = ["DUP", "DTH", "AMT", "ELG", "MNY", "DQ", "COV"];

fn persons() -> usize {
    std::env::var("QB_BENCH_PERSONS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(PERSONS)
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    qianbiao_synth::generate(&qianbiao_synth::SynthOptions {
        persons: persons(),
        seed: 7,
        out: dir.path().to_path_buf(),
        dirty: false,
        format: qianbiao_synth::Format::Parquet,
        town_persons: qianbiao_synth::TOWN_PERSONS,
    })
    .expect("town generated");
    let policy = Policy::dianzi_2022();
    let ds = qianbiao_ingest::load(
        dir.path(),
        &qianbiao_ingest::LoadOptions {
            year: policy.year,
            progress: None,
            columns: None,
        },
    )
    .expect("town loads");
    let (as_of, _) = qianbiao_engine::resolve_as_of(&ds, &policy, None);

    let mut g = c.benchmark_group("rules");
    g.sample_size(10);
    g.bench_function("person_view", |b| {
        b.iter(|| black_box(Context::new(&ds, &policy, as_of).view.len()))
    });
    let ctx = Context::new(&ds, &policy, as_of);
    for family in FAMILIES {
        let rules: Vec<_> = registry()
            .into_iter()
            .filter(|r| r.meta().code.starts_with(&format!("{family}-")))
            .collect();
        g.bench_function(format!("family_{family}"), |b| {
            b.iter(|| {
                rules
                    .iter()
                    .map(|r| black_box(r.check(&ctx)).len())
                    .sum::<usize>()
            })
        });
    }
    g.bench_function("all_rules_parallel", |b| {
        b.iter(|| black_box(qianbiao_engine::run_rules(&ctx).0.len()))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
