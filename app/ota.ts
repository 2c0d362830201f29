// Updates over the air: binds the sans-I/O core (onenet/ota.ts) to the SDK's `http` Request (over
// SecureSocket with OneNET's CA when otaTls), one Timer, the OneNET device's paced uplink (inform
// replies), a fresh device token per request, preferences (the record kept across the restart) and the
// platform's OTA parts (platform/ota: the next slot, restart, mark valid).
//
// Everything runs on callbacks and timers, never a blocking loop: reports and replies keep flowing
// during a download. Callbacks from the HTTP request and MQTT only feed the core and schedule the pump
// on the next turn, so no request starts deep in another's stack (the board's XS stack is 512 slots).
// Every entry is guarded; input is bounded (headers, JSON bodies, body bytes against the range asked).

import Timer from "timer";
import Preference from "preference";
import { Request, type RequestDictionary } from "http";
import SecureSocket from "securesocket";
import { Digest } from "crypt";
import { describe, type Logger } from "../lib/log";
import { epochKnown, type Uptime } from "../lib/time";
import { utf8Encode } from "../lib/utf8";
import { token, tokenExpiry } from "../onenet/token";
import { onenetTls } from "../onenet/tls";
import type { OneNetClient } from "../onenet/client";
import { ACT_MARK_VALID, ACT_RESTART, INFORM_MAX, isVersion, JSON_MAX, OtaCore, REQ_DOWNLOAD, type OtaDigest, type OtaRecord, type OtaRequest } from "../onenet/ota";
import type { OtaPlatform } from "../platform/types";
import type { AppConfig } from "./config";

/** Headers an answer may have, and the longest value read: more is not OneNET, the request is cut. */
const MAX_HEADERS = 32;
const MAX_HEADER_VALUE = 256;
/** While offline, or while a new image proves itself, how often the pump looks again (ms). */
const POLL = 5000;
/** Restart this long after the core asks (ms): the last log lines leave the UART first. */
const RESTART_DELAY = 500;
const PREF_DOMAIN = "ota";
const PREF_TASK = "task";

export interface OtaClientOptions {
  readonly cfg: AppConfig;
  readonly log: Logger;
  readonly uptime: Uptime;
  readonly onenet: OneNetClient;
  readonly platform: OtaPlatform;
  /** Why a download must not start now (readings backlog), or undefined. */
  readonly holdDownload: () => string | undefined;
}

/** The record kept in preferences: "tid target from" (versions have no spaces). */
function loadRecord(log: Logger): OtaRecord | undefined {
  let text: unknown;
  try {
    text = Preference.get(PREF_DOMAIN, PREF_TASK);
  } catch {
    return undefined;
  }
  if (typeof text !== "string" || text.length > 160) return undefined;
  const parts = text.split(" ");
  const tid = Number(parts[0]);
  if (parts.length !== 3 || !Number.isInteger(tid) || tid < 0 || !isVersion(parts[1]) || !isVersion(parts[2])) {
    log.log("WARN", "ota", "update record unreadable: forgotten");
    return undefined;
  }
  return { tid, target: parts[1], from: parts[2] };
}

