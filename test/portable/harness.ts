// A test harness small enough to run inside XS as well as Node. Suites written against it
// (test/portable/*.suite.ts) run in Node's test runner (test/portable.test.ts) and in the XS lane,
// so behaviour that only holds on V8 cannot pass. No Node or DOM API may be used here.

export interface Case {
  readonly suite: string;
  readonly name: string;
  readonly run: () => void;
}

const registry: Case[] = [];

export function suite(name: string, define: (test: (name: string, run: () => void) => void) => void): void {
  define((caseName, run) => {
    registry.push({ suite: name, name: caseName, run });
  });
}

export function registeredCases(): readonly Case[] {
  return registry;
}

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) {
    let hex = "";
    const shown = Math.min(value.length, 64);
    for (let i = 0; i < shown; i++) hex += (value[i] < 16 ? "0" : "") + value[i].toString(16);
    return `Uint8Array(${value.length})[${hex}${value.length > shown ? "…" : ""}]`;
  }
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "object" && value !== null) {
    try {
      return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? show(v) : v));
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

function deepEqualAt(actual: unknown, expected: unknown, path: string): string | undefined {
  if (Object.is(actual, expected)) return undefined;
  if (actual instanceof Uint8Array || expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array) || !(expected instanceof Uint8Array)) {
      return `${path}: ${show(actual)} !== ${show(expected)}`;
    }
    if (actual.length !== expected.length) return `${path}: length ${actual.length} !== ${expected.length}`;
    for (let i = 0; i < actual.length; i++) {
      if (actual[i] !== expected[i]) return `${path}[${i}]: ${actual[i]} !== ${expected[i]}`;
    }
    return undefined;
  }
  if (Array.isArray(actual) || Array.isArray(expected)) {
    if (!Array.isArray(actual) || !Array.isArray(expected)) return `${path}: ${show(actual)} !== ${show(expected)}`;
    if (actual.length !== expected.length) return `${path}: length ${actual.length} !== ${expected.length}`;
    for (let i = 0; i < actual.length; i++) {
      const diff = deepEqualAt(actual[i], expected[i], `${path}[${i}]`);
      if (diff) return diff;
    }
    return undefined;
  }
  if (typeof actual === "object" && typeof expected === "object" && actual !== null && expected !== null) {
    const a = actual as Record<string, unknown>;
    const e = expected as Record<string, unknown>;
    const keys = Object.keys(e);
    for (const key of Object.keys(a)) if (!(key in e)) return `${path}.${key}: unexpected ${show(a[key])}`;
    for (const key of keys) {
      if (!(key in a)) return `${path}.${key}: missing, expected ${show(e[key])}`;
      const diff = deepEqualAt(a[key], e[key], `${path}.${key}`);
      if (diff) return diff;
    }
    return undefined;
  }
  return `${path}: ${show(actual)} !== ${show(expected)}`;
}

export interface Assert {
  ok(value: unknown, message?: string): asserts value;
  equal<T>(actual: T, expected: T, message?: string): void;
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
  throws(run: () => unknown, type: abstract new (...args: never[]) => Error, pattern?: RegExp): void;
}

export const assert: Assert = {
  ok(value: unknown, message?: string): asserts value {
    if (!value) throw new AssertionError(message ?? `expected truthy, got ${show(value)}`);
  },
  equal<T>(actual: T, expected: T, message?: string): void {
    if (!Object.is(actual, expected)) {
      throw new AssertionError(`${message ? message + ": " : ""}${show(actual)} !== ${show(expected)}`);
    }
  },
  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    const diff = deepEqualAt(actual, expected, "value");
    if (diff) throw new AssertionError(`${message ? message + ": " : ""}${diff}`);
  },
  /** Runs `run`, which must throw an instance of `type` whose message matches `pattern` (if given). */
  throws(run: () => unknown, type: abstract new (...args: never[]) => Error, pattern?: RegExp): void {
    let thrown: unknown;
    try {
      run();
    } catch (error) {
      thrown = error;
    }
    if (thrown === undefined) throw new AssertionError(`expected ${type.name} to be thrown, nothing was`);
    if (!(thrown instanceof type)) throw new AssertionError(`expected ${type.name}, got ${show(thrown)}`);
    if (pattern && !pattern.test(thrown.message)) {
      throw new AssertionError(`${type.name} message ${JSON.stringify(thrown.message)} does not match ${pattern}`);
    }
  },
};
