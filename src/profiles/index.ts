// THE profile registry: every list of profiles (the config schema's bundle.profile values, preflight's
// OS match, the manifests the executable carries, `version`) is read from here. Adding an OS is one
// module like ./el9.ts plus its manifests under rpms/ and images/, and one line below.
import { el7 } from "./el7.ts";
import { el9 } from "./el9.ts";
import { debian12 } from "./debian12.ts";
import type { OsProfile } from "./profile.ts";

/** In the order the config reference and error messages list them. */
export const PROFILES = [el7, el9, debian12] as const;

export type ProfileName = (typeof PROFILES)[number]["name"];
export const PROFILE_NAMES: readonly ProfileName[] = PROFILES.map((p) => p.name);

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

/** The profile called `name`, or undefined when there is none. */
export function findProfile(name: string): OsProfile<ProfileName> | undefined {
  return PROFILES.find((p) => p.name === name);
}

export type { OsProfile } from "./profile.ts";
