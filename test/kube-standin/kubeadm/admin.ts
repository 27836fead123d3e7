// kubeadm's day-2 commands: token, init phase upload-certs, reset, certs, config images, version.
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import YAML from "yaml";
import { fail } from "../lib/errors.ts";
import { bool, parseFlags, str } from "../lib/flags.ts";
import { call } from "../lib/api.ts";
import { loadKubeconfig, clientFromKubeconfig, renderKubeconfig } from "../lib/kubeconfig.ts";
import { parseDuration } from "../lib/duration.ts";
import { rooted, standinVersion } from "../lib/env.ts";
import { certFacts, newLeaf } from "../lib/pki.ts";
import { imageList } from "../lib/versions.ts";
import { pullProblems } from "../lib/registry.ts";
import { checkCertificateKey, clusterModel, readConfigFile, readDocs, standin } from "../config/load.ts";
import { TOKEN_RE } from "../config/values.ts";
import { KUBE_DIR, exists, readFile, readPair, stopKubelet, writeFile } from "./node.ts";
import { joinCommand, listTokens, putToken, randomToken, ttlText, uploadCerts } from "./cluster.ts";

const adminClient = (p: ReturnType<typeof parseFlags>) => loadKubeconfig(str(p, "kubeconfig") ?? `${KUBE_DIR}/admin.conf`);

async function clusterFromApi(api: ReturnType<typeof loadKubeconfig>) {
  const cm = await call(api, "GET", "/api/v1/namespaces/kube-system/configmaps/kubeadm-config");
  return clusterModel(readDocs(cm.data.ClusterConfiguration, "ConfigMap kube-system/kubeadm-config", standin()).get("ClusterConfiguration"), standin());
}

