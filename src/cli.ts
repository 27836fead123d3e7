#!/usr/bin/env bun
// Entry point of the k8s-ha-offline executable. Every command lives in src/cli/commands/;
// this file only wires flags to them and turns errors into exit codes (never a stack trace).
import { main } from "./cli/main.ts";

process.exitCode = await main(process.argv.slice(2));
