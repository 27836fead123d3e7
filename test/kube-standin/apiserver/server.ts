// `kube-standin apiserver --advertise-address ... --etcd-servers ...`: started by the stand-in kubelet
// from /etc/kubernetes/manifests/kube-apiserver.yaml with that manifest's flags. Serves TLS with the
// apiserver certificate, authenticates client certificates against the cluster CA and bootstrap tokens,
// and keeps every object in the external etcd.
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import tls from "node:tls";
import { Etcd } from "../lib/etcd.ts";
import { apiserverBindHost, rooted, standinVersion } from "../lib/env.ts";
import { parseFlags, str } from "../lib/flags.ts";
import { importPrivateKey, readCsr, signLeaf } from "../lib/pki.ts";
import { ANONYMOUS, forbidden, userFromToken, type UserInfo } from "./auth.ts";
import { objectKey, parsePath, type ResourcePath } from "./paths.ts";
import { clusterInfoView, componentStatuses, nodesView, podsView } from "./views.ts";

const FLAGS = Object.fromEntries(
  ["advertise-address", "bind-address", "secure-port", "tls-cert-file", "tls-private-key-file", "client-ca-file", "etcd-servers", "etcd-cafile",
   "etcd-certfile", "etcd-keyfile", "service-cluster-ip-range", "service-account-key-file", "service-account-signing-key-file",
   "service-account-issuer", "kubelet-client-certificate", "kubelet-client-key", "proxy-client-cert-file", "proxy-client-key-file",
   "requestheader-client-ca-file", "requestheader-allowed-names", "requestheader-extra-headers-prefix", "requestheader-group-headers",
   "requestheader-username-headers", "authorization-mode", "enable-admission-plugins", "enable-bootstrap-token-auth", "allow-privileged",
   "kubelet-preferred-address-types", "insecure-port", "etcd-prefix"].map((f) => [f, "string" as const]),
);

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly reason = "") {
    super(message);
  }
}

const status = (code: number, message: string, reason: string) => ({ kind: "Status", apiVersion: "v1", status: "Failure", message, reason, code });
const notFound = (r: ResourcePath) => new HttpError(404, `${r.resource} "${r.name}" not found`, "NotFound");

function deepMerge(a: any, b: any): any {
  if (b === null) return undefined;
  if (typeof a !== "object" || a === null || Array.isArray(a) || typeof b !== "object" || Array.isArray(b)) return b;
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const m = deepMerge(a[k], v);
    if (m === undefined) delete out[k];
    else out[k] = m;
  }
  return out;
}

