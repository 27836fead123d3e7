import { VERSION } from "../../version.ts";
import { embeddedLock } from "../../depot/lock.ts";
import { embeddedProfile, embeddedProfileNames } from "../../depot/embedded-manifests.ts";

export default async function version(): Promise<number> {
  const lock = embeddedLock();
  console.log(`k8s-ha-offline ${VERSION} (bun ${Bun.version}, ${process.platform}/${process.arch})`);
  console.log(lock ? `embedded bundle lock: profile ${lock.profile}, Kubernetes ${lock.kubernetesVersion}, ${lock.files.length} files, ${lock.images.length} images` : "embedded bundle lock: none (built without a bundle)");
  for (const name of embeddedProfileNames()) {
    const p = embeddedProfile(name)!;
    console.log(`profile ${name}: ${p.packages.os}, Kubernetes ${p.packages.kubernetesVersion}, ${p.packages.packages.length} packages, ${p.files.files.length} tarballs, ${p.images.images.length} images`);
  }
  return 0;
}
