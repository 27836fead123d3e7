// Command-line entry: help and version straight away, everything else through the command table
// (command-table.ts, loaded only then); errors become messages and exit codes, never a stack trace.
import { VERSION } from "../version.ts";
import { EXIT_FAILURE, EXIT_USAGE, UsageError, errorText } from "../util/errors.ts";
import { ConfigError } from "../config/errors.ts";
import { closest } from "../config/suggest.ts";
import { paint, useColor } from "./color.ts";
import { invokedAs } from "./invoked.ts";
import { currentLogFile, forgetLogFile } from "./last-log.ts";
import { COMMAND_RULES } from "./commands-meta.ts";
import { helpTexts } from "./help-texts.ts" with { type: "macro" };

/** The top level's help under "", each command's under its name: made from the command table at build time. */
const HELP: Record<string, string> = helpTexts();

/** Which help a command line asks for and nothing else: "" the top level's, a command's name, or undefined. */
function helpAsked(argv: readonly string[]): string | undefined {
  const isHelp = (a: string | undefined) => a === "--help" || a === "-h";
  if (argv.length === 0 || (argv.length === 1 && isHelp(argv[0]))) return "";
  if (argv.length === 2 && isHelp(argv[1]) && Object.hasOwn(HELP, argv[0]!)) return argv[0];
  return undefined;
}

/** Runs a command line; returns the exit code. Every error becomes a message, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  // The version needs no command table: registering the commands with cac is most of a bare start-up's
  // CPU (issue 20: `version` at most 1.5x the runtime's own start-up).
  if (argv[0] === "--version" || argv[0] === "-V") {
    console.log(`k8s-ha-offline ${VERSION}`);
    return 0;
  }
  if (argv.length === 1 && argv[0] === "version") return (await import("./commands/version.ts")).default();
  const help = helpAsked(argv);
  if (help !== undefined) {
    // console.log, as cac prints it: process.stdout is a stream Bun builds on first use (milliseconds of start-up).
    console.log(HELP[help]!);
    return 0;
  }
  const { buildCli, commandNames, flagNames } = await import("./command-table.ts");
  const cli = buildCli(argv);
  const verbose = argv.includes("-v") || argv.includes("--verbose");
  const me = invokedAs();
  forgetLogFile();
  try {
    // cac finds the command by parsing argv once per registered command (with that command's flags):
    // 18 parses, enough calls for the JIT to compile cac's parser, which was most of --help's start-up
    // CPU. Only a command whose name is in argv can match, so parse against those alone; the help is
    // printed afterwards, against the whole table.
    const all = cli.commands;
    cli.commands = all.filter((c) => c.isDefaultCommand || [c.name, ...c.aliasNames].some((n) => argv.includes(n)));
    cli.showHelpOnExit = false;
    try {
      cli.parse(["bun", "k8s-ha-offline", ...argv], { run: false });
    } finally {
      cli.commands = all;
    }
    if (cli.options.help) {
      cli.outputHelp();
      return 0;
    }
    if (!cli.matchedCommand) {
      if (cli.args.length) {
        const near = closest(String(cli.args[0]), commandNames(cli));
        throw new UsageError(`unknown command "${cli.args[0]}"`, near ? `did you mean "${me} ${near}"? (${me} --help lists the commands)` : `run ${me} --help for the list of commands`);
      }
      cli.outputHelp();
      return 0;
    }
    const name = cli.matchedCommand.name;
    const rules = COMMAND_RULES[name] ?? {};
    if (cli.options.dryRun && !rules.dryRun)
      throw new UsageError(
        `${name} has no --dry-run`,
        rules.readOnly ? `${name} changes nothing anyway: run it without --dry-run` : `run ${me} ${name} --help to see what it does; --dry-run works with: ${Object.entries(COMMAND_RULES).filter(([, r]) => r.dryRun).map(([n]) => n).join(", ")}`,
      );
    if (rules.root && !cli.options.dryRun && !(rules.rootUnless?.(cli.options) ?? false)) requireRoot(name, me);
    const result = await cli.runMatchedCommand();
    const code = typeof result === "number" ? result : 0;
    const log = currentLogFile();
    if (code !== 0 && log) process.stderr.write(`log: ${log}\n`);
    return code;
  } catch (caught) {
    const command = argv.find((a) => !a.startsWith("-"));
    const err = unknownOption(caught, () => flagNames(cli, command), command, me) ?? caught;
    const code = reportError(err, verbose);
    const log = currentLogFile();
    if (code !== 0 && log) process.stderr.write(`log: ${log}\n`);
    return code;
  }
}

/** cac's "Unknown option `--dryrun`" as a usage error with the closest option of that command. */
function unknownOption(err: unknown, flagsOf: () => string[], command: string | undefined, me: string): UsageError | undefined {
  const unknown = err instanceof Error && err.name === "CACError" ? /Unknown option `([^`]+)`/.exec(err.message)?.[1] : undefined;
  if (!unknown) return undefined;
  const flag = unknown.split("=")[0]!;
  const known = flagsOf().map((f) => f.slice(2));
  const near = closest(flag.replace(/^-+/, ""), known);
  const help = `${me} ${command ? `${command} ` : ""}--help lists the options`;
  return new UsageError(`unknown option ${flag}${command ? ` for ${command}` : ""}`, near ? `did you mean --${near}? (${help})` : help);
}

/** Commands that change nodes or read root's files on master1 refuse early, before any prompt or connection. */
export function requireRoot(command: string, me = "k8s-ha-offline", uid = process.getuid?.()): void {
  if (uid === undefined || uid === 0) return;
  throw new UsageError(
    `${command} needs root on master1 (it writes the state directory, reads root's SSH key and /etc/kubernetes): you are uid ${uid}`,
    `run as root (or with sudo): sudo ${me} ${command} ...`,
  );
}

export function reportError(err: unknown, verbose = false): number {
  const p = paint(useColor(process.stderr));
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.format()}\n`);
    return EXIT_USAGE;
  }
  if (err instanceof UsageError || (err instanceof Error && err.name === "CACError")) {
    process.stderr.write(`${p.bad("error:")} ${err.message}\n`);
    if (err instanceof UsageError && err.hint) process.stderr.write(`hint: ${err.hint}\n`);
    return EXIT_USAGE;
  }
  process.stderr.write(`${p.bad("error:")} ${errorText(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return EXIT_FAILURE;
}
