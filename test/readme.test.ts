// README.md as a user follows it: every command in a ```sh block is run (or, where it cannot run
// here, checked against what it relies on), so the README cannot drift from the code.
//
// - `npm start …` runs through npm, as typed, for a few seconds against its own OneNET emulator (the
//   one npm start launches, or, for a command aimed at the real OneNET, one this test starts and points
//   `host`/`port` at). It must print a report line, or, when a ```text block follows its one-command
//   block, that documented output. A `^C` line in it is where the user presses Ctrl-C: the lines above
//   must come first, then the test stops it as Ctrl-C does (SIGINT to its process group) and the lines
//   below must follow. Output without `^C` is a program that ends by itself.
// - `npm run emulator …` must print `broker:` and `console:` (and its documented output); its ports are
//   set to 0 so runs never collide.
// - `npm run image …` builds the image (into this test's folder) and prints its file, version, size and MD5.
// - `npm run monitor -- --list` runs; `npm run monitor -- <port> …` is given a port that does not
//   exist and must say it waits for it (a real port would reset a board on the developer's desk).
// - `npm install` and `npm test` are not run again: they are what CI runs, this file among the tests.
//   `npm run bench` is not run either (it takes a minute; speed is its business, not a test's): its
//   options and name filters are checked against bench/.
// - `mcconfig …` needs the Moddable SDK: every `key=` must be a firmware config key
//   (app/config.ts CONFIG_KEYS), every `-p` platform must be served by a section of manifest.json's
//   "platforms" (as the SDK matches them), and the manifest's config plus the command's keys must pass
//   the firmware's own config check.
// Placeholders (`<product-id>`, `<设备密钥>`, …) stand for this test's identity, chosen by the key they
// are given to. Besides, the tables (config keys, npm start keys, CONNACK codes) must match the code
// in both directions, and the architecture picture must match the imports.
import { describe, it, test, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CONFIG_KEYS, DEFAULTS, LIMITS, validateConfig } from "../app/config.ts";
import { CONNACK_HINTS } from "../app/hints.ts";
import { DEMO, KEYS_OF_THE_SIMULATED_BOARD, LAUNCH_KEYS, SECRET_ENV } from "../tools/sim/start.ts";
import { startEmulator } from "../tools/emulator/index.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const README = readFileSync(join(root, "README.md"), "utf8");
const dir = mkdtempSync(join(tmpdir(), "readme-"));
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) signalGroup(child, "SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

/** Who the placeholders stand for: a fresh key and password each run, so any leak is recognisable. */
const IDENTITY: { readonly [key: string]: string } = {
  product: "ReadmeP001",
  device: "readme-device",
  key: randomBytes(32).toString("base64"),
  ssid: "readme-ap",
  password: randomBytes(12).toString("base64"),
};
const SECRETS = [IDENTITY.key, IDENTITY.password];
const ONENET_HOST = /(^|\.)heclouds\.com$|\.cmcconenet\.cn$/;

// ---------------------------------------------------------------------------------------------
// Reading the README

interface Block {
  /** The info string's first word (`sh`, `text`, `json`, …) and the rest (`device.json`). */
  readonly lang: string;
  readonly label: string;
  readonly body: string;
  /** Line numbers (1-based) of the opening and closing fences. */
  readonly start: number;
  readonly end: number;
}

function fencedBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*(.*)$/.exec(lines[i]);
    if (!open) continue;
    let j = i + 1;
    while (j < lines.length && lines[j] !== "```") j++;
    assert.ok(j < lines.length, `README.md:${i + 1}: fence never closed`);
    blocks.push({ lang: open[1], label: open[2].trim(), body: lines.slice(i + 1, j).join("\n"), start: i + 1, end: j + 1 });
    i = j;
  }
  return blocks;
}

