// The emulator's public shapes, in their own module so the servers, the gate, the platform responder
// and the console server share them without importing each other.
import type { EventEmitter } from "node:events";
import type { Clock } from "./clock.ts";
import type { ThingModel } from "./thing-model.ts";

export interface DeviceEntry {
  product: string;
  device: string;
  /** Device key (base64), for tokens with res = products/{pid}/devices/{device}. */
  key: string;
}

export interface ProductEntry {
  product: string;
  /** Product key (base64), for tokens with res = products/{pid}. */
  key: string;
}

export interface EmulatorOptions {
  host?: string;
  /** MQTT port; 0 (default) picks a free one. */
  port?: number;
  /** Console HTTP port; 0 (default) picks a free one. */
  httpPort?: number;
  /** MQTT over TLS on this port too (0 picks a free one); undefined: no TLS listener. */
  tlsPort?: number;
  /**
   * The TLS listener's certificate: `chain` (server certificate, then its CA's) and `key`, PEM, and the
   * CA's PEM file for devices to trust. Default: a test CA and server certificate made at start
   * (tools/emulator/pki.ts), deleted at close.
   */
  tls?: { chain: string; key: string; caPath: string };
  /**
   * The fuse-ota HTTP API over HTTPS on this port too (0 picks a free one), with the TLS listener's
   * certificate; undefined: no HTTPS listener. The API is always on the console's HTTP port as well.
   */
  apiTlsPort?: number;
  devices: DeviceEntry[];
  products?: ProductEntry[];
  /** Thing model JSON; default onenet/thing-model.json. */
  thingModelPath?: string;
  /** One line per event; default console.log. Secrets never appear in these lines. */
  log?: (line: string) => void;
  /** Time source for pacing, token expiry and set timeouts (tests inject a VirtualClock). */
  clock?: Clock;
  /** How long a console property set/get waits for the device's reply (ms, default 10000). */
  replyTimeoutMs?: number;
  /** Uplink pacing interval per device (ms, default 1000: the platform's 1 message/s). */
  uplinkIntervalMs?: number;
  /** Points kept per property for the charts (default 500). */
  historyLimit?: number;
}

export interface SetResult {
  ok: boolean;
  id?: string;
  code?: number;
  msg?: string;
  data?: unknown;
  error?: string;
}

export interface PropertyValue {
  value: unknown;
  time: number;
}

export interface DeviceLogLine {
  time: number;
  level: "info" | "warn";
  text: string;
}

/** A thing-model event the device posted (thing/event/post) and the platform accepted. */
export interface ThingEventRecord {
  /** Message id of the post that carried it. */
  id: string;
  /** The event's identifier in the thing model, e.g. "alarm". */
  identifier: string;
  /** Its output values, e.g. {code: 3, msg: "sensor lost"}. */
  value: Record<string, unknown>;
  /** The device's `time` (ms), else the arrival time. */
  time: number;
}

export interface DeviceView {
  product: string;
  device: string;
  online: boolean;
  since: number;
  latest: Record<string, PropertyValue>;
  history: Record<string, [number, number][]>;
  log: DeviceLogLine[];
  subscriptions: string[];
  /** Times of the last accepted property posts (the device's `time`, else arrival), oldest first. */
  posts: number[];
  /** The last accepted events, oldest first. */
  events: ThingEventRecord[];
  /** OTA: reported version, steps for the current task, result, notices and replies. */
  ota: OtaState;
}

export interface OtaTask {
  tid: number;
  target: string;
  /** 1 = full image, the only kind the emulator offers. */
  type: 1;
  size: number;
  md5: string;
  products: string[];
  created: number;
}

/** One device's OTA state, as tests (`otaState`) and the console see it. */
export interface OtaState {
  /** The version the device last reported (version or check), or the target once it posted 201. */
  version?: string;
  /** The task that applies to the device (its product's current task). */
  tid?: number;
  /** Status steps the device posted for that task, oldest first. */
  steps: number[];
  /** The final step (102..107, 201..207) once the device posted one. */
  result?: number;
  /** ota/inform notices sent for the current task, and the valid inform_replies to them. */
  informs: number;
  informReplies: number;
  /** Checks answered (task or not). */
  checks: number;
  /** Download requests answered (200 or 206). */
  downloads: number;
}

export type EmulatorEvent =
  | { type: "online"; product: string; device: string; online: boolean; time: number }
  | { type: "property"; product: string; device: string; identifier: string; value: unknown; time: number; backfill?: true }
  | { type: "history"; product: string; device: string; id: string; values: number; time: number }
  | { type: "post"; product: string; device: string; id: string; time: number }
  | { type: "event"; product: string; device: string; event: ThingEventRecord }
  | { type: "log"; product: string; device: string; line: DeviceLogLine }
  | { type: "subscriptions"; product: string; device: string; subscriptions: string[] }
  | { type: "reply"; product: string; device: string; kind: "set" | "get"; result: SetResult; params: unknown }
  /** A device's OTA state changed: `what` changed it (a step carries the step); `task` is its current task. */
  | { type: "ota"; product: string; device: string; what: "task" | "inform" | "inform_reply" | "version" | "check" | "download" | "step"; step?: number; ota: OtaState; task?: OtaTask };

export interface Emulator {
  brokerUrl: string;
  consoleUrl: string;
  port: number;
  /** With `tlsPort`: the TLS listener's URL and port, and the CA (PEM file and text) a device must trust. */
  brokerTlsUrl?: string;
  tlsPort?: number;
  tlsCaPath?: string;
  tlsCa?: string;
  httpPort: number;
  /** The fuse-ota API's base URL over HTTP (the console's port), e.g. http://127.0.0.1:8080 */
  apiUrl: string;
  /** With `apiTlsPort`: the API over HTTPS (the same certificate and CA as MQTT over TLS). */
  apiTlsUrl?: string;
  apiTlsPort?: number;
  model: ThingModel;
  thingModelPath: string;
  /** 'event' with an EmulatorEvent on every change (the console streams these). */
  events: EventEmitter;
  devices(): DeviceView[];
  /** Cloud property set: publishes thing/property/set and waits for the device's set_reply. */
  setProperties(product: string, device: string, params: Record<string, unknown>): Promise<SetResult>;
  /** Cloud property get: publishes thing/property/get and waits for get_reply. */
  getProperties(product: string, device: string, identifiers: string[]): Promise<SetResult>;
  /** Close the device's connection from the platform side (a link fault for reconnect tests). */
  disconnect(product: string, device: string): boolean;
  /**
   * Start an OTA task: `image` for `version`, for the devices of `product` (default: every product).
   * It replaces their previous task, resets their OTA state and sends ota/inform to those online.
   */
  startOta(image: Uint8Array, version: string, product?: string): OtaTask;
  /** A device's OTA state; `product` may be left out when the device name is unique. */
  otaState(device: string, product?: string): OtaState;
  /** The current task of each product that has one. */
  otaTasks(): OtaTask[];
  close(): Promise<void>;
}

/** Per device, beside its OTA state: the inform ids awaiting a reply. */
export interface DeviceOta {
  state: OtaState;
  informIds: string[];
}

/** A device's OTA record before any task (here, not in ota.ts: the registry makes one per device). */
export function newDeviceOta(): DeviceOta {
  return { state: { steps: [], informs: 0, informReplies: 0, checks: 0, downloads: 0 }, informIds: [] };
}
