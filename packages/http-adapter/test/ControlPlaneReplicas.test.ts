import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { spawn } from "node:child_process"
import * as Path from "node:path"
import { ControlPlaneDatabase } from "@maikit/core/control-plane"
import { freshMysqlDatabase, TestMysql } from "../../core/test/helpers/mysql.ts"
import { freshDatabase, TestPostgres } from "../../core/test/helpers/postgres.ts"
import { BaseUrl, call, dataOf, envelopeOf, unique } from "./helpers/controlPlane.ts"

const script = Path.join(import.meta.dirname, "fixtures", "controlPlaneReplica.ts")

/** A MaiKit replica in its own process over `url`; SIGTERM with the scope, waiting for it to exit. */
const replica = (url: string) =>
  Effect.acquireRelease(
    Effect.callback<{ readonly base: string; readonly stop: () => Promise<number | null> }>((resume) => {
      const child = spawn(process.execPath, ["--conditions=source", script], {
        env: { ...process.env, DATABASE_URL: url },
        stdio: ["ignore", "pipe", "inherit"]
      })
      const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
      let buffered = ""
      child.stdout.on("data", (chunk: Buffer) => {
        buffered += chunk.toString()
        const ready = /READY (\d+)/.exec(buffered)
        if (ready === null) return
        child.stdout.removeAllListeners("data")
        child.stdout.resume()
        resume(Effect.succeed({
          base: `http://127.0.0.1:${ready[1]}`,
          stop: () => {
            if (child.exitCode === null) child.kill("SIGTERM")
            return exited
          }
        }))
      })
      void exited.then((code) => resume(Effect.die(new Error(`replica exited with ${code} before it was ready`))))
    }),
    (running) => Effect.promise(running.stop)
  )

const on = (base: string) => <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, BaseUrl, base)

const Ok = Schema.Record(Schema.String, Schema.Unknown)

const validate = (apiKey: string, extra: object = {}) =>
  Effect.map(call("POST", "/api/v2/auth/validate-api-key", { api_key: apiKey, ...extra }), envelopeOf)

/**
 * A fresh database of each shared backend, on a server that lives as long as the test's scope, and a client of it
 * for reading what the replicas wrote.
 */
const servers = [
  {
    name: "PostgreSQL",
    database: Effect.flatMap(Layer.build(TestPostgres.layer), (server) => Effect.provide(freshDatabase, server)),
    open: (url: string) => ControlPlaneDatabase.layerPostgres(Redacted.make(url))
  },
  {
    name: "MariaDB",
    database: Effect.flatMap(Layer.build(TestMysql.layer), (server) => Effect.provide(freshMysqlDatabase, server)),
    open: (url: string) => ControlPlaneDatabase.layerMysql(Redacted.make(url))
  }
] as const

for (const server of servers) {
describe(`two control-plane replicas on one ${server.name}`, () => {
  it.live("a revocation on one replica fails the very next check on the other; usage from both is kept", () =>
    Effect.gen(function*() {
      const url = yield* server.database
      const [a, b] = yield* Effect.all([replica(url), replica(url)], { concurrency: 2 })
      const onA = on(a.base)
      const onB = on(b.base)

      const tenant = dataOf(Ok, yield* call("POST", "/api/v2/tenants", { tenant_name: unique("r"), tenant_type: "enterprise" }).pipe(onA))
      const tenantId = String(tenant["id"])
      const newAgent = (run: typeof onA) =>
        Effect.map(
          call("POST", "/api/v2/agents", { tenant_id: tenantId, name: unique("a") }).pipe(run),
          (answer) => String(dataOf(Ok, answer)["id"])
        )
      const newKey = (agentId: string, run: typeof onA) =>
        Effect.map(
          call("POST", "/api/v2/api-keys", { tenant_id: tenantId, agent_id: agentId, name: unique("k"), permissions: ["chat"] })
            .pipe(run),
          (answer) => {
            const data = dataOf(Ok, answer)
            return { id: String(data["api_key_id"]), key: String(data["api_key"]) }
          }
        )

      const agent = yield* newAgent(onA)
      const key = yield* newKey(agent, onA)
      assert.isTrue((yield* validate(key.key).pipe(onB)).success, "a key made on A validates on B")

      yield* call("POST", `/api/v2/api-keys/${key.id}/disable`).pipe(onA)
      assert.strictEqual((yield* validate(key.key).pipe(onB)).error_code, "AUTH_004", "disabled on A, refused on B at once")

      yield* call("PUT", `/api/v2/api-keys/${key.id}`, { status: "active" }).pipe(onB)
      assert.isTrue((yield* validate(key.key).pipe(onA)).success, "re-enabled on B, accepted on A")

      yield* call("PUT", `/api/v2/api-keys/${key.id}`, { permissions: ["read"] }).pipe(onA)
      assert.strictEqual((yield* validate(key.key, { required_permission: "chat" }).pipe(onB)).error_code, "AUTH_003")

      yield* call("PUT", `/api/v2/tenants/${tenantId}`, { status: "suspended" }).pipe(onB)
      assert.strictEqual((yield* validate(key.key).pipe(onA)).error_code, "AUTH_004", "tenant suspended on B")
      yield* call("PUT", `/api/v2/tenants/${tenantId}`, { status: "active" }).pipe(onA)

      yield* call("DELETE", `/api/v2/api-keys/${key.id}`).pipe(onB)
      assert.strictEqual((yield* validate(key.key).pipe(onA)).error_code, "AUTH_005", "deleted on B, unknown on A")

      const doomed = yield* newKey(agent, onB)
      yield* call("DELETE", `/api/v2/agents/${agent}`).pipe(onA)
      assert.strictEqual((yield* validate(doomed.key).pipe(onB)).error_code, "AUTH_005", "agent deleted on A")

      const counted = yield* newKey(yield* newAgent(onB), onA)
      for (let i = 0; i < 4; i++) assert.isTrue((yield* validate(counted.key).pipe(onA)).success)
      for (let i = 0; i < 3; i++) assert.isTrue((yield* validate(counted.key).pipe(onB)).success)
      // 200 at once, half on each replica, spread over more than a second so both journal and fold meanwhile.
      const burst = yield* Effect.all(
        Array.from({ length: 200 }, (_, index) =>
          Effect.andThen(Effect.sleep(`${index * 6} millis`), validate(counted.key).pipe(index % 2 === 0 ? onA : onB))),
        { concurrency: "unbounded" }
      )
      assert.isTrue(burst.every((answer) => answer.success), "every concurrent validation succeeds")
      const codes = yield* Effect.all([a.stop(), b.stop()].map((stopped) => Effect.promise(() => stopped)))
      assert.deepStrictEqual(codes, [130, 130], "interrupted by SIGTERM, both ran their finalizers and exited as Effect's runMain does on interruption")

      const usage = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly usage_count: number | bigint }>`SELECT usage_count FROM api_keys WHERE id = ${counted.id}`
      }).pipe(Effect.provide(server.open(url)))
      assert.strictEqual(Number(usage[0]?.usage_count), 207, "every use on either replica is written")
    }).pipe(Effect.scoped), 60_000)
})
}
