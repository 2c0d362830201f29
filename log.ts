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
// No imports: this module is loaded first and must work before anything else is configured.
//
// Preloadable: the settings live in one object, not in `let` bindings. In a preloaded module XS keeps
// module bindings in flash; a binding holding a function could not be reassigned at run time (checked
// with the SDK's lin simulator: "throw!" on the assignment), while an object is aliased into RAM when
// written.

export type Level = "DEBUG" | "INFO" | "WARN" | "ERROR";
export type FieldValue = string | number | boolean | undefined | null;
export type Fields = { readonly [name: string]: FieldValue };

const RANK: { readonly [L in Level]: number } = Object.freeze({ DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 });

/** What a secret is replaced with. Fixed, so the line does not even leak the secret's length. */
export const MASK = "***";

// "key", "wifi_password", "device-token" (any case), and camelCase "deviceKey", "apiToken".
const SECRET_WORD = /(^|[^A-Za-z])(password|passwd|pass|key|token|sign|secret|psk)$/i;
const SECRET_CAMEL = /[a-z0-9](Key|Token|Password|Passwd|Secret|Sign|Psk)$/;

interface State {
  minimum: number;
  ticks: () => number;
  origin: number;
  write: (line: string) => void;
  secrets: string[];
}

const state: State = { minimum: RANK.INFO, ticks: defaultTicks(), origin: 0, write: traceLine, secrets: [] };

function defaultTicks(): () => number {
  const start = Date.now();
  return () => Date.now() - start;
}

function traceLine(line: string): void {
  trace(line + "\n");
}

export interface LogOptions {
  /** Milliseconds since boot, e.g. `() => Time.ticks` (default: Date.now() since this module loaded). */
  readonly ticks?: () => number;
  /** Where lines go (default: trace(line + "\n")). The line has no trailing newline. */
  readonly write?: (line: string) => void;
  /** Lowest level written (default INFO). */
  readonly level?: Level;
}

/** Replaces the clock, the output or the level. Call early in boot; unspecified parts are kept. */
export function configureLog(options: LogOptions): void {
  if (options.ticks) {
    state.ticks = options.ticks;
    // On the board Time.ticks counts from boot; in the desktop simulator it is a wall-clock value,
    // so there uptime counts from this call.
    const now = state.ticks();
    state.origin = now > 1e11 ? now : 0;
  }
  if (options.write) state.write = options.write;
  if (options.level) state.minimum = RANK[options.level];
}

/** Restores the defaults and forgets registered secrets (tests). */
export function resetLog(): void {
  state.minimum = RANK.INFO;
  state.ticks = defaultTicks();
  state.origin = 0;
  state.write = traceLine;
  state.secrets = [];
}

/** Parses a level name in any case ("debug", "WARN"); undefined when it is not one. */
export function parseLevel(name: string): Level | undefined {
  const upper = name.toUpperCase();
  return upper === "DEBUG" || upper === "INFO" || upper === "WARN" || upper === "ERROR" ? upper : undefined;
}

/** True when a line of this level would be written (to skip building costly fields). */
export function enabled(level: Level): boolean {
  return RANK[level] >= state.minimum;
}

/**
 * Registers a secret value: from now on it is replaced by *** wherever it would appear in a line.
 * Values shorter than 4 characters are not registered (blanking them would garble ordinary text).
 */
export function secret(value: string | undefined): void {
  if (value === undefined || value.length < 4 || state.secrets.indexOf(value) >= 0) return;
  state.secrets.push(value);
}

/** True when a field of this name is always masked. */
export function isSecretName(name: string): boolean {
  return SECRET_WORD.test(name) || SECRET_CAMEL.test(name);
}

/** The masked form of a secret for summaries: *** when set, "(empty)" when empty or absent. */
export function mask(value: string | undefined): string {
  return value === undefined || value === "" ? "(empty)" : MASK;
}

function needsQuotes(s: string): boolean {
  if (s.length === 0) return true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // space and controls, '"', '=', DEL, and anything that is not plain ASCII
    if (c <= 0x20 || c === 0x22 || c === 0x3d || c >= 0x7f) return true;
  }
  return false;
}

function formatValue(value: string | number | boolean): string {
  if (typeof value !== "string") return String(value);
  return needsQuotes(value) ? JSON.stringify(value) : value;
}

function scrub(line: string): string {
  const secrets = state.secrets;
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

/** Formats one line (without writing it). Exposed for tests and the serial monitor's parser. */
export function formatLine(uptime: number, level: Level, area: string, message: string, fields?: Fields): string {
  let line = `${Math.floor(uptime)} ${level} ${area}: ${message.replace(/[\r\n]+/g, " ")}`;
  if (fields) {
    for (const name in fields) {
      const value = fields[name];
      if (value === undefined || value === null) continue;
      line += " " + name + "=" + (isSecretName(name) ? MASK : formatValue(value));
    }
  }
  return state.secrets.length ? scrub(line) : line;
}

/** Writes one line if `level` is enabled. Never throws (a broken sink must not take the app down). */
export function log(level: Level, area: string, message: string, fields?: Fields): void {
  if (RANK[level] < state.minimum) return;
  try {
    state.write(formatLine(state.ticks() - state.origin, level, area, message, fields));
  } catch {
    // nowhere left to report it
  }
}

export function debug(area: string, message: string, fields?: Fields): void {
  log("DEBUG", area, message, fields);
}
export function info(area: string, message: string, fields?: Fields): void {
  log("INFO", area, message, fields);
}
export function warn(area: string, message: string, fields?: Fields): void {
  log("WARN", area, message, fields);
}
export function error(area: string, message: string, fields?: Fields): void {
  log("ERROR", area, message, fields);
}

/** A short, single-line description of a thrown value (for `error=` fields). */
export function describe(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.name + ": " + thrown.message;
  return String(thrown);
}
