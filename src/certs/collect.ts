// Everything check-certs knows about one node: every certificate file and kubeconfig client
// certificate read over the Host (one command for the lot), paired with its key and its CA, judged.
import { X509Certificate } from "node:crypto";
import type { Role } from "../config/types.ts";
import type { Host } from "../hosts/host.ts";
import { certGlobs, expectedCa, globWords, keyPathOf, KUBERNETES_CA, type ExpectedName } from "../pki/certlist.ts";
import { missingSans } from "../pki/san.ts";
import { sh, type ShellCommand } from "../util/sh.ts";
import { certStatus, describeCert, isSignedBy, keyMatches, parsePem, residualDays, type CertInfo, type CertStatus } from "./inspect.ts";
import { kubeconfigCredentials } from "./kubeconfig.ts";

/**
 * A row's verdict: a certificate's own (CertStatus), or about the node: "unreachable" (could not be
 * asked) and "missing" (reachable, but none of the certificates its roles must have).
 */
export type RowStatus = CertStatus | "unreachable" | "missing";

/** One line of the check-certs table. */
export interface CertRow {
  node: string;
  /** File path; for kubeconfigs "<conf>" or "<conf> -> <referenced cert file>". */
  certificate: string;
  subject: string;
  /** ISO time, null when the certificate could not be read. */
  notAfter: string | null;
  residualDays: number | null;
  /** The CA file that signed it, "self-signed", or the issuer name when its CA is not on the node. */
  ca: string;
  status: RowStatus;
  problems: string[];
  sans: string[];
  serial: string | null;
  /** SHA-256 of the certificate (DER), to compare CAs between nodes. */
  fingerprint: string | null;
}

export type { ExpectedName };

export interface CollectOptions {
  now?: Date;
  /** A certificate with fewer days left is "warn". Default 30. */
  warnDays?: number;
  /** Names a certificate (by path) must carry, e.g. the VIP and the node address for apiserver.crt. */
  expectSans?: Record<string, ExpectedName[]>;
}

/** A certificate found on the node before judging. */
interface Found {
  certificate: string;
  /** The file whose location decides the expected CA (the kubeconfig for embedded certs). */
  source: string;
  cert?: CertInfo;
  error?: string;
  /** Further certificates in the same file (kubelet.crt carries its self-signed CA). */
  chain: CertInfo[];
  keyPem?: string;
  keySource?: string;
  /** The CA a kubeconfig trusts (certificate-authority-data). */
  trustedCa?: CertInfo;
}

const SPLIT = "@@@ contents";

/**
 * One shell command that lists every existing file of the globs plus the .key next to each .crt,
 * prints their sizes, then all their bytes as one base64 stream: a fixed handful of processes
 * however many files there are (a process per file costs more than all the parsing).
 * Runs as a secret: the output holds private keys.
 */
function dumpScript(globs: string[]): ShellCommand {
  return sh`set --
for f in ${globWords(globs)}; do
  [ -f "$f" ] || continue
  set -- "$@" "$f"
  case "$f" in *.crt) k="\${f%.crt}.key"; if [ -f "$k" ]; then set -- "$@" "$k"; fi;; esac
done
[ $# -gt 0 ] || exit 0
stat -L -c "%s %n" -- "$@"
echo ${SPLIT}
cat -- "$@" | base64`;
}

function parseDump(out: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const at = out.indexOf(`${SPLIT}\n`);
  if (at < 0) return files;
  const listing = out.slice(0, at).trimEnd().split("\n").map((l) => /^(\d+) (.*)$/.exec(l));
  const sizes = listing.map((m) => Number(m?.[1]));
  const paths = listing.map((m) => m?.[2] ?? "");
  const blob = Buffer.from(out.slice(at + SPLIT.length + 1).replace(/\s+/g, ""), "base64");
  if (sizes.length !== paths.length || sizes.reduce((a, b) => a + b, 0) !== blob.length) {
    throw new Error("the certificate files changed while they were read; run check-certs again");
  }
  let offset = 0;
  paths.forEach((p, i) => {
    files.set(p, blob.subarray(offset, offset + sizes[i]!));
    offset += sizes[i]!;
  });
  return files;
}

