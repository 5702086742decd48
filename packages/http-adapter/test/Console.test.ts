import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Redacted } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { MaikitConfig, SystemMetrics, UpdateChecker } from "@maikit/core/platform"
import { AccessToken } from "@maikit/core/platform"
import { ConsoleApi } from "../src/console/index.ts"
import { Launcher, MaikitServer } from "../src/index.ts"

const script = "console.log('a hashed asset');".repeat(50)
const indexHtml = "<!DOCTYPE html><html><head><script type=module src=/console/assets/index-abc123.js></script></head></html>"

/** A build as Vite leaves it: `index.html`, hashed assets and their precompressed siblings. */
const build = () => {
  const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-console-"))
  Fs.mkdirSync(Path.join(directory, "assets"))
  Fs.writeFileSync(Path.join(directory, "index.html"), indexHtml)
  Fs.writeFileSync(Path.join(directory, "favicon.svg"), "<svg xmlns='http://www.w3.org/2000/svg'/>")
  const asset = Path.join(directory, "assets/index-abc123.js")
  Fs.writeFileSync(asset, script)
  Fs.writeFileSync(`${asset}.br`, Zlib.brotliCompressSync(script))
  Fs.writeFileSync(`${asset}.gz`, Zlib.gzipSync(script))
  return directory
}

const services = Layer.mergeAll(
  MaikitConfig.MaikitConfig.layerFrom({ dataDir: "unused", port: 23456 }),
  SystemMetrics.SystemMetrics.layer,
  UpdateChecker.UpdateChecker.layer()
)

const serve = (options: { readonly token?: string; readonly directory?: string }) =>
  Effect.gen(function*() {
    const context = yield* Layer.build(
      MaikitServer.layer({
        families: [Launcher.family],
        host: "127.0.0.1",
        port: 0,
        accessToken: options.token === undefined ? Option.none() : Option.some(Redacted.make(options.token)),
        console: { directory: options.directory ?? build() }
      }).pipe(Layer.provide(services))
    )
    const address = Context.get(context, HttpServer.HttpServer).address
    return address._tag === "UnixPathAddress" ? "" : `http://127.0.0.1:${address.port}`
  })

const call = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const response = await fetch(url, { redirect: "manual", ...init })
    const bytes = new Uint8Array(await response.arrayBuffer())
    return { status: response.status, headers: response.headers, bytes, text: new TextDecoder().decode(bytes) }
  })

