#!/usr/bin/env bash
# test_gguf_client.sh — `bone export gguf` / `gguf-lora` checked with a real llama.cpp (the
# prebuilt one inside node-llama-cpp 3.21.1, CPU, 1 thread; tests/gguf/client.mjs drives it).
# For one model (CASE = llama: models/default, a tied Llama with GQA and the Qwen2-style
# byte-level tokenizer; CASE = qwen2: a tiny Qwen2 made by `bone init`, untied, with q/k/v
# biases made non-zero by one full fine-tuning step):
#   - the model merged with a briefly trained bone-col adapter, exported as f32: llama.cpp's
#     greedy continuation of three prompts (32 tokens) equals `bone generate --adapter`'s, text
#     for text (or parts at a step where llama.cpp's own top-2 logit gap is a near-tie < 0.02,
#     which is rounding); as q8_0: the first token agrees wherever the f32 top-2 gap is >= 0.25
#     (q8_0 moves these small models' logits by up to ~0.1; at least one prompt per case);
#   - llama.cpp's tokenizer gives `bone tokenize`'s ids on a set of strings;
#   - the metadata read back (eps, freq_base, head counts, sizes) equals config.json;
#   - a lora adapter exported with gguf-lora and applied by llama.cpp to the f32 base gives
#     `bone generate --adapter`'s continuations (= the merged model's).
#   - (llama) a bone-free adapter exported with gguf-lora as its exact LoRA form does the same.
# Every adapter is checked to change the base model's continuations (else the comparisons could
# not see a missing merge or a missing adapter).
# CASE = llama3: a one-layer Llama with Llama-3's tokenizer (pre-tokenizer llama-bpe, BOS added,
# 128256 tokens; from the tokfiles fixture), base model only, one prompt, 8-token continuation.
# CASE = rope3: a tiny Llama with llama3 rope_scaling (rope_freqs.weight), one long prompt.
# CASE = ropelin: a tiny Llama with linear rope_scaling (factor 2): llama.rope.scaling.type/.factor
# and three long prompts, base model only.
# CASE = rwkv6: models/rwkv6 (RWKV-6, head size 32, byte-level BPE) as llama.cpp's rwkv6, with the
# bone-col merge, q8_0, and the lora and bone-free GGUF adapters as for llama; `bone inspect`; and a
# copy with narrower time_maa/time_decay low-rank mixes (tests/gguf/rwkv6_narrow.js), whose sizes
# llama.cpp must take from the metadata.
# CASE = rwkvworld: a tiny RWKV-6 by `bone init` with the RWKV World vocabulary (tokenizer.ggml.model
# "rwkv"): llama.cpp's ids on strings with non-ASCII and control bytes, the metadata; no continuations
# (a random model's are near-ties).
# CASE = spm: a tiny Llama with Mistral's SentencePiece-style tokenizer (tokenizer.ggml.model
# "llama", scores, byte tokens, BOS added; from the tokfiles fixture): the base model only
# (tokenization, continuations, metadata), no adapters.
# Exits 77 (CTest SKIP, loudly) only when node-llama-cpp cannot be installed (no npm registry).
# usage: test_gguf_client.sh BONE SOURCE_DIR CASE [TOKENIZER_CACHE]
set -u
BONE=$1
SRC=$2
CASE=$3
TOKC=${4:-${BONE_CACHE:-$HOME/.cache/bone}/tokenizers}
. "$SRC/tests/cli/lib.sh"
t_begin "gguf-$CASE"
NL=${BONE_NODE_LLAMA_DIR:-$SRC/.deps/node-llama-cpp}
if [ ! -f "$NL/node_modules/@node-llama-cpp/linux-x64/package.json" ]; then
    if ! BONE_NODE_LLAMA_DIR=$NL bash "$SRC/scripts/install-node-llama.sh" >"$W/npm.log" 2>&1; then
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "SKIPPED: node-llama-cpp (the real llama.cpp client) could not be installed into $NL:"
        tail -5 "$W/npm.log"
        echo "The GGUF export is NOT checked against llama.cpp in this run. Install it with"
        echo "  bash scripts/install-node-llama.sh   (needs Node >= 20 and the npm registry)"
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        exit 77
    fi
