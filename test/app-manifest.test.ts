// manifest.json, checked without the Moddable SDK (the repo must not depend on it). These are the
// mistakes the real toolchain only shows on a board, at run time, or never:
// - a module the app imports but the manifest does not list links fine (xsl does not follow imports of
//   modules that are not preloaded) and fails on the board with "module not found";
// - a module swapped per platform (LED, clock, I2C, extra sensor) must be mapped in every platform section;
// - our declaration files must all reach mcconfig's TypeScript, and every module they declare must have
//   the SDK's own typing for it removed ("~"), or tsc reports duplicate identifiers (checked with the
//   SDK 8.2.3 lin build: socket, base64, crypt, mc/config, embedded:io/i2c all clash);
// - esp32 must drop the SDK's setup/network (docs/moddable.md) and keep its JS memory within the board.
// Module specifiers follow XS: "./x" imported from "onenet/device" is "onenet/x".
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { posix } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));

interface Section {
  include?: string | string[];
  modules?: { [target: string]: string | string[] };
  preload?: string | string[];
  config?: { [key: string]: unknown };
  creation?: { chunk?: { initial: number; incremental?: number }; heap?: { initial: number; incremental?: number }; stack?: number };
  typescript?: { tsconfig?: { compilerOptions?: { types?: string[]; [k: string]: unknown } } };
}
interface Manifest extends Section {
  platforms: { [platform: string]: Section };
}

const manifest = JSON.parse(readFileSync(`${root}manifest.json`, "utf8")) as Manifest;
const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Platform roles: a file for the board and one for the desktop simulators (platform/types.ts). */
const PER_PLATFORM: { [specifier: string]: { board: string; desktop: string } } = {
  "platform/led": { board: "./platform/esp32/led", desktop: "./platform/sim/led" },
  "platform/clock": { board: "./platform/esp32/clock", desktop: "./platform/sim/clock" },
  "platform/i2c": { board: "./platform/esp32/i2c", desktop: "./platform/sim/i2c" },
  "platform/sensor": { board: "./platform/esp32/sensor", desktop: "./platform/sim/sensor" },
  "platform/flash": { board: "./platform/esp32/flash", desktop: "./platform/sim/flash" },
  "platform/ota": { board: "./platform/esp32/ota", desktop: "./platform/sim/ota" },
};
// mcconfig matches `-p esp32/<board>` to the "esp32" section when there is no "esp32/*" one
// (tools/mcmanifest.js matchPlatform), so one section serves every ESP32 target; "..." every desktop.
const BOARD_SECTIONS = ["esp32"];
const DESKTOP_SECTIONS = ["..."];

/** The project modules main.ts reaches through relative imports, as XS module specifiers. */
function importGraph(): { modules: Set<string>; bare: Map<string, string> } {
  const modules = new Set<string>();
  const bare = new Map<string, string>();
  const visit = (specifier: string): void => {
    if (modules.has(specifier)) return;
    modules.add(specifier);
    const role = PER_PLATFORM[specifier];
    // a platform role: the imports of every file that plays it (type imports are erased)
    const files = role ? [role.board.slice(2), role.desktop.slice(2)] : [specifier];
    for (const file of files) {
      const source = readFileSync(`${root}${file}.ts`, "utf8");
      for (const m of source.matchAll(/^\s*(?:import|export)\s(?!type\s)[^;]*?\sfrom\s+"([^"]+)"/gm)) {
        const target = m[1];
        if (target.startsWith(".")) visit(posix.normalize(posix.join(posix.dirname(specifier), target)));
        else if (PER_PLATFORM[target]) visit(target);
        else bare.set(target, file);
      }
    }
  };
  visit("main");
  return { modules, bare };
}

