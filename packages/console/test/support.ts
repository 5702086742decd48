/**
 * The end-to-end set-up: a real `maikit serve` (the CLI from source, in a child process, on a free port with
 * a temp data dir), Debian's Chromium driven by playwright-core with a fresh profile, and the checks every
 * page gets: no console error, a screenshot, and an axe-core pass with no serious or critical violation.
 */
import { Effect } from "effect"
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { type BrowserContext, chromium, type Page } from "playwright-core"

const here = Path.dirname(fileURLToPath(import.meta.url))
export const packageDir = Path.join(here, "..")
const cliBin = Path.join(packageDir, "../cli/src/bin.ts")
export const resultsDir = Path.join(packageDir, "test-results")

/** The console's build; made here when missing (CI runs `pnpm build` first). */
export const ensureBuilt = () => {
  if (Fs.existsSync(Path.join(packageDir, "dist/index.html"))) return
  execFileSync(process.execPath, [Path.join(packageDir, "node_modules/vite/bin/vite.js"), "build"], { cwd: packageDir, stdio: "ignore" })
}

/** Debian's Chromium: `MAIKIT_TEST_CHROMIUM`, the system's, or the one `pnpm test` unpacked without root. */
export const chromiumPath = (): string => {
  const candidates = [
    process.env["MAIKIT_TEST_CHROMIUM"],
    "/usr/bin/chromium",
    process.env["MAIKIT_TEST_PACKAGE_ROOT"] === undefined ? undefined : Path.join(process.env["MAIKIT_TEST_PACKAGE_ROOT"], "usr/lib/chromium/chromium")
  ]
  const found = candidates.find((candidate) => candidate !== undefined && candidate !== "" && Fs.existsSync(candidate))
  if (found === undefined) throw new Error("no Chromium: install Debian's chromium or set MAIKIT_TEST_CHROMIUM")
  return found
}

export const tempDir = (name: string) => Fs.mkdtempSync(Path.join(Os.tmpdir(), `maikit-console-${name}-`))

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = Net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

export interface Server {
  readonly url: string
  readonly dataDir: string
  readonly token: string | undefined
  readonly child: ChildProcess
  /** An API call with the token, if the server has one. */
  readonly api: (path: string, init?: RequestInit) => Promise<Response>
}

/**
 * `maikit serve` on a free loopback port (or `port`) until the scope closes; its output goes to
 * `<dataDir>/serve.log`.
 */
export const serve = (
  options: {
    readonly token?: string
    readonly port?: number
    readonly dataDir?: string
    /** Added to the server's environment (the Deployer's remotes, pip's settings). */
    readonly env?: Readonly<Record<string, string>>
  } = {}
) =>
  Effect.acquireRelease(
    Effect.promise(async (): Promise<Server> => {
      const port = options.port ?? await freePort()
      const dataDir = options.dataDir ?? tempDir("data")
      const log = Fs.openSync(Path.join(dataDir, "serve.log"), "a")
      const args = ["--conditions=source", cliBin, "serve", "--port", String(port), "--data-dir", dataDir]
      if (options.token !== undefined) args.push("--token", options.token)
      const child = spawn(process.execPath, args, { stdio: ["ignore", log, log], env: { ...process.env, MAIKIT_LOG_LEVEL: "warn", ...options.env } })
      const url = `http://127.0.0.1:${port}`
      const headers: Record<string, string> = options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }
      const api = (path: string, init: RequestInit = {}) =>
        fetch(`${url}${path}`, { ...init, headers: { ...headers, ...(init.headers as Record<string, string> | undefined) } })
      for (let attempt = 0; ; attempt++) {
        // A request that reaches the port before the server has attached its handler is never answered: retry.
        const up = await api("/api/v1/system/health", { signal: AbortSignal.timeout(1000) }).then((response) => response.ok, () => false)
        if (up) break
        if (attempt > 300 || child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`maikit serve did not start: ${Fs.readFileSync(Path.join(dataDir, "serve.log"), "utf8")}`)
        }
        await new Promise((wait) => setTimeout(wait, 100))
      }
      return { url, dataDir, token: options.token, child, api }
    }),
    (server) => stop(server)
  )

/** Stops a server as Ctrl+C does (it says goodbye to its sockets and stops its instances). */
export const stop = (server: Server) =>
      Effect.promise(() =>
        new Promise<void>((resolve) => {
          // A process killed by a signal keeps `exitCode` null: its exit already happened all the same.
          if (server.child.exitCode !== null || server.child.signalCode !== null) return resolve()
          server.child.once("exit", () => resolve())
          server.child.kill("SIGINT")
          setTimeout(() => server.child.kill("SIGKILL"), 8000).unref()
        })
      )

/** Chromium with a fresh profile until the scope closes. */
export const browser = (options: { readonly width?: number; readonly height?: number } = {}) =>
  Effect.acquireRelease(
    Effect.promise(() =>
      chromium.launchPersistentContext(tempDir("profile"), {
        executablePath: chromiumPath(),
        headless: true,
        viewport: { width: options.width ?? 1280, height: options.height ?? 860 },
        locale: "zh-CN",
        args: [
          "--headless",
          "--no-sandbox",
          "--disable-gpu",
          "--disable-quic",
          "--no-first-run",
          "--disable-background-networking",
          "--disable-component-update",
          "--disable-sync"
        ]
      })
    ),
    (context) => Effect.promise(() => context.close())
  )

/** A page that records every console error and uncaught exception. */
export const openPage = async (context: BrowserContext) => {
  const page = await context.newPage()
  const errors: Array<string> = []
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text())
  })
  page.on("pageerror", (error) => errors.push(error.message))
  return { page, errors }
}

const axeSource = Fs.readFileSync(Path.join(packageDir, "node_modules/axe-core/axe.min.js"), "utf8")

export interface Violation {
  readonly id: string
  readonly impact: string
  readonly help: string
  readonly targets: ReadonlyArray<string>
}

/** axe-core's serious and critical violations on the page as it is now. */
export const accessibilityViolations = async (page: Page): Promise<ReadonlyArray<Violation>> => {
  if (!(await page.evaluate("typeof window.axe !== 'undefined'"))) await page.addScriptTag({ content: axeSource })
  const violations = await page.evaluate(`axe.run(document, { resultTypes: ["violations"] }).then((result) =>
    result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(" ")) })))`) as ReadonlyArray<Violation>
  return violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical")
}

/**
 * Saved under `test-results/`; a phone's shot is its screen (a full page repeats the bottom bar mid-page). A shot
 * of the screen (not the full page) is scrolled to the element `scrollTo` selects when given.
 */
export const screenshot = async (
  page: Page,
  name: string,
  options: { readonly fullPage?: boolean | undefined; readonly scrollTo?: string | undefined } = {}
) => {
  Fs.mkdirSync(resultsDir, { recursive: true })
  // From the top: a full-page shot of a scrolled page paints the sticky header in the middle.
  if (options.scrollTo === undefined || options.fullPage !== false) await page.evaluate("window.scrollTo(0, 0)")
  // Below the sticky top bar.
  else await page.evaluate(`document.querySelector(${JSON.stringify(options.scrollTo)}).scrollIntoView({ block: "start" }); window.scrollBy(0, -64)`)
  await page.screenshot({ path: Path.join(resultsDir, `${name}.png`), fullPage: options.fullPage ?? true })
}
