//! Generates a town from the command line: `gen PERSONS SEED OUT [dirty] [parquet] [clean]`.

use std::path::PathBuf;
use std::time::Instant;

use qianbiao_synth::{generate_with, Format, SynthOptions};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: gen PERSONS SEED OUT [dirty] [parquet] [clean]");
        std::process::exit(2);
    }
    let flag = |f: &str| args[4..].iter().any(|a| a == f);
    let opts = SynthOptions {
        persons: args[1].parse().expect("PERSONS is a number"),
        seed: args[2].parse().expect("SEED is a number"),
        out: PathBuf::from(&args[3]),
        dirty: flag("dirty"),
        format: if flag("parquet") {
            Format::Parquet
        } else {
            Format::Csv
        },
        town_persons: qianbiao_synth::TOWN_PERSONS,
    };
    let t = Instant::now();
    match generate_with(&opts, !flag("clean")) {
        Ok(s) => {
            let secs = t.elapsed().as_secs_f64();
            println!(
                "{s:?} in {secs:.2}s ({:.0} persons/s)",
                s.persons as f64 / secs
            );
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