/** Where the manifest (top level plus one platform section) maps a project module from. */
function sourceOf(specifier: string, platform: string): string | undefined {
  const sections = [manifest as Section, manifest.platforms[platform]];
  for (const section of sections) {
    const modules = section?.modules ?? {};
    if (specifier in modules) return list(modules[specifier])[0];
  }
  for (const section of sections) {
    const modules = section?.modules ?? {};
    for (const source of list(modules["*"])) if (source === `./${specifier}`) return source;
    for (const [target, sources] of Object.entries(modules)) {
      if (!target.endsWith("/*")) continue;
      const dir = target.slice(0, -1);
      if (specifier.startsWith(dir) && list(sources).includes(`./${dir}*`)) return `./${specifier}`;
    }
  }
  return undefined;
}

test("every project module main.ts imports is in the manifest, for the board and for the desktop simulators", () => {
  const { modules } = importGraph();
  assert.ok(modules.has("onenet/device") && modules.has("mqtt/client") && modules.has("drivers/wifi"), [...modules].join(","));
  for (const platform of [...BOARD_SECTIONS, ...DESKTOP_SECTIONS]) {
    for (const specifier of modules) {
      const source = sourceOf(specifier, platform);
      assert.ok(source, `${specifier} is not listed in manifest.json for ${platform}`);
      const expected = PER_PLATFORM[specifier];
      if (expected) assert.equal(source, BOARD_SECTIONS.includes(platform) ? expected.board : expected.desktop, `${specifier} on ${platform}`);
      assert.ok(existsSync(`${root}${source.slice(2)}.ts`), `${source}.ts exists`);
    }
  }
});

test("platform roles are mapped only in platform sections, one file per target family", () => {
  for (const specifier of Object.keys(PER_PLATFORM)) {
    // a role registered at the top level too would be the first registration, and win
    assert.ok(!(specifier in (manifest.modules ?? {})), `${specifier} only in platform sections`);
  }
  assert.deepEqual(Object.keys(manifest.platforms).sort(), [...BOARD_SECTIONS, ...DESKTOP_SECTIONS].sort());
});

/** Moddable modules the app may import, and the manifest include (or module entry) providing them on esp32. */
const PROVIDERS: { [specifier: string]: string } = {
  "mc/config": "(generated by mcconfig)",
  time: "$(MODDABLE)/examples/manifest_base.json",
  timer: "$(MODDABLE)/examples/manifest_base.json",
  socket: "$(MODDABLE)/examples/manifest_net.json",
  net: "$(MODDABLE)/examples/manifest_net.json",
  sntp: "$(MODDABLE)/examples/manifest_net.json",
  wifi: "$(MODULES)/network/wifi/manifest.json",
  instrumentation: "$(MODULES)/base/instrumentation/manifest.json",
  preference: "$(MODULES)/files/preference/manifest.json",
  crypt: "$(MODULES)/crypt/digest/manifest.json",
  base64: "$(MODULES)/data/base64/manifest.json",
  hmac: "$(MODULES)/crypt/etc/hmac",
  "pins/digital": "$(MODULES)/pins/digital/manifest.json",
  "embedded:io/i2c": "$(MODULES)/io/i2c/manifest.json",
  "embedded:storage/flash": "$(MODULES)/io/flash/manifest.json",
  securesocket: "$(MODDABLE)/modules/crypt/tls.json",
  Resource: "$(MODDABLE)/modules/crypt/tls.json",
  http: "$(MODULES)/network/http/manifest.json",
  "embedded:update": "$(MODULES)/io/update/manifest.json",
  "mc/ffi": "(generated by mcconfig from the manifest's ffi functions)",
};

test("every Moddable module the firmware imports is provided on esp32 by an include of the manifest", () => {
  const { modules, bare } = importGraph();
  const includes = [...list(manifest.include), ...list(manifest.platforms.esp32.include)];
  for (const [specifier, importer] of bare) {
    const provider = PROVIDERS[specifier];
    assert.ok(provider, `${importer} imports "${specifier}": add it to PROVIDERS and to the manifest`);
    if (provider.startsWith("(")) continue;
    const provided = includes.includes(provider) || list(manifest.modules?.[specifier]).includes(provider);
    assert.ok(provided, `"${specifier}" (imported by ${importer}) needs ${provider} on esp32`);
  }
  assert.ok(modules.size > 10);
});

