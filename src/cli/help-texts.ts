// Every help text, made when the binary is built: main.ts imports helpTexts() as a Bun macro, so
// `--help` and `<command> --help` print a string instead of registering ~20 commands with cac and
// formatting them (most of their start-up CPU; issue 20: at most 1.5x the runtime's own start-up).
// The texts come from the command table itself, so they cannot drift from what cac would print.
import { buildCli } from "./command-table.ts";

/** The top level's help under "", each command's under its name (printed with console.log, as cac does). */
export function helpTexts(): Record<string, string> {
  const texts: Record<string, string> = { "": helpOf([]) };
  for (const c of buildCli().commands) if (c.name) texts[c.name] = helpOf([c.name]);
  return texts;
}

/** What `k8s-ha-offline ...words --help` prints: the table built and parsed as main.ts does, cac's output caught. */
function helpOf(words: string[]): string {
  const argv = [...words, "--help"];
  const cli = buildCli(argv);
  cli.showHelpOnExit = false;
  cli.parse(["bun", "k8s-ha-offline", ...argv], { run: false });
  const lines: string[] = [];
  const info = console.info;
  console.info = (...parts: unknown[]) => void lines.push(parts.join(" "));
  try {
    cli.outputHelp();
  } finally {
    console.info = info;
  }
  return lines.join("\n");
}
