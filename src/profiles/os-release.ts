// Reading a node's /etc/os-release: shared by the profiles' fits() and preflight's "supported at all".
import type { OsRelease } from "./profile.ts";

const RHEL_LIKE = ["centos", "rhel", "rocky", "almalinux", "ol", "openEuler", "kylin"];

/** VERSION_ID's major number (7 of "7.9", 12 of "12"). */
export const majorVersion = (os: OsRelease) => Number(os.osVersion.split(".")[0]);

/** Red Hat Enterprise Linux or a rebuild of it (CentOS, Rocky, Alma, Oracle, openEuler, Kylin). */
export const isRhelLike = (os: OsRelease) => RHEL_LIKE.includes(os.osId) || /rhel|centos|fedora/.test(os.osLike);
