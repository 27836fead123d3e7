// Sends bytes of a file (a whole file or a member inside a tar) with Range support.
// Bun hands a Bun.file slice to the kernel (sendfile), which is what makes the depot fast.
import { parseRange } from "./range.ts";

export interface FileSlice {
  path: string;
  /** Where the body starts inside the file (a tar member's data offset; 0 for plain files). */
  offset: number;
  size: number;
}

export function fileResponse(req: Request, body: FileSlice, headers: Record<string, string>): Response {
  const h = new Headers(headers);
  h.set("Accept-Ranges", "bytes");
  const range = parseRange(req.headers.get("range"), body.size);
  if (range === "unsatisfiable") {
    h.set("Content-Range", `bytes */${body.size}`);
    h.set("Content-Length", "0");
    return new Response(null, { status: 416, headers: h });
  }
  const start = range ? range.start : 0;
  const end = range ? range.end + 1 : body.size; // exclusive
  const status = range ? 206 : 200;
  if (range) h.set("Content-Range", `bytes ${range.start}-${range.end}/${body.size}`);
  h.set("Content-Length", String(end - start));
  if (req.method === "HEAD" || end === start) return new Response(null, { status, headers: h });
  const file = Bun.file(body.path).slice(body.offset + start, body.offset + end);
  return new Response(file, { status, headers: h });
}
