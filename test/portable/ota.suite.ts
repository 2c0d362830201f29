// The OTA core's decisions (onenet/ota.ts), on a virtual `now`: version report and check at boot,
// inform replies, no download for the running version, 102 for an image larger than the slot before any
// download, 207 for a differential task, ranged chunks resumed at the last written byte, bounded
// retries (104/106/107), progress at most every 10 %, MD5 over the bytes as they arrive (205 on a
// mismatch, nothing completed), 101 then restart, and the proving window (201 or restart). Runs in
// Node and inside XS with the lane's `crypt`.
import { suite, assert } from "./harness";
import { Digest } from "crypt";
import {
  ACT_MARK_VALID, ACT_RESTART, CHUNK_TIMEOUT, MAX_TRIES, OtaCore, PROVE_MS, REQ_CHECK, REQ_DOWNLOAD, REQ_STATUS, REQ_VERSION, hex,
  parseContentRange, parseInform, type OtaRecord, type OtaRequest, type OtaSlot,
} from "../../onenet/ota";
import { utf8Encode } from "../../lib/utf8";

class MemorySlot implements OtaSlot {
  readonly size: number;
  bytes: number[] = [];
  begun = 0;
  completed = false;
  aborted = 0;
  constructor(size: number) {
    this.size = size;
  }
  begin(_size: number): void {
    this.begun++;
    this.bytes = [];
  }
  write(b: ArrayBuffer): void {
    const v = new Uint8Array(b);
    for (let i = 0; i < v.length; i++) this.bytes.push(v[i]);
  }
  complete(): void {
    this.completed = true;
  }
  abort(): void {
    this.aborted++;
  }
}

function image(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 7 + 3) & 0xff;
  return b;
}

function md5Of(b: Uint8Array): string {
  const d = new Digest("MD5");
  d.write(b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer);
  return hex(d.close());
}

function rig(options: { version?: string; slot?: number; chunk?: number; record?: OtaRecord; hold?: () => string | undefined; checkHours?: number } = {}) {
  const slot = new MemorySlot(options.slot ?? 100_000);
  const saved: (OtaRecord | undefined)[] = [];
  const core = new OtaCore({
    product: "P1",
    device: "d1",
    version: options.version ?? "1.0.0",
    checkHours: options.checkHours ?? 24,
    chunk: options.chunk ?? 1000,
    ports: { slot, digest: new Digest("MD5"), save: (r) => saved.push(r), holdDownload: options.hold ?? (() => undefined) },
  });
  let now = 0;
  core.boot(now, options.record);
  const statuses: number[] = [];
  const t = {
    core,
    slot,
    saved,
    statuses,
    get now() {
      return now;
    },
    advance(ms: number) {
      now += ms;
      core.service(now);
    },
    next(): OtaRequest | undefined {
      core.service(now);
      return core.nextRequest(now);
    },
    /** Answers JSON requests with code 0 until a request of `kind` is next (returned, not answered). */
    until(kind: number): OtaRequest {
      for (let i = 0; i < 50; i++) {
        const r = t.next();
        assert.ok(r, `a request is due (waiting for kind ${kind})`);
        if (r.kind === kind) return r;
        t.answer(r, 200, `{"code":0}`);
      }
      throw new Error("no request of kind " + kind);
    },
    answer(r: OtaRequest, status: number, body: string | undefined) {
      if (r.kind === REQ_STATUS) statuses.push(JSON.parse(r.body!).step as number);
      core.onJson(status, body, now);
    },
    task(img: Uint8Array, extra: { target?: string; type?: number; md5?: string; tid?: number } = {}): string {
      return JSON.stringify({ code: 0, msg: "succ", data: { target: extra.target ?? "1.1.0", tid: extra.tid ?? 77, size: img.length, md5: extra.md5 ?? md5Of(img), status: 1, type: extra.type ?? 1 } });
    },
    /** Serves a download request from `img`, cut after `cut` bytes (then a link failure). */
    serve(r: OtaRequest, img: Uint8Array, cut?: number) {
      assert.equal(r.kind, REQ_DOWNLOAD);
      assert.ok(core.onHeaders(206, `bytes ${r.from}-${r.to}/${img.length}`, now), "the range is accepted");
      const end = cut === undefined ? r.to + 1 : r.from + cut;
      for (let at = r.from; at < end; at += 300) {
        const piece = img.slice(at, Math.min(at + 300, end));
        assert.ok(core.onData(piece.buffer as ArrayBuffer, now));
      }
      core.onDownloadEnd(cut === undefined ? undefined : "link", now);
    },
    /** Runs every request to the end: JSON answered 0, downloads served whole. */
    drain(img: Uint8Array) {
      for (let i = 0; i < 1000; i++) {
        const r = t.next();
        if (r === undefined) return;
        if (r.kind === REQ_DOWNLOAD) t.serve(r, img);
        else t.answer(r, 200, `{"code":0}`);
      }
    },
  };
  return t;
}

