/** What `maikit tenants|agents|keys …` do (the definitions are in `commands/controlPlane.ts`). */
import * as Console from "effect/Console"
import * as DateTime from "effect/DateTime"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { ApiKeyAuth, ControlPlaneDatabase, TenantStore } from "@maikit/core/control-plane"
import type * as Commands from "../commands/controlPlane.ts"
import type { Input, Local } from "../commands/flags.ts"
import { onDatabase, settings } from "./local.ts"
import { fail, printJson, table } from "./output.ts"

/** Runs `effect` on the configured database: SQLite in --data-dir, or PostgreSQL when DATABASE_URL says so. */
const onControlPlane = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Local,
  effect: Effect.Effect<A, E, ControlPlaneDatabase.Services>
) => onDatabase(ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layer).pipe(Layer.provide(settings(flags))), effect)

const pageOf = (value: number) => Math.min(Math.max(value, 1), 1_000_000)
const sizeOf = (value: number) => Math.min(Math.max(value, 1), 100)

const pageFooter = (shown: number, total: number, current: number, pages: number) =>
  `${shown} of ${total} (page ${current} of ${Math.max(pages, 1)})`

/** `--id`, when given, checked against the id's schema (`tenant_` or `agent_` and 12 hex digits). */
const keptId = (schema: Schema.Decoder<string>, id: Option.Option<string>) =>
  Option.match(id, {
    onNone: () => Effect.succeed({}),
    onSome: (value) =>
      Schema.decodeUnknownEffect(schema)(value).pipe(
        Effect.map((decoded) => ({ id: decoded })),
        Effect.catch((error) => fail(`invalid --id ${value}: ${error.message}`))
      )
  })

export const tenantsCreate = (flags: Input<typeof Commands.tenantsCreateFlags>) =>
  Effect.gen(function*() {
    const options = yield* keptId(TenantStore.TenantId, flags.id)
    yield* onControlPlane(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      const tenant = yield* store.createTenant({
        tenant_name: flags.name,
        tenant_type: flags.type,
        description: Option.getOrNull(flags.description),
        contact_email: Option.getOrNull(flags.email),
        owner_id: Option.getOrNull(flags.owner)
      }, options)
      yield* flags.json ? printJson(tenant) : Console.log(`Created tenant ${tenant.id} (${tenant.tenant_name})`)
    }))
  })

export const tenantsList = (flags: Input<typeof Commands.tenantsListFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    const store = yield* TenantStore.TenantStore
    const result = yield* store.listTenants({ page: pageOf(flags.page), size: sizeOf(flags.size) })
    if (flags.json) return yield* printJson(result)
    yield* Console.log(table(
      ["ID", "NAME", "TYPE", "STATUS", "CREATED"],
      result.items.map((t) => [t.id, t.tenant_name, t.tenant_type, t.status, t.created_at])
    ))
    yield* Console.log(pageFooter(result.items.length, result.total, result.page, result.pages))
  }))

export const tenantsGet = (flags: Input<typeof Commands.tenantFlags>) =>
  onControlPlane(flags, TenantStore.TenantStore.use((store) => Effect.flatMap(store.getTenant(flags.id), printJson)))

export const tenantsRemove = (flags: Input<typeof Commands.tenantFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    yield* TenantStore.TenantStore.use((store) => store.deleteTenant(flags.id))
    yield* Console.log(`Deleted tenant ${flags.id} with its agents, API keys, activity and plugin settings`)
  }))

export const agentsCreate = (flags: Input<typeof Commands.agentsCreateFlags>) =>
  Effect.gen(function*() {
    const options = yield* keptId(TenantStore.AgentId, flags.id)
    yield* onControlPlane(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      const agent = yield* store.createAgent({
        tenant_id: flags.tenant,
        name: flags.name,
        description: Option.getOrNull(flags.description),
        template_id: Option.getOrNull(flags.template)
      }, options)
      yield* flags.json ? printJson(agent) : Console.log(`Created agent ${agent.id} (${agent.name}) in ${agent.tenant_id}`)
    }))
  })

export const agentsList = (flags: Input<typeof Commands.agentsListFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    const store = yield* TenantStore.TenantStore
    const result = yield* store.listAgents({
      tenant_id: flags.tenant,
      status: Option.getOrUndefined(flags.status),
      page: pageOf(flags.page),
      size: sizeOf(flags.size)
    })
    if (flags.json) return yield* printJson(result)
    yield* Console.log(table(
      ["ID", "NAME", "STATUS", "CREATED"],
      result.items.map((a) => [a.id, a.name, a.status, a.created_at])
    ))
    yield* Console.log(pageFooter(result.items.length, result.total, result.page, result.pages))
  }))

