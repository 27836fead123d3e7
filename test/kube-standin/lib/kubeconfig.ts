// kubeconfig files as kubeadm writes them (embedded CA and client credentials), and a TLS client from one.
import fs from "node:fs";
import YAML from "yaml";
import { rooted } from "./env.ts";
import { fail } from "./errors.ts";

export interface KubeconfigSpec { clusterName: string; server: string; caCert: string; user: string; clientCert?: string; clientKey?: string; token?: string }

const b64 = (s: string) => Buffer.from(s).toString("base64");

export function renderKubeconfig(k: KubeconfigSpec): string {
  const ctx = `${k.user}@${k.clusterName}`;
  const user: Record<string, string> = {};
  if (k.clientCert) user["client-certificate-data"] = b64(k.clientCert);
  if (k.clientKey) user["client-key-data"] = b64(k.clientKey);
  if (k.token) user.token = k.token;
  return YAML.stringify({
    apiVersion: "v1",
    clusters: [{ cluster: { "certificate-authority-data": b64(k.caCert), server: k.server }, name: k.clusterName }],
    contexts: [{ context: { cluster: k.clusterName, user: k.user }, name: ctx }],
    "current-context": ctx,
    kind: "Config",
    preferences: {},
    users: [{ name: k.user, user }],
  });
}

export interface Client { server: string; ca?: string; cert?: string; key?: string; token?: string }

/** Parse kubeconfig text into the connection facts of its current context. */
export function clientFromKubeconfig(text: string, source: string): Client {
  let cfg: any;
  try {
    cfg = YAML.parse(text);
  } catch (e) {
    return fail(`error loading config file "${source}": ${(e as Error).message}`);
  }
  const ctx = cfg?.contexts?.find((c: any) => c.name === cfg["current-context"])?.context;
  // cluster-info carries a cluster and no context: then the first cluster is the one.
  const cluster = (ctx ? cfg?.clusters?.find((c: any) => c.name === ctx.cluster) : cfg?.clusters?.[0])?.cluster;
  const user = cfg?.users?.find((u: any) => u.name === ctx?.user)?.user ?? {};
  if (!cluster?.server) return fail(`invalid configuration: no server found for cluster of context "${cfg?.["current-context"]}" in ${source}`);
  const unb64 = (s?: string) => (s ? Buffer.from(s, "base64").toString() : undefined);
  return { server: cluster.server, ca: unb64(cluster["certificate-authority-data"]), cert: unb64(user["client-certificate-data"]), key: unb64(user["client-key-data"]), token: user.token };
}

export function loadKubeconfig(file: string): Client {
  let text: string;
  try {
    text = fs.readFileSync(rooted(file), "utf8");
  } catch {
    return fail(`error loading config file "${file}": open ${file}: no such file or directory`);
  }
  return clientFromKubeconfig(text, file);
}