/** Shell words: quotes removed, `$VAR` kept as text, a `#` comment after whitespace dropped. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      assert.ok(close > i, `unbalanced quote in: ${line}`);
      word = (word ?? "") + line.slice(i + 1, close);
      i = close;
    } else if (c === " " || c === "\t") {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (c === "#" && word === undefined) break;
    else word = (word ?? "") + c;
  }
  if (word !== undefined) words.push(word);
  return words;
}

interface Command {
  readonly text: string;
  readonly line: number;
  readonly words: readonly string[];
  /** `export NAME=value` lines before it in its block. */
  readonly exports: ReadonlyMap<string, string>;
  /** The ```text block right after its block, when the block holds this command alone. */
  readonly output: Block | undefined;
  /** The nearest ```json <file> block above, for `config=<file>`. */
  readonly files: ReadonlyMap<string, Block>;
}

function readmeCommands(): Command[] {
  const blocks = fencedBlocks(README);
  const commands: Command[] = [];
  const files = new Map<string, Block>();
  blocks.forEach((block, index) => {
    if (block.lang === "json" && block.label) files.set(block.label, block);
    if (block.lang !== "sh") return;
    const lines: { text: string; line: number }[] = [];
    let pending = "";
    block.body.split("\n").forEach((text, k) => {
      const joined = pending + text;
      if (joined.endsWith("\\")) {
        pending = joined.slice(0, -1);
        return;
      }
      pending = "";
      if (joined.trim() && !joined.trim().startsWith("#")) lines.push({ text: joined.trim(), line: block.start + 1 + k });
    });
    const next = blocks[index + 1];
    const between = next ? README.split("\n").slice(block.end, next.start - 1) : [];
    const output = next && next.lang === "text" && lines.length === 1 && between.every((l) => l.trim() === "") ? next : undefined;
    const exports = new Map<string, string>();
    for (const { text, line } of lines) {
      const words = shellWords(text);
      commands.push({ text, line, words, exports: new Map(exports), output, files: new Map(files) });
      if (words[0] === "export") {
        const eq = words[1].indexOf("=");
        exports.set(words[1].slice(0, eq), words[1].slice(eq + 1));
      }
    }
  });
  return commands;
}

