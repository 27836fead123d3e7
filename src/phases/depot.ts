// Phase "depot": the binary serves the bundle from master1 as a systemd service, so the nodes
// can pull images and packages during install and whenever a node is added later. Before the service
// (re)starts, the depot PKI (CA kept in the state dir, serving certificate naming every master) and the
// repository signing key are made or kept; the service gets both private keys through LoadCredential=.
import { dirname } from "node:path";
import type { Phase } from "./phase.ts";
import { firstMaster } from "../config/types.ts";
import { render } from "../templates/render.ts";
import unitTemplate from "../../assets/systemd/k8s-ha-offline-depot.service" with { type: "text" };
import { installUnitFile, ensureService, unitState } from "../cluster/systemd.ts";
import { waitFor } from "../cluster/wait.ts";
import { NOTHING, todo } from "./steps.ts";
import { NODE_BINARY } from "./binary.ts";
import type { PhaseContext } from "./phase.ts";
import { sh } from "../util/sh.ts";
import { systemdArg } from "../util/systemd-escape.ts";
import { depotUrl, endpointHostPort } from "../depot/endpoint.ts";
import { DEPOT_SERVING, depotCaStatePaths, planDepotPki, reviewDepotPki, type ExistingDepotPki } from "../pki/depot-pki.ts";
import { ensureRepoKey, readRepoKey, repoKeyPath } from "./util/repo-key.ts";
import type { Host } from "../hosts/host.ts";

export const DEPOT_UNIT = "k8s-ha-offline-depot.service";

/** systemd learned LoadCredential= (and the %d specifier) in v247; el7's systemd 219 gets the key paths directly. */
const CREDENTIALS_SINCE = 247;
const CREDENTIAL = { tlsKey: "depot-tls.key", repoKey: "repo-signing.key" } as const;

async function systemdVersion(host: Host): Promise<number> {
  const r = await host.exec(sh`systemctl --version`, { check: false });
  return Number(/^systemd (\d+)/.exec(r.stdout.trim())?.[1] ?? 0);
}

export interface DepotUnitInput {
  cluster: string;
  bundleDir: string;
  listen: string;
  stateDir: string;
  /** Whether master1's systemd has LoadCredential= (v247+). */
  credentials: boolean;
}

/** The depot's unit file. */
export function renderDepotUnit(u: DepotUnitInput): string {
  const repoKey = repoKeyPath(u.stateDir);
  // A LoadCredential= path is not split into words, but % is still a specifier there.
  const credLine = (id: string, path: string) => `LoadCredential=${id}:${path.replace(/%/g, "%%")}\n`;
  return render(unitTemplate, {
    cluster: u.cluster,
    // ExecStart is parsed by systemd: each value must stay one argument, with % and $ taken literally.
    binary: systemdArg(NODE_BINARY),
    bundleDir: systemdArg(u.bundleDir),
    listen: systemdArg(u.listen),
    tlsCert: systemdArg(DEPOT_SERVING.cert),
    // The private keys reach the service as credentials (%d: its credentials directory), so the service
    // does not need to read root's files itself.
    credentials: u.credentials ? credLine(CREDENTIAL.tlsKey, DEPOT_SERVING.key) + credLine(CREDENTIAL.repoKey, repoKey) : "",
    tlsKey: u.credentials ? `%d/${CREDENTIAL.tlsKey}` : systemdArg(DEPOT_SERVING.key),
    repoKey: u.credentials ? `%d/${CREDENTIAL.repoKey}` : systemdArg(repoKey),
  }, "k8s-ha-offline-depot.service");
}

async function unitFor(ctx: PhaseContext): Promise<string> {
  const credentials = await ctx.once("depot-systemd-credentials", async () => (await systemdVersion(ctx.local)) >= CREDENTIALS_SINCE);
  return renderDepotUnit({ cluster: ctx.config.name, bundleDir: ctx.bundleDir, listen: endpointHostPort(ctx.depot), stateDir: ctx.stateDir, credentials });
}

const decode = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : undefined);

/** The depot PKI as it is on master1: the CA from the state dir (or its backup), the serving pair. */
export async function readDepotPki(ctx: Pick<PhaseContext, "local" | "stateDir">): Promise<ExistingDepotPki> {
  const p = depotCaStatePaths(ctx.stateDir);
  const read = async (a: string, b?: string) => decode(await ctx.local.readFile(a)) ?? (b ? decode(await ctx.local.readFile(b)) : undefined);
  const ca = { certPem: await read(p.cert, p.backupCert), keyPem: await read(p.key, p.backupKey) };
  return { ca: ca.certPem || ca.keyPem ? ca : undefined, serving: { certPem: await read(DEPOT_SERVING.cert), keyPem: await read(DEPOT_SERVING.key) } };
}

