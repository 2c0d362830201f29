// Node lane for the portable suites: every case in test/portable/*.suite.ts becomes a node:test case.
// The XS lane runs the very same suites inside the XS engine.
import { test } from "node:test";
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { join } from "node:path";
import { registeredCases } from "./portable/harness.ts";

const dir = fileURLToPath(new URL("./portable/", import.meta.url));
for (const file of readdirSync(dir).filter((f) => f.endsWith(".suite.ts")).sort()) {
  await import(pathToFileURL(join(dir, file)).href);
}
for (const c of registeredCases()) {
  test(`${c.suite}: ${c.name}`, () => c.run());
}
