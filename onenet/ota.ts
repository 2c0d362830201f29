// Firmware updates over the air from OneNET (docs/onenet.md "OTA", docs/moddable.md "OTA and rollback"):
// the decisions, sans-I/O. It never touches a socket, timer, flash or clock: the binding
// (app/ota.ts) feeds it `now`, MQTT notices and HTTP results, makes the one HTTP request it asks for at a
// time (`nextRequest`), publishes the inform replies it queues through the OneNET device's paced uplink
// (1 msg/s), performs its actions (restart, mark valid) and calls service(now) at the deadline it
// returns. Writing the slot, hashing and the record kept across the restart are small synchronous
// ports (OtaPorts), so the same object runs in tests in Node and inside XS.
//
// Sequence: at boot report the version, then check (and on every ota/inform, and every `checkEvery`);
// a task for another version, type 1, that fits the slot is downloaded in ranged chunks, each fragment
// written to the slot and hashed as it arrives (so a chunk never has to fit the heap); a dropped chunk
// resumes at the last written byte; size and MD5 are checked before the slot is completed; then step
// 101 and a restart. The new image reports its version and, once it has proved itself (MQTT up and a
// post answered 200), is marked valid and reports 201; if it cannot within `otaProve` (PROVE_MS by default) it restarts, and
// the bootloader goes back to the previous image.

import type { Logger } from "../lib/log";
import { utf8Decode } from "../lib/utf8";

/** Steps the device reports (POST …/status). */
export const STEP = Object.freeze({
  downloaded: 101,
  noSpace: 102,
  timeout: 104,
  signal: 106,
  downloadFailed: 107,
  upgraded: 201,
  md5: 205,
  upgradeFailed: 207,
} as const);

/**
 * Bytes asked for per ranged GET. Fragments are written and hashed as they arrive, so the app holds
 * one socket read at a time; but under TLS the SDK's session reads a whole record before it decrypts
 * it, and a server writes records as large as the data it has, up to 16 KB: the range bounds the
 * record. Measured on the SDK's lin simulator within the esp32 creation, MQTT over TLS up and the image
 * coming over HTTPS (docs/moddable.md "TLS"): 16 KB ranges peaked at 51.9 KB of live chunks and needed
 * more than 53,248 bytes of chunk heap, 8 KB ranges 44.0 KB and ran in 49,152, leaving 16 KB of the
 * 64 KB creation free for what can happen at the same time (a backlog drain, a downlink). Each range
 * costs one HTTP request (a TCP connect, under TLS a handshake of seconds): ~200 for a full 1.6 MB
 * slot, each well inside CHUNK_TIMEOUT on a 1 KB/s link. A resume loses nothing either way (it starts
 * at the last written byte, not the range's start).
 */
export const CHUNK = 8192;
/** A JSON request (version, check, status) that has not finished in this long is given up (ms). */
export const REQUEST_TIMEOUT = 20_000;
/** A chunk that has not finished in this long is cut and resumed (ms). */
export const CHUNK_TIMEOUT = 60_000;
/** Failed attempts in a row (no byte gained between them) before a download is given up. */
export const MAX_TRIES = 5;
/** First retry delay (ms); doubles per failure up to BACKOFF_MAX. */
export const BACKOFF = 2000;
export const BACKOFF_MAX = 60_000;
/** The new image must prove itself within this long after boot, or it restarts into the old one (ms). */
export const PROVE_MS = 600_000;
/** A download held back (readings backlog) is tried again this often (ms). */
export const HOLD_RETRY = 60_000;
/** Largest JSON answer read (bytes); the platform's are a few hundred. */
export const JSON_MAX = 1024;
/** Largest ota/inform payload parsed (bytes). */
export const INFORM_MAX = 1024;
/** Longest version string taken from the platform. */
export const VERSION_MAX = 64;

export interface OtaTask {
  readonly tid: number;
  readonly target: string;
  readonly size: number;
  /** 32 lower-case hex digits. */
  readonly md5: string;
  /** 1 full image (the only kind supported), 2 differential. */
  readonly type: number;
}

