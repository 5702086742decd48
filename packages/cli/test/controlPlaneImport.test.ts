import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import { TestConsole } from "effect/testing"
import * as Path from "node:path"
import { tempDir } from "../../core/test/helpers/controlPlane.ts"
import { originalOnSqlite } from "../../core/test/helpers/originalDatabase.ts"
import * as Cli from "../src/Cli.ts"

/** `maikit …` in this process, with its console captured. */
const maikit = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Cli.run(args))
    const out = (yield* TestConsole.logLines).map(String).join("\n")
    return { ok: Exit.isSuccess(exit), out, failure: Exit.isFailure(exit) ? String(exit.cause) : "" }
  }).pipe(Effect.provide(Layer.fresh(TestConsole.layer)), Effect.provide(NodeServices.layer))

describe("maikit control-plane import", () => {
  it.effect("dry-runs, imports and re-imports maim_db's SQLite file into the local store, printing the counts", () =>
    Effect.gen(function*() {
      const original = yield* originalOnSqlite(tempDir("cli-original"))
      const dataDir = Path.join(tempDir("cli-import"), "data")
      const importing = (...extra: ReadonlyArray<string>) =>
        maikit(["control-plane", "import", "--from", original.url, "--data-dir", dataDir, ...extra])

      const dry = yield* importing("--dry-run")
      assert.isTrue(dry.ok, dry.failure)
      assert.include(dry.out, "Dry run: nothing was written")
      assert.match(dry.out, /RECORDS\s+READ\s+WOULD IMPORT\s+UNCHANGED\s+SKIPPED/)
      assert.match(dry.out, /tenants\s+2\s+2\s+0\s+0/)
      assert.match(dry.out, /api_keys\s+5\s+3\s+0\s+2/)
      assert.include(dry.out, `skipped: agent ${original.orphanAgent}`)
      const none = yield* maikit(["tenants", "ls", "--data-dir", dataDir, "--json"])
      assert.strictEqual((JSON.parse(none.out) as { total: number }).total, 0)

      const done = yield* importing("--json")
      assert.isTrue(done.ok, done.failure)
      const summary = JSON.parse(done.out) as { dry_run: boolean; agents: { imported: number }; api_keys: { imported: number } }
      assert.deepInclude(summary, { dry_run: false })
      assert.strictEqual(summary.agents.imported, 2)
      assert.strictEqual(summary.api_keys.imported, 3)
      const listed = yield* maikit(["tenants", "ls", "--data-dir", dataDir, "--json"])
      assert.strictEqual((JSON.parse(listed.out) as { total: number }).total, 2)

      const again = yield* importing()
      assert.match(again.out, /tenants\s+2\s+0\s+2\s+0/)
      assert.match(again.out, /api_keys\s+5\s+0\s+3\s+2/)
    }))

  it.effect("names the problem when the source is not an original database", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("cli-bad")
      const unknown = yield* maikit(["control-plane", "import", "--from", "mssql://sa:hunter2@db/x", "--data-dir", dataDir])
      assert.isFalse(unknown.ok)
      assert.include(unknown.failure, "use a mysql://")
      assert.notInclude(unknown.failure, "hunter2")
      const missing = yield* maikit(["control-plane", "import", "--from", `sqlite+aiosqlite:///${dataDir}/none.db`, "--data-dir", dataDir])
      assert.isFalse(missing.ok)
      assert.include(missing.failure, "cannot open the source")
    }))
})
