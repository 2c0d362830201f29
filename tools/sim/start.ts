// `npm start [-- key=value …]`: boots the firmware (main.ts) in the real XS engine on the real clock,
// with simulated Wi-Fi, sensors and flash. Without host=, it also starts the local OneNET emulator
// (tools/emulator/index.ts; an in-process aedes broker if that is missing) and points the device at it.
// Prints the device log as a serial monitor would. Ctrl-C stops cleanly.
//
// Exit codes: 0 after Ctrl-C; 2 for a usage error (one line: unknown key, `key=` empty, a word that is
// not key=value, an unreadable config file); 1 when the firmware throws at boot (the XS error with
// module and line) or stops at boot (its config is not usable: the board would idle, the simulator
// says why and exits).
//
// Keys (tools/sim/README.md): the firmware's, as app/config.ts reads them, plus the simulated board's
// (KEYS_OF_THE_SIMULATED_BOARD) and the launcher's own (LAUNCH_KEYS). TLS is on by default, as on the
// board: the emulator then listens for TLS with a test CA made at start, and `ca=<PEM file>` (set to
// that CA) makes the simulated device pin it in place of OneNET's (tools/sim/resources.ts). Secrets stay off the command
// line, where npm's banner and `ps` would show them: config=<file.json> (a JSON object of the same
// keys) and the ONENET_KEY / WIFI_PASSWORD environment variables. Precedence: demo defaults < file <
// environment < command line.
import { dirname, join, resolve } from "node:path";
import { mkdirSync, readFileSync, rmSync, existsSync } from "node:fs";
import { DEFAULTS, validateConfig } from "../../app/config.ts";
import { Checker } from "../../lib/checker.ts";
import { isSecretName, MASK } from "../../lib/log.ts";
import { parseLine, type LogLine } from "../monitor/log-line.ts";
import { projectRoot } from "./bundle.ts";
import { XsLane, FirmwareError } from "./xs-lane.ts";
import { certificateFile } from "./resources.ts";
import { Storage } from "./storage.ts";
import { bootloader } from "./boot.ts";

/** Demo identity for the local emulator (never a real device's). */
export const DEMO = {
  ssid: "sim-ap",
  password: "sim-password",
  product: "AbCdEf1234",
  device: "device-001",
  // base64 of the 32 ASCII bytes "onenet-xs-simulator-demo-key-001"
  key: "b25lbmV0LXhzLXNpbXVsYXRvci1kZW1vLWtleS0wMDE=",
  interval: "5",
  board: "xs-simulator",
};

/** Keys the launcher takes for itself (never passed to the firmware). */
export const LAUNCH_KEYS = ["entry", "flash", "fresh", "emulator-http", "config"] as const;

/**
 * mc/config keys read outside app/config.ts: the board name (app/info.ts) and the simulated world
 * (tools/sim/devices/world.ts). test/sim-start.test.ts checks those files read no others.
 */
export const KEYS_OF_THE_SIMULATED_BOARD = ["board", "sensors", "seed", "aht20_uncalibrated", "ticks", "ca"] as const;

/** Environment variables for secrets, and the key each one sets. */
export const SECRET_ENV = { ONENET_KEY: "key", WIFI_PASSWORD: "password" } as const;

/** The default entry: the firmware, whose keys are known. */
const FIRMWARE = "main.ts";

/**
 * The keys the firmware reads, straight from app/config.ts: validateConfig is run on an object that
 * records every key asked for (with nothing given, it still asks for each key once, to report it).
 */
export function firmwareKeys(): string[] {
  const asked = new Set<string>();
  const recorder = new Proxy(
    {},
    {
      get(_target, name) {
        if (typeof name === "string") asked.add(name);
        return undefined;
      },
    },
  );
  validateConfig(recorder);
  return [...asked];
}

/** Every key `npm start` knows for the firmware entry. */
export function knownKeys(): string[] {
  return [...new Set([...firmwareKeys(), ...KEYS_OF_THE_SIMULATED_BOARD, ...LAUNCH_KEYS])];
}

/** A mistake in how the simulator was started: printed as one line, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length];
}

/** The known key closest to `name` (case ignored), if it is close enough to be a typo. */
export function suggest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.min(2, Math.floor(name.length / 3));
  for (const k of known) {
    const d = distance(name.toLowerCase(), k.toLowerCase());
    if (d <= bestDistance && (best === undefined || d < bestDistance)) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

interface Given {
  name: string;
  value: string;
  /** "argument 3", or "" for a file's entries (the file is named in the message's prefix). */
  at: string;
}

// An unknown name is echoed (with a suggestion) only if it looks like a key's name, not like a secret.
const KEY_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,23}$/;

