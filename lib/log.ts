// The firmware's log: one line per event, readable in any serial terminal at 115200 baud, the same on
// the board, in the Moddable simulator and under `npm start`:
//
//   <uptime ms> <LEVEL> <area>: message key=value key="value with spaces" …
//
// Lines go out through XS's `trace()` (serial console / xsbug on the board, stdout in the simulators).
// Secrets never reach a line: fields named like a secret (password, key, token, sign, secret, psk)
// are printed as *** whatever their value, and every value registered with `secret()` is blanked
// wherever it appears in a line, message text included.
//
// One logger for every layer: the app creates one `Log` at boot and hands it, as the `Logger`
// interface, to mqtt/, onenet/, drivers/ and platform/. The module holds no state of its own, so it
// is preloaded into flash as it is; every setting lives in the `Log` object the app made.

import { Uptime } from "./time";

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";
export type FieldValue = string | number | boolean | undefined | null;
export type Fields = { readonly [name: string]: FieldValue };

/** What every layer is given to log with. */
export interface Logger {
  /** Writes one line if `level` is enabled. Never throws. */
  log(level: Level, area: string, message: string, fields?: Fields): void;
  /** True when a line of this level would be written (to skip building costly fields). */
  enabled(level: Level): boolean;
}

const RANK: { readonly [L in Level]: number } = Object.freeze({ DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 });

/** What a secret is replaced with. Fixed, so the line does not even leak the secret's length. */
export const MASK = "***";

// Secret field names end in one of the words password, passwd, pass, key, token, sign, secret, psk:
// "key", "wifi_password", "device-token" (any case), and camelCase "deviceKey", "apiToken"
// (isSecretName; checked without RegExps: a preloaded RegExp that matches can crash XS, docs/moddable.md).

export interface LogOptions {
  /** The board's millisecond tick, e.g. `() => Time.ticks` (default: Date.now()). */
  readonly ticks?: () => number;
  /** The app's clock, when it has one: lines then stamp the same uptime as everything else. */
  readonly uptime?: Uptime;
  /** Where lines go (default: trace(line + "\n")). The line has no trailing newline. */
  readonly write?: (line: string) => void;
  /** Lowest level written (default INFO). */
  readonly level?: Level;
}

function traceLine(line: string): void {
  trace(line + "\n");
}

function dateTicks(): number {
  return Date.now();
}

/** The app's logger: level, clock, sink and registered secrets. */
export class Log implements Logger {
  #minimum: number = RANK.INFO;
  readonly #uptime: Uptime;
  #write: (line: string) => void;
  readonly #secrets: string[] = [];

  constructor(options: LogOptions = {}) {
    // Uptime counts from the clock's creation (the first thing boot does): on the board that is within
    // a few ms of reset, and on the desktop simulators (epoch ticks) it is the only sensible origin.
    this.#uptime = options.uptime ?? new Uptime(options.ticks ?? dateTicks);
    this.#write = options.write ?? traceLine;
    if (options.level) this.#minimum = RANK[options.level];
  }

  set level(level: Level) {
    this.#minimum = RANK[level];
  }

  enabled(level: Level): boolean {
    return RANK[level] >= this.#minimum;
  }

