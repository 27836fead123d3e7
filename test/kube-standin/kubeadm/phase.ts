// kubeadm's way of failing: "error execution phase NAME: ..." and its preflight report format.
import fs from "node:fs";
import net from "node:net";
import { StandinError, errText } from "../lib/errors.ts";
import { rooted } from "../lib/env.ts";
import { Etcd } from "../lib/etcd.ts";
import { pullProblems } from "../lib/registry.ts";
import { runtimeImages } from "../lib/cri-images.ts";
import type { EtcdExternal } from "../config/load.ts";

export async function phase<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new StandinError(`error execution phase ${name}: ${errText(e)}\nTo see the stack trace of this error execute with --v=5 or higher`);
  }
}

export interface PreflightError { check: string; message: string }

/** Collects [ERROR X] lines; ignored checks become [WARNING X] like real kubeadm. */
export class Preflight {
  readonly errors: PreflightError[] = [];
  constructor(private readonly ignore: string[]) {}
  error(check: string, message: string) {
    const ignored = this.ignore.includes("all") || this.ignore.map((s) => s.toLowerCase()).includes(check.toLowerCase());
    if (ignored) console.log(`\t[WARNING ${check}]: ${message}`);
    else this.errors.push({ check, message });
  }
  finish() {
    if (!this.errors.length) return;
    throw new Error(
      `[preflight] Some fatal errors occurred:\n${this.errors.map((e) => `\t[ERROR ${e.check}]: ${e.message}`).join("\n")}\n` +
        "[preflight] If you know what you are doing, you can make a check non-fatal with `--ignore-preflight-errors=...`",
    );
  }

  fileAvailable(path: string) {
    if (fs.existsSync(rooted(path))) this.error(`FileAvailable-${path.replace(/\//g, "-")}`, `${path} already exists`);
  }

  async portFree(host: string, port: number) {
    const free = await new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(port, host, () => s.close(() => resolve(true)));
    });
    if (!free) this.error(`Port-${port}`, `Port ${port} is in use`);
  }

  /** ExternalEtcdClientCertificates + ExternalEtcdVersion, and a /health probe over TLS with the given files. */
  async externalEtcd(x: EtcdExternal) {
    let missing = false;
    for (const f of [x.caFile, x.certFile, x.keyFile])
      if (f && !fs.existsSync(rooted(f))) {
        this.error("ExternalEtcdClientCertificates", `${f} doesn't exist`);
        missing = true;
      }
    if (missing) return;
    const etcd = new Etcd(x.endpoints, x);
    await Promise.all(
      x.endpoints.map(async (ep) => {
        try {
          const v = await etcd.get(ep, "/version");
          const version = JSON.parse(v.body).etcdserver as string;
          if (!/^3\.([4-9]|\d\d)\./.test(version)) this.error("ExternalEtcdVersion", `this version of kubeadm only supports external etcd version >= 3.4.13. Current version: ${version}`);
          const h = await etcd.get(ep, "/health");
          if (h.status !== 200 || !/"health":\s*"true"/.test(h.body)) this.error("ExternalEtcdHealth", `${ep}/health answered ${h.status}: ${h.body.trim()}`);
        } catch (e) {
          this.error("ExternalEtcdVersion", `Get "${ep}/version": ${errText(e)} (checked with client certificate ${x.certFile} and CA ${x.caFile})`);
        }
      }),
    );
  }

  /**
   * What node preparation must have done (kubeadm's FileContent and Swap checks). A missing bridge
   * sysctl is only a warning here: inside a lab container br_netfilter may not exist in the network
   * namespace at all, while a wrong value is always the installer's fault.
   */
  nodeSettings(failSwapOn: boolean) {
    for (const f of ["/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/bridge/bridge-nf-call-iptables"]) {
      const check = `FileContent-${f.replace(/\//g, "-")}`;
      if (!fs.existsSync(rooted(f))) console.log(`\t[WARNING ${check}]: ${f} does not exist (a real node needs br_netfilter loaded)`);
      else if (fs.readFileSync(rooted(f), "utf8").trim() !== "1") this.error(check, `${f} contents are not set to 1`);
    }
    const swaps = fs.existsSync(rooted("/proc/swaps")) ? fs.readFileSync(rooted("/proc/swaps"), "utf8").trim().split("\n").length - 1 : 0;
    if (swaps > 0 && failSwapOn) this.error("Swap", "running with swap on is not supported. Please disable swap");
  }

  /**
   * kubeadm's ImagePull check: with imagePullPolicy IfNotPresent (the default) an image the runtime
   * already holds is not pulled; the others (all of them with Always) are pulled by tag, which here
   * means the registry must have the manifest. Returns which were present and which were pulled.
   */
  async imagesPullable(images: string[], node: { criSocket?: string; imagePullPolicy?: string } = {}): Promise<{ present: string[]; pulled: string[] }> {
    console.log("[preflight] Pulling images required for setting up a Kubernetes cluster");
    console.log("[preflight] This might take a minute or two, depending on the speed of your internet connection");
    console.log("[preflight] You can also perform this action in beforehand using 'kubeadm config images pull'");
    const held = node.imagePullPolicy === "Always" ? new Set<string>() : runtimeImages(node.criSocket);
    const present = images.filter((i) => held.has(i));
    const pulled = images.filter((i) => !held.has(i));
    for (const p of await pullProblems(pulled)) this.error("ImagePull", p);
    return { present, pulled };
  }
}
