/**
 * Core is one folder per domain: a domain imports the platform and never another domain, and each entry point
 * loads only what its domain needs, so a host that embeds the relay does not pay for (or install) node-pty or
 * the PostgreSQL and MySQL drivers.
 */
import { describe, expect, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

const source = Path.join(import.meta.dirname, "..", "src")
const domains = ["platform", "launcher", "control-plane", "relay"] as const

const filesOf = (directory: string): ReadonlyArray<string> =>
  Fs.readdirSync(directory, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => Path.join(directory, file))

const relativeImports = (file: string): ReadonlyArray<string> =>
  [...Fs.readFileSync(file, "utf8").matchAll(/(?:\bfrom\s+|\bimport\s*\(?\s*)["'](\.{1,2}\/[^"']+)["']/g)].map((match) =>
    Path.resolve(Path.dirname(file), match[1] ?? "")
  )

const domainOf = (file: string): string | undefined => {
  const [first, ...rest] = Path.relative(source, file).split(Path.sep)
  return rest.length === 0 ? undefined : first
}

/** Every module a fresh Node process resolves while importing `specifier`, as package-relative paths. */
const modulesLoadedBy = (specifier: string): ReadonlyArray<string> => {
  const probe = [
    "import { registerHooks } from 'node:module'",
    "const seen = []",
    "registerHooks({ resolve(specifier, context, next) { const resolved = next(specifier, context); seen.push(resolved.url); return resolved } })",
    `await import(${JSON.stringify(specifier)})`,
    "process.stdout.write(JSON.stringify(seen))"
  ].join("\n")
  const result = spawnSync(process.execPath, ["--conditions=source", "--input-type=module", "-e", probe], {
    cwd: Path.join(import.meta.dirname, ".."),
    encoding: "utf8"
  })
  if (result.status !== 0) throw new Error(`importing ${specifier} failed: ${result.stderr}`)
  return (JSON.parse(result.stdout) as ReadonlyArray<string>).map((url) => url.replace(/^.*\/node_modules\//, ""))
}

const loads = (modules: ReadonlyArray<string>, name: string) => modules.some((module) => module.startsWith(`${name}/`))

describe("core domains", () => {
  it("has no module outside a domain but the root entry point", () => {
    const stray = Fs.readdirSync(source).filter((entry) => entry !== "index.ts" && !domains.some((domain) => domain === entry))
    expect(stray).toEqual([])
  })

  it("lets a domain import the platform and itself only, and the platform no domain", () => {
    const crossings = domains.flatMap((domain) =>
      filesOf(Path.join(source, domain)).flatMap((file) =>
        relativeImports(file)
          .filter((target) => target.startsWith(source))
          .map((target) => ({ from: Path.relative(source, file), to: Path.relative(source, target), domain: domainOf(target) }))
          .filter((edge) => edge.domain !== domain && (domain === "platform" || edge.domain !== "platform"))
          .map((edge) => `${edge.from} -> ${edge.to}`)
      )
    )
    expect(crossings).toEqual([])
  })

  it("loads neither node-pty, the PostgreSQL or MySQL driver nor the BLE driver for the relay", () => {
    const modules = modulesLoadedBy("@maikit/core/relay")
    expect(loads(modules, "mqtt")).toBe(true)
    expect(modules.filter((module) => /^(node-pty|@effect\/sql-pg|pg|mysql2|@stoprocent\/noble)\//.test(module))).toEqual([])
  })

  it("loads no driver of another domain for the control plane, and PostgreSQL or MySQL only once it is configured", () => {
    const modules = modulesLoadedBy("@maikit/core/control-plane")
    expect(modules.filter((module) => /^(node-pty|@effect\/sql-pg|pg|mysql2|mqtt|@stoprocent\/noble)\//.test(module))).toEqual([])
  })

  it("loads node-pty for the launcher only when a process starts", () => {
    const modules = modulesLoadedBy("@maikit/core/launcher")
    expect(modules.filter((module) => /^(node-pty|@effect\/sql-pg|pg|mqtt|systeminformation)\//.test(module))).toEqual([])
  })

  it("keeps the root entry point for convenience", () => {
    const modules = modulesLoadedBy("@maikit/core")
    expect(modules.some((module) => module.endsWith("src/relay/index.ts"))).toBe(true)
    expect(modules.some((module) => module.endsWith("src/launcher/index.ts"))).toBe(true)
    expect(loads(modules, "node-pty")).toBe(false)
  })
})
