// What the Enterprise Linux profiles share: RHEL and its rebuilds, yum, chronyd.
import { isRhelLike, majorVersion } from "./os-release.ts";
import type { ChronyLayout, OsRelease } from "./profile.ts";

/** A RHEL-like node of this major release. */
export const enterpriseLinux = (major: number) => (os: OsRelease) => isRhelLike(os) && majorVersion(os) === major;

export const EL_CHRONY: ChronyLayout = { conf: "/etc/chrony.conf", unit: "chronyd.service" };