/** Certificates and key of a file: PEM (possibly several blocks), or a single DER certificate. */
function readCertFile(bytes: Buffer): { certs: CertInfo[]; keyPem?: string } {
  const text = bytes.toString("latin1");
  if (text.includes("-----BEGIN")) {
    const { certs, keyPem } = parsePem(text);
    if (certs.length === 0) throw new Error("no certificate in it");
    return { certs: certs.map(describeCert), keyPem };
  }
  return { certs: [describeCert(new X509Certificate(bytes))] };
}

const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e));

function fromCertFile(path: string, bytes: Buffer, files: Map<string, Buffer>): Found {
  try {
    const { certs, keyPem } = readCertFile(bytes);
    const keyFile = path.endsWith(".crt") ? keyPathOf(path) : undefined;
    const separateKey = keyFile ? files.get(keyFile) : undefined;
    return {
      certificate: path,
      source: path,
      cert: certs[0],
      chain: certs.slice(1),
      keyPem: separateKey?.toString("utf8") ?? keyPem,
      keySource: separateKey ? keyFile : keyPem ? path : undefined,
    };
  } catch (e) {
    return { certificate: path, source: path, chain: [], error: `unreadable certificate: ${errorText(e)}` };
  }
}

/** The client certificate of a kubeconfig; referenced files are taken from the dump or read. Returns the referenced path too. */
async function fromKubeconfig(host: Host, path: string, bytes: Buffer, files: Map<string, Buffer>): Promise<{ found?: Found; referenced?: string }> {
  let creds;
  try {
    creds = kubeconfigCredentials(bytes.toString("utf8"), path);
  } catch (e) {
    return { found: { certificate: path, source: path, chain: [], error: errorText(e) } };
  }
  const read = async (p: string): Promise<Buffer | null> => {
    const bytes = files.get(p) ?? (await host.readFile(p));
    return bytes ? Buffer.from(bytes) : null;
  };
  let trustedCa: CertInfo | undefined;
  try {
    trustedCa = creds.caPem ? readCertFile(Buffer.from(creds.caPem)).certs[0] : undefined;
  } catch {
    // A broken CA in the kubeconfig is not what this row is about; the cluster check catches a bad CA.
  }
  const certificate = creds.clientCertPath ? `${path} -> ${creds.clientCertPath}` : path;
  // A kubeconfig without client certificates (token auth) has nothing to check.
  if (!creds.clientCertPem && !creds.clientCertPath) return {};
  const certBytes = creds.clientCertPem ? Buffer.from(creds.clientCertPem) : await read(creds.clientCertPath!);
  if (!certBytes) return { found: { certificate, source: path, chain: [], error: `client-certificate ${creds.clientCertPath} does not exist` }, referenced: creds.clientCertPath };
  const found = fromCertFile(certificate, certBytes, new Map());
  found.source = path;
  found.trustedCa = trustedCa;
  if (creds.clientKeyPem) Object.assign(found, { keyPem: creds.clientKeyPem, keySource: `${path} (client-key-data)` });
  else if (creds.clientKeyPath) {
    const key = await read(creds.clientKeyPath);
    if (key) Object.assign(found, { keyPem: key.toString("utf8"), keySource: creds.clientKeyPath });
    else found.error = `client-key ${creds.clientKeyPath} does not exist`;
  }
  return { found, referenced: creds.clientCertPath };
}

