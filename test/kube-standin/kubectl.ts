// The stand-in kubectl: the calls the installer makes (apply, get, wait, delete, drain, cordon),
// over TLS with the kubeconfig's client certificate.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { fail } from "./lib/errors.ts";
import { bool, parseFlags, str } from "./lib/flags.ts";
import { call, ApiError } from "./lib/api.ts";
import { loadKubeconfig, type Client } from "./lib/kubeconfig.ts";
import { parseDuration } from "./lib/duration.ts";
import { rooted, standinVersion } from "./lib/env.ts";
import { pathOfObject } from "./apiserver/paths.ts";
import { crdKinds, refusal } from "./lib/api-kinds.ts";
import { printTable } from "./kubeadm/admin.ts";

const FLAGS = {
  kubeconfig: "string", namespace: "string", "all-namespaces": "bool", output: "string", filename: "string", for: "string", timeout: "string",
  all: "bool", selector: "string", "ignore-daemonsets": "bool", "delete-emptydir-data": "bool", "delete-local-data": "bool", force: "bool",
  "grace-period": "string", client: "bool", v: "string", "request-timeout": "string",
} as const;
const ALIASES = { n: "namespace", A: "all-namespaces", o: "output", f: "filename", l: "selector" };

const RESOURCE_ALIASES: Record<string, string> = { no: "nodes", node: "nodes", po: "pods", pod: "pods", cs: "componentstatuses", componentstatus: "componentstatuses", ds: "daemonsets", daemonset: "daemonsets", deploy: "deployments", deployment: "deployments", cm: "configmaps", configmap: "configmaps", ns: "namespaces", namespace: "namespaces", svc: "services", service: "services" };
const GROUP_OF: Record<string, string> = { daemonsets: "apps/v1", deployments: "apps/v1" };

const age = (ts?: string) => {
  if (!ts) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - Date.parse(ts)) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
};

function imagesIn(o: any): string[] {
  const specs = [o?.spec, o?.spec?.template?.spec, o?.spec?.jobTemplate?.spec?.template?.spec].filter(Boolean);
  return specs.flatMap((s: any) => [...(s.initContainers ?? []), ...(s.containers ?? [])].map((c: any) => c.image).filter(Boolean));
}

function readManifest(file: string): any[] {
  let text: string;
  try {
    text = file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(rooted(file), "utf8");
  } catch {
    return fail(`error: the path "${file}" does not exist`);
  }
  const docs = YAML.parseAllDocuments(text).map((d, i) => {
    if (d.errors.length) fail(`error: error parsing ${file}: document ${i + 1}: ${d.errors[0]!.message}`);
    return d.toJS();
  });
  return docs.filter(Boolean).flatMap((d: any) => (d.kind === "List" ? d.items : [d])).map((o: any, i: number) => {
    if (!o.apiVersion || !o.kind) fail(`error: error validating "${file}": document ${i + 1}: apiVersion and kind must be set`);
    if (!o.metadata?.name) fail(`error: error validating "${file}": ${o.kind} has no metadata.name`);
    return o;
  });
}

/** Equality-based label selectors: "k=v,k2!=v2,k3". */
function selects(selector: string | undefined, o: any): boolean {
  if (!selector) return true;
  const labels: Record<string, string> = o.metadata?.labels ?? {};
  return selector.split(",").every((term) => {
    const m = /^([^!=]+?)\s*(==|=|!=)\s*(.*)$/.exec(term.trim());
    if (!m) return term.trim() in labels;
    return m[2] === "!=" ? labels[m[1]!] !== m[3] : labels[m[1]!] === m[3];
  });
}

const nodeRoles = (n: any) => Object.keys(n.metadata?.labels ?? {}).filter((l) => l.startsWith("node-role.kubernetes.io/")).map((l) => l.slice(24)).sort().join(",") || "<none>";
const readyOf = (n: any) => n.status?.conditions?.find((c: any) => c.type === "Ready")?.status;

