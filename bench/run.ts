// `npm run bench [-- --json] [-- name-filter]`: runs every bench/*.bench.ts. Each exports a default
// `async (report) => {}` and reports results beside an anchor measured in the same run, because
// these machines are noisy: compare ratios, not absolute figures.
import { readdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { join } from "node:path";

export interface Result {
  name: string;
  value: number;
  /** Says which way is better, e.g. "ops/s (higher is better)". */
  unit: string;
  anchor?: string;
  anchorValue?: number;
  ratio?: number;
}
export type Report = (result: Omit<Result, "ratio">) => void;
export type Bench = (report: Report) => Promise<void>;

const args = process.argv.slice(2);
const json = args.includes("--json");
const filters = args.filter((a) => !a.startsWith("--"));
const dir = fileURLToPath(new URL(".", import.meta.url));
const results: Result[] = [];

const report: Report = (r) => {
  const result: Result = { ...r };
  if (r.anchorValue !== undefined && r.anchorValue !== 0) result.ratio = Number((r.value / r.anchorValue).toFixed(3));
  results.push(result);
  if (json) console.log(JSON.stringify(result));
  else console.error(`  ${r.name}: ${fmt(r.value)} ${r.unit}${r.anchor ? `  vs ${r.anchor}: ${fmt(r.anchorValue ?? NaN)}  ratio ${result.ratio}` : ""}`);
};

function fmt(n: number): string {
  return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 2 });
}

for (const file of readdirSync(dir).filter((f) => f.endsWith(".bench.ts")).sort()) {
  if (filters.length && !filters.some((f) => file.includes(f))) continue;
  if (!json) console.error(`${file}`);
  const mod = (await import(pathToFileURL(join(dir, file)).href)) as { default: Bench };
  await mod.default(report);
}

if (!json) {
  const rows = results.map((r) => [r.name, fmt(r.value), r.unit, r.anchor ?? "", r.anchorValue === undefined ? "" : fmt(r.anchorValue), r.ratio === undefined ? "" : String(r.ratio)]);
  const head = ["name", "value", "unit", "anchor", "anchor value", "ratio"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}
