/**
 * How `maikit` starts. Each command loads its own modules only when it runs: seen with Node's module hooks on the
 * source, which the bundled binary splits at the same `import()`s. Help and version come from pages the build
 * renders with the full CLI: the fast path prints exactly what the full CLI prints.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { acceptsConnections, freePort } from "../../core/test/helpers/mqtt.ts"
import { keyOf } from "../src/internal/fastPath.ts"
import { commandLines, renderAll } from "../src/internal/renderPages.ts"
import { bin } from "./helpers.ts"

const scratch = () => Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-cli-startup-"))

/** `--import` code that writes every module the process resolves to `file` when it exits. */
const recorder = (file: string) =>
  `data:text/javascript,${
    encodeURIComponent([
      "import { registerHooks } from 'node:module'",
      "import { writeFileSync } from 'node:fs'",
      "const seen = new Set()",
      "registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); seen.add(resolved.url); return resolved } })",
      `process.on('exit', () => writeFileSync(${JSON.stringify(file)}, JSON.stringify([...seen])))`
    ].join("\n"))
  }`

/** Package-relative: `packages/core/src/relay/StatusBus.ts`, `mqtt/build/index.js`. */
const relative = (url: string) => url.replace(/^.*\/node_modules\//, "").replace(/^file:\/\/.*?\/(packages\/)/, "$1")

const modulesOf = (file: string) => (JSON.parse(Fs.readFileSync(file, "utf8")) as ReadonlyArray<string>).map(relative)

/** What no command but those that need them may load. */
const heavy = [
  /^packages\/core\/src\/(launcher|control-plane)\//,
  /^packages\/ws-adapter\//,
  /^packages\/cli\/src\/AllInOne\.ts$/,
  /^(node-pty|pg|@effect\/sql-pg|mysql2|selfsigned|aedes|@stoprocent\/noble)\//,
  /^effect\/dist\/http-api\/internal\/httpApi(Swagger|Scalar)\.js$/
]

const heavyIn = (modules: ReadonlyArray<string>, more: ReadonlyArray<RegExp> = []) =>
  modules.filter((module) => [...heavy, ...more].some((pattern) => pattern.test(module)))

describe("maikit start-up", () => {
  it("version loads the command tree and no command", () => {
    const file = Path.join(scratch(), "modules.json")
    const result = spawnSync(process.execPath, ["--conditions=source", "--import", recorder(file), bin, "version"], {
      encoding: "utf8",
      timeout: 60_000
    })
    assert.strictEqual(result.status, 0, result.stderr)
    const modules = modulesOf(file)
    assert.isTrue(modules.includes("packages/cli/src/Cli.ts"))
    assert.deepStrictEqual(
      heavyIn(modules, [
        /^packages\/cli\/src\/handlers\//,
        /^packages\/light-relay\/src\/LightRelay\.ts$/,
        /^packages\/http-adapter\//,
        /^@effect\/platform-node\/dist\/NodeHttpServer\.js$/
      ]),
      []
    )
  })

  it.live("light serve listens without the launcher, the control plane, ws-adapter, node-pty, pg or the docs' assets", () =>
    Effect.gen(function*() {
      const dir = scratch()
      const file = Path.join(dir, "modules.json")
      const port = yield* freePort()
      const child = spawn(process.execPath, [
        "--conditions=source",
        "--import",
        recorder(file),
        bin,
        "light",
        "serve",
        "--addr",
        `127.0.0.1:${port}`,
        "--db",
        Path.join(dir, "config.db"),
        "--log-file",
        dir,
        "--no-ble"
      ], { stdio: "ignore" })
      const exited = new Promise((resolve) => child.once("exit", resolve))
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 60_000
        while (!(await acceptsConnections(port)) && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 50))
      })
      const health = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/api/health`))
      assert.strictEqual(health.status, 200)
      child.kill("SIGTERM")
      yield* Effect.promise(() => exited)
      const modules = modulesOf(file)
      assert.isTrue(modules.includes("packages/light-relay/src/LightRelay.ts"))
      assert.deepStrictEqual(
        heavyIn(modules, [/^packages\/cli\/src\/handlers\/(?!light|output|local|remote)/]),
        []
      )
    }), 90_000)

  it.live("the built binary serves the web console (its bundle finds @maikit/console's files)", () =>
    Effect.gen(function*() {
      const built = ensureBuiltBinary()
      const dir = scratch()
      const port = yield* freePort()
      const child = spawn(process.execPath, [built, "serve", "--port", String(port), "--data-dir", dir], { stdio: "ignore" })
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => {
          const exited = new Promise((resolve) => child.once("exit", resolve))
          child.kill("SIGTERM")
          return exited
        })
      )
      yield* Effect.promise(async () => {
        const deadline = Date.now() + 60_000
        while (!(await acceptsConnections(port)) && Date.now() < deadline) await new Promise((wait) => setTimeout(wait, 50))
      })
      const page = yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/console/`).then((response) => response.text()))
      assert.include(page, '<div id="app">', "the console's own index.html, not the page saying there is no build")
    }).pipe(Effect.scoped), 120_000)
})

