// The config loader against real files: the init template, valid variants, and one bad fixture per mistake.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../../src/config/errors.ts";
import { renderInitConfig } from "../../src/config/init.ts";
import { loadConfig, MAX_CONFIG_BYTES, parseConfig } from "../../src/config/load.ts";
import { controlPlanes, etcdMembers, firstMaster, workers } from "../../src/config/types.ts";
import { badConfigFixtures, goodConfigFixtures } from "./fixtures/config/index.ts";

/** Run `fn`, which must throw a ConfigError, and return it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw new Error(`expected a ConfigError, got ${e instanceof Error ? e.stack : String(e)}`);
  }
  throw new Error("expected a ConfigError, but the config loaded");
}

const tmp = () => mkdtempSync(join(tmpdir(), "k8s-ha-config-"));
const template = renderInitConfig();

describe("init template", () => {
  test("loads with no error and describes the seed topology", () => {
    const c = parseConfig(template, "cluster.yaml", "/root");
    expect(c.hosts.map((h) => `${h.name}=${h.address}`)).toEqual(["master1=192.168.217.19", "master2=192.168.217.20", "master3=192.168.217.21", "node1=192.168.217.22"]);
    expect(firstMaster(c).name).toBe("master1");
    expect(controlPlanes(c).length).toBe(3);
    expect(etcdMembers(c).map((h) => h.name)).toEqual(["master1", "master2", "master3"]);
    expect(workers(c).map((h) => h.name)).toEqual(["node1"]);
    expect(c.loadBalancer).toMatchObject({ vip: "192.168.217.100", interface: "ens33", port: 9443 });
    expect(c.kubernetes.version).toBe("1.22.2");
    expect(c.bundle).toEqual({ dir: "/root/bundle-el7-k8s1.22", profile: "el7-k8s1.22" });
    expect(c.depot).toEqual({ port: 5000, address: "192.168.217.19" });
    expect(c.loadBalancer.authPass).toBeUndefined();
  });

  test("every key line carries a comment", () => {
    const uncommented = template.split("\n").filter((l) => /^\s*-?\s*[A-Za-z]+:/.test(l) && !l.includes("#") && !/^\s+(name|address|roles):/.test(l));
    expect(uncommented).toEqual([]);
  });
});

describe("valid configurations", () => {
  for (const file of goodConfigFixtures())
    test(`${file.split("/").pop()} loads`, () => {
      expect(loadConfig(file).hosts.length).toBeGreaterThan(0);
    });

  test("defaults fill what the minimal file leaves out", () => {
    const c = loadConfig(goodConfigFixtures().find((f) => f.endsWith("minimal.yaml"))!);
    expect(c.hosts[0]!.roles).toEqual(["control-plane", "etcd"]);
    expect(c.hosts[0]!.aliases).toEqual([]);
    expect(c.hosts[0]!.ssh).toEqual({ user: "root", port: 22, hostKeyPolicy: "accept-new", knownHostsFile: "/var/lib/k8s-ha-offline/known_hosts", connectTimeoutSeconds: 10 });
    expect(c.loadBalancer).toEqual({ vip: "10.0.0.100", interface: "eth0", port: 9443, virtualRouterId: 51, vrrpMode: "multicast", nopreempt: false, statsPort: 9188 });
    expect(c.kubernetes).toEqual({ version: "1.28.4", runtime: "containerd", cni: "flannel", podSubnet: "10.244.0.0/16", serviceSubnet: "10.96.0.0/12", dnsDomain: "cluster.local", tokenTTL: "24h", allowNonExpiringToken: false });
    expect(c.bundle.dir.endsWith("/fixtures/config/good/bundle-debian12")).toBe(true);
    expect(c).toMatchObject({ firewall: "disable", stateDir: "/var/lib/k8s-ha-offline", ntp: { servers: [] } });
    expect("ssh" in c).toBe(false);
  });

  test("per-host SSH overrides merge over the defaults; explicit etcd hosts are the members", () => {
    const file = goodConfigFixtures().find((f) => f.endsWith("external-etcd.yaml"))!;
    const c = loadConfig(file);
    const dir = file.slice(0, file.lastIndexOf("/"));
    const byName = Object.fromEntries(c.hosts.map((h) => [h.name, h]));
    expect(byName.cp1!.ssh).toMatchObject({ user: "deploy", port: 22, keyFile: `${dir}/keys/deploy_ed25519`, passwordEnv: "K8S_SSH_PASSWORD", hostKeyPolicy: "strict", knownHostsFile: "/var/lib/k8s-ha-offline-east/known_hosts" });
    expect(byName.etcd2!.ssh).toMatchObject({ user: "root", port: 2222, keyFile: `${dir}/keys/deploy_ed25519` });
    expect(etcdMembers(c).map((h) => h.name)).toEqual(["etcd1", "etcd2", "etcd3"]);
    expect(byName.cp1!.roles).toEqual(["control-plane"]);
    expect(c.loadBalancer).toMatchObject({ vip: "172.16.10.100", vipPrefix: 24, authPass: "Zq7xvR2m", vrrpMode: "unicast" });
    expect(c.bundle.dir).toBe("/srv/bundles/el9");
  });

  test("a leading v on the version is dropped; ~/ in keyFile is the user's home", () => {
    const text = template.replace("version: 1.22.2", "version: v1.22.17").replace("keyFile: /root/.ssh/id_ed25519", "keyFile: ~/.ssh/k");
    const c = parseConfig(text);
    expect(c.kubernetes.version).toBe("1.22.17");
    expect(c.hosts[0]!.ssh.keyFile).toBe(join(require("node:os").homedir(), ".ssh/k"));
  });
});

describe("bad configurations: one mistake per fixture", () => {
  const fixtures = badConfigFixtures();
  test("there are at least 30 different mistakes", () => expect(fixtures.length).toBeGreaterThanOrEqual(30));

  for (const fx of fixtures)
    test(`${fx.name}: names ${fx.path} on line ${fx.line}`, () => {
      const err = configError(() => loadConfig(fx.file, { sourceName: "cluster.yaml" }));
      const hit = err.issues.find((i) => i.path === fx.path && i.line === fx.line);
      if (!hit) throw new Error(`no issue at ${fx.path} line ${fx.line}; got:\n${err.format()}`);
      expect(`${hit.message} — ${hit.hint}`).toContain(fx.text);
      expect(hit.col).toBeGreaterThan(0);
      expect(hit.hint.length).toBeGreaterThan(0);
      for (const line of err.format().split("\n")) {
        expect(line).toMatch(/^cluster\.yaml:\d+:\d+ \S.*: .+ — .+/);
        expect(line).not.toMatch(/\bat .*\.ts:\d+|Error:/);
      }
    });
});

describe("errors are collected and printed one per line", () => {
  test("several mistakes are all reported, in file order, in the documented format", () => {
    const text = template
      .replace("192.168.217.22", "192.168.217.300")
      .replace("virtualRouterId: 51", "virtual_router_id: 50")
      .replace("port: 9443", "port: 6443")
      .replace("cni: flannel", "cni: flanel");
    const err = configError(() => parseConfig(text, "cluster.yaml", "/root"));
    expect(err.issues.map((i) => i.path)).toEqual(["hosts[3].address", "loadBalancer.port", "loadBalancer.virtual_router_id", "kubernetes.cni"]);
    const lines = err.format().split("\n");
    const addressLine = text.split("\n").findIndex((l) => l.includes("192.168.217.300")) + 1;
    const col = text.split("\n")[addressLine - 1]!.indexOf("192.168.217.300") + 1;
    expect(lines[0]).toBe(`cluster.yaml:${addressLine}:${col} hosts[3].address: "192.168.217.300" is not an IPv4 address — use a dotted quad like 192.168.217.22 (four numbers 0-255, no leading zeros)`);
    expect(lines[2]).toContain('unknown key "virtual_router_id" — did you mean "virtualRouterId"?');
    expect(lines[3]).toContain('did you mean "flannel"?');
  });

  test("a wrong value is reported once, and no default or cross-check papers over it", () => {
    const err = configError(() => parseConfig(template.replace("podSubnet: 10.244.0.0/16", "podSubnet: 10.96.0.0/33"), "c.yaml"));
    expect(err.issues.map((i) => i.path)).toEqual(["kubernetes.podSubnet"]);
  });
});

describe("text encodings operators produce", () => {
  test("a byte-order mark and CRLF line ends (a file saved on Windows) load", () => {
    const c = parseConfig(`\ufeff${template.replaceAll("\n", "\r\n")}`, "cluster.yaml", "/root");
    expect(c.hosts.map((h) => h.address)).toEqual(["192.168.217.19", "192.168.217.20", "192.168.217.21", "192.168.217.22"]);
  });

  test("control and bidi characters from the file are printed escaped", () => {
    const err = configError(() => parseConfig(template.replace("stateDir:", '"\u001b[2J\u202estate": 1\nstateDir:')));
    const line = err.format().split("\n").find((l) => l.includes("unknown key"))!;
    expect(line).toContain("\\u001b[2J\\u202estate");
    expect(line).not.toMatch(/[\u001b\u202e]/);
  });
});

describe("files the loader refuses before parsing", () => {
  test("missing file", () => {
    const err = configError(() => loadConfig(join(tmp(), "cluster.yaml"), { sourceName: "cluster.yaml" }));
    expect(err.format()).toBe("cluster.yaml: no such file — run `k8s-ha-offline init` to write a commented one, or point -c at your cluster.yaml");
  });

  test("a directory", () => {
    const dir = tmp();
    mkdirSync(join(dir, "cluster.yaml"));
    expect(configError(() => loadConfig(join(dir, "cluster.yaml"))).issues[0]!.message).toBe("is a directory");
  });

  test("a device that never ends is not read", () => {
    expect(configError(() => loadConfig("/dev/zero")).issues[0]!.message).toBe("is not a regular file");
  });

  test("a file over 1 MiB", () => {
    const file = join(tmp(), "big.yaml");
    writeFileSync(file, `${template}\n# ${"x".repeat(MAX_CONFIG_BYTES)}\n`);
    expect(configError(() => loadConfig(file)).issues[0]!.message).toContain("more than the 1048576");
    expect(configError(() => parseConfig(`${template}#${"y".repeat(MAX_CONFIG_BYTES)}`)).issues[0]).toMatchObject({ path: "(document)", line: 1 });
  });

  test("a file that is not UTF-8", () => {
    const file = join(tmp(), "latin1.yaml");
    writeFileSync(file, Buffer.from([0x6e, 0x61, 0x6d, 0x65, 0x3a, 0x20, 0xe4, 0x0a]));
    expect(configError(() => loadConfig(file)).issues[0]!.message).toBe("is not UTF-8 text");
  });

  test("the source name is the path relative to the working directory when inside it", () => {
    const dir = tmp();
    const file = join(dir, "c.yaml");
    writeFileSync(file, "kind: Cluster\n");
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      expect(configError(() => loadConfig(file)).format().split("\n")[0]).toStartWith("c.yaml:");
    } finally {
      process.chdir(cwd);
    }
  });
});

describe("hostile YAML", () => {
  test("a billion-laughs alias bomb is refused without expanding it", () => {
    // 9^10 "lol"s if expanded; the loader only ever looks one alias deep, where it finds a list instead of text.
    const levels = ["xa: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let i = 1; i < 10; i++) {
      const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      levels.push(`x${name}: &${name} [${Array(9).fill(`*${prev}`).join(", ")}]`);
    }
    const bomb = `${levels.join("\n")}\n${template.replace("servers: []", `servers: [${Array(9).fill("*j").join(", ")}]`)}`;
    const err = configError(() => parseConfig(bomb));
    expect(err.issues.filter((i) => /^ntp\.servers\[\d\]$/.test(i.path) && i.message === "expected text, got a list").length).toBe(9);
    expect(err.issues.filter((i) => i.message.startsWith('unknown key "x')).length).toBe(10);
  });

  test("more than 100 alias uses are refused", () => {
    const hosts = Array.from({ length: 101 }, (_, i) => `  - { name: w${i}, address: 192.168.218.${i + 1}, roles: [worker], ssh: *s }`).join("\n");
    const many = template.replace("roles: [worker]                      # runs the workloads", `roles: [worker]\n    ssh: &s { port: 22 }\n${hosts}`);
    const err = configError(() => parseConfig(many));
    expect(err.issues.filter((i) => i.message.includes("more than 100 aliases")).map((i) => i.path)).toEqual(["hosts[104].ssh"]);
  });
});