export class OtaClient {
  readonly core: OtaCore;
  /** Set by the app when a post was answered 200 (the new image's proof, with MQTT up). */
  replied = false;
  readonly #cfg: AppConfig;
  readonly #log: Logger;
  readonly #uptime: Uptime;
  readonly #onenet: OneNetClient;
  readonly #platform: OtaPlatform;
  #request: Request | undefined;
  #kind = 0;
  #status = 0;
  #headers = 0;
  #contentRange: string | undefined;
  #body = "";
  #tooLarge = false;
  #timer: Timer | undefined;
  #pumpPending = false;
  #inform: Uint8Array | undefined;
  readonly #onPumpTimer = (): void => {
    this.#timer = undefined;
    this.#pumpPending = false;
    try {
      this.#pump();
    } catch (e) {
      this.#log.log("ERROR", "ota", "pump failed", { error: describe(e) });
    }
  };
  readonly #onHttp = (message: number, value?: unknown, etc?: unknown): void => {
    try {
      this.#http(message, value, etc);
    } catch (e) {
      this.#log.log("ERROR", "ota", "HTTP handler failed", { error: describe(e) });
      this.#cut(this.#kind === REQ_DOWNLOAD ? "http" : undefined);
    }
  };
  readonly #onRestart = (): void => {
    this.#platform.restart();
  };

  constructor(options: OtaClientOptions) {
    const cfg = (this.#cfg = options.cfg);
    this.#log = options.log;
    this.#uptime = options.uptime;
    this.#onenet = options.onenet;
    this.#platform = options.platform;
    const platform = options.platform;
    const digest: OtaDigest = new Digest("MD5");
    this.core = new OtaCore({
      product: cfg.product,
      device: cfg.device,
      version: cfg.version,
      checkHours: cfg.ota.checkHours,
      proveMs: cfg.ota.proveSeconds * 1000,
      ports: {
        slot: platform.slot,
        digest,
        save: (record) => this.#save(record),
        holdDownload: options.holdDownload,
        log: options.log,
      },
    });
    this.core.boot(this.#uptime.now(), loadRecord(options.log));
    this.#schedule(0);
  }

  /** An ota/inform notice (from deep in the MQTT client's stack): copied, handled on the next turn. */
  inform(payload: Uint8Array): void {
    if (payload.length > INFORM_MAX) {
      this.#log.log("WARN", "ota", "ota/inform too large, ignored", { bytes: payload.length });
      return;
    }
    this.#inform = payload.slice();
    this.#schedule(0);
  }

  #save(record: OtaRecord | undefined): void {
    if (record === undefined) Preference.delete(PREF_DOMAIN, PREF_TASK);
    else Preference.set(PREF_DOMAIN, PREF_TASK, `${record.tid} ${record.target} ${record.from}`);
  }

  #schedule(ms: number): void {
    // A pump already due on the next turn reschedules itself when it runs.
    if (this.#pumpPending) return;
    if (ms === 0) this.#pumpPending = true;
    if (this.#timer !== undefined) Timer.clear(this.#timer);
    this.#timer = Timer.set(this.#onPumpTimer, ms);
  }

  #pump(): void {
    const core = this.core;
    const now = this.#uptime.now();
    const inform = this.#inform;
    if (inform !== undefined) {
      this.#inform = undefined;
      core.onInform(inform, now);
    }
    if (this.replied && core.proving && this.#onenet.online) core.onProved(now);
    core.service(now);
    if (core.abort) {
      core.abort = false;
      this.#close();
    }
    for (let reply = core.nextReply(); reply !== undefined; reply = core.nextReply()) {
      try {
        this.#onenet.publish(this.#onenet.device.topics.otaInformReply, utf8Encode(reply), 0, true);
      } catch (e) {
        this.#log.log("WARN", "ota", "inform reply not queued", { error: describe(e) });
      }
    }
    const action = core.takeAction();
    if (action === ACT_MARK_VALID) {
      if (!this.#platform.markValid()) this.#log.log("ERROR", "ota", "marking the image valid was refused");
    } else if (action === ACT_RESTART) {
      this.#log.log("WARN", "ota", "restarting", { version: this.#cfg.version });
      this.#close();
      Timer.set(this.#onRestart, RESTART_DELAY);
      return;
    }
    // HTTP only while the device is online: the MQTT login says the network and OneNET are there.
    const online = this.#onenet.online;
    if (this.#request === undefined && online) {
      const r = core.nextRequest(now);
      if (r !== undefined) this.#begin(r);
    }
    let next = core.service(now);
    if ((core.proving || !online) && next > now + POLL) next = now + POLL;
    if (next !== Infinity) this.#schedule(next > now ? next - now : 1);
  }

  #begin(r: OtaRequest): void {
    const cfg = this.#cfg;
    const epoch = epochKnown(Date.now()) ? Date.now() : undefined;
    const auth = token({ product: cfg.product, device: cfg.device, key: cfg.key, et: tokenExpiry(epoch, cfg.tokenTtl, cfg.et), method: cfg.method });
    const headers: string[] = ["Authorization", auth];
    if (r.kind === REQ_DOWNLOAD) headers.push("Range", `bytes=${r.from}-${r.to}`);
    else headers.push("Accept", "application/json");
    if (r.body !== undefined) headers.push("Content-Type", "application/json");
    this.#kind = r.kind;
    this.#status = 0;
    this.#headers = 0;
    this.#contentRange = undefined;
    this.#body = "";
    this.#tooLarge = false;
    try {
      // The SDK spreads this over its defaults: a key given as undefined would replace the default Socket.
      const options: RequestDictionary = { host: cfg.ota.host, port: cfg.ota.port, path: r.path, method: r.method, headers };
      if (r.body !== undefined) options.body = r.body;
      if (cfg.ota.tls) {
        options.Socket = SecureSocket;
        options.secure = onenetTls();
      }
      this.#request = new Request(options);
    } catch (e) {
      this.#log.log("WARN", "ota", "HTTP request not made", { error: describe(e) });
      this.#ended("link");
      return;
    }
    this.#request.callback = this.#onHttp;
  }

  #http(message: number, value: unknown, etc: unknown): void {
    const request = this.#request;
    if (request === undefined) return;
    const now = this.#uptime.now();
    const download = this.#kind === REQ_DOWNLOAD;
    switch (message) {
      case Request.status:
        this.#status = typeof value === "number" ? value : 0;
        return;
      case Request.header: {
        const name = String(value);
        const data = String(etc);
        if (++this.#headers > MAX_HEADERS || data.length > MAX_HEADER_VALUE) {
          this.#log.log("WARN", "ota", "HTTP answer headers beyond bounds: cut", { headers: this.#headers });
          this.#cut("http");
          return;
        }
        if (name === "content-range") this.#contentRange = data;
        else if (name === "content-length" && !download && Number(data) > JSON_MAX) this.#tooLarge = true;
        return;
      }
      case Request.headersComplete:
        if (download && !this.core.onHeaders(this.#status, this.#contentRange, now)) this.#cut("http");
        return;
      case Request.responseFragment: {
        const n = typeof value === "number" ? value : 0;
        if (download) {
          if (n > 0 && !this.core.onData(request.read(ArrayBuffer, n), now)) this.#cut("http");
          return;
        }
        if (this.#tooLarge || this.#body.length + n > JSON_MAX) {
          this.#log.log("WARN", "ota", "HTTP answer larger than a OneNET answer: cut", { bytes: this.#body.length + n });
          this.#cut(undefined);
          return;
        }
        if (n > 0) this.#body += request.read(String, n);
        return;
      }
      case Request.responseComplete:
        this.#request = undefined;
        if (download) this.core.onDownloadEnd(undefined, now);
        else this.core.onJson(this.#status, this.#tooLarge ? undefined : this.#body, now);
        this.#body = "";
        this.#schedule(0);
        return;
      default:
        if (message < 0) {
          this.#request = undefined;
          this.#ended("link");
        }
    }
  }

  /** Cuts the request being made; `failure` reported to the core (undefined: a JSON answer, already bounded). */
  #cut(failure: "http" | undefined): void {
    this.#close();
    if (this.#kind === REQ_DOWNLOAD) this.core.onDownloadEnd(failure ?? "http", this.#uptime.now());
    else this.core.onJson(this.#status, undefined, this.#uptime.now());
    this.#schedule(0);
  }

  #ended(failure: "link"): void {
    if (this.#kind === REQ_DOWNLOAD) this.core.onDownloadEnd(failure, this.#uptime.now());
    else this.core.onJsonFailed(failure, this.#uptime.now());
    this.#schedule(0);
  }

  #close(): void {
    const r = this.#request;
    this.#request = undefined;
    try {
      r?.close();
    } catch {
      // a request the peer already closed
    }
  }
}
