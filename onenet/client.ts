// The OneNET device on the project's MQTT client: binds the sans-I/O profile (./device) to
// mqtt/client (socket, reconnect, outbox) and one Timer (uplink pacing, reply timeouts).
//
//   const onenet = new OneNetClient({ config, onSet: (id, value) => …, log });
//   onenet.connect();
//   onenet.report({ temp: 23.6, humi: 41 });          // -> "1", "2", … (paced to 1 message/s)
//   onenet.postEvent("alarm", { code: 1, msg: "sensor lost" });
//
// Login (clientId = device, username = product, password = token, clean session, no will) comes from
// the config; the MQTT client never sees a will, QoS 2 or retain from here.

import Timer from "timer";
import Time from "time";
import { MqttClient } from "../mqtt/client";
import type { ClientOptions } from "../mqtt/client";
import { describe, type Logger } from "../lib/log";
import { Uptime } from "../lib/time";
import { OneNetDevice } from "./device";
import { DOWNLINK_LIMITS, type HistorySeries } from "./payload";
import type { OneNetDeviceOptions, OneNetLink } from "./device";

export interface OneNetClientOptions extends Omit<OneNetDeviceOptions, "link" | "log"> {
  /** The app's logger; OneNET lines use area "onenet", MQTT lines "mqtt". */
  readonly log?: Logger;
  /** MQTT client settings other than the login (outbox size, storage, backoff, maxInflight, …). */
  readonly mqtt?: Omit<ClientOptions, "host" | "address" | "port" | "clientId" | "username" | "password" | "clean" | "keepalive" | "will" | "log" | "uptime">;
  /** Messages on topics the profile does not handle (e.g. thing/service/…/invoke). */
  readonly onOtherMessage?: (topic: string, payload: Uint8Array) => void;
  /** Login state changes: true on CONNACK 0, false when the connection is lost. */
  readonly onOnline?: (online: boolean) => void;
  /** The app's clock (default: one of its own over Time.ticks); pacing and reply deadlines use it. */
  readonly uptime?: Uptime;
}

/** The largest PUBLISH the device accepts: a downlink payload, a topic (at most 512 bytes) and headers. */
export const MAX_DOWNLINK_PACKET = DOWNLINK_LIMITS.bytes + 512 + 16;

/** What a refused login means on OneNET (CONNACK return codes). */
function refusalHint(code: number): string {
  if (code === 4 || code === 5) return "check product, device, key, method and et (the token), and that clientId is the device name";
  if (code === 2) return "the platform refused the client id (device name)";
  return "the platform is not accepting logins now";
}

export class OneNetClient {
  readonly device: OneNetDevice;
  readonly mqtt: MqttClient;
  readonly #options: OneNetClientOptions;
  #timer: Timer | undefined;
  #timerAt = Infinity;
  readonly #onTimer: () => void;
  readonly #uptime: Uptime;

