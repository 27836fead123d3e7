// String formats the schema refers to by name: what each accepts, and the message + fix when it does not.
import { formatIPv4, networkOf, parseCidrLoose, parseIPv4 } from "./net.ts";
import { unsafePathProblem } from "./safe-path.ts";

export interface Problem {
  message: string;
  hint: string;
}

export interface Format {
  /** How the reference names the type. */
  what: string;
  check(value: string): Problem | undefined;
  /** Canonical form stored in the loaded config (e.g. version without a leading "v"). */
  normalize?(value: string): string;
}

/** Oldest and newest Kubernetes minor this installer knows how to set up. */
export const SUPPORTED_MINORS = { min: 22, max: 31 } as const;

const q = (v: string) => JSON.stringify(v);

const nonAscii = (v: string) => [...v].find((ch) => ch.charCodeAt(0) > 0x7e || ch.charCodeAt(0) < 0x20);

function dnsLabelProblem(v: string, what: string): Problem | undefined {
  const hint = `${what} use only lowercase a-z, 0-9 and "-", start and end with a letter or digit, at most 63 characters (RFC 1123)`;
  const bad = nonAscii(v);
  if (bad) return { message: `${q(v)} contains the character ${q(bad)}, which is not allowed in a DNS name`, hint };
  if (v.length > 63) return { message: `${q(v.slice(0, 20))}… is ${v.length} characters long`, hint };
  if (/[A-Z]/.test(v) && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v.toLowerCase()))
    return { message: `${q(v)} has uppercase letters`, hint: `write it in lowercase: ${v.toLowerCase()}` };
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) return { message: `${q(v)} is not a valid DNS label`, hint };
  return undefined;
}

const ipv4: Format = {
  what: "IPv4 address",
  check: (v) =>
    parseIPv4(v) === undefined
      ? { message: `${q(v)} is not an IPv4 address`, hint: "use a dotted quad like 192.168.217.22 (four numbers 0-255, no leading zeros)" }
      : undefined,
};

const cidr: Format = {
  what: "IPv4 CIDR",
  check(v) {
    const c = parseCidrLoose(v);
    if (!c) return { message: `${q(v)} is not an IPv4 CIDR`, hint: "write network/prefix-length, e.g. 10.244.0.0/16" };
    const net = networkOf(c.addr, c.prefix);
    if (net !== c.addr)
      return { message: `${q(v)} has host bits set`, hint: `use the network address: ${formatIPv4(net)}/${c.prefix}` };
    return undefined;
  },
};

const vip: Format = {
  what: "IPv4 address, optionally /prefix",
  check(v) {
    if (v.includes("/")) {
      const c = parseCidrLoose(v);
      if (c && c.prefix >= 8 && c.prefix <= 30) return undefined;
      return { message: `${q(v)} is not an IPv4 address with a prefix length`, hint: "write the bare address like 192.168.217.100, or address/prefix of the node network like 192.168.217.100/24 (prefix 8-30)" };
    }
    return ipv4.check(v);
  },
};

const dnsLabel: Format = { what: "DNS label", check: (v) => dnsLabelProblem(v, "names") };

const dnsName: Format = {
  what: "DNS name",
  check(v) {
    if (v.length > 253) return { message: `the name is ${v.length} characters long`, hint: "DNS names have at most 253 characters" };
    if (/^[\d.]+$/.test(v)) return { message: `${q(v)} is a number or address, not a name`, hint: "give a host name here (a name cannot be all digits)" };
    for (const label of v.split(".")) {
      const p = dnsLabelProblem(label, "each dot-separated part must");
      if (p) return { message: `${q(v)}: ${p.message}`, hint: p.hint };
    }
    return undefined;
  },
};

const hostOrIp: Format = {
  what: "host name or IPv4 address",
  check: (v) => (/^[\d.]+$/.test(v) ? ipv4.check(v) : dnsName.check(v)),
};

const VERSION = /^v?(\d+)\.(\d+)\.(\d+)$/;
const k8sVersion: Format = {
  what: `Kubernetes version 1.${SUPPORTED_MINORS.min}.x-1.${SUPPORTED_MINORS.max}.x`,
  check(v) {
    const m = VERSION.exec(v);
    if (!m) return { message: `${q(v)} is not a Kubernetes version`, hint: "write the full release, e.g. 1.22.2" };
    const [major, minor] = [Number(m[1]), Number(m[2])];
    if (major !== 1 || minor < SUPPORTED_MINORS.min || minor > SUPPORTED_MINORS.max)
      return {
        message: `Kubernetes ${v} is not supported`,
        hint: `this installer supports 1.${SUPPORTED_MINORS.min} to 1.${SUPPORTED_MINORS.max}; use the version the bundle was built for`,
      };
    return undefined;
  },
  normalize: (v) => v.replace(/^v/, ""),
};