export async function token(argv: string[]): Promise<object> {
  const [sub, ...rest] = argv;
  const p = parseFlags(rest, { ttl: "string", "print-join-command": "bool", description: "string", kubeconfig: "string", usages: "list", groups: "list", v: "string" });
  const api = adminClient(p);
  if (sub === "create") {
    const t = p.args[0] ?? randomToken();
    if (!TOKEN_RE.test(t)) fail(`the bootstrap token "${t}" was not of the form "\\A([a-z0-9]{6})\\.([a-z0-9]{16})\\z"`);
    const ttlMs = parseDuration(str(p, "ttl") ?? "24h");
    if (ttlMs === null || ttlMs < 0) fail(`invalid argument "${str(p, "ttl")}" for "--ttl" flag: time: invalid duration "${str(p, "ttl")}"`);
    await putToken(api, { token: t, ttlMs: ttlMs!, usages: (p.flags.usages as string[]) ?? ["signing", "authentication"], groups: (p.flags.groups as string[]) ?? ["system:bootstrappers:kubeadm:default-node-token"], description: str(p, "description") });
    console.log(bool(p, "print-join-command") ? joinCommand(api.server.replace(/^https:\/\//, ""), t, api.ca!) : t);
    return { command: "token create", tokenId: t.split(".")[0], ttl: str(p, "ttl") ?? "24h" };
  }
  if (sub === "list") {
    const rows = (await listTokens(api)).map((s) => {
      const { ttl, expires } = ttlText(s);
      const usages = Object.keys(s.stringData).filter((k) => k.startsWith("usage-bootstrap-")).map((k) => k.slice(16)).join(",");
      return [`${s.stringData["token-id"]}.${s.stringData["token-secret"]}`, ttl, expires, usages, s.stringData.description ?? "<none>", s.stringData["auth-extra-groups"] ?? ""];
    });
    printTable([["TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS"], ...rows]);
    return { command: "token list", count: rows.length };
  }
  if (sub === "delete") {
    for (const t of p.args) {
      const id = t.split(".")[0]!;
      await call(api, "DELETE", `/api/v1/namespaces/kube-system/secrets/bootstrap-token-${id}`);
      console.log(`bootstrap token "${id}" deleted`);
    }
    return { command: "token delete", tokenIds: p.args.map((t) => t.split(".")[0]) };
  }
  return fail(`unknown command "${sub ?? ""}" for "kubeadm token": use create, list or delete`);
}

export function printTable(rows: string[][]) {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  for (const r of rows) console.log(r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd());
}

/** `kubeadm init phase upload-certs --upload-certs [--certificate-key K]` */
export async function uploadCertsPhase(argv: string[]): Promise<object> {
  const p = parseFlags(argv, { "upload-certs": "bool", "certificate-key": "string", config: "string", kubeconfig: "string", "skip-certificate-key-print": "bool", v: "string" });
  if (!bool(p, "upload-certs")) {
    console.log("[upload-certs] Skipping phase. Please see --upload-certs");
    return { command: "init phase upload-certs", skipped: true };
  }
  const key = str(p, "certificate-key") ?? randomBytes(32).toString("hex");
  checkCertificateKey(key, "--certificate-key");
  const api = adminClient(p);
  const c = str(p, "config") ? clusterModel(readConfigFile(str(p, "config")!, standin()).get("ClusterConfiguration"), standin()) : await clusterFromApi(api);
  await uploadCerts(api, c, key);
  return { command: "init phase upload-certs" };
}

/** `kubeadm reset -f`: what real reset removes; external etcd is left alone. */
export async function reset(argv: string[]): Promise<object> {
  const p = parseFlags(argv, { force: "bool", "cri-socket": "string", "ignore-preflight-errors": "list", kubeconfig: "string", v: "string", "cert-dir": "string" }, { f: "force" });
  if (!bool(p, "force")) fail("won't proceed; the user didn't answer (Y|n) in order to continue (use -f to reset without asking)");
  console.log("[preflight] Running pre-flight checks");
  console.log("[reset] Stopping the kubelet service");
  await stopKubelet();
  console.log("[reset] The reset process does not clean your external etcd; remove the node's data from it by hand if you need to");
  const dirs = ["/etc/kubernetes/manifests", "/var/lib/kubelet", str(p, "cert-dir") ?? "/etc/kubernetes/pki"];
  console.log(`[reset] Deleting contents of directories: [${dirs.join(" ")}]`);
  for (const d of dirs) if (fs.existsSync(rooted(d))) for (const e of fs.readdirSync(rooted(d))) fs.rmSync(path.join(rooted(d), e), { recursive: true, force: true });
  const files = ["admin.conf", "super-admin.conf", "kubelet.conf", "bootstrap-kubelet.conf", "controller-manager.conf", "scheduler.conf"].map((f) => `${KUBE_DIR}/${f}`);
  console.log(`[reset] Deleting files: [${files.join(" ")}]`);
  for (const f of files) fs.rmSync(rooted(f), { force: true });
  console.log("\nThe reset process does not clean CNI configuration, iptables/IPVS tables or your kubeconfig files ($HOME/.kube/config).");
  return { command: "reset" };
}

const LEAVES: { name: string; file: string; ca: string }[] = [
  { name: "apiserver", file: "apiserver", ca: "ca" },
  { name: "apiserver-kubelet-client", file: "apiserver-kubelet-client", ca: "ca" },
  { name: "front-proxy-client", file: "front-proxy-client", ca: "front-proxy-ca" },
];
const KUBECONFIGS = ["admin.conf", "super-admin.conf", "controller-manager.conf", "scheduler.conf"];
const fmtDate = (d: Date) => d.toUTCString().replace(/^\w+, (\d+) (\w+) (\d+) (\d+:\d+):\d+ GMT$/, "$2 $1, $3 $4 UTC");
const residual = (d: Date) => {
  const days = Math.floor((d.getTime() - Date.now()) / 86_400_000);
  return days >= 365 ? `${Math.floor(days / 365)}y` : `${days}d`;
};

function kubeconfigCert(file: string): string | undefined {
  return exists(`${KUBE_DIR}/${file}`) ? clientFromKubeconfig(readFile(`${KUBE_DIR}/${file}`), file).cert : undefined;
}

export async function certs(argv: string[]): Promise<object> {
  const [sub, ...rest] = argv;
  const p = parseFlags(rest, { "cert-dir": "string", config: "string", kubeconfig: "string", v: "string" });
  const dir = str(p, "cert-dir") ?? "/etc/kubernetes/pki";
  if (sub === "certificate-key") {
    console.log(randomBytes(32).toString("hex"));
    return { command: "certs certificate-key" };
  }
  if (sub === "check-expiration") {
    const rows = [["CERTIFICATE", "EXPIRES", "RESIDUAL TIME", "CERTIFICATE AUTHORITY", "EXTERNALLY MANAGED"]];
    const entries: [string, string | undefined, string][] = [
      ...KUBECONFIGS.map((k) => [k, kubeconfigCert(k), ""] as [string, string | undefined, string]),
      ...LEAVES.map((l) => [l.name, exists(`${dir}/${l.file}.crt`) ? readFile(`${dir}/${l.file}.crt`) : undefined, l.ca] as [string, string | undefined, string]),
    ].sort((a, b) => a[0].localeCompare(b[0]));
    for (const [name, pem, ca] of entries) if (pem) rows.push([name, fmtDate(certFacts(pem).notAfter), residual(certFacts(pem).notAfter), ca, "no"]);
    printTable(rows);
    console.log("");
    const caRows = [["CERTIFICATE AUTHORITY", "EXPIRES", "RESIDUAL TIME", "EXTERNALLY MANAGED"]];
    for (const ca of ["ca", "front-proxy-ca"]) if (exists(`${dir}/${ca}.crt`)) { const d = certFacts(readFile(`${dir}/${ca}.crt`)).notAfter; caRows.push([ca, fmtDate(d), residual(d), "no"]); }
    printTable(caRows);
    return { command: "certs check-expiration" };
  }
  if (sub === "renew") {
    const what = p.args[0];
    if (what !== "all") fail(`the stand-in implements "kubeadm certs renew all" only (got "${what ?? ""}")`);
    await renewAll(dir);
    console.log("\nDone renewing certificates. You must restart the kube-apiserver, kube-controller-manager, kube-scheduler and etcd, so that they can use the new certificates.");
    return { command: "certs renew all" };
  }
  return fail(`unknown command "${sub ?? ""}" for "kubeadm certs": use check-expiration, renew all or certificate-key`);
}

export async function configImages(argv: string[]): Promise<object> {
  const [group, sub, ...rest] = argv;
  if (group !== "images" || (sub !== "list" && sub !== "pull")) fail(`the stand-in implements "kubeadm config images list|pull" only`);
  const p = parseFlags(rest, { config: "string", "kubernetes-version": "string", "image-repository": "string", "cri-socket": "string", v: "string" });
  const version = standin();
  const docs = str(p, "config") ? readConfigFile(str(p, "config")!, version) : new Map();
  const c = clusterModel(docs.get("ClusterConfiguration"), version);
  const images = imageList({ version: c.kubernetesVersion, imageRepository: str(p, "image-repository") ?? c.imageRepository, externalEtcd: !!c.etcdExternal });
  if (sub === "list") {
    for (const i of images) console.log(i);
    return { command: "config images list", images };
  }
  const problems = await pullProblems(images);
  for (const i of images) if (!problems.some((x) => x.includes(` ${i}:`))) console.log(`[config/images] Pulled ${i}`);
  if (problems.length) fail(problems.join("\n"));
  return { command: "config images pull", images };
}

export function version(argv: string[]): object {
  const p = parseFlags(argv, { output: "string" }, { o: "output" });
  const v = standinVersion();
  if (str(p, "output") === "short") console.log(v);
  else if (str(p, "output") === "json") console.log(JSON.stringify({ clientVersion: { gitVersion: v, platform: "linux/amd64" } }));
  else console.log(`kubeadm version: &version.Info{Major:"1", Minor:"${v.split(".")[1]}", GitVersion:"${v}", GoVersion:"standin", Platform:"linux/amd64"}`);
  return { command: "version" };
}

/** `certs renew all`: every leaf and kubeconfig client certificate re-issued from its CA with the same subject and SANs (also what upgrade apply/node do). */
export async function renewAll(dir: string) {
  for (const l of LEAVES) {
    if (!exists(`${dir}/${l.file}.crt`)) continue;
    const old = certFacts(readFile(`${dir}/${l.file}.crt`));
    const usage = l.name === "apiserver" ? "server" : "client";
    const fresh = await newLeaf(readPair(dir, l.ca), { cn: old.cn, orgs: old.orgs, dns: old.dns, ips: old.ips, usage });
    writeFile(`${dir}/${l.file}.crt`, fresh.cert, 0o644);
    writeFile(`${dir}/${l.file}.key`, fresh.key, 0o600);
    console.log(`certificate for ${l.name} renewed`);
  }
  for (const k of KUBECONFIGS) {
    if (!exists(`${KUBE_DIR}/${k}`)) continue;
    const cfg = YAML.parse(readFile(`${KUBE_DIR}/${k}`));
    const c = clientFromKubeconfig(readFile(`${KUBE_DIR}/${k}`), k);
    const old = certFacts(c.cert!);
    const fresh = await newLeaf(readPair(dir, "ca"), { cn: old.cn, orgs: old.orgs, usage: "client" });
    writeFile(`${KUBE_DIR}/${k}`, renderKubeconfig({ clusterName: cfg.clusters[0].name, server: c.server, caCert: c.ca!, user: cfg.users[0].name, clientCert: fresh.cert, clientKey: fresh.key }));
    console.log(`certificate embedded in the kubeconfig file ${k} renewed`);
  }
}
