/**
 * Builds the console into `dist/` for `@maikit/http-adapter` to serve at `/console/`: content-hashed files
 * under `assets/`, each text file also precompressed as `.br` and `.gz` (the server picks one by
 * `Accept-Encoding`), and the build fails when the JavaScript a first visit loads passes its budget.
 * `pnpm --filter @maikit/console dev` serves the same app with hot reload against a running `maikit serve`
 * (`MAIKIT_URL`, default http://127.0.0.1:23456), proxying the API and its WebSockets.
 */
import vue from "@vitejs/plugin-vue"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import { defineConfig, type Plugin } from "vite"

/** Initial JavaScript, gzipped: the entry chunk and everything it imports statically. */
const budgetBytes = 200 * 1024

const compressible = /\.(js|css|html|svg|json|txt|webmanifest)$/

const precompress = (): Plugin => ({
  name: "maikit-precompress",
  apply: "build",
  writeBundle(options, bundle) {
    const directory = options.dir ?? "dist"
    let initial = 0
    const seen = new Set<string>()
    const visit = (fileName: string) => {
      const chunk = bundle[fileName]
      if (seen.has(fileName) || chunk === undefined || chunk.type !== "chunk") return
      seen.add(fileName)
      initial += Zlib.gzipSync(chunk.code, { level: 9 }).length
      for (const imported of chunk.imports) visit(imported)
    }
    for (const output of Object.values(bundle)) {
      if (output.type === "chunk" && output.isEntry) visit(output.fileName)
    }
    const files = Fs.readdirSync(directory, { recursive: true, encoding: "utf8" })
    for (const name of files.filter((file) => compressible.test(file))) {
      const file = Path.join(directory, name)
      const body = Fs.readFileSync(file)
      if (body.length < 512) continue
      Fs.writeFileSync(`${file}.br`, Zlib.brotliCompressSync(body, { params: { [Zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }))
      Fs.writeFileSync(`${file}.gz`, Zlib.gzipSync(body, { level: 9 }))
    }
    const kb = (initial / 1024).toFixed(1)
    this.info(`initial JavaScript: ${kb} KB gzipped (budget ${budgetBytes / 1024} KB)`)
    if (initial > budgetBytes) this.error(`initial JavaScript is ${kb} KB gzipped, over the ${budgetBytes / 1024} KB budget`)
  }
})

const target = process.env["MAIKIT_URL"] ?? "http://127.0.0.1:23456"
// `changeOrigin: false` keeps the page's Host, so the sign-in cookie's same-origin check holds through the proxy.
const proxied = { target, changeOrigin: false, ws: true }

export default defineConfig({
  base: "/console/",
  plugins: [vue(), precompress()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    target: "es2022",
    sourcemap: false
  },
  server: {
    proxy: {
      "/api": proxied,
      "/ws": proxied,
      "/docs": proxied,
      "/openapi.json": proxied,
      "/health": proxied,
      "/info": proxied
    }
  }
})
