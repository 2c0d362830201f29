// `npm run soak -- days=60 interval=60 [keepalive=30] [json=1]`: the long soak (soak.ts). Prints one
// progress line per scenario step and virtual day on stderr, then the checks and the figures; exits 1
// when a check failed, 2 for a usage error.
import { minDays, runSoak } from "./soak.ts";

const USAGE = "usage: npm run soak -- days=<n> interval=<s> [keepalive=<s>] [json=1] [quiet=1]";

function parse(args: readonly string[]): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const m = /^-{0,2}([a-z]+)=(.+)$/.exec(arg);
    if (!m) return `not key=value: ${arg}`;
    if (!["days", "interval", "keepalive", "json", "quiet"].includes(m[1]!)) return `unknown key ${m[1]}`;
    out[m[1]!] = m[2]!;
  }
  return out;
}

const given = parse(process.argv.slice(2));
if (typeof given === "string") {
  console.error(`soak: ${given}\n${USAGE}`);
  process.exit(2);
}
const days = Number(given.days ?? 60);
const interval = Number(given.interval ?? 60);
const keepalive = given.keepalive === undefined ? undefined : Number(given.keepalive);
if (!(days >= minDays()) || !Number.isInteger(interval) || interval < 1 || (keepalive !== undefined && !Number.isInteger(keepalive))) {
  console.error(`soak: days must be at least ${minDays()} (the run crosses the tick's wrap), interval and keepalive whole seconds\n${USAGE}`);
  process.exit(2);
}

const started = Date.now();
const { checks, figures, errors } = await runSoak({
  days,
  interval,
  keepalive,
  progress: given.quiet === "1" ? undefined : (line) => console.error(`  [${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`),
});
if (given.json === "1") {
  console.log(JSON.stringify({ figures, checks, errors }, null, 1));
} else {
  console.log(`\nsoak: ${days} days at ${interval} s (keepalive ${figures.keepalive} s) in ${figures.realSeconds} s of real time\n`);
  for (const c of checks) console.log(`${c.ok ? "ok  " : "FAIL"} ${c.name}\n       ${c.detail.split("\n").join("\n       ")}`);
  console.log("\nERROR lines the device logged (the faults provoke some):");
  for (const [line, n] of Object.entries(errors).sort((a, b) => b[1] - a[1])) console.log(`  ${String(n).padStart(6)}  ${line}`);
  console.log("\nfigures:");
  for (const [k, v] of Object.entries(figures)) console.log(`  ${k.padEnd(18)} ${typeof v === "object" ? JSON.stringify(v) : String(v)}`);
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`\n${checks.length - failed} checks passed, ${failed} failed`);
}
process.exit(checks.every((c) => c.ok) ? 0 : 1);
