// The app's pure rules, in Node and inside XS: when the `alarm` event is raised for sensor data
// (thing model event `alarm`, {code, msg}, msg at most 64 characters), the shared config checker,
// and the wrap-safe tick difference (docs/moddable.md: ESP32 ticks are a signed 32-bit view of an
// unsigned millisecond counter).
import { assert, suite } from "./harness";
import { ALARM, sensorChange } from "../../app/alarms";
import { Checker, describeProblems } from "../../lib/checker";
import { ticksSince, epochKnown, Uptime } from "../../lib/time";
import { formatLine, Log } from "../../lib/log";

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

suite("log lines from outside data", (test) => {
  test("control characters (ANSI escapes, C1) never reach the terminal: spaces in the message, escapes in values", () => {
    const line = formatLine(5, "WARN", "onenet", "bad id \u001b[31mred\u001b[0m\r\nnext\u009b2J", { id: "a\u001b[2Jb", c1: "x\u009by" });
    assert.ok(!/[\u0000-\u001f\u007f-\u009f]/.test(line), JSON.stringify(line));
    assert.equal(line, '5 WARN onenet: bad id  [31mred [0m next 2J id="a\\u001b[2Jb" c1="x\\u009by"');
  });
});

suite("uptime across the tick wrap", (test) => {
  test("Uptime keeps counting through the sign flip and the wrap of the board's 32-bit tick", () => {
    let board = 2147483000;
    const up = new Uptime(() => board | 0);
    board += 1000;
    assert.equal(up.now(), 1000);
    board = 4294967000;
    assert.equal(up.now(), 2147484000);
    board = 4294967296 + 704; // wrapped through 0
    assert.equal(up.now(), 2147485000);
    const lines: string[] = [];
    const log = new Log({ uptime: up, write: (l) => lines.push(l) });
    board += 5000;
    log.info("app", "still counting");
    assert.equal(lines[0], "2147490000 INFO app: still counting");
  });
});
