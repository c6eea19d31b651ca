#!/usr/bin/env bash
# The reviewers' report in a real browser: runs the sample town, opens its report.html in
# headless Chromium with `#selftest` (the page checks its own search, sort, per-person
# grouping and rule filter and writes the result into the DOM), fails on any console
# error, compares the numbers the page shows with manifest.json, and saves a screenshot.
# Then the same for a generated report of 100,000 findings, recording the time to first
# render. Installs Debian's chromium and fonts-noto-cjk when missing (CI runs as root).
#
# Usage: tests/browser/check.sh            (after `cargo test`, which builds the binary)
# Env:   CARGO_TARGET_DIR (default target), QB_BIG (findings of the large report, 100000)
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
target=${CARGO_TARGET_DIR:-target}
case "$target" in /*) ;; *) target="$root/$target" ;; esac
out="$target/browser-check"
big=${QB_BIG:-100000}

have() { command -v "$1" >/dev/null 2>&1; }
if ! have chromium || ! have python3 || ! fc-list 2>/dev/null | grep -i "Noto Sans CJK" >/dev/null; then
    if [ "$(id -u)" = 0 ] && have apt-get; then
        echo "browser check: installing chromium, fonts-noto-cjk, python3"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            chromium fonts-noto-cjk python3 fontconfig >/dev/null
    else
        echo "browser check: chromium, fonts-noto-cjk and python3 are needed (apt-get as root)" >&2
        exit 1
    fi
fi

bin="$target/debug/qianbiao"
example="$target/debug/examples/big_report"
if [ ! -x "$bin" ]; then cargo build --locked --bin qianbiao; fi
if [ ! -x "$example" ]; then cargo build --locked -p qianbiao-report --example big_report; fi

rm -rf "$out"
mkdir -p "$out"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT

# Headless, offline: every host resolves to nothing, no proxy, no background traffic.
browser() {
    chromium --headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
        --disable-background-networking --disable-component-update --disable-sync \
        --disable-extensions --host-resolver-rules="MAP * ~NOTFOUND" \
        --user-data-dir="$profile" --enable-logging=stderr --v=0 "$@"
}

# check NAME DIR: self-test, numbers against the manifest, console errors, screenshot.
check() {
    local name=$1 dir=$2 url="file://$2/report.html"
    local start end
    start=$(date +%s%N)
    browser --dump-dom "$url#selftest" >"$out/$name.dom.html" 2>"$out/$name.console.log"
    end=$(date +%s%N)
    echo "$(( (end - start) / 1000000 ))" >"$out/$name.wall_ms"
    # One tall window: summary, charts and the first page of findings in one picture.
    browser --window-size=1440,7400 --hide-scrollbars --screenshot="$out/$name.png" \
        "$url" >/dev/null 2>"$out/$name.screenshot.log"
    python3 - "$name" "$out/$name.dom.html" "$dir/manifest.json" "$out/$name.console.log" \
        "$out/$name.wall_ms" <<'PY'
import html, json, re, sys
name, dom_path, manifest_path, log_path, wall_path = sys.argv[1:]
dom = open(dom_path, encoding="utf-8").read()
m = json.load(open(manifest_path, encoding="utf-8"))
fail = []
found = re.search(r'<pre id="qb-selftest">(.*?)</pre>', dom, re.S)
if not found:
    sys.exit(f"{name}: the page wrote no self-test result (script did not run?)")
res = json.loads(html.unescape(found.group(1)))
log = open(log_path, encoding="utf-8", errors="replace").read()
console = [l for l in log.splitlines() if "CONSOLE" in l and ("Uncaught" in l or "rror" in l)]
if res["errors"] or console:
    fail.append(f"console errors: {res['errors']} {console}")
for k, ok in res["checks"].items():
    if ok is not True:
        fail.append(f"self-test {k} failed")
by_rule = m["findings"]["by_rule"]
for code, want in by_rule.items():
    shown = res["rules"].get(code)
    if shown is None:
        fail.append(f"{code}: not shown")
    elif shown["count"] != str(want["count"]) or shown["amount"] != want["amount"]:
        fail.append(f"{code}: page shows {shown}, manifest {want}")
for code, shown in res["rules"].items():
    if code not in by_rule and (shown["count"] != "0" or shown["amount"] != "0.00"):
        fail.append(f"{code}: page shows {shown}, manifest has none")
if res["total"]["count"] != str(m["findings"]["total"]) or res["total"]["amount"] != m["findings"]["amount"]:
    fail.append(f"total: page {res['total']}, manifest {m['findings']['total']} / {m['findings']['amount']}")
if res["findings"] != m["findings"]["total"]:
    fail.append(f"embedded rows {res['findings']} != {m['findings']['total']}")
wall = open(wall_path).read().strip()
print(f"browser check {name}: {res['findings']} findings, {len(by_rule)} rules match the manifest; "
      f"first render {res['first_render_since_navigation_ms']} ms after navigation "
      f"(script {res['first_render_ms']} ms); headless load+self-test {wall} ms")
if fail:
    print("\n".join(f"  FAIL {f}" for f in fail))
    sys.exit(1)
PY
}

"$bin" run --out "$out/sample" 2>/dev/null
check sample "$out/sample"
"$example" "$out/big" "$big"
check big "$out/big"
echo "browser check: ok (screenshots in $out)"
