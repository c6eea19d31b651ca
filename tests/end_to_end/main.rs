//! The engine end to end in one test binary (one link of the engine, the report writers
//! and polars instead of two, in every clean build): the reviewers' outputs of real runs
//! (`review`), and synthetic towns against their planted truth (`synth_e2e`).

mod review;
mod synth_e2e;

use std::path::{Path, PathBuf};

/// A synthetic town of CSV files in `dir/data`; returns that folder.
fn synth_town(dir: &Path, persons: usize, seed: u64, dirty: bool) -> PathBuf {
    let data = dir.join("data");
    qianbiao_synth::generate(&qianbiao_synth::SynthOptions {
        persons,
        seed,
        out: data.clone(),
        dirty,
        format: qianbiao_synth::Format::Csv,
        town_persons: qianbiao_synth::TOWN_PERSONS,
    })
    .unwrap();
    data
}

/// The engine on `data` with the built-in 2022 pipeline, its outputs in `out`.
fn run_engine(data: &Path, out: &Path, mask: bool) -> qianbiao_engine::RunSummary {
    use qianbiao_core::policy::{Pipeline, DIANZI_2022};
    qianbiao_engine::run(&qianbiao_engine::RunOptions {
        data: data.to_path_buf(),
        out: out.to_path_buf(),
        pipeline: Pipeline::from_toml(DIANZI_2022).unwrap(),
        pipeline_source: "test".into(),
        as_of: None,
        progress: None,
        mask,
        partitioning: Default::default(),
        runner: None,
    })
    .unwrap_or_else(|e| panic!("run on {}: {e}", data.display()))
}
