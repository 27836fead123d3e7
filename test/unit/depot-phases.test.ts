// Issue 16 item 3: the depot's secrets are made once on master1 (depot-pki), then every master runs a
// depot (depot, parallel over the control planes), before the trust phase; and the order in which a
// node tries the depots.
import { expect, test } from "bun:test";
import { PHASES } from "../../src/phases/index.ts";
import { depotPki } from "../../src/phases/depot-pki.ts";
import { depot, renderDepotUnit } from "../../src/phases/depot.ts";
import { allDepots, depotsFor, endpointHostPort, ownDepot } from "../../src/depot/endpoint.ts";
import { DEPOT_BUNDLE_DIR } from "../../src/depot/bundle-copy.ts";
import { labCluster } from "./support/cluster-fixture.ts";

const config = labCluster();
const addr = (n: string) => config.hosts.find((h) => h.name === n)!.address;

test("depot-pki runs once from the acting master, then the depot on every control-plane node in parallel, then trust", () => {
  const names = PHASES.map((p) => p.name);
  expect(names.slice(names.indexOf("depot-pki"), names.indexOf("trust") + 1)).toEqual(["depot-pki", "depot", "trust"]);
  expect({ mode: depotPki.mode, hosts: depotPki.hosts(config).map((h) => h.name) }).toEqual({ mode: "local", hosts: ["master1", "master2", "master3"] });
  expect({ mode: depot.mode, hosts: depot.hosts(config).map((h) => h.name) }).toEqual({ mode: "parallel", hosts: ["master1", "master2", "master3"] });
});

test("every master's depot: master1's at depot.address, the others at their own address, same port", () => {
  const c = { ...config, depot: { port: 5000, address: "10.77.0.90" } };
  expect(allDepots(c).map((d) => [d.node, endpointHostPort(d.endpoint)])).toEqual([
    ["master1", "10.77.0.90:5000"],
    ["master2", `${addr("master2")}:5000`],
    ["master3", `${addr("master3")}:5000`],
  ]);
  expect(ownDepot(c, "master3")).toEqual({ address: addr("master3"), port: 5000 });
  expect(ownDepot(c, "node1")).toBeUndefined();
});

test("a node tries its own depot first when it is a master, then master1's, then the others in config order", () => {
  const order = (n: string) => depotsFor(config, n).map((e) => e.address);
  expect(order("node1")).toEqual([addr("master1"), addr("master2"), addr("master3")]);
  expect(order("master1")).toEqual([addr("master1"), addr("master2"), addr("master3")]);
  expect(order("master2")).toEqual([addr("master2"), addr("master1"), addr("master3")]);
  expect(order("master3")).toEqual([addr("master3"), addr("master1"), addr("master2")]);
});

test("the unit serves the depot's own copy of the bundle, which it may only read", () => {
  const unit = renderDepotUnit({ cluster: "lab", bundleDir: DEPOT_BUNDLE_DIR, listen: "10.77.0.12:5000", stateDir: "/var/lib/k8s-ha-offline", credentials: true });
  expect(unit).toContain(`serve --bundle ${DEPOT_BUNDLE_DIR} --listen 10.77.0.12:5000 `);
  expect(unit).toContain(`\nReadOnlyPaths=${DEPOT_BUNDLE_DIR}\n`);
});
