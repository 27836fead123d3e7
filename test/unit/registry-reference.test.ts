// Image references of the bundle → the repository names the depot serves them under.
import { describe, expect, test } from "bun:test";
import { isWellFormedDigest, parseImageRef, servedNames } from "../../src/depot/registry/reference.ts";
import { parseRange } from "../../src/depot/http/range.ts";

describe("image references", () => {
  test("upstream path without the registry host, plus google_containers/<last element>", () => {
    const cases: [string, string[], string][] = [
      ["registry.k8s.io/kube-apiserver:v1.22.2", ["kube-apiserver", "google_containers/kube-apiserver"], "v1.22.2"],
      ["registry.k8s.io/coredns/coredns:v1.8.4", ["coredns/coredns", "google_containers/coredns"], "v1.8.4"],
      ["docker.io/flannel/flannel:v0.22.0", ["flannel/flannel", "google_containers/flannel"], "v0.22.0"],
      ["flannel/flannel:v0.22.0", ["flannel/flannel", "google_containers/flannel"], "v0.22.0"],
      ["busybox:1.36", ["library/busybox", "google_containers/busybox"], "1.36"],
      ["localhost:5000/team/app:1", ["team/app", "google_containers/app"], "1"],
      ["registry.aliyuncs.com/google_containers/pause:3.5", ["google_containers/pause"], "3.5"],
      ["quay.io/coreos/etcd:v3.4.9@sha256:" + "a".repeat(64), ["coreos/etcd", "google_containers/etcd"], "v3.4.9"],
    ];
    for (const [raw, names, tag] of cases) {
      const ref = parseImageRef(raw);
      expect({ raw, names: ref && servedNames(ref), tag: ref?.tag }).toEqual({ raw, names, tag });
    }
  });

  test("references without a tag, or with invalid parts, are rejected", () => {
    for (const raw of ["latest", "registry.k8s.io/pause", "localhost:5000/app", "Registry.k8s.io/Pause:3.5", "x:bad tag", "a:" + "t".repeat(129)]) {
      expect({ raw, ref: parseImageRef(raw) }).toEqual({ raw, ref: null });
    }
  });

  test("digest syntax: sha256 must be 64 lowercase hex", () => {
    expect(isWellFormedDigest("sha256:" + "0".repeat(64))).toBe(true);
    expect(isWellFormedDigest("sha512:" + "0".repeat(128))).toBe(true);
    for (const bad of ["sha256:" + "0".repeat(63), "sha256:" + "A".repeat(64), "sha256", ":x", "sha256:../../x"]) {
      expect({ bad, ok: isWellFormedDigest(bad) }).toEqual({ bad, ok: false });
    }
  });
});

describe("byte ranges", () => {
  test("single ranges, suffixes, open ends; unsatisfiable and ignored forms", () => {
    expect(parseRange("bytes=0-9", 100)).toEqual({ start: 0, end: 9 });
    expect(parseRange("bytes=90-200", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-10", 100)).toEqual({ start: 90, end: 99 });
    expect(parseRange("bytes=-500", 100)).toEqual({ start: 0, end: 99 });
    expect(parseRange("bytes=50-", 100)).toEqual({ start: 50, end: 99 });
    expect(parseRange("bytes=100-", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=-0", 100)).toBe("unsatisfiable");
    expect(parseRange("bytes=0-1,5-6", 100)).toBeNull(); // multi-range: whole body
    expect(parseRange("bytes=9-3", 100)).toBeNull();
    expect(parseRange("items=0-1", 100)).toBeNull();
    expect(parseRange(null, 100)).toBeNull();
  });
});