fi
export OMP_NUM_THREADS=1
# pre-tokenized sequences (every token a label), so that three short steps at a high learning
# rate move the adapters far enough to change greedy continuations
DATA=$W/ids.jsonl
awk 'BEGIN { srand(5); for (n = 0; n < 8; n++) { s = ""; for (t = 0; t < 32; t++) s = s (t ? "," : "") (32 + int(rand()*3000));
             print "{\"input_ids\":[" s "]}" } }' >"$DATA"
TRAIN=(--data "$DATA" --batch 4 --lr 2e-2 --quiet)
case $CASE in
llama)
    M=$SRC/models/default
    PROMPTS=("The man said" "Natalia sold clips to 48 of her friends" "And God said unto Moses,")
    ;;
qwen2)
    cat >"$W/q2.json" <<'JSON'
{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 4096, "hidden_size": 64,
 "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
 "max_position_embeddings": 256, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0, "tie_word_embeddings": false,
 "initializer_range": 0.3, "eos_token_id": 4095}
JSON
    # random weights of std 0.3 give peaked (non-tied) logits; one full step at lr 0.05 makes
    # the q/k/v biases (zero at init) non-zero, so a missing or misplaced bias shows
    run_ok "init qwen2" "$BONE" init --config "$W/q2.json" --out "$W/q2init" --seed 3 || t_fatal
    cp "$SRC/models/default/tokenizer.json" "$SRC/models/default/tokenizer_config.json" "$W/q2init/"
    run_ok "full step" "$BONE" train --model "$W/q2init" --method full --out "$W/q2ft" --steps 1 --data "$DATA" \
        --batch 2 --max-len 64 --lr 0.05 --quiet || t_fatal
    M=$W/q2ft/model
    PROMPTS=("The man said" "Natalia sold clips" "And God said unto Moses,")
    ;;
spm)
    [ -f "$TOKC/mistral/tokenizer.json" ] || { bad "missing fixture $TOKC/mistral (run scripts/fetch-tokenizers.sh)"; t_fatal; }
    cat >"$W/spm.json" <<'JSON'
{"model_type": "llama", "vocab_size": 32000, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": true, "initializer_range": 0.3, "bos_token_id": 1, "eos_token_id": 2}
JSON
    run_ok "init spm" "$BONE" init --config "$W/spm.json" --out "$W/spm" --seed 3 || t_fatal
    cp "$TOKC/mistral/tokenizer.json" "$TOKC/mistral/tokenizer_config.json" "$W/spm/"
    M=$W/spm
    PROMPTS=("The man said" "Natalia sold clips" "Once upon a time")
    ;;
llama3)
    [ -f "$TOKC/llama3/tokenizer.json" ] || { bad "missing fixture $TOKC/llama3 (run scripts/fetch-tokenizers.sh)"; t_fatal; }
    cat >"$W/l3.json" <<'JSON'
{"model_type": "llama", "vocab_size": 128256, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
 "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
 "rope_theta": 500000.0, "tie_word_embeddings": true, "initializer_range": 0.5, "bos_token_id": 128000,
 "eos_token_id": 128001}
JSON
    run_ok "init llama3" "$BONE" init --config "$W/l3.json" --out "$W/l3" --seed 3 || t_fatal
    cp "$TOKC/llama3/tokenizer.json" "$TOKC/llama3/tokenizer_config.json" "$W/l3/"
    M=$W/l3
    PROMPTS=("Natalia sold clips") # one: every step of a 128256-token distribution costs node time
    MAXNEW=8
    ;;
rope3)
    # Llama-3.1-style rope_scaling: exported as the rope_freqs.weight tensor llama.cpp divides
    # the frequencies by; original_max_position_embeddings 16 so that most frequencies change
    cat >"$W/r3.json" <<'JSON'
{"model_type": "llama", "vocab_size": 4096, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": false, "initializer_range": 0.3, "eos_token_id": 4095,
 "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 16}}
JSON
    run_ok "init rope3" "$BONE" init --config "$W/r3.json" --out "$W/r3" --seed 3 || t_fatal
    cp "$SRC/models/default/tokenizer.json" "$SRC/models/default/tokenizer_config.json" "$W/r3/"
    M=$W/r3
    PROMPTS=("The man said that the LORD had spoken unto Moses and Aaron in the land of Egypt, saying")
    ;;
ropelin)
    # linear rope scaling (positions divided by the factor): llama.rope.scaling.type/.factor,
    # one long prompt so that the scaled positions matter
    cat >"$W/rl.json" <<'JSON'
{"model_type": "llama", "vocab_size": 4096, "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
 "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
 "rope_theta": 10000.0, "tie_word_embeddings": false, "initializer_range": 0.3, "eos_token_id": 4095,
 "rope_scaling": {"type": "linear", "factor": 2.0}}
