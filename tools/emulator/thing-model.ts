// The thing model (OneNET's exported TSL JSON: properties/events/services with identifier,
// accessMode and dataType {type, specs}) and the OneJSON checks the platform applies to uplink
// payloads: 301 bad JSON, 302 data type error, 309 identifier does not exist, 312 invalid message id,
// 313 bad request (docs/onenet.md, "Payloads").
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The project's thing model, the file a user imports in the OneNET console (onenet/thing-model.json). */
export const PROJECT_THING_MODEL = fileURLToPath(new URL("../../onenet/thing-model.json", import.meta.url));

export function defaultThingModelPath(): string {
  return PROJECT_THING_MODEL;
}

export interface DataType {
  type: string; // int32 int64 float double bool enum string date struct array bitMap
  specs: unknown;
}

export interface PropertyDef {
  identifier: string;
  name: string;
  writable: boolean;
  readable: boolean;
  dataType: DataType;
  unit: string;
  min?: number;
  max?: number;
  step?: number;
  /** For bool and enum: value -> label. */
  labels?: Record<string, string>;
}

export interface EventDef {
  identifier: string;
  name: string;
  output: { identifier: string; dataType: DataType }[];
}

export interface ThingModel {
  properties: Map<string, PropertyDef>;
  events: Map<string, EventDef>;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function num(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

function readDataType(v: unknown, where: string): DataType {
  if (!isRecord(v) || typeof v.type !== "string") throw new Error(`thing model: ${where}: dataType.type missing`);
  return { type: v.type, specs: v.specs };
}

export function parseThingModel(json: unknown): ThingModel {
  if (!isRecord(json)) throw new Error("thing model: not a JSON object");
  const properties = new Map<string, PropertyDef>();
  for (const p of Array.isArray(json.properties) ? json.properties : []) {
    if (!isRecord(p) || typeof p.identifier !== "string") throw new Error("thing model: property without identifier");
    const dataType = readDataType(p.dataType, p.identifier);
    const specs = isRecord(dataType.specs) ? dataType.specs : {};
    const access = typeof p.accessMode === "string" ? p.accessMode : "r";
    const def: PropertyDef = {
      identifier: p.identifier,
      name: typeof p.name === "string" ? p.name : p.identifier,
      writable: access.includes("w"),
      readable: access.includes("r"),
      dataType,
      unit: typeof specs.unit === "string" ? specs.unit : typeof specs.unitName === "string" ? specs.unitName : "",
    };
    const min = num(specs.min), max = num(specs.max), step = num(specs.step);
    if (min !== undefined) def.min = min;
    if (max !== undefined) def.max = max;
    if (step !== undefined) def.step = step;
    if (dataType.type === "bool" || dataType.type === "enum") {
      const labels: Record<string, string> = {};
      for (const [k, v] of Object.entries(specs)) if (typeof v === "string") labels[k] = v;
      def.labels = labels;
    }
    properties.set(def.identifier, def);
  }
  const events = new Map<string, EventDef>();
  for (const e of Array.isArray(json.events) ? json.events : []) {
    if (!isRecord(e) || typeof e.identifier !== "string") throw new Error("thing model: event without identifier");
    const output: EventDef["output"] = [];
    for (const o of Array.isArray(e.outputData) ? e.outputData : []) {
      if (isRecord(o) && typeof o.identifier === "string") output.push({ identifier: o.identifier, dataType: readDataType(o.dataType, `${e.identifier}.${o.identifier}`) });
    }
    events.set(e.identifier, { identifier: e.identifier, name: typeof e.name === "string" ? e.name : e.identifier, output });
  }
  return { properties, events };
}

export function loadThingModel(path: string): ThingModel {
  return parseThingModel(JSON.parse(readFileSync(path, "utf8")));
}

export function isNumericType(t: DataType): boolean {
  return t.type === "int32" || t.type === "int64" || t.type === "float" || t.type === "double" || t.type === "date";
}

/** Does value have the JSON type the data type asks for? (Type only: ranges are not checked.) */
export function valueMatches(t: DataType, value: unknown): boolean {
  switch (t.type) {
    case "int32":
      return typeof value === "number" && Number.isInteger(value) && value >= -2147483648 && value <= 2147483647;
    case "int64":
    case "date":
    case "bitMap":
      return typeof value === "number" && Number.isInteger(value);
    case "float":
    case "double":
      return typeof value === "number" && Number.isFinite(value);
    case "bool":
      return typeof value === "boolean";
    case "enum":
      return typeof value === "number" && Number.isInteger(value) && (!isRecord(t.specs) || Object.keys(t.specs).length === 0 || String(value) in t.specs);
    case "string":
      return typeof value === "string";
    case "struct": {
      if (!isRecord(value)) return false;
      const members = Array.isArray(t.specs) ? t.specs : [];
      for (const [k, v] of Object.entries(value)) {
        const m = members.find((x: unknown) => isRecord(x) && x.identifier === k);
        if (!isRecord(m) || !valueMatches(readDataType(m.dataType, k), v)) return false;
      }
      return true;
    }
    case "array": {
      if (!Array.isArray(value)) return false;
      const specs = isRecord(t.specs) ? t.specs : {};
      const length = num(specs.length);
      if (length !== undefined && value.length > length) return false;
      if (typeof specs.type !== "string") return true;
      const item: DataType = { type: specs.type, specs: specs.specs };
      return value.every((v) => valueMatches(item, v));
    }
    default:
      return true;
  }
}

export interface Verdict {
  code: number;
  msg: string;
}

export const SUCCESS: Verdict = { code: 200, msg: "success" };

export interface ParsedRequest {
  /** The message id to echo ("" when none could be read). */
  id: string;
  /** The parsed body when it is a JSON object. */
  body?: Record<string, unknown>;
  verdict?: Verdict;
}

/** Parse a OneJSON request: JSON object with a string id of 1..13 digits and an optional version. */
export function parseRequest(payload: Buffer): ParsedRequest {
  let body: unknown;
  try {
    body = JSON.parse(payload.toString("utf8"));
  } catch {
    const m = /"id"\s*:\s*"(\d{1,13})"/.exec(payload.toString("latin1"));
    return { id: m ? m[1]! : "", verdict: { code: 301, msg: "bad JSON" } };
  }
  if (!isRecord(body)) return { id: "", verdict: { code: 301, msg: "bad JSON: not an object" } };
  const id = body.id;
  if (typeof id !== "string" || !/^\d{1,13}$/.test(id)) {
    return { id: typeof id === "string" || typeof id === "number" ? String(id) : "", body, verdict: { code: 312, msg: "invalid message id" } };
  }
  if (body.version !== undefined && typeof body.version !== "string") return { id, body, verdict: { code: 313, msg: "bad request: version" } };
  return { id, body };
}

/** Property post: params is an object of identifier -> {value, time?}. */
export function checkPropertyPost(model: ThingModel, body: Record<string, unknown>): Verdict {
  const params = body.params;
  if (!isRecord(params)) return { code: 313, msg: "bad request: params must be an object" };
  for (const identifier of Object.keys(params)) {
    if (!model.properties.has(identifier)) return { code: 309, msg: `identifier does not exist: ${identifier}` };
  }
  for (const [identifier, entry] of Object.entries(params)) {
    const def = model.properties.get(identifier)!;
    if (!isRecord(entry) || !("value" in entry)) return { code: 302, msg: `data type error: ${identifier} needs {"value": …}` };
    if (!valueMatches(def.dataType, entry.value)) return { code: 302, msg: `data type error: ${identifier} must be ${def.dataType.type}` };
    if (entry.time !== undefined && !(typeof entry.time === "number" && Number.isInteger(entry.time) && entry.time >= 0)) {
      return { code: 302, msg: `data type error: ${identifier}.time must be milliseconds` };
    }
  }
  return SUCCESS;
}

/** Event post: params is an object of event identifier -> {value: {...}, time?}. */
export function checkEventPost(model: ThingModel, body: Record<string, unknown>): Verdict {
  const params = body.params;
  if (!isRecord(params)) return { code: 313, msg: "bad request: params must be an object" };
  for (const [identifier, entry] of Object.entries(params)) {
    const def = model.events.get(identifier);
    if (!def) return { code: 309, msg: `identifier does not exist: ${identifier}` };
    if (!isRecord(entry) || !isRecord(entry.value)) return { code: 302, msg: `data type error: ${identifier} needs {"value": {…}}` };
    for (const [k, v] of Object.entries(entry.value)) {
      const out = def.output.find((o) => o.identifier === k);
      if (!out) return { code: 309, msg: `identifier does not exist: ${identifier}.${k}` };
      if (!valueMatches(out.dataType, v)) return { code: 302, msg: `data type error: ${identifier}.${k} must be ${out.dataType.type}` };
    }
  }
  return SUCCESS;
}

/** Values the console may write: writable identifiers with values of the right type. */
export function checkSetParams(model: ThingModel, params: unknown): string | undefined {
  if (!isRecord(params) || Object.keys(params).length === 0) return "params must be a non-empty object";
  for (const [identifier, value] of Object.entries(params)) {
    const def = model.properties.get(identifier);
    if (!def) return `no property ${identifier} in the thing model`;
    if (!def.writable) return `property ${identifier} is read-only`;
    if (!valueMatches(def.dataType, value)) return `property ${identifier} must be ${def.dataType.type}`;
  }
  return undefined;
}
