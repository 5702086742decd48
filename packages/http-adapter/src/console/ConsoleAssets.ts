/**
 * The console's built files (`@maikit/console`'s `dist/`), read once into memory and served with the headers
 * a browser caches well by: Vite's content-hashed files under `assets/` as `public, max-age=31536000,
 * immutable`, everything else (`index.html`) as `no-cache` with an `ETag`, so a new build is picked up on the
 * next load and an unchanged one costs a 304. The `.br` and `.gz` siblings made at build time are sent to
 * browsers that accept them (`Vary: Accept-Encoding`); nothing is compressed per request.
 */
import { Effect, FileSystem, Option, Path } from "effect"
import { HttpServerResponse } from "effect/http"
import * as Crypto from "node:crypto"
import { createRequire } from "node:module"

export interface Asset {
  readonly body: Uint8Array
  readonly contentType: string
  readonly cacheControl: string
  readonly etag: string
  readonly brotli: Uint8Array | undefined
  readonly gzip: Uint8Array | undefined
}

export interface Assets {
  /** The file at a path relative to the console's root (`index.html`, `assets/index-abc123.js`). */
  readonly get: (path: string) => Asset | undefined
  readonly index: Asset
}

export const immutable = "public, max-age=31536000, immutable"

const contentTypes: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json"
}

/** Where `@maikit/console` keeps its build, when it is installed next to this package. */
export const defaultDirectory = (): string | undefined => {
  try {
    const manifest = createRequire(import.meta.url).resolve("@maikit/console/package.json")
    return manifest.slice(0, -"package.json".length) + "dist"
  } catch {
    return undefined
  }
}

/** Reads every file of `directory`; none when it holds no `index.html` (the console was not built). */
export const load = Effect.fnUntraced(function*(directory: string) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const index = path.join(directory, "index.html")
  if (!(yield* Effect.orElseSucceed(fs.exists(index), () => false))) return Option.none<Assets>()
  const names = yield* fs.readDirectory(directory, { recursive: true })
  const files = new Map<string, Uint8Array>()
  for (const name of names) {
    const file = path.join(directory, name)
    const info = yield* fs.stat(file)
    if (info.type === "File") files.set(name.split(path.sep).join("/"), yield* fs.readFile(file))
  }
  const assets = new Map<string, Asset>()
  for (const [name, body] of files) {
    if (name.endsWith(".br") || name.endsWith(".gz")) continue
    const extension = path.extname(name)
    assets.set(name, {
      body,
      contentType: contentTypes[extension] ?? "application/octet-stream",
      cacheControl: name.startsWith("assets/") ? immutable : "no-cache",
      etag: `"${Crypto.createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      brotli: files.get(`${name}.br`),
      gzip: files.get(`${name}.gz`)
    })
  }
  const indexAsset = assets.get("index.html")
  return indexAsset === undefined
    ? Option.none<Assets>()
    : Option.some<Assets>({ get: (name) => assets.get(name), index: indexAsset })
})

/** The encodings a request accepts, from its `Accept-Encoding` (`q=0` refuses one). */
const accepts = (header: string | undefined, encoding: string): boolean =>
  header !== undefined && header.split(",").some((part) => {
    const [name, ...parameters] = part.trim().split(";")
    if (name?.trim().toLowerCase() !== encoding) return false
    const quality = parameters.map((p) => p.trim()).find((p) => p.startsWith("q="))
    return quality === undefined || Number(quality.slice(2)) > 0
  })

/** The response for `asset`, compressed as the request allows; a 304 when its `If-None-Match` still holds. */
export const respond = (
  asset: Asset,
  headers: Readonly<Record<string, string | undefined>>
): HttpServerResponse.HttpServerResponse => {
  const common = { "cache-control": asset.cacheControl, etag: asset.etag, vary: "Accept-Encoding" }
  if (headers["if-none-match"]?.split(",").some((tag) => tag.trim() === asset.etag) === true) {
    return HttpServerResponse.empty({ status: 304, headers: common })
  }
  const encoding = headers["accept-encoding"]
  const [body, contentEncoding] = asset.brotli !== undefined && accepts(encoding, "br")
    ? [asset.brotli, "br"]
    : asset.gzip !== undefined && accepts(encoding, "gzip")
    ? [asset.gzip, "gzip"]
    : [asset.body, undefined]
  return HttpServerResponse.uint8Array(body, {
    contentType: asset.contentType,
    headers: contentEncoding === undefined ? common : { ...common, "content-encoding": contentEncoding }
  })
}
