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
import { crdKinds, refusal } from "../kube-standin/lib/api-kinds.ts";

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

// calico (issue 21): the lab bundle's calico v3.24 images by digest, the pool CIDR from podSubnet.
const calicoLock: BundleLock = {
  ...lock,
  images: [
    ...lock.images,
    ...[["docker.io/calico/cni:v3.24.6", "c"], ["docker.io/calico/node:v3.24.6", "d"], ["docker.io/calico/kube-controllers:v3.24.6", "e"]].map(([ref, c]) => ({ ref: ref!, digest: digest(c!), file: "images/x.tar" })),
  ],
};
const calicoConfig = seedConfig([["cni: flannel", "cni: calico"], ["profile: el7-k8s1.22", "profile: debian12"], ["podSubnet: 10.244.0.0/16", "podSubnet: 10.200.0.0/16"]]);
const calicoCtx = { config: calicoConfig, lock: calicoLock, depot: depotEndpoint(calicoConfig) } as unknown as PhaseContext;
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as any).filter(Boolean);

test("calico: every image is <depot>/calico/<repo>@<the lock's digest>, the pool CIDR is podSubnet, the node address on the VIP interface", () => {
  expect(calicoConfig.kubernetes.cni).toBe("calico");
  const text = renderCni(calicoCtx);
  expect(manifestImages(text)).toEqual([
    `${DEPOT}/calico/cni@${digest("c")}`,
    `${DEPOT}/calico/cni@${digest("c")}`,
    `${DEPOT}/calico/node@${digest("d")}`,
    `${DEPOT}/calico/node@${digest("d")}`,
    `${DEPOT}/calico/kube-controllers@${digest("e")}`,
  ]);
  for (const image of manifestImages(text)) expect(image.startsWith(`${DEPOT}/`)).toBe(true);
  const node = docs(text).find((d) => d.kind === "DaemonSet" && d.metadata.name === "calico-node");
  const env = Object.fromEntries(node.spec.template.spec.containers[0].env.filter((e: any) => "value" in e).map((e: any) => [e.name, e.value]));
  expect(env.CALICO_IPV4POOL_CIDR).toBe("10.200.0.0/16");
  expect(env.IP_AUTODETECTION_METHOD).toBe(`interface=${calicoConfig.loadBalancer.interface}`);
  expect(text).toContain("calico v3.24.6");
  // The runtime phase pins what the manifest names on every node.
  const worker = calicoConfig.hosts.find((h) => h.roles.includes("worker") && !h.roles.includes("control-plane"))!;
  const pinned = imagesOf(calicoCtx, worker).map((i) => i.name);
  for (const image of manifestImages(text)) expect(pinned).toContain(image);
  expect(pinned.some((n) => n.includes("flannel"))).toBe(false);
});

test("calico: a bundle without its images, or with a release not tested against the Kubernetes version, is refused by name", () => {
  const none = { ...calicoLock, images: calicoLock.images.filter((i) => !i.ref.includes("calico/node")) };
  expect(() => renderCni({ ...calicoCtx, lock: none } as PhaseContext)).toThrow("calico is not in the debian12 bundle: its images (calico/node) are not in the bundle; use kubernetes.cni: flannel or re-assemble the bundle");
  const old = { ...calicoLock, images: calicoLock.images.map((i) => (i.ref.includes("/calico/") ? { ...i, ref: i.ref.replace("v3.24.6", "v3.29.1") } : i)) };
  expect(() => renderCni({ ...calicoCtx, lock: old } as PhaseContext)).toThrow(/calico v3\.29\.1 is not tested against Kubernetes 1\.22\.2 \(v3\.24: 1\.22-1\.25/);
});

test("the stand-in's kubectl apply takes the calico and flannel manifests as a 1.22 apiserver would, and refuses garbage", () => {
  for (const text of [renderCni(calicoCtx), renderCni(ctx)]) {
    const objs = docs(text);
    const kinds = crdKinds(objs.filter((o) => o.kind === "CustomResourceDefinition"));
    for (const o of objs) expect(refusal(o, "cni.yaml", "v1.22.2", kinds)).toBeNull();
  }
  const calico = docs(renderCni(calicoCtx));
  const kinds = crdKinds(calico.filter((o) => o.kind === "CustomResourceDefinition"));
  // A custom resource whose CRD is not there, a removed API, a CRD misnamed, a selector that does not select its pods.
  const pool = { apiVersion: "crd.projectcalico.org/v1", kind: "IPPool", metadata: { name: "default" } };
  expect(refusal(pool, "f.yaml", "v1.22.2", kinds)).toBeNull();
  expect(refusal(pool, "f.yaml", "v1.22.2", new Map())).toBe('error: resource mapping not found for name: "default" namespace: "" from "f.yaml": no matches for kind "IPPool" in version "crd.projectcalico.org/v1"\nensure CRDs are installed first');
  expect(refusal({ apiVersion: "extensions/v1beta1", kind: "DaemonSet", metadata: { name: "x" } }, "f.yaml", "v1.22.2", kinds)).toContain('no matches for kind "DaemonSet" in version "extensions/v1beta1"');
  const pdb = calico.find((o) => o.kind === "PodDisruptionBudget");
  expect(refusal({ ...pdb, apiVersion: "policy/v1beta1" }, "f.yaml", "v1.25.0", kinds)).toContain("no matches for kind");
  const crd = calico.find((o) => o.kind === "CustomResourceDefinition");
  expect(refusal({ ...crd, metadata: { name: "ippools.example.org" } }, "f.yaml", "v1.22.2", kinds)).toContain('must be spec.names.plural+"."+spec.group');
  const ds = calico.find((o) => o.kind === "DaemonSet");
  expect(refusal({ ...ds, spec: { ...ds.spec, selector: { matchLabels: { "k8s-app": "other" } } } }, "f.yaml", "v1.22.2", kinds)).toContain("`selector` does not match template `labels`");
  expect(refusal({ ...ds, spec: { ...ds.spec, selector: undefined } }, "f.yaml", "v1.22.2", kinds)).toContain("spec.selector: Required value");
});