suite("ota", (test) => {
  test("boot reports the version, then checks with it", () => {
    const t = rig({ version: "1.2.0" });
    const v = t.next()!;
    assert.equal(v.kind, REQ_VERSION);
    assert.equal(v.method, "POST");
    assert.equal(v.path, "/fuse-ota/P1/d1/version");
    assert.deepEqual(JSON.parse(v.body!), { s_version: "1.2.0" });
    assert.equal(t.next(), undefined, "one request at a time");
    t.answer(v, 200, `{"code":0,"msg":"succ"}`);
    const c = t.next()!;
    assert.equal(c.kind, REQ_CHECK);
    assert.equal(c.path, "/fuse-ota/P1/d1/check?type=2&version=1.2.0");
    t.answer(c, 200, `{"code":11,"msg":"not exist"}`);
    assert.equal(t.next(), undefined, "no task: nothing more");
  });

  test("a version report without answer is tried again later and does not hold back the check", () => {
    const t = rig();
    t.core.onJsonFailed("link", t.now); // nothing in flight: ignored
    const v = t.next()!;
    assert.equal(v.kind, REQ_VERSION);
    t.core.onJsonFailed("link", t.now);
    assert.equal(t.next()!.kind, REQ_CHECK, "the check goes while the report waits");
    t.answer({ kind: REQ_CHECK } as OtaRequest, 200, `{"code":11}`);
    t.advance(2000);
    assert.equal(t.next()!.kind, REQ_VERSION);
  });

  test("a task for the running version is not downloaded", () => {
    const t = rig({ version: "1.1.0" });
    const c = t.until(REQ_CHECK);
    t.answer(c, 200, t.task(image(5000), { target: "1.1.0" }));
    assert.equal(t.next(), undefined);
    assert.equal(t.slot.begun, 0);
  });

  test("an image larger than the slot is reported 102 before any download", () => {
    const t = rig({ slot: 4096 });
    t.answer(t.until(REQ_CHECK), 200, t.task(image(5000)));
    const s = t.next()!;
    assert.equal(s.kind, REQ_STATUS);
    assert.equal(s.path, "/fuse-ota/P1/d1/77/status");
    t.answer(s, 200, `{"code":0}`);
    assert.deepEqual(t.statuses, [102]);
    assert.equal(t.next(), undefined);
    assert.equal(t.slot.begun, 0, "the slot was never opened");
  });

  test("a differential task (type 2) is refused with 207", () => {
    const t = rig();
    t.answer(t.until(REQ_CHECK), 200, t.task(image(5000), { type: 2 }));
    t.drain(image(0));
    assert.deepEqual(t.statuses, [207]);
    assert.equal(t.slot.begun, 0);
  });

  test("a download in ranged chunks, MD5 checked, completes, 101, then restart", () => {
    const img = image(3500);
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    const ranges: string[] = [];
    for (let i = 0; i < 100; i++) {
      const r = t.next();
      if (r === undefined) break;
      if (r.kind === REQ_DOWNLOAD) {
        ranges.push(`${r.from}-${r.to}`);
        t.serve(r, img);
      } else t.answer(r, 200, `{"code":0}`);
    }
    assert.deepEqual(ranges, ["0-999", "1000-1999", "2000-2999", "3000-3499"]);
    assert.deepEqual(t.slot.bytes.length, 3500);
    assert.ok(t.slot.completed, "complete() after size and MD5 held");
    assert.equal(t.statuses[t.statuses.length - 1], 101);
    assert.deepEqual(t.saved, [{ tid: 77, target: "1.1.0", from: "1.0.0" }]);
    assert.equal(t.core.takeAction(), ACT_RESTART, "restart once 101 was reported");
  });

  test("progress is reported at most every 10 %", () => {
    const img = image(10_000);
    const t = rig({ chunk: 700 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    t.drain(img);
    const progress = t.statuses.filter((s) => s <= 100);
    assert.ok(progress.length <= 9, `at most 9 progress steps, got ${progress.join(",")}`);
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i] - progress[i - 1] >= 10, `steps ${progress.join(",")} are 10 % apart`);
    for (const p of progress) assert.equal(p % 10, 0);
    assert.equal(t.statuses[t.statuses.length - 1], 101);
  });

  test("a dropped chunk resumes at the last written byte", () => {
    const img = image(2500);
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    const first = t.until(REQ_DOWNLOAD);
    t.serve(first, img, 600); // the link drops after 600 bytes
    assert.equal(t.core.offset, 600);
    assert.equal(t.next(), undefined, "the retry waits for its backoff");
    t.advance(2000);
    const again = t.until(REQ_DOWNLOAD);
    assert.equal(again.from, 600, "resumes where the slot stopped");
    assert.equal(again.to, 1599);
    t.serve(again, img);
    t.drain(img);
    assert.ok(t.slot.completed);
    assert.equal(t.slot.begun, 1, "the slot was opened once");
    assert.deepEqual(t.slot.bytes, Array.from(img));
  });

  test("a chunk past its deadline is cut and resumed", () => {
    const img = image(2000);
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    const r = t.until(REQ_DOWNLOAD);
    assert.ok(t.core.onHeaders(206, `bytes 0-999/2000`, t.now));
    assert.ok(t.core.onData(img.slice(0, 400).buffer as ArrayBuffer, t.now));
    t.advance(CHUNK_TIMEOUT);
    assert.ok(t.core.abort, "the binding is told to cut the request");
    t.advance(2000);
    const again = t.until(REQ_DOWNLOAD);
    assert.equal(again.from, 400);
    void r;
  });

  test("failures without progress are bounded: given up with 106 (link), the slot closed", () => {
    const img = image(2000);
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    let tries = 0;
    for (let i = 0; i < 100 && t.core.downloading; i++) {
      const r = t.next();
      if (r === undefined) {
        t.advance(60_000);
        continue;
      }
      assert.equal(r.kind, REQ_DOWNLOAD);
      tries++;
      t.core.onDownloadEnd("link", t.now);
    }
    assert.equal(tries, MAX_TRIES);
    t.drain(img);
    assert.deepEqual(t.statuses, [106]);
    assert.equal(t.slot.aborted, 1);
    assert.ok(!t.slot.completed);
  });

  test("timeouts give 104, refused answers 107", () => {
    for (const [failure, step] of [["timeout", 104], ["http", 107]] as const) {
      const img = image(1500);
      const t = rig({ chunk: 1000 });
      t.answer(t.until(REQ_CHECK), 200, t.task(img));
      for (let i = 0; i < 100 && t.core.downloading; i++) {
        const r = t.next();
        if (r === undefined) t.advance(60_000);
        else t.core.onDownloadEnd(failure, t.now);
      }
      t.drain(img);
      assert.deepEqual(t.statuses, [step]);
    }
  });

  test("an answer that is not the range asked for is refused", () => {
    const img = image(1500);
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    t.until(REQ_DOWNLOAD);
    assert.equal(t.core.onHeaders(206, "bytes 10-999/1500", t.now), false);
    assert.equal(t.core.onData(img.slice(0, 10).buffer as ArrayBuffer, t.now), false, "no byte of it is written");
    assert.equal(t.slot.bytes.length, 0);
  });

  test("more bytes than the range asked for are refused", () => {
    const img = image(1500);
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    t.until(REQ_DOWNLOAD);
    assert.ok(t.core.onHeaders(206, "bytes 0-999/1500", t.now));
    assert.equal(t.core.onData(img.slice(0, 1001).buffer as ArrayBuffer, t.now), false);
  });

  test("an MD5 mismatch is 205: the slot is not completed, nothing saved, no restart", () => {
    const img = image(2500);
    const bad = img.slice();
    bad[1234] ^= 0x01;
    const t = rig({ chunk: 1000 });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    t.drain(bad);
    assert.deepEqual(t.statuses.filter((s) => s > 100), [205]);
    assert.ok(!t.slot.completed);
    assert.equal(t.slot.aborted, 1);
    assert.deepEqual(t.saved, []);
    assert.equal(t.core.takeAction(), 0);
    // the same task is not downloaded again before a reboot
    t.core.onInform(utf8Encode(`{"id":"5","version":"1.0","params":{"tid":77,"type":1,"target":"1.1.0"}}`), t.now);
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    assert.equal(t.next(), undefined);
    assert.equal(t.slot.begun, 1);
  });

  test("no download starts while the store holds it back; it starts when released", () => {
    let hold: string | undefined = "readings backlog 1500 > 1000";
    const img = image(800);
    const t = rig({ hold: () => hold });
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    assert.equal(t.next(), undefined);
    assert.equal(t.slot.begun, 0);
    hold = undefined;
    t.advance(60_000);
    const r = t.until(REQ_DOWNLOAD);
    assert.equal(r.from, 0);
  });

  test("ota/inform is answered with its id and triggers a check", () => {
    const t = rig();
    t.answer(t.until(REQ_CHECK), 200, `{"code":11,"msg":"not exist"}`);
    assert.equal(t.next(), undefined);
    assert.ok(t.core.onInform(utf8Encode(`{"id":"123","version":"1.0","params":{"tid":9,"type":1,"target":"1.1.0"}}`), t.now));
    assert.equal(t.core.nextReply(), `{"id":"123","code":200,"msg":"ok"}`);
    assert.equal(t.core.nextReply(), undefined);
    assert.equal(t.next()!.kind, REQ_CHECK);
  });

  test("inform payloads are bounded and checked before use", () => {
    assert.equal(parseInform(utf8Encode(`{"id":"12a"}`)), undefined);
    assert.equal(parseInform(utf8Encode("not json")), undefined);
    assert.equal(parseInform(new Uint8Array(2000)), undefined);
    assert.equal(parseInform(utf8Encode(`{"id":"42"}`)), "42");
    assert.deepEqual(parseContentRange("bytes 0-99/100"), [0, 99, 100]);
    assert.equal(parseContentRange("bytes 0-100/100"), undefined);
    assert.equal(parseContentRange("bytes a-1/100"), undefined);
  });

  test("periodic checks every otaCheck hours; none with 0", () => {
    const t = rig({ checkHours: 2 });
    t.answer(t.until(REQ_CHECK), 200, `{"code":11}`);
    t.advance(2 * 3_600_000 - 1);
    assert.equal(t.next(), undefined);
    t.advance(1);
    assert.equal(t.next()!.kind, REQ_CHECK);
    const z = rig({ checkHours: 0 });
    z.answer(z.until(REQ_CHECK), 200, `{"code":11}`);
    z.advance(1000 * 3_600_000);
    assert.equal(z.next(), undefined);
  });

  test("the new image proves itself: marked valid, then 201, the record forgotten", () => {
    const t = rig({ version: "1.1.0", record: { tid: 77, target: "1.1.0", from: "1.0.0" } });
    assert.ok(t.core.proving);
    const v = t.next()!;
    assert.equal(v.kind, REQ_VERSION, "the new version is reported first");
    t.answer(v, 200, `{"code":0}`);
    assert.equal(t.next(), undefined, "no check while proving");
    t.core.onProved(t.now);
    assert.equal(t.core.takeAction(), ACT_MARK_VALID);
    const s = t.next()!;
    assert.equal(s.kind, REQ_STATUS);
    assert.equal(s.path, "/fuse-ota/P1/d1/77/status");
    t.answer(s, 200, `{"code":0}`);
    assert.deepEqual(t.statuses, [201]);
    assert.deepEqual(t.saved, [undefined]);
    t.advance(PROVE_MS * 2);
    assert.equal(t.core.takeAction(), 0, "no restart once proved");
  });

  test("a new image that cannot prove itself in time restarts (the bootloader rolls back)", () => {
    const t = rig({ version: "1.1.0", record: { tid: 77, target: "1.1.0", from: "1.0.0" } });
    t.drain(image(0));
    t.advance(PROVE_MS - 1);
    assert.equal(t.core.takeAction(), 0);
    t.advance(1);
    assert.equal(t.core.takeAction(), ACT_RESTART);
    assert.deepEqual(t.statuses, [], "no 201");
  });

  test("back on the old image after a rollback: 207 for the task, record forgotten, not downloaded again", () => {
    const img = image(900);
    const t = rig({ version: "1.0.0", record: { tid: 77, target: "1.1.0", from: "1.0.0" } });
    assert.ok(!t.core.proving);
    assert.deepEqual(t.saved, [undefined]);
    t.answer(t.until(REQ_CHECK), 200, t.task(img));
    assert.deepEqual(t.statuses, [207]);
    assert.equal(t.next(), undefined);
    assert.equal(t.slot.begun, 0);
  });

  test("JSON answers are bounded and must parse", () => {
    const t = rig();
    const c = t.until(REQ_CHECK);
    t.answer(c, 200, `{"code":0,"data":{"target":"1.1.0","tid":1,"size":10,"md5":"xyz","type":1}}`);
    assert.equal(t.next(), undefined, "a task with a bad md5 is ignored");
    t.core.onInform(utf8Encode(`{"id":"1"}`), t.now);
    t.answer(t.until(REQ_CHECK), 200, "{" + " ".repeat(2000) + "}");
    assert.equal(t.next(), undefined);
    assert.equal(t.slot.begun, 0);
  });
});
