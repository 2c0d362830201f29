// Runs portable suites (test/portable/*.suite.ts, harness test/portable/harness.ts) inside XS:
// one lane loads every suite, then each case runs in its own crank so it has its own computron
// count. A case passes only if it passes in XS. Used by test/xs-lane.test.ts.
import { resolve as resolvePath } from "node:path";
import { projectRoot } from "./bundle.ts";
import { XsLane } from "./xs-lane.ts";

export interface XsCase {
  suite: string;
  name: string;
}

export interface XsCaseResult {
  ok: boolean;
  /** The failure with its XS stack (bundle lines mapped to .ts lines). */
  error?: string;
  compute: number;
}

const harness = resolvePath(projectRoot, "test/portable/harness.ts");

export class XsSuiteRunner {
  #lane: XsLane;
  readonly #files: string[];
  readonly cases: XsCase[];

  private constructor(lane: XsLane, files: string[], cases: XsCase[]) {
    this.#lane = lane;
    this.#files = files;
    this.cases = cases;
  }

  static async start(files: string[]): Promise<XsSuiteRunner> {
    const lane = await XsSuiteRunner.#boot(files);
    const { value } = await lane.query("JSON.stringify(globalThis.__sim.entry.registeredCases().map((c) => [c.suite, c.name]))");
    const cases = (JSON.parse(value) as [string, string][]).map(([suite, name]) => ({ suite, name }));
    return new XsSuiteRunner(lane, files, cases);
  }

  static async #boot(files: string[]): Promise<XsLane> {
    const imports = files.map((f) => `import ${JSON.stringify(resolvePath(projectRoot, f))};`).join("\n");
    const entryCode = `import { registeredCases } from ${JSON.stringify(harness)};\n${imports}\nglobalThis.__sim.entry = { registeredCases };\n`;
    // The board's stack, but not its memory: the suites' own test data lives in the same heap.
    return XsLane.start({ entryCode, boot: false, limits: "stack" });
  }

  get lane(): XsLane {
    return this.#lane;
  }

  async run(index: number): Promise<XsCaseResult> {
    const code = `(() => { const c = globalThis.__sim.entry.registeredCases()[${index}];
      try { c.run(); return "ok"; } catch (e) { return "fail " + ((e && e.stack) ? e.stack : String(e)); } })()`;
    try {
      const { value, meter } = await this.#lane.query(code);
      if (value === "ok") return { ok: true, compute: meter.compute };
      return { ok: false, error: this.#lane.bundle.lines.rewriteStack(value.slice(5), "firmware.js"), compute: meter.compute };
    } catch (error) {
      // The engine died (e.g. metering limit): report, and start a fresh engine for the rest.
      const message = error instanceof Error ? error.message : String(error);
      await this.#lane.close();
      this.#lane = await XsSuiteRunner.#boot(this.#files);
      return { ok: false, error: `XS engine failure: ${message}`, compute: 0 };
    }
  }

  async close(): Promise<void> {
    await this.#lane.close();
  }
}
