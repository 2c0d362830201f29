// The platform responder: what OneNET answers to a device's uplink after the gate let it through
// (docs/onenet.md, "Topics", "Payloads"), checked against the thing model, and the cloud side's
// property set/get, correlated with the device's set_reply/get_reply by id.
//
//   aedes 'publish' --> Platform.uplink (post/reply, event/reply, set_reply/get_reply correlation)
//   Platform downlink --> publish (QoS 0) --> only when one of the device's filters matches (else 1022)
import {
  checkEventPost,
  checkPropertyPost,
  checkSetParams,
  isRecord,
  parseRequest,
  SUCCESS,
  type ThingModel,
  type Verdict,
  valueMatches,
} from "./thing-model.ts";
import type { DeviceState, Registry } from "./registry.ts";
import type { DeviceView, SetResult, ThingEventRecord } from "./types.ts";

const POST_IDS_KEPT = 200;
/** Values per identifier one history post may carry (docs/onenet.md). */
export const HISTORY_MAX_VALUES = 100;
const POST_TIMES_KEPT = 20;
const EVENTS_KEPT = 100;

export interface PlatformOptions {
  replyTimeoutMs: number;
  historyLimit: number;
  /** Hand a downlink PUBLISH (QoS 0) to the broker. */
  publish: (topic: string, payload: Buffer) => void;
}

/**
 * thing/history/post: `params` is an array of `{"properties": {id: [{value, time}, …]}, "events": {…}}`
 * (no `identity` for a directly connected device); every value carries integer ms `time`; at most
 * HISTORY_MAX_VALUES values per identifier in one message.
 */
export function checkHistoryPost(model: ThingModel, body: Record<string, unknown>): Verdict {
  const params = body.params;
  if (!Array.isArray(params) || params.length === 0) return { code: 313, msg: "bad request: params must be a non-empty array" };
  const counts = new Map<string, number>();
  for (const item of params) {
    if (!isRecord(item)) return { code: 313, msg: "bad request: params items must be objects" };
    for (const key of Object.keys(item)) {
      if (key !== "properties" && key !== "events" && key !== "identity") return { code: 313, msg: `bad request: unknown key ${key} in params` };
    }
    const sections: [Record<string, unknown> | undefined, "property" | "event"][] = [];
    if (item.properties !== undefined) {
      if (!isRecord(item.properties)) return { code: 313, msg: "bad request: properties must be an object" };
      sections.push([item.properties, "property"]);
    }
    if (item.events !== undefined) {
      if (!isRecord(item.events)) return { code: 313, msg: "bad request: events must be an object" };
      sections.push([item.events, "event"]);
    }
    for (const [section, kind] of sections) {
      for (const [identifier, list] of Object.entries(section!)) {
        const prop = kind === "property" ? model.properties.get(identifier) : undefined;
        const event = kind === "event" ? model.events.get(identifier) : undefined;
        if (!prop && !event) return { code: 309, msg: `identifier does not exist: ${identifier}` };
        if (!Array.isArray(list)) return { code: 302, msg: `data type error: ${identifier} needs an array of {"value", "time"}` };
        const n = (counts.get(identifier) ?? 0) + list.length;
        if (n > HISTORY_MAX_VALUES) return { code: 313, msg: `bad request: ${n} values of ${identifier}, at most ${HISTORY_MAX_VALUES}` };
        counts.set(identifier, n);
        for (const entry of list) {
          if (!isRecord(entry) || !("value" in entry)) return { code: 302, msg: `data type error: ${identifier} needs {"value": …, "time": …}` };
          if (!(typeof entry.time === "number" && Number.isInteger(entry.time) && entry.time > 0)) {
            return { code: 302, msg: `data type error: ${identifier}.time must be milliseconds` };
          }
          if (prop && !valueMatches(prop.dataType, entry.value)) return { code: 302, msg: `data type error: ${identifier} must be ${prop.dataType.type}` };
          if (event && !isRecord(entry.value)) return { code: 302, msg: `data type error: ${identifier} needs {"value": {…}}` };
        }
      }
    }
  }
  return SUCCESS;
}