export async function apiserverMain(argv: string[]) {
  // The real kube-apiserver has hundreds of flags; extraArgs may carry any of them, so every --flag is accepted.
  const spec = { ...FLAGS, ...Object.fromEntries(argv.filter((a) => a.startsWith("--")).map((a) => [a.slice(2).split("=")[0]!, "string" as const])) };
  const p = parseFlags(argv, spec);
  const need = (n: string) => str(p, n) ?? (() => { throw new Error(`kube-apiserver: --${n} is required`); })();
  const file = (n: string) => fs.readFileSync(rooted(need(n)), "utf8");
  const etcd = new Etcd(need("etcd-servers").split(","), { caFile: need("etcd-cafile"), certFile: need("etcd-certfile"), keyFile: need("etcd-keyfile") });
  const caPem = file("client-ca-file");
  // The CSR signer (kube-controller-manager's job in a real cluster) uses the CA key next to the CA.
  const caKeyPath = rooted(path.join(path.dirname(need("client-ca-file")), "ca.key"));
  const manifestDir = process.env.KUBE_STANDIN_MANIFESTS;

  async function whoIs(req: http.IncomingMessage): Promise<UserInfo> {
    const sock = req.socket as tls.TLSSocket;
    if (sock.authorized) {
      const s = sock.getPeerCertificate().subject as unknown as Record<string, string | string[]>;
      const orgs = s.O === undefined ? [] : Array.isArray(s.O) ? s.O : [s.O];
      return { name: String(s.CN), groups: [...orgs, "system:authenticated"] };
    }
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ")) {
      const u = await userFromToken(etcd, auth.slice(7));
      if (!u) throw new HttpError(401, "Unauthorized", "Unauthorized");
      return u;
    }
    return ANONYMOUS;
  }

  async function signCsr(body: any, user: UserInfo) {
    const pem = Buffer.from(body?.spec?.request ?? "", "base64").toString();
    const csr = await readCsr(pem).catch((e) => { throw new HttpError(400, `invalid certificate request: ${e.message}`, "BadRequest"); });
    if (!csr.cn.startsWith("system:node:") || !csr.orgs.includes("system:nodes"))
      throw new HttpError(403, `certificatesigningrequests is forbidden: ${user.name} may only request kubelet client certificates (CN=system:node:<name>, O=system:nodes)`, "Forbidden");
    const cert = await signLeaf({ cert: caPem, key: fs.readFileSync(caKeyPath, "utf8") }, csr.publicKey, { cn: csr.cn, orgs: csr.orgs, usage: "client" });
    return { ...body, status: { conditions: [{ type: "Approved", status: "True", reason: "AutoApproved" }], certificate: Buffer.from(cert).toString("base64") } };
  }

  async function handle(req: http.IncomingMessage, body: any): Promise<unknown> {
    const url = new URL(req.url ?? "/", "https://x");
    const method = req.method ?? "GET";
    if (["/readyz", "/livez", "/healthz"].includes(url.pathname)) {
      if (url.pathname === "/readyz") await etcd.list("health-probe").catch(() => { throw new HttpError(500, "[-]etcd failed: reason withheld\nreadyz check failed"); });
      return "ok";
    }
    if (url.pathname === "/version") {
      // The version of the manifest's image (what a real kubelet would run), as the kubelet passes it.
      const v = process.env.KUBE_STANDIN_APISERVER_VERSION || standinVersion();
      const [maj, min] = v.slice(1).split(".");
      return { major: maj, minor: min, gitVersion: v, platform: "linux/amd64", standin: true };
    }
    const r = parsePath(url.pathname);
    if (!r) throw new HttpError(404, `the server could not find the requested resource (${method} ${url.pathname})`, "NotFound");
    const user = await whoIs(req);
    const verb = { GET: r.name ? "get" : "list", PUT: "update", POST: "create", PATCH: "patch", DELETE: "delete" }[method] ?? method.toLowerCase();
    const denied = forbidden(user, verb, r);
    if (denied) throw new HttpError(user === ANONYMOUS && verb !== "get" ? 401 : 403, denied, "Forbidden");

    if (r.resource === "certificatesigningrequests" && verb === "create") return signCsr(body, user);
    if (r.resource === "pods" && verb === "list") return { kind: "PodList", apiVersion: "v1", items: (await podsView(etcd)).filter((x) => !r.namespace || x.metadata.namespace === r.namespace) };
    if (r.resource === "componentstatuses") return { kind: "ComponentStatusList", apiVersion: "v1", items: await componentStatuses(etcd, manifestDir) };
    if (r.resource === "nodes" && verb === "list") return { kind: "NodeList", apiVersion: "v1", items: await nodesView(etcd) };

    const key = objectKey(r);
    if (verb === "list") {
      const prefix = `objects/${r.gv}/${r.resource}/${r.namespace ? r.namespace + "/" : ""}`;
      return { kind: "List", apiVersion: "v1", items: [...(await etcd.list(prefix)).values()] };
    }
    if (verb === "get") {
      const obj = await etcd.get1(key);
      if (!obj) throw notFound(r);
      if (r.resource === "nodes") return (await nodesView(etcd)).find((n) => n.metadata.name === r.name) ?? obj;
      if (r.resource === "configmaps" && r.namespace === "kube-public" && r.name === "cluster-info") return clusterInfoView(etcd, obj);
      // kubeadm-certs is owned by a 2h token in a real cluster and garbage-collected with it.
      const expires = obj.metadata?.annotations?.["standin.kubeadm/expires"];
      if (expires && Date.parse(expires) <= Date.now()) {
        await etcd.del(key);
        throw notFound(r);
      }
      return obj;
    }
    if (verb === "delete") {
      if (!(await etcd.del(key))) throw notFound(r);
      return { kind: "Status", apiVersion: "v1", status: "Success" };
    }
    if (verb === "update" || verb === "create") {
      const name = r.name ?? body?.metadata?.name;
      if (!name) throw new HttpError(400, "the object has no metadata.name", "BadRequest");
      const old = await etcd.get1(objectKey({ ...r, name }));
      body.metadata = { ...body.metadata, name, creationTimestamp: old?.metadata?.creationTimestamp ?? new Date().toISOString() };
      await etcd.put(objectKey({ ...r, name }), body);
      return body;
    }
    if (verb === "patch") {
      // Only a registering kubelet may create by patching (its node object).
      const mayCreate = r.resource === "nodes" && !!req.headers["x-standin-register"];
      return etcd.update(key, (old) => {
        if (!old && !mayCreate) throw notFound(r);
        return deepMerge(old ?? { apiVersion: "v1", kind: "Node", metadata: { name: r.name, creationTimestamp: new Date().toISOString() } }, body);
      });
    }
    throw new HttpError(405, `method ${method} not allowed`, "MethodNotAllowed");
  }

  const app = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      let out: unknown, code = 200;
      try {
        const text = Buffer.concat(chunks).toString();
        out = await handle(req, text ? JSON.parse(text) : undefined);
      } catch (e) {
        code = e instanceof HttpError ? e.status : 500;
        out = status(code, (e as Error).message, e instanceof HttpError ? e.reason : "InternalError");
      }
      res.writeHead(code, { "content-type": typeof out === "string" ? "text/plain" : "application/json" });
      res.end(typeof out === "string" ? out : JSON.stringify(out));
    });
  });

  const host = apiserverBindHost(need("advertise-address"), str(p, "bind-address"));
  const port = Number(str(p, "secure-port") ?? 6443);
  const server = tls.createServer(
    { key: file("tls-private-key-file"), cert: file("tls-cert-file"), ca: caPem, requestCert: true, rejectUnauthorized: false },
    (sock) => app.emit("connection", sock),
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  console.log(`kube-apiserver (stand-in ${standinVersion()}) serving on https://${host}:${port}`);
  // Graceful, but bounded like the real one's shutdown delay: an idle keep-alive client (a kubelet's
  // heartbeat) must not keep the port from the apiserver that replaces this one after a manifest change.
  const stop = () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000);
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  await importPrivateKey(fs.readFileSync(caKeyPath, "utf8")).catch(() => console.error(`warning: CA key ${caKeyPath} unreadable: kubelet CSRs cannot be signed`));
}
