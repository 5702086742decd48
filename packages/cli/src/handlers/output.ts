/** What every command prints the same way: a one-line failure, JSON, a table. */
import * as CliError from "effect/cli/CliError"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"

export const userError = (message: string, cause: unknown = message) => new CliError.UserError({ cause, userMessage: message })

/** Fails the command with `message` as its one line. */
export const fail = (message: string) => Effect.fail(userError(message))

/**
 * A failure as the one line `maikit` prints (exit code 1). A `MaikitConfigError` stays itself: `maikit` reports a
 * bad setting with exit code 2.
 */
export const oneLine = <E extends { readonly message: string; readonly _tag: string }>(error: E) =>
  error._tag === "MaikitConfigError" || error._tag === "UserError" ? error : userError(error.message, error)

/** A failure of a service as the command's one line. */
export const asUserError = (error: { readonly message: string }) => userError(error.message, error)

export const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** A launcher route's `{success, message}`: its message, or a failure with it. */
export const printOutcome = (outcome: { readonly success: boolean; readonly message: string }) =>
  outcome.success ? Console.log(outcome.message) : fail(outcome.message)

/** Aligned columns. */
export const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}
