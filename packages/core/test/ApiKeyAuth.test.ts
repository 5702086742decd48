import { assert, describe, it, layer } from "@effect/vitest"
import { Context, DateTime, Deferred, Effect, Exit, Fiber, Layer, Scope } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { spawn } from "node:child_process"
import * as Crypto from "node:crypto"
import * as Path from "node:path"
import * as ApiKeyAuth from "../src/control-plane/ApiKeyAuth.ts"
import * as ControlPlaneDatabase from "../src/control-plane/ControlPlaneDatabase.ts"
import * as Database from "../src/platform/Database.ts"
import { TenantStore } from "../src/control-plane/TenantStore.ts"
import { fixture } from "./fixtures/support.ts"
import { backendNames, reopenableDatabase, suiteServices, tempDir } from "./helpers/controlPlane.ts"

const originalExample = "tenant_e56afd751503_agent_f584504feb7f_823d6ea3e1a84f52_v1"
const originalKey = `mmc_${Buffer.from(originalExample).toString("base64")}`

describe("ApiKeyAuth key format", () => {
  it("generates keys in the original's layout: mmc_ + base64 of tenant_agent_16hex_v1, 84 characters", () => {
    const key = ApiKeyAuth.generate("tenant_0123456789ab", "agent_ba9876543210")
    assert.lengthOf(key, 84)
    assert.match(key, /^mmc_[A-Za-z0-9+/]+==$/)
    const plain = Buffer.from(key.slice(4), "base64").toString()
    assert.match(plain, /^tenant_0123456789ab_agent_ba9876543210_[0-9a-f]{16}_v1$/)
    const randoms = new Set(Array.from({ length: 1000 }, () => ApiKeyAuth.generate("tenant_0", "agent_0")))
    assert.strictEqual(randoms.size, 1000)
  })

  it("parses keys issued by the original, and the legacy four-part form", () => {
    assert.lengthOf(originalKey, 84)
    assert.deepStrictEqual(ApiKeyAuth.parseKey(originalKey), {
      tenant_id: "tenant_e56afd751503",
      agent_id: "agent_f584504feb7f",
      random_hash: "823d6ea3e1a84f52",
      version: "v1",
      format_valid: true
    })
    const legacy = `mmc_${Buffer.from("t1_a1_abc_v1").toString("base64")}`
    assert.deepStrictEqual(ApiKeyAuth.parseKey(legacy), {
      tenant_id: "t1",
      agent_id: "a1",
      random_hash: "abc",
      version: "v1",
      format_valid: true
    })
  })

  it("discards characters outside the base64 alphabet, as Python's b64decode does", () => {
    const noisy = `${originalKey.slice(0, 20)}!\n${originalKey.slice(20)}`
    assert.deepStrictEqual(ApiKeyAuth.parseKey(noisy), ApiKeyAuth.parseKey(originalKey))
  })

  it("refuses anything else", () => {
    for (
      const bad of [
        "",
        "mmc_",
        originalKey.replace("mmc_", "mmk_"),
        originalKey.slice(4),
        originalKey.slice(0, -1),
        `mmc_${Buffer.from("only_three_parts").toString("base64")}`,
        `mmc_${Buffer.from([0xff, 0xfe, 0x5f, 0x5f, 0x5f]).toString("base64")}`,
        `mmc_${"A".repeat(2000)}`
      ]
    ) {
      assert.isUndefined(ApiKeyAuth.parseKey(bad), JSON.stringify(bad))
    }
  })

  it("hashes with SHA-256 and keeps only a short display prefix", () => {
    assert.strictEqual(ApiKeyAuth.hash(originalKey), Crypto.createHash("sha256").update(originalKey).digest("hex"))
    assert.strictEqual(ApiKeyAuth.displayPrefix(originalKey), originalKey.slice(0, 20))
    assert.strictEqual(ApiKeyAuth.displayPrefix("mmc_abcd"), "mm")
  })
})

let counter = 0
const unique = (prefix: string) => `${prefix}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`

const owner = Effect.gen(function*() {
  const store = yield* TenantStore
  const tenant = yield* store.createTenant({ tenant_name: unique("t"), tenant_type: "personal" })
  const agent = yield* store.createAgent({ tenant_id: tenant.id, name: unique("a") })
  return { tenant, agent }
})

