// The OS profile registry (src/profiles/): each module carries its own manifests, recognises its own
// nodes, and its package manager runs the commands the packages phase has always run.
import { describe, expect, test } from "bun:test";
import { PROFILES, PROFILE_NAMES, findProfile } from "../../src/profiles/index.ts";
import { embeddedManifests, loadManifests } from "../../src/profiles/manifests.ts";
import { apt } from "../../src/profiles/apt.ts";
import { yum } from "../../src/profiles/yum.ts";
import { fieldAt } from "../../src/config/schema.ts";

describe.each(PROFILES.map((p) => [p.name, p] as const))("profile %s", (name, profile) => {
  test("embeds the manifests of its own name, as they are in the repository", () => {
    expect(embeddedManifests(profile)).toEqual(loadManifests(name));
  });
  test("its package manager installs the format its packages come in", () => {
    expect(profile.packageManager.format).toBe(embeddedManifests(profile).packages.format);
  });
});

test("every list of profiles is the registry's", () => {
  expect(PROFILE_NAMES).toEqual(["el7-k8s1.22", "el9", "debian12"]);
  expect(fieldAt("bundle.profile")!.values).toEqual(PROFILE_NAMES);
  expect(findProfile("el8")).toBeUndefined();
});

describe("a node fits exactly the profile built for its OS", () => {
  const nodes: [string, string, string, string | undefined][] = [
    ["centos", "7", "rhel fedora", "el7-k8s1.22"],
    ["rhel", "7.9", "fedora", "el7-k8s1.22"],
    ["rocky", "9.4", "rhel centos fedora", "el9"],
    ["almalinux", "9.3", "rhel centos fedora", "el9"],
    ["debian", "12", "", "debian12"],
    ["rocky", "8.9", "rhel centos fedora", undefined],
    ["debian", "11", "", undefined],
    ["ubuntu", "22.04", "debian", undefined],
  ];
  test.each(nodes)("%s %s", (osId, osVersion, osLike, want) => {
    const fits: string[] = PROFILES.filter((p) => p.fits({ osId, osVersion, osLike })).map((p) => p.name);
    expect(fits).toEqual(want ? [want] : []);
  });
});

test("chrony: Debian's unit is chrony with its config in /etc/chrony/, Enterprise Linux's chronyd with /etc/chrony.conf", () => {
  const layouts = Object.fromEntries(PROFILES.map((p) => [p.name, p.chrony]));
  expect(layouts).toEqual({
    "el7-k8s1.22": { conf: "/etc/chrony.conf", unit: "chronyd.service" },
    el9: { conf: "/etc/chrony.conf", unit: "chronyd.service" },
    debian12: { conf: "/etc/chrony/chrony.conf", unit: "chrony.service" },
  });
});

describe("package managers: the commands the packages phase runs", () => {
  const pkgs = [{ name: "kubeadm", version: "1.22.2-00" }, { name: "odd name", version: "1:2" }];
  test("apt reads the depot's list alone and installs the pinned versions", () => {
    const only = "-o Dir::Etc::sourcelist=/etc/apt/sources.list.d/k8s-ha-offline.list -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 -o DPkg::Lock::Timeout=300";
    expect(apt.install(pkgs).text).toBe(
      `export DEBIAN_FRONTEND=noninteractive; dpkg --configure -a --force-confdef --force-confold >/dev/null 2>&1; apt-get ${only} update -qq && ` +
        `apt-get ${only} install -y -qq --no-install-recommends --allow-downgrades kubeadm=1.22.2-00 'odd name=1:2'`,
    );
    expect(apt.installed(["kubeadm", "a b"]).text).toBe(
      "dpkg-query -W -f='${Package} ${Version} ${db:Status-Abbrev}\\n' kubeadm 'a b' 2>/dev/null | awk '$3 ~ /^ii/ {print $1, $2}'",
    );
    expect(apt.repoFiles(["https://10.0.0.1:5000"], "debian12")[0]!.path).toBe("/etc/apt/sources.list.d/k8s-ha-offline.list");
  });
  test("yum enables the depot's repository alone and installs the pinned versions", () => {
    expect(yum.install(pkgs).text).toBe("yum --disablerepo='*' --enablerepo=k8s-ha-offline install -y kubeadm-1.22.2-00 'odd name-1:2'");
    expect(yum.installed(["kubeadm"]).text).toBe("rpm -q --qf '%{NAME} %|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}\\n' kubeadm 2>/dev/null | grep -v 'not installed'");
    expect(yum.repoFiles(["https://10.0.0.1:5000"], "el9")[0]!.path).toBe("/etc/yum.repos.d/k8s-ha-offline.repo");
  });
});
