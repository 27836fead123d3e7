// The docker runtime's image pinning (src/cluster/images.ts): docker has no mirror list for a registry
// other than docker.io, so the installer asks each depot by its own name in turn, by the lock's digest,
// and tags what it got; a depot that is down is passed over, one serving other content stops the pull.
// A fake `docker` (a shell script keeping its store in a directory) stands in for the daemon: what is
// checked is which commands the installer runs and in which order, not docker itself.
import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalHost } from "../../src/hosts/local.ts";
import { pinImages, unpinnedImages, type PinnedImage, type RuntimeAccess } from "../../src/cluster/images.ts";

const dir = mkdtempSync(join(tmpdir(), "images-docker-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const docker = join(dir, "docker");
const log = join(dir, "calls");
const store = join(dir, "store");
const down = join(dir, "down");
const evil = join(dir, "evil");

// pull REF: fails when REF's depot is listed in $down ("connection refused") or $evil (a digest mismatch);
// otherwise REF is stored, as docker records a pull by digest in RepoDigests. tag SRC DST: DST gets SRC's
// RepoDigests. image inspect NAME: prints its RepoDigests as JSON.
writeFileSync(docker, `#!/bin/bash
echo "$*" >> ${log}
mkdir -p ${store}
key() { printf '%s' "$1" | sha256sum | cut -c1-16; }
case "$1" in
  pull) host="\${2%%/*}"
    if grep -qxF "$host" ${down} 2>/dev/null; then echo "Error response from daemon: Get \\"https://$host/v2/\\": dial tcp $host: connect: connection refused" >&2; exit 1; fi
    if grep -qxF "$host" ${evil} 2>/dev/null; then echo "manifest verification failed for digest \${2##*@}" >&2; exit 1; fi
    echo "[\\"$2\\"]" > ${store}/$(key "$2"); echo "Status: Downloaded newer image for $2";;
  tag) [ -f ${store}/$(key "$2") ] || { echo "Error response from daemon: No such image: $2" >&2; exit 1; }
    cp ${store}/$(key "$2") ${store}/$(key "$3");;
  image) [ -f ${store}/$(key "$5") ] || { echo "Error: No such image: $5" >&2; exit 1; }
    cat ${store}/$(key "$5");;
  *) echo "unexpected: $*" >&2; exit 2;;
esac
`, { mode: 0o755 });

const host = new LocalHost({ name: "master2" });
const M1 = "192.168.217.19:5000";
const M2 = "192.168.217.20:5000";
const M3 = "192.168.217.21:5000";
const DIGEST = `sha256:${"a".repeat(64)}`;
const apiserver: PinnedImage = {
  name: `${M1}/google_containers/kube-apiserver:v1.22.2`,
  byDigest: `${M1}/google_containers/kube-apiserver@${DIGEST}`,
  digest: DIGEST,
  ref: "registry.k8s.io/kube-apiserver:v1.22.2",
};
const flannel: PinnedImage = { name: `${M1}/flannel/flannel@${DIGEST}`, byDigest: `${M1}/flannel/flannel@${DIGEST}`, digest: DIGEST, ref: "docker.io/flannel/flannel:v0.15.1" };
// master2's own depot first, then master1's, then master3's: depotsFor's order.
const access: RuntimeAccess = { runtime: "docker", docker, depotUrl: `https://${M1}`, depots: [M2, M1, M3] };
const calls = () => readFileSync(log, "utf8").trim().split("\n");

beforeEach(() => {
  for (const f of [log, down, evil, store]) rmSync(f, { recursive: true, force: true });
  writeFileSync(log, "");
});

describe("docker image pinning with several depots", () => {
  test("pulled by digest from the node's own depot first and tagged with kubeadm's name; a re-run fetches nothing", async () => {
    expect(await pinImages(host, [apiserver], access)).toEqual([apiserver]);
    expect(calls().filter((c) => !c.startsWith("image"))).toEqual([`pull ${M2}/google_containers/kube-apiserver@${DIGEST}`, `tag ${M2}/google_containers/kube-apiserver@${DIGEST} ${apiserver.name}`]);
    writeFileSync(log, "");
    expect(await pinImages(host, [apiserver], access)).toEqual([]);
    expect(calls().every((c) => c.startsWith("image inspect"))).toBe(true);
  });

  test("a depot that is down is passed over: the next one by its own name, then tagged", async () => {
    writeFileSync(down, `${M2}\n${M1}\n`);
    await pinImages(host, [apiserver], access);
    expect(calls().filter((c) => c.startsWith("pull")).map((c) => c.split(" ")[1]!.split("/")[0])).toEqual([M2, M1, M3]);
    expect(await unpinnedImages(host, [apiserver], access)).toEqual([]);
  });

  test("every depot down: one error naming each depot's answer", async () => {
    writeFileSync(down, `${M1}\n${M2}\n${M3}\n`);
    const err = await pinImages(host, [apiserver], access).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toStartWith(`could not pull ${apiserver.byDigest} (registry.k8s.io/kube-apiserver:v1.22.2, pinned by the bundle lock) from any depot: ${M2}: `);
    expect((err as Error).message).toContain(`${M3}: Error response from daemon`);
  });

  test("a depot serving other content stops the pull (no next depot tried) and nothing is tagged", async () => {
    writeFileSync(evil, `${M2}\n`);
    const err = await pinImages(host, [apiserver], access).catch((e: Error) => e);
    expect((err as Error).message).toStartWith(`image registry.k8s.io/kube-apiserver:v1.22.2 from the depot at https://${M2} does not match the bundle lock (${DIGEST})`);
    expect(calls().filter((c) => c.startsWith("pull") || c.startsWith("tag"))).toEqual([`pull ${M2}/google_containers/kube-apiserver@${DIGEST}`]);
  });

  test("a retagged name (its image not pulled by the lock's digest) is unpinned and moved back", async () => {
    await pinImages(host, [apiserver], access);
    // Someone tags another image with kubeadm's name.
    writeFileSync(log, "");
    Bun.spawnSync([docker, "pull", `${M1}/google_containers/other@sha256:${"b".repeat(64)}`]);
    Bun.spawnSync([docker, "tag", `${M1}/google_containers/other@sha256:${"b".repeat(64)}`, apiserver.name]);
    expect(await unpinnedImages(host, [apiserver], access)).toEqual([apiserver]);
    await pinImages(host, [apiserver], access);
    expect(await unpinnedImages(host, [apiserver], access)).toEqual([]);
  });

  test("a digest-only name (the CNI manifest's) is pulled only by that name: docker cannot tag a digest", async () => {
    await pinImages(host, [flannel], access);
    expect(calls().filter((c) => !c.startsWith("image"))).toEqual([`pull ${flannel.byDigest}`]);
    rmSync(store, { recursive: true, force: true });
    writeFileSync(down, `${M1}\n`);
    const err = await pinImages(host, [flannel], access).catch((e: Error) => e);
    expect((err as Error).message).toContain(`from any depot: ${M1}: `);
  });
});
