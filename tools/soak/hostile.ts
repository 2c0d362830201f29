// Hostile downlinks: what a broken or malicious platform could send to the device's own topics,
// written as raw MQTT bytes (frames.ts) and injected by the broker front between two whole packets.
// Each case says what must hold afterwards besides the soak's general checks (no fatal error, heap
// flat, every reading arrives): whether the connection may survive, and which replies the device
// owes or must never send.
import { publish } from "./frames.ts";

export interface DeviceNames {
  readonly product: string;
  readonly device: string;
}

export interface ReplyExpectation {
  readonly id: string;
  /** The reply's code; undefined: no reply at all may carry this id. */
  readonly code?: number;
  /** Text the reply must not contain (e.g. a function's source). */
  readonly never?: RegExp;
}

export interface HostileCase {
  readonly name: string;
  bytes(device: DeviceNames, interval: number): Buffer;
  /**
   * "close": the packet breaks MQTT itself and the device must drop the connection (then come back);
   * "keep": the device must answer or ignore it on the same connection; "any": either is fine (a
   * packet over the device's size limit may be skipped or cause a reconnect).
   */
  readonly link: "close" | "keep" | "any";
  readonly replies: readonly ReplyExpectation[];
  /** Interval saves the case must cause (a flood of sets costs one flash write). */
  readonly saves?: number;
  /** True when the report interval must not change. */
  readonly intervalUnchanged?: boolean;
}

const topic = (d: DeviceNames, suffix: string): string => `$sys/${d.product}/${d.device}/thing/property/${suffix}`;

export const FLOOD = 1000;

export const HOSTILE: readonly HostileCase[] = [
  {
    name: "a set nested 10,000 deep",
    bytes: (d) => publish(topic(d, "set"), `{"id":"900001","version":"1.0","params":{"led":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`),
    link: "any",
    replies: [],
    intervalUnchanged: true,
  },
  {
    name: "a set nested 2,000 deep that fits the packet limit",
    bytes: (d) => publish(topic(d, "set"), `{"id":"900002","params":${"[".repeat(2000)}${"]".repeat(2000)}}`),
    link: "keep",
    replies: [],
    intervalUnchanged: true,
  },
  {
    name: "a 100 KB PUBLISH",
    bytes: (d) => publish(topic(d, "set"), `{"id":"900003","version":"1.0","params":{"led":true},"pad":"${"x".repeat(100 * 1024)}"}`),
    link: "any",
    replies: [],
    intervalUnchanged: true,
  },
  {
    name: "a set whose payload is not UTF-8",
    bytes: (d) => publish(topic(d, "set"), Buffer.concat([Buffer.from('{"id":"900004","params":{"led":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}}')])),
    link: "keep",
    replies: [],
    intervalUnchanged: true,
  },
  {
    // [MQTT-1.5.3-1]: ill-formed UTF-8 in a topic name: the receiver must close the connection.
    name: "a PUBLISH whose topic is not UTF-8",
    bytes: (d) => publish(Buffer.concat([Buffer.from(topic(d, "")), Buffer.from([0xc3, 0x28, 0xff])]), '{"id":"900005","params":{}}'),
    link: "close",
    replies: [],
    intervalUnchanged: true,
  },
  {
    // The interval wanders and comes back to where it was; the LED toggles. Replies beyond the
    // device's reply queue are dropped, the newest answered; the interval is saved once.
    name: `${FLOOD} sets in one second`,
    bytes: (d, interval) => {
      const packets: Buffer[] = [];
      for (let i = 0; i < FLOOD; i++) {
        const last = i === FLOOD - 1;
        const value = last ? interval : interval + 1 + (i % 7);
        packets.push(publish(topic(d, "set"), `{"id":"${700000 + i}","version":"1.0","params":{"interval":${value},"led":${i % 2 === 0}}}`));
      }
      return Buffer.concat(packets);
    },
    link: "keep",
    replies: [{ id: String(700000 + FLOOD - 1), code: 200 }],
    saves: 1,
  },
  {
    name: "a set with a 200-digit id",
    bytes: (d) => publish(topic(d, "set"), `{"id":"${"9".repeat(200)}","version":"1.0","params":{"led":true}}`),
    link: "keep",
    replies: [{ id: "9".repeat(200) }],
    intervalUnchanged: true,
  },
  {
    name: 'a get of params ["toString"]',
    bytes: (d) => publish(topic(d, "get"), '{"id":"900008","version":"1.0","params":["toString"]}'),
    link: "keep",
    replies: [{ id: "900008", code: 100, never: /function|native|\[object/ }],
    intervalUnchanged: true,
  },
  {
    // JSON.parse makes "__proto__" an own property: it must be refused as an unknown identifier,
    // and nothing of the set applied (all or nothing).
    name: "a set with __proto__",
    bytes: (d) => publish(topic(d, "set"), '{"id":"900009","version":"1.0","params":{"__proto__":{"interval":1},"interval":1}}'),
    link: "keep",
    replies: [{ id: "900009", code: 100 }],
    intervalUnchanged: true,
  },
];