const issue = (permissions: ReadonlyArray<string> = ["chat"]) =>
  Effect.gen(function*() {
    const { tenant, agent } = yield* owner
    const auth = yield* ApiKeyAuth.ApiKeyAuth
    const created = yield* auth.create({ tenant_id: tenant.id, agent_id: agent.id, name: unique("k"), permissions })
    return { tenant, agent, ...created }
  })

const tagOf = <A, E extends { readonly _tag: string }, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.flip(effect), (error) => error._tag)

for (const backend of backendNames) {
  layer(suiteServices(backend, { usageFlushInterval: 60_000 }), { excludeTestServices: true })(
    `ApiKeyAuth on ${backend}`,
    (test) => {
      test.effect("issues a key shown once; only its hash and display prefix are stored", () =>
        Effect.gen(function*() {
          const { tenant, agent, key, api_key } = yield* issue()
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          assert.deepStrictEqual(ApiKeyAuth.parseKey(api_key)?.tenant_id, tenant.id)
          assert.deepStrictEqual(ApiKeyAuth.parseKey(api_key)?.agent_id, agent.id)
          assert.match(key.api_key_id, /^key_[0-9a-f]{12}$/)
          assert.strictEqual(key.api_key, `${api_key.slice(0, 20)}********`)
          assert.deepStrictEqual(key.permissions, ["chat"])
          assert.strictEqual(key.status, "active")
          assert.strictEqual(key.usage_count, 0)
          const sql = yield* SqlClient.SqlClient
          const rows = yield* sql`SELECT * FROM api_keys WHERE id = ${key.api_key_id}`
          const stored = JSON.stringify(rows, (_key, value: unknown) => typeof value === "bigint" ? Number(value) : value)
          assert.notInclude(stored, api_key)
          assert.notInclude(stored, api_key.slice(20))
          assert.include(stored, ApiKeyAuth.hash(api_key))
          const read = yield* auth.get(key.api_key_id)
          assert.strictEqual(read.api_key, key.api_key)
          const listed = yield* auth.list({ tenant_id: tenant.id, page: 1, page_size: 20 })
          assert.strictEqual(listed.items[0]?.api_key, key.api_key)
        }))

      test.effect("validates a good key and counts its use; flushes the count to the database", () =>
        Effect.gen(function*() {
          const { tenant, agent, key, api_key } = yield* issue(["chat", "config_read"])
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const result = yield* auth.validate({ apiKey: api_key, requiredPermission: "chat" })
          assert.deepStrictEqual(result, {
            valid: true,
            tenant_id: tenant.id,
            agent_id: agent.id,
            api_key_id: key.api_key_id,
            permissions: ["chat", "config_read"],
            has_permission: true,
            status: "active"
          })
          yield* auth.validate({ apiKey: api_key })
          yield* auth.validate({ apiKey: api_key, recordUsage: false })
          const counted = yield* auth.get(key.api_key_id)
          assert.strictEqual(counted.usage_count, 2, "pending counts show before they are written")
          assert.isNotNull(counted.last_used_at)
          yield* auth.flushUsage
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* sql<{ readonly usage_count: number | bigint }>`SELECT usage_count FROM api_keys WHERE id = ${key.api_key_id}`
          assert.strictEqual(Number(row?.usage_count), 2)
          assert.strictEqual((yield* auth.get(key.api_key_id)).usage_count, 2)
        }))

      test.effect("a missing permission fails validation; check-permission answers without counting", () =>
        Effect.gen(function*() {
          const { key, api_key } = yield* issue(["chat"])
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const denied = yield* Effect.flip(auth.validate({ apiKey: api_key, requiredPermission: "config_write" }))
          assert.strictEqual(denied._tag, "ApiKeyPermissionDenied")
          const check = yield* auth.checkPermission(api_key, "config_write")
          assert.isFalse(check.has_permission)
          assert.deepStrictEqual(check.all_permissions, ["chat"])
          assert.strictEqual(check.api_key_status, "active")
          assert.isTrue((yield* auth.checkPermission(api_key, "chat")).has_permission)
          assert.strictEqual((yield* auth.get(key.api_key_id)).usage_count, 0)
        }))

      test.effect("a disabled, expired or deleted key fails the very next check", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const disabled = yield* issue()
          yield* auth.validate({ apiKey: disabled.api_key })
          yield* auth.disable(disabled.key.api_key_id)
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: disabled.api_key })), "ApiKeyDisabled")
          assert.strictEqual(yield* tagOf(auth.checkPermission(disabled.api_key, "chat")), "ApiKeyDisabled")
          yield* auth.update(disabled.key.api_key_id, { status: "active" })
          yield* auth.validate({ apiKey: disabled.api_key })

          const expiring = yield* issue()
          yield* auth.update(expiring.key.api_key_id, {
            expires_at: DateTime.makeUnsafe(Date.now() - 1000)
          })
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: expiring.api_key })), "ApiKeyExpired")
          assert.strictEqual((yield* auth.get(expiring.key.api_key_id)).status, "expired")
          const sql = yield* SqlClient.SqlClient
          const [row] = yield* sql<{ readonly status: string }>`SELECT status FROM api_keys WHERE id = ${expiring.key.api_key_id}`
          assert.strictEqual(row?.status, "expired", "the original's validate marks the key expired")

          const deleted = yield* issue()
          yield* auth.remove(deleted.key.api_key_id)
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: deleted.api_key })), "ApiKeyUnknown")
          assert.strictEqual(yield* tagOf(auth.remove(deleted.key.api_key_id)), "ApiKeyNotFound")
        }))

      test.effect("an inactive tenant or agent, or a deleted agent or tenant, makes its keys fail", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const store = yield* TenantStore
          const first = yield* issue()
          yield* store.updateTenant(first.tenant.id, { status: "suspended" })
          const suspended = yield* Effect.flip(auth.validate({ apiKey: first.api_key }))
          assert.strictEqual(suspended._tag, "ApiKeyOwnerInactive")
          yield* store.updateTenant(first.tenant.id, { status: "active" })
          yield* store.updateAgent(first.agent.id, { status: "archived" })
          const archived = yield* Effect.flip(auth.validate({ apiKey: first.api_key }))
          assert.strictEqual(archived._tag === "ApiKeyOwnerInactive" ? archived.owner : archived._tag, "agent")

          const second = yield* issue()
          yield* store.deleteAgent(second.agent.id)
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: second.api_key })), "ApiKeyUnknown")
          assert.strictEqual(yield* tagOf(auth.get(second.key.api_key_id)), "ApiKeyNotFound", "the key went with its agent")

          const third = yield* issue()
          yield* store.deleteTenant(third.tenant.id)
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: third.api_key })), "ApiKeyUnknown")
          assert.strictEqual(yield* tagOf(auth.get(third.key.api_key_id)), "ApiKeyNotFound")
        }))

      test.effect("a change written around the service (another process, plain SQL) fails the very next check", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const sql = yield* SqlClient.SqlClient
          const epoch = Effect.map(sql<{ readonly epoch: number | bigint | string }>`SELECT epoch FROM api_key_epoch`, (rows) =>
            Number(rows[0]?.epoch))
          const { tenant, agent, key, api_key } = yield* issue()
          yield* auth.validate({ apiKey: api_key })
          const before = yield* epoch
          yield* auth.validate({ apiKey: api_key })
          yield* auth.flushUsage
          yield* sql`UPDATE api_keys SET name = ${unique("renamed")}, description = 'd' WHERE id = ${key.api_key_id}`
          assert.strictEqual(yield* epoch, before, "usage and cosmetic edits keep the index")

          yield* sql`UPDATE api_keys SET status = 'disabled' WHERE id = ${key.api_key_id}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key })), "ApiKeyDisabled")
          yield* sql`UPDATE api_keys SET status = 'active' WHERE id = ${key.api_key_id}`
          yield* auth.validate({ apiKey: api_key })
          yield* sql`UPDATE api_keys SET permissions = '[]' WHERE id = ${key.api_key_id}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key, requiredPermission: "chat" })), "ApiKeyPermissionDenied")
          yield* sql`UPDATE agents SET status = 'inactive' WHERE id = ${agent.id}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key })), "ApiKeyOwnerInactive")
          yield* sql`UPDATE agents SET status = 'active' WHERE id = ${agent.id}`
          yield* sql`UPDATE tenants SET status = 'suspended' WHERE id = ${tenant.id}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key })), "ApiKeyOwnerInactive")
          yield* sql`UPDATE tenants SET status = 'active' WHERE id = ${tenant.id}`
          yield* auth.validate({ apiKey: api_key })
          yield* sql`DELETE FROM api_keys WHERE id = ${key.api_key_id}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key })), "ApiKeyUnknown")
          assert.isAbove(yield* epoch, before)
        }))

      // MySQL and MariaDB fire no trigger on rows a foreign key's cascade deletes: the tenant's or agent's own
      // delete trigger has to bump the epoch for the keys that went with it.
      test.effect("a tenant or agent deleted in plain SQL takes its keys along and fails their very next check", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const sql = yield* SqlClient.SqlClient
          const keysOf = (id: string) =>
            Effect.map(sql<{ readonly total: number | bigint }>`SELECT COUNT(*) AS total FROM api_keys WHERE id = ${id}`, (rows) =>
              Number(rows[0]?.total))
          const byAgent = yield* issue()
          const byTenant = yield* issue()
          for (const { api_key } of [byAgent, byTenant]) assert.isTrue((yield* auth.validate({ apiKey: api_key })).valid)

          yield* sql`DELETE FROM agents WHERE id = ${byAgent.agent.id}`
          assert.strictEqual(yield* keysOf(byAgent.key.api_key_id), 0, "the key cascaded away with its agent")
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: byAgent.api_key })), "ApiKeyUnknown")
          assert.isTrue((yield* auth.validate({ apiKey: byTenant.api_key })).valid, "other keys still validate")

          yield* sql`DELETE FROM tenants WHERE id = ${byTenant.tenant.id}`
          assert.strictEqual(yield* keysOf(byTenant.key.api_key_id), 0, "agent and key cascaded away with the tenant")
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: byTenant.api_key })), "ApiKeyUnknown")
        }))

      test.effect("200 concurrent validations, with writes of the counts in between, lose no count", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const sql = yield* SqlClient.SqlClient
          const keys = yield* Effect.all([issue(), issue(), issue(), issue()])
          yield* Effect.all(
            Array.from({ length: 200 }, (_, index) =>
              index % 20 === 19
                ? Effect.andThen(auth.flushUsage, auth.validate({ apiKey: keys[index % 4]?.api_key ?? "" }))
                : auth.validate({ apiKey: keys[index % 4]?.api_key ?? "" })),
            { concurrency: "unbounded", discard: true }
          )
          yield* auth.flushUsage
          const rows = yield* sql<{ readonly usage_count: number | bigint }>`SELECT usage_count FROM api_keys WHERE id IN ${
            sql.in(keys.map((key) => key.key.api_key_id))
          }`
          assert.deepStrictEqual(rows.map((row) => Number(row.usage_count)), [50, 50, 50, 50])
          assert.strictEqual(yield* auth.pendingUsage, 0)
        }))

      test.effect("a check never reads a revocation that is not committed: rolled back, it leaves the index right", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const sql = yield* SqlClient.SqlClient
          const { key, api_key } = yield* issue()
          yield* auth.validate({ apiKey: api_key })
          const written = yield* Deferred.make<void>()
          const rollBack = yield* Deferred.make<void>()
          const revocation = yield* sql.withTransaction(Effect.gen(function*() {
            yield* sql`UPDATE api_keys SET status = 'disabled' WHERE id = ${key.api_key_id}`
            yield* Deferred.succeed(written, undefined)
            yield* Deferred.await(rollBack)
            return yield* Effect.fail("rolled back")
          })).pipe(Effect.exit, Effect.forkChild)
          yield* Deferred.await(written)
          // On SQLite a check shares the transaction's one connection and must wait for its end: a read now would
          // see the uncommitted write and its bumped epoch, and the index would keep rows under an epoch that the
          // rollback takes back and a later change hands out again. PostgreSQL reads what is committed.
          const during = yield* Effect.forkChild(auth.validate({ apiKey: api_key }))
          yield* Effect.yieldNow
          if (backend === "sqlite") assert.isUndefined(during.pollUnsafe(), "a check waits for the open transaction")
          yield* Deferred.succeed(rollBack, undefined)
          yield* Fiber.join(revocation)
          assert.isTrue((yield* Fiber.join(during)).valid, "the revocation was rolled back")
          yield* sql`UPDATE api_keys SET status = 'disabled' WHERE id = ${key.api_key_id}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key })), "ApiKeyDisabled")
        }))

      test.effect("without its epoch row the index is bypassed, so a revocation still fails the next check", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const sql = yield* SqlClient.SqlClient
          const { key, api_key } = yield* issue()
          yield* auth.validate({ apiKey: api_key })
          yield* Effect.gen(function*() {
            yield* sql`DELETE FROM api_key_epoch`
            yield* auth.validate({ apiKey: api_key })
            yield* sql`UPDATE api_keys SET status = 'disabled' WHERE id = ${key.api_key_id}`
            assert.strictEqual(yield* tagOf(auth.validate({ apiKey: api_key })), "ApiKeyDisabled")
          }).pipe(Effect.ensuring(Effect.orDie(sql`INSERT INTO api_key_epoch (id, epoch) VALUES (1, 1000000)`)))
        }))

      test.effect("forged and altered keys never validate", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const { tenant, agent, api_key } = yield* issue()
          const other = yield* issue()
          const plain = Buffer.from(api_key.slice(4), "base64").toString()
          const random = plain.split("_")[4] ?? ""
          const forgeries = [
            "not a key",
            api_key.replace("mmc_", "MMC_"),
            `${api_key}x`,
            `${api_key.slice(0, 30)}A${api_key.slice(31)}`,
            ApiKeyAuth.generate(tenant.id, agent.id),
            `mmc_${Buffer.from(`${other.tenant.id}_${agent.id}_${random}_v1`).toString("base64")}`,
            `mmc_${Buffer.from(`${tenant.id}_${other.agent.id}_${random}_v1`).toString("base64")}`,
            `mmc_${Buffer.from(`${tenant.id}_${agent.id}_${random}_v2`).toString("base64")}`
          ]
          for (const forged of forgeries) {
            const exit = yield* Effect.exit(auth.validate({ apiKey: forged }))
            assert.isTrue(Exit.isFailure(exit), forged)
          }
          yield* auth.validate({ apiKey: api_key })
        }))

      test.effect("refuses a key for an agent of another tenant, and a taken name; updates and lists", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const a = yield* owner
          const b = yield* owner
          assert.strictEqual(
            yield* tagOf(auth.create({ tenant_id: a.tenant.id, agent_id: b.agent.id, name: "k" })),
            "AgentNotInTenant"
          )
          assert.strictEqual(
            yield* tagOf(auth.create({ tenant_id: "tenant_000000000000", agent_id: a.agent.id, name: "k" })),
            "TenantNotFound"
          )
          const first = yield* auth.create({ tenant_id: a.tenant.id, agent_id: a.agent.id, name: "k1" })
          assert.strictEqual(
            yield* tagOf(auth.create({ tenant_id: a.tenant.id, agent_id: a.agent.id, name: "k1" })),
            "ApiKeyNameTaken"
          )
          const second = yield* auth.create({ tenant_id: a.tenant.id, agent_id: a.agent.id, name: "k2" })
          assert.strictEqual(yield* tagOf(auth.update(second.key.api_key_id, { name: "k1" })), "ApiKeyNameTaken")
          const updated = yield* auth.update(second.key.api_key_id, {
            description: "d",
            permissions: ["a", "b"],
            expires_at: DateTime.makeUnsafe(Date.UTC(2099, 0, 1))
          })
          assert.strictEqual(updated.expires_at, "2099-01-01T00:00:00.000000")
          assert.deepStrictEqual(updated.permissions, ["a", "b"])
          yield* auth.disable(first.key.api_key_id)
          const listed = yield* auth.list({ tenant_id: a.tenant.id, page: 1, page_size: 20 })
          assert.strictEqual(listed.total, 2)
          assert.deepStrictEqual(listed.items.map((key) => key.name), ["k2", "k1"], "newest first")
          const disabled = yield* auth.list({ tenant_id: a.tenant.id, status: "disabled", page: 1, page_size: 20 })
          assert.deepStrictEqual(disabled.items.map((key) => key.name), ["k1"])
          const paged = yield* auth.list({ tenant_id: a.tenant.id, page: 2, page_size: 1 })
          assert.deepStrictEqual(paged.items.map((key) => key.name), ["k1"])
        }))

      test.effect("imports a key issued by the original, which then validates", () =>
        Effect.gen(function*() {
          const auth = yield* ApiKeyAuth.ApiKeyAuth
          const store = yield* TenantStore
          const tenantId = `tenant_${Crypto.randomBytes(6).toString("hex")}`
          const agentId = `agent_${Crypto.randomBytes(6).toString("hex")}`
          yield* store.createTenant({ tenant_name: unique("orig"), tenant_type: "personal" }, { id: tenantId })
          yield* store.createAgent({ tenant_id: tenantId, name: unique("orig") }, { id: agentId })
          const key = `mmc_${Buffer.from(`${tenantId}_${agentId}_${Crypto.randomBytes(8).toString("hex")}_v1`).toString("base64")}`
          assert.strictEqual(yield* tagOf(auth.validate({ apiKey: key })), "ApiKeyUnknown")
          const imported = yield* auth.importKey({ api_key: key, name: "from-original", permissions: ["chat"] })
          assert.strictEqual(imported.tenant_id, tenantId)
          assert.strictEqual((yield* auth.validate({ apiKey: key, requiredPermission: "chat" })).api_key_id, imported.api_key_id)
          assert.strictEqual(yield* tagOf(auth.importKey({ api_key: key, name: "again" })), "ApiKeyAlreadyStored")
          assert.strictEqual(yield* tagOf(auth.importKey({ api_key: "mmc_!!", name: "bad" })), "ApiKeyMalformed")
          assert.strictEqual(yield* tagOf(auth.importKey({ api_key: originalKey, name: "orphan" })), "TenantNotFound")
        }))
    }
  )
}

