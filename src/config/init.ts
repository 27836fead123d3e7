// The commented cluster.yaml that `init` writes. The template is embedded in the compiled binary
// (Bun inlines `type: "text"` imports), so init works with no source tree beside the executable.
import template from "../../assets/cluster.yaml" with { type: "text" };

export function renderInitConfig(): string {
  return String(template);
}