describe("the web console's serving", () => {
  it.live("browsers are sent to /console/, JSON clients keep their answers, and files carry the right caching", () =>
    Effect.gen(function*() {
      const url = yield* serve({})
      const browser = yield* call(`${url}/`, { headers: { accept: "text/html,application/xhtml+xml" } })
      assert.strictEqual(browser.status, 302)
      assert.strictEqual(browser.headers.get("location"), "/console/")
      const index = yield* call(`${url}/console/`)
      assert.strictEqual(index.status, 200)
      assert.strictEqual(index.text, indexHtml)
      assert.strictEqual(index.headers.get("cache-control"), "no-cache")
      assert.include(index.headers.get("content-type") ?? "", "text/html")
      const etag = index.headers.get("etag") ?? ""
      assert.match(etag, /^"[\w-]+"$/)
      const again = yield* call(`${url}/console/`, { headers: { "if-none-match": etag } })
      assert.strictEqual(again.status, 304)

      // The console's own routes get index.html; a missing hashed file does not.
      const deep = yield* call(`${url}/console/instances/abc?tab=terminal`)
      assert.strictEqual(deep.text, indexHtml)
      assert.strictEqual((yield* call(`${url}/console/assets/gone-123.js`)).status, 404)

      const raw = yield* call(`${url}/console/assets/index-abc123.js`, { headers: { "accept-encoding": "identity" } })
      assert.strictEqual(raw.text, script)
      assert.strictEqual(raw.headers.get("cache-control"), "public, max-age=31536000, immutable")
      assert.include(raw.headers.get("content-type") ?? "", "text/javascript")
      assert.include(raw.headers.get("vary"), "Accept-Encoding")
      assert.isNull(raw.headers.get("content-encoding"))

      // fetch decompresses what it asked for: the same script, smaller on the wire.
      const brotli = yield* call(`${url}/console/assets/index-abc123.js`, { headers: { "accept-encoding": "gzip, br" } })
      assert.strictEqual(brotli.headers.get("content-encoding"), "br")
      assert.strictEqual(brotli.text, script)
      const gzip = yield* call(`${url}/console/assets/index-abc123.js`, { headers: { "accept-encoding": "br;q=0, gzip" } })
      assert.strictEqual(gzip.headers.get("content-encoding"), "gzip")
      assert.strictEqual(gzip.text, script)
      const svg = yield* call(`${url}/console/favicon.svg`)
      assert.strictEqual(svg.headers.get("content-type"), "image/svg+xml")
      assert.strictEqual(svg.headers.get("cache-control"), "no-cache")

      // Other clients at `/` keep today's answer (here the home page: no family of this server claims `/`).
      const plain = yield* call(`${url}/`, { headers: { accept: "application/json" } })
      assert.strictEqual(plain.status, 200)
      assert.include(plain.text, "/openapi.json")

      // API clients still get JSON, and the API is not shadowed.
      const health = yield* call(`${url}/api/v1/system/health`)
      assert.strictEqual(JSON.parse(health.text).status, "success")
      const info = JSON.parse((yield* call(`${url}${ConsoleApi.infoPath}`)).text) as ConsoleApi.ConsoleInfo
      assert.deepStrictEqual(info.access, { required: false, signed_in: true })
      assert.deepStrictEqual(info.families, ["launcher"])
      assert.include(info.routes, "GET /api/v1/system/metrics")
      const wrongMethod = yield* call(`${url}/console/`, { method: "POST" })
      assert.strictEqual(wrongMethod.status, 405)
    }))

  it.live("with a token: the files and the sign-in are open, the cookie signs in same-origin requests only", () =>
    Effect.gen(function*() {
      const url = yield* serve({ token: "s3cret" })
      const host = new URL(url).host
      assert.strictEqual((yield* call(`${url}/console/`)).status, 200)
      assert.strictEqual((yield* call(`${url}/api/v1/system/health`)).status, 401)
      const anonymous = JSON.parse((yield* call(`${url}${ConsoleApi.infoPath}`)).text) as ConsoleApi.ConsoleInfo
      assert.deepStrictEqual(anonymous.access, { required: true, signed_in: false })
      assert.deepStrictEqual(anonymous.routes, [], "routes are told to signed-in pages only")

      const post = (token: string, headers: Record<string, string> = {}) =>
        call(`${url}${ConsoleApi.sessionPath}`, {
          method: "POST",
          headers: { "content-type": "application/json", origin: url, ...headers },
          body: JSON.stringify({ token })
        })
      assert.strictEqual((yield* post("wrong")).status, 401)
      assert.strictEqual((yield* post("s3cret", { origin: "http://127.0.0.1:1" })).status, 403)
      assert.strictEqual((yield* post("s3cret", { "sec-fetch-site": "same-site" })).status, 403)
      const signedIn = yield* post("s3cret")
      assert.strictEqual(signedIn.status, 200)
      const cookie = signedIn.headers.get("set-cookie") ?? ""
      const port = new URL(url).port
      assert.match(cookie, new RegExp(`^maikit_console_${port}=s3cret; Path=/; Max-Age=\\d+; HttpOnly; SameSite=Strict$`))
      const pair = cookie.split(";")[0] ?? ""

      const withCookie = (headers: Record<string, string>) =>
        call(`${url}/api/v1/system/health`, { headers: { cookie: pair, ...headers } })
      assert.strictEqual((yield* withCookie({})).status, 200)
      assert.strictEqual((yield* withCookie({ "sec-fetch-site": "same-origin" })).status, 200)
      // Another port of the host: the browser policy refuses it before the token is looked at.
      assert.strictEqual((yield* withCookie({ "sec-fetch-site": "same-site" })).status, 403, "another port of the host")
      assert.strictEqual((yield* withCookie({ origin: "http://localhost:3000" })).status, 401)
      assert.strictEqual((yield* withCookie({ origin: url, "sec-fetch-site": "same-origin" })).status, 200)
      const info = JSON.parse(
        (yield* call(`${url}${ConsoleApi.infoPath}`, { headers: { cookie: pair } })).text
      ) as ConsoleApi.ConsoleInfo
      assert.deepStrictEqual(info.access, { required: true, signed_in: true })
      assert.include(info.routes, "GET /api/v1/system/health")

      const signedOut = yield* call(`${url}${ConsoleApi.sessionPath}`, { method: "DELETE", headers: { origin: url } })
      assert.strictEqual(signedOut.headers.get("set-cookie"), `${AccessToken.cookieName(host)}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict`)
    }))

  it.live("without a build, /console/ says how to make one", () =>
    Effect.gen(function*() {
      const url = yield* serve({ directory: Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-console-empty-")) })
      const page = yield* call(`${url}/console/`)
      assert.strictEqual(page.status, 503)
      assert.include(page.text, "pnpm build")
    }))
})
