// The files that point nodes at the depot, parsed back by real parsers (Bun's TOML, JSON, and for the
// apt source and .repo file see repo-apt/repo-yum, where apt-get and dnf use them for real).
import { describe, expect, test } from "bun:test";
import { containerdHostsDir, depotHostPort, renderContainerdHostsToml, renderDockerDaemonJson } from "../../src/depot/node-config.ts";
import { renderAptSource } from "../../src/profiles/apt.ts";
import { renderYumRepo } from "../../src/profiles/yum.ts";

const DEPOT = "http://192.168.217.19:5000/";

describe("node config renderers", () => {
  test("apt source: one trusted flat-repo line for the profile, trailing slash normalised", () => {
    const lines = renderAptSource(DEPOT, "debian12").split("\n").filter((l) => l && !l.startsWith("#"));
    expect(lines).toEqual(["deb [trusted=yes] http://192.168.217.19:5000/repo/debian12/ ./"]);
  });

  test("yum repo: only the depot, gpgcheck off with the reason written next to it", () => {
    const text = renderYumRepo(DEPOT, "el7-k8s1.22");
    expect(text.match(/^\[.*\]$/gm)).toEqual(["[k8s-ha-offline]"]);
    expect(text).toContain("baseurl=http://192.168.217.19:5000/repo/el7-k8s1.22/\n");
    expect(text).toContain("gpgcheck=0\n");
    expect(text).toMatch(/# gpgcheck=0: .*keys are not on an offline/);
  });

  test("containerd hosts.toml parses and sends resolve and pull for the upstream registry to the depot", () => {
    const toml = Bun.TOML.parse(renderContainerdHostsToml("registry.k8s.io", DEPOT)) as {
      server: string;
      host: Record<string, { capabilities: string[]; skip_verify: boolean }>;
    };
    expect(toml.server).toBe("http://192.168.217.19:5000");
    expect(Object.keys(toml.host)).toEqual(["http://192.168.217.19:5000"]);
    expect(toml.host["http://192.168.217.19:5000"]!.capabilities).toEqual(["pull", "resolve"]);
    expect(containerdHostsDir("docker.io")).toBe("/etc/containerd/certs.d/docker.io");
  });

  test("docker daemon.json: systemd cgroups, the depot as insecure registry and mirror", () => {
    const hp = depotHostPort(DEPOT);
    expect(hp).toBe("192.168.217.19:5000");
    const cfg = JSON.parse(renderDockerDaemonJson(hp));
    expect(cfg["exec-opts"]).toEqual(["native.cgroupdriver=systemd"]);
    expect(cfg["insecure-registries"]).toEqual(["192.168.217.19:5000"]);
    expect(cfg["registry-mirrors"]).toEqual(["http://192.168.217.19:5000"]);
  });
});