  constructor(options: OneNetClientOptions) {
    this.#options = options;
    this.#uptime = options.uptime ?? new Uptime(() => Time.ticks);
    const log = options.log;
    let client: MqttClient | undefined;
    const link: OneNetLink = {
      publish(topic, payload, qos, retain) {
        if (client!.publish(topic, payload, { qos, retain }) === 0) throw new Error("MQTT outbox full");
      },
      subscribe(topics, qos) {
        client!.subscribe(topics as string[], { qos });
      },
      restoresSubscriptions: true,
    };
    // The app's reply handler goes to the device as it is (no frame of ours in between: a post reply
    // over TLS runs close to the board's 512-slot stack); client.onMessage below sees the 200 replies.
    this.device = new OneNetDevice({ ...options, link, log });
    const device = this.device;
    const login = device.connectOptions();
    client = new MqttClient({
      // OneNET's downlinks are small (docs/onenet.md): a packet holds at most one downlink payload
      // (DOWNLINK_LIMITS) plus its topic, so nothing near the heap's size is ever buffered.
      maxPacketSize: MAX_DOWNLINK_PACKET,
      ...options.mqtt,
      host: login.host,
      port: login.port,
      clientId: login.clientId,
      username: login.username,
      // A fresh token at every connect (it expires once the clock is known: OneNetDevice.password).
      password: () => device.password(),
      clean: login.clean,
      keepalive: login.keepalive,
      log,
      uptime: this.#uptime, // one clock for pacing, reply deadlines and the MQTT timers
    });
    this.mqtt = client;
    // Every entry from the outside world (socket data, timers) is guarded here: an exception in the
    // OneNET layer or in an app handler is logged and the device goes on.
    this.#onTimer = () => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      try {
        this.#service();
      } catch (e) {
        this.#failed("uplink timer", e);
      }
    };
    client.onConnect = () => {
      try {
        // the outbox's messages go out again right now: the profile's uplink waits their turns (1 message/s)
        this.device.onConnected(this.#uptime.now(), this.mqtt.outbox.length);
        options.onOnline?.(true);
        this.#service();
      } catch (e) {
        this.#failed("connect handler", e);
      }
    };
    client.onClose = () => {
      try {
        if (this.device.connected) {
          this.device.onDisconnected(this.#uptime.now());
          options.onOnline?.(false);
        }
      } catch (e) {
        this.#failed("close handler", e);
      }
    };
    client.onMessage = (topic, payload) => {
      try {
        const stats = device.stats;
        const replies = stats.replies;
        const refused = stats.refusedByPlatform;
        const now = this.#uptime.now();
        if (device.onMessage(topic, payload, now)) {
          // The platform answered a post with 200: login, topics and payload all work, so the
          // connection has proved itself and the next loss may reconnect quickly again.
          if (stats.replies > replies && stats.refusedByPlatform === refused) this.mqtt.connectionProved();
          this.#serviceAt(now);
        } else options.onOtherMessage?.(topic, payload);
      } catch (e) {
        this.#failed("downlink handler", e);
      }
    };
    client.onRefused = (code, reason) => {
      log?.log("ERROR", "onenet", `login refused code=${code} (${reason}): ${refusalHint(code)}`);
    };
    client.onDrain = () => {
      try {
        this.#service();
      } catch (e) {
        this.#failed("drain handler", e);
      }
    };
  }

  /** Starts connecting; the MQTT client reconnects by itself until end(). */
  connect(): void {
    this.mqtt.connect();
  }

  end(): void {
    if (this.#timer !== undefined) Timer.clear(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    this.mqtt.end();
  }

  get online(): boolean {
    return this.device.connected;
  }

  /** Queues a property report; returns its id. Throws OneNetError when refused (see OneNetDevice.report). */
  report(params: { readonly [identifier: string]: unknown }): string {
    const now = this.#uptime.now();
    const id = this.device.report(params, now);
    this.#serviceAt(now);
    return id;
  }

  /**
   * Queues a live post of a reading kept in the readings log (store/uplink.ts): QoS 0, stamped with the
   * reading's own time (undefined: the platform stamps it). Returns its id.
   */
  reportReading(params: { readonly [identifier: string]: unknown }, time: number | undefined): string {
    const now = this.#uptime.now();
    const id = this.device.report(params, now, { time, qos: 0 });
    this.#serviceAt(now);
    return id;
  }

  /** Queues a history post of back-filled readings (see OneNetDevice.postHistory); returns its id. */
  postHistory(series: readonly HistorySeries[], scratch: Uint8Array): string {
    const id = this.device.postHistory(series, this.#uptime.now(), scratch);
    this.#service();
    return id;
  }

  /** Queues an event post; returns its id. */
  postEvent(identifier: string, value: { readonly [key: string]: unknown }): string {
    const id = this.device.postEvent(identifier, value, this.#uptime.now());
    this.#service();
    return id;
  }

  /** Publishes on another topic of the device's space (QoS 0/1, no retain), paced like the rest; `reply`: before posts. */
  publish(topic: string, payload: Uint8Array, qos: 0 | 1 = 0, reply = false): void {
    this.device.publish(topic, payload, qos, false, this.#uptime.now(), reply);
    this.#service();
  }

  /** Tells the MQTT client about Wi-Fi. */
  networkDown(): void {
    this.mqtt.networkDown();
  }

  networkUp(): void {
    this.mqtt.networkUp();
  }

  #failed(what: string, e: unknown): void {
    this.#options.log?.log("ERROR", "onenet", what + " failed", { error: describe(e) });
  }

  #service(): void {
    this.#serviceAt(this.#uptime.now());
  }

  /**
   * #service with the `now` its caller already read: the clock is read once per report and per
   * reply (a wrap-safe read costs more than the device's whole service pass).
   */
  #serviceAt(now: number): void {
    // May be re-entered from MQTT's onDrain while the device hands a message over: the device has
    // already taken that message from its queue and moved its pacing mark, so the inner pass sends
    // nothing twice (onenet/device.ts service).
    const next = this.device.service(now);
    if (next === this.#timerAt) return;
    if (this.#timer !== undefined) Timer.clear(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next;
    if (next !== Infinity) this.#timer = Timer.set(this.#onTimer, next > now ? next - now : 0);
  }
}
