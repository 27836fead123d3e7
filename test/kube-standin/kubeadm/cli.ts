// `kubeadm SUBCOMMAND ...` of the stand-in.
import { fail } from "../lib/errors.ts";
import { init } from "./init.ts";
import { join } from "./join.ts";
import { upgrade } from "./upgrade.ts";
import { certs, configImages, reset, token, uploadCertsPhase, version } from "./admin.ts";

export async function kubeadm(argv: string[]): Promise<object> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case "version": return version(rest);
    case "init":
      if (rest[0] === "phase") {
        if (rest[1] !== "upload-certs") fail(`the stand-in implements "kubeadm init phase upload-certs" only (got "${rest[1] ?? ""}")`);
        return uploadCertsPhase(rest.slice(2));
      }
      return init(rest);
    case "join": return join(rest);
    case "token": return token(rest);
    case "reset": return reset(rest);
    case "certs": return certs(rest);
    case "config": return configImages(rest);
    case "upgrade": return upgrade(rest);
    default: return fail(`unknown command "${sub ?? ""}" for "kubeadm"\nRun 'kubeadm --help' for usage.`);
  }
}
