// CentOS/RHEL 7 with Kubernetes 1.22: the versions of the reference deployment (the seed: the Chinese
// kubeadm HA guide in ../shared/seed/), docker or containerd.
import packages from "../../rpms/el7-k8s1.22.yaml" with { type: "text" };
import files from "../../rpms/el7-k8s1.22.files.yaml" with { type: "text" };
import images from "../../images/el7-k8s1.22.yaml" with { type: "text" };
import { enterpriseLinux } from "./el.ts";

export const el7 = enterpriseLinux("el7-k8s1.22", 7, { packages, files, images });
