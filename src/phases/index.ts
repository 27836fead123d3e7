// THE INSTALL, in order. Each phase: a title, the hosts it applies to, a check (anything left to do?)
// and a run. `k8s-ha-offline phases` prints this list; --only/--from pick from it.
import type { Phase } from "./phase.ts";
import { preflight } from "./preflight/index.ts";
import { os } from "./os.ts";

export const PHASES: readonly Phase[] = [
  preflight, //          read-only checks on every node; stops before any change
  os, //                 hostname, /etc/hosts, swap, SELinux, firewall, modules, sysctls
];
