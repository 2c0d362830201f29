// `npm start` (sim/start.ts) as a user runs it: a child process that boots firmware in XS on the real
// clock, prints the device log, stops cleanly on Ctrl-C (SIGINT), and exits 1 with the XS error,
// module and line when the firmware throws at boot.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, DEMO } from "../tools/sim/start.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sim-start-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", "tools/sim/start.ts", ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

async function until(predicate: () => boolean, what: string, run: Run, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    if (run.child.exitCode !== null) throw new Error(`exited ${run.child.exitCode} before ${what}\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test("boots firmware on the real clock, prints its log lines, hides secrets, stops cleanly on SIGINT", async () => {
  const run = start(["entry=tools/sim/fixtures/echo.ts", "host=127.0.0.1", "interval=50", "key=c2VjcmV0", `flash=${join(dir, "a.json")}`]);
  await until(() => /^tick \d+$/m.test(run.stdout()), "a timer tick", run);
  assert.match(run.stdout(), /^boot 1 device=device-001 /m);
  assert.ok(!run.stdout().includes("c2VjcmV0"), "the key never appears in the output");
  run.child.kill("SIGINT");
  assert.equal(await run.exited, 0);
  assert.match(run.stdout(), /\[sim\] stopping/);
});

test("an exception at boot prints the XS error with module and line and exits 1", async () => {
  const run = start(["entry=tools/sim/fixtures/echo.ts", "host=127.0.0.1", "crash=boot", `flash=${join(dir, "b.json")}`]);
  assert.equal(await run.exited, 1);
  assert.match(run.stderr(), /firmware exception at boot: TypeError: main: cannot coerce undefined to object/);
  assert.match(run.stderr(), /at main \(tools\/sim\/fixtures\/echo\.ts:\d+\)/);
});

test("without host=, it starts the local OneNET emulator and boots main.ts pointed at it", async () => {
  const run = start([`flash=${join(dir, "c.json")}`]);
  await until(() => /\[sim\] booting main\.ts in XS: .*host=127\.0\.0\.1 .*port=\d+/.test(run.stdout()), "boot banner", run);
  await until(() => /^\d+ (INFO|WARN|ERROR) /m.test(run.stdout()), "a device log line", run);
  run.child.kill("SIGINT");
  assert.equal(await run.exited, 0);
});

test("arguments: key=value (leading -- allowed) go to mc/config; entry/flash/fresh/emulator-http are the simulator's", () => {
  assert.deepEqual(parseArgs(["--", "ssid=home", "--port=1883", "flash=/tmp/f.json", "interval=10", "fresh=1"]), {
    config: { ssid: "home", port: "1883", interval: "10" },
    sim: { flash: "/tmp/f.json", fresh: "1" },
  });
  assert.throws(() => parseArgs(["ssid"]), /not key=value/);
  assert.equal(Buffer.from(DEMO.key, "base64").length, 32, "the demo key is 32 bytes, like OneNET's");
});
