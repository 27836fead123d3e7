// The depot's TLS material for tests that serve on loopback: a depot CA and a serving certificate from
// the real depot PKI (src/pki/depot-pki.ts) for the lab cluster with 127.0.0.1 as depot.address, and
// master2 and master3 at 127.0.0.2 and 127.0.0.3 (their depots, for the tests of several depots).
import { planDepotPki } from "../../../src/pki/index.ts";
import { labCluster } from "./cluster-fixture.ts";
import { collectingLogger } from "./oci-fixture.ts";
import { startDepotServer, type DepotServer } from "../../../src/depot/server.ts";

export interface DepotTlsFixture {
  /** The depot CA certificate (PEM): what a node trusts. */
  caPem: string;
  /** The serving certificate and key (PEM), as startDepotServer's tls option and Bun.serve's tls take them. */
  tls: { cert: string; key: string };
}

export async function depotTls(): Promise<DepotTlsFixture> {
  const config = labCluster();
  config.depot.address = "127.0.0.1";
  config.hosts = config.hosts.map((h) => (h.name === "master2" ? { ...h, address: "127.0.0.2" } : h.name === "master3" ? { ...h, address: "127.0.0.3" } : h));
  const pki = await planDepotPki(config);
  const file = (suffix: string) => pki.files.find((f) => !f.state && f.path.endsWith(suffix))!.content;
  return { caPem: pki.caCertPem, tls: { cert: file(".crt"), key: file(".key") } };
}

/** The depot as installed, on loopback: HTTPS with `pki`'s certificate, repositories signed with `repoKey` (armored private key). */
export function startInstalledDepot(bundleDir: string, port: number, pki: DepotTlsFixture, repoKey: string, threads = 1): Promise<DepotServer> {
  return startDepotServer({ bundleDir, listen: { address: "127.0.0.1", port }, log: collectingLogger(), threads, tls: pki.tls, repoKey });
}
