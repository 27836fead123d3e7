// The kubeadm configs we render are decoded by the stand-in's strict decoder (the same contract the
// lab enforces): unknown fields, wrong apiVersion for the version, bad tokens are all refused.
import { describe, expect, test } from "bun:test";
import YAML from "yaml";
import { renderInitConfig, renderJoinConfig, kubeadmApiVersion } from "../../src/phases/util/kubeadm-config.ts";
import { readDocs, initModel, joinModel } from "../kube-standin/config/load.ts";
import { parseVersion } from "../kube-standin/lib/versions.ts";
import { bootstrapToken, certificateKey } from "../../src/pki/discovery.ts";
import { seedConfig } from "./support/seed-config.ts";
import { render } from "../../src/templates/render.ts";

const secrets = { token: bootstrapToken(), certificateKey: certificateKey() };
const HASH = `sha256:${"ab".repeat(32)}`;

for (const version of ["1.22.2", "1.31.1"]) {
  describe(`kubeadm ${version}`, () => {
    const config = version === "1.22.2" ? seedConfig() : seedConfig([["version: 1.22.2", `version: ${version}`], ["profile: el7-k8s1.22", "profile: el9"]]);
    const [master1, master2] = config.hosts;
    const v = parseVersion(version);

    test(`init config is ${kubeadmApiVersion(version)} and passes strict decoding`, () => {
      const text = renderInitConfig(config, master1!, secrets, "192.168.217.19:5000/google_containers");
      expect(text).toContain(`apiVersion: kubeadm.k8s.io/${version === "1.22.2" ? "v1beta3" : "v1beta4"}`);
      const model = initModel(readDocs(text, "init.yaml", v), v);
      // Traffic goes through haproxy on the VIP, not to the bare VIP (the seed's mistake).
      expect(model.cluster.controlPlaneEndpoint).toBe("192.168.217.100:9443");
      expect(model.cluster.etcdExternal?.endpoints).toEqual(["https://192.168.217.19:2379", "https://192.168.217.20:2379", "https://192.168.217.21:2379"]);
      expect(model.bootstrapTokens[0].token).toBe(secrets.token);
      expect(model.bootstrapTokens[0].ttlMs).toBe(24 * 3600_000);
      expect(model.certificateKey).toBe(secrets.certificateKey);
    });

    test("control-plane and worker join configs pass strict decoding", () => {
      const cp = joinModel(readDocs(renderJoinConfig(config, master2!, secrets, HASH, true), "join.yaml", v));
      expect(cp.endpoint).toBe("192.168.217.100:9443");
      expect(cp.caCertHashes).toEqual([HASH]);
      expect(cp.controlPlane?.certificateKey).toBe(secrets.certificateKey);
      expect(cp.controlPlane?.advertiseAddress).toBe("192.168.217.20");
      const worker = joinModel(readDocs(renderJoinConfig(config, config.hosts[3]!, secrets, HASH, false), "join.yaml", v));
      expect(worker.controlPlane).toBeUndefined();
    });
  });
}

test("a misspelt field in the template is refused by the strict decoder", () => {
  const config = seedConfig();
  const text = renderInitConfig(config, config.hosts[0]!, secrets, "depot/google_containers").replace("podSubnet:", "podSubnett:");
  expect(() => readDocs(text, "init.yaml", parseVersion("1.22.2"))).toThrow(/unknown field.*podSubnett/);
});

test("the init config parses as YAML with every document typed", () => {
  const config = seedConfig();
  const docs = YAML.parseAllDocuments(renderInitConfig(config, config.hosts[0]!, secrets, "d/g")).map((d) => d.toJS());
  expect(docs.map((d) => d.kind)).toEqual(["InitConfiguration", "ClusterConfiguration", "KubeletConfiguration"]);
  expect(docs[2].cgroupDriver).toBe("systemd");
});

test("render refuses a placeholder without a value and a value without a placeholder", () => {
  expect(() => render("a {{x}}", {})).toThrow(/no value for \{\{x\}\}/);
  expect(() => render("a", { y: 1 })).toThrow(/not used by the template: y/);
});
