// The default thing model as the firmware sees it: identifier -> type, range and access. It mirrors
// onenet/thing-model.json (the file a user imports in the OneNET console; a test keeps the two equal).
// Used to refuse locally what the platform would answer with 302 (type) or 309 (unknown identifier),
// and to check property-set values before the app applies them.

import { LIMITS } from "./config";
import { isIdentifier } from "./payload";

export type ValueType = "int32" | "float" | "double" | "bool" | "string";

export interface PropertySpec {
  readonly type: ValueType;
  readonly writable: boolean;
  readonly min?: number;
  readonly max?: number;
  /** For strings: maximum length. */
  readonly length?: number;
}

export type ThingModel = { readonly [identifier: string]: PropertySpec };

export const DEFAULT_MODEL: ThingModel = {
  temp: { type: "float", writable: false, min: -40, max: 125 },
  humi: { type: "float", writable: false, min: 0, max: 100 },
  press: { type: "float", writable: false, min: 300, max: 1100 },
  rssi: { type: "int32", writable: false, min: -127, max: 0 },
  heap: { type: "int32", writable: false, min: 0, max: 2147483647 },
  uptime: { type: "int32", writable: false, min: 0, max: 2147483647 },
  backlog: { type: "int32", writable: false, min: 0, max: 2147483647 },
  interval: { type: "int32", writable: true, min: LIMITS.interval.min, max: LIMITS.interval.max },
  led: { type: "bool", writable: true },
};

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * The spec of `identifier`, from the model's own properties only: "toString", "__proto__" or
 * "constructor" from the cloud are unknown identifiers, never something inherited.
 */
export function specOf(model: ThingModel, identifier: string): PropertySpec | undefined {
  return hasOwn.call(model, identifier) ? model[identifier] : undefined;
}

/** Why `value` does not fit `spec`, or undefined when it does. */
export function checkValue(spec: PropertySpec, value: unknown): string | undefined {
  switch (spec.type) {
    case "bool":
      return typeof value === "boolean" ? undefined : "not a boolean";
    case "string":
      if (typeof value !== "string") return "not a string";
      if (spec.length !== undefined && value.length > spec.length) return `longer than ${spec.length}`;
      return undefined;
    default: {
      if (typeof value !== "number" || !Number.isFinite(value)) return "not a number";
      if (spec.type === "int32" && !Number.isInteger(value)) return "not an integer";
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        return `out of range ${spec.min}..${spec.max}`;
      }
      return undefined;
    }
  }
}

/**
 * One property of a model made ready for the report path: its range as two plain numbers, so that a
 * number is checked by comparisons alone (on XS a call costs as much as the whole check).
 */
export interface CompiledSpec {
  readonly spec: PropertySpec;
  /**
   * Accepted numbers: min <= value <= max. Open bounds are ±Number.MAX_VALUE, so a pass also means
   * finite (NaN fails every comparison); a non-numeric type has min > max, so no number passes.
   */
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
  /** The last value reported or set: the property get's fallback. */
  last: unknown;
  /** `last` before the report being checked, put back if that report is refused. */
  previous: unknown;
}

/** Identifier -> compiled spec, without a prototype: "toString" or "__proto__" from the cloud find nothing. */
export type CompiledModel = { readonly [identifier: string]: CompiledSpec | undefined };

/**
 * The model compiled once for one device (it holds the device's last values); null when one of its
 * identifiers is not one the platform allows: such a model takes the general path, which says so.
 */
export function compileModel(model: ThingModel): CompiledModel | null {
  const out: { [identifier: string]: CompiledSpec } = Object.create(null) as { [identifier: string]: CompiledSpec };
  for (const identifier of Object.keys(model)) {
    if (!isIdentifier(identifier)) return null;
    const spec = model[identifier];
    const numeric = spec.type === "int32" || spec.type === "float" || spec.type === "double";
    out[identifier] = {
      spec,
      min: numeric ? Math.max(spec.min ?? -Number.MAX_VALUE, -Number.MAX_VALUE) : Infinity,
      max: numeric ? Math.min(spec.max ?? Number.MAX_VALUE, Number.MAX_VALUE) : -Infinity,
      integer: spec.type === "int32",
      last: undefined,
      previous: undefined,
    };
  }
  return out;
}
