// The app's pure rules, in Node and inside XS: when the `alarm` event is raised for sensor data
// (thing model event `alarm`, {code, msg}, msg at most 64 characters), the shared config checker,
// and the wrap-safe tick difference (docs/moddable.md: ESP32 ticks are a signed 32-bit view of an
// unsigned millisecond counter).
import { assert, suite } from "./harness";
import { ALARM, sensorChange } from "../../app/alarms";
import { Checker, describeProblems } from "../../lib/checker";
import { ticksSince, epochKnown } from "../../lib/time";

const TEMP = 1;
const HUMI = 2;
const PRESS = 4;

suite("app alarms", (test) => {
  test("the first report sets the baseline: nothing is raised, whatever is missing", () => {
    assert.deepEqual(sensorChange(-1, TEMP, 0), { code: 0, msg: "", lost: 0 });
    assert.equal(sensorChange(-1, 0, 0).code, 0);
  });
  test("properties that disappear raise sensorLost naming them; no second alarm while they stay away", () => {
    const lost = sensorChange(TEMP | HUMI | PRESS, PRESS, 0);
    assert.equal(lost.code, ALARM.sensorLost);
    assert.equal(lost.msg, "sensor data lost: temp,humi");
    assert.equal(lost.lost, TEMP | HUMI);
    const still = sensorChange(PRESS, PRESS, lost.lost);
    assert.equal(still.code, 0);
    assert.equal(still.lost, TEMP | HUMI);
  });
  test("lost properties that return raise sensorBack; a sensor found later without a loss raises nothing", () => {
    const back = sensorChange(PRESS, TEMP | HUMI | PRESS, TEMP | HUMI);
    assert.equal(back.code, ALARM.sensorBack);
    assert.equal(back.msg, "sensor data back: temp,humi");
    assert.equal(back.lost, 0);
    assert.equal(sensorChange(TEMP, TEMP | PRESS, 0).code, 0);
  });
  test("a loss and a return in the same report: the loss is raised, the return on the next report", () => {
    const mixed = sensorChange(TEMP | PRESS, HUMI | PRESS, HUMI);
    assert.equal(mixed.code, ALARM.sensorLost);
    assert.equal(mixed.msg, "sensor data lost: temp");
    const next = sensorChange(HUMI | PRESS, HUMI | PRESS, mixed.lost);
    assert.equal(next.code, ALARM.sensorBack);
    assert.equal(next.msg, "sensor data back: humi");
  });
});

suite("config checker", (test) => {
  test("every problem is collected, none quotes the value", () => {
    const c = new Checker({ port: "x", name: 5, flag: "maybe", level: "LOUD" });
    c.integer("port", { min: 1, max: 10 }, 3);
    c.string("name", false);
    c.boolean("flag", false);
    c.choice("level", ["debug", "info"], "info");
    c.string("missing", true);
    assert.equal(describeProblems(c.problems), "port (not an integer in 1..10); name (not a string); flag (not true/false); level (not debug or info); missing (missing)");
  });
});

suite("wrap-safe time", (test) => {
  test("ticksSince crosses the ESP32 sign flip (2^31 ms) and the wrap (2^32 ms)", () => {
    assert.equal(ticksSince(2147483000, -2147483296), 1000); // 2147483000 -> 2147484000 as signed 32-bit
    assert.equal(ticksSince(-1000, 500), 1500); // across the wrap through 0
    assert.equal(ticksSince(4294967000, 704), 1000); // unsigned inputs behave the same
    assert.equal(ticksSince(100, 100), 0);
  });
  test("the wall clock is known only from September 2020 on", () => {
    assert.ok(!epochKnown(0));
    assert.ok(!epochKnown(1599999999999));
    assert.ok(epochKnown(1600000000000));
  });
});
