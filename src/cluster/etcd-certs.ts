// The etcd PKI as it is now: the CA from master1's state directory (or its backup), every leaf from
// the node it lives on. The etcd-pki phase plans from it; renew-certs reissues from it.
import { etcdPkiSources, etcdCaStatePaths, type ExistingEtcdPki } from "../pki/etcd-pki.ts";
import type { ClusterAccess } from "./access.ts";
import { readStateCa } from "./state-ca.ts";
import { textOf } from "../util/text.ts";

export async function readEtcdPki(ctx: ClusterAccess): Promise<ExistingEtcdPki> {
  const { ca, unfinished } = await readStateCa(ctx.local, etcdCaStatePaths(ctx.stateDir));
  const byNode = new Map(ctx.config.hosts.map((h) => [h.name, h]));
  const leaves: ExistingEtcdPki["leaves"] = {};
  const unknown: string[] = [];
  await Promise.all(
    etcdPkiSources(ctx.config).map(async (s) => {
      // A copy on a node that is up: a node left out of this run (down) cannot be read.
      const from = s.copies.find((c) => !ctx.down?.has(c.node));
      if (!from) return void unknown.push(s.id);
      const host = await ctx.host(byNode.get(from.node)!);
      const [cert, key] = await Promise.all([host.readFile(from.certPath), host.readFile(from.keyPath)]);
      leaves[s.id] = { certPem: textOf(cert), keyPem: textOf(key) };
    }),
  );
  return { ca, leaves, ...(unknown.length ? { unknown } : {}), ...(unfinished ? { unfinishedCa: true } : {}) };
}
