#!/usr/bin/env bash
# bench.sh — the performance table of issue 6: `bone bench` on the "small" config (fp32 and
# bf16 frozen weights) and the PyTorch peer (bench/peers/torch_peer.py) on the same shapes,
# formulas and token batches, as installed and tuned; prints ratios measured in this run.
# usage: bench/bench.sh [BUILD_DIR]
#   env: LAYERS (default: the config's 8), STEPS (5), WARMUP (2), ROUNDS (2), PEER_STEPS (3),
#        SKIP_INSTALLED=1 to skip the untuned PyTorch run, KEEP=DIR to keep the work dir.
# Writes nothing outside a temp dir. Ratios, not absolute times, are the result: the machine
# is shared; every figure below comes from this one run.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
BONE="$BUILD/bone"
PY=/usr/bin/python3
STEPS=${STEPS:-5}
WARMUP=${WARMUP:-2}
ROUNDS=${ROUNDS:-2}
PEER_STEPS=${PEER_STEPS:-3}
W=${KEEP:-$(mktemp -d /tmp/bone-bench.XXXXXX)}
mkdir -p "$W"
[ -n "${KEEP:-}" ] || trap 'rm -rf "$W"' EXIT
CFG=bench/configs/small.json
if [ -n "${LAYERS:-}" ]; then
    sed -e "s/\"num_hidden_layers\": [0-9]*/\"num_hidden_layers\": $LAYERS/" "$CFG" >"$W/config.json"
    CFG="$W/config.json"
fi
NB=$((4 * (STEPS + WARMUP)))
awk -v n="$NB" 'BEGIN { srand(3); for (i = 0; i < n; i++) { s = ""; for (t = 0; t < 256; t++) s = s (t ? "," : "") int(rand()*32000);
             print "{\"input_ids\":[" s "]}" } }' >"$W/data.jsonl"
"$BONE" init --config "$CFG" --out "$W/f32" --seed 1 >/dev/null
"$BONE" init --config "$CFG" --out "$W/bf16" --seed 1 --dtype bf16 >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(date -u +%F' '%H:%M' UTC')"
COMMON=(--data "$W/data.jsonl" --batch 4 --seq 256 --steps "$STEPS" --warmup "$WARMUP" --rounds "$ROUNDS" --json)
echo "== bone bench, fp32 weights"
"$BONE" bench --model "$W/f32" --methods lora:8,bone-col:16,full,lora:8/rc,bone-col:16/rc "${COMMON[@]}" | tee "$W/ours-f32.txt" | grep -v '^{'
echo "== bone bench, bf16 frozen weights"
"$BONE" bench --model "$W/bf16" --methods lora:8,bone-col:16 "${COMMON[@]}" | tee "$W/ours-bf16.txt" | grep -v '^{'

TC=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -e "$TC" ] || { echo "note: $TC missing (scripts/install-deps.sh installs it); tuned peer runs without tcmalloc"; TC=""; }
peer() { # tag env... -- method
    local tag=$1 m=$2
    shift 2
    env "$@" OMP_NUM_THREADS=2 "$PY" bench/peers/torch_peer.py --model "$W/f32" --data "$W/data.jsonl" --method "$m" \
        --steps "$PEER_STEPS" --warmup 1 --threads 2 | sed "s/^{/{\"tag\": \"$tag\", /" >>"$W/peer.jsonl"
}
: >"$W/peer.jsonl"
echo "== PyTorch peer ($($PY -c 'import torch; print(torch.__version__)'), eager, fp32, 2 threads)"
for m in lora:8 bone-col:16 full; do
    peer tuned "$m" OPENBLAS_CORETYPE=SkylakeX ${TC:+LD_PRELOAD=$TC}
    [ -n "${SKIP_INSTALLED:-}" ] || peer installed "$m" -u OPENBLAS_CORETYPE -u LD_PRELOAD
done

