// Bootstrap-token discovery: the cluster-info kubeconfig is signed with each valid token (detached
// HS256 JWS, key = token secret, kid = token id), so a joining node can tell the server knows its token.
import { createHmac, timingSafeEqual } from "node:crypto";

const b64url = (b: Buffer | string) => Buffer.from(b).toString("base64url");

export function detachedSign(payload: string, tokenId: string, tokenSecret: string): string {
  const header = b64url(JSON.stringify({ alg: "HS256", kid: tokenId }));
  const sig = createHmac("sha256", tokenSecret).update(`${header}.${b64url(payload)}`).digest();
  return `${header}..${b64url(sig)}`;
}

export function detachedVerify(jws: string, payload: string, tokenId: string, tokenSecret: string): boolean {
  const [header, empty, sig] = jws.split(".");
  if (header === undefined || empty !== "" || sig === undefined) return false;
  let kid: unknown;
  try {
    kid = JSON.parse(Buffer.from(header, "base64url").toString()).kid;
  } catch {
    return false;
  }
  if (kid !== tokenId) return false;
  const want = createHmac("sha256", tokenSecret).update(`${header}.${b64url(payload)}`).digest();
  const got = Buffer.from(sig, "base64url");
  return got.length === want.length && timingSafeEqual(got, want);
}
