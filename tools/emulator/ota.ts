// OTA on the platform side (docs/onenet.md, "OTA"): upgrade tasks (an image and a target version for
// a product's devices), each device's OTA state as the fuse-ota HTTP API (ota-http.ts) and the MQTT
// notice see it, and the `ota/inform` notice with its `ota/inform_reply`.
//
//   startTask --> ota/inform (QoS 0) to each online device of the product
//   device --> ota/inform_reply --> informReply (counted when the id is one we sent)
//   ota-http.ts --> version / check / download / status --> the methods below
import { createHash } from "node:crypto";
import { isRecord } from "./thing-model.ts";
import type { Platform } from "./platform.ts";
import type { DeviceState, Registry } from "./registry.ts";
import { newDeviceOta, type EmulatorEvent, type OtaState, type OtaTask } from "./types.ts";

/** What each status step means (docs/onenet.md, "OTA"). 0..100 are download progress in percent. */
export const OTA_STEPS: Readonly<Record<number, string>> = {
  101: "downloaded and verified",
  102: "download failed: no space",
  103: "download failed: memory",
  104: "download failed: timeout",
  105: "download failed: power",
  106: "download failed: signal",
  107: "download failed: unknown",
  201: "upgraded",
  202: "upgrade failed",
  203: "upgrade failed",
  204: "upgrade failed",
  205: "MD5 mismatch",
  206: "upgrade failed",
  207: "upgrade failed: unknown",
};

export function isOtaStep(step: unknown): step is number {
  return typeof step === "number" && Number.isInteger(step) && ((step >= 0 && step <= 107) || (step >= 201 && step <= 207));
}

/** A step after which the task is over for the device: a download failure or the upgrade's outcome. */
export function isFinalStep(step: number): boolean {
  return (step >= 102 && step <= 107) || step >= 201;
}

/** "205 MD5 mismatch", "42%": a step as the console and the log show it. */
export function stepText(step: number): string {
  return step <= 100 ? `${step}%` : `${step} ${OTA_STEPS[step] ?? "?"}`;
}

/** Versions as the platform shows them: 1..32 characters of letters, digits, '.', '_', '-'. */
export function isOtaVersion(v: unknown): v is string {
  return typeof v === "string" && /^[A-Za-z0-9._-]{1,32}$/.test(v);
}

const STEPS_KEPT = 300;
const INFORM_IDS_KEPT = 20;

export class Ota {
  readonly #tasks = new Map<number, { task: OtaTask; image: Uint8Array }>();
  /** product -> tid of its current task */
  readonly #current = new Map<string, number>();
  #nextTid = 1317000;

  constructor(
    readonly registry: Registry,
    readonly platform: Platform,
  ) {}

  /** A new task for `products` (default: every product with a registered device); it replaces their previous one. */
  startTask(image: Uint8Array, target: string, products?: string[]): OtaTask {
    if (!isOtaVersion(target)) throw new Error(`OTA version ${JSON.stringify(target)}: 1..32 letters, digits, '.', '_' or '-'`);
    if (image.byteLength === 0) throw new Error("OTA image is empty");
    const all = [...new Set([...this.registry.devices.values()].map((d) => d.entry.product))];
    const list = products ?? all;
    for (const p of list) if (!all.includes(p)) throw new Error(`no product ${p}`);
    const copy = new Uint8Array(image); // the caller may reuse its buffer
    const task: OtaTask = {
      tid: ++this.#nextTid,
      target,
      type: 1,
      size: copy.byteLength,
      md5: createHash("md5").update(copy).digest("hex"),
      products: list,
      created: this.registry.clock.now(),
    };
    this.#tasks.set(task.tid, { task, image: copy });
    for (const p of list) this.#current.set(p, task.tid);
    this.registry.log("INFO", "OTA task", `tid=${task.tid} target=${target} size=${task.size} md5=${task.md5} products=${list.join(",")}`);
    for (const device of this.registry.devices.values()) {
      if (!list.includes(device.entry.product)) continue;
      device.ota.state = { ...newDeviceOta().state, version: device.ota.state.version, tid: task.tid };
      device.ota.informIds = [];
      this.#changed(device, "task");
      if (device.online) this.#inform(device, task);
    }
    return task;
  }

