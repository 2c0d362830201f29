// What must hold after the soak (soak.ts records, this file judges), and the figures it reports.
// Every check names the behaviour; its detail says what was seen when it fails.
import type { ReplyExpectation } from "./hostile.ts";
import { CONNECT, PINGREQ } from "../../mqtt/packets.ts";

/** Heap growth allowed within one boot, slots after a full GC (16 bytes each on the ESP32: 4 KB). */
export const HEAP_BOUND_SLOTS = 256;
/** The platform's login limit (docs/onenet.md, "Rates"): 3 logins per 5 s. */
export const LOGINS_PER_WINDOW = 3;
export const LOGIN_WINDOW_MS = 5000;
/** The MQTT session's reconnect backoff (mqtt/session.ts defaults): jitter takes 50..100 % of each delay. */
export const BACKOFF = { min: 1000, max: 60_000, refusedMin: 30_000, refusedMax: 600_000, low: 0.5 } as const;
/** A timer fires when it is due; the device's reading of sensors adds a few ms. */
const TIMER_SLACK_MS = 1000;

export interface Attempt {
  readonly at: number;
  readonly accepted: boolean;
  /** An accepted reading taken while the device had no connection (its report line says online=false). */
  readonly offline: boolean;
  /** Why the device refused it (its `error=`), when it did. */
  readonly reason?: string;
}

export interface Segment {
  readonly boot: number;
  end: number;
  readonly attempts: Attempt[];
  readonly changes: Array<{ at: number; interval: number }>;
  /** The device's own count of readings it could not queue (its last `dropped=` in this boot). */
  dropped: number;
  outboxRestored: number;
  firstConnected?: number;
}

export interface Observations {
  interval: number;
  keepalive: number;
  start: number;
  end: number;
  readonly secrets: readonly string[];
  readonly segments: Segment[];
  /** Reading time -> how often the platform accepted a reading with that time. */
  readonly arrivals: Map<number, number>;
  /**
   * Times at which the platform got two different values for one property. A reading sent again after
   * its reply was lost (same values, same time: store/uplink.ts) is one point in the platform's time
   * series, as OneNET keys a property's history by time; a different value at that time is not.
   */
  readonly conflicts: Set<number>;
  /** Connection attempts (the device opened a socket). */
  readonly connects: number[];
  /** Packets the device sent: time and MQTT type. */
  readonly sent: Array<{ at: number; type: number }>;
  readonly connacks: Array<{ at: number; code: number }>;
  /** "connection lost, reconnect scheduled" lines. */
  readonly losses: Array<{ at: number; delay: number; reason: string }>;
  readonly phases: Array<{ name: string; from: number; to: number }>;
  outage?: { from: number; to: number };
  /** The reboot while Wi-Fi was down: when the access point went down, when the board rebooted. */
  offlineReboot?: { from: number; at: number };
  boundaryPlan?: Array<{ name: string; at: number; connected: boolean }>;
  readonly heap: Array<{ at: number; segment: number; slots: number; kind: "day" | "end" }>;
  readonly flash: Array<{ writes: number; erases: number; keys: Record<string, { writes: number; erases: number }> }>;
  /** set_reply/get_reply the device sent, by id. */
  readonly replies: Map<string, { code: number; msg: string; raw: string }>;
  readonly gets: Array<{ when: string; kind: string; result: { ok: boolean; code?: number; error?: string; msg?: string; data?: unknown } }>;
  readonly fatal: string[];
  readonly lines: { guards: string[]; saves: number; offlineReports: number };
  readonly hostile: Array<{
    name: string;
    at: number;
    injected: boolean;
    link: "close" | "keep" | "any";
    replies: readonly ReplyExpectation[];
    saves?: number;
    intervalUnchanged?: boolean;
    connectsBefore: number;
    connectsAfter: number;
    savesBefore: number;
    savesAfter: number;
    changesBefore: number;
    changesAfter: number;
  }>;
  realMs: number;
}

