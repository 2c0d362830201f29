// `npm run monitor` (scripts/monitor.ts): the line processor driven directly, then the real program on
// a pseudo-terminal pair made by socat (Debian `socat`), which stands in for the board's USB serial
// port: level colours (ANSI SGR), level/area filters, xsbug <log> frames of debug builds, a board
// reset seen as the ESP32 boot ROM's "rst:0x1 (POWERON_RESET)" line or the uptime going backwards, and
// the serial device vanishing and coming back (USB-CDC boards re-enumerate when they reset).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LineProcessor, parseArgs, parseLine, type MonitorOptions } from "../tools/monitor/monitor.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "monitor-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function options(over: Partial<MonitorOptions> = {}): MonitorOptions {
  return { path: "/dev/null", baud: 115200, level: "DEBUG", areas: [], color: false, raw: false, retryMs: 100, ...over };
}

function run(o: MonitorOptions, chunks: string[]): string[] {
  const out: string[] = [];
  const p = new LineProcessor(o, (t) => out.push(t));
  for (const c of chunks) p.push(c);
  p.flush();
  return out;
}

test("parses the firmware's line format (log.ts) and nothing else", () => {
  assert.deepEqual(parseLine("1234 WARN mqtt: connection closed reason=x"), { uptime: 1234, level: "WARN", area: "mqtt", message: "connection closed reason=x" });
  assert.equal(parseLine("ets Jun  8 2016 00:22:57"), undefined);
  assert.equal(parseLine("12 NOTICE a: b"), undefined);
});

test("any chunking, \\r\\n endings; filters by level and area (area prefix: mqtt matches mqtt-outbox)", () => {
  const text = "1 INFO wifi: up\r\n2 DEBUG mqtt: ping\r\n3 WARN mqtt-outbox: full\n4 ERROR onenet: refused code=4\nrandom text\n";
  const all = run(options(), text.split(""));
  assert.deepEqual(all, ["1 INFO wifi: up", "2 DEBUG mqtt: ping", "3 WARN mqtt-outbox: full", "4 ERROR onenet: refused code=4", "random text"]);
  assert.deepEqual(run(options({ level: "WARN" }), [text]), ["3 WARN mqtt-outbox: full", "4 ERROR onenet: refused code=4"]);
  assert.deepEqual(run(options({ areas: ["mqtt"] }), [text]), ["2 DEBUG mqtt: ping", "3 WARN mqtt-outbox: full"]);
});