/** The service still runs a binary that the binary phase has since replaced. */
async function runsStaleBinary(ctx: PhaseContext): Promise<boolean> {
  const r = await ctx.local.exec(sh`pid=$(systemctl show -p MainPID --value ${DEPOT_UNIT}); [ "$pid" -gt 0 ] && readlink /proc/$pid/exe`, { check: false });
  return r.stdout.includes("(deleted)");
}

/** The depot answers over TLS, verified against the depot CA (what every node does). */
export async function depotAnswers(url: string, caPem: string | undefined): Promise<boolean> {
  if (!caPem) return false;
  const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(2000), tls: { ca: caPem } }).catch(() => null);
  await res?.arrayBuffer().catch(() => undefined);
  return res?.status === 200;
}

/** What the depot phase would change in the PKI and the key, in words; empty when everything is kept. */
async function pendingSecrets(ctx: PhaseContext): Promise<string[]> {
  const existing = await readDepotPki(ctx);
  const out = reviewDepotPki(ctx.config, existing).filter((a) => a.action === "issued").map((a) => `${a.id}: ${a.why}`);
  const paths = depotCaStatePaths(ctx.stateDir);
  if (out.length === 0) {
    // Kept, but a copy (or the backup) may be missing.
    for (const [path, want] of [[paths.cert, existing.ca?.certPem], [paths.backupCert, existing.ca?.certPem], [paths.backupKey, existing.ca?.keyPem], [paths.key, existing.ca?.keyPem]] as const)
      if (decode(await ctx.local.readFile(path)) !== want) out.push(`${path} missing or different`);
  }
  if (!(await readRepoKey(ctx))) out.push(`repository signing key: missing (${repoKeyPath(ctx.stateDir)})`);
  return out;
}

export const depot: Phase = {
  name: "depot",
  title: "Serve the bundle from master1 over HTTPS (registry /v2/, signed packages /repo/, files /files/) as a systemd service",
  hosts: (c) => [firstMaster(c)],
  mode: "once",
  async check(ctx) {
    const secrets = await pendingSecrets(ctx);
    if (secrets.length) return todo(secrets.join(", "));
    const cur = await ctx.local.readFile(`/etc/systemd/system/${DEPOT_UNIT}`);
    if (!cur || new TextDecoder().decode(cur) !== (await unitFor(ctx))) return todo("depot service not installed or different");
    if (!(await unitState(ctx.local, DEPOT_UNIT)).active) return todo("depot service not running");
    if (await runsStaleBinary(ctx)) return todo("depot runs an older build of the binary");
    const ca = decode(await ctx.local.readFile(depotCaStatePaths(ctx.stateDir).cert));
    if (!(await depotAnswers(depotUrl(ctx.depot), ca))) return todo(`depot does not answer over TLS (verified with the depot CA) at ${depotUrl(ctx.depot)}`);
    return NOTHING;
  },
  async run(ctx) {
    const plan = await planDepotPki(ctx.config, await readDepotPki(ctx));
    for (const a of plan.actions) if (a.action === "issued") ctx.log.info(`    depot: issued ${a.id} (${a.why})`);
    await ctx.local.exec(
      sh`mkdir -p /var/log/k8s-ha-offline ${[...new Set(plan.files.map((f) => dirname(f.path)))]} && chmod 700 ${`${ctx.stateDir}/pki`} ${dirname(DEPOT_SERVING.key)}`,
    );
    let secretsChanged = false;
    for (const f of plan.files) secretsChanged = (await ctx.local.writeFile(f.path, f.content, { mode: f.mode })) || secretsChanged;
    const { created } = await ensureRepoKey(ctx);
    const changed = await installUnitFile(ctx.local, `/etc/systemd/system/${DEPOT_UNIT}`, await unitFor(ctx));
    // A new certificate or key, a new unit or a new build of the binary (the binary phase just replaced it) all need a restart.
    await ensureService(ctx.local, DEPOT_UNIT, changed || secretsChanged || created || (await runsStaleBinary(ctx)) ? "restart" : "start");
    await waitFor(`the depot at ${depotUrl(ctx.depot)}/v2/ (over TLS, verified with the depot CA)`, () => depotAnswers(depotUrl(ctx.depot), plan.caCertPem), 30_000);
  },
};