export interface Check {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Figures {
  days: number;
  interval: number;
  keepalive: number;
  realSeconds: number;
  boots: number;
  readings: number;
  accepted: number;
  arrived: number;
  duplicates: number;
  missing: number;
  dropped: number;
  /** Readings the platform never got, other than those the device counted dropped in the 12-hour outage. */
  readingsLost: number;
  heapSlots: { first: number; last: number; max: number };
  heapGrowthSlots: number;
  flashWrites: number;
  flashErases: number;
  flashWritesPerDay: number;
  flashBudget: number;
  connections: number;
  pings: number;
  worstKey: string;
}

const fmt = (t: number, start: number): string => {
  const ms = t - start;
  return `day ${Math.floor(ms / 86_400_000)} ${((ms % 86_400_000) / 3_600_000).toFixed(3)} h`;
};

/** The most attempts a backoff allows in `length` ms (each delay at least `low` of its nominal value). */
export function backoffAttempts(length: number, min: number, max: number, low = BACKOFF.low): number {
  let t = 0;
  let n = 1; // the attempt that starts the phase
  for (let failures = 0; ; failures++) {
    t += low * Math.min(max, min * 2 ** Math.min(failures, 30));
    if (t > length) return n;
    n++;
  }
}

export function evaluate(o: Observations, days: number): { checks: Check[]; figures: Figures } {
  const checks: Check[] = [];
  const check = (name: string, ok: boolean, detail: string): void => void checks.push({ name, ok, detail: ok ? detail : detail.slice(0, 4000) });
  const when = (t: number): string => fmt(t, o.start);
  // The outage lasts, for the device, until it is back online: readings taken before that still
  // find the outbox full.
  // (the broker is back at `to`; the device must be back within its longest reconnect delay).
  const back = o.outage && o.outage.to + BACKOFF.max + TIMER_SLACK_MS;
  const outage = o.outage && { from: o.outage.from, to: Math.min(back!, o.connacks.find((c) => c.code === 0 && c.at >= o.outage!.to)?.at ?? back!) };
  const inOutage = (t: number): boolean => outage !== undefined && t >= outage.from && t <= outage.to;

  // -- no fatal error, nothing escaped into the app's guards
  check("no fatal error (no exception escaped the firmware)", o.fatal.length === 0, o.fatal.join("\n---\n") || "none");
  check("no exception caught by a handler guard; every log line formatted, stamped with the uptime, free of secrets", o.lines.guards.length === 0, o.lines.guards.slice(0, 20).join("\n") || "none");

  // -- readings
  const attempts = o.segments.flatMap((s) => s.attempts);
  const accepted = attempts.filter((a) => a.accepted);
  const acceptedTimes = new Set(accepted.map((a) => a.at));
  const missingAccepted = accepted.filter((a) => (o.arrivals.get(a.at) ?? 0) === 0);
  const duplicated = accepted.filter((a) => (o.arrivals.get(a.at) ?? 0) > 1 && o.conflicts.has(a.at));
  const phantom = [...o.arrivals.keys()].filter((t) => !acceptedTimes.has(t));
  check(
    "every reading the device accepted arrived at the platform exactly once (a resend after a lost reply is the same point: same time, same values)",
    missingAccepted.length === 0 && duplicated.length === 0 && phantom.length === 0,
    `${accepted.length} accepted; missing ${missingAccepted.length}${list(missingAccepted.map((a) => when(a.at)))}; ` +
      `twice or more ${duplicated.length}${list(duplicated.map((a) => `${when(a.at)} x${o.arrivals.get(a.at)}`))}; ` +
      `arrived but never accepted ${phantom.length}${list(phantom.map(when))}`,
  );

  // The report timer's cadence: a reading is at least attempted every interval (re-anchored where the
  // interval changed and at the first connection after boot, which reports at once).
  const gaps: string[] = [];
  for (const s of o.segments) {
    let interval = o.interval;
    let prev: number | undefined;
    let changeIndex = 0;
    let expect: number | undefined;
    const advanceTo = (t: number): void => {
      while (changeIndex < s.changes.length && s.changes[changeIndex]!.at <= t) {
        const c = s.changes[changeIndex++]!;
        interval = c.interval;
        expect = c.at + interval;
      }
    };
    for (const a of s.attempts) {
      if (prev !== undefined) {
        advanceTo(a.at);
        if (s.firstConnected !== undefined && s.firstConnected > prev && s.firstConnected <= a.at) expect = s.firstConnected;
        if (expect !== undefined && Math.abs(a.at - expect) > TIMER_SLACK_MS) gaps.push(`${when(a.at)}: expected one at ${when(expect)}`);
      }
      prev = a.at;
      expect = a.at + interval;
    }
    advanceTo(s.end);
    if (expect !== undefined && s.end > expect + TIMER_SLACK_MS) gaps.push(`boot at ${when(s.boot)}: none after ${when(prev ?? s.boot)} until ${when(s.end)}`);
    if (prev === undefined) gaps.push(`boot at ${when(s.boot)}: no reading at all until ${when(s.end)}`);
  }
  check("a reading is taken every interval (the report timer never stalls, across the flip and the wrap)", gaps.length === 0, `${gaps.length} gaps${list(gaps)}`);

  const notArrived = attempts.filter((a) => (o.arrivals.get(a.at) ?? 0) === 0);
  const dropped = o.segments.reduce((n, s) => n + s.dropped, 0);
  check(
    "nothing lost silently: readings missing at the platform = the device's own dropped counter",
    notArrived.length === dropped,
    `missing at the platform ${notArrived.length}, the device counted ${dropped} dropped`,
  );
  const lostOutside = notArrived.filter((a) => !inOutage(a.at));
  const reasons = [...new Set(lostOutside.map((a) => a.reason ?? "accepted, never arrived"))];
  const droppedInOutage = notArrived.filter((a) => inOutage(a.at) && !a.accepted).length;
  check(
    "readings are lost only while the outbox is full in the 12-hour outage",
    lostOutside.length === 0,
    `${lostOutside.length} lost outside the outage${reasons.length ? ` (${reasons.slice(0, 3).join(" | ")})` : ""}${list(lostOutside.map((a) => `${when(a.at)}${a.accepted ? " (accepted)" : " (refused by the device)"}`))}`,
  );

  if (o.offlineReboot) {
    const r = o.offlineReboot;
    const queued = accepted.filter((a) => a.offline && a.at > r.from && a.at <= r.at).length;
    const next = o.segments.find((s) => s.boot >= r.at);
    check(
      "readings queued offline survive a reboot (restored from flash: readings log and outbox)",
      next !== undefined && queued > 0 && next.outboxRestored >= queued,
      `${queued} readings accepted offline before the reboot at ${when(r.at)}; the next boot restored ${next?.outboxRestored ?? "nothing"} readings and messages`,
    );
  }

  // -- heap
  let growth = 0;
  let growthDetail = "";
  const daily = o.heap.filter((h) => h.kind === "day");
  for (const segment of new Set(daily.map((h) => h.segment))) {
    const points = daily.filter((h) => h.segment === segment);
    if (points.length < 2) continue;
    const first = points[0]!.slots;
    const max = Math.max(...points.map((p) => p.slots));
    if (max - first > growth) growth = max - first;
    growthDetail += ` boot ${segment}: ${points.map((p) => p.slots).join(", ")};`;
  }
  const measured = daily.length >= 2;
  check(
    `heap flat: XS slots after GC, checked daily, grow at most ${HEAP_BOUND_SLOTS} within a boot`,
    measured && growth <= HEAP_BOUND_SLOTS,
    measured ? `growth ${growth} slots;${growthDetail}` : "fewer than two daily heap checkpoints",
  );

  // -- keepalive across the boundaries
  const pingsSent = o.sent.filter((p) => p.type === PINGREQ);
  for (const b of o.boundaryPlan ?? []) {
    if (!b.connected || b.at > o.end) continue;
    const from = b.at - 3_600_000;
    const to = Math.min(o.end, b.at + 3_600_000);
    const attemptsIn = o.connects.filter((t) => t >= from && t <= to);
    const lossesIn = o.losses.filter((l) => l.at >= from && l.at <= to);
    const sent = o.sent.filter((p) => p.at >= from && p.at <= to).map((p) => p.at);
    let worst = 0;
    let worstAt = from;
    for (let i = 1; i < sent.length; i++) {
      if (sent[i]! - sent[i - 1]! > worst) {
        worst = sent[i]! - sent[i - 1]!;
        worstAt = sent[i - 1]!;
      }
    }
    const pingsAfter = pingsSent.filter((p) => p.at > b.at && p.at <= to).length;
    const wantPings = o.keepalive < o.interval;
    const ok = attemptsIn.length === 0 && lossesIn.length === 0 && sent.length > 1 && worst <= o.keepalive + TIMER_SLACK_MS && (!wantPings || pingsAfter > 0);
    check(
      `connected across the ${b.name} with a packet at least every keepalive (${o.keepalive / 1000} s)`,
      ok,
      `within 1 h either side: ${sent.length} packets sent, ${attemptsIn.length} connection attempts, ${lossesIn.length} losses${list(lossesIn.map((l) => `${when(l.at)} ${l.reason}`))}, ` +
        `longest silence ${(worst / 1000).toFixed(1)} s from ${when(worstAt)}, ${pingsAfter} PINGREQ after it`,
    );
  }

  // -- reconnect delays
  const interruptions = [...o.phases.filter((p) => /Wi-Fi/.test(p.name)).map((p) => p.from), ...o.segments.slice(1).map((s) => s.boot)];
  const late: string[] = [];
  const outOfBounds: string[] = [];
  let judged = 0;
  for (const loss of o.losses) {
    if (loss.reason === "network down" || !Number.isFinite(loss.delay)) continue;
    const refused = /^CONNACK refused code=(\d+)/.exec(loss.reason);
    const slow = refused !== null && refused[1] !== "3";
    const [min, max] = slow ? [BACKOFF.refusedMin * BACKOFF.low, BACKOFF.refusedMax] : [BACKOFF.min * BACKOFF.low, BACKOFF.max];
    if (loss.delay < min || loss.delay > max) outOfBounds.push(`${when(loss.at)} delay ${loss.delay} ms outside ${min}..${max} (${loss.reason})`);
    const due = loss.at + loss.delay;
    if (due + TIMER_SLACK_MS > o.end) continue;
    if (interruptions.some((t) => t >= loss.at && t <= due + TIMER_SLACK_MS)) continue;
    judged++;
    const next = o.connects.find((t) => t > loss.at);
    if (next === undefined || Math.abs(next - due) > TIMER_SLACK_MS) {
      late.push(`${when(loss.at)} (${loss.reason}) said ${loss.delay} ms, next attempt ${next === undefined ? "never" : `after ${((next - loss.at) / 1000).toFixed(1)} s`}`);
    }
  }
  check(
    "reconnect delays are within the backoff bounds",
    outOfBounds.length === 0,
    `${o.losses.length} losses; ${outOfBounds.length} out of bounds${list(outOfBounds)}`,
  );
  check(
    "each reconnect comes when the backoff said, across the flip and the wrap too",
    late.length === 0,
    `${judged} reconnects timed; ${late.length} not on time${list(late)}`,
  );

  for (const phase of o.phases) {
    const connack = /CONNACK twice/.test(phase.name);
    const refused = /logins refused/.test(phase.name);
    if (!connack && !refused) continue;
    const n = o.connects.filter((t) => t >= phase.from && t < phase.to).length;
    const bound = connack
      ? backoffAttempts(phase.to - phase.from, BACKOFF.min, BACKOFF.max)
      : backoffAttempts(phase.to - phase.from, BACKOFF.refusedMin, BACKOFF.refusedMax) + 1;
    check(
      connack
        ? `${phase.name}: a connection that never proves itself does not reset the backoff`
        : `${phase.name}: refused logins back off`,
      n >= 2 && n <= bound,
      `${n < 2 ? "not exercised (the device did not try to connect during it); " : ""}${n} connection attempts in ${((phase.to - phase.from) / 60_000).toFixed(0)} min at ${when(phase.from)}; the backoff allows at most ${bound}`,
    );
  }

  const logins = o.sent.filter((p) => p.type === CONNECT).map((p) => p.at);
  let burst = 0;
  let burstAt = 0;
  for (let i = 0, j = 0; i < logins.length; i++) {
    while (logins[i]! - logins[j]! >= LOGIN_WINDOW_MS) j++;
    if (i - j + 1 > burst) {
      burst = i - j + 1;
      burstAt = logins[j]!;
    }
  }
  check(
    `at most ${LOGINS_PER_WINDOW} logins in any ${LOGIN_WINDOW_MS / 1000} s (the platform's limit)`,
    burst <= LOGINS_PER_WINDOW,
    `${logins.length} logins; at most ${burst} within ${LOGIN_WINDOW_MS / 1000} s (from ${when(burstAt)})`,
  );

  // -- flash
  const writes = o.flash.reduce((n, f) => n + f.writes, 0);
  const erases = o.flash.reduce((n, f) => n + f.erases, 0);
  const boots = o.segments.length;
  // A message is written when it is queued while the device cannot send it (one write), an interval
  // when it is saved (two keys), and a few more per boot (a state post or an alarm queued offline).
  // Messages sent while online cost no write.
  const budget = o.lines.offlineReports + 2 * o.lines.saves + 8 * boots;
  const perKey = new Map<string, number>();
  for (const f of o.flash) for (const [k, w] of Object.entries(f.keys)) perKey.set(k, (perKey.get(k) ?? 0) + w.writes);
  const worst = [...perKey.entries()].sort((a, b) => b[1] - a[1]);
  check(
    "flash writes within budget (only what is queued offline, and interval saves)",
    writes <= budget && erases <= budget,
    `${writes} writes, ${erases} erases in ${days} days (${(writes / days).toFixed(1)} writes/day); budget ${budget} = ` +
      `${o.lines.offlineReports} readings queued offline + 2 x ${o.lines.saves} interval saves + 8 x ${boots} boots; ` +
      `most written keys: ${worst.slice(0, 4).map(([k, n]) => `${k} ${n}`).join(", ")}`,
  );

  // -- get and set from the cloud
  for (const when of new Set(o.gets.map((g) => g.when))) {
    const results = o.gets.filter((g) => g.when === when);
    const bad = results.filter((g) => !(g.result.ok && g.result.code === 200));
    const name = /refused subscription/.test(when)
      ? "after a refused subscription (SUBACK 0x80) the device subscribes again and answers get"
      : `the device answers get and set ${when}`;
    check(name, bad.length === 0, results.map((g) => `${g.kind}: ${JSON.stringify(g.result)}`).join("; "));
  }

  // -- hostile downlinks
  for (const h of o.hostile) {
    const problems: string[] = [];
    if (!h.injected) problems.push("the device had no connection to receive it");
    const reconnected = h.connectsAfter > h.connectsBefore;
    if (h.link === "close" && !reconnected) problems.push("the device kept the connection (it must close it)");
    if (h.link === "keep" && reconnected) problems.push("the device dropped the connection over it");
    for (const r of h.replies) {
      const reply = o.replies.get(r.id);
      if (r.code === undefined) {
        if (reply) problems.push(`a reply carried id ${r.id.slice(0, 20)}…: ${reply.raw}`);
        continue;
      }
      if (!reply) problems.push(`no reply to id ${r.id}`);
      else {
        if (reply.code !== r.code) problems.push(`reply to ${r.id} has code ${reply.code}, wanted ${r.code}: ${reply.raw}`);
        if (r.never && r.never.test(reply.raw)) problems.push(`reply to ${r.id} says ${reply.raw}`);
      }
    }
    if (h.saves !== undefined && h.savesAfter - h.savesBefore !== h.saves) problems.push(`${h.savesAfter - h.savesBefore} interval saves, wanted ${h.saves}`);
    if (h.intervalUnchanged && h.changesAfter !== h.changesBefore) problems.push("the report interval changed");
    check(`hostile downlink handled: ${h.name}`, problems.length === 0, problems.join("; ") || `${h.link === "keep" ? "kept" : reconnected ? "closed and reconnected" : "kept"} the connection`);
  }

  const heapAll = o.heap.map((h) => h.slots);
  const figures: Figures = {
    days,
    interval: o.interval / 1000,
    keepalive: o.keepalive / 1000,
    realSeconds: Math.round(o.realMs / 100) / 10,
    boots,
    readings: attempts.length,
    accepted: accepted.length,
    arrived: attempts.length - notArrived.length,
    duplicates: duplicated.length,
    missing: notArrived.length,
    dropped,
    readingsLost: notArrived.length - droppedInOutage,
    heapSlots: { first: heapAll[0] ?? 0, last: heapAll[heapAll.length - 1] ?? 0, max: heapAll.length ? Math.max(...heapAll) : 0 },
    heapGrowthSlots: growth,
    flashWrites: writes,
    flashErases: erases,
    flashWritesPerDay: Math.round((writes / days) * 10) / 10,
    flashBudget: budget,
    connections: o.connects.length,
    pings: pingsSent.length,
    worstKey: worst.length ? `${worst[0]![0]} ${worst[0]![1]}` : "none",
  };
  return { checks, figures };
}

function list(items: readonly string[], max = 8): string {
  if (items.length === 0) return "";
  return `: ${items.slice(0, max).join("; ")}${items.length > max ? `; … ${items.length - max} more` : ""}`;
}