/** Kept in flash across the restart into a new image: which task it was and what ran before. */
export interface OtaRecord {
  readonly tid: number;
  readonly target: string;
  readonly from: string;
}

/** The next OTA slot (embedded:update over the "nextota" partition on the board). */
export interface OtaSlot {
  /** Bytes the slot holds. */
  readonly size: number;
  /** Opens the slot for an image of `size` bytes, written in order. Throws when it cannot. */
  begin(size: number): void;
  write(bytes: ArrayBuffer): void;
  /** Ends the image and makes it the one booted next. Throws when the image is refused. */
  complete(): void;
  /** Closes the slot without switching the boot image. */
  abort(): void;
}

/** The SDK's `crypt` Digest("MD5") surface the core needs. */
export interface OtaDigest {
  write(bytes: ArrayBuffer): void;
  close(): ArrayBuffer;
  reset(): void;
}

export interface OtaPorts {
  readonly slot: OtaSlot;
  readonly digest: OtaDigest;
  /** Keeps (or with undefined forgets) the record read back at the next boot. */
  save(record: OtaRecord | undefined): void;
  /** Why a download must not start now (e.g. the readings backlog), or undefined. */
  holdDownload(): string | undefined;
  readonly log?: Logger;
}

export interface OtaOptions {
  readonly product: string;
  readonly device: string;
  /** The running image's version (config `version`). */
  readonly version: string;
  /** Hours between checks; 0: only at boot and on a notice. */
  readonly checkHours: number;
  readonly ports: OtaPorts;
  /** Bytes per ranged GET (default CHUNK). */
  readonly chunk?: number;
  /** How long a new image has to prove itself, ms (default PROVE_MS). */
  readonly proveMs?: number;
}

export const REQ_VERSION = 1;
export const REQ_CHECK = 2;
export const REQ_STATUS = 3;
export const REQ_DOWNLOAD = 4;
export type RequestKind = 1 | 2 | 3 | 4;

/** One HTTP request the binding is asked to make (Authorization: a fresh device token). */
export interface OtaRequest {
  readonly kind: RequestKind;
  readonly method: "GET" | "POST";
  readonly path: string;
  /** JSON body for POST. */
  readonly body: string | undefined;
  /** Inclusive byte range for a download. */
  readonly from: number;
  readonly to: number;
}

/** Why a request did not finish: the binding's words, mapped to the failure steps. */
export type Failure = "timeout" | "link" | "http";

const NONE = 0;
export const ACT_RESTART = 1;
export const ACT_MARK_VALID = 2;

interface Status {
  readonly tid: number;
  readonly step: number;
  tries: number;
}

/** Lower-case hex of a digest. */
export function hex(buffer: ArrayBuffer): string {
  const b = new Uint8Array(buffer);
  let s = "";
  for (let i = 0; i < b.length; i++) s += (b[i] < 16 ? "0" : "") + b[i].toString(16);
  return s;
}