test("esp32 drops the SDK's setup/network (the app's Wi-Fi manager joins and retries itself)", () => {
  for (const platform of BOARD_SECTIONS) {
    assert.ok(list(manifest.platforms[platform].modules?.["~"]).includes("$(BUILD)/devices/$(PLATFORM)/setup/network"), platform);
    assert.ok(list(manifest.platforms[platform].include).includes("$(MODULES)/network/wifi/manifest.json"), `${platform} includes the wifi module`);
  }
});

/** SDK typing file for each module our declaration files declare (null: the SDK has none). */
const SDK_TYPING: { [module: string]: string | null } = {
  socket: "$(MODDABLE)/typings/socket",
  wifi: "$(MODDABLE)/typings/wifi",
  base64: "$(MODDABLE)/typings/base64",
  crypt: "$(MODDABLE)/typings/crypt",
  "mc/config": "$(MODDABLE)/typings/mc/config",
  "embedded:io/i2c": "$(MODDABLE)/typings/embedded_io/i2c",
  "embedded:storage/flash": "$(MODDABLE)/typings/embedded/storage/flash",
  "pins/digital": "$(MODDABLE)/typings/pins/digital",
  sntp: "$(MODDABLE)/typings/sntp",
  securesocket: "$(MODDABLE)/typings/securesocket",
  Resource: "$(MODDABLE)/typings/Resource",
  hmac: null,
  http: "$(MODDABLE)/typings/http",
  "embedded:update": "$(MODDABLE)/typings/embedded/update",
  "mc/ffi": "$(MODDABLE)/typings/mc/ffi",
};
/** Declaration files mcconfig must not see, and why. */
const NOT_FOR_MCCONFIG: { [file: string]: string } = {
  "xs-globals": "declares trace(); the SDK's xs/includes/xs.d.ts (in manifest_base's types) declares it too",
  "mc-ffi": "mcconfig generates mc/ffi's declaration from the manifest's ffi functions (mc.ffi.d.ts); a second one would collide",
};

test("all our declaration files reach mcconfig's tsc, and the SDK typings they replace are removed", () => {
  const types = manifest.typescript?.tsconfig?.compilerOptions?.types ?? [];
  const removed = list(manifest.modules?.["~"]);
  const files = readdirSync(`${root}types`).filter((f) => f.endsWith(".d.ts")).map((f) => f.slice(0, -5));
  for (const file of files) {
    if (NOT_FOR_MCCONFIG[file]) {
      assert.ok(!types.includes(`./types/${file}`), `${file}: ${NOT_FOR_MCCONFIG[file]}`);
      continue;
    }
    assert.ok(types.includes(`./types/${file}`), `types/${file}.d.ts is missing from manifest typescript.tsconfig.compilerOptions.types`);
    const source = readFileSync(`${root}types/${file}.d.ts`, "utf8");
    for (const m of source.matchAll(/^declare module "([^"]+)"/gm)) {
      const module = m[1];
      assert.ok(module in SDK_TYPING, `types/${file}.d.ts declares "${module}": say in SDK_TYPING which SDK typing it replaces`);
      const sdk = SDK_TYPING[module];
      if (sdk) assert.ok(removed.includes(sdk), `"${module}" is declared by types/${file}.d.ts: add "${sdk}" to the manifest's "~"`);
    }
  }
  for (const t of types) assert.ok(existsSync(`${root}${t.slice(2)}.d.ts`), `${t}.d.ts exists`);
  assert.equal(manifest.typescript?.tsconfig?.compilerOptions?.strict, true, "mcconfig's tsc is strict too");
});

