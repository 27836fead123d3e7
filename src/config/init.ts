// The commented cluster.yaml that `init` writes. The template is embedded in the compiled binary
// (Bun inlines `type: "text"` imports), so init works with no source tree beside the executable.
import template from "../../assets/cluster.yaml" with { type: "text" };

/** What the binary's embedded lock says about its bundle (src/depot/lock.ts BundleLock, the part init uses). */
export interface InitBundle {
  profile: string;
  kubernetesVersion?: string;
  /** The bundle's payload paths (files/docker-20.10.24.tgz, images/…): what runtimes and CNIs it carries. */
  files?: readonly { path: string }[];
}

/** Choices `init` takes beyond the bundle's own (the seed itself runs docker: `init --runtime docker`). */
export interface InitChoices {
  runtime?: string;
}

/** Why a runtime cannot be written for this bundle, or null when it can. */
export function runtimeRefusal(runtime: string, bundle?: InitBundle | null): string | null {
  if (runtime !== "containerd" && runtime !== "docker") return `unknown runtime "${runtime}"`;
  if (runtime === "containerd" || !bundle) return null;
  const minor = Number(/^1\.(\d+)\./.exec(bundle.kubernetesVersion ?? "")?.[1] ?? 0);
  if (minor >= 24) return `docker cannot run Kubernetes ${bundle.kubernetesVersion}: dockershim was removed in 1.24`;
  if (bundle.files && !bundle.files.some((f) => /^files\/docker-[\d.]+\.tgz$/.test(f.path))) return `the ${bundle.profile} bundle carries no docker tarball`;
  return null;
}

/** Replaces the value of one `key: value   # comment` line of the template, keeping the comment where it was. */
function setValue(text: string, key: string, value: string): string {
  const re = new RegExp(`^(\\s*${key}: )(\\S+)( *)(#.*)?$`, "m");
  const m = re.exec(text);
  if (!m) throw new Error(`assets/cluster.yaml has no "${key}:" line`);
  // Keep the comment column when the new value fits in the old padding.
  const pad = Math.max(1, m[2]!.length + m[3]!.length - value.length);
  return text.replace(re, `$1${value}${m[4] ? `${" ".repeat(pad)}${m[4]}` : ""}`);
}

/**
 * The template as is (no bundle), or filled from the bundle this binary carries: its profile, its
 * Kubernetes version and the bundle directory name the build writes (./bundle-<profile>), so a
 * debian12 binary never writes profile el7-k8s1.22.
 */
export function renderInitConfig(bundle?: InitBundle | null, choices: InitChoices = {}): string {
  let text = String(template);
  if (choices.runtime) {
    const why = runtimeRefusal(choices.runtime, bundle);
    if (why) throw new Error(why);
    text = setValue(text, "runtime", choices.runtime);
  }
  if (!bundle) return text;
  text = setValue(text, "profile", bundle.profile);
  text = setValue(text, "dir", `./bundle-${bundle.profile}`);
  if (bundle.kubernetesVersion) text = setValue(text, "version", bundle.kubernetesVersion);
  return text;
}
