// What `version` says about each profile the binary carries. A Bun macro (imported with
// `with { type: "macro" }`): it runs when the binary is built (and when the source is transpiled),
// so `version` prints these figures without parsing and checking every profile's manifests at
// start-up (3 ms of its 4 ms over a bare `bun -e 0`). Running it at build time also checks them:
// a broken manifest fails the build.
import { PROFILES } from "./index.ts";
import { embeddedManifests } from "./manifests.ts";

export interface ProfileSummary {
  name: string;
  os: string;
  kubernetesVersion: string;
  packages: number;
  tarballs: number;
  images: number;
}

export function profileSummaries(): ProfileSummary[] {
  return PROFILES.map((profile) => {
    const m = embeddedManifests(profile);
    return { name: profile.name, os: m.packages.os, kubernetesVersion: m.packages.kubernetesVersion, packages: m.packages.packages.length, tarballs: m.files.files.length, images: m.images.images.length };
  });
}
