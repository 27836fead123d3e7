// The files that point nodes at the depot, parsed back by real parsers (Bun's TOML, JSON, and for the
// apt source and .repo file see repo-apt/repo-yum, where apt-get and dnf use them for real). Every one
// verifies the depot (TLS against the depot CA, signed repositories): no trusted=yes, no skip_verify,
// no insecure registry, no plain http, and no gpgcheck=0 unless repo_gpgcheck=1 covers it.
import { describe, expect, test } from "bun:test";
import { containerdHostsDir, depotHostPort, dockerRegistryCaPath, renderContainerdHostsToml, renderDockerDaemonJson } from "../../src/depot/node-config.ts";
import { APT_MIRRORS, apt, renderAptDepotConf, renderAptMirrors, renderAptSource } from "../../src/profiles/apt.ts";
import { renderYumRepo, yum } from "../../src/profiles/yum.ts";
import { NODE_DEPOT_CA, NODE_REPO_KEY_ASC, NODE_REPO_KEY_GPG } from "../../src/depot/trust-paths.ts";

const DEPOT = "https://192.168.217.19:5000/";
const DEPOTS = [DEPOT, "https://192.168.217.12:5000", "https://192.168.217.13:5000"];
const INSECURE = /trusted=yes|skip_verify|insecure|http:\/\/(?!linux\.duke)|sslverify=0|repo_gpgcheck=0/;

