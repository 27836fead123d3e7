// Whether an existing certificate can stay, so a re-run of install changes nothing
// unless a certificate is close to expiry, lost a name it must carry, or no longer fits its CA or key.
import { firstCert, isSignedBy, keyMatches } from "../certs/inspect.ts";
import { missingSans } from "./san.ts";
import { DAY_MS } from "./validity.ts";

export interface RenewalCriteria {
  /** The subject CN it must have (a certificate copied to the wrong place must not be kept). */
  commonName?: string;
  /** Names and addresses the certificate must carry. */
  wantSans?: string[];
  /** Renew when fewer days than this remain. Default 30. */
  minDaysLeft?: number;
  /** When given, the certificate must be signed by this CA. */
  caPem?: string;
  /** When given, this key must belong to the certificate. */
  keyPem?: string;
  now?: Date;
}

export type RenewalVerdict = { renew: false } | { renew: true; why: string };

export const MIN_DAYS_LEFT = 30;

export function needsRenewal(certPem: string | undefined, c: RenewalCriteria = {}): RenewalVerdict {
  if (!certPem) return { renew: true, why: "missing" };
  const cert = firstCert(certPem);
  if (cert instanceof Error) return { renew: true, why: cert.message };
  const now = c.now ?? new Date();
  const minDays = c.minDaysLeft ?? MIN_DAYS_LEFT;
  const left = (cert.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (left < minDays) {
    return { renew: true, why: left <= 0 ? "expired" : `expires in ${Math.floor(left)} days (renewed within ${minDays})` };
  }
  if (cert.notBefore.getTime() > now.getTime()) return { renew: true, why: "not valid yet (clock or certificate is wrong)" };
  if (c.commonName !== undefined && cert.commonName !== c.commonName) {
    return { renew: true, why: `common name is ${JSON.stringify(cert.commonName)}, want ${JSON.stringify(c.commonName)}` };
  }
  const missing = missingSans(cert.sans, c.wantSans ?? []);
  if (missing.length > 0) return { renew: true, why: `SANs lack ${missing.join(", ")}` };
  if (c.caPem !== undefined) {
    const ca = firstCert(c.caPem);
    if (ca instanceof Error || !isSignedBy(cert, ca)) return { renew: true, why: "not signed by the current CA" };
  }
  if (c.keyPem !== undefined) {
    const match = keyMatches(cert, c.keyPem);
    if (match !== true) return { renew: true, why: match === false ? "key does not match" : match.message };
  }
  return { renew: false };
}
