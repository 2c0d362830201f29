// `npm run monitor -- <serial port> [options]`: a log viewer for the board on USB serial.
//
// Reads the firmware's lines (`<uptime ms> <LEVEL> <area>: message key=value …`, see log.ts) at
// 115200 baud, colours them by level, filters by level and area, and survives the board resetting:
// a reset is marked when the ESP32 boot ROM speaks ("rst:0x…") or the uptime goes backwards, and when
// the USB serial device vanishes (USB-CDC boards re-enumerate on reset) the monitor waits for it and
// reopens it. Debug builds (`mcconfig -d`) wrap trace output in xsbug frames (<xsbug><log>…</log>…);
// the text inside them is shown like a plain line.
//
// Level and area filters never hide what says the board died or why it restarted: a panic ("Guru
// Meditation Error", "abort() was called", "XS abort:") and the register dump and "Backtrace:" after
// it, and the boot ROM's reset reason ("rst:0x…", "ets …").
//
// Options: --baud N (115200)  --level debug|info|warn|error (debug)  --area a,b (all; "mqtt" also
// matches "mqtt-outbox")  --color / --no-color (auto: colour on a terminal)  --raw (no filtering or
// colouring, still reconnects)  --retry MS (500).  `npm run monitor -- --list` lists serial ports.
import { readdirSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { parseLine, type Level } from "./log-line.ts";

export { parseLine, type Level, type LogLine } from "./log-line.ts";

const RANK: { readonly [L in Level]: number } = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export interface MonitorOptions {
  path: string;
  baud: number;
  level: Level;
  areas: string[];
  color: boolean;
  raw: boolean;
  retryMs: number;
  /** List the serial ports instead of monitoring one. */
  list: boolean;
}

export function parseArgs(argv: readonly string[], isTTY: boolean): MonitorOptions {
  const o: MonitorOptions = { path: "", baud: 115200, level: "DEBUG", areas: [], color: isTTY, raw: false, retryMs: 500, list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === "--") continue;
    else if (a === "--baud") o.baud = Number(value());
    else if (a === "--level") {
      const l = value().toUpperCase();
      if (!(l in RANK)) throw new Error(`--level must be debug, info, warn or error, got ${l.toLowerCase()}`);
      o.level = l as Level;
    } else if (a === "--area") o.areas = value().split(",").map((s) => s.trim()).filter(Boolean);
    else if (a === "--color") o.color = true;
    else if (a === "--no-color") o.color = false;
    else if (a === "--raw") o.raw = true;
    else if (a === "--retry") o.retryMs = Number(value());
    else if (a === "--list") o.list = true;
    else if (a.startsWith("--")) throw new Error(`unknown option ${a}`);
    else if (!o.path) o.path = a;
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!o.path && !o.list) {
    throw new Error("usage: npm run monitor -- <serial port> [--baud 115200] [--level info] [--area mqtt,onenet] [--no-color] [--raw]   (ports: npm run monitor -- --list)");
  }
  if (!(o.baud > 0)) throw new Error("--baud must be a positive number");
  if (!(o.retryMs > 0)) throw new Error("--retry must be a positive number of ms");
  return o;
}

const ESC = "\x1b[";
const RESET = ESC + "0m";
const COLORS: { readonly [L in Level]: string } = { DEBUG: ESC + "2m", INFO: ESC + "32m", WARN: ESC + "33m", ERROR: ESC + "1;31m" };
const AREA = ESC + "36m";
const DIM = ESC + "2m";
const MARK = ESC + "1;35m";

function decodeXml(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#(\d+)|#x([0-9a-fA-F]+));/g, (_all, name: string, dec?: string, hex?: string) => {
    if (dec) return String.fromCodePoint(Number(dec));
    if (hex) return String.fromCodePoint(parseInt(hex, 16));
    return ({ lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" } as { [k: string]: string })[name];
  });
}

// ESP-IDF's panic handler and XS's fatal error (xsPlatform.c fxAbort) on the board's console.
const PANIC = /Guru Meditation Error|abort\(\) was called|^XS abort:|^Backtrace:/;
// The ESP32 boot ROM's first lines after any reset: the build date, then the reset reason.
const BOOT_ROM = /^rst:0x[0-9a-f]+ |^ets [A-Z][a-z]{2} /i;