  #inform(device: DeviceState, task: OtaTask): void {
    const id = this.platform.nextDownlinkId();
    const sent = this.platform.downlink(device, "ota/inform", { id, version: "1.0", params: { tid: task.tid, type: task.type, target: task.target } });
    if (sent) {
      device.ota.informIds.push(id);
      if (device.ota.informIds.length > INFORM_IDS_KEPT) device.ota.informIds.shift();
      device.ota.state.informs++;
      this.registry.deviceLog(device, "info", `ota/inform id=${id} tid=${task.tid} target=${task.target}`);
    }
    if (sent) this.#changed(device, "inform");
  }

  /** `ota/inform_reply` `{"id":"<a notice's id>","code":200,"msg":"ok"}`: counted when it answers a notice. */
  informReply(device: DeviceState, payload: Buffer): void {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString("utf8"));
    } catch {
      body = undefined;
    }
    const why = !isRecord(body)
      ? "not a JSON object"
      : typeof body.id !== "string" || !device.ota.informIds.includes(body.id)
        ? "id is not one of the notices sent"
        : typeof body.code !== "number" || !Number.isInteger(body.code)
          ? "code is not an integer"
          : body.msg !== undefined && typeof body.msg !== "string"
            ? "msg is not a string"
            : undefined;
    if (why || !isRecord(body)) {
      this.registry.deviceLog(device, "warn", `ota/inform_reply refused: ${why}`, true);
      return;
    }
    device.ota.informIds.splice(device.ota.informIds.indexOf(body.id as string), 1);
    device.ota.state.informReplies++;
    this.registry.deviceLog(device, "info", `ota/inform_reply id=${String(body.id)} code=${String(body.code)}${typeof body.msg === "string" ? " msg=" + body.msg : ""}`);
    this.#changed(device, "inform_reply");
  }

  /** The task that applies to the device (its product's current one), finished or not. */
  taskFor(device: DeviceState): OtaTask | undefined {
    const tid = this.#current.get(device.entry.product);
    return tid === undefined ? undefined : this.#tasks.get(tid)?.task;
  }

  /** The image of `tid` when that task is the device's current one. */
  imageFor(device: DeviceState, tid: number): Uint8Array | undefined {
    const task = this.taskFor(device);
    return task && task.tid === tid ? this.#tasks.get(tid)!.image : undefined;
  }

  /** What check offers: the task unless the device runs its target or finished it. */
  offer(device: DeviceState, version: string): OtaTask | undefined {
    const task = this.taskFor(device);
    if (!task || task.target === version || device.ota.state.result !== undefined) return undefined;
    return task;
  }

  /** The version the device reports (version POST, or the version a check names). */
  reportVersion(device: DeviceState, version: string, how: "version" | "check"): void {
    const changed = device.ota.state.version !== version;
    device.ota.state.version = version;
    if (how === "version") this.registry.deviceLog(device, "info", `ota version ${version}`);
    if (changed || how === "version") this.#changed(device, "version");
  }

  checked(device: DeviceState, offered: OtaTask | undefined): void {
    device.ota.state.checks++;
    const what = offered ? `tid=${offered.tid} target=${offered.target}` : "11 not exist";
    this.registry.deviceLog(device, "info", `ota check version=${device.ota.state.version ?? "?"} -> ${what}`);
    this.#changed(device, "check");
  }

  downloaded(device: DeviceState, start: number, end: number, size: number): void {
    device.ota.state.downloads++;
    this.registry.deviceLog(device, "info", `ota download bytes ${start}-${end}/${size}`);
    this.#changed(device, "download");
  }

  /** A status step for the device's current task (the caller checked the tid and the step). */
  step(device: DeviceState, task: OtaTask, step: number): void {
    const s = device.ota.state;
    s.steps.push(step);
    if (s.steps.length > STEPS_KEPT) s.steps.shift();
    if (isFinalStep(step)) s.result = step;
    if (step === 201) s.version = task.target;
    this.registry.deviceLog(device, step > 101 && step !== 201 ? "warn" : "info", `ota status tid=${task.tid} step ${stepText(step)}`, isFinalStep(step));
    this.#changed(device, "step", step);
  }

  state(device: DeviceState): OtaState {
    const s = device.ota.state;
    return { ...s, steps: s.steps.slice() };
  }

  tasks(): OtaTask[] {
    return [...new Set(this.#current.values())].map((tid) => this.#tasks.get(tid)!.task);
  }

  #changed(device: DeviceState, what: OtaChange, step?: number): void {
    const task = this.taskFor(device);
    this.registry.emit({
      type: "ota", product: device.entry.product, device: device.entry.device, what,
      ...(step === undefined ? {} : { step }), ota: this.state(device), ...(task ? { task } : {}),
    });
  }
}

export type OtaChange = Extract<EmulatorEvent, { type: "ota" }>["what"];
