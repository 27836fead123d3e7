// The end state of an install, comparable between two labs: every file the install left on a
// node is in that node's overlay upper layer (the lab boots every node on the same base tree), so
// walking the upper layers sees every file the phases own, and any stray file a killed run left.
// What differs by nature between two installs (generated keys and secrets, serial numbers, times,
// the lab's own per-boot files) is replaced by a description before hashing: a certificate by its
// subject, issuer, SANs and CA flag; a key by its kind; a generated secret by its name.
import { X509Certificate, createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync, existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readLab, labExec, LAB_STATE } from "../lab/lab-client.ts";

/** Runtime data and logs: not the install's configuration, different on every run. */
const VOLATILE = [
  /^(tmp|var\/tmp|run|proc|sys|dev)(\/|$)/,
  /^var\/log(\/|$)/,
  /^var\/cache(\/|$)/,
  /^var\/lib\/(containerd|etcd|kubelet\/(pods|plugins|plugins_registry|pod-resources|device-plugins|cpu_manager_state|memory_manager_state|checkpoints)|chrony|apt|dpkg|ucf|systemd\/(timers|catalog|random-seed|coredump|linger)|private|haproxy|logrotate|kube-standin|snmp)(\/|$)/,
  /^var\/lib\/k8s-ha-offline\/(logs|install\.lock)(\/|$)/,
  /^var\/lib\/k8s-ha-offline\/pki\/backup(\/|$)/,
  // The lab's per-node identity and what the e2e helpers deploy next to the binary.
  /^etc\/(machine-id|ssh\/ssh_host_|\.pwd\.lock|ld\.so\.cache)/,
  /^root\/(bundle-debian12|k8s-ha-offline|cluster\.yaml|\.k8s-ha-offline-deployed|\.bash_history|\.lesshst|\.cache|\.ssh)(\/|$)/,
  // A record of the last runs (times, which hosts had work), not configuration.
  /^var\/lib\/k8s-ha-offline\/state\.json$/,
  /^etc\/(passwd|group|shadow|gshadow)-$/,
];
const STAMPS = [/^var\/lib\/k8s-ha-offline-depot\/(bundle\.verified|service\.inputs)$/, /^var\/lib\/k8s-ha-offline\/(replica\.json|bundle\.verified)$/, /^etc\/k8s-ha-offline\/binary\.verified$/];
const TIME = /\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)?\b/g;
const EPOCH_MS = /\b1[7-9]\d{11}\b/g;

/** What normalizing needs: the generated secrets by value, and where certificates' issuers are collected. */
export interface Normalizer {
  secrets: Map<string, string>;
  issuers: Set<string>;
}

function describeCert(pem: string, n: Normalizer): string {
  try {
    const c = new X509Certificate(pem);
    const [subject, issuer] = [c.subject, c.issuer].map((x) => x.replace(/\n/g, ","));
    n.issuers.add(`${issuer} -> ${subject}`);
    return `<cert subject=${subject} issuer=${issuer} san=${c.subjectAltName ?? ""} ca=${c.ca}>`;
  } catch {
    return "<unparsable cert>";
  }
}

function normalizePem(text: string, n: Normalizer): string {
  return text.replace(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g, (block, kind: string) => (kind === "CERTIFICATE" ? describeCert(block, n) : `<${kind}>`));
}

/** Generated values (bootstrap token, certificate key, passwords) read from master1's state, by name. */
export function secretsOf(stateDir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of ["secrets.json", "join.json"]) {
    const p = join(stateDir, f);
    if (!existsSync(p)) continue;
    for (const [k, v] of Object.entries(JSON.parse(readFileSync(p, "utf8")) as Record<string, unknown>))
      if (typeof v === "string" && v.length >= 6) out.set(v, `<secret ${k}>`);
  }
  return out;
}

