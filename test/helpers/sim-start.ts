// `npm start` as the end-to-end tests run it: tools/sim/start.ts for one device (its identity as
// key=value words, then the test's own), everything it prints handed to `onOutput`; `endToEnd` gives
// each such test file its scratch folder and tears down what it started.
import { ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
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

interface Closable {
  close(): Promise<unknown>;
}

/**
 * A scratch folder for one end-to-end test file, and a keeper for what the test starts: after the file,
 * a device still running is killed, servers and proxies are closed (latest first) and the folder goes.
 */
export function endToEnd(prefix: string): { readonly dir: string; own<T extends Closable | ChildProcess>(thing: T): T } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const owned: (Closable | ChildProcess)[] = [];
  after(async () => {
    for (const thing of owned.reverse()) {
      if (thing instanceof ChildProcess) {
        if (thing.exitCode === null) thing.kill("SIGKILL");
      } else await thing.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir,
    own<T extends Closable | ChildProcess>(thing: T): T {
      owned.push(thing);
      return thing;
    },
  };
}
