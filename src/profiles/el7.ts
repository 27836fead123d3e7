// CentOS/RHEL 7 with Kubernetes 1.22: the versions of the reference deployment (the seed: the Chinese
// kubeadm HA guide in ../shared/seed/), docker or containerd.
import packages from "../../rpms/el7-k8s1.22.yaml" with { type: "text" };
import files from "../../rpms/el7-k8s1.22.files.yaml" with { type: "text" };
import images from "../../images/el7-k8s1.22.yaml" with { type: "text" };
import { EL_CHRONY, enterpriseLinux } from "./el.ts";
import { yum } from "./yum.ts";
import type { OsProfile } from "./profile.ts";

export const el7: OsProfile<"el7-k8s1.22"> = {
  name: "el7-k8s1.22",
  manifests: { packages, files, images },
  fits: enterpriseLinux(7),
  packageManager: yum,
  chrony: EL_CHRONY,
};