/** Go's time.ParseDuration syntax, which kubeadm uses for the token TTL. */
const DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const duration: Format = {
  what: "duration (e.g. 24h, 1h30m)",
  check: (v) =>
    v === "0" || DURATION.test(v)
      ? undefined
      : { message: `${q(v)} is not a duration`, hint: 'write a number with a unit (h, m, s), e.g. "24h" or "1h30m"' },
};

const envName: Format = {
  what: "environment variable name",
  check: (v) =>
    /^[A-Za-z_][A-Za-z0-9_]*$/.test(v)
      ? undefined
      : { message: `${q(v)} is not an environment variable name`, hint: "give the NAME of the variable that holds the password, e.g. K8S_SSH_PASSWORD — never the password itself" },
};

const userName: Format = {
  what: "user name",
  check: (v) =>
    /^[a-z_][a-z0-9_-]{0,31}$/.test(v)
      ? undefined
      : { message: `${q(v)} is not a valid Linux user name`, hint: "use lowercase letters, digits, _ and -, like root" },
};

const ifName: Format = {
  what: "network interface name",
  check: (v) =>
    /^[A-Za-z0-9_.:@-]{1,15}$/.test(v) && v !== "." && v !== ".."
      ? undefined
      : { message: `${q(v)} is not a network interface name`, hint: "give the interface that carries the node addresses as `ip -br addr` shows it, e.g. ens33 (at most 15 characters)" },
};

/** Control, zero-width and bidi-override characters: never meant in a path, and able to disguise one. */
const INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/;

function pathProblem(v: string): Problem | undefined {
  if (v.length === 0) return { message: "the path is empty", hint: "give a file or directory path" };
  if (INVISIBLE.test(v)) return { message: `${q(v)} contains an invisible or control character`, hint: "retype the path; copy-paste can carry zero-width and direction-override characters" };
  return unsafePathProblem(v);
}

const path: Format = { what: "path", check: pathProblem };

const absPath: Format = {
  what: "absolute path",
  check: (v) =>
    pathProblem(v) ??
    (v.startsWith("/") ? undefined : { message: `${q(v)} is not an absolute path`, hint: "start it with /, e.g. /var/lib/k8s-ha-offline" }),
};

/** Directories the installer must never own: it writes and may clean up inside its state directory. */
const SYSTEM_DIRS = new Set(["/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib64", "/opt", "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/var/lib"]);
const stateDir: Format = {
  what: "absolute path",
  check(v) {
    const p = absPath.check(v);
    if (p) return p;
    const clean = v.replace(/\/+$/, "") || "/";
    if (v.split("/").includes("..")) return { message: `${q(v)} contains ".."`, hint: "write the directory without .., e.g. /var/lib/k8s-ha-offline" };
    if (SYSTEM_DIRS.has(clean)) return { message: `${q(v)} is a system directory`, hint: "give the installer its own directory, e.g. /var/lib/k8s-ha-offline" };
    return undefined;
  },
};

/** Passwords anyone would try first; keepalived's own sample uses the first two. */
const WEAK_PASSWORDS = new Set(["1111", "123456", "12345678", "admin", "admin123", "password", "passw0rd", "changeme", "secret", "keepalived", "qwerty", "abc123"]);
const vrrpPass: Format = {
  what: "6-8 letters and digits",
  check(v) {
    const hint = "remove authPass to have a random one generated, or give 6-8 random letters and digits (A-Z, a-z, 0-9)";
    if (v.length > 8) return { message: `authPass is ${v.length} characters; VRRP PASS authentication uses only the first 8`, hint };
    // keepalived.conf treats # and ! as the start of a comment and would silently shorten the password;
    // quotes and spaces split it. Letters and digits survive every config parser on the way.
    const bad = [...v].find((ch) => !/[A-Za-z0-9]/.test(ch));
    if (bad) return { message: `authPass contains ${q(bad)}; only A-Z, a-z and 0-9 are allowed (keepalived reads # and ! as the start of a comment and would cut the password there)`, hint };
    if (v.length < 6 || WEAK_PASSWORDS.has(v.toLowerCase()) || /^(.)\1*$/.test(v))
      return { message: "authPass is too weak (short, a common password, or one repeated character)", hint };
    return undefined;
  },
};

export const FORMATS = { ipv4, cidr, vip, dnsLabel, dnsName, hostOrIp, k8sVersion, duration, envName, userName, ifName, path, absPath, stateDir, vrrpPass } as const;
export type FormatName = keyof typeof FORMATS;