/** The `time` a OneJSON entry carries when it is integer milliseconds, else `fallback`. */
function entryTime(entry: unknown, fallback: number): number {
  return isRecord(entry) && typeof entry.time === "number" ? entry.time : fallback;
}

export class Platform {
  #nextDownlinkId = 0;
  /** Uplink topics (after the device's prefix) answered elsewhere, e.g. ota/inform_reply by ota.ts. */
  readonly #routes = new Map<string, (device: DeviceState, payload: Buffer) => void>();

  constructor(
    readonly registry: Registry,
    readonly model: ThingModel,
    readonly options: PlatformOptions,
  ) {}

  route(suffix: string, handler: (device: DeviceState, payload: Buffer) => void): void {
    this.#routes.set(suffix, handler);
  }

  /** A fresh numeric id for a platform-to-device message (property set/get, OTA notice). */
  nextDownlinkId(): string {
    return String(++this.#nextDownlinkId);
  }

  /** A PUBLISH from a device, after the gate and aedes accepted it. */
  uplink(device: DeviceState, topic: string, payload: Buffer): void {
    if (!topic.startsWith(device.prefix)) return;
    const suffix = topic.slice(device.prefix.length);
    const routed = this.#routes.get(suffix);
    if (routed) return routed(device, payload);
    switch (suffix) {
      case "thing/property/post":
        return this.#propertyPost(device, payload);
      case "thing/event/post":
        return this.#eventPost(device, payload);
      case "thing/history/post":
        return this.#historyPost(device, payload);
      case "thing/property/desired/get":
      case "thing/property/desired/delete":
        this.#answer(device, payload, `${suffix}/reply`, () => SUCCESS, suffix.slice(6), { data: {} });
        return;
      case "thing/property/set_reply":
      case "thing/property/get_reply":
        return this.#reply(device, payload, suffix === "thing/property/set_reply" ? "set" : "get");
      default:
        this.registry.deviceLog(device, "info", `uplink on ${suffix} (not handled by the emulator) ${payload.length} bytes`, true);
    }
  }

  /** Parse a request, check it, send `{id, code, msg}` on replySuffix and log the outcome. */
  #answer(
    device: DeviceState,
    payload: Buffer,
    replySuffix: string,
    check: (body: Record<string, unknown>) => Verdict,
    what: string,
    extra: Record<string, unknown> = {},
  ): { id: string; body: Record<string, unknown> } | undefined {
    const req = parseRequest(payload);
    const verdict = req.verdict ?? check(req.body!);
    this.downlink(device, replySuffix, { id: req.id, code: verdict.code, msg: verdict.msg, ...(verdict.code === 200 ? extra : {}) });
    const params = req.body && isRecord(req.body.params) ? ` ${Object.keys(req.body.params).join(",")}` : "";
    this.registry.deviceLog(device, verdict.code === 200 ? "info" : "warn", `${what} id=${req.id || "?"}${params} -> ${verdict.code} ${verdict.msg}`, verdict.code !== 200);
    return verdict.code === 200 ? { id: req.id, body: req.body! } : undefined;
  }