async function get(api: Client, p: ReturnType<typeof parseFlags>, what: string[]) {
  let [res, name] = what;
  if (res?.includes("/")) [res, name] = res.split("/");
  const resource = RESOURCE_ALIASES[res ?? ""] ?? res;
  if (!resource) fail("error: You must specify the type of resource to get.");
  const ns = str(p, "namespace") ?? "default";
  const all = bool(p, "all-namespaces");
  const gv = GROUP_OF[resource!] ?? "v1";
  const base = gv === "v1" ? "/api/v1" : `/apis/${gv}`;
  const clusterScoped = ["nodes", "componentstatuses", "namespaces"].includes(resource!);
  const path = clusterScoped || all ? `${base}/${resource}${name ? `/${name}` : ""}` : `${base}/namespaces/${ns}/${resource}${name ? `/${name}` : ""}`;
  const out = await call(api, "GET", path);
  const items: any[] = name ? [out] : out.items.filter((o: any) => selects(str(p, "selector"), o));
  const fmt = str(p, "output");
  if (fmt !== undefined && !["json", "yaml", "name", "wide"].includes(fmt))
    fail(`error: unable to match a printer suitable for the output format "${fmt}", allowed formats are: json,name,wide,yaml (the stand-in has no jsonpath or go-template)`);
  if (fmt === "json") return console.log(JSON.stringify(name ? out : { apiVersion: "v1", kind: "List", items }, null, 2));
  if (fmt === "yaml") return console.log(YAML.stringify(name ? out : { apiVersion: "v1", kind: "List", items }));
  if (fmt === "name") return items.forEach((i) => console.log(`${resource!.replace(/s$/, "")}/${i.metadata.name}`));
  if (resource === "nodes") {
    const status = (n: any) => ({ True: "Ready", False: "NotReady", Unknown: "NotReady" } as Record<string, string>)[readyOf(n)] ?? "Unknown";
    return printTable([["NAME", "STATUS", "ROLES", "AGE", "VERSION"], ...items.map((n) => [n.metadata.name, status(n) + (n.spec?.unschedulable ? ",SchedulingDisabled" : ""), nodeRoles(n), age(n.metadata.creationTimestamp), n.status?.nodeInfo?.kubeletVersion ?? ""])]);
  }
  if (resource === "pods") {
    const rows = items.map((x) => {
      const cs = x.status?.containerStatuses ?? [];
      const ready = `${cs.filter((c: any) => c.ready).length}/${cs.length}`;
      return [...(all ? [x.metadata.namespace] : []), x.metadata.name, ready, x.status?.phase ?? "", "0", age(x.metadata.creationTimestamp)];
    });
    return printTable([[...(all ? ["NAMESPACE"] : []), "NAME", "READY", "STATUS", "RESTARTS", "AGE"], ...rows]);
  }
  if (resource === "componentstatuses") {
    if (standinVersion().match(/^v1\.(19|2\d|3\d)\./)) console.error("Warning: v1 ComponentStatus is deprecated in v1.19+");
    return printTable([["NAME", "STATUS", "MESSAGE", "ERROR"], ...items.map((c) => { const h = c.conditions[0]; return [c.metadata.name, h.status === "True" ? "Healthy" : "Unhealthy", h.message, h.error]; })]);
  }
  return printTable([["NAME", "AGE"], ...items.map((i) => [i.metadata.name, age(i.metadata.creationTimestamp)])]);
}

async function wait(api: Client, p: ReturnType<typeof parseFlags>, what: string[]) {
  const cond = str(p, "for") ?? fail("error: --for must be set, e.g. --for=condition=Ready");
  const m = /^condition=(\w+)(?:=(\w+))?$/i.exec(cond!);
  if (!m) fail(`error: unrecognized condition: "${cond}"`);
  const [, type, want = "True"] = m!;
  const timeoutMs = parseDuration(str(p, "timeout") ?? "30s") ?? 30_000;
  let [res, name] = what;
  if (res?.includes("/")) [res, name] = res.split("/");
  const resource = RESOURCE_ALIASES[res ?? ""] ?? res;
  if (resource !== "nodes" && resource !== "pods") fail(`error: the stand-in waits on nodes and pods only (got "${res}")`);
  if (!name && !bool(p, "all") && !str(p, "selector")) fail("error: resource(s) were provided, but no name was specified");
  const ns = str(p, "namespace") ?? "default";
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list: any[] = resource === "nodes" ? (await call(api, "GET", "/api/v1/nodes")).items : (await call(api, "GET", bool(p, "all-namespaces") ? "/api/v1/pods" : `/api/v1/namespaces/${ns}/pods`)).items;
    const targets = list.filter((o) => (!name || o.metadata.name === name) && selects(str(p, "selector"), o));
    const met = (o: any) => (o.status?.conditions ?? []).some((c: any) => c.type.toLowerCase() === type!.toLowerCase() && c.status.toLowerCase() === want.toLowerCase());
    if (name && !targets.length && Date.now() > deadline) fail(`Error from server (NotFound): ${resource} "${name}" not found`);
    if (targets.length && targets.every(met)) {
      for (const t of targets) console.log(`${resource!.replace(/s$/, "")}/${t.metadata.name} condition met`);
      return;
    }
    if (Date.now() > deadline) {
      const late = targets.filter((t) => !met(t)).map((t) => t.metadata.name);
      fail(`error: timed out waiting for the condition on ${resource} ${late.join(" ") || "(none found)"}`);
    }
    await Bun.sleep(1000);
  }
}

async function drain(api: Client, p: ReturnType<typeof parseFlags>, node: string) {
  await call(api, "PATCH", `/api/v1/nodes/${node}`, { spec: { unschedulable: true } });
  console.log(`node/${node} cordoned`);
  const pods = (await call(api, "GET", "/api/v1/pods")).items.filter((x: any) => x.spec?.nodeName === node);
  const owned = (x: any, kind: string) => x.metadata.ownerReferences?.some((o: any) => o.kind === kind);
  const ds = pods.filter((x: any) => owned(x, "DaemonSet"));
  if (ds.length && !bool(p, "ignore-daemonsets"))
    fail(`error: unable to drain node "${node}" due to error:cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): ${ds.map((x: any) => `${x.metadata.namespace}/${x.metadata.name}`).join(", ")}, continuing command...`);
  if (ds.length) console.log(`WARNING: ignoring DaemonSet-managed Pods: ${ds.map((x: any) => `${x.metadata.namespace}/${x.metadata.name}`).join(", ")}`);
  for (const x of pods.filter((x: any) => owned(x, "ReplicaSet"))) console.log(`evicting pod ${x.metadata.namespace}/${x.metadata.name}`);
  console.log(`node/${node} drained`);
}

