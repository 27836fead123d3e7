// Debian 12 (bookworm): the lab's profile, fully pinned from Debian's own archive.
import packages from "../../rpms/debian12.yaml" with { type: "text" };
import files from "../../rpms/debian12.files.yaml" with { type: "text" };
import images from "../../images/debian12.yaml" with { type: "text" };
import { majorVersion } from "./os-release.ts";
import { apt } from "./apt.ts";
import type { OsProfile } from "./profile.ts";

export const debian12: OsProfile<"debian12"> = {
  name: "debian12",
  manifests: { packages, files, images },
  fits: (os) => os.osId === "debian" && majorVersion(os) === 12,
  packageManager: apt,
  // Debian's package names the unit chrony (chronyd elsewhere) and keeps its config in a directory.
  chrony: { conf: "/etc/chrony/chrony.conf", unit: "chrony.service" },
};
