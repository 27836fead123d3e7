// RHEL 9 and its rebuilds (Rocky, Alma) with a current Kubernetes.
import packages from "../../rpms/el9.yaml" with { type: "text" };
import files from "../../rpms/el9.files.yaml" with { type: "text" };
import images from "../../images/el9.yaml" with { type: "text" };
import { EL_CHRONY, enterpriseLinux } from "./el.ts";
import { yum } from "./yum.ts";
import type { OsProfile } from "./profile.ts";

export const el9: OsProfile<"el9"> = {
  name: "el9",
  manifests: { packages, files, images },
  fits: enterpriseLinux(9),
  packageManager: yum,
  chrony: EL_CHRONY,
};