export const agentsGet = (flags: Input<typeof Commands.agentFlags>) =>
  onControlPlane(flags, TenantStore.TenantStore.use((store) => Effect.flatMap(store.getAgent(flags.id), printJson)))

export const agentsRemove = (flags: Input<typeof Commands.agentFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    yield* TenantStore.TenantStore.use((store) => store.deleteAgent(flags.id))
    yield* Console.log(`Deleted agent ${flags.id} with its API keys, activity and plugin settings`)
  }))

const parseExpiry = (value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(null),
    onSome: (text) =>
      Option.match(DateTime.make(text), {
        onNone: () => fail(`invalid --expires-at: ${text}`),
        onSome: (time) => Effect.succeed(DateTime.toUtc(time))
      })
  })

const keyRows = (keys: ReadonlyArray<ApiKeyAuth.ApiKey>) =>
  keys.map((k) => [k.api_key_id, k.name, k.agent_id, k.status, k.api_key, String(k.usage_count), k.last_used_at ?? "-"])

export const keysCreate = (flags: Input<typeof Commands.keysCreateFlags>) =>
  Effect.gen(function*() {
    const expires = yield* parseExpiry(flags.expiresAt)
    yield* onControlPlane(flags, Effect.gen(function*() {
      const auth = yield* ApiKeyAuth.ApiKeyAuth
      const created = yield* auth.create({
        tenant_id: flags.tenant,
        agent_id: flags.agent,
        name: flags.name,
        description: Option.getOrNull(flags.description),
        permissions: flags.permission,
        expires_at: expires
      })
      if (flags.json) return yield* printJson({ ...created.key, api_key: created.api_key })
      yield* Console.log(created.api_key)
      yield* Console.error(
        `Created API key ${created.key.api_key_id} (${created.key.name}) for ${created.key.agent_id}.\n` +
          "Store it now: this is the only time it is shown. MaiKit keeps only its SHA-256 hash."
      )
    }))
  })

export const keysList = (flags: Input<typeof Commands.keysListFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    const auth = yield* ApiKeyAuth.ApiKeyAuth
    const current = pageOf(flags.page)
    const pageSize = sizeOf(flags.size)
    const result = yield* auth.list({
      tenant_id: flags.tenant,
      agent_id: Option.getOrUndefined(flags.agent),
      status: Option.getOrUndefined(flags.status),
      page: current,
      page_size: pageSize
    })
    if (flags.json) return yield* printJson(result)
    yield* Console.log(table(["ID", "NAME", "AGENT", "STATUS", "KEY", "USES", "LAST USED"], keyRows(result.items)))
    yield* Console.log(pageFooter(result.items.length, result.total, current, Math.ceil(result.total / pageSize)))
  }))

export const keysDisable = (flags: Input<typeof Commands.keyFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    const key = yield* ApiKeyAuth.ApiKeyAuth.use((auth) => auth.disable(flags.id))
    yield* flags.json ? printJson(key) : Console.log(`Disabled API key ${key.api_key_id}; it fails the next check`)
  }))

export const keysRemove = (flags: Input<typeof Commands.keyFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    yield* ApiKeyAuth.ApiKeyAuth.use((auth) => auth.remove(flags.id))
    yield* Console.log(`Deleted API key ${flags.id}`)
  }))

export const keysVerify = (flags: Input<typeof Commands.keysVerifyFlags>) =>
  onControlPlane(flags, Effect.gen(function*() {
    const result = yield* ApiKeyAuth.ApiKeyAuth.use((auth) =>
      auth.validate({ apiKey: flags.key, requiredPermission: Option.getOrUndefined(flags.permission), recordUsage: false })
    )
    yield* flags.json
      ? printJson(result)
      : Console.log(
        `valid: ${result.api_key_id} of ${result.agent_id} (${result.tenant_id}), permissions: ${
          result.permissions.join(", ") || "none"
        }`
      )
  }))

export const keysImport = (flags: Input<typeof Commands.keysImportFlags>) =>
  Effect.gen(function*() {
    const expires = yield* parseExpiry(flags.expiresAt)
    yield* onControlPlane(flags, Effect.gen(function*() {
      const key = yield* ApiKeyAuth.ApiKeyAuth.use((auth) =>
        auth.importKey({
          api_key: flags.key,
          name: flags.name,
          description: Option.getOrNull(flags.description),
          permissions: flags.permission,
          expires_at: expires
        })
      )
      yield* flags.json
        ? printJson(key)
        : Console.log(`Imported API key ${key.api_key_id} for ${key.agent_id} (${key.tenant_id}); only its hash is stored`)
    }))
  })