describe("node config renderers", () => {
  test("apt source: one flat-repo line through the mirror method, signed-by the cluster key, never trusted=yes", () => {
    const text = renderAptSource();
    const lines = text.split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual([`deb [signed-by=${NODE_REPO_KEY_GPG}] mirror+file:${APT_MIRRORS} ./`]);
    expect(text).not.toMatch(INSECURE);
  });

  test("apt mirror list: every depot's repository over https, in the order given (apt's priorities, or it picks at random)", () => {
    expect(renderAptMirrors(DEPOTS, "debian12").split("\n").filter(Boolean)).toEqual([
      "https://192.168.217.19:5000/repo/debian12/\tpriority:1",
      "https://192.168.217.12:5000/repo/debian12/\tpriority:2",
      "https://192.168.217.13:5000/repo/debian12/\tpriority:3",
    ]);
  });

  test("apt.conf.d: every depot's host is verified against the depot CA, for every later apt run too", () => {
    expect(renderAptDepotConf([DEPOT]).split("\n").filter((l) => l && !l.startsWith("//"))).toEqual([
      `Acquire::https::192.168.217.19::CaInfo "${NODE_DEPOT_CA}";`,
      `Acquire::https::192.168.217.19::Verify-Peer "true";`,
      `Acquire::https::192.168.217.19::Verify-Host "true";`,
    ]);
    const all = renderAptDepotConf(DEPOTS);
    for (const h of ["192.168.217.19", "192.168.217.12", "192.168.217.13"]) expect(all).toContain(`Acquire::https::${h}::CaInfo "${NODE_DEPOT_CA}";`);
    expect(renderAptDepotConf(["https://[fd00::19]:5000"])).toContain(`Acquire::https::fd00::19::CaInfo`);
    expect(apt.repoFiles(DEPOTS, "debian12")).toEqual([
      { path: "/etc/apt/sources.list.d/k8s-ha-offline.list", content: renderAptSource() },
      { path: APT_MIRRORS, content: renderAptMirrors(DEPOTS, "debian12") },
      { path: "/etc/apt/apt.conf.d/60k8s-ha-offline-depot", content: renderAptDepotConf(DEPOTS) },
    ]);
  });

  test("yum repo: only the depot, https with the depot CA, repodata signed (repo_gpgcheck=1), the reason for gpgcheck=0 written next to it", () => {
    const text = renderYumRepo([DEPOT], "el7-k8s1.22");
    expect(text.match(/^\[.*\]$/gm)).toEqual(["[k8s-ha-offline]"]);
    const settings = Object.fromEntries(text.split("\n").filter((l) => l.includes("=") && !l.startsWith("#")).map((l) => l.split(/=(.*)/s).slice(0, 2)));
    expect(settings).toMatchObject({
      baseurl: "https://192.168.217.19:5000/repo/el7-k8s1.22/",
      sslcacert: NODE_DEPOT_CA,
      sslverify: "1",
      repo_gpgcheck: "1",
      gpgkey: `file://${NODE_REPO_KEY_ASC}`,
      // The bundle carries no vendor RPM keys: per-package checks are off, covered by the signed repomd.xml.
      gpgcheck: "0",
    });
    expect(text).toMatch(/# .*repo_gpgcheck=1.*\n(#.*\n)*.*gpgcheck off\) because the bundle does not carry the vendors' RPM keys/);
    expect(text).not.toMatch(INSECURE);
    expect(yum.repoFiles([DEPOT], "el7")).toEqual([{ path: "/etc/yum.repos.d/k8s-ha-offline.repo", content: renderYumRepo([DEPOT], "el7") }]);
  });

  test("yum repo with several depots: one baseurl listing each in order, tried in that order (failovermethod=priority)", () => {
    const text = renderYumRepo(DEPOTS, "el9");
    expect(text).toContain(
      "baseurl=https://192.168.217.19:5000/repo/el9/\n        https://192.168.217.12:5000/repo/el9/\n        https://192.168.217.13:5000/repo/el9/\nfailovermethod=priority\n",
    );
    expect(text).not.toMatch(INSECURE);
  });

  test("containerd hosts.toml parses, sends resolve and pull to the depot over https, verified with the depot CA", () => {
    const text = renderContainerdHostsToml("registry.k8s.io", [DEPOT]);
    const toml = Bun.TOML.parse(text) as { server: string; host: Record<string, { capabilities: string[]; ca: string; skip_verify?: boolean }> };
    expect(toml.server).toBe("https://192.168.217.19:5000");
    expect(Object.keys(toml.host)).toEqual(["https://192.168.217.19:5000"]);
    expect(toml.host["https://192.168.217.19:5000"]).toEqual({ capabilities: ["pull", "resolve"], ca: NODE_DEPOT_CA });
    expect(text).not.toMatch(INSECURE);
    expect(() => renderContainerdHostsToml("registry.k8s.io", ["http://192.168.217.19:5000"])).toThrow("must be reached over https");
    expect(() => renderContainerdHostsToml("registry.k8s.io", [])).toThrow("no depot");
    expect(containerdHostsDir("docker.io")).toBe("/etc/containerd/certs.d/docker.io");
  });

  test("containerd hosts.toml with several depots: one [host] each, in the order given (containerd tries them in turn)", () => {
    const toml = Bun.TOML.parse(renderContainerdHostsToml("192.168.217.19:5000", DEPOTS)) as { server: string; host: Record<string, { capabilities: string[]; ca: string }> };
    expect(toml.server).toBe("https://192.168.217.19:5000");
    expect(Object.keys(toml.host)).toEqual(["https://192.168.217.19:5000", "https://192.168.217.12:5000", "https://192.168.217.13:5000"]);
    for (const h of Object.values(toml.host)) expect(h).toEqual({ capabilities: ["pull", "resolve"], ca: NODE_DEPOT_CA });
  });

  test("docker daemon.json: systemd cgroups, the depot as https mirror, no insecure registry; its CA in certs.d", () => {
    const hp = depotHostPort(DEPOT);
    expect(hp).toBe("192.168.217.19:5000");
    const text = renderDockerDaemonJson([hp, "192.168.217.12:5000"]);
    const cfg = JSON.parse(text);
    expect(cfg["exec-opts"]).toEqual(["native.cgroupdriver=systemd"]);
    expect(cfg["insecure-registries"]).toBeUndefined();
    expect(cfg["registry-mirrors"]).toEqual(["https://192.168.217.19:5000", "https://192.168.217.12:5000"]);
    expect(text).not.toMatch(INSECURE);
    expect(dockerRegistryCaPath(hp)).toBe("/etc/docker/certs.d/192.168.217.19:5000/ca.crt");
    expect(cfg["log-driver"]).toBe("json-file");
    expect(cfg["log-opts"]).toEqual({ "max-size": "100m", "max-file": "3" });
    expect(cfg["storage-driver"]).toBe("overlay2");
    expect(JSON.parse(renderDockerDaemonJson([hp], "vfs"))["storage-driver"]).toBe("vfs");
    expect(() => renderDockerDaemonJson([])).toThrow(/no depot/);
  });
});
