/** What every command prints the same way: a one-line failure, JSON, a table. */
import { Console, Effect } from "effect"
import { CliError } from "effect/cli"

/** Fails the command with `message` as its one line. */
export const fail = (message: string) => Effect.fail(new CliError.UserError({ cause: message, userMessage: message }))

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}