test("esp32 JS memory: fixed creation within the SDK's default for the board, measured need with headroom", () => {
  const c = manifest.platforms.esp32.creation;
  assert.ok(c?.chunk && c.heap && c.stack);
  const SLOT = 16; // bytes per slot on a 32-bit MCU
  const bytes = c.chunk.initial + c.heap.initial * SLOT;
  // SDK default for ESP32 targets (e.g. build/devices/esp32/targets/nodemcu): 78848 + 4928 slots
  assert.ok(bytes <= 78848 + 4928 * SLOT, `${bytes} bytes`);
  // Measured on the SDK's lin simulator (64-bit, so an upper bound) running this app at one report per
  // second: 65536 bytes + 4928 slots peaked at 25672 bytes and 2696 slots; 40960 bytes + 3072 slots
  // also ran. Keep at least 1.5x of the smallest setting that ran.
  assert.ok(c.chunk.initial >= 1.5 * 40960 && c.heap.initial >= 1.5 * 3072);
  assert.equal(c.chunk.incremental, 0);
  assert.equal(c.heap.incremental, 0);
  assert.ok(c.stack >= 384);
});

test("config defaults in the manifest agree with app-config.ts", async () => {
  const { DEFAULTS } = await import("../app/config.ts");
  const cfg = manifest.config ?? {};
  for (const key of ["tls", "interval", "keepalive", "method", "tokenTtl", "loglevel"] as const) {
    assert.equal(cfg[key], DEFAULTS[key], key);
  }
  // host and port follow tls (onenet/config.ts ENDPOINTS): a manifest value would pin them for tls=0 too.
  assert.ok(!("host" in cfg) && !("port" in cfg), "no host or port in the manifest's config");
});

/**
 * What breaks in a preloaded module (its objects live in flash), found with the SDK's lin simulator:
 * a module-level `let` holding a function cannot be reassigned ("throw!"; a `let` holding data, set
 * lazily at run time, works), and a module-level Map, Set, buffer or class instance written at run time
 * throws "read-only Map instance" / "read-only buffer".
 */
/** Module-level buffers filled while the module loads and only read afterwards (fine in flash). */
const READ_ONLY_TABLES: { [specifier: string]: string[] } = {
  "mqtt/decode": ["FIRST_BYTE_OK"], // checked: publish/subscribe/set/get work with the codec preloaded on lin
};

function preloadHazards(specifier: string): string[] {
  const source = readFileSync(`${root}${specifier}.ts`, "utf8");
  const hazards: string[] = [];
  const functions = new Set<string>();
  for (const m of source.matchAll(/^(?:export )?function (\w+)/gm)) functions.add(m[1]);
  for (const m of source.matchAll(/^(?:export )?const (\w+)(?:: [^=]+)? = (?:\([^)]*\)|\w+) =>/gm)) functions.add(m[1]);
  for (const m of source.matchAll(/^(?:export )?let (\w+)([^;]*);/gm)) {
    const split = /(?:^|[^=!<>])=(?![=>])\s*([\s\S]+)$/.exec(m[2]);
    const annotation = split ? m[2].slice(0, split.index + 1) : m[2];
    const init = (split?.[1] ?? "").trim();
    const callee = /^(\w+)/.exec(init)?.[1];
    const holdsFunction = annotation.includes("=>") || /=>|^function\b/.test(init) || (callee !== undefined && functions.has(callee));
    if (holdsFunction) hazards.push(`module-level let ${m[1]} holding a function`);
  }
  for (const m of source.matchAll(/^(?:export )?const (\w+)(?:: [^=]+)? = new (Map|Set|WeakMap|ArrayBuffer|DataView|Uint8Array|Uint16Array|Int16Array|Uint32Array|Int32Array|Float32Array|Float64Array)\b(?:<[^>]*>)?\(([^)]*)\)/gm)) {
    if (/Array$/.test(m[2]) && m[3].trim() === "0") continue; // empty: nothing to write
    if (READ_ONLY_TABLES[specifier]?.includes(m[1])) continue;
    hazards.push(`module-level ${m[2]} ${m[1]}`);
  }
  // a global or sticky RegExp is written (lastIndex) by every exec/replace: read-only in flash, it
  // throws (found on the SDK's lin simulator with the log's control-character filter)
  // and one that MATCHES can crash XS (a segfault in RegExp exec on the SDK 8.2.3 lin simulator when
  // the collector ran while the match result was built): module-level RegExps may only look for what
  // must not be there, one negated character class that good input never matches
  for (const m of source.matchAll(/^(?:export )?const (\w+)(?:: [^=]+)? = \/(.*)\/([a-z]*)\s*;/gm)) {
    if (/[gy]/.test(m[3])) hazards.push(`module-level ${m[3]} RegExp ${m[1]}`);
    else if (!/^\[\^[^\]]*\]$/.test(m[2])) hazards.push(`module-level RegExp ${m[1]} that matches good input (/${m[2]}/)`);
  }
  for (const m of source.matchAll(/^(?:export )?const (\w+)(?:: [^=]+)? = new ([A-Z]\w*)\(/gm)) {
    if (!/^(Map|Set|WeakMap|ArrayBuffer|DataView|\w+Array|RegExp|Error)$/.test(m[2])) hazards.push(`module-level instance ${m[1]} of ${m[2]}`);
  }
  return hazards;
}

