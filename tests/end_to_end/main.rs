//! The engine end to end in one test binary (one link of the engine, the report writers
//! and polars instead of two, in every clean build): the reviewers' outputs of real runs
//! (`review`), and synthetic towns against their planted truth (`synth_e2e`).

mod review;
mod synth_e2e;
