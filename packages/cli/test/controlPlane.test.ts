import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import { spawn, spawnSync } from "node:child_process"
import * as Crypto from "node:crypto"
import { tempDir } from "../../core/test/helpers/controlPlane.ts"
import { freePort } from "../../core/test/helpers/mqtt.ts"
import { freshDatabase, TestPostgres } from "../../core/test/helpers/postgres.ts"
import * as Cli from "../src/Cli.ts"
import { bin } from "./helpers.ts"

/** The real binary, as a user runs it. */
const run = (args: ReadonlyArray<string>) =>
  spawnSync(process.execPath, ["--conditions=source", bin, ...args], { encoding: "utf8", timeout: 30_000 })

/** `maikit …` in this process, with its console captured. */
const maikit = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(Cli.run(args))
    const out = (yield* TestConsole.logLines).map(String).join("\n")
    const err = (yield* TestConsole.errorLines).map(String).join("\n")
    return { ok: Exit.isSuccess(exit), out, err, failure: Exit.isFailure(exit) ? String(exit.cause) : "" }
  }).pipe(Effect.provide(TestConsole.layer), Effect.provide(NodeServices.layer))

const ok = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const result = yield* maikit(args)
    assert.isTrue(result.ok, `maikit ${args.join(" ")} failed: ${result.failure}`)
    return result
  })

const fails = (args: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const result = yield* maikit(args)
    assert.isFalse(result.ok, `maikit ${args.join(" ")} should fail`)
    return result
  })

const json = <A>(text: string): A => JSON.parse(text) as A

interface Ids {
  readonly tenant: string
  readonly agent: string
}

const seed = (where: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const tenant = json<{ id: string }>((yield* ok(["tenants", "create", "--name", `acme-${Crypto.randomUUID()}`, "--json", ...where])).out)
    const agent = json<{ id: string }>(
      (yield* ok(["agents", "create", "--tenant", tenant.id, "--name", "bot", "--json", ...where])).out
    )
    return { tenant: tenant.id, agent: agent.id } satisfies Ids
  })

const keyFlow = (where: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const { tenant, agent } = yield* seed(where)
    const created = yield* ok(["keys", "create", "--tenant", tenant, "--agent", agent, "--name", "k1", "--permission", "chat", ...where])
    const key = created.out.trim()
    assert.match(key, /^mmc_[A-Za-z0-9+/]+=*$/, "stdout is the key alone")
    assert.include(created.err, "only time it is shown")
    const listed = yield* ok(["keys", "ls", "--tenant", tenant, ...where])
    assert.notInclude(listed.out, key)
    assert.include(listed.out, `${key.slice(0, 20)}********`)
    assert.include((yield* ok(["keys", "verify", key, "--permission", "chat", ...where])).out, "valid:")
    assert.include((yield* fails(["keys", "verify", key, "--permission", "admin", ...where])).failure, "权限")
    const id = json<{ items: Array<{ api_key_id: string }> }>((yield* ok(["keys", "ls", "--tenant", tenant, "--json", ...where])).out)
      .items[0]?.api_key_id ?? ""
    yield* ok(["keys", "disable", id, ...where])
    yield* fails(["keys", "verify", key, ...where])
    yield* ok(["keys", "rm", id, ...where])
    yield* fails(["keys", "rm", id, ...where])
    return { tenant, agent }
  })

describe("maikit tenants / agents / keys on SQLite", () => {
  it.live("creates, lists, shows and deletes tenants and agents", () =>
    Effect.gen(function*() {
      const where = ["--data-dir", tempDir("cli-cp")]
      const { tenant, agent } = yield* seed(where)
      assert.match(tenant, /^tenant_[0-9a-f]{12}$/)
      const tenants = yield* ok(["tenants", "ls", ...where])
      assert.include(tenants.out, tenant)
      assert.include(tenants.out, "1 of 1")
      assert.strictEqual(json<{ id: string }>((yield* ok(["tenants", "get", tenant, ...where])).out).id, tenant)
      assert.include((yield* ok(["agents", "ls", "--tenant", tenant, ...where])).out, agent)
      const shown = json<{ config: { persona: object } }>((yield* ok(["agents", "get", agent, ...where])).out)
      assert.property(shown.config, "persona")
      yield* ok(["tenants", "create", "--name", "dup", ...where])
      assert.include((yield* fails(["tenants", "create", "--name", "dup", ...where])).failure, "租户名称已存在")
      yield* ok(["agents", "rm", agent, ...where])
      assert.include((yield* fails(["agents", "get", agent, ...where])).failure, "Agent不存在")
      yield* ok(["tenants", "rm", tenant, ...where])
      assert.include((yield* fails(["tenants", "get", tenant, ...where])).failure, "租户不存在")
    }))

  it.live("issues a key once, lists it masked, verifies, disables and deletes it", () =>
    keyFlow(["--data-dir", tempDir("cli-keys")]))

  it.live("imports a key issued by the original, for a tenant and agent created with the original's ids", () =>
    Effect.gen(function*() {
      const where = ["--data-dir", tempDir("cli-import")]
      const tenantId = `tenant_${Crypto.randomBytes(6).toString("hex")}`
      const agentId = `agent_${Crypto.randomBytes(6).toString("hex")}`
      yield* fails(["tenants", "create", "--name", "orig", "--id", "tenant_not_hex", ...where])
      yield* ok(["tenants", "create", "--name", "orig", "--id", tenantId, ...where])
      yield* ok(["agents", "create", "--tenant", tenantId, "--name", "orig", "--id", agentId, ...where])
      const key = `mmc_${Buffer.from(`${tenantId}_${agentId}_${Crypto.randomBytes(8).toString("hex")}_v1`).toString("base64")}`
      yield* fails(["keys", "verify", key, ...where])
      assert.include((yield* ok(["keys", "import", key, "--name", "legacy", "--permission", "chat", ...where])).out, "only its hash")
      assert.include((yield* ok(["keys", "verify", key, "--permission", "chat", ...where])).out, tenantId)
      assert.include((yield* fails(["keys", "import", "sk-not-ours", "--name", "x", ...where])).failure, "格式")
      assert.include(
        (yield* fails(["keys", "create", "--tenant", tenantId, "--agent", agentId, "--name", "e", "--expires-at", "soon", ...where]))
          .failure,
        "expires-at"
      )
    }))
})

