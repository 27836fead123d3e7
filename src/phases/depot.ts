// Phase "depot": every control-plane node serves the bundle as a systemd service (issue 16: losing any
// master, master1 included, loses no image, package or file), so the nodes can pull images and packages
// during install, whenever a node is added later, and while a master is down. On each master: its own
// verified copy of the bundle (src/depot/bundle-copy.ts), the serving pair and the repository signing key
// from master1's state (the depot-pki phase made them; 0600, given over SSH like the etcd certificates),
// the same unit listening on the node's own address (master1's on depot.address), both private keys
// handed to the service through LoadCredential=.
import type { Phase, PhaseContext } from "./phase.ts";
import { controlPlanes, firstMaster, type HostSpec } from "../config/types.ts";
import { render } from "../templates/render.ts";
import unitTemplate from "../../assets/systemd/k8s-ha-offline-depot.service" with { type: "text" };
import { installUnitFile, ensureService, unitState } from "../cluster/systemd.ts";
import { waitFor } from "../cluster/wait.ts";
import { NOTHING, todo } from "./steps.ts";
import { NODE_BINARY } from "./binary.ts";
import { sh } from "../util/sh.ts";
import { systemdArg } from "../util/systemd-escape.ts";
import { depotUrl, endpointHostPort, ownDepot } from "../depot/endpoint.ts";
import { DEPOT_SERVING, depotCaStatePaths } from "../pki/depot-pki.ts";
import { repoKeyPath } from "./util/repo-key.ts";
import { requireLock } from "./util/depot-files.ts";
import { DEPOT_BUNDLE_DIR, inspectBundleCopy, lockFingerprint, syncBundleCopy, type BundleSource } from "../depot/bundle-copy.ts";
import { bytesSha256 } from "../hosts/sha256.ts";
import { InstallError } from "../util/errors.ts";
import type { Host } from "../hosts/host.ts";
import { dirname } from "node:path";

export const DEPOT_UNIT = "k8s-ha-offline-depot.service";

/** systemd learned LoadCredential= (and the %d specifier) in v247; el7's systemd 219 gets the key paths directly. */
const CREDENTIALS_SINCE = 247;
const CREDENTIAL = { tlsKey: "depot-tls.key", repoKey: "repo-signing.key" } as const;

/**
 * What the running service was started with (unit, serving pair, signing key, bundle): a digest written
 * after each (re)start, so a new certificate on master1 — where the depot-pki phase writes it in place —
 * or a new bundle restarts the service, and nothing else does.
 */
const STARTED_WITH = `${dirname(DEPOT_BUNDLE_DIR)}/service.inputs`;

/**
 * The depot CA (public) beside the copy, for the phase's own check on the node: the depot is asked from the
 * master itself, because the os phase, which opens the port in the firewall, comes later, and the trust
 * phase, which puts the CA where the nodes keep it, too.
 */
const CHECK_CA = `${dirname(DEPOT_BUNDLE_DIR)}/depot-ca.crt`;

async function systemdVersion(host: Host): Promise<number> {
  const r = await host.exec(sh`systemctl --version`, { check: false });
  return Number(/^systemd (\d+)/.exec(r.stdout.trim())?.[1] ?? 0);
}

