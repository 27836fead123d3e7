// Kept for imports that predate src/util/sh.ts; new code builds commands with sh``.
export { shq } from "../util/sh.ts";