export function normalizeText(text: string, n: Normalizer): string {
  const secrets = n.secrets;
  let t = normalizePem(text, n);
  // kubeconfigs embed certificates and keys as base64.
  t = t.replace(/[A-Za-z0-9+/]{80,}={0,2}/g, (b64) => {
    const decoded = Buffer.from(b64, "base64").toString("utf8");
    return decoded.includes("-----BEGIN") ? normalizePem(decoded, n).trim() : "<base64>";
  });
  for (const [value, name] of secrets) t = t.split(value).join(name);
  const tokenId = [...secrets].find(([, n]) => n === "<secret token>")?.[0]?.split(".")[0];
  if (tokenId) t = t.split(tokenId).join("<token id>");
  return t
    .replace(TIME, "<time>")
    .replace(EPOCH_MS, "<ms>")
    // etcd.service names the fingerprint of its certificates (so a renewal restarts the member).
    .replace(/^# pki: [0-9a-f]+$/m, "# pki: <certificates' fingerprint>")
    // known_hosts: each lab boot has new host keys; which hosts are pinned is what counts.
    .replace(/^(\S+) (ssh-\S+|ecdsa-\S+) \S+$/gm, "$1 $2 <host key>");
}

function entry(abs: string, rel: string, n: Normalizer): string {
  const st = lstatSync(abs);
  const meta = `${(st.mode & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
  if (st.isSymbolicLink()) return `${rel} link -> ${readlinkSync(abs)}`;
  if (st.isDirectory()) return `${rel}/ ${meta}`;
  if (st.isCharacterDevice()) return `${rel} deleted`; // an overlay whiteout: the install removed it
  if (!st.isFile()) return `${rel} special ${meta}`;
  const raw = readFileSync(abs);
  const text = raw.includes(0) ? null : raw.toString("utf8");
  let content: string | Buffer = text !== null && Buffer.byteLength(text) === raw.length ? normalizeText(text, n) : raw;
  // The cluster's repository key as apt's binary keyring: generated per install, so compared by kind
  // (its armored twin is normalized as a PEM-like block).
  if (typeof content !== "string" && rel.endsWith(".gpg") && (raw[0] === 0x99 || raw[0] === 0xc6)) content = "<OpenPGP public key>";
  // Stamps whose content is by nature per install: the depot copy's and the binary's verification records (inodes, ctimes),
  // the hash of the depot service's inputs (keys and certificates), the state replica's manifest
  // (generation, times, hashes of generated secrets). Their presence, mode and owner still count.
  if (STAMPS.some((re) => re.test(rel))) content = "<stamp>";
  // Hosts are pinned in the order the connections were made (in parallel): the set is what counts.
  if (typeof content === "string" && rel.endsWith("known_hosts")) content = content.split("\n").sort().join("\n");
  return `${rel} ${meta} ${createHash("sha256").update(content).digest("hex").slice(0, 16)}`;
}

function walk(root: string, rel: string, out: string[], n: Normalizer): void {
  for (const name of readdirSync(join(root, rel)).sort()) {
    const r = rel ? `${rel}/${name}` : name;
    if (VOLATILE.some((re) => re.test(r))) continue;
    out.push(entry(join(root, r), r, n));
    if (lstatSync(join(root, r)).isDirectory()) walk(root, r, out, n);
  }
}

export interface Fingerprint {
  /** node -> one line per file: path, mode, owner, hash of the normalized content. */
  files: Record<string, string[]>;
  /** node -> installed Debian packages (name=version). */
  packages: Record<string, string[]>;
  /** etcd members (name, peer and client URLs), sorted. */
  etcdMembers: string[];
  /** The nodes holding the VIP (exactly one when healthy). */
  vipHolders: string[];
  /** Unique "issuer -> subject" pairs of every certificate on every node. */
  certIssuers: string[];
}

export async function fingerprint(nodes: string[]): Promise<Fingerprint> {
  const lab = readLab();
  const upper = (n: string) => join(lab.state_dir, "nodes", n, "upper");
  const norm: Normalizer = { secrets: secretsOf(join(upper(nodes[0]!), "var/lib/k8s-ha-offline")), issuers: new Set() };
  const fp: Fingerprint = { files: {}, packages: {}, etcdMembers: [], vipHolders: [], certIssuers: [] };
  for (const n of nodes) {
    const lines: string[] = [];
    walk(upper(n), "", lines, norm);
    fp.files[n] = lines;
    fp.packages[n] = (await labExec(n, "dpkg-query -W -f '${Package}=${Version} ${db:Status-Abbrev}\\n' | sort", { check: true })).stdout.trim().split("\n");
    const vip = await labExec(n, `ip -o -4 addr show | grep -qw ${lab.vip} && echo yes || echo no`);
    if (vip.stdout.trim() === "yes") fp.vipHolders.push(n);
  }
  fp.certIssuers = [...norm.issuers].sort();
  const members = await labExec(
    nodes[0]!,
    "ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 --cacert /etc/etcd/pki/ca.crt --cert /etc/etcd/pki/healthcheck-client.crt --key /etc/etcd/pki/healthcheck-client.key member list -w json",
  );
  fp.etcdMembers = members.code === 0
    ? (JSON.parse(members.stdout).members as any[]).map((m) => `${m.name} peer=${m.peerURLs.join(",")} client=${(m.clientURLs ?? []).join(",")}`).sort()
    : [`etcdctl failed: ${members.stderr.trim()}`];
  return fp;
}

/** Human-readable differences between two fingerprints ([] when equal). */
export function diffFingerprints(a: Fingerprint, b: Fingerprint): string[] {
  const out: string[] = [];
  const lines = (label: string, x: string[], y: string[]) => {
    const key = (l: string) => l.split(" ")[0]!;
    const ya = new Map(y.map((l) => [key(l), l]));
    const xa = new Map(x.map((l) => [key(l), l]));
    for (const [k, l] of xa) if (!ya.has(k)) out.push(`${label}: only in the uninterrupted install: ${l}`);
    for (const [k, l] of ya) if (!xa.has(k)) out.push(`${label}: only after the drill: ${l}`);
    for (const [k, l] of xa) if (ya.has(k) && ya.get(k) !== l) out.push(`${label}: differs: ${l}  vs  ${ya.get(k)}`);
  };
  for (const n of new Set([...Object.keys(a.files), ...Object.keys(b.files)])) {
    lines(`${n} files`, a.files[n] ?? [], b.files[n] ?? []);
    lines(`${n} packages`, a.packages[n] ?? [], b.packages[n] ?? []);
  }
  lines("etcd members", a.etcdMembers, b.etcdMembers);
  lines("VIP holders", a.vipHolders, b.vipHolders);
  lines("certificate issuers", a.certIssuers, b.certIssuers);
  return out;
}

// A fresh lab's fingerprint, taken by the interrupt drill right after its `lab up`, is what the reset
// drill (30) compares the reset nodes with: one lab and one install fewer in the run. It holds only for
// labs of the same base tree (the cache directory's name is the base's recipe hash).
const FRESH_FILE = join(import.meta.dir, "..", "..", "dist", "fresh-lab-fingerprint.json");
const labBase = () => readdirSync(join(LAB_STATE, "cache")).filter((d) => d.startsWith("base-")).sort().join(",");

export function saveFreshLabFingerprint(fp: Fingerprint): void {
  writeFileSync(FRESH_FILE, JSON.stringify({ base: labBase(), fingerprint: fp }));
}

/** The saved fresh-lab fingerprint, when it is of this lab's base tree. */
export function savedFreshLabFingerprint(): Fingerprint | undefined {
  if (!existsSync(FRESH_FILE)) return undefined;
  const saved = JSON.parse(readFileSync(FRESH_FILE, "utf8")) as { base: string; fingerprint: Fingerprint };
  return saved.base === labBase() ? saved.fingerprint : undefined;
}