export interface DepotUnitInput {
  cluster: string;
  bundleDir: string;
  listen: string;
  stateDir: string;
  /** Whether the node's systemd has LoadCredential= (v247+). */
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

/** Where this master's depot listens and is reached: its own address (master1: depot.address). */
function endpointOf(ctx: PhaseContext, node: HostSpec) {
  const ep = ownDepot(ctx.config, node.name);
  if (!ep) throw new InstallError(`${node.name} is not a control-plane node; only masters run a depot`);
  return ep;
}

async function unitFor(ctx: PhaseContext, host: Host, node: HostSpec): Promise<string> {
  const credentials = await ctx.once(`depot-systemd-credentials:${node.name}`, async () => (await systemdVersion(host)) >= CREDENTIALS_SINCE);
  return renderDepotUnit({ cluster: ctx.config.name, bundleDir: DEPOT_BUNDLE_DIR, listen: endpointHostPort(endpointOf(ctx, node)), stateDir: ctx.stateDir, credentials });
}

interface DepotSecret {
  path: string;
  content: Uint8Array;
  mode: number;
}

/**
 * The serving pair and the signing key as master1 keeps them: what every master's depot is given (with the
 * depot CA, public, for the check: CHECK_CA). Read afresh each time (four small local files): the depot-pki
 * phase may have just replaced them.
 */
async function readStateSecrets(ctx: PhaseContext): Promise<{ secrets: DepotSecret[]; missing: string[] }> {
  const secrets: DepotSecret[] = [];
  const missing: string[] = [];
  const wanted = [[DEPOT_SERVING.cert, DEPOT_SERVING.cert, 0o644], [DEPOT_SERVING.key, DEPOT_SERVING.key, 0o600], [repoKeyPath(ctx.stateDir), repoKeyPath(ctx.stateDir), 0o600], [depotCaStatePaths(ctx.stateDir).cert, CHECK_CA, 0o644]] as const;
  const contents = await Promise.all(wanted.map(([from]) => ctx.local.readFile(from)));
  wanted.forEach(([from, path, mode], i) => {
    const content = contents[i];
    if (content) secrets.push({ path, content, mode });
    else missing.push(from);
  });
  return { secrets, missing };
}

async function stateSecrets(ctx: PhaseContext): Promise<DepotSecret[]> {
  const { secrets, missing } = await readStateSecrets(ctx);
  if (missing.length) throw new InstallError(`depot: ${missing.join(", ")} not found in the installer state here; the depot-pki phase makes them: run install --only depot-pki,depot`);
  return secrets;
}

const same = (a: Uint8Array | null, b: Uint8Array) => a !== null && Buffer.from(a).equals(Buffer.from(b));

/** The digest of what the service should be running with (see STARTED_WITH). */
async function wantedInputs(ctx: PhaseContext, host: Host, node: HostSpec): Promise<string> {
  return inputsDigest(ctx, await unitFor(ctx, host, node), await stateSecrets(ctx));
}

function inputsDigest(ctx: PhaseContext, unit: string, secrets: DepotSecret[]): string {
  const parts = [unit, ...secrets.map((s) => bytesSha256(s.content)), lockFingerprint(requireLock(ctx))];
  return `${bytesSha256(parts.join("\n"))}\n`;
}

/** The service still runs a binary that the binary phase has since replaced. */
async function runsStaleBinary(host: Host): Promise<boolean> {
  const r = await host.exec(sh`pid=$(systemctl show -p MainPID --value ${DEPOT_UNIT}); [ "$pid" -gt 0 ] && readlink /proc/$pid/exe`, { check: false });
  return r.stdout.includes("(deleted)");
}

/** The master's depot answers over TLS at its address, verified against the depot CA (what every node does), asked on the master itself. */
async function depotAnswers(host: Host, url: string): Promise<boolean> {
  const r = await host.exec(sh`curl -sS -o /dev/null -w '%{http_code}' --max-time 3 --proto =https --cacert ${CHECK_CA} ${`${url}/v2/`}`, { check: false, timeoutMs: 10_000 });
  return r.stdout.trim() === "200";
}

/**
 * The master this runs on links its copy from the operator's bundle (or has it already: on master2 the
 * bundle directory is its depot copy); the others are sent this machine's files over SSH.
 */
function sourceFor(ctx: PhaseContext, node: HostSpec): BundleSource {
  return node.name === ctx.local.name ? { kind: "local", dir: ctx.bundleDir } : { kind: "upload", dirs: [ctx.bundleDir, DEPOT_BUNDLE_DIR] };
}

export const depot: Phase = {
  name: "depot",
  title: "Every master serves its verified copy of the bundle over HTTPS (registry /v2/, signed packages /repo/, files /files/) as a systemd service",
  hosts: (c) => controlPlanes(c),
  mode: "parallel",
  async check(ctx, node) {
    const host = await ctx.host(node);
    // Everything is asked at once (a node's reads share one command, src/hosts/coalesce.ts), then judged in order.
    const [copy, { secrets, missing }, cur, unit, service, stale, started] = await Promise.all([
      inspectBundleCopy(host, requireLock(ctx)),
      readStateSecrets(ctx),
      host.readFile(`/etc/systemd/system/${DEPOT_UNIT}`),
      unitFor(ctx, host, node),
      unitState(host, DEPOT_UNIT),
      runsStaleBinary(host),
      host.readFile(STARTED_WITH),
    ]);
    if (copy.differing.length) return todo(`bundle copy: ${copy.differing.length} file(s) missing or different (${copy.differing.slice(0, 3).map((f) => f.path).join(", ")}${copy.differing.length > 3 ? ", ..." : ""})`);
    if (copy.extra.length) return todo(`bundle copy: ${copy.extra.length} file(s) the lock does not list`);
    if (missing.length) return todo(`${missing.join(", ")} not in the installer state yet (the depot-pki phase makes them)`);
    const held = await Promise.all(secrets.map((s) => host.readFile(s.path)));
    const stray = secrets.find((s, i) => !same(held[i] ?? null, s.content));
    if (stray) return todo(`${stray.path} missing or different`);
    if (!cur || new TextDecoder().decode(cur) !== unit) return todo("depot service not installed or different");
    if (!service.active) return todo("depot service not running");
    if (stale) return todo("depot runs an older build of the binary");
    if (!started || new TextDecoder().decode(started) !== inputsDigest(ctx, unit, secrets)) return todo("depot runs with an older certificate, key or bundle");
    const url = depotUrl(endpointOf(ctx, node));
    if (!(await depotAnswers(host, url))) return todo(`depot does not answer over TLS (verified with the depot CA) at ${url}`);
    return NOTHING;
  },
  async run(ctx, node) {
    const host = await ctx.host(node);
    const report = await syncBundleCopy(host, requireLock(ctx), sourceFor(ctx, node), { progress: (l) => ctx.log.info(`    depot copy: ${l}`) });
    if (report.transferred.length || report.removed.length)
      ctx.log.info(`    ${node.name}: depot copy: ${report.transferred.length} file(s) (${(report.bytes / 1048576).toFixed(0)} MB) placed, ${report.removed.length} removed, all checked against the lock`);
    const secrets = await stateSecrets(ctx);
    await host.exec(sh`mkdir -p /var/log/k8s-ha-offline ${[...new Set(secrets.map((s) => dirname(s.path)))]} && chmod 700 ${dirname(DEPOT_SERVING.key)} ${dirname(repoKeyPath(ctx.stateDir))}`);
    for (const s of secrets) await host.writeFile(s.path, s.content, { mode: s.mode });
    await installUnitFile(host, `/etc/systemd/system/${DEPOT_UNIT}`, await unitFor(ctx, host, node));
    const want = await wantedInputs(ctx, host, node);
    const started = await host.readFile(STARTED_WITH);
    // A new certificate, key, unit, bundle or build of the binary (the binary phase just replaced it) all need a restart.
    const restart = !started || new TextDecoder().decode(started) !== want || (await runsStaleBinary(host));
    await ensureService(host, DEPOT_UNIT, restart ? "restart" : "start");
    await host.writeFile(STARTED_WITH, want, { mode: 0o600 });
    const url = depotUrl(endpointOf(ctx, node));
    await waitFor(`the depot of ${node.name} at ${url}/v2/ (over TLS, verified with the depot CA)`, () => depotAnswers(host, url), 30_000);
  },
};
