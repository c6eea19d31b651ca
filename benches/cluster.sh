#!/usr/bin/env bash
# Cluster benchmark (issue 14): one data folder run three ways with the same number of
# buckets: on this machine, on the standalone cluster (scheduler and executor inside the
# run), and on a scheduler with two executor processes on loopback. Reports wall time and
# peak RSS of every process, and checks that the three runs wrote the same findings.
# Usage: benches/cluster.sh DATA [K]   (K default 4). Needs the `cluster` feature.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:?usage: benches/cluster.sh DATA [K]}
k=${2:-4}
dir=${QB_CLUSTER_DIR:-target/cluster-bench}
rm -rf "$dir" && mkdir -p "$dir"
cargo build --release --quiet --features cluster
bin=target/release/qianbiao

measure() { # label command... -> "label seconds rss_mib"
    local label=$1; shift
    /usr/bin/time -f "%e %M" -o "$dir/$label.time" "$@" > "$dir/$label.log" 2>&1
    read -r secs kib < "$dir/$label.time"
    echo "| $label | $secs | $((kib / 1024)) |"
}

echo "| run | wall s | peak RSS MiB |"
echo "| --- | ---: | ---: |"
measure local "$bin" run --data "$data" --out "$dir/out-local" --partitions "$k"
measure standalone "$bin" run --data "$data" --out "$dir/out-standalone" --partitions "$k" --cluster standalone

port=$((50100 + RANDOM % 500))
"$bin" scheduler --bind 127.0.0.1 --port "$port" > "$dir/scheduler.log" 2>&1 &
sched=$!
sleep 2
pids=()
for i in 1 2; do
    /usr/bin/time -f "%e %M" -o "$dir/executor-$i.time" \
        "$bin" executor --scheduler "127.0.0.1:$port" --bind 127.0.0.1 \
        --port $((port + 10 * i)) --grpc-port $((port + 10 * i + 1)) \
        > "$dir/executor-$i.log" 2>&1 &
    pids+=($!)
done
sleep 2
measure driver-of-two "$bin" run --data "$data" --out "$dir/out-two" --partitions "$k" --cluster "df://127.0.0.1:$port"
for p in "${pids[@]}"; do pkill -INT -P "$p" 2> /dev/null || true; done
kill "$sched" 2> /dev/null || true
wait 2> /dev/null || true
for i in 1 2; do
    read -r _ kib < <(tail -1 "$dir/executor-$i.time")
    echo "| executor $i of two | (whole run) | $((kib / 1024)) |"
done
for o in standalone two; do
    if cmp -s "$dir/out-local/findings.csv" "$dir/out-$o/findings.csv" \
        && cmp -s "$dir/out-local/rejected.csv" "$dir/out-$o/rejected.csv"; then
        echo "$o: findings.csv and rejected.csv identical to the local run"
    else
        echo "$o: OUTPUTS DIFFER from the local run" >&2
        exit 1
    fi
done
