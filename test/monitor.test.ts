// `npm run monitor` (tools/monitor/monitor.ts): the line processor driven directly, then the real
// program on a pseudo-terminal pair made by socat (Debian `socat`), which stands in for the board's USB
// serial port: level colours (ANSI SGR), level/area filters, which never hide a panic or the reset
// reason, xsbug <log> frames of debug builds, a board reset seen as the ESP32 boot ROM's
// "rst:0x1 (POWERON_RESET)" line or the uptime going backwards, the serial device vanishing and coming
// back (USB-CDC boards re-enumerate when they reset) without leaking a listener per retry, and
// `--list` finding serial devices.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { getEventListeners } from "node:events";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { LineProcessor, listPorts, monitor, parseArgs, parseLine, type MonitorOptions } from "../tools/monitor/monitor.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "monitor-"));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

function options(over: Partial<MonitorOptions> = {}): MonitorOptions {
  return { path: "/dev/null", baud: 115200, level: "DEBUG", areas: [], color: false, raw: false, retryMs: 100, list: false, ...over };
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

// ESP-IDF's panic output and the boot ROM after the reset it causes, then XS's abort.
const PANIC = [
  "100 INFO app: report id=1",
  "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
  "",
  "Core  0 register dump:",
  "PC      : 0x400d1234  PS      : 0x00060030  A0      : 0x800d5678",
  "Backtrace: 0x400d1234:0x3ffb1234 0x400d5678:0x3ffb5678",
  "ELF file SHA256: 0123456789abcdef",
  "Rebooting...",
  "ets Jun  8 2016 00:22:57",
  "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
  "configsip: 0, SPIWP:0xee",
  "load:0x3fff0030,len:4",
  "0 INFO app: boot version=0.1.0",
  "5 ERROR wifi: hidden by area",
  "6 DEBUG mqtt: hidden by level",
  "other text hidden by the filters",
  "abort() was called at PC 0x40082c2b on core 0",
  "Backtrace: 0x40082c2b:0x3ffb0000",
  "XS abort: unhandled exception TypeError: cannot coerce undefined to object",
].join("\r\n") + "\r\n";

test("level and area filters never hide a panic (Guru Meditation, abort(), XS abort, Backtrace) or the reset reason (ets, rst:0x)", () => {
  const expected = [
    "Guru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.",
    "Core  0 register dump:",
    "PC      : 0x400d1234  PS      : 0x00060030  A0      : 0x800d5678",
    "Backtrace: 0x400d1234:0x3ffb1234 0x400d5678:0x3ffb5678",
    "ELF file SHA256: 0123456789abcdef",
    "Rebooting...",
    "-- board reset (boot ROM) --",
    "ets Jun  8 2016 00:22:57",
    "rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)",
    "abort() was called at PC 0x40082c2b on core 0",
    "Backtrace: 0x40082c2b:0x3ffb0000",
    "XS abort: unhandled exception TypeError: cannot coerce undefined to object",
  ];
  assert.deepEqual(run(options({ level: "WARN", areas: ["mqtt"] }), [PANIC]), expected);
  assert.deepEqual(run(options({ level: "ERROR" }), PANIC.split("")), [...expected.slice(0, 9), "5 ERROR wifi: hidden by area", ...expected.slice(9)]);
  const coloured = run(options({ level: "ERROR", areas: ["x"], color: true }), [PANIC]);
  assert.equal(coloured[0], "\x1b[1;31mGuru Meditation Error: Core  0 panic'ed (LoadProhibited). Exception was unhandled.\x1b[0m", "a panic is bold red");
});

test("waiting for the port does not add an abort listener per retry (no MaxListenersExceededWarning)", async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on("warning", onWarning);
  const stop = new AbortController();
  let attempts = 0;
  let listeners = 0;
  let reached: () => void = () => {};
  const thirty = new Promise<void>((resolve) => (reached = resolve));
  const running = monitor(options({ path: join(dir, "absent"), retryMs: 1 }), () => {}, stop.signal, () => {
    listeners = Math.max(listeners, getEventListeners(stop.signal, "abort").length);
    if (++attempts === 30) reached();
  });
  await thirty;
  stop.abort();
  await running;
  await new Promise((r) => setImmediate(r));
  process.off("warning", onWarning);
  assert.ok(listeners <= 1, `${listeners} abort listeners after ${attempts} attempts`);
  assert.deepEqual(warnings, []);
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
  assert.equal(parseArgs(["--list"], false).list, true, "--list needs no port");
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

  // A panic and the reset after it come through the filters.
  writeFileSync(board, PANIC);
  await until(() => plain().includes("XS abort: unhandled exception"), "the panic", plain);
  for (const line of ["Guru Meditation Error: Core  0 panic'ed", "Backtrace: 0x400d1234", "rst:0xc (SW_CPU_RESET)", "ets Jun  8 2016", "abort() was called at PC"]) {
    assert.ok(plain().includes(line), `${line} shown`);
  }
  assert.ok(!plain().includes("hidden by") && !plain().includes("configsip"), "everything else still filtered");

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

test("--list: USB serial devices (ttyUSB*, ttyACM*) with their /dev/serial/by-id name; the program needs no port", { skip: !haveSocat && "socat not installed (apt-get install socat)" }, async () => {
  const dev = join(dir, "dev");
  mkdirSync(join(dev, "serial", "by-id"), { recursive: true });
  const usb = ptyPair(join(dev, "ttyUSB7"), join(dev, "other-end"));
  const acm = ptyPair(join(dev, "ttyACM3"), join(dev, "notaport"));
  await until(() => ["ttyUSB7", "other-end", "ttyACM3", "notaport"].every((n) => existsSync(join(dev, n))), "socat ptys", () => "");
  symlinkSync("../../ttyUSB7", join(dev, "serial", "by-id", "usb-Silicon_Labs_CP2102_USB_to_UART-if00-port0"));
  const found = (await listPorts(dev)).filter((p) => p.path.startsWith(dev));
  assert.deepEqual(found, [
    { path: join(dev, "ttyACM3"), detail: "" },
    { path: join(dev, "ttyUSB7"), detail: "usb-Silicon_Labs_CP2102_USB_to_UART-if00-port0" },
  ]);
  usb.kill("SIGTERM");
  acm.kill("SIGTERM");

  const list = spawnSync(process.execPath, ["--import", "tsx", "tools/monitor/monitor.ts", "--list"], { cwd: root, encoding: "utf8" });
  assert.equal(list.status, 0, list.stderr);
  assert.ok(list.stdout !== "" || /no serial ports found/.test(list.stderr), `${list.stdout}${list.stderr}`);
});
