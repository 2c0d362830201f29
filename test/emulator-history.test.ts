// The emulator's thing/history/post check (tools/emulator/platform.ts) against the project's thing
// model: what OneNET takes (an array of {properties, events}, values with integer ms times, at most
// 100 values per identifier in one message) and the codes it answers otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { checkHistoryPost, HISTORY_MAX_VALUES } from "../tools/emulator/platform.ts";
import { loadThingModel, PROJECT_THING_MODEL } from "../tools/emulator/thing-model.ts";
import { HISTORY_MAX_VALUES as DEVICE_MAX } from "../onenet/payload.ts";

const model = loadThingModel(PROJECT_THING_MODEL);
const T = 1_767_225_600_000;
const values = (n: number, v: unknown = 21.5) => Array.from({ length: n }, (_, i) => ({ value: v, time: T + i * 10_000 }));

test("history post: the platform's shape is accepted, 100 values per identifier at most", () => {
  assert.equal(DEVICE_MAX, HISTORY_MAX_VALUES, "device and emulator agree on the limit");
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: values(100), humi: values(100, 50) } }] }).code, 200);
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: values(101) } }] }).code, 313);
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: values(60) } }, { properties: { temp: values(41) } }] }).code, 313, "counted across the array");
});

test("history post: wrong shapes, types and times are refused with the platform's codes", () => {
  assert.equal(checkHistoryPost(model, { id: "1", params: { properties: { temp: values(1) } } }).code, 313, "params must be an array");
  assert.equal(checkHistoryPost(model, { id: "1", params: [] }).code, 313);
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { nope: values(1) } }] }).code, 309);
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: { value: 1, time: T } } }] }).code, 302, "values must be an array");
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: [{ value: 1 }] } }] }).code, 302, "each value needs its time");
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: [{ value: 1, time: 1.5 }] } }] }).code, 302);
  assert.equal(checkHistoryPost(model, { id: "1", params: [{ properties: { temp: values(1, "hot") } }] }).code, 302, "type of the thing model");
});
