// What an OS profile declares (in the spirit of k0sctl's configurer per OS): the bundle it is assembled
// from, the nodes it fits, and where the OS keeps what the phases configure. One module per profile
// (like ./el9.ts), gathered in ./index.ts; no other code lists the profiles.
import type { ShellCommand } from "../util/sh.ts";

/** The three manifests as text (imported with { type: "text" }, so `bun build --compile` embeds them). */
export interface ManifestTexts {
  /** rpms/<profile>.yaml: the pinned packages. */
  packages: string;
  /** rpms/<profile>.files.yaml: the runtime, etcd, CNI and Kubernetes tarballs. */
  files: string;
  /** images/<profile>.yaml: the container images. */
  images: string;
}

/** A node's /etc/os-release, as preflight reads it (ID, VERSION_ID, ID_LIKE). */
export interface OsRelease {
  osId: string;
  osVersion: string;
  osLike: string;
}

export type PackageFormat = "rpm" | "deb";

/** A package at the exact version to install. */
export interface PinnedPackage {
  name: string;
  /** [epoch:]version-release (rpm) or the Debian version. */
  version: string;
}

/** A file the phases write on a node as is. */
export interface RepoFile {
  path: string;
  content: string;
}

/** How a node installs packages, and the repository files that point it at the depots. */
export interface PackageManager {
  /** The package files it installs (the lock's file kind). */
  format: PackageFormat;
  /**
   * The repository file(s) naming the depots' repo/<profile>/ as the only source, tried in the order of
   * depotUrls (the depots as this node reaches them), with whatever the package manager needs to verify
   * them (e.g. apt's CA setting). Written together by the packages phase.
   */
  repoFiles(depotUrls: readonly string[], profile: string): RepoFile[];
  /** Prints "name version" for each of `names` that is installed (nothing for the others). */
  installed(names: readonly string[]): ShellCommand;
  /** Installs exactly these versions from the depot repository, and from nowhere else. */
  install(pkgs: readonly PinnedPackage[]): ShellCommand;
}

/** Where chrony keeps its configuration and what its service is called on this OS. */
export interface ChronyLayout {
  conf: string;
  unit: string;
}

export interface OsProfile<Name extends string = string> {
  /** bundle.profile in cluster.yaml, and the <profile> of the manifests' file names. */
  name: Name;
  manifests: ManifestTexts;
  /** Whether a node runs the OS this profile's packages were built for. */
  fits(os: OsRelease): boolean;
  packageManager: PackageManager;
  chrony: ChronyLayout;
}
