/**
 * Issue #11, defect 6: API key usage is counted in memory and written in batches; a graceful stop of the real
 * `maikit serve` (SIGTERM or SIGINT) writes every count, and `/health` tells how many are still pending.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import * as Path from "node:path"
import { Database } from "@maikit/core/platform"
import { tempDir } from "../../core/test/helpers/instances.ts"
import { json, serve, stop } from "./helpers/serve.ts"

interface Envelope<A> {
  readonly success: boolean
  readonly data: A
}

const usageCountOf = (dataDir: string, id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly usage_count: number }>`SELECT usage_count FROM api_keys WHERE id = ${id}`
    return Number(row?.usage_count)
  }).pipe(Effect.provide(Database.layerFile(Path.join(dataDir, Database.fileName))), Effect.orDie)

const validateConcurrently = (url: string, apiKey: string, count: number) =>
  Effect.promise(() =>
    Promise.all(Array.from({ length: count }, () =>
      fetch(`${url}/api/v2/auth/validate-api-key`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ api_key: apiKey })
      }).then(async (response) => ((await response.json()) as Envelope<{ valid: boolean }>).data.valid)))
  )

describe("API key usage across stops of maikit serve", () => {
  it.live("SIGTERM and SIGINT write every one of 200 concurrent validations; /health shows what is pending", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("usage-serve")
      const first = yield* serve(dataDir)
      const post = <A>(path: string, body: unknown) =>
        Effect.map(json<Envelope<A>>(`${first.url}${path}`, { method: "POST", body: JSON.stringify(body) }), (r) => r.body.data)
      const tenant = yield* post<{ id: string }>("/api/v2/tenants", { tenant_name: "acme", tenant_type: "personal" })
      const agent = yield* post<{ id: string }>("/api/v2/agents", { tenant_id: tenant.id, name: "bot" })
      const key = yield* post<{ api_key: string; api_key_id: string }>("/api/v2/api-keys", {
        tenant_id: tenant.id,
        agent_id: agent.id,
        name: "k"
      })

      const answers = yield* validateConcurrently(first.url, key.api_key, 200)
      assert.isTrue(answers.every((valid) => valid), "every validation was acknowledged")
      const health = yield* json<{ api_key_usage: { pending: number; flush_interval_ms: number; flush_max_pending: number } }>(
        `${first.url}/health`
      )
      assert.strictEqual(health.body.api_key_usage.flush_interval_ms, 1000)
      assert.strictEqual(health.body.api_key_usage.flush_max_pending, 256)
      assert.isAtMost(health.body.api_key_usage.pending, 200)
      // runMain interrupts the program on either signal, runs every finalizer and exits 130.
      assert.strictEqual(yield* stop(first, "SIGTERM"), 130, first.output())
      assert.strictEqual(yield* usageCountOf(dataDir, key.api_key_id), 200, "a SIGTERM loses no count")

      const second = yield* serve(dataDir)
      const again = yield* validateConcurrently(second.url, key.api_key, 200)
      assert.isTrue(again.every((valid) => valid))
      assert.strictEqual(yield* stop(second, "SIGINT"), 130, second.output())
      assert.strictEqual(yield* usageCountOf(dataDir, key.api_key_id), 400, "a SIGINT loses no count")
    }).pipe(Effect.scoped), 90_000)
})