/**
 * Turns received bytes into display lines: splits on \n (dropping \r), unwraps xsbug <log> frames,
 * filters, colours and marks resets. Pure apart from the `emit` callback, so tests drive it directly.
 */
export class LineProcessor {
  #partial = "";
  #xsbug = "";
  #lastUptime = -1;
  #inBootRom = false;
  /** Inside a panic report (until the firmware logs again or the board restarts): shown whole. */
  #inPanic = false;
  #resets = 0;
  readonly #o: MonitorOptions;
  readonly #emit: (text: string) => void;

  constructor(options: MonitorOptions, emit: (text: string) => void) {
    this.#o = options;
    this.#emit = emit;
  }

  get resets(): number {
    return this.#resets;
  }

  /** Feeds received text (any chunking). */
  push(text: string): void {
    let data = this.#partial + text;
    this.#partial = "";
    // xsbug frames may span chunks: keep an unterminated frame until its end arrives
    if (this.#xsbug) {
      data = this.#xsbug + data;
      this.#xsbug = "";
    }
    let start = 0;
    for (;;) {
      const frame = data.indexOf("<xsbug>", start);
      const nl = data.indexOf("\n", start);
      if (frame >= 0 && (nl < 0 || frame < nl)) {
        if (frame > start) this.#plain(data.slice(start, frame));
        const end = data.indexOf("</xsbug>", frame);
        if (end < 0) {
          this.#xsbug = data.slice(frame);
          return;
        }
        this.#frame(data.slice(frame + 7, end));
        start = end + 8;
        continue;
      }
      if (nl < 0) break;
      this.#plain(data.slice(start, nl));
      start = nl + 1;
    }
    this.#partial = data.slice(start);
  }

