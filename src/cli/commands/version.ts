import { VERSION } from "../../version.ts";
import { embeddedLockSummary } from "../../depot/lock.ts";
import { profileSummaries } from "../../profiles/summary.ts" with { type: "macro" };

export default async function version(): Promise<number> {
  const lock = embeddedLockSummary();
  console.log(`k8s-ha-offline ${VERSION} (bun ${Bun.version}, ${process.platform}/${process.arch})`);
  console.log(lock ? `embedded bundle lock: profile ${lock.profile}, Kubernetes ${lock.kubernetesVersion}, ${lock.files} files, ${lock.images} images` : "embedded bundle lock: none (built without a bundle)");
  for (const p of profileSummaries()) console.log(`profile ${p.name}: ${p.os}, Kubernetes ${p.kubernetesVersion}, ${p.packages} packages, ${p.tarballs} tarballs, ${p.images} images`);
  return 0;
}
