// Unit tests of the panel definitions (tb_plugin/static/definitions.js): `node --test tests/js/`.
// Every panel of the registry must have a definition, and each must stay plain text that
// names its source and the quantities its panel shows.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import test from "node:test";

import { DEFINITIONS, definitionOf } from "../../tb_plugin/static/definitions.js";
import { PANELS } from "../../tb_plugin/static/registry.js";

/** The panel modules registry.js imports, read from its source (independent of PANELS). */
function registryModules() {
  const source = readFileSync(new URL("../../tb_plugin/static/registry.js", import.meta.url), "utf8");
  return [...source.matchAll(/^import\s+\w+\s+from\s+"\.\/panels\/([\w-]+)\.js";$/gm)].map((m) => m[1]);
}

test("definitions: every registered panel has one, and there are no others", () => {
  const ids = PANELS.map((panel) => panel.id);
  assert.ok(ids.length >= 19);
  for (const id of ids) assert.ok(definitionOf(id), `no definition for panel ${id}`);
  assert.deepEqual(Object.keys(DEFINITIONS).sort(), [...ids].sort());
  // The import lines name the same panels (each module is named after its id).
  assert.deepEqual(registryModules().sort(), [...ids].sort());
});

test("definitions: plain text of a few sentences, ending with the source", () => {
  for (const [id, def] of Object.entries(DEFINITIONS)) {
    assert.equal(typeof def.text, "string", id);
    assert.equal(typeof def.source, "string", id);
    assert.ok(def.source.trim().length > 0, `${id}: empty source`);
    assert.ok(def.text.length > 80 && def.text.length < 1000, `${id}: ${def.text.length} characters`);
    assert.ok(def.text.endsWith(`Source: ${def.source}.`), `${id}: the text does not end with its source`);
    assert.doesNotMatch(def.text, /<\/?[a-z!][^>]*>|&[a-z#0-9]+;/i, `${id}: HTML in the text`);
    assert.match(def.source, /(et al\.|recorded as|Keras)/, `${id}: the source names no paper or spec`);
  }
});

test("definitions: quantities match what each panel shows", () => {
  for (const panel of PANELS) {
    assert.deepEqual([...definitionOf(panel.id).quantities].sort(), [...panel.quantities].sort(), panel.id);
  }
});

test("definitions: unknown ids and inherited keys give null", () => {
  assert.equal(definitionOf("nope"), null);
  assert.equal(definitionOf("toString"), null);
  assert.equal(definitionOf(undefined), null);
  assert.ok(Object.isFrozen(DEFINITIONS) && Object.isFrozen(DEFINITIONS.loss));
});
