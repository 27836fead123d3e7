// yum/dnf side of the depot: find pinned RPMs in upstream repositories through their metadata
// (repodata/repomd.xml → primary.xml.{gz,zst,xz} → package location), download and check them,
// and generate the depot's own repodata with createrepo_c.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { PackageEntry, PackageManifest } from "../profiles/manifests.ts";
import { UNKNOWN_SHA256 } from "../profiles/manifests.ts";
import { mapLimit } from "../util/hash.ts";
import { downloadTo, DownloadError, fetchOk } from "./http.ts";
import { run } from "./run.ts";

export interface RepoRpm {
  name: string;
  epoch: string;
  ver: string;
  rel: string;
  arch: string;
  /** Absolute URL of the package. */
  url: string;
  checksumType: string;
  checksum: string;
  size: number;
}

const attr = (tag: string, name: string) => tag.match(new RegExp(`\\b${name}="([^"]*)"`))?.[1];
const unescapeXml = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
const withSlash = (u: string) => (u.endsWith("/") ? u : `${u}/`);

async function decompress(href: string, data: Uint8Array): Promise<string> {
  if (href.endsWith(".gz")) return gunzipSync(data).toString("utf8");
  if (href.endsWith(".zst")) return Buffer.from(Bun.zstdDecompressSync(data)).toString("utf8");
  if (href.endsWith(".xz")) {
    const p = Bun.spawn(["xz", "-dc"], { stdin: data, stdout: "pipe" });
    const text = await new Response(p.stdout).text();
    if ((await p.exited) !== 0) throw new Error(`xz could not decompress ${href}`);
    return text;
  }
  if (href.endsWith(".xml")) return Buffer.from(data).toString("utf8");
  throw new Error(`unsupported metadata compression: ${href}`);
}

/** Every package the repository's primary metadata lists. */
export async function readPrimary(baseurl: string): Promise<RepoRpm[]> {
  const base = withSlash(baseurl);
  const repomd = await (await fetchOk(`${base}repodata/repomd.xml`)).text();
  const primary = repomd.match(/<data type="primary">([\s\S]*?)<\/data>/)?.[1];
  const href = primary && attr(primary.match(/<location [^>]*>/)?.[0] ?? "", "href");
  if (!href) throw new DownloadError(`${base}repodata/repomd.xml has no primary metadata`);
  const xml = await decompress(href, new Uint8Array(await (await fetchOk(new URL(href, base).href)).arrayBuffer()));
  const out: RepoRpm[] = [];
  for (const m of xml.matchAll(/<package type="rpm">([\s\S]*?)<\/package>/g)) {
    const body = m[1]!;
    const text = (tag: string) => unescapeXml(body.match(new RegExp(`<${tag}>([^<]*)</${tag}>`))?.[1] ?? "");
    const version = body.match(/<version [^>]*\/>/)?.[0] ?? "";
    const checksum = body.match(/<checksum ([^>]*)>([0-9a-f]+)<\/checksum>/);
    const location = body.match(/<location [^>]*\/>/)?.[0] ?? "";
    const locHref = unescapeXml(attr(location, "href") ?? "");
    const locBase = attr(location, "xml:base");
    out.push({
      name: text("name"),
      arch: text("arch"),
      epoch: attr(version, "epoch") ?? "0",
      ver: attr(version, "ver") ?? "",
      rel: attr(version, "rel") ?? "",
      url: new URL(locHref, locBase ? withSlash(locBase) : base).href,
      checksumType: checksum ? (attr(checksum[1]!, "type") ?? "") : "",
      checksum: checksum?.[2] ?? "",
      size: Number(attr(body.match(/<size [^>]*\/>/)?.[0] ?? "", "package") ?? NaN),
    });
  }
  return out;
}

/** "1.22.2-0" or "1:1.4.4-7.el7" against a repo entry (an epoch of 0 may be left out). */
export function sameVersion(pinned: string, r: RepoRpm): boolean {
  const full = `${r.epoch}:${r.ver}-${r.rel}`;
  return pinned === full || (r.epoch === "0" && pinned === `${r.ver}-${r.rel}`);
}

/**
 * Download every pinned package of an rpm manifest into dir (named by the manifest's `file`),
 * checked against the repository's sha256 and, where the manifest knows it, the manifest's.
 */
export async function downloadRpms(m: PackageManifest, dir: string, log: (msg: string) => void): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const repoIds = [...new Set(m.packages.map((p) => p.repo))];
  const indexes = new Map<string, RepoRpm[]>();
  for (const id of repoIds) {
    log(`  reading ${id} repository metadata (${m.repos[id]})`);
    indexes.set(id, await readPrimary(m.repos[id]!));
  }
  const missing: string[] = [];
  const plan = m.packages.flatMap((p: PackageEntry) => {
    const hit = indexes.get(p.repo)!.find((r) => r.name === p.name && r.arch === p.arch && sameVersion(p.version, r));
    if (!hit) missing.push(`${p.name}-${p.version}.${p.arch} (repo ${p.repo})`);
    return hit ? [{ p, hit }] : [];
  });
  if (missing.length) {
    throw new DownloadError(`not in the upstream repositories: ${missing.join(", ")}; fix the pins in rpms/${m.profile}.yaml`);
  }
  await mapLimit(plan, 4, async ({ p, hit }) => {
    const known = p.sha256 !== UNKNOWN_SHA256 ? p.sha256 : undefined;
    if (known && hit.checksumType === "sha256" && hit.checksum !== known) {
      throw new DownloadError(`${p.file}: the repository lists sha256 ${hit.checksum}, the manifest pins ${known}`);
    }
    const repoSum = hit.checksumType === "sha256" ? hit.checksum : undefined;
    await downloadTo(hit.url, join(dir, p.file), { sha256: known ?? repoSum, size: Number.isFinite(hit.size) ? hit.size : undefined });
    log(`  ${p.file}`);
  });
}

/** Generate repodata/ for the RPMs in dir (createrepo_c, Debian package createrepo-c). */
export async function createRepo(dir: string): Promise<void> {
  // A fixed revision/timestamp so the same RPMs give the same repodata sums in the lock; gzip
  // because el7's yum reads neither zstd nor xz metadata; no sqlite (yum and dnf build their own).
  await run(["createrepo_c", "--quiet", "--no-database", "--simple-md-filenames", "--general-compress-type=gz", "--revision", "1631664000", "--set-timestamp-to-revision", dir]).catch(
    (e: Error) => {
      throw new Error(`${e.message}\n(createrepo_c comes with the Debian package createrepo-c)`);
    },
  );
}
