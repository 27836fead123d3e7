// What the Enterprise Linux profiles share: RHEL and its rebuilds of one major release, yum, chronyd.
import { isRhelLike, majorVersion } from "./os-release.ts";
import { yum } from "./yum.ts";
import type { ManifestTexts, OsProfile } from "./profile.ts";

export function enterpriseLinux<Name extends string>(name: Name, major: number, manifests: ManifestTexts): OsProfile<Name> {
  return {
    name,
    manifests,
    fits: (os) => isRhelLike(os) && majorVersion(os) === major,
    packageManager: yum,
    chrony: { conf: "/etc/chrony.conf", unit: "chronyd.service" },
  };
}
