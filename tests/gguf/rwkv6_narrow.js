// rwkv6_narrow.js — tests/gguf (gguf_client_rwkv6): a copy of an RWKV-6 model.safetensors with
// narrower low-rank mixes, so that llama.cpp must take time_mix_extra_dim / time_decay_extra_dim
// from the GGUF metadata (bone from the shapes) instead of the converter's size rule (32/64):
// time_maa_w1/w2 keep the first M2 of each of the five (w,k,v,r,g) groups, time_decay_w1/w2 the
// first D2; every other tensor, the dtypes and the names are kept.
// usage: node rwkv6_narrow.js SRC.safetensors DST.safetensors M2 D2
const fs = require("fs");
const [src, dst, M2, D2] = [process.argv[2], process.argv[3], +process.argv[4], +process.argv[5]];
const b = fs.readFileSync(src), n = Number(b.readBigUInt64LE(0)), h = JSON.parse(b.subarray(8, 8 + n).toString());
const es = { F32: 4, BF16: 2, F16: 2 }, parts = [], out = {};
let off = 0;
for (const [k, v] of Object.entries(h)) {
    if (k === "__metadata__") { out[k] = v; continue; }
    const e = es[v.dtype], data = b.subarray(8 + n + v.data_offsets[0], 8 + n + v.data_offsets[1]);
    let shape = v.shape, rows = [];
    const row = (r, c0, c1, W) => data.subarray((r * W + c0) * e, (r * W + c1) * e);
    if (k.endsWith("time_maa_w1")) { // [C, 5M] → [C, 5·M2]
        const [C, F] = shape, M = F / 5;
        for (let r = 0; r < C; r++) for (let f = 0; f < 5; f++) rows.push(row(r, f * M, f * M + M2, F));
        shape = [C, 5 * M2];
    } else if (k.endsWith("time_maa_w2")) { // [5, M, C] → [5, M2, C]
        const [, M, C] = shape;
        for (let f = 0; f < 5; f++) for (let j = 0; j < M2; j++) rows.push(row(f * M + j, 0, C, C));
        shape = [5, M2, C];
    } else if (k.endsWith("time_decay_w1")) { // [C, D] → [C, D2]
        const [C, D] = shape;
        for (let r = 0; r < C; r++) rows.push(row(r, 0, D2, D));
        shape = [C, D2];
    } else if (k.endsWith("time_decay_w2")) { // [D, C] → [D2, C]
        rows.push(data.subarray(0, D2 * shape[1] * e));
        shape = [D2, shape[1]];
    } else rows.push(data);
    const buf = Buffer.concat(rows);
    out[k] = { dtype: v.dtype, shape, data_offsets: [off, off + buf.length] };
    off += buf.length;
    parts.push(buf);
}
let hj = JSON.stringify(out);
hj += " ".repeat((8 - (hj.length % 8)) % 8);
const len = Buffer.alloc(8);
len.writeBigUInt64LE(BigInt(Buffer.byteLength(hj)));
fs.writeFileSync(dst, Buffer.concat([len, Buffer.from(hj), ...parts]));
