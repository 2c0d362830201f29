// Test helpers for the emulator's tests (host only): MQTT.js clients acting as (misbehaving) devices,
// device tokens for the fuse-ota API's Authorization, and waiting for a device's OTA state.
import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import { makeToken, type TokenMethod } from "./token.ts";
import type { DeviceEntry, Emulator, EmulatorEvent, OtaState } from "./types.ts";

export const FAR_ET = 2147483647;

export interface Received {
  topic: string;
  json: Record<string, unknown> | undefined;
  payload: Buffer;
}

export interface TestDevice {
  client: MqttClient;
  messages: Received[];
  /** Resolves with the first message (already received or future) on topic matching pred. */
  next(topicSuffix: string, pred?: (m: Received) => boolean, timeoutMs?: number): Promise<Received>;
  closed: Promise<void>;
  isClosed(): boolean;
  prefix: string;
  end(): Promise<void>;
}

export interface ConnectOutcome {
  device?: TestDevice;
  /** CONNACK return code when refused, or undefined when the link closed without one. */
  refused?: number;
  closedWithoutConnack?: boolean;
}

/** The device's token (the MQTT password), also the fuse-ota API's Authorization header. */
export function deviceToken(entry: DeviceEntry, et = FAR_ET, method: TokenMethod = "sha256"): string {
  return makeToken({ key: entry.key, res: `products/${entry.product}/devices/${entry.device}`, et, method });
}

/**
 * Resolves with the device's OTA state once `pred` holds for it: at once, or at the OTA event
 * (a version, check, download, status step, notice or notice reply) that makes it hold.
 */
export function untilOta(
  emulator: Pick<Emulator, "events" | "otaState">,
  entry: Pick<DeviceEntry, "product" | "device">,
  pred: (state: OtaState) => boolean,
  timeoutMs = 20000,
): Promise<OtaState> {
  const now = emulator.otaState(entry.device, entry.product);
  if (pred(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const onEvent = (e: EmulatorEvent): void => {
      if (e.type !== "ota" || e.product !== entry.product || e.device !== entry.device || !pred(e.ota)) return;
      clearTimeout(timer);
      emulator.events.off("event", onEvent);
      resolve(e.ota);
    };
    const timer = setTimeout(() => {
      emulator.events.off("event", onEvent);
      reject(new Error(`OTA state of ${entry.product}/${entry.device} not reached within ${timeoutMs} ms: ${JSON.stringify(emulator.otaState(entry.device, entry.product))}`));
    }, timeoutMs);
    emulator.events.on("event", onEvent);
  });
}

/** Connect an MQTT.js client; resolves on CONNACK 0, refusal, or close. Never reconnects. */
export function connect(brokerUrl: string, entry: DeviceEntry, overrides: Partial<IClientOptions> = {}): Promise<ConnectOutcome> {
  const options: IClientOptions = {
    clientId: entry.device,
    username: entry.product,
    password: deviceToken(entry),
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
    reconnectPeriod: 0,
    connectTimeout: 20000,
    ...overrides,
  };
  const client = mqtt.connect(brokerUrl, options);
  const messages: Received[] = [];
  const waiters: { suffix: string; pred: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];
  const prefix = `$sys/${entry.product}/${entry.device}/`;
  let closed = false;
  const closedPromise = new Promise<void>((resolve) => client.once("close", () => { closed = true; resolve(); }));
  client.on("message", (topic, payload) => {
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(payload.toString("utf8")) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    const m: Received = { topic, json, payload };
    messages.push(m);
    for (let i = 0; i < waiters.length; i++) {
      const w = waiters[i]!;
      if (topic === prefix + w.suffix && w.pred(m)) {
        waiters.splice(i--, 1);
        w.resolve(m);
      }
    }
  });
  const device: TestDevice = {
    client,
    messages,
    prefix,
    closed: closedPromise,
    isClosed: () => closed,
    next(suffix, pred = () => true, timeoutMs = 20000) {
      const found = messages.find((m) => m.topic === prefix + suffix && pred(m));
      if (found) return Promise.resolve(found);
      return new Promise<Received>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message on ${suffix} within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ suffix, pred, resolve: (m) => { clearTimeout(timer); resolve(m); } });
      });
    },
    end: () => new Promise<void>((resolve) => client.end(true, {}, () => resolve())),
  };
  return new Promise<ConnectOutcome>((resolve) => {
    client.once("connect", () => resolve({ device }));
    client.once("error", (error: Error & { code?: number }) => {
      if (typeof error.code === "number") resolve({ refused: error.code });
    });
    client.once("close", () => resolve({ closedWithoutConnack: true }));
  });
}

export async function connectOk(brokerUrl: string, entry: DeviceEntry, overrides: Partial<IClientOptions> = {}): Promise<TestDevice> {
  const outcome = await connect(brokerUrl, entry, overrides);
  if (!outcome.device) throw new Error(`connect failed: ${JSON.stringify(outcome)}`);
  return outcome.device;
}

export function subscribe(device: TestDevice, suffix: string, qos: 0 | 1 | 2 = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    device.client.subscribe(device.prefix + suffix, { qos }, (error, granted) => {
      if (error) reject(error);
      else resolve(granted?.[0]?.qos ?? -1);
    });
  });
}

export function publish(device: TestDevice, suffix: string, body: unknown, qos: 0 | 1 = 0): Promise<void> {
  const payload = typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    device.client.publish(device.prefix + suffix, payload, { qos }, (error) => (error ? reject(error) : resolve()));
  });
}

/** Poll cond (real time) until true; for state that changes asynchronously. */
export async function until(cond: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