JSON
    run_ok "init ropelin" "$BONE" init --config "$W/rl.json" --out "$W/rl" --seed 3 || t_fatal
    cp "$SRC/models/default/tokenizer.json" "$SRC/models/default/tokenizer_config.json" "$W/rl/"
    M=$W/rl
    PROMPTS=("The man said that the LORD had spoken unto Moses and Aaron in the land of Egypt, saying"
             "Once upon a time, in a land far away, there lived a king who had three daughters and a"
             "And God said unto Moses, I AM THAT I AM: and he said, Thus shalt thou say unto the children")
    ;;
rwkv6)
    # models/rwkv6: a small trained RWKV-6 (head size 32, 4 layers) with the default model's
    # byte-level BPE tokenizer (tokenizer.ggml.model gpt2 under arch rwkv6)
    M=$SRC/models/rwkv6
    PROMPTS=("The man said" "Natalia sold clips to 48 of her friends in April" "And God said unto Moses,")
    ;;
rwkvworld)
    # the RWKV World vocabulary (tokenizer.ggml.model "rwkv", 65536 rows) on a tiny RWKV-6 made by
    # bone init: llama.cpp's ids for a set of strings (non-ASCII included) and the metadata; a
    # random model's continuations are near-ties, so none are compared
    cat >"$W/rw.json" <<'JSON'
{"architectures": ["Rwkv6ForCausalLM"], "model_type": "rwkv6", "vocab_size": 65536, "hidden_size": 32,
 "attention_hidden_size": 32, "head_size": 16, "head_size_divisor": 8, "intermediate_size": 64,
 "num_hidden_layers": 1, "layer_norm_epsilon": 1e-5, "tie_word_embeddings": false, "bos_token_id": 0,
 "eos_token_id": 0}
JSON
    run_ok "init rwkv world" "$BONE" init --config "$W/rw.json" --out "$W/rw" --seed 3 || t_fatal
    cp "$SRC/data/rwkv-world/rwkv_vocab_v20230424.txt" "$W/rw/"
    M=$W/rw
    PROMPTS=()
    ;;
*) echo "unknown case $CASE"; exit 2 ;;
esac
MAXNEW=${MAXNEW:-32}
ADAPTERS=(bone lora)
[ "$CASE" = llama ] || [ "$CASE" = rwkv6 ] && ADAPTERS+=(bfree)
case $CASE in spm | llama3 | rope3 | ropelin | rwkvworld) ADAPTERS=() ;; esac