test("colours by level: ERROR bold red, WARN yellow, INFO green, DEBUG dim; area cyan", () => {
  const [info, warn, err, dbg] = run(options({ color: true }), ["5 INFO app: report id=1\n6 WARN a: w\n7 ERROR a: e\n8 DEBUG a: d\n"]);
  assert.equal(info, "\x1b[2m5\x1b[0m \x1b[32mINFO\x1b[0m \x1b[36mapp\x1b[0m: report id=1");
  assert.match(warn, /\x1b\[33mWARN\x1b\[0m/);
  assert.match(err, /\x1b\[1;31mERROR\x1b\[0m/);
  assert.match(dbg, /\x1b\[2mDEBUG\x1b\[0m .*\x1b\[2md\x1b\[0m$/);
});

test("xsbug frames of debug builds: <log> text unwrapped and XML-unescaped, frames split across chunks", () => {
  const frame = '<xsbug><log>10 INFO app: a &lt;b&gt; &amp; &quot;c&quot;\n</log></xsbug>\r\n<xsbug><log>11 WARN x: y\n</log></xsbug>';
  const out = run(options(), [frame.slice(0, 20), frame.slice(20, 61), frame.slice(61)]);
  assert.deepEqual(out, ['10 INFO app: a <b> & "c"', "11 WARN x: y"]);
});

test("a reset is marked once: boot ROM lines, or uptime going backwards", () => {
  const out = run(options(), ["900 INFO app: report id=9\n", "ets Jun  8 2016 00:22:57\n\nrst:0x1 (POWERON_RESET),boot:0x13\n", "0 INFO app: boot version=0.1.0\n", "50 INFO a: b\n", "10 INFO app: boot\n"]);
  assert.deepEqual(out, [
    "900 INFO app: report id=9",
    "-- board reset (boot ROM) --",
    "ets Jun  8 2016 00:22:57",
    "rst:0x1 (POWERON_RESET),boot:0x13",
    "0 INFO app: boot version=0.1.0",
    "50 INFO a: b",
    "-- board reset (uptime went back) --",
    "10 INFO app: boot",
  ]);
});

test("arguments: port, --baud, --level, --area, colour auto from the terminal, errors name the option", () => {
  const o = parseArgs(["--", "/dev/ttyUSB0", "--baud", "921600", "--level", "warn", "--area", "mqtt, onenet"], true);
  assert.equal(o.path, "/dev/ttyUSB0");
  assert.equal(o.baud, 921600);
  assert.equal(o.level, "WARN");
  assert.deepEqual(o.areas, ["mqtt", "onenet"]);
  assert.equal(o.color, true);
  assert.equal(parseArgs(["/dev/x", "--no-color"], true).color, false);
  assert.equal(parseArgs(["/dev/x"], false).color, false);
  assert.throws(() => parseArgs([], false), /usage: npm run monitor/);
  assert.throws(() => parseArgs(["/dev/x", "--level", "loud"], false), /--level/);
  assert.throws(() => parseArgs(["/dev/x", "--bogus"], false), /unknown option --bogus/);
});

// ---- the program on a pseudo-terminal pair -------------------------------------------------------

const haveSocat = spawnSync("socat", ["-V"]).status === 0;

function ptyPair(board: string, host: string): ChildProcess {
  const socat = spawn("socat", [`pty,raw,echo=0,link=${board}`, `pty,raw,echo=0,link=${host}`], { stdio: "ignore" });
  children.push(socat);
  return socat;
}

async function until(predicate: () => boolean, what: string, output: () => string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output so far:\n${output()}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("on a pty pair: shows and filters lines, colours, and reconnects after the port vanishes", { skip: !haveSocat && "socat not installed (apt-get install socat)" }, async () => {
  const board = join(dir, "board");
  const host = join(dir, "host");
  let socat = ptyPair(board, host);
  await until(() => existsSync(board) && existsSync(host), "socat ptys", () => "");

  const mon = spawn(process.execPath, ["--import", "tsx", "tools/monitor/monitor.ts", host, "--level", "info", "--area", "app,mqtt", "--color", "--retry", "100"], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(mon);
  let out = "";
  mon.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  mon.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const plain = (): string => out.replace(/\x1b\[[0-9;]*m/g, "");
  await until(() => plain().includes(`-- connected to ${host} at 115200 baud --`), "connected", plain);

  writeFileSync(board, "100 INFO app: boot version=0.1.0\r\n150 DEBUG mqtt: hidden by level\r\n160 INFO wifi: hidden by area\r\n200 WARN mqtt: connection closed reason=test\r\n");
  await until(() => plain().includes("200 WARN mqtt: connection closed reason=test"), "filtered lines", plain);
  assert.ok(plain().includes("100 INFO app: boot version=0.1.0"));
  assert.ok(!plain().includes("hidden by"), "level and area filters apply");
  assert.ok(out.includes("\x1b[33mWARN\x1b[0m"), "WARN is yellow");

  // The board resets and its USB serial device disappears, then comes back under the same name.
  socat.kill("SIGTERM");
  await new Promise((r) => socat.once("exit", r));
  await until(() => plain().includes("closed, reconnecting") || plain().includes("waiting for"), "port loss noticed", plain);
  socat = ptyPair(board, host);
  await until(() => existsSync(board), "socat again", plain);
  await until(() => plain().split(`-- connected to ${host}`).length >= 3, "reconnected", plain);
  writeFileSync(board, "5 INFO app: boot version=0.1.0 after=reset\r\n");
  await until(() => plain().includes("5 INFO app: boot version=0.1.0 after=reset"), "lines after the reconnect", plain);

  mon.kill("SIGINT");
  const code = await new Promise<number | null>((r) => (mon.exitCode !== null ? r(mon.exitCode) : mon.once("exit", (c) => r(c))));
  assert.equal(code, 0);
  socat.kill("SIGTERM");
});
