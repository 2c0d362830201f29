// `node --import tsx --import ./sim/register.ts ...`: the Node lane. Bare Moddable specifiers
// ("socket", "timer", "mc/config", ...) resolve to sim/modules/*.ts, the global `trace` logs to
// the lane, and sim/node-lane.ts's `nodeLane` is the host (virtual clock by default).
import { register } from "node:module";
import { installNodeLane } from "./node-lane.ts";

register("./node-hooks.mjs", import.meta.url);
installNodeLane();