/** The rows of the first table after the heading `heading`: cells, without the header and rule. */
function tableAfter(heading: string): string[][] {
  const lines = README.split("\n");
  const at = lines.findIndex((l) => l.replace(/^#+\s*/, "") === heading && l.startsWith("#"));
  assert.ok(at >= 0, `README has a "${heading}" heading`);
  let i = at + 1;
  while (i < lines.length && !lines[i].startsWith("|")) {
    assert.ok(!lines[i].startsWith("#"), `a table under "${heading}"`);
    i++;
  }
  const rows: string[][] = [];
  for (; i < lines.length && lines[i].startsWith("|"); i++) {
    rows.push(lines[i].slice(1, -1).split(" | ").map((c) => c.trim()));
  }
  return rows.slice(2);
}

const codeName = (cell: string): string => {
  const m = /^`([^`]+)`$/.exec(cell);
  assert.ok(m, `a key cell is one name in backticks: ${cell}`);
  return m[1];
};

// ---------------------------------------------------------------------------------------------
// Filling in placeholders

function isPlaceholder(value: string): boolean {
  return /^<[^<>]+>$/.test(value);
}

/** The value a placeholder, `$VAR` or plain value given to `name` stands for. */
function fill(name: string, value: string, env: ReadonlyMap<string, string>): string {
  const variable = /^\$([A-Z_][A-Z0-9_]*)$/.exec(value);
  if (variable) {
    const exported = env.get(variable[1]);
    assert.ok(exported !== undefined, `$${variable[1]} is exported in the same block before it is used`);
    return fill(secretKeyOf(variable[1]) ?? variable[1], exported, env);
  }
  if (!isPlaceholder(value)) return value;
  const stands = IDENTITY[name];
  assert.ok(stands !== undefined, `the test knows what ${value} given to ${name} stands for`);
  return stands;
}

function secretKeyOf(variable: string): string | undefined {
  return (SECRET_ENV as { readonly [v: string]: string })[variable];
}

/** The process environment a command runs with: the caller's secrets removed, the block's exports added. */
function environment(command: Command): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const variable of Object.keys(SECRET_ENV)) delete env[variable];
  for (const [name, value] of command.exports) {
    if (name === "PATH") continue;
    env[name] = fill(secretKeyOf(name) ?? name, value, command.exports);
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// Running a command

interface Run {
  readonly child: ChildProcess;
  output(): string;
  lines(): string[];
  readonly exit: Promise<number | null>;
  exited(): boolean;
  /** Resolves once `condition` holds (checked at every output and at exit); rejects at exit or timeout. */
  until(condition: () => boolean, what: string, timeoutMs?: number): Promise<void>;
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function run(args: readonly string[], env: NodeJS.ProcessEnv): Run {
  // Its own process group, as a terminal's foreground job: Ctrl-C reaches npm and node alike.
  const child = spawn("npm", args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let text = "";
  let done = false;
  const watchers = new Set<() => void>();
  const changed = (): void => {
    for (const w of [...watchers]) w();
  };
  child.stdout?.on("data", (d: Buffer) => {
    text += d.toString();
    changed();
  });
  child.stderr?.on("data", (d: Buffer) => {
    text += d.toString();
    changed();
  });
  const exit = new Promise<number | null>((resolveExit) =>
    child.on("close", (code) => {
      done = true;
      running.delete(child);
      changed();
      resolveExit(code);
    }),
  );
  const self: Run = {
    child,
    exit,
    output: () => text,
    lines: () => text.split("\n").map((l) => l.replace(/\r$/, "")),
    exited: () => done,
    until(condition, what, timeoutMs = 30_000) {
      return new Promise<void>((resolveWait, reject) => {
        const finish = (error?: Error): void => {
          clearTimeout(timer);
          watchers.delete(check);
          if (error) reject(error);
          else resolveWait();
        };
        const check = (): void => {
          if (condition()) finish();
          else if (done) finish(new Error(`exited before ${what}\n${text}`));
        };
        const timer = setTimeout(() => finish(new Error(`no ${what} within ${timeoutMs} ms\n${text}`)), timeoutMs);
        watchers.add(check);
        check();
      });
    },
  };
  return self;
}

/** Presses Ctrl-C and waits for the exit. */
async function interrupt(r: Run): Promise<void> {
  if (!r.exited()) signalGroup(r.child, "SIGINT");
  await r.until(() => r.exited(), "exit after Ctrl-C", 15_000).catch((error: unknown) => {
    signalGroup(r.child, "SIGKILL");
    throw error;
  });
}

/**
 * What a documented line must look like in the real output: the text before the first `name=` field
 * (uptime dropped, absolute paths as PATH) and the field names in order, quoted values kept; digits
 * as N. Values differ from run to run; the words and the fields must not.
 */
function shape(line: string): string {
  let s = line.replace(/^(\[\w+\] )?\d+ (?=(DEBUG|INFO|WARN|ERROR) )/, "$1");
  const names: string[] = [];
  const fieldAt = s.search(/(?:^|\s)[A-Za-z_][\w-]*=/);
  if (fieldAt >= 0) {
    const fields = s.slice(fieldAt);
    for (const m of fields.matchAll(/(?:^|\s)([A-Za-z_][\w-]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) names.push(m[2].startsWith('"') ? `${m[1]}=${m[2]}` : m[1]);
    s = s.slice(0, fieldAt);
  }
  s = s.replace(/(^|\s)\/\S+/g, "$1PATH");
  return `${s.trim()} | ${names.join(" ")}`.replace(/\d+/g, "N");
}

interface Expectation {
  readonly what: string;
  readonly seen: (lines: readonly string[]) => boolean;
}

function documented(line: string): Expectation {
  const want = shape(line);
  return { what: `a line like "${line}"`, seen: (lines) => lines.some((l) => shape(l) === want) };
}

function containing(what: string, pattern: RegExp): Expectation {
  return { what, seen: (lines) => lines.some((l) => pattern.test(l)) };
}

const REPORT = containing("a report line (INFO app: report id=…)", /^\d+ INFO app: report id=\d+ /);

/** The documented output split at `^C`: before Ctrl-C, after it; whether Ctrl-C is shown at all. */
function outputOf(block: Block | undefined): { before: Expectation[]; after: Expectation[]; ctrlC: boolean } {
  const before: Expectation[] = [];
  const after: Expectation[] = [];
  let ctrlC = false;
  for (const line of block?.body.split("\n") ?? []) {
    if (line.trim() === "^C") ctrlC = true;
    else if (line.trim()) (ctrlC ? after : before).push(documented(line));
  }
  return { before, after, ctrlC };
}

/**
 * Waits for `before`. A program that `exitsByItself` must then exit without help; any other must still
 * be running, is stopped with Ctrl-C, and must then print `after` and `afterCtrlC`.
 */
async function expectRun(r: Run, before: readonly Expectation[], after: readonly Expectation[], exitsByItself: boolean, afterCtrlC: readonly Expectation[] = []): Promise<void> {
  const missing = (list: readonly Expectation[]): Expectation[] => list.filter((e) => !e.seen(r.lines()));
  await r.until(() => missing(before).length === 0, before.map((e) => e.what).join(", "), 40_000).catch((error: unknown) => {
    throw new Error(`missing: ${missing(before).map((e) => e.what).join("; ")}\n${(error as Error).message}`);
  });
  if (exitsByItself) {
    await r.until(() => r.exited(), "exit (the documented output shows no Ctrl-C)", 15_000);
    return;
  }
  assert.ok(!r.exited(), `it keeps running until Ctrl-C\n${r.output()}`);
  await interrupt(r);
  assert.deepEqual(missing([...after, ...afterCtrlC]).map((e) => e.what), [], `after Ctrl-C\n${r.output()}`);
}

function noSecrets(r: Run): void {
  // npm's own banner ("> node … start.ts key=…") repeats the command line: the reason the README says
  // to keep secrets off it. Everything the programs print must be clean.
  const printed = r.lines().filter((l) => !l.startsWith("> "));
  for (const secret of SECRETS) assert.ok(!printed.some((l) => l.includes(secret)), "a secret was printed");
}

/** The args after `--`, each `key=value`. */
function keyValues(words: readonly string[]): { name: string; value: string }[] {
  return words.map((w) => {
    const eq = w.indexOf("=");
    return eq > 0 ? { name: w.slice(0, eq), value: w.slice(eq + 1) } : { name: w, value: "" };
  });
}

async function npmStart(command: Command, index: number): Promise<void> {
  const dash = command.words.indexOf("--");
  const given = keyValues(dash < 0 ? [] : command.words.slice(dash + 1));
  const args: string[] = [];
  let emulator: Awaited<ReturnType<typeof startEmulator>> | undefined;
  // The firmware speaks TLS unless tls=0 (command line or the config file): the emulator standing in for
  // OneNET then answers on its TLS listener, and the device trusts its test CA (ca=) in place of OneNET's.
  let tls = !given.some((g) => g.name === "tls" && /^(0|false|no)$/.test(g.value));
  const ownEmulator = async (): Promise<number> => {
    emulator ??= await startEmulator({
      port: 0,
      tlsPort: 0,
      httpPort: 0,
      devices: [{ product: IDENTITY.product, device: IDENTITY.device, key: IDENTITY.key }],
      log: () => {},
    });
    return tls ? emulator.tlsPort! : emulator.port;
  };
  try {
    const toOneNet = given.some((g) => g.name === "host" && ONENET_HOST.test(g.value));
    for (const { name, value } of given) {
      if (name === "host" && ONENET_HOST.test(value)) args.push("host=127.0.0.1");
      else if (name === "port" && toOneNet) continue;
      else if (name === "config") {
        const file = await configFile(command, value, index, ownEmulator, (on) => (tls = on));
        args.push(`config=${file}`);
      }
      else args.push(`${name}=${fill(name, value, command.exports)}`);
    }
    if (toOneNet) args.push(`port=${await ownEmulator()}`);
    if (emulator !== undefined && tls && !given.some((g) => g.name === "ca")) args.push(`ca=${emulator.tlsCaPath!}`);
    if (!given.some((g) => g.name === "flash")) args.push(`flash=${join(dir, `flash-${index}.json`)}`);

    const r = run(["start", "--", ...args], environment(command));
    const { before, after, ctrlC } = outputOf(command.output);
    const expected = command.output ? [...before] : [REPORT];
    if (given.some((g) => g.name === "loglevel" && g.value === "debug")) {
      expected.push(containing("a DEBUG line per MQTT packet", /^\d+ DEBUG mqtt: sent PUBLISH /));
      expected.push(containing("a DEBUG line per OneNET message", /^\d+ DEBUG onenet: sent topic=thing\/property\/post /));
    }
    const stopping = containing("[sim] stopping", /^\[sim\] stopping$/);
    await expectRun(r, expected, after, command.output !== undefined && !ctrlC, [stopping]);
    noSecrets(r);
  } finally {
    await emulator?.close();
  }
}

/** Writes the README's ```json <file> block (placeholders filled, the real OneNET swapped for an emulator). */
async function configFile(command: Command, name: string, index: number, ownEmulator: () => Promise<number>, setTls: (on: boolean) => void): Promise<string> {
  const block = command.files.get(name);
  assert.ok(block, `config=${name}: a \`\`\`json ${name} block above it shows the file`);
  const json = JSON.parse(block.body) as Record<string, string>;
  const filled: Record<string, string> = {};
  for (const [key, value] of Object.entries(json)) filled[key] = fill(key, value, command.exports);
  if (filled.tls !== undefined) setTls(!/^(0|false|no)$/.test(filled.tls));
  if (filled.host !== undefined && ONENET_HOST.test(filled.host)) {
    filled.host = "127.0.0.1";
    filled.port = String(await ownEmulator());
  }
  const path = join(dir, `${index}-${name}`);
  writeFileSync(path, JSON.stringify(filled));
  return path;
}

async function npmRunEmulator(command: Command): Promise<void> {
  const dash = command.words.indexOf("--");
  const args = keyValues(command.words.slice(dash + 1)).map(({ name, value }) =>
    name === "port" || name === "httpPort" ? `${name}=0` : `${name}=${fill(name, value, command.exports)}`,
  );
  const r = run(["run", "emulator", "--", ...args], environment(command));
  const lines = outputOf(command.output).before;
  await expectRun(r, [containing("broker: mqtt://…", /^broker: mqtt:\/\/\S+:\d+$/), containing("console: http://…/", /^console: http:\/\/\S+:\d+\/$/), ...lines], [], false);
  noSecrets(r);
}

async function npmRunMonitor(command: Command, index: number): Promise<void> {
  const dash = command.words.indexOf("--");
  const words = command.words.slice(dash + 1);
  const absent = join(dir, `no-such-serial-port-${index}`);
  const args = words.map((w) => (isPlaceholder(w) ? absent : w));
  const r = run(["run", "monitor", "--", ...args], environment(command));
  if (words.includes("--list")) {
    assert.equal(await r.exit, 0, r.output());
    return;
  }
  await expectRun(r, [containing(`-- waiting for ${absent} (…) --`, new RegExp(`^-- waiting for ${absent} \\(`))], [], false);
}

/** `npm run image …` builds the image (into this test's folder unless `out=` is given) and prints what it documents. */
async function npmRunImage(command: Command, index: number): Promise<void> {
  const dash = command.words.indexOf("--");
  const given = keyValues(command.words.slice(dash + 1));
  const args = given.map(({ name, value }) => `${name}=${fill(name, value, command.exports)}`);
  if (!given.some((g) => g.name === "out")) args.push(`out=${join(dir, `image-${index}.img`)}`);
  const r = run(["run", "image", "--", ...args], environment(command));
  const md5 = containing("md5 <32 hex digits>", /^md5 [0-9a-f]{32}$/);
  await expectRun(r, [...outputOf(command.output).before, md5], [], true);
  assert.equal(await r.exit, 0, r.output());
}

function packageScripts(): { readonly [name: string]: string } {
  return (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: { [name: string]: string } }).scripts;
}

