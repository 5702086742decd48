/**
 * The fast path's pages (`fastPath.ts`): every command line it answers, run through the full CLI in this
 * process, without and with colours, its output captured as `console.log` would write it. The build writes them
 * next to `bin.mjs` (`writePages.ts`); a test compares them with the full CLI's output.
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import type * as Command from "effect/cli/Command"
import * as TerminalCapabilities from "effect/cli/TerminalCapabilities"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import { format } from "node:util"
import * as Cli from "../Cli.ts"
import { keyOf, type Pages } from "./fastPath.ts"

/** Every command path, by name and by alias, from the root. */
const commandPaths = (command: Command.Command.Any, prefix: ReadonlyArray<string>): Array<ReadonlyArray<string>> => [
  prefix,
  ...command.subcommands.flatMap((group) =>
    group.commands.flatMap((subcommand) =>
      [subcommand.name, ...(subcommand.alias === undefined ? [] : [subcommand.alias])].flatMap((name) =>
        commandPaths(subcommand, [...prefix, name])
      )
    )
  )
]

/** The command lines the fast path answers: help of every command, the bare command, the version. */
export const commandLines: ReadonlyArray<ReadonlyArray<string>> = [
  [],
  ["version"],
  ["--version"],
  ...commandPaths(Cli.app, []).map((path) => [...path, "--help"])
]

/** What `maikit <argv>` prints on stdout; anything on stderr means it is no page. */
export const render = (argv: ReadonlyArray<string>, colors: boolean) =>
  Effect.gen(function*() {
    let stdout = ""
    let stderr = ""
    const capture: Console.Console = Object.assign(Object.create(globalThis.console) as Console.Console, {
      log: (...args: ReadonlyArray<unknown>) => (stdout += `${format(...args)}\n`),
      error: (...args: ReadonlyArray<unknown>) => (stderr += `${format(...args)}\n`)
    })
    yield* Cli.run(argv).pipe(
      // The bare command prints its help and ends as a request for help, which `maikit` exits 0 on.
      Effect.catchIf((error) => error._tag === "ShowHelp" && error.errors.length === 0, () => Effect.void),
      Effect.provideService(Console.Console, capture),
      Effect.provideService(TerminalCapabilities.TerminalCapabilities, { canColor: colors, canAnimate: false, canPrompt: false })
    )
    if (stderr !== "") return yield* Effect.die(new Error(`maikit ${argv.join(" ")} wrote to stderr: ${stderr}`))
    return stdout
  }).pipe(Effect.provide(NodeServices.layer))

export const renderAll: Effect.Effect<Pages> = Effect.gen(function*() {
  const plain: Record<string, string> = {}
  const color: Record<string, string> = {}
  for (const argv of commandLines) {
    plain[keyOf(argv)] = yield* Effect.orDie(render(argv, false))
    color[keyOf(argv)] = yield* Effect.orDie(render(argv, true))
  }
  return { plain, color }
})
