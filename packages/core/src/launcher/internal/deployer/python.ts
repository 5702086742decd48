/**
 * The host's Python and what a MaiBot tree asks of it. `requires-python` is a PEP 440 specifier set
 * (`>=3.12`, `>=3.10,<4`, `~=3.11`, `==3.12.*`); the subset MaiBot and its adapter use is checked here against
 * each candidate interpreter, newest candidates first, and the first that satisfies it is the one the venv is
 * made with. A candidate that does not run (a pyenv shim for a version not installed exits 127) is not there.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parse as parseToml } from "smol-toml"
import { capture } from "./tool.ts"

export interface Interpreter {
  readonly command: string
  readonly executable: string
  readonly version: string
}

const numbers = (version: string): Array<number> => version.split(".").map((part) => Number.parseInt(part, 10) || 0)

const compare = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): number => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0)
    if (diff !== 0) return diff
  }
  return 0
}

const prefixMatches = (version: ReadonlyArray<number>, prefix: ReadonlyArray<number>): boolean =>
  prefix.every((part, i) => version[i] === part)

const clauseHolds = (version: ReadonlyArray<number>, clause: string): boolean => {
  const match = /^(~=|===|==|!=|<=|>=|<|>)\s*([0-9][0-9.]*)(\.\*)?$/.exec(clause.trim())
  if (match === null) return true
  const operator = match[1]
  const target = numbers((match[2] ?? "").replace(/\.$/, ""))
  const wildcard = match[3] !== undefined
  switch (operator) {
    case "==":
    case "===":
      return wildcard ? prefixMatches(version, target) : compare(version, target) === 0
    case "!=":
      return wildcard ? !prefixMatches(version, target) : compare(version, target) !== 0
    case ">=":
      return compare(version, target) >= 0
    case "<=":
      return compare(version, target) <= 0
    case ">":
      return compare(version, target) > 0
    case "<":
      return compare(version, target) < 0
    case "~=":
      return compare(version, target) >= 0 && prefixMatches(version, target.slice(0, Math.max(1, target.length - 1)))
    default:
      return true
  }
}

/** Whether `version` (e.g. `3.11.7`) satisfies a `requires-python` specifier set; an empty set allows any. */
export const satisfies = (version: string, specifier: string): boolean =>
  specifier.split(",").filter((clause) => clause.trim() !== "").every((clause) => clauseHolds(numbers(version), clause))

export interface Pyproject {
  readonly requiresPython: string | undefined
  readonly version: string | undefined
}

/** `[project] requires-python` and `version` of `<dir>/pyproject.toml`, when it has them. */
export const readPyproject = (dir: string): Pyproject => readPyprojectText(readText(Path.join(dir, "pyproject.toml")))

export const readPyprojectText = (text: string | undefined): Pyproject => {
  if (text === undefined) return { requiresPython: undefined, version: undefined }
  try {
    const project = (parseToml(text) as { project?: Record<string, unknown> }).project ?? {}
    const requires = project["requires-python"]
    const version = project["version"]
    return {
      requiresPython: typeof requires === "string" ? requires : undefined,
      version: typeof version === "string" ? version : undefined
    }
  } catch {
    return { requiresPython: undefined, version: undefined }
  }
}

const readText = (file: string): string | undefined => {
  try {
    return Fs.readFileSync(file, "utf8")
  } catch {
    return undefined
  }
}

/** Where to look when nothing is configured: the newest names first. */
export const defaultCandidates: ReadonlyArray<string> = process.platform === "win32"
  ? ["py", "python3", "python"]
  : ["python3.13", "python3.12", "python3", "python"]

const probe = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)"

/** Every candidate that runs, with its version, in the candidates' order (duplicates dropped). */
export const discover = (
  candidates: ReadonlyArray<string>,
  env: Readonly<Record<string, string | undefined>>
): Effect.Effect<ReadonlyArray<Interpreter>> =>
  Effect.gen(function*() {
    const found: Array<Interpreter> = []
    for (const command of candidates) {
      const args = command === "py" ? ["-3", "-c", probe] : ["-c", probe]
      const output = yield* capture(command, args, { env, timeoutMs: 10_000 })
      const [version, executable] = (output ?? "").trim().split(/\r?\n/)
      if (version === undefined || executable === undefined || !/^\d+\.\d+\.\d+$/.test(version)) continue
      if (found.some((entry) => entry.executable === executable)) continue
      found.push({ command, executable, version })
    }
    return found
  })

/** The first interpreter that satisfies `specifier`, or the list of those that do not. */
export const choose = (
  found: ReadonlyArray<Interpreter>,
  specifier: string | undefined
): Interpreter | undefined => found.find((entry) => specifier === undefined || satisfies(entry.version, specifier))
