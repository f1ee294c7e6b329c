// client.mjs — the real llama.cpp side of tests/gguf: loads a GGUF with node-llama-cpp (its
// prebuilt llama.cpp, CPU, 1 thread) and answers a job given as JSON on argv[3]:
//   {"model": FILE, "lora": FILE|null, "prompts": [[ids], ...], "max_new": N,
//    "strings": ["text", ...], "gap": true|false}
// and prints one JSON object: {"gen": ["continuation text", ...], "gen_ids": [[ids], ...],
// "tok": [[ids], ...], "gap": [top-1 minus top-2 logit of the first step, ...],
// "meta": {...the file's metadata as node-llama-cpp's GGUF reader sees it}, "n_vocab": N}.
// usage: node client.mjs NODE_LLAMA_DIR JOB_JSON
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [dir, jobText] = process.argv.slice(2);
const job = JSON.parse(jobText);
const nl = await import(pathToFileURL(join(dir, "node_modules/node-llama-cpp/dist/index.js")).href);
const llama = await nl.getLlama({ gpu: false, build: "never", logLevel: nl.LlamaLogLevel.error, maxThreads: 1,
                                  progressLogs: false });
const model = await llama.loadModel({ modelPath: job.model, gpuLayers: 0 });
const ctxOpts = { contextSize: 256, threads: 1, sequences: 1, batchSize: 64 };
if (job.lora) ctxOpts.lora = { adapters: [{ filePath: job.lora, scale: 1 }] };
const ctx = await model.createContext(ctxOpts);
const out = { gen: [], gen_ids: [], tok: [], gap: [], n_vocab: model.tokens.size ?? null };

for (const prompt of job.prompts || []) {
    const seq = ctx.getSequence();
    const ids = [];
    for await (const t of seq.evaluate(prompt, { temperature: 0 })) {
        if (model.isEogToken(t)) break;
        ids.push(t);
        if (ids.length >= job.max_new) break;
    }
    out.gen_ids.push(ids);
    out.gen.push(model.detokenize(ids, false, prompt));
    await seq.clearHistory();
    if (job.gap) {
        // the first step's distribution at temperature 1: log(p1/p2) is the top-2 logit gap
        for await (const o of seq.evaluateWithMetadata(prompt, { probabilities: true }, { temperature: 1, topK: 0, topP: 1 })) {
            const p = [...o.probabilities.values()].sort((a, b) => b - a);
            out.gap.push(Math.log(p[0] / p[1]));
            break;
        }
        await seq.clearHistory();
    }
    seq.dispose();
}
for (const s of job.strings || []) out.tok.push(model.tokenize(s, false));
// metadata as a flat {"a.b.c": value} map (arrays reduced to their length)
const flat = {};
(function walk(o, pre) {
    for (const [k, v] of Object.entries(o)) {
        const key = pre ? pre + "." + k : k;
        if (Array.isArray(v)) flat[key] = { length: v.length };
        else if (v && typeof v === "object") walk(v, key);
        else flat[key] = typeof v === "bigint" ? Number(v) : v;
    }
})(model.fileInfo.metadata, "");
out.meta = flat;
process.stdout.write(JSON.stringify(out) + "\n");
await ctx.dispose();
await model.dispose();
await llama.dispose();