describe("ApiKeyAuth usage from two replicas on one database", () => {
  for (const backend of backendNames) {
    it.live(`${backend}: journaling and folding at once on both, 2 × 1,000 validations, lose no count`, () =>
      Effect.gen(function*() {
        const open = yield* reopenableDatabase(backend)
        // Writes every 8 uses and folds every 5 ms: both replicas append and fold all the time.
        const replica = () =>
          Layer.build(ControlPlaneDatabase.layerServices(open(), {
            catalog: {},
            apiKeys: { usageFlushInterval: 5, usageFlushMaxPending: 8 }
          }))
        // Both stop (writing what they counted) before the rows are read: a batch one replica is still writing
        // when the other folds is folded by whichever stops last.
        const keys = yield* Effect.gen(function*() {
          const a = yield* replica()
          const b = yield* replica()
          const issued = yield* Effect.all([issue(), issue()]).pipe(Effect.provide(a))
          const validations = (context: typeof a) =>
            Effect.forEach(
              Array.from({ length: 1000 }, (_, index) => issued[index % 2]?.api_key ?? ""),
              (apiKey) => Effect.flatMap(ApiKeyAuth.ApiKeyAuth, (auth) => auth.validate({ apiKey })),
              { concurrency: 8, discard: true }
            ).pipe(Effect.provide(context))
          yield* Effect.all([validations(a), validations(b)], { concurrency: 2, discard: true })
          return issued.map((key) => key.key.api_key_id)
        }).pipe(Effect.scoped)
        const rows = yield* Effect.flatMap(SqlClient.SqlClient, (sql) =>
          sql<{ readonly usage_count: number | bigint; readonly journaled: number | bigint | string }>`SELECT usage_count,
            (SELECT COUNT(*) FROM api_key_usage_journal) AS journaled FROM api_keys WHERE id IN ${sql.in(keys)}`
        ).pipe(Effect.provide(open()))
        assert.deepStrictEqual(rows.map((row) => Number(row.usage_count)), [1000, 1000])
        assert.deepStrictEqual(rows.map((row) => Number(row.journaled)), [0, 0], "nothing left unfolded")
      }).pipe(Effect.scoped), 60_000)
  }
})