function fromCommandLine(argv: readonly string[], known: readonly string[]): Given[] {
  const given: Given[] = [];
  let position = 0;
  for (const raw of argv) {
    if (raw === "--") continue;
    position++;
    const arg = raw.replace(/^--?/, "");
    const eq = arg.indexOf("=");
    const at = `argument ${position}`;
    if (eq <= 0) {
      throw new UsageError(
        // Only a known key's name is echoed: any other word may be a secret typed without its key=.
        eq < 0 && known.includes(arg) ? `${arg} is not key=value: give ${arg}=<value>` : `${at} is not key=value (e.g. npm start -- interval=10)`,
      );
    }
    given.push({ name: arg.slice(0, eq), value: arg.slice(eq + 1), at });
  }
  return given;
}

function fromFile(path: string): Given[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    throw new UsageError(`config file ${path}: cannot read it${code ? ` (${code})` : ""}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not the parser's message: it quotes the text around the error, which may be the key.
    throw new UsageError(`config file ${path}: not valid JSON (expected an object like {"key": "…", "password": "…"})`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`config file ${path}: not a JSON object of key: value`);
  }
  const given: Given[] = [];
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    const g: Given = { name, value: "", at: "" };
    if (typeof value === "string") g.value = value;
    else if (typeof value === "number" || typeof value === "boolean") g.value = String(value);
    else throw new UsageError(`config file ${path}: ${KEY_NAME.test(name) ? name : "a key"} must be a string, number or boolean`);
    given.push(g);
  }
  return given;
}

function check(given: readonly Given[], known: readonly string[], where: string, fileAllowed: boolean): void {
  const seen = new Set<string>();
  for (const g of given) {
    if (!known.includes(g.name)) {
      if (!KEY_NAME.test(g.name)) throw new UsageError(`${where}${g.at || "a key"}: unknown key (not shown: it does not look like a key name)`);
      const near = suggest(g.name, known);
      throw new UsageError(`${where}unknown key ${g.name}${near ? ` (did you mean ${near}?)` : ""}`);
    }
    if (g.name === "config" && !fileAllowed) throw new UsageError(`${where}config cannot name another file`);
    // "" is how a file says "open network" for password; anywhere else an empty value is a slip (an
    // unset shell variable), and the firmware would take it for "missing".
    if (g.value === "" && !(g.name === "password" && g.at === "")) {
      throw new UsageError(`${where}${g.name}${g.at ? "=" : ""} is empty: give a value, or leave the key out for its default`);
    }
    if (seen.has(g.name)) throw new UsageError(`${where}${g.name} is given twice`);
    seen.add(g.name);
  }
}

export interface StartArgs {
  /** What mc/config gets (demo defaults not included). */
  config: Record<string, string>;
  /** The launcher's own keys. */
  sim: Record<string, string>;
}

/**
 * The command line, the config= file and the secret environment variables, checked: every key must be
 * known (when the entry is the firmware; another entry= module may read keys of its own), no value may
 * be empty, no key given twice in one place. Throws UsageError.
 */
export function parseArgs(argv: readonly string[], env: { readonly [name: string]: string | undefined } = {}): StartArgs {
  const known = knownKeys();
  const line = fromCommandLine(argv, known);
  const file = line.find((g) => g.name === "config")?.value;
  const fileGiven = file === undefined ? [] : fromFile(file);
  const entry = line.find((g) => g.name === "entry")?.value ?? fileGiven.find((g) => g.name === "entry")?.value ?? FIRMWARE;
  const strict = resolve(projectRoot, entry) === join(projectRoot, FIRMWARE);
  const allowed = strict ? known : [...known, ...line.map((g) => g.name), ...fileGiven.map((g) => g.name)];
  check(fileGiven, allowed, `config file ${file}: `, false);
  check(line, allowed, "", true);

  const fromEnv: Given[] = [];
  for (const [variable, name] of Object.entries(SECRET_ENV)) {
    const value = env[variable];
    if (value !== undefined && value !== "") fromEnv.push({ name, value, at: variable });
  }
  const config: Record<string, string> = {};
  const sim: Record<string, string> = {};
  for (const { name, value } of [...fileGiven, ...fromEnv, ...line]) {
    if ((LAUNCH_KEYS as readonly string[]).includes(name)) sim[name] = value;
    else config[name] = value;
  }
  const ticks = config.ticks;
  if (ticks !== undefined && !(/^\d{1,10}$/.test(ticks) && Number(ticks) <= 0xffffffff)) {
    throw new UsageError("ticks must be a whole number 0..4294967295 (where the board's millisecond counter starts)");
  }
  if (config.ca !== undefined) {
    try {
      certificateFile(config.ca);
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
  return { config, sim };
}

interface Broker {
  host: string;
  port: number;
  consoleUrl?: string;
  /** With TLS: the CA file the device must trust. */
  ca?: string;
  /** The OneNET HTTP API (fuse-ota) of the emulator. */
  api?: { port: number; tls: boolean };
  close(): Promise<void>;
}

/** Whether the firmware will use TLS with this config (its `tls` key, read by the firmware's rule). */
export function usesTls(config: Record<string, string>): boolean {
  return new Checker(config).boolean("tls", DEFAULTS.tls);
}

async function startBroker(config: Record<string, string>, httpPort: number, say: (line: string) => void): Promise<Broker> {
  const device = { product: config.product, device: config.device, key: config.key };
  const tls = usesTls(config);
  if (existsSync(new URL("../emulator/index.ts", import.meta.url))) {
    const { startEmulator } = await import("../emulator/index.ts");
    const emulator = await startEmulator({
      host: "127.0.0.1",
      port: 0,
      tlsPort: tls ? 0 : undefined,
      apiTlsPort: tls ? 0 : undefined,
      httpPort,
      devices: [device],
      log: (line: string) => say(`[onenet] ${line}`),
    });
    // The fuse-ota API (updates over the air) is on the console's HTTP port, and over HTTPS on
    // apiTlsPort when this emulator has one (docs/onenet.md "OTA").
    const apiTls = emulator.apiTlsPort;
    const api = tls && apiTls !== undefined ? { port: apiTls, tls: true } : { port: emulator.httpPort, tls: false };
    if (tls && emulator.tlsPort !== undefined) {
      return { host: "127.0.0.1", port: emulator.tlsPort, ca: emulator.tlsCaPath, consoleUrl: emulator.consoleUrl, api, close: () => emulator.close() };
    }
    return { host: "127.0.0.1", port: emulator.port, consoleUrl: emulator.consoleUrl, api, close: () => emulator.close() };
  }
  // Fallback: a plain embedded MQTT broker (no OneNET rules).
  const { Aedes } = await import("aedes");
  const { createServer } = await import("node:net");
  const aedes = await Aedes.createBroker();
  const server = createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  say(`[broker] aedes listening on 127.0.0.1:${port} (tools/emulator/index.ts not found; plain TCP: start with tls=0)`);
  return {
    host: "127.0.0.1",
    port,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => aedes.close(() => r()));
    },
  };
}

function shown(config: Record<string, string>): string {
  return Object.keys(config)
    .sort()
    .map((k) => `${k}=${isSecretName(k) ? MASK : config[k]}`)
    .join(" ");
}

/** Replaces every secret value in a line (as the firmware's Log does), whoever printed it. */
function scrubber(secrets: readonly string[]): (line: string) => string {
  const long = secrets.filter((s) => s.length >= 4);
  return (line) => {
    for (const s of long) line = line.split(s).join(MASK);
    return line;
  };
}

/** The firmware's own word that it stopped at boot and idles (main.ts), as log fields. */
export function stoppedAtBoot(line: LogLine): boolean {
  if (line.level !== "ERROR") return false;
  return (line.area === "config" && line.message.startsWith("boot stopped")) || (line.area === "app" && line.message.startsWith("boot failed"));
}

/** The default flash file: in the project, per device, so a restart is a reboot with the same flash. */
export function defaultFlash(config: Record<string, string>): string {
  const safe = (s: string | undefined): string => (s ?? "unknown").replace(/[^A-Za-z0-9_.@-]/g, "_");
  return join(projectRoot, ".sim-storage", `${safe(config.product)}-${safe(config.device)}.json`);
}

export async function main(argv: string[], env: { readonly [name: string]: string | undefined } = process.env): Promise<number> {
  let args: StartArgs;
  try {
    args = parseArgs(argv, env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`[sim] ${error.message}\n`);
    return 2;
  }
  const { config: given, sim } = args;
  const config: Record<string, string> = { ...DEMO, ...given };
  const scrub = scrubber(Object.keys(config).filter(isSecretName).map((k) => config[k]));
  const out = (line: string): void => {
    process.stdout.write(`${scrub(line)}\n`);
  };
  const err = (line: string): void => {
    process.stderr.write(`${scrub(line)}\n`);
  };
  let broker: Broker | undefined;
  if (given.host === undefined) {
    broker = await startBroker(config, Number(sim["emulator-http"] ?? 0), out);
    config.host = broker.host;
    config.port = String(broker.port);
    if (broker.ca !== undefined && given.ca === undefined) {
      config.ca = broker.ca;
      out(`[sim] TLS to the emulator: the device trusts its test CA ${broker.ca} in place of OneNET's (tls=0 for plain TCP)`);
    }
    if (broker.consoleUrl) out(`[sim] OneNET emulator console: ${broker.consoleUrl}`);
    if (broker.api !== undefined && given.otaHost === undefined) {
      config.otaHost = broker.host;
      config.otaPort = String(broker.api.port);
      config.otaTls = broker.api.tls ? "1" : "0";
      out(`[sim] updates over the air from the emulator: ${broker.api.tls ? "https" : "http"}://${broker.host}:${broker.api.port}/fuse-ota/`);
    }
  }
  const flash = resolve(sim.flash ?? defaultFlash(config));
  mkdirSync(dirname(flash), { recursive: true });
  if (sim.fresh === "1") {
    rmSync(flash, { force: true });
    new Storage(flash).slotsClear();
  }
  const entry = sim.entry ?? FIRMWARE;
  out(`[sim] flash: ${flash}${sim.fresh === "1" ? " (emptied: fresh=1)" : " (fresh=1 empties it)"}`);
  // The board's millisecond counter (tools/sim/modules/time.ts): ticks=2147470000 reaches the ESP32's
  // sign flip 13 s after boot, ticks=4294950000 its wrap.
  const ticks = config.ticks === undefined ? 0 : Number(config.ticks);
  out(`[sim] board ticks start at ${ticks}${ticks >= 2 ** 31 ? " (past the sign flip: Time.ticks is negative)" : ""}`);
  out(`[sim] booting ${entry} in XS: ${shown(config)}`);

  let lane: XsLane | undefined;
  let stopping = false;
  const stop = async (code: number): Promise<number> => {
    if (stopping) return code;
    stopping = true;
    await lane?.close();
    await broker?.close().catch(() => {});
    return code;
  };
  // Ctrl-C may come at any time, also while the firmware boots.
  let interrupted: (() => void) | undefined;
  const signalled = new Promise<void>((resolve) => (interrupted = resolve));
  const onSignal = (): void => interrupted?.();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  // Boot runs inside XsLane.start, so the line saying it stopped arrives before start() returns.
  let stoppedBy: LogLine | undefined;
  const onLog = (line: string): void => {
    out(line);
    const record = parseLine(line);
    if (record !== undefined && stoppedBy === undefined && stoppedAtBoot(record)) stoppedBy = record;
  };
  // The flash (preferences, readings log, outbox, OTA slots) stays across restarts; the bootloader
  // picks the slot to boot at each (tools/sim/boot.ts: an OTA image, or the project's source).
  const storage = new Storage(flash);
  const boot = async (): Promise<number | undefined> => {
    const choice = bootloader(storage);
    out(`[sim] ${choice.note}`);
    try {
      lane = await XsLane.start({ entry, clock: "real", config, storage, bundle: choice.image?.bundle, onLog });
    } catch (error) {
      if (error instanceof FirmwareError) err(`[sim] firmware exception at boot: ${error.message}\n${error.xsStack}`);
      else err(`[sim] could not start the firmware: ${error instanceof Error ? error.message : String(error)}`);
      return stop(1);
    }
    if (stoppedBy !== undefined) {
      err(`[sim] the firmware stopped at boot (its ERROR ${stoppedBy.area} line above says why); a board would idle here, the simulator exits`);
      return stop(1);
    }
    return undefined;
  };
  const failed = await boot();
  if (failed !== undefined) return failed;

  return new Promise<number>((resolve) => {
    void signalled.then(() => {
      out("[sim] stopping");
      void stop(0).then(resolve);
    });
    let rebooting = false;
    const watch = setInterval(() => {
      const running = lane;
      if (stopping) clearInterval(watch);
      else if (running === undefined || rebooting) return;
      else if (running.fatal) {
        clearInterval(watch);
        err(`[sim] firmware exception: ${running.fatal.message}\n${running.fatal.xsStack}`);
        void stop(1).then(resolve);
      } else if (running.restarted) {
        // esp_restart: the same flash, the bootloader picks the slot again.
        rebooting = true;
        out("[sim] the firmware restarted the board");
        void running.close().then(async () => {
          lane = undefined;
          const code = stopping ? undefined : await boot();
          rebooting = false;
          if (code !== undefined) {
            clearInterval(watch);
            resolve(code);
          }
        });
      }
    }, 50);
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      process.stderr.write(`[sim] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
      process.exit(1);
    },
  );
}