  /** Emits what is left (at the end, or when the port closes). */
  flush(): void {
    if (this.#partial) this.#plain(this.#partial);
    this.#partial = "";
    this.#xsbug = "";
  }

  /** A line printed by the monitor itself (connection state). */
  note(text: string): void {
    this.#emit(this.#o.color && !this.#o.raw ? `${MARK}-- ${text} --${RESET}` : `-- ${text} --`);
  }

  #frame(body: string): void {
    const re = /<log>([\s\S]*?)<\/log>/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(body)) !== null) {
      for (const line of decodeXml(m[1]).split("\n")) if (line.trim()) this.#plain(line);
    }
  }

  #plain(raw: string): void {
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (this.#o.raw) {
      this.#emit(line);
      return;
    }
    const bootRom = BOOT_ROM.test(line);
    if (bootRom) {
      if (!this.#inBootRom) this.#reset("board reset (boot ROM)");
      this.#inBootRom = true;
      this.#inPanic = false;
      this.#lastUptime = -1;
    }
    if (PANIC.test(line)) this.#inPanic = true;
    const parsed = parseLine(line);
    if (parsed) {
      this.#inBootRom = false;
      this.#inPanic = false;
    }
    if (!parsed) {
      if (line.length === 0) return;
      if (this.#inPanic) this.#emit(this.#o.color ? COLORS.ERROR + line + RESET : line);
      else if (bootRom) this.#emit(line);
      else if (this.#o.areas.length === 0 && RANK[this.#o.level] <= RANK.DEBUG) this.#emit(this.#o.color ? DIM + line + RESET : line);
      return;
    }
    if (this.#lastUptime >= 0 && parsed.uptime < this.#lastUptime) this.#reset("board reset (uptime went back)");
    this.#lastUptime = parsed.uptime;
    if (RANK[parsed.level] < RANK[this.#o.level]) return;
    if (this.#o.areas.length > 0 && !this.#o.areas.some((a) => parsed.area === a || parsed.area.startsWith(a + "-"))) return;
    if (!this.#o.color) {
      this.#emit(line);
      return;
    }
    const c = COLORS[parsed.level];
    this.#emit(`${DIM}${parsed.uptime}${RESET} ${c}${parsed.level}${RESET} ${AREA}${parsed.area}${RESET}: ${parsed.level === "DEBUG" ? c + parsed.message + RESET : parsed.message}`);
  }

  #reset(why: string): void {
    this.#resets++;
    this.note(why);
  }
}

/** Opens the port, keeps it open across resets and unplugging; resolves when `signal` aborts. */
export async function monitor(
  o: MonitorOptions,
  emit: (text: string) => void,
  signal?: AbortSignal,
  /** Called after each attempt to open the port (tests count the retries). */
  onAttempt?: (opened: boolean) => void,
): Promise<void> {
  const { SerialPort } = await import("serialport");
  const lines = new LineProcessor(o, emit);
  let waitingSaid = false;
  while (!signal?.aborted) {
    const port = new SerialPort({ path: o.path, baudRate: o.baud, autoOpen: false });
    const opened = await new Promise<Error | undefined>((resolve) => port.open((err) => resolve(err ?? undefined)));
    onAttempt?.(opened === undefined);
    if (opened) {
      if (!waitingSaid) lines.note(`waiting for ${o.path} (${opened.message})`);
      waitingSaid = true;
      await pause(o.retryMs, signal);
      continue;
    }
    waitingSaid = false;
    lines.note(`connected to ${o.path} at ${o.baud} baud`);
    await new Promise<void>((resolve) => {
      const done = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        if (port.isOpen) port.close(() => done());
        else done();
      };
      signal?.addEventListener("abort", onAbort);
      port.on("data", (chunk: Buffer) => lines.push(chunk.toString("utf8")));
      port.on("close", () => done());
      port.on("error", () => {
        if (port.isOpen) port.close(() => done());
        else done();
      });
    });
    lines.flush();
    if (signal?.aborted) break;
    lines.note(`${o.path} closed, reconnecting`);
    await pause(o.retryMs, signal);
  }
}

/** Waits `ms`, or less if `signal` aborts; node:timers removes its abort listener either way. */
async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {});
}

export interface PortInfo {
  path: string;
  /** Maker, USB vendor:product and serial number, or the /dev/serial/by-id name; may be "". */
  detail: string;
}

// USB serial adapters and USB-CDC boards: Linux ttyUSB/ttyACM, macOS cu.* call-out devices.
const SERIAL_NAME = /^(ttyUSB\d+|ttyACM\d+|cu\.(usbserial|usbmodem|SLAB_USBtoUART|wchusbserial).*)$/;

/**
 * The serial ports a board could be on: serialport's list (udev on Linux, IOKit on macOS), merged
 * with a scan of `dev` (USB serial device names, and /dev/serial/by-id names, which tell the chip even
 * where udevadm is missing, as in containers).
 */
export async function listPorts(dev = "/dev"): Promise<PortInfo[]> {
  const ports = new Map<string, string>();
  try {
    const { SerialPort } = await import("serialport");
    for (const p of await SerialPort.list()) {
      const usb = p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : undefined;
      ports.set(p.path, [p.manufacturer, usb, p.serialNumber].filter(Boolean).join(" "));
    }
  } catch {
    // no udevadm: the scan below still finds the devices
  }
  const byId = new Map<string, string>();
  for (const name of entries(join(dev, "serial", "by-id"))) {
    const real = realPath(join(dev, "serial", "by-id", name));
    if (real !== undefined) byId.set(real, name);
  }
  for (const name of entries(dev)) {
    if (!SERIAL_NAME.test(name)) continue;
    const path = join(dev, name);
    if (!ports.has(path)) ports.set(path, "");
  }
  return [...ports]
    .map(([path, detail]) => {
      const id = byId.get(realPath(path) ?? path);
      return { path, detail: detail || (id ?? "") };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function entries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  let options: MonitorOptions;
  try {
    options = parseArgs(process.argv.slice(2), process.stdout.isTTY === true);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(2);
  }
  if (options.list) {
    const ports = await listPorts();
    for (const p of ports) process.stdout.write(`${p.path}${p.detail ? `  ${p.detail}` : ""}\n`);
    if (ports.length === 0) console.error("no serial ports found: plug the board in (Linux: /dev/ttyUSB0 or /dev/ttyACM0; macOS: /dev/cu.usbserial-…)");
    return;
  }
  const stop = new AbortController();
  process.on("SIGINT", () => stop.abort());
  process.on("SIGTERM", () => stop.abort());
  await monitor(options, (text) => process.stdout.write(text + "\n"), stop.signal);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