/** Which CA signed it (label) and what is wrong with that. */
function judgeIssuer(f: Found, cert: CertInfo, cas: Map<string, CertInfo>): { ca: string; problems: string[] } {
  if (cert.isCa && cert.subject === cert.issuer) {
    return { ca: "self-signed", problems: isSignedBy(cert, cert) ? [] : ["its self-signature does not verify"] };
  }
  const expected = expectedCa(f.source);
  const expectedCert = expected ? cas.get(expected) : undefined;
  if (expected && expectedCert) {
    return isSignedBy(cert, expectedCert) ? { ca: expected, problems: [] } : { ca: expected, problems: [`not signed by ${expected} (issuer ${cert.issuer})`] };
  }
  const candidates: [string, CertInfo][] = [...cas.entries(), ...f.chain.map((c, i): [string, CertInfo] => [`${f.certificate} (CA ${i + 2} in the file)`, c])];
  const named = candidates.filter(([, c]) => c.subject === cert.issuer);
  const signer = named.find(([, c]) => isSignedBy(cert, c));
  if (signer) return { ca: signer[0], problems: [] };
  if (named.length > 0) return { ca: named[0]![0], problems: [`not signed by the CA it names (${cert.issuer}, ${named.map(([p]) => p).join(", ")})`] };
  return { ca: `${cert.issuer} (CA not on this node)`, problems: [] };
}

function judge(node: string, f: Found, cas: Map<string, CertInfo>, opts: Required<CollectOptions>): CertRow {
  const cert = f.cert;
  if (!cert) {
    return { node, certificate: f.certificate, subject: "", notAfter: null, residualDays: null, ca: "", status: "broken", problems: [f.error ?? "unreadable"], sans: [], serial: null, fingerprint: null };
  }
  const { ca, problems } = judgeIssuer(f, cert, cas);
  if (f.error) problems.push(f.error);
  if (f.keyPem !== undefined) {
    const match = keyMatches(cert, f.keyPem);
    if (match === false) problems.push(`key ${f.keySource} does not match the certificate`);
    else if (match instanceof Error) problems.push(`key ${f.keySource}: ${match.message}`);
  }
  const want = opts.expectSans[f.certificate] ?? [];
  const missing = new Set(missingSans(cert.sans, want.map((w) => w.value)));
  for (const w of want.filter((w) => missing.has(w.value))) problems.push(`SANs lack ${w.value} (${w.what})`);
  const clusterCa = cas.get(KUBERNETES_CA);
  if (f.trustedCa && clusterCa && f.trustedCa.fingerprint !== clusterCa.fingerprint) {
    problems.push(`its certificate-authority-data is not ${KUBERNETES_CA}`);
  }
  return {
    node,
    certificate: f.certificate,
    subject: cert.subject,
    notAfter: cert.notAfter.toISOString(),
    residualDays: residualDays(cert, opts.now),
    ca,
    status: certStatus(cert, opts.now, opts.warnDays, problems),
    problems,
    sans: [...cert.sans.dnsNames, ...cert.sans.ipAddresses],
    serial: cert.serial,
    fingerprint: cert.fingerprint,
  };
}

/** Read and judge every certificate on one node. Host errors propagate (the report turns them into a row). */
export async function collectCerts(host: Host, roles: readonly Role[], options: CollectOptions = {}): Promise<CertRow[]> {
  const opts: Required<CollectOptions> = { now: options.now ?? new Date(), warnDays: options.warnDays ?? 30, expectSans: options.expectSans ?? {} };
  const globs = certGlobs(roles);
  if (globs.length === 0) return [];
  const { stdout } = await host.exec(dumpScript(globs), { secret: true });
  const files = parseDump(stdout);
  const found: Found[] = [];
  const referenced = new Set<string>();
  for (const [path, bytes] of files) {
    if (!path.endsWith(".conf")) continue;
    const k = await fromKubeconfig(host, path, bytes, files);
    if (k.found) found.push(k.found);
    if (k.referenced) referenced.add(k.referenced);
  }
  for (const [path, bytes] of files) {
    if ((path.endsWith(".crt") || path.endsWith(".pem")) && !referenced.has(path)) found.push(fromCertFile(path, bytes, files));
  }
  const cas = new Map(found.filter((f) => f.cert?.isCa && !f.certificate.includes(" -> ")).map((f) => [f.certificate, f.cert!]));
  return found.map((f) => judge(host.name, f, cas, opts));
}
