// RHEL 9 and its rebuilds (Rocky, Alma) with a current Kubernetes.
import packages from "../../rpms/el9.yaml" with { type: "text" };
import files from "../../rpms/el9.files.yaml" with { type: "text" };
import images from "../../images/el9.yaml" with { type: "text" };
import { enterpriseLinux } from "./el.ts";

export const el9 = enterpriseLinux("el9", 9, { packages, files, images });
