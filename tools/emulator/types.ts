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
}

export type EmulatorEvent =
  | { type: "online"; product: string; device: string; online: boolean; time: number }
  | { type: "property"; product: string; device: string; identifier: string; value: unknown; time: number; backfill?: true }
  | { type: "history"; product: string; device: string; id: string; values: number; time: number }
  | { type: "post"; product: string; device: string; id: string; time: number }
  | { type: "event"; product: string; device: string; event: ThingEventRecord }
  | { type: "log"; product: string; device: string; line: DeviceLogLine }
  | { type: "subscriptions"; product: string; device: string; subscriptions: string[] }
  | { type: "reply"; product: string; device: string; kind: "set" | "get"; result: SetResult; params: unknown };

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
  close(): Promise<void>;
}
