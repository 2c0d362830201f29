// The XS lane: every case of every portable suite (test/portable/*.suite.ts) runs inside the real
// XS engine (@agoric/xsnap's xsnap-worker, built from Moddable's XS sources) with the board's module
// surface and without Node/DOM globals; each is reported here as its own test and fails if it fails
// in XS. The Node lane for the same suites is test/portable.test.ts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { XsSuiteRunner } from "../tools/sim/xs-suites.ts";
import { FirmwareError } from "../tools/sim/xs-lane.ts";

const files = readdirSync(new URL("./portable/", import.meta.url))
  .filter((f) => f.endsWith(".suite.ts"))
  .sort()
  .map((f) => `test/portable/${f}`);

let runner: XsSuiteRunner | undefined;
let loadError: string | undefined;
try {
  runner = await XsSuiteRunner.start(files);
} catch (error) {
  // A suite that cannot even load in XS (a Node-only API at module level, a missing module):
  // one failing test with the XS error and its mapped stack.
  loadError = error instanceof FirmwareError ? `${error.message}\n${error.xsStack}` : String(error);
}
after(() => runner?.close());

test("the XS lane loads the portable suites and finds their cases", () => {
  if (loadError !== undefined) assert.fail(`the suites do not load in XS: ${loadError}`);
  assert.ok(runner && runner.cases.length > 0, `no cases registered by ${files.join(", ")}`);
});

const loaded = runner;
loaded?.cases.forEach((c, index) => {
  test(`xs: ${c.suite}: ${c.name}`, async () => {
    const result = await loaded.run(index);
    if (!result.ok) assert.fail(`failed inside XS: ${result.error}`);
  });
});