function relativeImports(specifier: string): string[] {
  const source = readFileSync(`${root}${specifier}.ts`, "utf8");
  const out: string[] = [];
  for (const m of source.matchAll(/^\s*(?:import|export)\s(?!type\s)[^;]*?\sfrom\s+"(\.[^"]+)"/gm)) {
    out.push(posix.normalize(posix.join(posix.dirname(specifier), m[1])));
  }
  return out;
}

test("preloaded modules (and what they import) hold no state that flash makes read-only", () => {
  for (const platform of [...BOARD_SECTIONS, ...DESKTOP_SECTIONS]) {
    const preloaded = [...list(manifest.preload), ...list(manifest.platforms[platform].preload)].filter((p) => p !== "hmac");
    const seen = new Set<string>();
    const visit = (specifier: string, via: string): void => {
      if (seen.has(specifier)) return;
      seen.add(specifier);
      const source = sourceOf(specifier, platform);
      assert.ok(source, `${specifier} (preloaded via ${via}) is in the manifest for ${platform}`);
      const file = source.slice(2);
      const hazards = preloadHazards(file);
      assert.deepEqual(hazards, [], `${file} is preloaded on ${platform} (via ${via}) but has ${hazards.join(", ")}`);
      for (const dep of relativeImports(file)) visit(dep, via);
    };
    for (const p of preloaded) visit(p, p);
    // on the desktop simulators, preference's file store breaks when preloaded
    if (DESKTOP_SECTIONS.includes(platform)) {
      for (const specifier of seen) {
        const source = readFileSync(`${root}${sourceOf(specifier, platform)!.slice(2)}.ts`, "utf8");
        assert.ok(!/from "preference"/.test(source), `${specifier} imports preference and must not be preloaded on ${platform}`);
      }
    }
  }
});

// mcconfig expands $(NAME) from its environment only: an unknown name becomes "undefined" and the
// build stops with "No such file or directory" ("$(MAIN)/partitions.csv" did, seen with the SDK's
// esp32 build). Project files are named relative to the manifest ("./partitions.csv"), as the SDK's
// own targets do.
test("manifest paths use only variables mcconfig defines, and project files it names exist", () => {
  const text = readFileSync(`${root}manifest.json`, "utf8");
  const known = new Set(["MODDABLE", "MODULES", "BUILD", "PLATFORM", "SUBPLATFORM", "TMP_DIR"]);
  for (const m of text.matchAll(/\$\(([A-Za-z_]+)\)/g)) assert.ok(known.has(m[1]), `$(${m[1]}) is not an mcconfig variable`);
  const manifest = JSON.parse(text) as { build?: Record<string, string>; platforms: Record<string, { build?: Record<string, string> }> };
  const builds = [manifest.build ?? {}, ...Object.values(manifest.platforms).map((p) => p.build ?? {})];
  for (const b of builds) {
    for (const [key, value] of Object.entries(b)) {
      if (value.startsWith("./")) assert.ok(existsSync(`${root}${value.slice(2)}`), `${key}: ${value} does not exist`);
    }
  }
  assert.equal(manifest.build?.PARTITIONS_FILE, "./partitions.csv");
});
