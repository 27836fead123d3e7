// The command table: every command, its flags, examples and help sections, registered with cac. Loaded
// only by a command line that needs it (main.ts answers --help and version without it; the help texts
// are made from this table when the binary is built, see help-texts.ts).
import { cac } from "cac";
import { VERSION } from "../version.ts";
import { UsageError } from "../util/errors.ts";
import { exitCodesText } from "./commands-meta.ts";

// One rule for every command (src/cli/run-inputs.ts).
const BUNDLE_FLAG = "Bundle directory (default: bundle.dir from the config, else ./bundle-<profile> of this binary's lock)";

type Action = (...args: any[]) => Promise<number | void>;
const lazy = (load: () => Promise<{ default: Action }>): Action => async (...args) => (await load()).default(...args);

export function buildCli(argv?: readonly string[]) {
  const cli = cac("k8s-ha-offline");
  // A command's options and examples cost start-up CPU (cac parses every option's name, ~100 of them,
  // enough for the JIT to compile its helpers) and matter only when that command is named: its help,
  // its run, the hint for a mistyped option. main() passes argv, so the commands it does not name are
  // registered bare (the help texts are made the same way at build time, help-texts.ts); without argv
  // (tests) and for `completion`, every command in full.
  const detailed = (name: string) => !argv || argv.includes(name) || argv.includes("completion");
  const command = (raw: string, description: string) => {
    const c = cli.command(raw, description);
    if (detailed(c.name)) return c;
    const bare = Object.create(c) as typeof c;
    bare.option = () => bare;
    bare.example = () => bare;
    bare.action = (fn) => (c.action(fn), bare);
    return bare;
  };
  cli
    .option("-c, --config <file>", "Cluster config file (without ./cluster.yaml: the copy every master keeps, /var/lib/k8s-ha-offline/cluster.yaml)", { default: "cluster.yaml" })
    .option("--dry-run", "Print what would be done (phases x hosts) and change nothing")
    .option("-y, --yes", "Do not ask for confirmation")
    .option("--log-file <file>", "Write a full transcript (every command on every node) here (default: <stateDir>/logs/<command>-<time>.log)")
    .option("--keep-logs <n>", "Keep the newest N default logs of each command, delete older ones (default: $K8S_HA_KEEP_LOGS, else 20)")
    .option("-v, --verbose", "More detail on the terminal")
    .option("--insecure-skip-host-key-check", "Accept ssh.hostKeyPolicy: off together with a password (refused otherwise); see docs/ssh-host-keys.md");

  command("init", "Write a commented cluster.yaml for the reference topology (3 masters + 1 worker) to edit")
    .option("-o, --output <file>", "Where to write it", { default: "cluster.yaml" })
    .option("--force", "Overwrite an existing file")
    .option("--runtime <name>", "containerd (default) or docker, the seed's own runtime (Kubernetes 1.22/1.23, dockershim)")
    .example("  k8s-ha-offline init            # writes ./cluster.yaml")
    .example("  k8s-ha-offline init --runtime docker   # the seed as it is: docker 20.10 + dockershim")
    .example("  k8s-ha-offline init -o /root/prod.yaml")
    .action(lazy(() => import("./commands/init.ts")));

  command("install", "Install the whole HA cluster from the bundle, resuming where a previous run stopped")
    .option("--bundle <dir>", BUNDLE_FLAG)
    .option("--only <phases>", "Run only these phases (comma-separated)")
    .option("--from <phase>", "Start at this phase")
    .option("--ignore-preflight-errors <names>", "Comma-separated preflight checks to downgrade to warnings (or 'all')")
    .option("--concurrency <n>", "Hosts worked on at once", { default: 16 })
    .option("--timings <file>", "Write the run's timeline (each phase on each node: start, check, run, result) as JSON and print its table with the critical path")
    .example("  k8s-ha-offline install -c cluster.yaml --dry-run   # show the plan")
    .example("  k8s-ha-offline install -c cluster.yaml --yes")
    .example("  k8s-ha-offline install --only preflight,os,packages,runtime,etcd")
    .action(lazy(() => import("./commands/install.ts")));

  command("preflight", "Check every node without changing anything (OS, resources, swap, ports, clocks, names)")
    .option("--ignore-preflight-errors <names>", "Comma-separated checks to downgrade to warnings (or 'all')")
    .option("--output <format>", "table | json | yaml", { default: "table" })
    .example("  k8s-ha-offline preflight -c cluster.yaml")
    .action(lazy(() => import("./commands/preflight.ts")));

  command("check-certs", "List every certificate on every control-plane and etcd node with its expiry")
    .option("--warn-days <n>", "Warn when a certificate expires within N days", { default: 30 })
    .option("--output <format>", "table | json | yaml | prometheus (node_exporter textfile collector)", { default: "table" })
    .example("  k8s-ha-offline check-certs                 # exit 0 ok, 1 within --warn-days, 2 expired/broken, 3 could not check")
    .example("  k8s-ha-offline check-certs --output prometheus > /var/lib/node_exporter/textfile/k8s_certs.prom")
    .example("  k8s-ha-offline check-certs --output json --warn-days 60")
    .action(lazy(() => import("./commands/check-certs.ts")));

  command("renew-certs", "Back up, then renew the etcd and Kubernetes certificates node by node (never without quorum)")
    .option("--etcd", "Renew the etcd member and client certificates from the installer's etcd CA")
    .option("--kubernetes", "Renew the Kubernetes certificates (kubeadm certs renew all) on every master")
    .example("  k8s-ha-offline renew-certs --dry-run        # the steps, in order; nothing changed")
    .example("  k8s-ha-offline renew-certs --yes           # both; neither flag means both")
    .example("  k8s-ha-offline renew-certs --etcd --yes")
    .action(lazy(() => import("./commands/renew-certs.ts")));

  command("upgrade <action>", "plan | apply: move the cluster to the Kubernetes version of a new bundle (run the binary built with it)")
    .option("--bundle <dir>", "The new bundle's directory (required)")
    .option("--max-unavailable <n>", "Workers upgraded at once (drained together)", { default: 1 })
    .option("--cert-window-days <n>", "Refuse when a certificate expires within this many days", { default: 7 })
    .example("  ./k8s-ha-offline-new upgrade plan --bundle ./bundle-debian12-1.23      # what changes where, in which order; exit 2/1 when refused")
    .example("  ./k8s-ha-offline-new upgrade apply --bundle ./bundle-debian12-1.23 --yes --max-unavailable 2")
    .action(lazy(() => import("./commands/upgrade.ts")));

  command("status", "One table of the installed cluster: nodes, services, etcd health, VIP holder, depot, Kubernetes nodes")
    .option("--output <format>", "table | json | yaml", { default: "table" })
    .example("  k8s-ha-offline status                 # exit 0 healthy, 1 degraded (the table says what), 3 not installed")
    .example("  k8s-ha-offline status --output json")
    .action(lazy(() => import("./commands/status.ts")));

  command("verify", "Drills against the installed cluster: --failover stops haproxy, then keepalived, on the VIP holder and measures the VIP move")
    .option("--failover", "Run the failover drill (stops and restarts services on the VIP holder; everything is started again at the end)")
    .option("--budget-haproxy <s>", "Seconds the VIP may take to move after haproxy stops (a return: 3 s more, keepalived's hold-off)", { default: 10 })
    .option("--budget-keepalived <s>", "Seconds the VIP may take to move after keepalived stops (a return: 3 s more, keepalived's hold-off)", { default: 4 })
    .option("--requests-per-second <n>", "Rate of TLS requests to https://VIP:port/readyz during the drill", { default: 20 })
    .example("  k8s-ha-offline verify --failover --yes     # table: event, VIP holder before → after, seconds, failed requests")
    .example("  k8s-ha-offline verify --failover --budget-haproxy 6 --budget-keepalived 3")
    .action(lazy(() => import("./commands/verify.ts")));

  command("verify-bundle", "Check every payload file of the bundle against the lock embedded in this binary")
    .option("--bundle <dir>", BUNDLE_FLAG)
    .example("  k8s-ha-offline verify-bundle --bundle ./bundle-el7-k8s1.22")
    .action(lazy(() => import("./commands/verify-bundle.ts")));

  command("serve", "Serve the bundle: OCI registry (/v2/), package repository (/repo/) and files (/files/)")
    .option("--bundle <dir>", BUNDLE_FLAG)
    .option("--listen <addr:port>", "Address and port to listen on (default: depot.address, depot.port from the config)")
    .option("--tls-cert <file>", "Serve HTTPS only, with this certificate (PEM); needs --tls-key. Without both: plain HTTP, for local use only (nodes refuse it)")
    .option("--tls-key <file>", "The serving certificate's private key (PEM)")
    .option("--repo-key <file>", "Sign the package repositories with this OpenPGP key (armored): InRelease, Release.gpg, repomd.xml.asc")
    .example("  k8s-ha-offline serve --bundle ./bundle-debian12 --listen 127.0.0.1:5000")
    .action(lazy(() => import("./commands/serve.ts")));

  command("add-node <name>", "Add a node written into cluster.yaml: the install phases run, existing nodes report nothing to do")
    .option("--role <role>", "worker | control-plane (checked against the config)")
    .option("--bundle <dir>", BUNDLE_FLAG)
    .example("  k8s-ha-offline add-node node2 --role worker     # after adding node2 under hosts: in cluster.yaml")
    .action(lazy(() => import("./commands/add-node.ts")));

  command("replace-node <name>", "From a surviving master: remove a dead node from etcd and Kubernetes, then install it fresh (same address and SSH key)")
    .option("--force", "Replace the node even though it is alive and healthy")
    .option("--bundle <dir>", BUNDLE_FLAG)
    .example("  k8s-ha-offline replace-node master1 --yes     # on master2, after master1's disk was lost and the machine is back")
    .action(lazy(() => import("./commands/replace-node.ts")));

  command("remove-node <name>", "Drain and delete a node from the cluster and reset it (never an etcd member or master1)")
    .example("  k8s-ha-offline remove-node node2 --yes")
    .action(lazy(() => import("./commands/remove-node.ts")));

  command("backup", "Write one archive of the cluster (etcd snapshot, PKI with the CA keys, installer state, cluster.yaml); --verify checks one")
    .option("-o, --output <file>", "Archive to write (default: ./k8s-ha-offline-backup-<cluster>-<time>.tar[.enc])")
    .option("--passphrase-env <name>", "Encrypt (or decrypt) with the passphrase in this environment variable (scrypt + AES-256-GCM)")
    .option("--verify <file>", "Check an archive: manifest hashes, the etcd snapshot, its CAs against the running cluster's (exit 0/1)")
    .option("--schedule <when>", "hourly | daily: install a systemd timer on every master that backs it up into /var/lib/k8s-ha-offline-backups")
    .option("--keep <n>", "With --schedule (or -o DIR): keep the newest N backups")
    .option("--this-node", "Back up only what this master holds (what the timer runs)")
    .example("  k8s-ha-offline backup -o /root/prod.tar")
    .example("  BACKUP_PASS=... k8s-ha-offline backup --passphrase-env BACKUP_PASS")
    .example("  k8s-ha-offline backup --verify /root/prod.tar")
    .example("  k8s-ha-offline backup --schedule daily --keep 7")
    .action(lazy(() => import("./commands/backup.ts")));

  command("restore <file>", "Disaster recovery onto the same nodes: check the archive, restore etcd on every member, put back lost PKI, start the control planes")
    .option("--passphrase-env <name>", "The archive's passphrase is in this environment variable")
    .example("  k8s-ha-offline restore /root/prod.tar --yes")
    .action(lazy(() => import("./commands/restore.ts")));

  command("reset", "Undo the install: services, units, configs, data, certificates, /etc/hosts block, repository source, VIP, binary and state")
    .option("--node <name>", "Reset only this node (drained and deleted from Kubernetes first; never one whose loss breaks etcd quorum)")
    .option("--purge-packages", "Also remove the packages the install added (as recorded on each node)")
    .example("  k8s-ha-offline reset --dry-run             # what would be removed, per node")
    .example("  k8s-ha-offline reset --purge-packages --yes")
    .example("  k8s-ha-offline reset --node node1 --yes")
    .action(lazy(() => import("./commands/reset.ts")));

  command("phases", "List the install phases in order, with the hosts each applies to")
    .option("--output <format>", "table | json | yaml", { default: "table" })
    .action(lazy(() => import("./commands/phases.ts")));

  command("kubeconfig", "Print an admin kubeconfig for the API endpoint https://VIP:PORT (from /etc/kubernetes/admin.conf on master1)")
    .example("  k8s-ha-offline kubeconfig > admin.conf && chmod 600 admin.conf")
    .action(lazy(() => import("./commands/kubeconfig.ts")));

  command("completion <shell>", "Print a completion script for bash or zsh")
    .example("  k8s-ha-offline completion bash > /etc/bash_completion.d/k8s-ha-offline")
    .example("  k8s-ha-offline completion zsh > \"${fpath[1]}/_k8s-ha-offline\"")
    .action(async (shell: string) => {
      const { bashCompletion, zshCompletion } = await import("./completion.ts");
      const { PHASES } = await import("../phases/index.ts");
      const spec = completionSpec(cli);
      const phases = PHASES.map((p) => p.name);
      if (shell === "bash") process.stdout.write(bashCompletion(spec, phases));
      else if (shell === "zsh") process.stdout.write(zshCompletion(spec, phases));
      else throw new UsageError(`completion takes bash or zsh, got "${shell}"`);
      return 0;
    });

  command("version", "Print the version and what is embedded (profile, lock)").action(lazy(() => import("./commands/version.ts")));

  cli.help((sections) => {
    // One version string everywhere (the same as `version` and --version).
    if (sections[0] && !sections[0].title) sections[0] = { body: `k8s-ha-offline ${VERSION}` };
    const cmd = cli.matchedCommand;
    if (cmd && cmd.name) {
      // A command's own help: what it does first, its exit codes last.
      sections.splice(1, 0, { body: cmd.description });
      return [...sections, { title: "Exit codes", body: exitCodesText(cmd.name) }];
    }
    return [
      ...sections,
      {
        title: "Getting started",
        body: [
          "  k8s-ha-offline init                       # write cluster.yaml from this binary's bundle, then edit addresses, interface, VIP",
          "  k8s-ha-offline install --dry-run          # the plan and every problem found (bundle, keys, master1, SSH); nothing changed",
          "  k8s-ha-offline preflight                  # read-only checks on every node",
          "  k8s-ha-offline install --yes              # the whole cluster; re-run to resume after a failure",
          "  k8s-ha-offline check-certs                # every certificate on every node, by expiry",
        ].join("\n"),
      },
      { title: "Exit codes", body: exitCodesText() },
    ];
  });
  return cli;
}

const longFlags = (opts: readonly { rawName: string }[]) => opts.flatMap((o) => o.rawName.split(/[ ,]+/).filter((w) => w.startsWith("-")));

function completionSpec(cli: ReturnType<typeof buildCli>) {
  return {
    commands: cli.commands.filter((c) => c.name).map((c) => ({ name: c.name, description: c.description, flags: longFlags(c.options) })),
    globalFlags: [...longFlags(cli.globalCommand.options), "--help"].filter((f, i, a) => a.indexOf(f) === i),
  };
}

/** The names a user may type: commands, and the flags of one command (its own and the global ones). */
export function commandNames(cli: ReturnType<typeof buildCli>): string[] {
  return cli.commands.map((c) => c.name).filter(Boolean);
}

export function flagNames(cli: ReturnType<typeof buildCli>, command: string | undefined): string[] {
  const cmd = cli.commands.find((c) => c.name === command);
  return [...(cmd?.options ?? []), ...cli.globalCommand.options].flatMap((o) => o.names.filter((n) => n.length > 1).map((n) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`));
}
