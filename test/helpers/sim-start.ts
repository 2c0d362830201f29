// `npm start` as the end-to-end tests run it: tools/sim/start.ts for one device (its identity as
// key=value words, then the test's own), everything it prints handed to `onOutput`.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

export function startSim(device: { readonly [key: string]: string }, args: readonly string[], onOutput: (text: string) => void): ChildProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "tools/sim/start.ts", ...Object.entries(device).map(([k, v]) => `${k}=${v}`), ...args], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d: Buffer) => onOutput(d.toString()));
  child.stderr?.on("data", (d: Buffer) => onOutput(d.toString()));
  return child;
}