function npmRunBench(command: Command): void {
  assert.ok(packageScripts().bench, "package.json has a bench script");
  const runner = readFileSync(join(root, "bench", "run.ts"), "utf8");
  const files = readdirSync(join(root, "bench")).filter((f) => f.endsWith(".bench.ts"));
  const dash = command.words.indexOf("--");
  for (const word of dash < 0 ? [] : command.words.slice(dash + 1)) {
    if (word.startsWith("--")) assert.ok(runner.includes(`"${word}"`), `bench/run.ts knows ${word}`);
    else assert.ok(files.some((f) => f.includes(word)), `the filter ${word} selects a bench/*.bench.ts file`);
  }
}

/** tools/mcmanifest.js matchPlatform: `esp32/<board>` falls back to `esp32/*`, then `esp32`, then `...`. */
function matchPlatform(platforms: { readonly [name: string]: unknown }, name: string): string | undefined {
  const parts = name.split("/");
  while (parts.length) {
    const partial = parts.join("/");
    for (const n of Object.keys(platforms)) {
      if (n.endsWith("/*") ? partial.startsWith(n.slice(0, -1)) : n.startsWith("*/") ? partial.endsWith(n.slice(1)) : partial === n) return n;
    }
    parts.length -= 1;
  }
  return "..." in platforms ? "..." : undefined;
}

