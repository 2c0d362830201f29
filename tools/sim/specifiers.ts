// Which host file implements each Moddable module specifier (the map is sim/specifiers.json, which
// the Node-lane resolve hook sim/node-hooks.mjs reads too). Convention: specifier S is implemented by
// sim/modules/<S>.ts, with "embedded:" written as a folder ("embedded:io/i2c" ->
// sim/modules/embedded/io/i2c.ts). A listed file that does not exist yet is skipped.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const modulesDir = fileURLToPath(new URL("./modules/", import.meta.url));
const listed = JSON.parse(readFileSync(new URL("./specifiers.json", import.meta.url), "utf8")) as Record<string, string>;

/** Absolute path of the host implementation of `specifier`, or undefined if none exists. */
export function specifierFile(specifier: string): string | undefined {
  const rel = listed[specifier];
  if (rel === undefined) return undefined;
  const path = modulesDir + rel;
  return existsSync(path) ? path : undefined;
}

/** Every specifier with an existing implementation, mapped to its absolute path. */
export function availableSpecifiers(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of Object.keys(listed)) {
    const file = specifierFile(spec);
    if (file !== undefined) out[spec] = file;
  }
  return out;
}
