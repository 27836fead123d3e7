// Error bodies of the OCI distribution spec: clients (containerd, skopeo) print `code` and `message`.
export type RegistryErrorCode =
  | "BLOB_UNKNOWN"
  | "MANIFEST_UNKNOWN"
  | "NAME_UNKNOWN"
  | "NAME_INVALID"
  | "DIGEST_INVALID"
  | "PAGINATION_NUMBER_INVALID"
  | "UNSUPPORTED";

const STATUS: Record<RegistryErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  MANIFEST_UNKNOWN: 404,
  NAME_UNKNOWN: 404,
  NAME_INVALID: 400,
  DIGEST_INVALID: 400,
  PAGINATION_NUMBER_INVALID: 400,
  UNSUPPORTED: 405,
};

export function registryError(code: RegistryErrorCode, message: string, detail: unknown = null, method = "GET"): Response {
  const body = JSON.stringify({ errors: [{ code, message, detail }] });
  const headers: Record<string, string> = {
    "Content-Type": "application/json",
    "Docker-Distribution-API-Version": "registry/2.0",
  };
  if (code === "UNSUPPORTED") headers.Allow = "GET, HEAD";
  // HEAD answers carry no body; the status tells the client enough.
  if (method === "HEAD") {
    headers["Content-Length"] = String(Buffer.byteLength(body));
    return new Response(null, { status: STATUS[code], headers });
  }
  return new Response(body, { status: STATUS[code], headers });
}