MERGED=()
if [ ${#ADAPTERS[@]} -gt 0 ]; then
    MERGED=(--adapter "$W/bone/adapter")
    # (RWKV-6: with its time-mix and LayerNorm tensors trained too, so the merged small tensors
    # go through the export's transforms)
    XTRA=()
    [ "$CASE" = rwkv6 ] && XTRA=(--train-extra time,ln)
    run_ok "train bone-col" "$BONE" train --model "$M" --method bone-col --block 16 "${XTRA[@]}" --out "$W/bone" --steps 3 \
        "${TRAIN[@]}" || t_fatal
    run_ok "train lora" "$BONE" train --model "$M" --method lora --rank 4 --out "$W/lora" --steps 3 "${TRAIN[@]}" || t_fatal
    run_ok "export lora" "$BONE" export gguf-lora --model "$M" --adapter "$W/lora/adapter" --out "$W/lora.gguf" || t_fatal
fi
if [ "$CASE" = llama ] || [ "$CASE" = rwkv6 ]; then
    run_ok "train bone-free" "$BONE" train --model "$M" --method bone-free --block 16 --out "$W/bfree" --steps 3 "${TRAIN[@]}" || t_fatal
    run_ok "export bone-free" "$BONE" export gguf-lora --model "$M" --adapter "$W/bfree/adapter" --out "$W/bfree.gguf" || t_fatal
fi
# m32/mq8: the model (merged with bone-col where adapters are trained) as f32 and q8_0
run_ok "export merged f32" "$BONE" export gguf --model "$M" "${MERGED[@]}" --out "$W/m32.gguf" || t_fatal
[ ${#PROMPTS[@]} -eq 0 ] ||
    run_ok "export merged q8_0" "$BONE" export gguf --model "$M" "${MERGED[@]}" --out "$W/mq8.gguf" --type q8_0 || t_fatal
[ ${#ADAPTERS[@]} -eq 0 ] || run_ok "export base f32" "$BONE" export gguf --model "$M" --out "$W/b32.gguf" || t_fatal
if [ "$CASE" = rwkv6 ]; then
    # models/rwkv6 with time_mix_extra_dim 16 and time_decay_extra_dim 32 (the converter's rule
    # would say 32 and 64): llama.cpp must size these tensors from the metadata bone writes
    mkdir -p "$W/rx" && cp "$M/config.json" "$M/tokenizer.json" "$M/tokenizer_config.json" "$W/rx/"
    run_ok "narrow rwkv6" node "$SRC/tests/gguf/rwkv6_narrow.js" "$M/model.safetensors" "$W/rx/model.safetensors" 16 32 || t_fatal
    run_ok "export narrow f32" "$BONE" export gguf --model "$W/rx" --out "$W/x32.gguf" || t_fatal
fi
case $CASE in
rwkv6 | rwkvworld)
    # bone's own reader on the file: the architecture and every tensor of docs/GGUF.md §3.7
    # (3 + 24 per block + 3)
    L=$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1])).num_hidden_layers' "$M/config.json")
    if "$BONE" inspect "$W/m32.gguf" >"$W/inspect.txt" 2>&1; then
        grep -qx "architecture: rwkv6" "$W/inspect.txt" && grep -qx "tensors: $((6 + 24 * L))" "$W/inspect.txt" &&
            ok "bone inspect: arch rwkv6, $((6 + 24 * L)) tensors" || bad "bone inspect: $(head -c 400 "$W/inspect.txt")"
    else
        bad "bone inspect m32.gguf: $(head -c 300 "$W/inspect.txt")"
    fi
    ;;
esac

# prompts as token ids (so generation is compared apart from tokenization) and bone's continuations
plist=""
n=0
for p in "${PROMPTS[@]}"; do
    ids=$("$BONE" tokenize --tokenizer "$M" --text "$p" --add-special) || { bad "tokenize \"$p\""; t_fatal; }
    plist="$plist${plist:+,}[${ids// /,}]"
    for v in base "${ADAPTERS[@]}"; do
        ad=()
        [ $v = base ] || ad=(--adapter "$W/$v/adapter")
        "$BONE" generate --model "$M" "${ad[@]}" --prompt "$p" --max-new $MAXNEW >"$W/gen-$v-$n.txt" 2>"$W/err" \
            || { bad "bone generate $v \"$p\": $(head -c 300 "$W/err")"; t_fatal; }
    done
    if [ "$CASE" = rwkv6 ]; then
        "$BONE" generate --model "$W/rx" --prompt "$p" --max-new $MAXNEW >"$W/gen-rx-$n.txt" 2>"$W/err" \
            || { bad "bone generate narrow \"$p\": $(head -c 300 "$W/err")"; t_fatal; }
    fi
    n=$((n + 1))
done
STRINGS=("Hello world" "it's 2026: naïve café, ünïcödé 12345" ".\n" "  two  spaces\n\nand tabs\t\tend"
         "Natalia sold 48/2 = <<48/2=24>>24 clips." "I'm sure they'll've DONE it" "日本語のテキスト" "a<|endoftext|>b" "<|begin_of_text|>x<|eot_id|>")
# (World: no special-token text, which bone's World tokenizer and llama.cpp's "<s>" treat apart)
[ "$CASE" = rwkvworld ] && STRINGS=("Hello world" "it's 2026: naïve café, ünïcödé 12345" ".\n" "  two  spaces\n\nand tabs\t\tend"
    "Natalia sold 48/2 = <<48/2=24>>24 clips." "日本語のテキスト" "Привет, мир! Ελληνικά" "emoji 🦀🚀 and ß" "back\\slash \"quoted\" 'x'"
    "User: hi\n\nAssistant:" $'ctl \x01\x1b[0m\r\x7f end')
slist=""
for s in "${STRINGS[@]}"; do slist="$slist${slist:+,}$(node -e 'process.stdout.write(JSON.stringify(process.argv[1].replace(/\\n/g,"\n").replace(/\\t/g,"\t")))' "$s")"; done

# llama.cpp: the (merged) model as q8_0 and f32, and the f32 base with each GGUF adapter, in one process
runs="{\"name\":\"m32\",\"model\":\"$W/m32.gguf\",\"lora\":null}"
[ ${#PROMPTS[@]} -eq 0 ] || runs="$runs,{\"name\":\"mq8\",\"model\":\"$W/mq8.gguf\",\"lora\":null,\"max_new\":1}"
[ "$CASE" = rwkv6 ] && runs="$runs,{\"name\":\"x32\",\"model\":\"$W/x32.gguf\",\"lora\":null}"
for v in "${ADAPTERS[@]}"; do
    [ $v = bone ] && continue
    runs="$runs,{\"name\":\"$v\",\"model\":\"$W/b32.gguf\",\"lora\":\"$W/$v.gguf\"}"
done
timeout -k 5 240 node "$SRC/tests/gguf/client.mjs" "$NL" \
    "{\"runs\":[$runs],\"prompts\":[$plist],\"max_new\":$MAXNEW,\"strings\":[$slist]}" >"$W/client.json" 2>"$W/client.err"
rc=$?
[ $rc -eq 0 ] && [ -s "$W/client.json" ] || { bad "llama.cpp client: exit $rc: $(head -c 600 "$W/client.err")"; t_fatal; }

# the comparisons, in node (JSON); each line printed is "ok ..." or "FAIL ..."
node - "$W" "$M/config.json" "$CASE" "$n" "$BONE" "$M" "${ADAPTERS[*]}" "${STRINGS[@]}" >"$W/checks.txt" 2>&1 <<'JS'
const fs = require("fs"), cp = require("child_process");
const [W, cfgPath, kase, nstr, bone, mdir, adapterList, ...strings] = process.argv.slice(2);
const adapters = adapterList ? adapterList.split(" ") : [];
const n = +nstr, all = JSON.parse(fs.readFileSync(`${W}/client.json`, "utf8"));
const m32 = all.m32, mq8 = all.mq8, cfg = JSON.parse(fs.readFileSync(cfgPath, "utf8"));
const say = (good, what) => console.log(`${good ? "ok  " : "FAIL"} ${what}`);
const gen = (v, i) => fs.readFileSync(`${W}/gen-${v}-${i}.txt`, "utf8");
// bone's continuation against llama.cpp's: equal, or parting at a step where llama.cpp's own
// top-2 logit gap is a near-tie (< 0.02; f32 kernels differ by ~1e-4 there), which is
// rounding, not a wrong export. Returns [pass, how].
// Invalid UTF-8 (a byte token of an unfinished character) is shown as U+FFFD by both, but not
// always as many of them (per byte or per maximal subpart): runs of U+FFFD count as one.
const fffd = x => x.replace(/\uFFFD+/g, "\uFFFD");
function agree(run, i, bone0) {
    const bone = fffd(bone0), g = fffd(run.gen[i] + "\n");
    if (g === bone) return [true, "equal"];
    const t = run.texts[i];
    let k = 0; /* leading tokens whose text bone's starts with (a partial UTF-8 character is skipped) */
    while (k < t.length && (t[k].endsWith("\uFFFD") || bone.startsWith(fffd(t[k])))) k++;
    const near = Math.min(...run.gaps[i].slice(Math.max(0, k - 2), k + 1));
    return [near < 0.02, `part at token ${k}, where llama.cpp's top-2 gap is ${near.toFixed(4)} ` +
            `(${near < 0.02 ? "a near-tie: rounding" : "no near-tie: a real difference"}): bone ` +
            `${JSON.stringify(bone.slice(0, 160))} llama.cpp ${JSON.stringify(g.slice(0, 160))}`];
}
const changed = {}, Q8_GAP = 0.25;
let q8checked = 0;
for (let i = 0; i < n; i++) {
    const v0 = adapters.length ? "bone" : "base", b = gen(v0, i);
    let [good, how] = agree(m32, i, b);
    say(good, `prompt ${i}: llama.cpp f32 ${adapters.length ? "merged bone-col" : "model"} vs bone generate: ${how}` +
        (how === "equal" ? ` ${JSON.stringify(b.slice(0, 60))}` : ""));
    // q8_0's rounding moves these small random models' logits by up to ~0.1: its first token is
    // compared where the f32 top-2 gap is wider than that (at least one prompt per case)
    if (m32.gap[i] >= Q8_GAP) {
        q8checked++;
        say(m32.gen_ids[i].length > 0 && mq8.gen_ids[i][0] === m32.gen_ids[i][0],
            `prompt ${i}: q8_0 first token ${mq8.gen_ids[i][0]} == f32's ${m32.gen_ids[i][0]} (top-2 gap ${m32.gap[i].toFixed(3)})`);
    } else {
        console.log(`note prompt ${i}: q8_0 first token not compared: f32 top-2 gap ${m32.gap[i].toFixed(3)} < ${Q8_GAP}`);
    }
    say(m32.gap[i] > 0.05, `prompt ${i}: top-2 logit gap ${m32.gap[i].toFixed(3)} in llama.cpp is no near-tie (> 0.05)`);
    for (const v of adapters) {
        const t = gen(v, i);
        changed[v] = (changed[v] || 0) + (t !== gen("base", i));
        if (v === "bone") continue;
        [good, how] = agree(all[v], i, t);
        say(good, `prompt ${i}: llama.cpp f32 base + GGUF adapter (${v}) vs bone generate --adapter: ${how}`);
    }
}
if (all.x32) { // RWKV-6 with narrower low-rank mixes (time_mix_extra_dim 16, time_decay_extra_dim 32)
    for (let i = 0; i < n; i++) {
        const [good, how] = agree(all.x32, i, gen("rx", i));
        say(good, `prompt ${i}: llama.cpp f32 narrow-mix RWKV-6 vs bone generate: ${how}`);
    }
    for (const [k, v] of [["rwkv6.time_mix_extra_dim", 16], ["rwkv6.time_decay_extra_dim", 32]])
        say(all.x32.meta[k] === v, `narrow-mix metadata ${k} = ${all.x32.meta[k]} (the shapes: ${v})`);
}
if (n > 0) say(q8checked > 0, `q8_0's first token compared on ${q8checked} of ${n} prompts`);
for (const v of adapters)
    say(changed[v] > 0, `the ${v} adapter changes ${changed[v]} of ${n} continuations (so a missing adapter would show)`);
strings.forEach((s0, j) => {
    const s = s0.replace(/\\n/g, "\n").replace(/\\t/g, "\t");
    const ids = cp.execFileSync(bone, ["tokenize", "--tokenizer", mdir, "--text", s]).toString().trim().split(" ").map(Number);
    const got = m32.tok[j];
    say(JSON.stringify(ids) === JSON.stringify(got), `tokenize ${JSON.stringify(s)}: llama.cpp ${JSON.stringify(got)} == bone ${JSON.stringify(ids)}`);
});
const a = kase === "qwen2" ? "qwen2" : kase.startsWith("rwkv") ? "rwkv6" : "llama", m = m32.meta, f = Math.fround;
const hd = cfg.head_dim ?? cfg.hidden_size / cfg.num_attention_heads;
// RWKV-6: llama.cpp's keys (docs/GGUF.md §3.7) against config.json and the safetensors shapes
// (time_maa_w1 [C, 5·extra], time_decay_w1 [C, decay_extra]) read from the file's own header
function stShape(dir, name) {
    const buf = fs.readFileSync(`${dir}/model.safetensors`), n = Number(buf.readBigUInt64LE(0));
    return JSON.parse(buf.subarray(8, 8 + n).toString())[name].shape;
}
const want = a === "rwkv6" ? {
    "general.architecture": a, "rwkv6.embedding_length": cfg.hidden_size, "rwkv6.block_count": cfg.num_hidden_layers,
    "rwkv6.wkv.head_size": cfg.head_size, "rwkv6.attention.layer_norm_epsilon": f(cfg.layer_norm_epsilon),
    "rwkv6.feed_forward_length": cfg.intermediate_size ?? Math.floor(cfg.hidden_size * 3.5 / 32) * 32,
    "rwkv6.time_mix_extra_dim": stShape(mdir, "rwkv.blocks.0.attention.time_maa_w1")[1] / 5,
    "rwkv6.time_decay_extra_dim": stShape(mdir, "rwkv.blocks.0.attention.time_decay_w1")[1],
    "rwkv6.rescale_every_n_layers": 0, "rwkv6.attention.head_count": 0,
    "tokenizer.ggml.eos_token_id": kase === "rwkvworld" ? 0 : cfg.eos_token_id, "tokenizer.ggml.add_eos_token": false,
} : {
    "general.architecture": a, [`${a}.attention.layer_norm_rms_epsilon`]: f(cfg.rms_norm_eps),
    [`${a}.rope.freq_base`]: f(cfg.rope_theta), [`${a}.attention.head_count`]: cfg.num_attention_heads,
    [`${a}.attention.head_count_kv`]: cfg.num_key_value_heads, [`${a}.embedding_length`]: cfg.hidden_size,
    [`${a}.block_count`]: cfg.num_hidden_layers, [`${a}.feed_forward_length`]: cfg.intermediate_size,
    [`${a}.context_length`]: cfg.max_position_embeddings, [`${a}.rope.dimension_count`]: hd,
    [`${a}.attention.key_length`]: hd, "tokenizer.ggml.eos_token_id": cfg.eos_token_id,
    "tokenizer.ggml.add_eos_token": false,
};
// (this Llama-3 tokenizer.json's post-processor is ByteLevel alone: HF adds no BOS, so neither may llama.cpp)
if (kase === "llama3") Object.assign(want, { "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "llama-bpe",
                                             "tokenizer.ggml.add_bos_token": false, "tokenizer.ggml.bos_token_id": 128000 });
else if (kase === "spm") Object.assign(want, { "tokenizer.ggml.model": "llama", "tokenizer.ggml.add_bos_token": true,
                                          "tokenizer.ggml.bos_token_id": 1, "tokenizer.ggml.add_space_prefix": true });
else if (kase === "rwkvworld") Object.assign(want, { "tokenizer.ggml.model": "rwkv", "tokenizer.ggml.bos_token_id": 0,
                                                "tokenizer.ggml.eot_token_id": 261, "tokenizer.ggml.add_bos_token": false,
                                                "tokenizer.chat_template": "rwkv-world" });
else if (kase === "ropelin") Object.assign(want, { "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
                                              "tokenizer.ggml.add_bos_token": false, "llama.rope.scaling.type": "linear",
                                              "llama.rope.scaling.factor": f(cfg.rope_scaling.factor) });
else Object.assign(want, { "tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "qwen2",
                           "tokenizer.ggml.add_bos_token": false });
for (const [k, v] of Object.entries(want)) say(m[k] === v, `metadata ${k} = ${m[k]} (config: ${v})`);
const tc = fs.existsSync(`${mdir}/tokenizer_config.json`) ? JSON.parse(fs.readFileSync(`${mdir}/tokenizer_config.json`, "utf8")) : {};
if (typeof tc.chat_template === "string")
    say(m["tokenizer.chat_template"] === tc.chat_template, `tokenizer.chat_template is tokenizer_config.json's (${tc.chat_template.length} chars)`);
say(m["tokenizer.ggml.tokens"]?.length === cfg.vocab_size, `tokenizer.ggml.tokens has vocab_size = ${cfg.vocab_size} entries`);
JS
[ -s "$W/checks.txt" ] || bad "the node checks printed nothing"
while IFS= read -r line; do
    case $line in
    "ok   "*) ok "${line#ok   }" ;;
    "note "*) echo "$line" ;;
    "FAIL "*) bad "${line#FAIL }" ;;
    *) bad "checker: $line" ;;
    esac
done <"$W/checks.txt"
[ -n "${BONE_KEEP_W:-}" ] && cp -r "$W" "$BONE_KEEP_W"
t_end
