// An impostor depot for the impostor drill (40-impostor.test.ts): something else answers at the
// depot's address and tries to feed the nodes. Runs on the lab host, which sits on the nodes' segment
// like any other machine there.
//   bun test/drills/impostor.ts MODE ADDR:PORT BUNDLE_DIR WORK_DIR [CERT KEY [INRELEASE]]
// MODE:
//   http      plain HTTP with the genuine bundle (what an attacker without any certificate can do)
//   other-ca  TLS with a certificate of another CA, genuine bundle
//   tampered  TLS with the depot's own certificate and key (stolen), one .deb replaced by one of the
//             same name and version whose postinst writes /root/PWNED, the apt index regenerated to
//             match and signed with another key (the attacker does not have the cluster's)
//   retag     TLS with the stolen certificate, the genuine packages (the cluster's own InRelease replayed),
//             but every pause manifest swapped for another image's, by tag and by digest
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createHandler } from "../../src/depot/http/handler.ts";
import { loadImageStore } from "../../src/depot/registry/store.ts";
import { writeFlatRepo } from "../../src/bundle/apt.ts";
import { generateRepoKey, loadRepoKey } from "../../src/depot/repo-signing.ts";
import { createCa, loadCa, issueCert } from "../../src/pki/index.ts";

const [mode, listen, bundle, work, certFile, keyFile, inReleaseFile] = process.argv.slice(2);
if (!mode || !listen || !bundle || !work) {
  console.error("usage: impostor.ts MODE ADDR:PORT BUNDLE_DIR WORK_DIR [CERT KEY [INRELEASE]]");
  process.exit(2);
}
const [hostname, port] = [listen.slice(0, listen.lastIndexOf(":")), Number(listen.slice(listen.lastIndexOf(":") + 1))];
const log = { info: (m: string) => console.error(m), warn: (m: string) => console.error(m), debug: () => {} };

/** The bundle as served: a copy where the mode changes something, the genuine one otherwise. */
async function servedBundle(): Promise<string> {
  if (mode !== "tampered") return bundle!;
  const root = join(work!, "bundle");
  rmSync(root, { recursive: true, force: true });
  cpSync(bundle!, root, { recursive: true });
  const repo = join(root, "repo/debian12");
  // The package the drill makes a node install again (IMPOSTOR_DEB), rebuilt with a postinst that runs as root.
  const victim = process.env.IMPOSTOR_DEB ?? "conntrack";
  const deb = readdirSync(repo).find((f) => f.startsWith(`${victim}_`) && f.endsWith(".deb"));
  if (!deb) throw new Error(`impostor: no ${victim}_*.deb in ${repo}`);
  const x = join(work!, "deb");
  rmSync(x, { recursive: true, force: true });
  const sh = (argv: string[]) => {
    const p = Bun.spawnSync(argv);
    if (p.exitCode !== 0) throw new Error(`${argv.join(" ")}: ${p.stderr}`);
  };
  sh(["dpkg-deb", "-R", join(repo, deb), x]);
  mkdirSync(join(x, "DEBIAN"), { recursive: true });
  writeFileSync(join(x, "DEBIAN/postinst"), "#!/bin/sh\ntouch /root/PWNED\nexit 0\n", { mode: 0o755 });
  sh(["dpkg-deb", "--root-owner-group", "-b", x, join(repo, deb)]);
  for (const f of ["Packages", "Packages.gz", "Release", "InRelease", "Release.gpg"]) rmSync(join(repo, f), { force: true });
  await writeFlatRepo(repo, { label: "k8s-ha-offline debian12" });
  const key = await loadRepoKey((await generateRepoKey("impostor")).privateArmored);
  writeFileSync(join(repo, "InRelease"), await key.clearsign(readFileSync(join(repo, "Release"), "utf8")));
  console.error(`impostor: ${deb} rebuilt with a postinst, index re-signed with another key`);
  return root;
}

async function tls(): Promise<{ cert: string; key: string } | undefined> {
  if (mode === "http") return undefined;
  if (mode === "other-ca") {
    // A certificate for the right address, from a CA the nodes were never given.
    const ca = await loadCa(await createCa({ commonName: "impostor CA" }), "impostor CA");
    const leaf = await issueCert(ca, { commonName: hostname!, sans: [hostname!], usages: ["server"] });
    return { cert: leaf.certPem, key: leaf.keyPem };
  }
  return { cert: readFileSync(certFile!, "utf8"), key: readFileSync(keyFile!, "utf8") };
}

const root = await servedBundle();
const store = await loadImageStore(join(root, "images"), log);
if (mode === "retag") {
  // pause's manifests (by tag and by digest) answer another image's manifest bytes.
  const pause = [...store.repositories.values()].find((r) => r.name.endsWith("/pause"))!;
  const other = [...store.repositories.values()].find((r) => !r.name.endsWith("/pause") && r.name.includes("coredns"))
    ?? [...store.repositories.values()].find((r) => !r.name.endsWith("/pause"))!;
  const otherManifest = store.manifests.get([...other.tags.values()][0]!)!;
  for (const d of [...pause.tags.values()]) {
    const genuine = store.manifests.get(d)!;
    store.manifests.set(d, { ...otherManifest, digest: d });
    for (const c of genuine.children) store.manifests.set(c.digest, { ...otherManifest, digest: c.digest });
  }
  for (const d of other.digests) pause.digests.add(d);
  console.error(`impostor: ${pause.name} answers ${other.name}'s manifest`);
}
const handler = createHandler({ store, bundleRoot: root, access: { ok: (l) => console.error(l), failed: (l) => console.error(l) } });
// The index a node asks for first: the tampered one signed with another key, or the cluster's own replayed.
const inRelease = mode === "tampered" ? readFileSync(join(root, "repo/debian12/InRelease")) : inReleaseFile ? readFileSync(inReleaseFile) : undefined;
const server = Bun.serve({
  hostname,
  port,
  tls: await tls(),
  fetch: (req, srv) => {
    if (inRelease && new URL(req.url).pathname.endsWith("/InRelease")) return new Response(inRelease);
    return handler(req, srv);
  },
});
console.error(`impostor: ${mode} on ${server.url}`);
process.on("SIGTERM", () => {
  server.stop(true);
  process.exit(0);
});
