// `npm start` (tools/sim/start.ts) as a user meets it: a child process that boots firmware in XS on the
// real clock, prints the device log, stops cleanly on Ctrl-C (SIGINT), exits 1 with the XS error,
// module and line when the firmware throws at boot, and exits 1 after saying why when the firmware's
// config stops boot. Usage errors (unknown key, `key=` empty, a bare word, a bad config file) are one
// line on stderr and exit 2. Secrets given by file or environment never appear in any output.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs, knownKeys, firmwareKeys, stoppedAtBoot, UsageError, DEMO } from "../tools/sim/start.ts";
import { parseLine } from "../tools/monitor/log-line.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "sim-start-"));
const children: ChildProcess[] = [];
const projectFiles: string[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
  for (const f of projectFiles) rmSync(f, { force: true });
});

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/** Runs `npm start -- <args>` as npm would (cwd = project), without any secret variable of the caller's. */
function start(args: string[], env: Record<string, string> = {}): Run {
  const base = { ...process.env };
  delete base.ONENET_KEY;
  delete base.WIFI_PASSWORD;
  const child = spawn(process.execPath, ["--import", "tsx", "tools/sim/start.ts", ...args], {
    cwd: root,
    env: { ...base, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
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

/** The exit code; fails (and kills the child) if it has not exited within `timeoutMs`. */
async function exitOf(run: Run, timeoutMs = 30_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill("SIGKILL");
      reject(new Error(`still running after ${timeoutMs} ms\nstdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A usage error: exit 2 and exactly one line on stderr (no stack trace), nothing on stdout. */
async function usageError(args: string[]): Promise<string> {
  const run = start(args);
  assert.equal(await exitOf(run), 2, run.stderr());
  const lines = run.stderr().split("\n").filter(Boolean);
  assert.equal(lines.length, 1, `one line, got:\n${run.stderr()}`);
  assert.equal(run.stdout(), "");
  return lines[0];
}

test("boots firmware on the real clock, prints its log lines and flash path, hides secrets, stops cleanly on SIGINT", async () => {
  const flash = join(dir, "a.json");
  const run = start(["entry=tools/sim/fixtures/echo.ts", "host=127.0.0.1", "interval=50", "key=c2VjcmV0", `flash=${flash}`]);
  await until(() => /^tick \d+$/m.test(run.stdout()), "a timer tick", run);
  assert.match(run.stdout(), /^boot 1 device=device-001 /m);
  assert.ok(run.stdout().includes(`[sim] flash: ${flash} `), "the flash file is named at start");
  assert.ok(!run.stdout().includes("c2VjcmV0"), "the key never appears in the output");
  run.child.kill("SIGINT");
  assert.equal(await exitOf(run), 0);
  assert.match(run.stdout(), /\[sim\] stopping/);
});

test("the default flash lives in the project (.sim-storage/<product>-<device>.json), not in the system temp folder", async () => {
  const device = `flash-test-${process.pid}`;
  const expected = join(root, ".sim-storage", `${DEMO.product}-${device}.json`);
  projectFiles.push(expected);
  const run = start(["entry=tools/sim/fixtures/echo.ts", "host=127.0.0.1", `device=${device}`]);
  await until(() => /^boot 1 /m.test(run.stdout()), "boot", run);
  assert.ok(run.stdout().includes(`[sim] flash: ${expected} `), run.stdout());
  run.child.kill("SIGINT");
  assert.equal(await exitOf(run), 0);
  const stored = Object.keys(JSON.parse(readFileSync(expected, "utf8")) as object);
  assert.ok(stored.some((k) => k.includes("echo")), `the fixture's boot counter is in that file: ${stored.join()}`);
});

test("an exception at boot prints the XS error with the module and the exact source line, and exits 1", async () => {
  const source = readFileSync(join(root, "tools/sim/fixtures/echo.ts"), "utf8").split("\n");
  const line = source.findIndex((l) => l.includes("missing.field")) + 1;
  const run = start(["entry=tools/sim/fixtures/echo.ts", "host=127.0.0.1", "crash=boot", `flash=${join(dir, "b.json")}`]);
  assert.equal(await exitOf(run), 1);
  assert.match(run.stderr(), /firmware exception at boot: TypeError: main: cannot coerce undefined to object/);
  assert.ok(run.stderr().includes(`at main (tools/sim/fixtures/echo.ts:${line})`), run.stderr());
});

test("a config that stops boot: the firmware's ERROR config line, then the simulator says why and exits 1", async () => {
  const run = start(["host=127.0.0.1", "interval=0", `flash=${join(dir, "stop.json")}`]);
  assert.equal(await exitOf(run), 1, run.stdout() + run.stderr());
  assert.match(run.stdout(), /^\d+ ERROR config: boot stopped, fix these keys and rebuild: interval \(/m);
  assert.match(run.stderr(), /^\[sim\] the firmware stopped at boot \(its ERROR config line above says why\)/m);
});

test("boot stopped is read from the log line's fields (level ERROR, area, message), not from text anywhere", () => {
  const stopped = (line: string): boolean => {
    const record = parseLine(line);
    return record !== undefined && stoppedAtBoot(record);
  };
  assert.equal(stopped("0 ERROR config: boot stopped, fix these keys and rebuild: ssid (missing)"), true);
  assert.equal(stopped("3 ERROR app: boot failed, idle error=TypeError"), true);
  assert.equal(stopped("0 WARN config: boot stopped, not really"), false, "not at ERROR level");
  assert.equal(stopped("5 ERROR mqtt: peer said boot stopped"), false, "not the config area");
  assert.equal(stopped("echo: 0 ERROR config: boot stopped"), false, "not a log line");
});

test("without host=, it starts the local OneNET emulator and boots main.ts pointed at it", async () => {
  const run = start([`flash=${join(dir, "c.json")}`]);
  await until(() => /\[sim\] booting main\.ts in XS: .*host=127\.0\.0\.1 .*port=\d+/.test(run.stdout()), "boot banner", run);
  await until(() => /^\d+ (INFO|WARN|ERROR) /m.test(run.stdout()), "a device log line", run);
  run.child.kill("SIGINT");
  assert.equal(await exitOf(run), 0);
});

test("ticks=<n> starts the board's counter anywhere: reports go on across the ESP32 sign flip (2^31 ms) with uptime counting on", async () => {
  // The counter turns negative 1.5 s after boot; reports every second must keep coming after that.
  const run = start([`flash=${join(dir, "ticks.json")}`, "ticks=2147482148", "interval=1"]);
  await until(() => /^\[sim\] board ticks start at 2147482148$/m.test(run.stdout()), "the ticks banner", run);
  await until(() => /INFO app: report id=\d+ .*uptime=[4-9] /.test(run.stdout()), "a report 4 s after boot, past the flip", run);
  const uptimes = [...run.stdout().matchAll(/INFO app: report id=\d+ .*uptime=(-?\d+) /g)].map((m) => Number(m[1]));
  assert.ok(uptimes.every((u, i) => u >= 0 && (i === 0 || u >= uptimes[i - 1])), `uptime never negative, never backwards: ${uptimes.join(",")}`);
  assert.ok(!/ERROR/.test(run.stdout()), run.stdout());
  run.child.kill("SIGINT");
  assert.equal(await exitOf(run), 0);
  assert.match(await usageError(["ticks=-1"]), /ticks must be a whole number 0\.\.4294967295/);
});

test("secrets from config=<file> and ONENET_KEY / WIFI_PASSWORD: used (the device logs in), never printed, *** in the banner", async () => {
  const fileKey = randomBytes(32).toString("base64");
  const envKey = randomBytes(32).toString("base64");
  const envPassword = `wifi-${randomBytes(9).toString("hex")}`;
  const filePassword = `file-${randomBytes(9).toString("hex")}`;
  const file = join(dir, "device.json");
  writeFileSync(file, JSON.stringify({ key: fileKey, password: filePassword, device: "secret-test" }));
  const runs = [
    start([`config=${file}`, `flash=${join(dir, "s1.json")}`]),
    start([`flash=${join(dir, "s2.json")}`, "device=secret-env"], { ONENET_KEY: envKey, WIFI_PASSWORD: envPassword }),
  ];
  for (const run of runs) {
    // Online at the emulator: the key and password were the ones given (the emulator checks the token,
    // the simulated access point the password).
    await until(() => / INFO emulator: device online /.test(run.stdout()) && / INFO app: report id=\d+ /.test(run.stdout()), "device online", run);
    assert.match(run.stdout(), /\[sim\] booting main\.ts in XS: .*key=\*\*\* .*password=\*\*\*/);
    run.child.kill("SIGINT");
    assert.equal(await exitOf(run), 0);
    const all = run.stdout() + run.stderr();
    for (const secret of [fileKey, envKey, envPassword, filePassword]) assert.ok(!all.includes(secret), `a secret was printed:\n${all}`);
  }
});

test("a config file that cannot be read or is not a JSON object: one line naming the file, exit 2, its content not echoed", async () => {
  const missing = join(dir, "missing.json");
  assert.equal(await usageError([`config=${missing}`]), `[sim] config file ${missing}: cannot read it (ENOENT)`);
  const broken = join(dir, "broken.json");
  const secret = randomBytes(32).toString("base64");
  writeFileSync(broken, `{ key: ${secret} }`);
  const line = await usageError([`config=${broken}`]);
  assert.ok(line.startsWith(`[sim] config file ${broken}: not valid JSON`), line);
  assert.ok(!line.includes(secret));
  writeFileSync(broken, JSON.stringify(["key", secret]));
  assert.equal(await usageError([`config=${broken}`]), `[sim] config file ${broken}: not a JSON object of key: value`);
});

test("usage errors are one line and exit 2: unknown key with a suggestion, key= empty, a bare word", async () => {
  assert.equal(await usageError(["intervall=3"]), "[sim] unknown key intervall (did you mean interval?)");
  assert.equal(await usageError(["key="]), "[sim] key= is empty: give a value, or leave the key out for its default");
  assert.equal(await usageError(["ssid"]), "[sim] ssid is not key=value: give ssid=<value>");
});

test("arguments: key=value (leading -- allowed) go to mc/config; entry/flash/fresh/emulator-http/config are the launcher's", () => {
  assert.deepEqual(parseArgs(["--", "ssid=home", "--port=1883", "flash=/tmp/f.json", "interval=10", "fresh=1"]), {
    config: { ssid: "home", port: "1883", interval: "10" },
    sim: { flash: "/tmp/f.json", fresh: "1" },
  });
  const refused = (argv: string[], env = {}): string => {
    try {
      parseArgs(argv, env);
    } catch (error) {
      assert.ok(error instanceof UsageError, String(error));
      return error.message;
    }
    return assert.fail(`${argv.join(" ")} was accepted`);
  };
  assert.equal(refused(["ledinvert=1"]), "unknown key ledinvert (did you mean ledInvert?)");
  assert.equal(refused(["colour=red"]), "unknown key colour");
  assert.equal(refused(["interval=1", "interval=2"]), "interval is given twice");
  assert.equal(refused(["=1"]), "argument 1 is not key=value (e.g. npm start -- interval=10)");
  // A pasted secret without its key= is not echoed back.
  const pasted = randomBytes(32).toString("base64");
  assert.ok(!refused([pasted]).includes(pasted.replace(/=+$/, "")));
  assert.equal(refused(["hunter2hunter2"]), "argument 1 is not key=value (e.g. npm start -- interval=10)");
  // Another entry module may read keys of its own (the fixtures' crash=).
  assert.deepEqual(parseArgs(["entry=tools/sim/fixtures/echo.ts", "crash=boot"]).config, { crash: "boot" });
  assert.equal(Buffer.from(DEMO.key, "base64").length, 32, "the demo key is 32 bytes, like OneNET's");
});

test("secrets: environment over file, command line over both; an empty variable is unset; a file may give an empty password", () => {
  const file = join(dir, "p.json");
  writeFileSync(file, JSON.stringify({ key: "ZmlsZQ==", password: "", interval: 7, ledInvert: true }));
  assert.deepEqual(parseArgs([`config=${file}`]).config, { key: "ZmlsZQ==", password: "", interval: "7", ledInvert: "true" });
  assert.deepEqual(parseArgs([`config=${file}`], { ONENET_KEY: "ZW52", WIFI_PASSWORD: "" }).config.key, "ZW52");
  assert.deepEqual(parseArgs([`config=${file}`, "key=Y2xp"], { ONENET_KEY: "ZW52" }).config.key, "Y2xp");
  writeFileSync(file, JSON.stringify({ ssid: "" }));
  assert.throws(() => parseArgs([`config=${file}`]), /config file .*: ssid is empty/);
  writeFileSync(file, JSON.stringify({ config: "other.json" }));
  assert.throws(() => parseArgs([`config=${file}`]), /config cannot name another file/);
});

test("the known keys are app/config.ts's own (read from validateConfig), the simulated board's and the launcher's", () => {
  const firmware = firmwareKeys();
  for (const key of ["ssid", "password", "product", "device", "key", "host", "port", "interval", "keepalive", "method", "et", "loglevel", "sntp", "led", "ledInvert", "sda", "scl"]) {
    assert.ok(firmware.includes(key), `validateConfig reads ${key}`);
  }
  // Whatever else reads mc/config must be known too, or npm start would refuse a key it uses.
  const known = knownKeys();
  for (const file of ["app/info.ts", "main.ts", "tools/sim/devices/world.ts"]) {
    const code = readFileSync(join(root, file), "utf8")
      .split("\n")
      .filter((l) => !/^\s*(\/\/|\/?\*)/.test(l))
      .join("\n");
    for (const m of code.matchAll(/(?<![\w/.-])config\.([A-Za-z_]\w*)/g)) assert.ok(known.includes(m[1]), `${file} reads config.${m[1]}`);
  }
  assert.ok(existsSync(join(root, ".gitignore")) && /^\.sim-storage\/$/m.test(readFileSync(join(root, ".gitignore"), "utf8")));
});
