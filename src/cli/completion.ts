// Shell completion for bash and zsh, generated from the command table in main.ts so a new command or
// flag completes without anyone editing a script.

export interface CompletionSpec {
  commands: { name: string; description: string; flags: string[] }[];
  globalFlags: string[];
}

const PHASE_FLAGS = new Set(["--only", "--from"]);
const FILE_FLAGS = new Set(["--config", "-c", "--log-file", "--bundle", "--output", "-o", "--tls-cert", "--tls-key", "--repo-key"]);

export function bashCompletion(spec: CompletionSpec, phases: string[]): string {
  const cmds = spec.commands.map((c) => c.name).join(" ");
  const cases = spec.commands.map((c) => `    ${c.name}) flags="${[...c.flags, ...spec.globalFlags].join(" ")}" ;;`).join("\n");
  return `# bash completion for k8s-ha-offline (k8s-ha-offline completion bash)
_k8s_ha_offline() {
  local cur prev cmd flags i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  cmd=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    case "\${COMP_WORDS[i]}" in -*) ;; *) cmd="\${COMP_WORDS[i]}"; break ;; esac
  done
  case "$prev" in
    ${[...PHASE_FLAGS].join("|")}) COMPREPLY=($(compgen -W "${phases.join(" ")}" -- "$cur")); return ;;
    ${[...FILE_FLAGS].join("|")}) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  if [ -z "$cmd" ]; then
    COMPREPLY=($(compgen -W "${cmds} ${spec.globalFlags.join(" ")}" -- "$cur"))
    return
  fi
  case "$cmd" in
${cases}
    completion) flags="bash zsh" ;;
    *) flags="${spec.globalFlags.join(" ")}" ;;
  esac
  COMPREPLY=($(compgen -W "$flags" -- "$cur"))
}
complete -o default -F _k8s_ha_offline k8s-ha-offline
`;
}

const zq = (s: string) => s.replace(/[[\]:'\\]/g, (c) => (c === "'" ? "'\\''" : `\\${c}`));

export function zshCompletion(spec: CompletionSpec, phases: string[]): string {
  const cmds = spec.commands.map((c) => `    '${c.name}:${zq(c.description.slice(0, 70))}'`).join("\n");
  const cases = spec.commands.map((c) => `    ${c.name}) _arguments ${[...c.flags, ...spec.globalFlags].map((f) => `'${f}[]${PHASE_FLAGS.has(f) ? `:phase:(${phases.join(" ")})` : FILE_FLAGS.has(f) ? ":file:_files" : ""}'`).join(" ")} ;;`).join("\n");
  return `#compdef k8s-ha-offline
# zsh completion for k8s-ha-offline (k8s-ha-offline completion zsh > "\${fpath[1]}/_k8s-ha-offline")
_k8s_ha_offline() {
  local -a commands
  commands=(
${cmds}
  )
  if (( CURRENT == 2 )); then
    _describe command commands
    return
  fi
  case "$words[2]" in
${cases}
    completion) _values shell bash zsh ;;
  esac
}
compdef _k8s_ha_offline k8s-ha-offline
`;
}