describe("ApiKeyAuth usage on shutdown", () => {
  it.live("counts still in memory are written when the layer's scope closes", () =>
    Effect.gen(function*() {
      const database = Database.layerFile(Path.join(tempDir("usage"), "maikit.db"))
      const services = ControlPlaneDatabase.layerServices(database, { catalog: {}, apiKeys: { usageFlushInterval: 3_600_000 } })
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(services, scope)
      const { key, api_key } = yield* issue().pipe(Effect.provideContext(context))
      const auth = Context.get(context, ApiKeyAuth.ApiKeyAuth)
      for (let i = 0; i < 25; i++) yield* auth.validate({ apiKey: api_key })
      yield* Scope.close(scope, Exit.void)
      const reopened = yield* Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql<{ readonly usage_count: number }>`SELECT usage_count FROM api_keys WHERE id = ${key.api_key_id}`
      }).pipe(Effect.provide(database))
      assert.strictEqual(reopened[0]?.usage_count, 25)
    }))
})

/** What is on disk for a key: its row's count and what the usage journal holds for it, not yet folded. */
const durableUses = (id: string) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ readonly uses: number }>`SELECT usage_count + COALESCE(
      (SELECT SUM(uses) FROM api_key_usage_journal WHERE key_id = ${id}), 0) AS uses FROM api_keys WHERE id = ${id}`
    return Number(row?.uses)
  })

