// client.mjs — the real llama.cpp side of tests/gguf: loads GGUF files with node-llama-cpp (its
// prebuilt llama.cpp, CPU, 1 thread) and answers a job given as JSON on argv[3]:
//   {"runs": [{"name": N, "model": FILE, "lora": FILE|null, "max_new": N (optional)}, ...],
//    "prompts": [[ids], ...], "max_new": N, "strings": ["text", ...]}
// printing one JSON object {N: result, ...}, a result being {"gen": ["continuation", ...],
// "gen_ids": [[ids], ...], "tok": [[ids], ...] (specials parsed, as HF encode), "gaps": [[top-1
// minus top-2 logit at each step], ...], "gap": [the first step's, ...],
// "texts": [[the continuation's text after 1, 2, ... tokens], ...], "meta": {the metadata as node-llama-cpp reads it}}.
// One process for all runs: starting node-llama-cpp costs more than the runs themselves.
// usage: node client.mjs NODE_LLAMA_DIR JOB_JSON
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [dir, jobText] = process.argv.slice(2);
const job = JSON.parse(jobText);
const nl = await import(pathToFileURL(join(dir, "node_modules/node-llama-cpp/dist/index.js")).href);
const llama = await nl.getLlama({ gpu: false, build: "never", logLevel: nl.LlamaLogLevel.error, maxThreads: 1,
                                  progressLogs: false });
const all = {};
for (const run of job.runs) {
    const model = await llama.loadModel({ modelPath: run.model, gpuLayers: 0 });
    const ctxOpts = { contextSize: 256, threads: 1, sequences: 1, batchSize: 64 };
    if (run.lora) ctxOpts.lora = { adapters: [{ filePath: run.lora, scale: 1 }] };
    const ctx = await model.createContext(ctxOpts);
    const out = { gen: [], gen_ids: [], texts: [], tok: [], gap: [], gaps: [] };

    const maxNew = run.max_new ?? job.max_new;
    for (const prompt of job.prompts || []) {
        // greedy by hand: llama.cpp's full distribution at each step (temperature 1, no
        // truncation), its argmax fed back as the next token, so each step's top-2 logit gap
        // log(p1/p2) is known (a divergence from bone at a near-tie is told apart from a bug)
        const seq = ctx.getSequence();
        const ids = [], gaps = [];
        const it = seq.evaluateWithMetadata(prompt, { probabilities: true },
                                            { temperature: 1, topK: 0, topP: 1, minP: 0, yieldEogToken: true });
        let r = await it.next();
        while (!r.done) {
            let best = -1, p1 = -1, p2 = -1;
            for (const [t, p] of r.value.probabilities) {
                if (p > p1 || (p === p1 && t < best)) { p2 = p1; p1 = p; best = t; }
                else if (p > p2) p2 = p;
            }
            gaps.push(Math.log(p1 / p2));
            if (model.isEogToken(best) || ids.length >= maxNew) break;
            ids.push(best);
            if (ids.length >= maxNew) break;
            r = await it.next(best);
        }
        await it.return();
        out.gen_ids.push(ids);
        out.gaps.push(gaps);
        out.gap.push(gaps[0]);
        out.gen.push(model.detokenize(ids, false, prompt));
        out.texts.push(ids.map((_, k) => model.detokenize(ids.slice(0, k + 1), false, prompt)));
        seq.dispose();
    }
    for (const s of job.strings || []) out.tok.push(model.tokenize(s, true));
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
    all[run.name] = out;
    await ctx.dispose();
    await model.dispose();
}
process.stdout.write(JSON.stringify(all) + "\n");
await llama.dispose();
