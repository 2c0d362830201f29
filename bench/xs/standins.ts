// Imported first by the firmware-computron lanes of bench/xs-app.bench.ts (ours and the naive
// anchor alike): the simulator's stand-ins for what is native or hardware on the board cost what a
// call to an empty function costs, so the lane's meter counts the firmware's own work. What they
// took is kept apart (__standins()).
//
// A stand-in here is code under tools/sim/ that firmware calls and that returns without calling
// firmware back: the I2C bus and its simulated chips, the NOR-flash model (which keeps each page as
// hex in the host's storage), sockets, timers, Time, trace, Date.now, preference, instrumentation,
// Net, crypt, and the bridge's UTF-8 natives and ArrayBuffer concat. Their computrons are read from
// xsnap's meter and the meter is put back to where it was when the call began, less the wrapper's
// own entry and exit (`residue`, calibrated by the bench so that a wrapped empty function costs what
// an unwrapped one does). Still counted on both sides: the lane's event dispatch (host message to
// timer or socket callback), the I2C class's constructor (the driver reopens a sensor on a rescan)
// and `new Date()`.
//
// The bench captures xsnap's `resetMeter` and `currentMeterLimit` (__profileMeter, __profileLimit)
// before the lane's bridge removes them; firmware never sees them.
import { Socket } from "../../tools/sim/modules/socket.ts";
import SecureSocket from "../../tools/sim/modules/securesocket.ts";
import I2C from "../../tools/sim/modules/embedded/io/i2c.ts";
import { Flash } from "../../tools/sim/modules/embedded/storage/flash.ts";
import Timer from "../../tools/sim/modules/timer.ts";
import Time from "../../tools/sim/modules/time.ts";
import Instrumentation from "../../tools/sim/modules/instrumentation.ts";
import Preference from "../../tools/sim/modules/preference.ts";
import Net from "../../tools/sim/modules/net.ts";
import { Digest } from "../../tools/sim/modules/crypt.ts";
import HMAC from "../../tools/sim/modules/hmac.ts";

type Reset = (limit: number, index: number) => number;
type Fn = (this: unknown, ...args: unknown[]) => unknown;

const g = globalThis as unknown as {
  __profileMeter?: Reset;
  __profileLimit?: () => number;
  __standins: () => string;
  __standinResidue: (computrons: number) => void;
  __standinNoop: () => void;
  trace: (...parts: unknown[]) => void;
};
const reset = g.__profileMeter;
if (reset === undefined) throw new Error("bench/xs/standins: the lane has no meter (the bench sets __profileMeter)");
const limit = g.__profileLimit!();
const kept = { computrons: 0, calls: 0, residue: 0 };

function standIn(fn: Fn): Fn {
  return function (this: unknown, ...args: unknown[]): unknown {
    const start = reset!(limit, 0);
    reset!(limit, start);
    try {
      return fn.apply(this, args);
    } finally {
      const end = reset!(limit, 0);
      kept.computrons += end - start;
      kept.calls++;
      const back = start - kept.residue;
      reset!(limit, back > 0 ? back : 0);
    }
  };
}

function wrapAll(target: object, names: readonly string[]): void {
  for (const name of names) {
    const d = Object.getOwnPropertyDescriptor(target, name);
    if (d === undefined) throw new Error(`bench/xs/standins: no ${name}`);
    if (typeof d.value === "function") Object.defineProperty(target, name, { ...d, value: standIn(d.value as Fn) });
    else Object.defineProperty(target, name, { ...d, get: d.get && (standIn(d.get as Fn) as () => unknown), set: d.set && (standIn(d.set as Fn) as (v: unknown) => void) });
  }
}

wrapAll(Socket.prototype, ["read", "write", "close", "get"]);
wrapAll(SecureSocket.prototype, ["read", "write", "close"]);
wrapAll(I2C.prototype, ["read", "write", "close"]);
wrapAll(Flash.prototype, ["read", "write", "eraseBlock", "status", "close"]);
wrapAll(Timer, ["set", "repeat", "schedule", "clear", "delay"]);
wrapAll(Time, ["ticks", "microseconds", "delta", "set"]);
wrapAll(Instrumentation, ["map", "name", "get"]);
wrapAll(Preference, ["set", "get", "delete", "keys"]);
wrapAll(Net, ["get"]);
wrapAll(Digest.prototype, Object.getOwnPropertyNames(Digest.prototype).filter((n) => n !== "constructor"));
wrapAll(HMAC.prototype, Object.getOwnPropertyNames(HMAC.prototype).filter((n) => n !== "constructor"));
wrapAll(Date, ["now"]);
wrapAll(ArrayBuffer, ["fromString"]);
wrapAll(String, ["fromArrayBuffer"]);
wrapAll(ArrayBuffer.prototype, ["concat"]);
g.trace = standIn(g.trace as Fn) as (...parts: unknown[]) => void;

g.__standins = () => JSON.stringify(kept);
g.__standinResidue = (computrons) => {
  kept.residue = computrons;
};
g.__standinNoop = standIn(() => undefined) as () => void;