export async function kubectl(argv: string[]): Promise<object> {
  const p = parseFlags(argv, FLAGS, ALIASES);
  const [verb, ...rest] = p.args;
  if (verb === "version") {
    console.log(`Client Version: ${standinVersion()}`);
    if (!bool(p, "client")) console.log(`Server Version: ${(await call(loadKubeconfig(kubeconfigPath(p)), "GET", "/version")).gitVersion}`);
    return { command: "version" };
  }
  const api = loadKubeconfig(kubeconfigPath(p));
  try {
    return await run(api, p, verb, rest);
  } catch (e) {
    if (e instanceof ApiError && e.status) throw new Error(`Error from server (${e.reason || e.status}): ${e.message}`);
    throw e;
  }
}

/**
 * Real kubectl's order: --kubeconfig, $KUBECONFIG, ~/.kube/config. It never falls back to
 * /etc/kubernetes/admin.conf; without a kubeconfig it dials localhost:8080, and so does the stand-in.
 */
function kubeconfigPath(p: ReturnType<typeof parseFlags>): string {
  const chosen = str(p, "kubeconfig") ?? process.env.KUBECONFIG?.split(":")[0];
  if (chosen) return chosen;
  const home = path.join(os.homedir(), ".kube/config");
  if (!fs.existsSync(rooted(home))) fail("The connection to the server localhost:8080 was refused - did you specify the right host or port?");
  return home;
}

async function run(api: Client, p: ReturnType<typeof parseFlags>, verb: string | undefined, rest: string[]): Promise<object> {
  switch (verb) {
    case "apply": {
      const file = str(p, "filename") ?? fail("error: must specify one of -f and -k");
      const objs = readManifest(file!);
      // Checked for the whole file first, so nothing of it is applied when one object would be refused (stricter
      // than kubectl, which may have applied the objects before the bad one).
      const stored = await call(api, "GET", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions").then((l: any) => l.items ?? [], () => []);
      const kinds = crdKinds([...stored, ...objs.filter((o) => o.kind === "CustomResourceDefinition")]);
      for (const o of objs) {
        const why = refusal(o, file!, standinVersion(), kinds);
        if (why) fail(why);
      }
      for (const o of objs) {
        const existed = await call(api, "GET", pathOfObject(o, str(p, "namespace"))).then(() => true, () => false);
        await call(api, "PUT", pathOfObject(o, str(p, "namespace")), o);
        const group = o.apiVersion.includes("/") ? `.${o.apiVersion.split("/")[0]}` : "";
        console.log(`${o.kind.toLowerCase()}${group}/${o.metadata.name} ${existed ? "configured" : "created"}`);
      }
      return { command: "apply", file, objects: objs.map((o) => ({ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace })), images: [...new Set(objs.flatMap(imagesIn))] };
    }
    case "get":
      await get(api, p, rest);
      return { command: "get", what: rest };
    case "wait":
      await wait(api, p, rest);
      return { command: "wait", what: rest, for: str(p, "for") };
    case "delete": {
      if (str(p, "filename")) {
        for (const o of readManifest(str(p, "filename")!)) await call(api, "DELETE", pathOfObject(o, str(p, "namespace")));
        return { command: "delete", file: str(p, "filename") };
      }
      const [res, ...names] = rest;
      const resource = RESOURCE_ALIASES[res ?? ""] ?? res;
      if (resource !== "nodes") fail(`error: the stand-in deletes nodes or -f FILE only (got "${res}")`);
      for (const n of names) {
        await call(api, "DELETE", `/api/v1/nodes/${n}`);
        console.log(`node "${n}" deleted`);
      }
      return { command: "delete", nodes: names };
    }
    case "cordon":
    case "uncordon": {
      const n = rest[0] ?? fail(`error: USAGE: ${verb} NODE`);
      await call(api, "PATCH", `/api/v1/nodes/${n}`, { spec: { unschedulable: verb === "cordon" } });
      console.log(`node/${n} ${verb}ed`);
      return { command: verb, node: n };
    }
    case "drain": {
      const n = rest[0] ?? fail("error: USAGE: drain NODE");
      await drain(api, p, n!);
      return { command: "drain", node: n };
    }
    case "cluster-info":
      console.log(`Kubernetes control plane is running at ${api.server}`);
      return { command: "cluster-info" };
    default:
      return fail(`error: unknown command "${verb ?? ""}" for "kubectl" (the stand-in knows apply, get, wait, delete, drain, cordon, uncordon, version, cluster-info)`);
  }
}


