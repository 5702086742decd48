/**
 * Turns a component's command line into an argv the way the original launcher does (`generate_venv_command`):
 * when `<cwd>/venv` holds a Python, `python X` (also `python3`, `python3.12`) runs `<cwd>/venv/bin/python X`
 * (Windows: `venv\Scripts\python.exe`); anything else is left as written. Where the original wraps other commands in a
 * shell that sources `activate`, this sets what `activate` sets (`VIRTUAL_ENV`, the venv's bin directory first
 * on `PATH`), so no extra shell sits between the supervisor and the process it signals. The original also ran
 * `python --version` to detect a broken venv; this checks that the interpreter exists and is executable, which
 * costs no process per start. The child always gets `PYTHONIOENCODING=utf-8` and `PYTHONUTF8=1`, so Python
 * writes UTF-8 to the PTY whatever the host locale is.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { CommandLineError } from "./SupervisorError.ts"

export { CommandLineError } from "./SupervisorError.ts"

export interface Resolved {
  readonly file: string
  readonly args: ReadonlyArray<string>
  /** Variables to lay over the inherited environment. */
  readonly env: Readonly<Record<string, string>>
  /** The venv used, if any. */
  readonly venv: string | undefined
}

const isWindows = process.platform === "win32"
const pythonName = /^python(?:3(?:\.\d+)?)?(?:\.exe)?$/i

/**
 * Splits a command line into words. Single and double quotes group; outside quotes (and inside double quotes)
 * a backslash escapes the next character, except on Windows, where backslashes are path separators.
 */
export const split = (commandLine: string, windows: boolean = isWindows): Effect.Effect<ReadonlyArray<string>, CommandLineError> =>
  Effect.suspend(() => {
    const words: Array<string> = []
    let word = ""
    let inWord = false
    let quote: "'" | "\"" | undefined
    for (let i = 0; i < commandLine.length; i++) {
      const char = commandLine[i] ?? ""
      if (quote === "'") {
        if (char === "'") quote = undefined
        else word += char
      } else if (char === "\\" && !windows && i + 1 < commandLine.length) {
        const next = commandLine[i + 1] ?? ""
        if (quote === "\"" && next !== "\"" && next !== "\\") word += char
        word += next
        i++
        inWord = true
      } else if (quote === "\"") {
        if (char === "\"") quote = undefined
        else word += char
      } else if (char === "'" || char === "\"") {
        quote = char
        inWord = true
      } else if (/\s/.test(char)) {
        if (inWord) words.push(word)
        word = ""
        inWord = false
      } else {
        word += char
        inWord = true
      }
    }
    if (quote !== undefined) {
      return Effect.fail(new CommandLineError({ command: commandLine, message: `unbalanced ${quote} in: ${commandLine}` }))
    }
    if (inWord) words.push(word)
    if (words.length === 0) return Effect.fail(new CommandLineError({ command: commandLine, message: "empty command" }))
    return Effect.succeed(words)
  })

const isExecutable = (file: string): boolean => {
  try {
    Fs.accessSync(file, isWindows ? Fs.constants.F_OK : Fs.constants.X_OK)
    return Fs.statSync(file).isFile()
  } catch {
    return false
  }
}

const pathKey = (env: NodeJS.ProcessEnv): string =>
  isWindows ? (Object.keys(env).find((key) => key.toUpperCase() === "PATH") ?? "Path") : "PATH"

/** Resolves `commandLine` for a process started in `cwd`. */
export const resolve = Effect.fnUntraced(function*(
  commandLine: string,
  cwd: string
): Effect.fn.Return<Resolved, CommandLineError> {
  const [first, ...rest] = yield* split(commandLine)
  const env: Record<string, string> = { PYTHONIOENCODING: "utf-8", PYTHONUTF8: "1" }
  const venv = Path.resolve(cwd, "venv")
  const binDir = Path.join(venv, isWindows ? "Scripts" : "bin")
  const python = Path.join(binDir, isWindows ? "python.exe" : "python")
  const file = first ?? ""
  if (!isExecutable(python)) return { file, args: rest, env, venv: undefined }
  const key = pathKey(process.env)
  const inherited = process.env[key]
  env["VIRTUAL_ENV"] = venv
  env[key] = inherited === undefined || inherited === "" ? binDir : `${binDir}${Path.delimiter}${inherited}`
  return { file: pythonName.test(file) ? python : file, args: rest, env, venv }
})
