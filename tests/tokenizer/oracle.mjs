// oracle.mjs — reference encodings from @huggingface/tokenizers (the JavaScript port of HF
// tokenizers), used by test_tok_oracle to check bone's tokenizer.
// usage: node oracle.mjs ORACLE_PKG_DIR TOKENIZER_DIR INPUTS.json OUTPUT.json [add_special 0|1]
// INPUTS.json is a JSON array of strings; OUTPUT.json receives a JSON array of id arrays.
// With "decode" as the last argument, INPUTS.json is a JSON array of id arrays and OUTPUT.json
// receives their decodings (skip_special_tokens, no clean-up), as TextStreamer decodes.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";

const [pkgDir, tokDir, inPath, outPath, addSpecial] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: node oracle.mjs ORACLE_PKG_DIR TOKENIZER_DIR INPUTS.json OUTPUT.json [0|1]");
  process.exit(2);
}
const { Tokenizer } = await import(pathToFileURL(join(pkgDir, "dist", "tokenizers.mjs")).href);
const tj = JSON.parse(readFileSync(join(tokDir, "tokenizer.json"), "utf8"));
let tc = {};
try { tc = JSON.parse(readFileSync(join(tokDir, "tokenizer_config.json"), "utf8")); } catch { tc = {}; }
const tok = new Tokenizer(tj, tc);
const inputs = JSON.parse(readFileSync(inPath, "utf8"));
const out = addSpecial === "decode"
  ? inputs.map((ids) => ids.length ? tok.decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces: false }) : "")
  : inputs.map((s) => tok.encode(s, { add_special_tokens: addSpecial === "1" }).ids);
writeFileSync(outPath, JSON.stringify(out));