interface Manifest {
  readonly config: { readonly [key: string]: unknown };
  readonly platforms: { readonly [name: string]: { readonly config?: { readonly [key: string]: unknown } } };
}

function mcconfig(command: Command): void {
  const manifest = JSON.parse(readFileSync(join(root, "manifest.json"), "utf8")) as Manifest;
  let platform: string | undefined;
  const keys: { [key: string]: unknown } = {};
  const words = command.words.slice(1);
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "-p") {
      platform = words[++i];
      continue;
    }
    if (w.startsWith("-")) {
      assert.match(w, /^-[dmil]+$/, `an mcconfig flag this README explains: ${w}`);
      continue;
    }
    const eq = w.indexOf("=");
    assert.ok(eq > 0, `mcconfig takes key=value, got ${w}`);
    const name = w.slice(0, eq);
    assert.ok(CONFIG_KEYS.includes(name), `${name}= is a firmware config key (app/config.ts CONFIG_KEYS)`);
    keys[name] = fill(name, w.slice(eq + 1), command.exports);
  }
  assert.ok(platform, "mcconfig is given -p <platform>");
  const concrete = platform.split("/").map((p) => (isPlaceholder(p) ? "someboard" : p)).join("/");
  const section = matchPlatform(manifest.platforms, concrete);
  assert.ok(section, `manifest.json "platforms" has a section for ${platform}`);
  if (concrete.startsWith("esp32")) assert.equal(section, "esp32", `${platform} is served by the esp32 section`);
  else assert.equal(section, "...", `${platform} is served by the "..." section (the desktop simulators)`);
  const checked = validateConfig({ ...manifest.config, ...manifest.platforms[section].config, ...keys });
  assert.ok(checked.ok, `the firmware boots with these keys: ${checked.ok ? "" : JSON.stringify(checked.problems)}`);
}

