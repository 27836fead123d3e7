// Every profile's manifests (packages, tarballs, images) travel inside the executable: the nodes are
// checked against exact versions (epochs included, which file names drop) without the source tree,
// and `version` can say what each profile holds.
import YAML from "yaml";
import type { PackageManifest, FilesManifest, ImageManifest } from "./profiles.ts";
import debian12Packages from "../../rpms/debian12.yaml" with { type: "text" };
import debian12Files from "../../rpms/debian12.files.yaml" with { type: "text" };
import debian12Images from "../../images/debian12.yaml" with { type: "text" };
import el7Packages from "../../rpms/el7-k8s1.22.yaml" with { type: "text" };
import el7Files from "../../rpms/el7-k8s1.22.files.yaml" with { type: "text" };
import el7Images from "../../images/el7-k8s1.22.yaml" with { type: "text" };
import el9Packages from "../../rpms/el9.yaml" with { type: "text" };
import el9Files from "../../rpms/el9.files.yaml" with { type: "text" };
import el9Images from "../../images/el9.yaml" with { type: "text" };

const TEXTS: Record<string, { packages: string; files: string; images: string }> = {
  debian12: { packages: debian12Packages, files: debian12Files, images: debian12Images },
  "el7-k8s1.22": { packages: el7Packages, files: el7Files, images: el7Images },
  el9: { packages: el9Packages, files: el9Files, images: el9Images },
};

export interface EmbeddedProfile {
  packages: PackageManifest;
  files: FilesManifest;
  images: ImageManifest;
}

export function embeddedProfile(profile: string): EmbeddedProfile | undefined {
  const t = TEXTS[profile];
  return t ? { packages: YAML.parse(t.packages), files: YAML.parse(t.files), images: YAML.parse(t.images) } : undefined;
}

export const embeddedPackageManifest = (profile: string) => embeddedProfile(profile)?.packages;
export const embeddedProfileNames = () => Object.keys(TEXTS);
