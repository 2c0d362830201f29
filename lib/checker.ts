// Checks configuration values (mc/config on the board, flags in the simulator) and collects every
// problem instead of stopping at the first, so one log line can name every key to fix. Values arrive
// as strings from the mcconfig command line and as numbers, booleans or objects from manifest
// "config" sections. Problems never quote the value: it may be a secret.

export interface ConfigProblem {
  readonly key: string;
  /** What is wrong, without the value itself. */
  readonly problem: string;
}

export type RawConfig = { readonly [key: string]: unknown };

export interface Range {
  readonly min: number;
  readonly max: number;
}


/** An integer from a number or a decimal string; undefined when it is neither. */
export function toInteger(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isInteger(value) ? value : undefined;
  if (typeof value === "string" && /^-?\d{1,10}$/.test(value.trim())) return parseInt(value.trim(), 10);
  return undefined;
}

/** True for a value that was given: not undefined, null or "". */
export function present(value: unknown): boolean {
  return value !== undefined && value !== null && value !== "";
}

export class Checker {
  readonly problems: ConfigProblem[] = [];
  readonly raw: RawConfig;

  constructor(raw: RawConfig) {
    this.raw = raw;
  }

  fail(key: string, problem: string): undefined {
    this.problems.push({ key, problem });
    return undefined;
  }

  failed(key: string): boolean {
    for (const p of this.problems) if (p.key === key) return true;
    return false;
  }

  string(key: string, required: boolean): string | undefined {
    const value = this.raw[key];
    if (!present(value)) return required ? this.fail(key, "missing") : undefined;
    if (typeof value !== "string") return this.fail(key, "not a string");
    return value;
  }

  /** A string that must match `pattern`; `problem` says what it should be. */
  matching(key: string, required: boolean, pattern: RegExp, problem: string): string | undefined {
    const value = this.string(key, required);
    if (value !== undefined && !pattern.test(value)) return this.fail(key, problem);
    return value;
  }

  integer(key: string, range: Range, fallback: number): number;
  integer(key: string, range: Range, fallback: undefined): number | undefined;
  integer(key: string, range: Range, fallback: number | undefined): number | undefined {
    const value = this.raw[key];
    if (!present(value)) return fallback;
    const n = toInteger(value);
    if (n === undefined || n < range.min || n > range.max) {
      this.fail(key, `not an integer in ${range.min}..${range.max}`);
      return fallback;
    }
    return n;
  }

  /** One of `choices`, in any case; `fallback` when absent. */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const value = this.string(key, false);
    if (value === undefined) return fallback;
    const lower = value.toLowerCase();
    for (const c of choices) if (c === lower) return c;
    this.fail(key, "not " + choices.slice(0, -1).join(", ") + " or " + choices[choices.length - 1]);
    return fallback;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key];
    if (!present(value)) return fallback;
    if (value === true || value === 1 || value === "1" || value === "true" || value === "yes") return true;
    if (value === false || value === 0 || value === "0" || value === "false" || value === "no") return false;
    this.fail(key, "not true/false");
    return fallback;
  }
}

/**
 * One text naming every bad key and what is wrong with it, e.g.
 * `ssid (missing); key (not base64 …); port (not an integer in 1..65535)`. Values are never shown.
 */
export function describeProblems(problems: readonly ConfigProblem[]): string {
  let text = "";
  for (const p of problems) text += (text ? "; " : "") + p.key + " (" + p.problem + ")";
  return text;
}