function exportLine(command: Command): void {
  const [name, value] = [command.words[1].slice(0, command.words[1].indexOf("=")), command.words[1].slice(command.words[1].indexOf("=") + 1)];
  if (name === "PATH") {
    const added = value.split(":").filter((p) => p.startsWith("$PWD/"));
    assert.ok(added.length > 0, "PATH gains a folder of the project");
    for (const p of added) assert.ok(existsSync(join(root, p.slice(5), "tsc")), `${p}/tsc exists (mcconfig runs tsc)`);
    return;
  }
  assert.ok(secretKeyOf(name) !== undefined, `${name} is a variable npm start reads (tools/sim/start.ts SECRET_ENV)`);
}

// ---------------------------------------------------------------------------------------------
// The commands

const commands = readmeCommands();
const seen = new Set<string>();
const unique = commands.filter((c) => {
  const files = [...c.files.values()].map((b) => b.body).join("\n");
  const id = `${c.text}\n${c.output?.body ?? ""}\n${c.text.includes("config=") ? files : ""}\n${[...c.exports].join()}`;
  if (seen.has(id)) return false;
  seen.add(id);
  return true;
});

test("the README shows commands in ```sh blocks, and the quick start's three among them", () => {
  const texts = commands.map((c) => c.text);
  for (const needed of ["npm install", "npm start", "npm test"]) assert.ok(texts.includes(needed), needed);
  assert.ok(commands.some((c) => c.text === "npm start" && c.output), "npm start's first run is shown");
});