  #propertyPost(device: DeviceState, payload: Buffer): void {
    const ok = this.#answer(device, payload, "thing/property/post/reply", (body) => checkPropertyPost(this.model, body), "property post");
    if (!ok) return;
    const params = ok.body.params as Record<string, unknown>;
    const now = this.registry.clock.now();
    let postTime = -Infinity;
    for (const entry of Object.values(params)) postTime = Math.max(postTime, entryTime(entry, -Infinity));
    if (postTime === -Infinity) postTime = now;
    if (device.postIds.includes(ok.id)) {
      this.registry.deviceLog(device, "info", `property post id=${ok.id} is a resend of an id already accepted (answered 200 again)`);
    } else {
      device.postIds.push(ok.id);
      if (device.postIds.length > POST_IDS_KEPT) device.postIds.shift();
    }
    device.posts.push(postTime);
    if (device.posts.length > POST_TIMES_KEPT) device.posts.shift();
    this.registry.emit({ type: "post", product: device.entry.product, device: device.entry.device, id: ok.id, time: postTime });
    for (const [identifier, entry] of Object.entries(params)) {
      this.#record(device, identifier, (entry as { value: unknown }).value, entryTime(entry, now));
    }
  }

  /** thing/event/post -> event/post/reply; accepted events are kept for the console. */
  #eventPost(device: DeviceState, payload: Buffer): void {
    const ok = this.#answer(device, payload, "thing/event/post/reply", (body) => checkEventPost(this.model, body), "event post");
    if (!ok) return;
    const now = this.registry.clock.now();
    for (const [identifier, entry] of Object.entries(ok.body.params as Record<string, { value: Record<string, unknown> }>)) {
      const event: ThingEventRecord = { id: ok.id, identifier, value: entry.value, time: entryTime(entry, now) };
      device.events.push(event);
      if (device.events.length > EVENTS_KEPT) device.events.shift();
      this.registry.emit({ type: "event", product: device.entry.product, device: device.entry.device, event });
    }
  }

  /** thing/history/post -> history/post/reply; back-filled values go into the chart at their own times. */
  #historyPost(device: DeviceState, payload: Buffer): void {
    const ok = this.#answer(device, payload, "thing/history/post/reply", (body) => checkHistoryPost(this.model, body), "history post");
    if (!ok) return;
    let values = 0;
    let newest = -Infinity;
    for (const item of ok.body.params as Record<string, unknown>[]) {
      const properties = isRecord(item.properties) ? item.properties : {};
      for (const [identifier, list] of Object.entries(properties)) {
        for (const entry of list as { value: unknown; time: number }[]) {
          this.#record(device, identifier, entry.value, entry.time, true);
          values++;
          newest = Math.max(newest, entry.time);
        }
      }
    }
    this.registry.emit({ type: "history", product: device.entry.product, device: device.entry.device, id: ok.id, values, time: newest });
  }

  /** A property value the device reported (post, history or get_reply): latest value, chart history, event. */
  #record(device: DeviceState, identifier: string, value: unknown, time: number, backfill?: true): void {
    const latest = device.latest.get(identifier);
    // a back-filled value is older than what the live posts already showed: the latest stays
    if (!backfill || latest === undefined || latest.time <= time) device.latest.set(identifier, { value, time });
    if (typeof value === "number") {
      let h = device.history.get(identifier);
      if (!h) device.history.set(identifier, (h = []));
      // kept in time order, so back-filled points are drawn where they belong
      let at = h.length;
      while (at > 0 && h[at - 1][0] > time) at--;
      h.splice(at, 0, [time, value]);
      if (h.length > this.options.historyLimit) h.splice(0, h.length - this.options.historyLimit);
    }
    this.registry.emit({ type: "property", product: device.entry.product, device: device.entry.device, identifier, value, time, ...(backfill ? { backfill } : {}) });
  }

  #reply(device: DeviceState, payload: Buffer, kind: "set" | "get"): void {
    const req = parseRequest(payload);
    const pending = device.pending.get(req.id);
    if (!pending || pending.kind !== kind || req.verdict) {
      const why = req.verdict ? `${req.verdict.code} ${req.verdict.msg}` : "no request with that id is waiting";
      this.registry.deviceLog(device, "warn", `${kind}_reply id=${req.id || "?"} rejected (1027 bad ${kind}_reply): ${why}`, true);
      return;
    }
    device.pending.delete(req.id);
    this.registry.clock.clearTimeout(pending.timer);
    const body = req.body!;
    const code = typeof body.code === "number" ? body.code : undefined;
    const result: SetResult = { ok: code !== undefined, id: req.id };
    if (code !== undefined) result.code = code;
    if (typeof body.msg === "string") result.msg = body.msg;
    if (kind === "get") result.data = body.data;
    if (code === undefined) result.error = `${kind}_reply without a numeric code`;
    this.registry.deviceLog(device, code === 200 ? "info" : "warn", `${kind}_reply id=${req.id} code=${code ?? "?"}${result.msg ? " msg=" + result.msg : ""}`);
    if (kind === "get" && code === 200 && isRecord(body.data)) {
      const now = this.registry.clock.now();
      for (const [identifier, value] of Object.entries(body.data)) {
        const def = this.model.properties.get(identifier);
        if (def && valueMatches(def.dataType, value)) this.#record(device, identifier, value, now);
      }
    }
    pending.resolve(result);
  }

  /** Platform -> device on $sys/{pid}/{device}/{suffix}, QoS 0; only delivered if subscribed. */
  downlink(device: DeviceState, suffix: string, body: unknown): boolean {
    const topic = device.prefix + suffix;
    const link = device.link;
    if (!link) return false;
    if (!link.subscribed(topic)) {
      this.registry.deviceLog(device, "warn", `downlink ${suffix} not delivered: 1022 subscription not exist`, true);
      return false;
    }
    this.options.publish(topic, Buffer.from(JSON.stringify(body)));
    return true;
  }

  /** Cloud property set or get: publish it and wait for the device's reply (or time out). */
  command(product: string, deviceName: string, kind: "set" | "get", params: unknown): Promise<SetResult> {
    const device = this.registry.get(product, deviceName);
    if (!device) return Promise.resolve({ ok: false, error: `no device ${product}/${deviceName}` });
    if (kind === "set") {
      const bad = checkSetParams(this.model, params);
      if (bad) return Promise.resolve({ ok: false, error: bad });
    } else if (!Array.isArray(params) || params.some((p) => typeof p !== "string" || !this.model.properties.has(p))) {
      return Promise.resolve({ ok: false, error: "params must be an array of property identifiers" });
    }
    if (!device.online) return Promise.resolve({ ok: false, error: "device offline" });
    const id = this.nextDownlinkId();
    const suffix = kind === "set" ? "thing/property/set" : "thing/property/get";
    this.registry.deviceLog(device, "info", `property ${kind} id=${id} ${JSON.stringify(params)}`);
    if (!this.downlink(device, suffix, { id, version: "1.0", params })) {
      return Promise.resolve({ ok: false, id, error: `device has not subscribed to ${suffix} (1022)` });
    }
    const clock = this.registry.clock;
    return new Promise<SetResult>((resolve) => {
      const timer = clock.setTimeout(() => {
        device.pending.delete(id);
        this.registry.deviceLog(device, "warn", `${kind}_reply id=${id} timed out`);
        resolve({ ok: false, id, error: `no ${kind}_reply within ${this.options.replyTimeoutMs} ms` });
      }, this.options.replyTimeoutMs);
      device.pending.set(id, {
        kind,
        params,
        timer,
        resolve: (result) => {
          this.registry.emit({ type: "reply", product, device: deviceName, kind, result, params });
          resolve(result);
        },
      });
    });
  }

  /** Answer every set/get still waiting on the device with `error` (it went offline, or we close). */
  failPending(device: DeviceState, error: string): void {
    for (const [id, p] of device.pending) {
      device.pending.delete(id);
      this.registry.clock.clearTimeout(p.timer);
      p.resolve({ ok: false, id, error });
    }
  }

  view(device: DeviceState): DeviceView {
    return {
      product: device.entry.product,
      device: device.entry.device,
      online: device.online,
      since: device.since,
      latest: Object.fromEntries(device.latest),
      history: Object.fromEntries([...device.history].map(([k, v]) => [k, v.slice()])),
      log: device.log.slice(),
      subscriptions: device.link ? [...device.link.subscriptions] : [],
      posts: device.posts.slice(),
      events: device.events.slice(),
      ota: { ...device.ota.state, steps: device.ota.state.steps.slice() },
    };
  }

  views(): DeviceView[] {
    return [...this.registry.devices.values()].map((d) => this.view(d));
  }
}