function isMd5(s: unknown): s is string {
  if (typeof s !== "string" || s.length !== 32) return false;
  for (let i = 0; i < 32; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

function isCount(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/** A version string the device will put in a URL and a record: printable ASCII, no spaces, bounded. */
export function isVersion(s: unknown): s is string {
  if (typeof s !== "string" || s.length === 0 || s.length > VERSION_MAX) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c >= 127) return false;
  }
  return true;
}

/** The id of an ota/inform notice, or undefined when the payload is not one (bounded before parsing). */
export function parseInform(payload: Uint8Array): string | undefined {
  if (payload.length === 0 || payload.length > INFORM_MAX) return undefined;
  let m: unknown;
  try {
    m = JSON.parse(utf8Decode(payload));
  } catch {
    return undefined;
  }
  if (typeof m !== "object" || m === null) return undefined;
  const id = (m as { id?: unknown }).id;
  if (typeof id !== "string" || id.length === 0 || id.length > 32) return undefined;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  return id;
}

/** A check answer's task, or undefined when there is none or it is malformed. */
export function parseTask(data: unknown): OtaTask | undefined {
  if (typeof data !== "object" || data === null) return undefined;
  const d = data as { tid?: unknown; target?: unknown; size?: unknown; md5?: unknown; type?: unknown };
  if (!isCount(d.tid) || !isVersion(d.target) || !isCount(d.size) || d.size === 0 || !isMd5(d.md5)) return undefined;
  if (typeof d.type !== "number") return undefined;
  return { tid: d.tid, target: d.target, size: d.size, md5: d.md5, type: d.type };
}

/** `bytes s-e/total` -> [s, e, total], or undefined. */
export function parseContentRange(value: string): [number, number, number] | undefined {
  if (value.length > 64 || value.slice(0, 6).toLowerCase() !== "bytes ") return undefined;
  const dash = value.indexOf("-", 6);
  const slash = value.indexOf("/", dash);
  if (dash < 0 || slash < 0) return undefined;
  const n = (s: string): number => (s.length > 0 && s.length <= 10 && String(Number(s)) === s ? Number(s) : -1);
  const s = n(value.slice(6, dash));
  const e = n(value.slice(dash + 1, slash));
  const total = n(value.slice(slash + 1));
  if (s < 0 || e < s || total <= e) return undefined;
  return [s, e, total];
}

export class OtaCore {
  readonly version: string;
  readonly #prefix: string;
  readonly #ports: OtaPorts;
  readonly #chunk: number;
  readonly #checkEvery: number;
  /** Inform replies (JSON) waiting for the uplink. */
  readonly #replies: string[] = [];
  readonly #statuses: Status[] = [];
  #wantVersion = false;
  #versionTries = 0;
  /** A failed version report waits until then; other requests go meanwhile. */
  #versionAt = 0;
  #wantCheck = false;
  #checkTries = 0;
  #nextCheck = Infinity;
  /** The request being made (0: none), and when it is given up. */
  #inflight = NONE;
  #inflightUntil = Infinity;
  #inflightStatus: Status | undefined;
  /** Nothing starts before this (backoff after a failure). */
  #retryAt = 0;
  #task: OtaTask | undefined;
  #began = false;
  #offset = 0;
  #tries = 0;
  #lastFailure: Failure = "link";
  #chunkTo = 0;
  #chunkOk = false;
  #nextProgress = 10;
  #holdAt = 0;
  #held = "";
  #failedTid = -1;
  #restartAfter101 = false;
  #proving: OtaRecord | undefined;
  #proveUntil = Infinity;
  readonly #proveMs: number;
  #proved = false;
  #action = NONE;
  #now = 0;
  /** Set when the binding must cut the request it is making (its deadline passed). */
  abort = false;

  constructor(options: OtaOptions) {
    this.version = options.version;
    this.#prefix = `/fuse-ota/${options.product}/${options.device}/`;
    this.#ports = options.ports;
    this.#chunk = options.chunk ?? CHUNK;
    this.#proveMs = options.proveMs ?? PROVE_MS;
    this.#checkEvery = options.checkHours > 0 ? options.checkHours * 3_600_000 : Infinity;
  }

  /** True while an image is being downloaded. */
  get downloading(): boolean {
    return this.#task !== undefined;
  }

  /** Bytes of the image written so far. */
  get offset(): number {
    return this.#offset;
  }

  /** True from boot into a new image until it proved itself. */
  get proving(): boolean {
    return this.#proving !== undefined && !this.#proved;
  }

  /**
   * Boot: `record` is what save() kept before the last restart. Running its target: a new image that
   * must prove itself. Running something else: the new image did not stay (rollback), which the
   * platform is told (207). Then the version is reported and a check made.
   */
  boot(now: number, record: OtaRecord | undefined): void {
    this.#now = now;
    this.#wantVersion = true;
    if (record !== undefined) {
      if (record.target === this.version) {
        this.#proving = record;
        this.#proveUntil = now + this.#proveMs;
        this.#log("INFO", "new image running: it must prove itself (MQTT up, a post answered)", { version: this.version, tid: record.tid, seconds: this.#proveMs / 1000 });
      } else {
        this.#log("ERROR", "the new image did not stay: back on the previous one", { running: this.version, target: record.target, tid: record.tid });
        this.#failedTid = record.tid;
        this.#ports.save(undefined);
        this.#status(record.tid, STEP.upgradeFailed);
      }
    }
    if (this.#proving === undefined) this.#wantCheck = true;
    this.#nextCheck = now + this.#checkEvery;
  }

  /** An ota/inform notice: answered through the uplink, then a check (unless one is under way). */
  onInform(payload: Uint8Array, now: number): boolean {
    this.#now = now;
    const id = parseInform(payload);
    if (id === undefined) {
      this.#log("WARN", "ota/inform not understood, ignored", { bytes: payload.length });
      return false;
    }
    if (this.#replies.length >= 4) this.#replies.shift();
    this.#replies.push(`{"id":"${id}","code":200,"msg":"ok"}`);
    if (this.#task === undefined && !this.proving) {
      this.#wantCheck = true;
      this.#checkTries = 0;
    }
    return true;
  }

  /** The next inform reply to publish (paced by the OneNET device), or undefined. */
  nextReply(): string | undefined {
    return this.#replies.shift();
  }

  /**
   * The running image has proved itself: connected and a post answered 200. A new image is marked
   * valid now (ACT_MARK_VALID) and 201 reported.
   */
  onProved(now: number): void {
    this.#now = now;
    const p = this.#proving;
    if (p === undefined || this.#proved) return;
    this.#proved = true;
    this.#proveUntil = Infinity;
    this.#action = ACT_MARK_VALID;
    this.#log("INFO", "new image proved itself: marked valid", { version: this.version, tid: p.tid });
    this.#status(p.tid, STEP.upgraded);
    this.#wantCheck = true;
  }

  /** ACT_RESTART, ACT_MARK_VALID or 0; taken once. */
  takeAction(): number {
    const a = this.#action;
    this.#action = NONE;
    return a;
  }

  /** The request to make now, or undefined (one at a time; the binding reports how it ended). */
  nextRequest(now: number): OtaRequest | undefined {
    this.#now = now;
    if (this.#inflight !== NONE || now < this.#retryAt || this.#action === ACT_RESTART || this.#restartNow) return undefined;
    const status = this.#statuses[0];
    if (status !== undefined) {
      this.#inflightStatus = status;
      return this.#start(REQ_STATUS, "POST", `${this.#prefix}${status.tid}/status`, `{"step":${status.step}}`, 0, 0, REQUEST_TIMEOUT);
    }
    if (this.#wantVersion && now >= this.#versionAt) {
      return this.#start(REQ_VERSION, "POST", this.#prefix + "version", `{"s_version":${JSON.stringify(this.version)}}`, 0, 0, REQUEST_TIMEOUT);
    }
    if (this.#restartAfter101) return undefined;
    if (this.#task !== undefined) return this.#nextChunk(now);
    if (this.#wantCheck) {
      return this.#start(REQ_CHECK, "GET", `${this.#prefix}check?type=2&version=${encodeURIComponent(this.version)}`, undefined, 0, 0, REQUEST_TIMEOUT);
    }
    return undefined;
  }

  #restartNow = false;

  #start(kind: RequestKind, method: "GET" | "POST", path: string, body: string | undefined, from: number, to: number, timeout: number): OtaRequest {
    this.#inflight = kind;
    this.#inflightUntil = this.#now + timeout;
    this.abort = false;
    return { kind, method, path, body, from, to };
  }

  #nextChunk(now: number): OtaRequest | undefined {
    const task = this.#task!;
    if (!this.#began) {
      const hold = this.#ports.holdDownload();
      if (hold !== undefined) {
        if (this.#held !== hold) this.#log("INFO", "download waits", { reason: hold, tid: task.tid });
        this.#held = hold;
        this.#holdAt = now + HOLD_RETRY;
        this.#retryAt = this.#holdAt;
        return undefined;
      }
      this.#held = "";
      try {
        this.#ports.slot.begin(task.size);
      } catch (e) {
        this.#fail(STEP.downloadFailed, "the slot cannot be opened: " + (e as Error).message);
        return undefined;
      }
      this.#ports.digest.reset();
      this.#began = true;
      this.#offset = 0;
      this.#tries = 0;
      this.#nextProgress = 10;
      this.#log("INFO", "download starts", { tid: task.tid, target: task.target, bytes: task.size, chunk: this.#chunk });
    }
    const from = this.#offset;
    const to = Math.min(from + this.#chunk, task.size) - 1;
    this.#chunkTo = to;
    this.#chunkOk = false;
    return this.#start(REQ_DOWNLOAD, "GET", `${this.#prefix}${task.tid}/download`, undefined, from, to, CHUNK_TIMEOUT);
  }

  /** A JSON request ended: HTTP `status` and its body (undefined when it was too large or unreadable). */
  onJson(status: number, body: string | undefined, now: number): void {
    this.#now = now;
    const kind = this.#inflight;
    if (kind === NONE || kind === REQ_DOWNLOAD) return;
    this.#inflight = NONE;
    let answer: { code?: unknown; data?: unknown } | undefined;
    if (body !== undefined && body.length <= JSON_MAX) {
      try {
        const parsed: unknown = JSON.parse(body);
        if (typeof parsed === "object" && parsed !== null) answer = parsed as { code?: unknown; data?: unknown };
      } catch {
        answer = undefined;
      }
    }
    const code = answer !== undefined && typeof answer.code === "number" ? answer.code : undefined;
    const ok = status >= 200 && status < 300 && code === 0;
    // A 4xx is final (refused, or no such API); no answer or a 5xx is tried again.
    const final = ok || (status >= 400 && status < 500);
    if (kind === REQ_VERSION) {
      if (final) {
        this.#wantVersion = false;
        this.#versionTries = 0;
        if (ok) this.#log("INFO", "version reported", { version: this.version });
        else this.#log("WARN", "version report refused", { status, code });
      } else if (++this.#versionTries >= MAX_TRIES) {
        this.#wantVersion = false;
        this.#log("WARN", "version report given up", { status, code });
      } else {
        const d = BACKOFF * 2 ** (this.#versionTries - 1);
        this.#versionAt = now + (d > BACKOFF_MAX ? BACKOFF_MAX : d);
      }
      return;
    }
    if (kind === REQ_STATUS) {
      const s = this.#inflightStatus!;
      this.#inflightStatus = undefined;
      if (final || ++s.tries >= MAX_TRIES) {
        if (!ok) this.#log("WARN", "step not reported", { tid: s.tid, step: s.step, status, code });
        this.#statusDone(s);
      } else this.#backoff(s.tries);
      return;
    }
    // check
    if (status >= 500 || status === 0) {
      if (++this.#checkTries < MAX_TRIES) {
        this.#backoff(this.#checkTries);
        return;
      }
    }
    this.#wantCheck = false;
    this.#checkTries = 0;
    this.#nextCheck = now + this.#checkEvery;
    if (!ok) {
      if (code === undefined || status !== 200) this.#log("WARN", "check failed", { status, code });
      return;
    }
    this.#decide(parseTask(answer!.data), answer!.data !== undefined);
  }

  #decide(task: OtaTask | undefined, hadData: boolean): void {
    if (task === undefined) {
      if (hadData) this.#log("WARN", "check answered a task that is not well formed: ignored");
      return;
    }
    if (task.target === this.version) {
      this.#log("INFO", "task is for the running version: nothing to do", { tid: task.tid, version: task.target });
      return;
    }
    if (task.tid === this.#failedTid) {
      this.#log("INFO", "task failed here before: not tried again until a reboot", { tid: task.tid });
      return;
    }
    if (task.type !== 1) {
      this.#log("WARN", "differential (or unknown) update refused: full images only", { tid: task.tid, type: task.type });
      this.#failedTid = task.tid;
      this.#status(task.tid, STEP.upgradeFailed);
      return;
    }
    if (task.size > this.#ports.slot.size) {
      this.#log("ERROR", "image larger than the OTA slot: not downloaded", { tid: task.tid, bytes: task.size, slot: this.#ports.slot.size });
      this.#failedTid = task.tid;
      this.#status(task.tid, STEP.noSpace);
      return;
    }
    this.#log("INFO", "update available", { tid: task.tid, from: this.version, target: task.target, bytes: task.size });
    this.#task = task;
    this.#began = false;
    this.#offset = 0;
  }

  /** Download: the answer's status line and Content-Range (undefined when absent). */
  onHeaders(status: number, contentRange: string | undefined, now: number): boolean {
    this.#now = now;
    if (this.#inflight !== REQ_DOWNLOAD) return false;
    const task = this.#task!;
    if (status === 206 && contentRange !== undefined) {
      const r = parseContentRange(contentRange);
      if (r !== undefined && r[0] === this.#offset && r[1] === this.#chunkTo && r[2] === task.size) {
        this.#chunkOk = true;
        return true;
      }
      this.#log("WARN", "download answer is not the range asked for", { asked: `${this.#offset}-${this.#chunkTo}/${task.size}`, got: contentRange.length > 64 ? "(long)" : contentRange });
    } else if (status === 200 && this.#offset === 0) {
      // The whole image (a server that ignores Range): taken as one chunk to the end.
      this.#chunkTo = task.size - 1;
      this.#chunkOk = true;
      return true;
    } else this.#log("WARN", "download refused", { status, tid: task.tid });
    return false;
  }

  /** Download: bytes of the body, in order. False: more than was asked for (the binding cuts it). */
  onData(bytes: ArrayBuffer, now: number): boolean {
    this.#now = now;
    if (this.#inflight !== REQ_DOWNLOAD || !this.#chunkOk) return false;
    const n = bytes.byteLength;
    if (this.#offset + n > this.#chunkTo + 1) {
      this.#log("WARN", "download answer longer than asked for: cut", { offset: this.#offset, bytes: n, to: this.#chunkTo });
      return false;
    }
    this.#ports.slot.write(bytes);
    this.#ports.digest.write(bytes);
    this.#offset += n;
    if (n > 0) this.#tries = 0;
    const task = this.#task!;
    const pct = Math.floor((this.#offset * 100) / task.size);
    if (pct >= this.#nextProgress && pct < 100) {
      const step = pct - (pct % 10);
      this.#nextProgress = step + 10;
      // A newer progress replaces one not yet sent: progress never queues up.
      const last = this.#statuses[this.#statuses.length - 1];
      if (last !== undefined && last.step < 100 && last !== this.#inflightStatus) this.#statuses.pop();
      this.#statuses.push({ tid: task.tid, step, tries: MAX_TRIES - 1 });
    }
    return true;
  }

  /** Download: the request ended; `failure` undefined when the body ended normally. */
  onDownloadEnd(failure: Failure | undefined, now: number): void {
    this.#now = now;
    if (this.#inflight !== REQ_DOWNLOAD) return;
    this.#inflight = NONE;
    const task = this.#task!;
    if (failure === undefined && this.#chunkOk && this.#offset === this.#chunkTo + 1) {
      if (this.#offset === task.size) this.#verify(task);
      return;
    }
    this.#lastFailure = failure ?? "http";
    if (++this.#tries >= MAX_TRIES) {
      const step = this.#lastFailure === "timeout" ? STEP.timeout : this.#lastFailure === "link" ? STEP.signal : STEP.downloadFailed;
      this.#fail(step, `download failed ${MAX_TRIES} times in a row (${this.#lastFailure})`);
      return;
    }
    this.#log("WARN", "download interrupted: resumes", { at: this.#offset, of: task.size, why: this.#lastFailure, attempt: this.#tries });
    this.#backoff(this.#tries);
  }

  /** A JSON request failed without an answer (link, timeout). */
  onJsonFailed(failure: Failure, now: number): void {
    void failure;
    this.onJson(0, undefined, now);
  }

  #verify(task: OtaTask): void {
    const md5 = hex(this.#ports.digest.close());
    if (md5 !== task.md5) {
      this.#log("ERROR", "image MD5 mismatch: discarded, the running image stays", { tid: task.tid, expected: task.md5, got: md5 });
      this.#fail(STEP.md5, "");
      return;
    }
    try {
      this.#ports.slot.complete();
    } catch (e) {
      this.#fail(STEP.upgradeFailed, "the slot refused the image: " + (e as Error).message);
      return;
    }
    this.#ports.save({ tid: task.tid, target: task.target, from: this.version });
    this.#log("INFO", "image downloaded and verified: restarting into it after step 101", { tid: task.tid, target: task.target, bytes: task.size, md5 });
    this.#task = undefined;
    this.#began = false;
    this.#restartAfter101 = true;
    this.#status(task.tid, STEP.downloaded);
  }

  #fail(step: number, why: string): void {
    const task = this.#task!;
    if (why !== "") this.#log("ERROR", "update failed: " + why, { tid: task.tid, step });
    if (this.#began) {
      try {
        this.#ports.slot.abort();
      } catch {
        // closing a slot that failed: nothing more to undo
      }
    }
    this.#failedTid = task.tid;
    this.#task = undefined;
    this.#began = false;
    this.#status(task.tid, step);
  }

  #status(tid: number, step: number): void {
    if (this.#statuses.length >= 8) this.#statuses.shift();
    this.#statuses.push({ tid, step, tries: 0 });
  }

  #statusDone(s: Status): void {
    const i = this.#statuses.indexOf(s);
    if (i >= 0) this.#statuses.splice(i, 1);
    if (s.step === STEP.upgraded) this.#ports.save(undefined);
    if (s.step === STEP.downloaded && this.#restartAfter101) {
      this.#restartAfter101 = false;
      this.#restartNow = true;
      this.#action = ACT_RESTART;
    }
  }

  #backoff(tries: number): void {
    const d = BACKOFF * 2 ** Math.min(tries - 1, 10);
    this.#retryAt = this.#now + (d > BACKOFF_MAX ? BACKOFF_MAX : d);
  }

  /**
   * Deadlines: a request past its time is cut (`abort` set: the binding closes it), a new image that
   * has not proved itself in time restarts, periodic checks come due. Returns when to be called next.
   */
  service(now: number): number {
    this.#now = now;
    if (this.#inflight !== NONE && now >= this.#inflightUntil) {
      this.abort = true;
      if (this.#inflight === REQ_DOWNLOAD) this.onDownloadEnd("timeout", now);
      else this.onJsonFailed("timeout", now);
    }
    if (this.#proving !== undefined && !this.#proved && now >= this.#proveUntil) {
      this.#proveUntil = Infinity;
      this.#log("ERROR", "new image did not prove itself in time: restarting into the previous one", { version: this.version, seconds: this.#proveMs / 1000 });
      this.#restartNow = true;
      this.#action = ACT_RESTART;
    }
    if (now >= this.#nextCheck) {
      this.#nextCheck = now + this.#checkEvery;
      if (this.#task === undefined && !this.proving) this.#wantCheck = true;
    }
    let next = this.#nextCheck;
    if (this.#inflight !== NONE && this.#inflightUntil < next) next = this.#inflightUntil;
    if (this.#proveUntil < next) next = this.#proveUntil;
    if (this.#inflight === NONE && this.#retryAt > now && this.#retryAt < next) next = this.#retryAt;
    if (this.#inflight === NONE && this.#wantVersion && this.#versionAt > now && this.#versionAt < next) next = this.#versionAt;
    return next;
  }

  #log(level: "INFO" | "WARN" | "ERROR", message: string, fields?: { readonly [name: string]: string | number | boolean | undefined }): void {
    this.#ports.log?.log(level, "ota", message, fields);
  }
}
