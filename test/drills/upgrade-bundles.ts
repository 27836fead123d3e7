// The bundles the upgrade drill carries besides the main one (dist/bundle-debian12, Kubernetes 1.22.2):
// build.ts bundle --profile debian12 --kubernetes V --out dist/bundle-debian12-<minor> writes the bundle
// and, beside it, dist/k8s-ha-offline-debian12-<minor> (the binary carrying its lock). run-tests.ts
// builds them before the drills; the drill copies them to master1.
import { join } from "node:path";

const DIST = join(import.meta.dir, "..", "..", "dist");

/** [Kubernetes version, bundle directory]: the next minor (the upgrade) and the one after it (a skipped minor, refused). */
export const UPGRADE_BUNDLES: [string, string][] = [
  ["1.23.17", join(DIST, "bundle-debian12-1.23")],
  ["1.24.17", join(DIST, "bundle-debian12-1.24")],
];

/** The binary build.ts writes beside a bundle directory. */
export const binaryBeside = (bundleDir: string) => join(DIST, `k8s-ha-offline-${bundleDir.split("/").pop()!.replace(/^bundle-/, "")}`);
