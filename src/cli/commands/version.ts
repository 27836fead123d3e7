import { VERSION } from "../../version.ts";
import { embeddedLock } from "../../depot/lock.ts";
import { PROFILES } from "../../profiles/index.ts";
import { embeddedManifests } from "../../profiles/manifests.ts";

export default async function version(): Promise<number> {
  const lock = embeddedLock();
  console.log(`k8s-ha-offline ${VERSION} (bun ${Bun.version}, ${process.platform}/${process.arch})`);
  console.log(lock ? `embedded bundle lock: profile ${lock.profile}, Kubernetes ${lock.kubernetesVersion}, ${lock.files.length} files, ${lock.images.length} images` : "embedded bundle lock: none (built without a bundle)");
  for (const profile of PROFILES) {
    const p = embeddedManifests(profile);
    console.log(`profile ${profile.name}: ${p.packages.os}, Kubernetes ${p.packages.kubernetesVersion}, ${p.packages.packages.length} packages, ${p.files.files.length} tarballs, ${p.images.images.length} images`);
  }
  return 0;
}
