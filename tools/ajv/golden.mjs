// Golden files for the beacon's 422 answers: what real Ajv says for each input.
//
//   cd tools/ajv && npm install && node golden.mjs
//
// For each schema in SCHEMAS, reads the named cases in tests/golden/inputs/<dir>.json and
// writes tests/golden/<dir>/<case>.json = {name, schema, ajv, valid, errors}. The Ajv
// instance is configured as the beacon claims to behave: Ajv's defaults (draft-07, strict)
// plus allErrors, with ajv-formats' full formats. A case may carry `schemaAdditions`
// ({"/properties/created_at": {"formatMaximum": "..."}}): keywords added at those schema
// pointers for that case only, as the beacon adds created_at's bound for each request. A case
// gives its body as a value (`body`) or as the request's JSON text (`text`: read by JSON.parse
// here and by the beacon's own decoder on the Python side), for what a value in this file cannot
// hold for both parsers: deep nesting, numbers beyond a double, unpaired surrogates.
// tests/unit/test_beacon_ajv_golden.py compares the Python validator's output with these
// files field by field.
import Ajv from "ajv";
import addFormats from "ajv-formats";
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SCHEMAS = {
  conversions: "shared/retail_media/schemas/conversion.json",
  ad_events: "shared/retail_media/schemas/ad_event.json",
};

const readJson = (path) => JSON.parse(readFileSync(join(root, path), "utf8"));

for (const [dir, schemaPath] of Object.entries(SCHEMAS)) {
  // One Ajv instance per schema: the same schema compiled once, as the beacon does.
  const ajv = new Ajv({ allErrors: true });
  addFormats(ajv);
  const schema = readJson(schemaPath);
  const validate = ajv.compile(schema);
  const cases = readJson(`tests/golden/inputs/${dir}.json`);
  const outDir = join(root, "tests", "golden", dir);
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const seen = new Set();
  for (const { name, body: value, text, schemaAdditions } of cases) {
    if (!/^[a-z0-9_]+$/.test(name) || seen.has(name)) throw new Error(`bad or repeated case name ${name}`);
    seen.add(name);
    const body = text === undefined ? value : JSON.parse(text);
    const check = schemaAdditions ? ajv.compile(withAdditions(schema, schemaAdditions)) : validate;
    const valid = check(body);
    const errors = valid ? [] : check.errors;
    const golden = { name, schema: schemaPath, ajv: ajvVersion(), valid, errors };
    writeFileSync(join(outDir, `${name}.json`), JSON.stringify(golden, null, 2) + "\n");
  }
  console.log(`${dir}: ${cases.length} cases written to ${outDir}`);
}

function withAdditions(schema, additions) {
  const copy = structuredClone(schema);
  for (const [pointer, keywords] of Object.entries(additions)) {
    const node = pointer.split("/").slice(1).reduce((parent, token) => parent[token], copy);
    Object.assign(node, keywords);
  }
  return copy;
}

function ajvVersion() {
  return JSON.parse(readFileSync(join(root, "tools/ajv/node_modules/ajv/package.json"), "utf8")).version;
}
