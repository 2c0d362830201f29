// The device's side of the wire during the soak, read from the XS lane's TcpLink: every connection
// attempt and every whole packet the device sent or received, stamped with the device's virtual time,
// and what the device is still owed an answer for. The soak's loop moves virtual time only when
// nothing is owed (or the emulator is holding uplink for its 1 message/s pacing), so an answer is
// never "late" because the host was slower than the virtual clock: no sleeping, no polling.
import type { XsLane } from "../sim/xs-lane.ts";
import type { TcpEvents } from "../sim/host.ts";
import { CONNACK, CONNECT, PINGREQ, PINGRESP, PUBACK, PUBLISH, SUBACK, SUBSCRIBE, UNSUBACK, UNSUBSCRIBE } from "../../mqtt/packets.ts";
import { Framer, subackCodes, subscribeFilters, type Frame } from "./frames.ts";

/** One packet on the device's wire. */
export interface WirePacket {
  readonly at: number;
  readonly conn: number;
  readonly out: boolean;
  readonly frame: Frame;
}

interface Conn {
  readonly id: number;
  connecting: boolean;
  readonly fromDevice: Framer;
  readonly toDevice: Framer;
  connack: number;
  pings: number;
  readonly acks: Set<number>;
  readonly subacks: Map<number, string[]>;
  readonly unsubacks: Set<number>;
  /** Reply topics the broker granted on this connection. */
  readonly granted: Set<string>;
  replies: number;
}

export interface WireListener {
  /** A connection attempt (the device called Socket). */
  connect?(at: number, conn: number): void;
  packet?(p: WirePacket): void;
  closed?(at: number, conn: number): void;
}

export class Wire {
  readonly #conns = new Map<number, Conn>();
  readonly #listeners: WireListener[] = [];
  #wake: (() => void) | undefined;
  #lane: XsLane | undefined;
  /** Every connection attempt ever made (across reboots). */
  attempts = 0;

  listen(listener: WireListener): void {
    this.#listeners.push(listener);
  }

  /** Taps a lane (each boot has its own link). */
  attach(lane: XsLane): void {
    this.#lane = lane;
    this.#conns.clear();
    const link = lane.link;
    const connect = link.connect.bind(link);
    const close = link.close.bind(link);
    link.connect = (host: string, port: number, events: TcpEvents): number => {
      const holder = { id: 0 };
      const wrapped: TcpEvents = {
        connected: () => {
          const c = this.#conns.get(holder.id);
          if (c) c.connecting = false;
          events.connected();
          this.#notify();
        },
        data: (bytes) => events.data(bytes),
        sent: (count) => events.sent(count),
        closed: () => {
          this.#drop(holder.id);
          events.closed();
        },
        error: (reason) => {
          this.#drop(holder.id);
          events.error(reason);
        },
      };
      const id = connect(host, port, wrapped);
      holder.id = id;
      this.attempts++;
      this.#conns.set(id, {
        id,
        connecting: true,
        fromDevice: new Framer(),
        toDevice: new Framer(),
        connack: 0,
        pings: 0,
        acks: new Set(),
        subacks: new Map(),
        unsubacks: new Set(),
        granted: new Set(),
        replies: 0,
      });
      const at = this.now();
      for (const l of this.#listeners) l.connect?.(at, id);
      return id;
    };
    link.close = (id: number): void => {
      this.#drop(id);
      close(id);
    };
    link.onTraffic = (direction, id, bytes) => this.#traffic(direction === "out", id, bytes);
  }

  /** The device's virtual time (epoch ms). */
  now(): number {
    return this.#lane ? this.#lane.clock.epoch() : 0;
  }

  /** What the device is still owed, summed over its connections (0: nothing in flight). */
  get owed(): number {
    let n = 0;
    for (const c of this.#conns.values()) {
      n += (c.connecting ? 1 : 0) + c.connack + c.pings + c.acks.size + c.subacks.size + c.unsubacks.size + c.replies;
    }
    return n;
  }

  /** Connections open or opening. */
  get open(): number {
    return this.#conns.size;
  }

  /** Bytes the device has received (all connections, this boot). */
  get bytesIn(): number {
    return this.#lane ? this.#lane.link.stats.bytesIn : 0;
  }

  /** Describes what is owed (for a harness failure message). */
  describeOwed(): string {
    const parts: string[] = [];
    for (const c of this.#conns.values()) {
      parts.push(`conn ${c.id}: connecting=${c.connecting} connack=${c.connack} pings=${c.pings} acks=${c.acks.size} subacks=${c.subacks.size} replies=${c.replies}`);
    }
    return parts.join("; ") || "nothing";
  }

  /** Resolves at the next change of what is owed. */
  changed(): Promise<void> {
    return new Promise((resolve) => {
      this.#wake = resolve;
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #drop(id: number): void {
    if (!this.#conns.delete(id)) return;
    const at = this.now();
    for (const l of this.#listeners) l.closed?.(at, id);
    this.#notify();
  }

  #traffic(out: boolean, id: number, bytes: Uint8Array): void {
    const c = this.#conns.get(id);
    if (!c) return;
    let frames: Frame[];
    try {
      frames = (out ? c.fromDevice : c.toDevice).push(bytes);
    } catch {
      return; // not MQTT framing: the device's decoder will refuse it and close
    }
    const at = this.now();
    for (const frame of frames) {
      if (out) this.#sent(c, frame);
      else this.#received(c, frame);
      for (const l of this.#listeners) l.packet?.({ at, conn: id, out, frame });
    }
    this.#notify();
  }

  #sent(c: Conn, f: Frame): void {
    switch (f.type) {
      case CONNECT:
        c.connack++;
        break;
      case PINGREQ:
        c.pings++;
        break;
      case SUBSCRIBE:
        c.subacks.set(f.messageId, subscribeFilters(f));
        break;
      case UNSUBSCRIBE:
        c.unsubacks.add(f.messageId);
        break;
      case PUBLISH:
        if (f.qos === 1) c.acks.add(f.messageId);
        if ((f.topic.endsWith("/thing/property/post") || f.topic.endsWith("/thing/event/post")) && c.granted.has(f.topic + "/reply")) c.replies++;
        break;
    }
  }

  #received(c: Conn, f: Frame): void {
    switch (f.type) {
      case CONNACK:
        if (c.connack > 0) c.connack--;
        break;
      case PINGRESP:
        if (c.pings > 0) c.pings--;
        break;
      case PUBACK:
        c.acks.delete(f.messageId);
        break;
      case SUBACK: {
        const filters = c.subacks.get(f.messageId);
        c.subacks.delete(f.messageId);
        const codes = subackCodes(f);
        if (filters) for (let i = 0; i < filters.length; i++) if (codes[i] !== undefined && codes[i]! < 0x80) c.granted.add(filters[i]!);
        break;
      }
      case UNSUBACK:
        c.unsubacks.delete(f.messageId);
        break;
      case PUBLISH:
        if (f.topic.endsWith("/post/reply") && c.replies > 0) c.replies--;
        break;
    }
  }
}
