/**
 * `maikit --help`, `maikit <command …> --help` (or `-h`), `maikit version` and `maikit --version` (or `-v`),
 * answered from the pages the build rendered by running the full CLI for each of them (`renderPages.ts`): the
 * same text, printed without loading the command tree, Effect or any command. Imports nothing else, so that
 * `bin.ts` stays this small until it knows it needs the full CLI.
 */
import * as Fs from "node:fs"

/** What the full CLI prints for each command line it answers alike every time, without and with colours. */
export interface Pages {
  readonly plain: Readonly<Record<string, string>>
  readonly color: Readonly<Record<string, string>>
}

const helpFlags = new Set(["--help", "-h"])

/** Whether `argv` may have a page: help of a command path, the bare command, or the version. */
const isCandidate = (argv: ReadonlyArray<string>) =>
  argv.length === 0 || helpFlags.has(argv.at(-1) ?? "") ||
  (argv.length === 1 && (argv[0] === "version" || argv[0] === "--version" || argv[0] === "-v"))

/** The key of `argv`'s page: `-h` and `-v` stand for `--help` and `--version`, which print the same. */
export const keyOf = (argv: ReadonlyArray<string>) =>
  JSON.stringify(argv.map((arg, index) =>
    index === argv.length - 1 && arg === "-h" ? "--help" : argv.length === 1 && arg === "-v" ? "--version" : arg
  ))

const isPresent = (value: string | undefined) => value !== undefined && value.length > 0

/** Effect's `TerminalCapabilities.canColor`, read from the same variables and stdout. */
export const canColor = (env: NodeJS.ProcessEnv, stdoutIsTerminal: boolean) =>
  env["TERM"] !== "dumb" && !isPresent(env["NO_COLOR"]) &&
  ((isPresent(env["FORCE_COLOR"]) && env["FORCE_COLOR"] !== "0" && env["FORCE_COLOR"]?.toLowerCase() !== "false") ||
    stdoutIsTerminal)

/** Prints `argv`'s page from `pagesFile` and answers `true`; `false` when there is none (or no file, from source). */
export const answer = (argv: ReadonlyArray<string>, pagesFile: URL): boolean => {
  if (!isCandidate(argv) || !Fs.existsSync(pagesFile)) return false
  const pages = JSON.parse(Fs.readFileSync(pagesFile, "utf8")) as Pages
  const page = (canColor(process.env, process.stdout.isTTY === true) ? pages.color : pages.plain)[keyOf(argv)]
  if (page === undefined) return false
  process.stdout.write(page)
  return true
}