describe("every README command", { concurrency: 3 }, () => {
  unique.forEach((command, index) => {
    const words = command.words;
    const title = `README.md:${command.line}: ${command.text}`;
    if (words[0] === "npm" && (words[1] === "install" || words[1] === "test") && words.length === 2) {
      it(`${title} (not run again: CI runs it)`, () => {
        if (words[1] === "test") assert.ok(packageScripts().test, "package.json has a test script");
      });
    } else if (words[0] === "npm" && words[1] === "start") {
      it(title, () => npmStart(command, index));
    } else if (words[0] === "npm" && words[1] === "run" && words[2] === "emulator") {
      it(title, () => npmRunEmulator(command));
    } else if (words[0] === "npm" && words[1] === "run" && words[2] === "monitor") {
      it(title, () => npmRunMonitor(command, index));
    } else if (words[0] === "npm" && words[1] === "run" && words[2] === "image") {
      it(title, () => npmRunImage(command, index));
    } else if (words[0] === "npm" && words[1] === "run" && words[2] === "bench") {
      it(`${title} (options and filters checked, not run)`, () => npmRunBench(command));
    } else if (words[0] === "node" && words[1] === "tools/run-tests.mjs") {
      it(`${title} (not run again: npm test runs every file)`, () => {
        for (const file of words.slice(2)) assert.ok(existsSync(join(root, file)), `${file} exists`);
      });
    } else if (words[0] === "mcconfig") {
      it(`${title} (needs the SDK: keys, platform and config checked)`, () => mcconfig(command));
    } else if (words[0] === "export") {
      it(title, () => exportLine(command));
    } else {
      it(title, () => assert.fail("a command this test does not know how to run or check: teach it, or do not show it"));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The tables

test("the Configuration keys table lists exactly CONFIG_KEYS, with their defaults and limits", () => {
  const rows = tableAfter("Configuration keys");
  const names = rows.map((r) => codeName(r[0]));
  assert.deepEqual([...names].sort(), [...CONFIG_KEYS].sort(), "keys in the README and in app/config.ts");
  const row = (key: string): string => rows[names.indexOf(key)].join(" | ");
  for (const [key, value] of Object.entries(DEFAULTS)) assert.ok(row(key).includes(`\`${String(value)}\``), `${key}: default ${String(value)}`);
  for (const [key, range] of Object.entries(LIMITS)) {
    if (key === "pin") continue;
    assert.ok(row(key).includes(`${range.min}..${range.max}`), `${key}: ${range.min}..${range.max}`);
  }
  for (const key of ["led", "sda", "scl"]) assert.ok(row(key).includes(`${LIMITS.pin.min}..${LIMITS.pin.max}`), `${key}: GPIO ${LIMITS.pin.min}..${LIMITS.pin.max}`);
  assert.ok(row("interval").includes(`demo: ${DEMO.interval})`), `interval: npm start's demo reports every ${DEMO.interval} s`);
});

test("the npm start keys table lists exactly the launcher's and the simulated board's own keys", () => {
  const names = tableAfter("Keys of `npm start` only").map((r) => codeName(r[0]));
  const own = [...LAUNCH_KEYS, ...KEYS_OF_THE_SIMULATED_BOARD].filter((k) => !CONFIG_KEYS.includes(k));
  assert.deepEqual([...names].sort(), [...own].sort());
});

test("the CONNACK table has a row for every code app/hints.ts explains, and no other", () => {
  const codes = tableAfter("Login refused").map((r) => Number(r[0]));
  assert.deepEqual(codes, Object.keys(CONNACK_HINTS).map(Number).sort((a, b) => a - b));
});

// ---------------------------------------------------------------------------------------------
// The architecture picture against the imports

/** The layer of a firmware file, as the picture draws it. */
function layerOf(file: string): string {
  if (file === "main.ts") return "main";
  if (file === "onenet/client.ts") return "onenet/client";
  if (file === "mqtt/client.ts") return "mqtt/client";
  if (/^mqtt\/(session|outbox|storage)\.ts$/.test(file)) return "mqtt/session";
  if (file.startsWith("mqtt/")) return "mqtt/codec";
  if (file.startsWith("onenet/")) return "onenet/device";
  return file.slice(0, file.indexOf("/"));
}

/** Which layers each layer may import: the one-way path and the layers beside it. */
const MAY_IMPORT: { readonly [layer: string]: readonly string[] } = {
  main: ["app", "platform", "lib"],
  app: ["app", "store", "onenet/client", "onenet/device", "mqtt/session", "drivers", "platform", "lib"],
  store: ["store", "onenet/device", "lib"],
  "onenet/client": ["onenet/device", "mqtt/client", "lib"],
  "onenet/device": ["onenet/device", "lib"],
  "mqtt/client": ["mqtt/session", "mqtt/codec", "lib"],
  "mqtt/session": ["mqtt/session", "mqtt/codec", "lib"],
  "mqtt/codec": ["mqtt/codec", "lib"],
  drivers: ["drivers", "lib"],
  platform: ["platform", "drivers", "store", "lib"],
  lib: ["lib"],
};

function firmwareFiles(): string[] {
  const out = ["main.ts"];
  const walk = (folder: string): void => {
    for (const name of readdirSync(join(root, folder), { withFileTypes: true })) {
      const path = `${folder}/${name.name}`;
      if (name.isDirectory()) walk(path);
      else if (name.name.endsWith(".ts")) out.push(path);
    }
  };
  for (const folder of ["app", "store", "lib", "platform", "mqtt", "onenet", "drivers"]) walk(folder);
  return out;
}

test("no firmware module imports a layer above its own, nor tools/, test/ or Node (the Architecture picture)", () => {
  const wrong: string[] = [];
  for (const file of firmwareFiles()) {
    const source = readFileSync(join(root, file), "utf8");
    const from = layerOf(file);
    for (const m of source.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"|^import\s+"([^"]+)"/gm)) {
      const specifier = m[1] ?? m[2];
      let to: string | undefined;
      if (specifier.startsWith(".")) to = layerOf(relative(root, resolve(dirname(join(root, file)), specifier)).replace(/(\.ts)?$/, ".ts"));
      else if (specifier.startsWith("platform/")) to = "platform";
      else if (specifier.startsWith("node:")) to = "node";
      if (to !== undefined && !MAY_IMPORT[from].includes(to)) wrong.push(`${file} (${from}) imports ${specifier} (${to})`);
    }
  }
  assert.deepEqual(wrong, []);
  const picture = fencedBlocks(README).find((b) => b.lang === "text" && b.body.includes("mqtt/session"));
  assert.ok(picture, "the Architecture section draws the layers");
  // A name as a word of its own: "mqtt/client" must not be found inside "mqtt/clientX".
  const at = (name: string): number => picture.body.search(new RegExp(`(?<![\\w/])${name.replace(/[.]/g, "\\.")}(?![\\w])`));
  const order = ["main.ts", "app/", "onenet/client", "onenet/device", "mqtt/client", "mqtt/session", "mqtt/encode"];
  for (const name of order) assert.ok(at(name) >= 0, `the picture names ${name}`);
  assert.deepEqual([...order].sort((a, b) => at(a) - at(b)), order, "top to bottom as the data flows");
});