const cliDir = Path.join(import.meta.dirname, "..")

/** `dist/bin.mjs` as the build makes it (CI builds first; a local run builds what is missing). */
const ensureBuiltBinary = () => {
  const built = Path.join(cliDir, "dist/bin.mjs")
  const consoleDir = Path.join(cliDir, "../console")
  if (!Fs.existsSync(Path.join(consoleDir, "dist/index.html"))) {
    spawnSync(process.execPath, [Path.join(consoleDir, "node_modules/vite/bin/vite.js"), "build"], { cwd: consoleDir })
  }
  if (!Fs.existsSync(built)) {
    spawnSync(process.execPath, [Path.join(cliDir, "../../node_modules/tsdown/dist/run.mjs")], { cwd: cliDir })
  }
  return built
}

/** The environment of a plain run: no colour variables, a terminal type that could colour. */
const environment = (extra: Record<string, string> = {}) => {
  const env: Record<string, string | undefined> = { ...process.env, TERM: "xterm", ...extra }
  if (extra["FORCE_COLOR"] === undefined) delete env["FORCE_COLOR"]
  delete env["NO_COLOR"]
  return env
}

const fastPath = pathToFileURL(Path.join(import.meta.dirname, "../src/internal/fastPath.ts")).href

/** `bin`'s fast path on `pages`: its stdout, and whether it answered. */
const fast = (argv: ReadonlyArray<string>, pages: string, env: Record<string, string | undefined>) =>
  spawnSync(process.execPath, [
    "--conditions=source",
    "--input-type=module",
    "-e",
    `import { answer } from ${JSON.stringify(fastPath)}
    process.exitCode = answer(${JSON.stringify(argv)}, new URL(${JSON.stringify(pathToFileURL(pages).href)})) ? 0 : 3`
  ], { encoding: "utf8", env })

/** The full CLI, from source (no pages there), as a user runs it. */
const full = (argv: ReadonlyArray<string>, env: Record<string, string | undefined>) =>
  spawnSync(process.execPath, ["--conditions=source", bin, ...argv], { encoding: "utf8", env, timeout: 60_000 })

describe("maikit's fast path", () => {
  it.effect("prints exactly what the full CLI prints, without and with colours", () =>
    Effect.gen(function*() {
      const pages = Path.join(scratch(), "cli-pages.json")
      Fs.writeFileSync(pages, JSON.stringify(yield* renderAll))
      const cases: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>]> = [
        [[], {}],
        [["--help"], {}],
        [["-h"], {}],
        [["version"], {}],
        [["--version"], {}],
        [["-v"], {}],
        [["light", "serve", "--help"], {}],
        [["tenants", "list", "-h"], {}],
        [["instances", "ls", "--help"], {}],
        [["--help"], { FORCE_COLOR: "1" }],
        [["--version"], { FORCE_COLOR: "1" }],
        [["light", "serve", "--help"], { FORCE_COLOR: "1" }]
      ]
      for (const [argv, extra] of cases) {
        const env = environment(extra)
        const expected = full(argv, env)
        assert.strictEqual(expected.status, 0, expected.stderr)
        const answered = fast(argv, pages, env)
        assert.strictEqual(answered.status, 0, `no page for ${argv.join(" ")}: ${answered.stderr}`)
        assert.strictEqual(answered.stdout, expected.stdout, `maikit ${argv.join(" ")} ${JSON.stringify(extra)}`)
      }
      assert.include(fast(["--help"], pages, environment({ FORCE_COLOR: "1" })).stdout, "\x1b[")
    }), 240_000)

  it.effect("has a page for the help of every command, and leaves every other command line to the full CLI", () =>
    Effect.gen(function*() {
      const { plain, color } = yield* renderAll
      assert.strictEqual(Object.keys(plain).length, commandLines.length)
      assert.strictEqual(Object.keys(color).length, commandLines.length)
      for (const path of [["deploy"], ["backups", "restore"], ["config", "set"], ["light", "config", "add"]]) {
        assert.include(plain[keyOf([...path, "--help"])], `maikit ${path.join(" ")}`)
      }
      const pages = Path.join(scratch(), "cli-pages.json")
      Fs.writeFileSync(pages, JSON.stringify({ plain, color }))
      for (const argv of [["light", "serve"], ["--help", "light"], ["light", "version"], ["light", "serve", "--addr", ":1", "--help"]]) {
        const answered = fast(argv, pages, environment())
        assert.strictEqual(answered.status, 3, argv.join(" "))
        assert.strictEqual(answered.stdout, "")
      }
    }))
})
