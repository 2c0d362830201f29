// The client across the tick's wrap (2^32 ms, 49.7 days up): the board starts 7.3 s before it.
import { nodeLane } from "../tools/sim/node-lane.ts";
import { tickBoundaryTests } from "./helpers/tick-boundary.ts";

nodeLane.setConfig({ ticks: "4294960000" });
tickBoundaryTests(4294960000, "wrap (2^32 ms)", (ticks) => ticks >= 0);