describe("ApiKeyAuth usage between writes", () => {
  it.live("a write starts once usageFlushMaxPending uses wait, without waiting for the interval", () =>
    Effect.gen(function*() {
      const database = Database.layerFile(Path.join(tempDir("usage"), "maikit.db"))
      const services = ControlPlaneDatabase.layerServices(database, {
        catalog: {},
        apiKeys: { usageFlushInterval: 3_600_000, usageFlushMaxPending: 10 }
      })
      yield* Effect.gen(function*() {
        const { key, api_key } = yield* issue()
        const auth = yield* ApiKeyAuth.ApiKeyAuth
        assert.deepStrictEqual(auth.usageFlush, { intervalMs: 3_600_000, maxPending: 10 })
        for (let i = 0; i < 25; i++) yield* auth.validate({ apiKey: api_key })
        const written = durableUses(key.api_key_id)
        const deadline = Date.now() + 5_000
        while ((yield* written) < 20 && Date.now() < deadline) yield* Effect.sleep(10)
        const count = yield* written
        assert.isAtLeast(count, 20, "two batches of 10 written long before the hour is up")
        assert.strictEqual(yield* auth.pendingUsage, 25 - count)
        assert.isBelow(yield* auth.pendingUsage, 10)
        assert.strictEqual((yield* auth.get(key.api_key_id)).usage_count, 25, "reads add what is pending")
        yield* auth.flushUsage
        const sql = yield* SqlClient.SqlClient
        const [row] = yield* sql<{ readonly usage_count: number }>`SELECT usage_count FROM api_keys WHERE id = ${key.api_key_id}`
        assert.strictEqual(Number(row?.usage_count), 25, "flushUsage folds the journal into the key's row")
        assert.deepStrictEqual(yield* sql`SELECT * FROM api_key_usage_journal`, [])
      }).pipe(Effect.provide(services))
    }))

  it.live("kill -9 after 1,000 acknowledged validations loses at most 2 × usageFlushMaxPending uses", () =>
    Effect.gen(function*() {
      const filename = Path.join(tempDir("usage-crash"), "maikit.db")
      const validations = 1000
      const done = yield* Effect.promise(() =>
        new Promise<{ readonly id: string; readonly pending: number }>((resolve, reject) => {
          const child = spawn(process.execPath, ["--conditions=source", fixture("usageCrash.ts"), filename, String(validations)], {
            stdio: ["ignore", "pipe", "inherit"]
          })
          let output = ""
          child.stdout.on("data", (chunk: Buffer) => {
            output += chunk.toString()
            const match = /DONE (\S+) (\d+)/.exec(output)
            if (match === null) return
            child.kill("SIGKILL")
            child.once("exit", () => resolve({ id: match[1] ?? "", pending: Number(match[2]) }))
          })
          child.once("error", reject)
        })
      )
      const written = yield* durableUses(done.id).pipe(Effect.provide(Database.layerFile(filename)), Effect.orDie)
      const lost = validations - written
      assert.isAtMost(
        lost,
        2 * ApiKeyAuth.defaultUsageFlushMaxPending,
        `lost ${lost} of ${validations}; ${done.pending} were pending when it printed DONE`
      )
    }), 30_000)
})

