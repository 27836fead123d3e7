// The CLI's entry point in this process, with what it prints captured (fast enough for hundreds
// of configs). A thrown exception is a crash and reaches the test as one.
import { main } from "../../../src/cli/main.ts";

export async function runCliInProcess(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let err = "";
  let out = "";
  const write = process.stderr.write.bind(process.stderr);
  const log = console.log;
  process.stderr.write = ((chunk: string) => ((err += chunk), true)) as typeof process.stderr.write;
  console.log = (...a: unknown[]) => void (out += a.join(" ") + "\n");
  try {
    return { code: await main(args), out, err };
  } finally {
    process.stderr.write = write;
    console.log = log;
  }
}
