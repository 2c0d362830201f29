// XS side of the per-phase profile (bench/xs-profile.ts): wraps methods so that each call's
// computrons are read from xsnap's meter. The bench captures xsnap's `resetMeter` and
// `currentMeterLimit` before the lane's bridge removes them (__profileMeter, __profileLimit); the
// firmware itself never sees them. The wrapper's own bookkeeping runs with the meter set aside
// (read, set to 0, put back), and its entry and exit are given back (`residue`, calibrated by the
// bench with a wrapped no-op), so a metered call costs its caller what an unmetered one does.

type Reset = (limit: number, index: number) => number;

interface Stat {
  calls: number;
  /** Computrons inside the method, its wrapped callees excluded. */
  self: number;
  /** Computrons inside the method, callees included. */
  total: number;
}

const g = globalThis as unknown as { __profileMeter?: Reset; __profileLimit?: () => number };
const reset = g.__profileMeter;
const limit = g.__profileLimit ? g.__profileLimit() : 0;
const stats = new Map<string, Stat>();
/** What a wrapped call costs beyond its body, outside the bookkeeping (set by the bench's calibration). */
let residue = 0;
/** Per open wrapped call: computrons its wrapped callees took. */
const inner: number[] = [];

function statOf(name: string): Stat {
  let s = stats.get(name);
  if (s === undefined) {
    s = { calls: 0, self: 0, total: 0 };
    stats.set(name, s);
  }
  return s;
}

type Fn = (this: unknown, ...args: unknown[]) => unknown;

/** A function that runs `fn` and books its computrons under `name`. */
export function metered(name: string, fn: Fn): Fn {
  if (reset === undefined) return fn;
  const stat = statOf(name);
  return function (this: unknown, ...args: unknown[]): unknown {
    const start = reset(limit, 0);
    inner.push(0);
    reset(limit, start);
    try {
      return fn.apply(this, args);
    } finally {
      const end = reset(limit, 0);
      const total = end - start;
      const callees = inner.pop()!;
      stat.calls++;
      stat.total += total;
      stat.self += total - callees;
      if (inner.length > 0) inner[inner.length - 1] += total;
      reset(limit, end - residue > 0 ? end - residue : 0);
    }
  };
}

/** Wraps every method and accessor of `target` (a prototype or a plain object) except the constructor. */
export function meterAll(prefix: string, target: object, skip: readonly string[] = []): void {
  for (const key of Object.getOwnPropertyNames(target)) {
    if (key === "constructor" || skip.indexOf(key) >= 0) continue;
    const d = Object.getOwnPropertyDescriptor(target, key)!;
    if (!d.configurable) continue;
    if (typeof d.value === "function") {
      Object.defineProperty(target, key, { ...d, value: metered(`${prefix}.${key}`, d.value as Fn) });
    } else if (d.get !== undefined || d.set !== undefined) {
      const get = d.get ? (metered(`${prefix}.${key}`, d.get as Fn) as () => unknown) : undefined;
      const set = d.set ? (metered(`${prefix}.${key}=`, d.set as Fn) as (v: unknown) => void) : undefined;
      Object.defineProperty(target, key, { ...d, get, set });
    }
  }
}

/** Sets the computrons each wrapped call gives back (its entry and exit). */
export function setResidue(computrons: number): void {
  residue = computrons;
}

/** JSON of every stat so far: { name: [calls, self, total] }. */
export function profileJson(): string {
  const out: { [name: string]: [number, number, number] } = {};
  stats.forEach((s, name) => {
    out[name] = [s.calls, s.self, s.total];
  });
  return JSON.stringify(out);
}