describe("maikit keys on PostgreSQL (DATABASE_URL)", () => {
  it.live("runs the key flow against the database DATABASE_URL names", () =>
    Effect.gen(function*() {
      const url = yield* freshDatabase
      const previous = process.env["DATABASE_URL"]
      process.env["DATABASE_URL"] = url
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          if (previous === undefined) delete process.env["DATABASE_URL"]
          else process.env["DATABASE_URL"] = previous
        })
      )
      const dataDir = tempDir("cli-pg")
      const { tenant } = yield* keyFlow(["--data-dir", dataDir])
      assert.include((yield* ok(["tenants", "ls", "--data-dir", dataDir])).out, tenant)
      assert.include((yield* ok(["tenants", "ls", "--data-dir", tempDir("cli-pg-other")])).out, tenant, "the data dir is not used")
    }).pipe(Effect.scoped, Effect.provide(TestPostgres.layer)))
})

describe("the maikit binary", () => {
  it.live("lists the control-plane commands, prints a new key on stdout and its warning on stderr, exits 1 on errors", () =>
    Effect.gen(function*() {
      const help = yield* ok(["--help"])
      for (const command of ["tenants", "agents", "keys"]) assert.include(help.out, command)
      const where = ["--data-dir", tempDir("cli-bin")]
      const { tenant, agent } = yield* seed(where)
      const created = run(["keys", "create", "--tenant", tenant, "--agent", agent, "--name", "k", ...where])
      assert.strictEqual(created.status, 0, created.stderr)
      assert.match(created.stdout, /^mmc_[A-Za-z0-9+/]+=*\n$/)
      assert.include(created.stderr, "only time it is shown")
      const duplicate = run(["keys", "create", "--tenant", tenant, "--agent", agent, "--name", "k", ...where])
      assert.strictEqual(duplicate.status, 1)
      assert.include(duplicate.stderr, "同名API密钥")
    }), 60_000)

  it.live("serve answers the control plane next to the launcher, JSON at / for API clients and HTML for browsers", () =>
    Effect.gen(function*() {
      const dataDir = tempDir("cli-serve")
      const port = yield* freePort()
      const child = spawn(process.execPath, ["--conditions=source", bin, "serve", "--port", String(port), "--data-dir", dataDir], {
        stdio: "ignore"
      })
      yield* Effect.addFinalizer(() =>
        Effect.promise(() =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once("exit", () => resolve())
            child.kill("SIGINT")
          })
        )
      )
      const base = `http://127.0.0.1:${port}`
      const health = yield* Effect.promise(async () => {
        for (let attempt = 0; attempt < 150; attempt++) {
          try {
            return (await (await fetch(`${base}/health`)).json()) as { status: string }
          } catch {
            await new Promise((resolve) => setTimeout(resolve, 100))
          }
        }
        return { status: "unreachable" }
      })
      assert.strictEqual(health.status, "healthy")
      const root = yield* Effect.promise(() => fetch(`${base}/`, { headers: { accept: "application/json" } }).then((r) => r.json()))
      assert.deepInclude(root as object, { message: "MaiMBot API Server" })
      const page = yield* Effect.promise(() => fetch(`${base}/`, { headers: { accept: "text/html" } }).then((r) => r.text()))
      assert.include(page, "<!DOCTYPE html>")
      const created = yield* Effect.promise(() =>
        fetch(`${base}/api/v2/tenants`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ tenant_name: "served", tenant_type: "personal" })
        }).then((r) => r.json())
      )
      assert.deepInclude(created as object, { success: true })
      const launcher = yield* Effect.promise(() => fetch(`${base}/api/v1/system/health`).then((r) => r.status))
      assert.strictEqual(launcher, 200)
    }), 60_000)
})

