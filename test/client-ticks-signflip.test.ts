// The client across the tick's sign flip (2^31 ms, 24.8 days up): the board starts 3.6 s before it.
import { nodeLane } from "../tools/sim/node-lane.ts";
import { tickBoundaryTests } from "./helpers/tick-boundary.ts";

nodeLane.setConfig({ ticks: "2147480000" });
tickBoundaryTests(2147480000, "sign flip (2^31 ms)", (ticks) => ticks < 0);
