// The CNI manifest names its images by the bundle lock's digests (issue 15 "pinned images"), so the
// kubelet pulls exactly the locked content whatever tag the depot's address serves; and the runtime
// phase pins the same references on every node beforehand.
import { expect, test } from "bun:test";
import { parseAllDocuments } from "yaml";
import { renderCni } from "../../src/phases/cni.ts";
import { imagesOf } from "../../src/phases/util/images.ts";
import type { PhaseContext } from "../../src/phases/phase.ts";
import type { BundleLock } from "../../src/depot/lock.ts";
import { depotEndpoint } from "../../src/depot/endpoint.ts";
import { seedConfig } from "./support/seed-config.ts";

const digest = (c: string) => `sha256:${c.repeat(64)}`;
const lock: BundleLock = {
  profile: "debian12",
  kubernetesVersion: "1.22.2",
  created: "2026-01-01T00:00:00Z",
  files: [],
  images: [
    ["registry.k8s.io/kube-apiserver:v1.22.2", "1"],
    ["registry.k8s.io/kube-controller-manager:v1.22.2", "2"],
    ["registry.k8s.io/kube-scheduler:v1.22.2", "3"],
    ["registry.k8s.io/kube-proxy:v1.22.2", "4"],
    ["registry.k8s.io/pause:3.5", "5"],
    ["registry.k8s.io/coredns/coredns:v1.8.4", "6"],
    ["docker.io/flannel/flannel:v0.15.1", "a"],
    ["docker.io/flannel/flannel-cni-plugin:v1.0.0", "b"],
  ].map(([ref, c]) => ({ ref: ref!, digest: digest(c!), file: "images/x.tar" })),
};
const config = seedConfig();
const ctx = { config, lock, depot: depotEndpoint(config) } as unknown as PhaseContext;
const DEPOT = "192.168.217.19:5000";

/** Every container and init container image of every document. */
function manifestImages(text: string): string[] {
  const out: string[] = [];
  for (const doc of parseAllDocuments(text)) {
    const spec = (doc.toJS() as any)?.spec?.template?.spec;
    for (const c of [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])]) out.push(c.image);
  }
  return out;
}

test("every image of the flannel manifest is <depot>/<repo>@<the lock's digest>", () => {
  const images = manifestImages(renderCni(ctx));
  expect(images).toEqual([
    `${DEPOT}/flannel/flannel-cni-plugin@${digest("b")}`,
    `${DEPOT}/flannel/flannel@${digest("a")}`,
    `${DEPOT}/flannel/flannel@${digest("a")}`,
  ]);
  for (const image of images) {
    const [repo, d] = image.split("@");
    expect(lock.images.find((i) => i.ref === `docker.io/${repo!.slice(DEPOT.length + 1)}:${i.ref.split(":").pop()}`)?.digest).toBe(d!);
  }
});

test("a lock with another flannel digest gives another manifest (the cni phase re-applies), and a bundle without flannel is an error", () => {
  const other = { ...lock, images: lock.images.map((i) => (i.ref.includes("/flannel:") ? { ...i, digest: digest("c") } : i)) };
  expect(renderCni({ ...ctx, lock: other } as PhaseContext)).toContain(`${DEPOT}/flannel/flannel@${digest("c")}`);
  const none = { ...lock, images: lock.images.filter((i) => !i.ref.includes("/flannel:")) };
  expect(() => renderCni({ ...ctx, lock: none } as PhaseContext)).toThrow(/the debian12 bundle has no flannel image .*re-assemble the bundle/);
});

test("the runtime phase pins what the manifest names, plus kubeadm's images under the names kubeadm uses", () => {
  const worker = config.hosts.find((h) => h.roles.includes("worker") && !h.roles.includes("control-plane"))!;
  const master = config.hosts[0]!;
  const names = (n: typeof worker) => imagesOf(ctx, n).map((i) => i.name);
  const cni = manifestImages(renderCni(ctx));
  for (const image of cni) expect(names(worker)).toContain(image);
  expect(names(worker)).toEqual([
    `${DEPOT}/google_containers/pause:3.5`,
    `${DEPOT}/google_containers/kube-proxy:v1.22.2`,
    `${DEPOT}/google_containers/coredns:v1.8.4`,
    `${DEPOT}/flannel/flannel@${digest("a")}`,
    `${DEPOT}/flannel/flannel-cni-plugin@${digest("b")}`,
  ]);
  expect(names(master)).toContain(`${DEPOT}/google_containers/kube-apiserver:v1.22.2`);
  for (const im of imagesOf(ctx, master)) expect(im.byDigest).toBe(`${im.name.replace(/:[^:/]+$/, "").replace(/@.*$/, "")}@${im.digest}`);
});
