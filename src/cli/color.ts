// Colour on a terminal only, and never when NO_COLOR is set (https://no-color.org) or TERM is dumb:
// logs, pipes and CI get plain text.
export function useColor(out: { isTTY?: boolean } = process.stderr, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return Boolean(out.isTTY);
}

export interface Paint {
  ok(s: string): string;
  bad(s: string): string;
  warn(s: string): string;
  dim(s: string): string;
}

const wrap = (code: string) => (s: string) => `\x1b[${code}m${s}\x1b[0m`;
const plain = (s: string) => s;

export function paint(on: boolean): Paint {
  return on ? { ok: wrap("32"), bad: wrap("31"), warn: wrap("33"), dim: wrap("2") } : { ok: plain, bad: plain, warn: plain, dim: plain };
}
