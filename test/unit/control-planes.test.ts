// A master without a control plane while another master has one is never initialised (a second
// `kubeadm init` would make a new CA and a second cluster on the same etcd): install refuses there
// before any change, and kubeadm-init refuses too. Real files on DirHost nodes; a master left out as
// down is not asked.
import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DirHost } from "./support/dir-host.ts";
import { labCluster } from "./support/cluster-fixture.ts";
import { withoutControlPlaneHere } from "../../src/cluster/control-planes.ts";
import { ADMIN_CONF } from "../../src/cluster/endpoints.ts";
import type { ClusterAccess } from "../../src/cluster/access.ts";

const dir = mkdtempSync(join(tmpdir(), "control-planes-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const config = labCluster();
let n = 0;

function cluster(withAdminConf: string[], local: string, down: string[] = []): ClusterAccess {
  const root = join(dir, String(n++));
  const hosts = new Map(config.hosts.map((h) => [h.name, new DirHost(join(root, h.name), h.name, h.address)]));
  for (const name of withAdminConf) {
    const file = hosts.get(name)!.local(ADMIN_CONF);
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, "apiVersion: v1\nkind: Config\n");
  }
  return { config, local: hosts.get(local)!, stateDir: config.stateDir, down: new Set(down), host: async (s) => hosts.get(s.name)! };
}

test("a wiped master1 beside masters that hold the control plane: named, with who has one", async () => {
  expect(await withoutControlPlaneHere(cluster(["master2", "master3"], "master1"))).toBe(
    "master1 has no control plane (no /etc/kubernetes/admin.conf) while master2, master3 have one: the cluster exists, and master1 is joined to it from a master that has one, never initialised again",
  );
  expect(await withoutControlPlaneHere(cluster(["master3"], "master1", ["master2"]))).toContain("while master3 has one");
});

test("a new cluster (no master has one), a master that has one, or only down masters having one: no refusal", async () => {
  expect(await withoutControlPlaneHere(cluster([], "master1"))).toBeUndefined();
  expect(await withoutControlPlaneHere(cluster(["master1", "master2"], "master1"))).toBeUndefined();
  expect(await withoutControlPlaneHere(cluster(["master2"], "master1", ["master2"]))).toBeUndefined();
});
