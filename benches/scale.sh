#!/usr/bin/env bash
# Scale benchmark: generate Parquet towns of 100k, 1M and 10M persons, run the engine on
# each, and report wall time, peak RSS, the scan floor (read and decode the same inputs,
# nothing else) and the ratio. Usage: benches/scale.sh [SIZES...]  (default 100000 1000000 10000000)
# Results go to stdout as a Markdown table; towns are kept in $QB_SCALE_DIR (default target/scale).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000 10000000)
dir=${QB_SCALE_DIR:-target/scale}
mkdir -p "$dir"
cargo build --release --quiet
bin=target/release/qianbiao

measure() { # command... -> "seconds rss_mib"
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$@" > "$dir/last.log" 2>&1
    read -r secs kib < "$dir/time.txt"
    echo "$secs $((kib / 1024))"
}

echo "| persons | payments | gen s | scan floor s | run s | ratio | peak RSS MiB | findings |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in "${sizes[@]}"; do
    town="$dir/town-$n"
    if [ ! -f "$town/truth.csv" ]; then
        read -r gen _ < <(measure "$bin" synth --persons "$n" --seed 1 --format parquet --out "$town")
    else
        gen="(cached)"
    fi
    read -r scan _ < <(measure "$bin" scan --data "$town")
    read -r run rss < <(measure "$bin" run --data "$town" --out "$dir/out-$n")
    payments=$(python3 -c "import json;m=json.load(open('$dir/out-$n/manifest.json'));print(m['ledger']['payments_kept'])")
    findings=$(python3 -c "import json;m=json.load(open('$dir/out-$n/manifest.json'));print(m['findings']['total'])")
    ratio=$(python3 -c "print(f'{$run/max($scan,0.001):.2f}')")
    echo "| $n | $payments | $gen | $scan | $run | $ratio | $rss | $findings |"
done
