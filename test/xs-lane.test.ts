// The XS lane: every case of every portable suite (test/portable/*.suite.ts) runs inside the real
// XS engine (@agoric/xsnap's xsnap-worker, built from Moddable's XS sources) with the board's module
// surface and without Node/DOM globals; each is reported here as its own test and fails if it fails
// in XS. The Node lane for the same suites is test/portable.test.ts.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { XsSuiteRunner } from "../sim/xs-suites.ts";

const files = readdirSync(new URL("./portable/", import.meta.url))
  .filter((f) => f.endsWith(".suite.ts"))
  .sort()
  .map((f) => `test/portable/${f}`);

const runner = await XsSuiteRunner.start(files);
after(() => runner.close());

test("the XS lane found the portable suites' cases", () => {
  assert.ok(runner.cases.length > 0, `no cases registered by ${files.join(", ")}`);
});

runner.cases.forEach((c, index) => {
  test(`xs: ${c.suite}: ${c.name}`, async () => {
    const result = await runner.run(index);
    if (!result.ok) assert.fail(`failed inside XS: ${result.error}`);
  });
});
