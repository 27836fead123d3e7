import { VERSION } from "../../version.ts";
import { embeddedLock } from "../../depot/lock.ts";

export default async function version(): Promise<number> {
  const lock = embeddedLock();
  console.log(`k8s-ha-offline ${VERSION} (bun ${Bun.version}, ${process.platform}/${process.arch})`);
  console.log(lock ? `embedded bundle lock: profile ${lock.profile}, ${lock.files.length} files` : "embedded bundle lock: none (built without a bundle)");
  return 0;
}
