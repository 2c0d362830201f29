#!/usr/bin/env node
// `npm test`: both type-check scopes, then every test/**/*.test.ts on Node's test runner (the XS lane
// is itself a test file). Exits non-zero on any failure.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = join(root, "node_modules", ".bin", "tsc");

function run(cmd, args) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

function find(dir, out = []) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) find(path, out);
    else if (name.endsWith(".test.ts")) out.push(relative(root, path));
  }
  return out;
}

const only = process.argv.slice(2);
if (only.length === 0) {
  console.log("type-check: firmware scope (no Node, no DOM)");
  run(tsc, ["-p", "tsconfig.json"]);
  console.log("type-check: host scope");
  run(tsc, ["-p", "tsconfig.host.json"]);
}
const files = only.length ? only : find(join(root, "test"));
run(process.execPath, ["--import", "tsx", "--import", "./tools/sim/register.ts", "--test", "--test-reporter=spec", "--test-concurrency=2", ...files]);