"$PY" - "$W" <<'EOF'
import json, sys, os
w = sys.argv[1]
def summ(path):
    out = {}
    for l in open(path):
        if l.startswith('{"summary"'):
            j = json.loads(l); out[j["summary"]] = j
    for l in open(path):  # per-step losses of the first round's child runs
        if l.startswith('{"method"') and '"losses"' in l:
            j = json.loads(l)
            key = j["method"].replace("/rc", "") + (":%d" % j["k"] if j["k"] else "") + ("/rc" if "/rc" in j["method"] else "")
            if key in out and "losses" not in out[key]: out[key]["losses"] = j["losses"]
    return out
f32, bf = summ(f"{w}/ours-f32.txt"), summ(f"{w}/ours-bf16.txt")
peers = [json.loads(l) for l in open(f"{w}/peer.jsonl")]
tuned = {p["method"]: p for p in peers if p["tag"] == "tuned"}
inst = {p["method"]: p for p in peers if p["tag"] == "installed"}
print("\n== PyTorch peer")
print(f"{'method':<12} {'tag':<10} {'step_ms':>9} {'tokens/s':>9} {'peak_MiB':>9}  loss[0]")
for p in peers:
    print(f"{p['method']:<12} {p['tag']:<10} {1e3*p['step_s']:9.1f} {p['tokens_per_s']:9.0f} {p['peak_rss_mib']:9.1f}  {p['losses'][0]:.4f}")
print("\n== ours / tuned PyTorch (target: tokens/s >= 1.3, peak RSS <= 0.6)")
print(f"{'method':<12} {'tokens/s':>9} {'peak_rss':>9} {'vs installed':>13}")
for m, o in f32.items():
    t = tuned.get(m)
    if not t: continue
    i = inst.get(m)
    vi = f"{o['tokens_per_s']/i['tokens_per_s']:13.2f}" if i else f"{'-':>13}"
    print(f"{m:<12} {o['tokens_per_s']/t['tokens_per_s']:9.2f} {o['peak_rss_mib']/t['peak_rss_mib']:9.2f} {vi}")
print("\n== targets inside bone (same run)")
if "lora:8" in f32 and "bone-col:16" in f32:
    l, b = f32["lora:8"], f32["bone-col:16"]
    print(f"bone-col/lora step time {b['step_s']/l['step_s']:.3f} (target <= 1.35), peak RSS {b['peak_rss_mib']/l['peak_rss_mib']:.3f} (target <= 1.05)")
if "full" in f32:
    f = f32["full"]
    print(f"full fp32: {f['gflops']:.1f} GFLOP/s = {100*f['gflops']/f['ceiling_gflops']:.1f}% of the GEMM ceiling {f['ceiling_gflops']:.1f} (target >= 75%)")
fs = os.path.getsize(f"{w}/f32/model.safetensors"); bs = os.path.getsize(f"{w}/bf16/model.safetensors")
for m in bf:
    if m in f32:
        a, b = f32[m], bf[m]
        rel = max(abs(x - y) / abs(y) for x, y in zip(b.get("losses", [b["loss0"]]), a.get("losses", [a["loss0"]])))
        print(f"bf16/fp32 {m}: tokens/s {b['tokens_per_s']/a['tokens_per_s']:.3f} (target >= 0.95), peak RSS {b['peak_rss_mib']/a['peak_rss_mib']:.3f}, "
              f"max rel loss diff over the {len(b.get('losses', [0]))} steps {rel:.2e} (target < 1e-2)")
for m in ("lora:8", "bone-col:16"):
    if m in f32 and m + "/rc" in f32:
        a, b = f32[m], f32[m + "/rc"]
        print(f"--recompute {m}: step time x{b['step_s']/a['step_s']:.3f}, peak RSS x{b['peak_rss_mib']/a['peak_rss_mib']:.3f} "
              f"({a['peak_rss_mib']:.0f} -> {b['peak_rss_mib']:.0f} MiB)")
print(f"weight file bf16/fp32: {bs/fs:.3f} ({bs/2**20:.0f} / {fs/2**20:.0f} MiB)")
EOF
