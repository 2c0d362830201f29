// Moddable "timer" over the lane's clock (real for npm start, virtual in tests):
// Timer.set(cb, ms = 0, repeat?), Timer.repeat(cb, ms), Timer.schedule(t, ms?, repeat?),
// Timer.clear(t), Timer.delay(ms). The callback receives the timer. Timers due at the same time
// fire in the order they were scheduled. Lane-neutral: one wake-up request at a time to the host.
import { host } from "../host.ts";

type TimerCallback = (timer: Timer) => void;

let sequence = 0;
const active: Timer[] = [];
let wakeInstalled = false;
let requested: number | undefined;
let firing = false;

class Timer {
  /** @internal */ callback: TimerCallback;
  /** @internal */ at = 0;
  /** @internal */ interval = 0; // 0: one-shot
  /** @internal */ order = 0;
  /** @internal */ scheduled = false;

  private constructor(callback: TimerCallback) {
    this.callback = callback;
  }

  static set(callback: TimerCallback, interval = 0, repeat?: number): Timer {
    if (typeof callback !== "function") throw new TypeError("Timer.set: callback is not a function");
    const timer = new Timer(callback);
    arm(timer, interval, repeat);
    return timer;
  }

  static repeat(callback: TimerCallback, interval: number): Timer {
    return Timer.set(callback, interval, interval);
  }

  static schedule(timer: Timer, interval?: number, repeat?: number): void {
    if (!(timer instanceof Timer)) throw new TypeError("Timer.schedule: not a timer");
    if (interval === undefined) {
      unarm(timer);
      requestWake();
      return;
    }
    arm(timer, interval, repeat);
  }

  static clear(timer: Timer | undefined | null): void {
    if (timer === undefined || timer === null) return;
    if (!(timer instanceof Timer)) throw new TypeError("Timer.clear: not a timer");
    unarm(timer);
    requestWake();
  }

  static delay(ms: number): void {
    host().delay(ms);
  }
}

function arm(timer: Timer, interval: number, repeat: number | undefined): void {
  installWake();
  unarm(timer);
  const ms = Math.max(0, Math.floor(Number(interval) || 0));
  timer.at = host().ticks() + ms;
  timer.interval = repeat !== undefined && repeat > 0 ? Math.floor(repeat) : 0;
  timer.order = sequence++;
  timer.scheduled = true;
  active.push(timer);
  requestWake();
}

function unarm(timer: Timer): void {
  if (!timer.scheduled) return;
  timer.scheduled = false;
  const i = active.indexOf(timer);
  if (i >= 0) active.splice(i, 1);
}

function nextDue(): Timer | undefined {
  let best: Timer | undefined;
  for (const t of active) {
    if (best === undefined || t.at < best.at || (t.at === best.at && t.order < best.order)) best = t;
  }
  return best;
}

function requestWake(): void {
  if (firing) return; // fire() requests once when done
  const next = nextDue();
  const at = next === undefined ? undefined : next.at;
  if (at === requested) return;
  requested = at;
  host().wakeAt(at);
}

function installWake(): void {
  if (wakeInstalled) return;
  wakeInstalled = true;
  host().onWake(fire);
}

function fire(): void {
  requested = undefined;
  firing = true;
  try {
    const now = host().ticks();
    // Fire every timer due now, earliest first; a callback may set, clear or reschedule timers.
    for (let guard = 0; guard < 100000; guard++) {
      const timer = nextDue();
      if (timer === undefined || timer.at > now) break;
      if (timer.interval > 0) {
        timer.at = now + timer.interval;
        timer.order = sequence++;
      } else unarm(timer);
      timer.callback(timer);
    }
  } finally {
    firing = false;
    requestWake();
  }
}

/** Timers currently scheduled in this lane (for instrumentation "Timers"). */
export function activeTimers(): number {
  return active.length;
}

export default Timer;
