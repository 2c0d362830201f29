// Moddable "mc/config": the `key=value` pairs given to mcconfig, here given to the simulator
// (npm start -- key=value..., or a test's lane options). Values are strings, as mcconfig makes them.
// A bundle built with config baked in (tools/sim/image.ts: an OTA image's `version`) has it over those,
// as a board image carries its build's config.
import { host } from "../../host.ts";

const baked = (globalThis as { __simBuildConfig?: Record<string, string> }).__simBuildConfig;
const config: { readonly [key: string]: string | number | boolean | undefined } = baked === undefined ? host().config() : { ...host().config(), ...baked };

export default config;