  /**
   * Registers a secret value: from now on it is replaced by *** wherever it would appear in a line.
   * Values shorter than 4 characters are not registered (blanking them would garble ordinary text).
   */
  secret(value: string | undefined): void {
    if (value === undefined || value.length < 4 || this.#secrets.indexOf(value) >= 0) return;
    this.#secrets.push(value);
  }

  /** Milliseconds since boot, right across the board's tick wrap. */
  uptime(): number {
    return this.#uptime.now();
  }

  /** Formats one line with this logger's secrets blanked (without writing it). */
  format(uptime: number, level: Level, area: string, message: string, fields?: Fields): string {
    const line = formatLine(uptime, level, area, message, fields);
    return this.#secrets.length ? scrub(line, this.#secrets) : line;
  }

  log(level: Level, area: string, message: string, fields?: Fields): void {
    if (RANK[level] < this.#minimum) return;
    try {
      this.#write(this.format(this.uptime(), level, area, message, fields));
    } catch {
      // nowhere left to report it
    }
  }

  debug(area: string, message: string, fields?: Fields): void {
    this.log("DEBUG", area, message, fields);
  }
  info(area: string, message: string, fields?: Fields): void {
    this.log("INFO", area, message, fields);
  }
  warn(area: string, message: string, fields?: Fields): void {
    this.log("WARN", area, message, fields);
  }
  error(area: string, message: string, fields?: Fields): void {
    this.log("ERROR", area, message, fields);
  }
}

/** A logger that writes nothing: the default of layers used without one (tests, benchmarks). */
export const SILENT: Logger = Object.freeze({
  log(): void {},
  enabled(): boolean {
    return false;
  },
});

/** Parses a level name in any case ("debug", "WARN"); undefined when it is not one. */
export function parseLevel(name: string): Level | undefined {
  const upper = name.toUpperCase();
  return upper === "DEBUG" || upper === "INFO" || upper === "WARN" || upper === "ERROR" ? upper : undefined;
}

/** True when a field of this name is always masked. */
export function isSecretName(name: string): boolean {
  // Only the words ending in the name's last letter are tried (`| 0x20` lowers ASCII letters): most
  // names end in none of d, s, y, n, t, k, and on XS lowering the name and trying all eight words cost
  // ~375 computrons a field, most of a log line.
  const n = name.length;
  if (n < 3) return false;
  const last = name.charCodeAt(n - 1) | 0x20;
  if (last === 0x64) return endsWithSecret(name, "password") || endsWithSecret(name, "passwd");
  if (last === 0x73) return endsWithSecret(name, "pass");
  if (last === 0x79) return endsWithSecret(name, "key");
  if (last === 0x6e) return endsWithSecret(name, "token") || endsWithSecret(name, "sign");
  if (last === 0x74) return endsWithSecret(name, "secret");
  if (last === 0x6b) return endsWithSecret(name, "psk");
  return false;
}

/** True when `name` ends with `word` (any case) as a word of its own. */
function endsWithSecret(name: string, word: string): boolean {
  const at = name.length - word.length;
  if (at < 0 || name.slice(at).toLowerCase() !== word) return false;
  if (at === 0) return true;
  const before = name.charCodeAt(at - 1);
  const first = name.charCodeAt(at);
  const letter = (before >= 0x41 && before <= 0x5a) || (before >= 0x61 && before <= 0x7a);
  // "wifi_password", "device-key": a separator before the word; "deviceKey": camelCase
  if (!letter) return true;
  return first >= 0x41 && first <= 0x5a && ((before >= 0x61 && before <= 0x7a) || (before >= 0x30 && before <= 0x39));
}

/** The masked form of a secret for summaries: *** when set, "(empty)" when empty or absent. */
export function mask(value: string | undefined): string {
  return value === undefined || value === "" ? "(empty)" : MASK;
}

// Control characters (C0, DEL, C1: ANSI escapes among them) from outside data must not reach a
// terminal: in the message they become spaces, in values JSON escapes them.
// The RegExps are made here, not at module level: a preloaded module's RegExp lives read-only in
// flash, so a global one throws on `replace` (it writes lastIndex), and one that matches can crash
// XS when the collector runs while it builds its result (docs/moddable.md).

// On XS a loop over a string costs ~40 computrons a character and a RegExp made and run here a few
// dozen for a whole short string, so the checks below are RegExps (made in the function, as above).

function formatValue(value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  // space and controls, '"', '=', DEL, and anything that is not plain ASCII
  if (value.length !== 0 && !/[\u0000-\u0020"=\u007f-\uffff]/.test(value)) return value;
  // JSON escapes C0 controls but not DEL and C1 (0x9b starts an ANSI sequence on some terminals).
  const quoted = JSON.stringify(value);
  return quoted.replace(/[\u007f-\u009f]/g, (c) => "\\u00" + c.charCodeAt(0).toString(16));
}

function scrub(line: string, secrets: readonly string[]): string {
  for (let i = 0; i < secrets.length; i++) {
    const s = secrets[i];
    let at = line.indexOf(s);
    while (at >= 0) {
      line = line.slice(0, at) + MASK + line.slice(at + s.length);
      at = line.indexOf(s, at + MASK.length);
    }
  }
  return line;
}

/** Formats one line, secret-named fields masked. Exposed for tests and the serial monitor's parser. */
export function formatLine(uptime: number, level: Level, area: string, message: string, fields?: Fields): string {
  const text = /[\u0000-\u001f\u007f-\u009f]/.test(message) ? message.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " ") : message;
  let line = `${Math.floor(uptime)} ${level} ${area}: ${text}`;
  if (fields) {
    for (const name in fields) {
      const value = fields[name];
      if (value === undefined || value === null) continue;
      // The common cases inline (on XS a call costs as much as the work): a name that cannot be a
      // secret's (its last letter ends no secret word, see isSecretName), a value that is not a string.
      const last = name.charCodeAt(name.length - 1) | 0x20;
      const maybeSecret = last === 0x64 || last === 0x73 || last === 0x79 || last === 0x6e || last === 0x74 || last === 0x6b;
      line += " " + name + "=" + (maybeSecret && isSecretName(name) ? MASK : typeof value === "string" ? formatValue(value) : String(value));
    }
  }
  return line;
}

/** A short, single-line description of a thrown value (for `error=` fields). */
export function describe(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.name + ": " + thrown.message;
  return String(thrown);
}
