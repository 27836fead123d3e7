// The client credentials of a kubeconfig (admin.conf, kubelet.conf, ...): embedded data or referenced files.
import { dirname, isAbsolute, join } from "node:path";
import { parse } from "yaml";

export interface KubeconfigCredentials {
  /** Name of the user entry the credentials come from. */
  user: string;
  clientCertPem?: string;
  /** Absolute path of a referenced client certificate (kubelet.conf points at kubelet-client-current.pem). */
  clientCertPath?: string;
  clientKeyPem?: string;
  clientKeyPath?: string;
  /** The cluster CA embedded for the current context, if any. */
  caPem?: string;
}

type Named<T> = { name?: string } & T;
interface Kubeconfig {
  "current-context"?: string;
  contexts?: Named<{ context?: { user?: string; cluster?: string } }>[];
  users?: Named<{ user?: Record<string, string> }>[];
  clusters?: Named<{ cluster?: Record<string, string> }>[];
}

const b64 = (s: string | undefined) => (s ? Buffer.from(s, "base64").toString("utf8") : undefined);

/** Credentials of the current context's user (or the only user). `path` resolves relative references and names the file in errors. */
export function kubeconfigCredentials(text: string, path: string): KubeconfigCredentials {
  let doc: Kubeconfig;
  try {
    doc = (parse(text) ?? {}) as Kubeconfig;
  } catch (e) {
    throw new Error(`${path} is not valid YAML: ${(e as Error).message}`);
  }
  const ctx = doc.contexts?.find((c) => c.name === doc["current-context"])?.context;
  const user = doc.users?.find((u) => u.name === ctx?.user) ?? doc.users?.[0];
  const cluster = doc.clusters?.find((c) => c.name === ctx?.cluster) ?? doc.clusters?.[0];
  if (!user?.user) throw new Error(`${path} has no user with credentials`);
  const abs = (p: string | undefined) => (p ? (isAbsolute(p) ? p : join(dirname(path), p)) : undefined);
  const u = user.user;
  return {
    user: user.name ?? "",
    clientCertPem: b64(u["client-certificate-data"]),
    clientCertPath: abs(u["client-certificate"]),
    clientKeyPem: b64(u["client-key-data"]),
    clientKeyPath: abs(u["client-key"]),
    caPem: b64(cluster?.cluster?.["certificate-authority-data"]),
  };
}
