/**
 * `maikit tenants|agents|keys …`: the control plane from the command line, straight on the local database
 * (the SQLite file in `--data-dir`, or PostgreSQL when `DATABASE_URL` is a `postgres://` URL), no server
 * needed. `keys create` prints the new key once; MaiKit keeps only its hash.
 */
import { Console, DateTime, Effect, Layer, Option, References } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import { ApiKeyAuth, ControlPlaneDatabase, TenantStore } from "@maikit/core/control-plane"
import { MaikitConfig } from "@maikit/core/platform"

const dataDir = Flag.String("data-dir").pipe(
  Flag.withDescription("Directory of the SQLite database (default ./data); DATABASE_URL=postgres://… selects PostgreSQL"),
  Flag.optional
)
const config = Flag.String("config").pipe(
  Flag.withDescription("TOML configuration file (default ./maikit.toml when present)"),
  Flag.optional
)
const json = Flag.Boolean("json").pipe(Flag.withDescription("Print JSON instead of text"), Flag.withDefault(false))
const page = Flag.Int("page").pipe(Flag.withDescription("Page number (default 1)"), Flag.withDefault(1))
const pageOf = (value: number) => Math.min(Math.max(value, 1), 1_000_000)
const sizeOf = (value: number) => Math.min(Math.max(value, 1), 100)
const size = Flag.Int("size").pipe(Flag.withDescription("Items per page, 1–100 (default 20)"), Flag.withDefault(20))

const common = { dataDir, config, json }

interface Common {
  readonly dataDir: Option.Option<string>
  readonly config: Option.Option<string>
  readonly json: boolean
}

const services = (flags: Common) =>
  ControlPlaneDatabase.layerServices(ControlPlaneDatabase.layer).pipe(
    Layer.provide(MaikitConfig.MaikitConfig.layer({
      overrides: { dataDir: Option.getOrUndefined(flags.dataDir), configFile: Option.getOrUndefined(flags.config) }
    }))
  )

/**
 * Runs `effect` on the configured database. Failures are shown as one line (`CliError.UserError`); a bad
 * configuration stays a `MaikitConfigError`, which `maikit` reports with exit code 2.
 */
const onDatabase = <A, E extends { readonly message: string; readonly _tag: string }>(
  flags: Common,
  effect: Effect.Effect<A, E, ControlPlaneDatabase.Services>
) =>
  effect.pipe(
    Effect.provide(services(flags)),
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.mapError((error) =>
      error._tag === "MaikitConfigError" ? error : new CliError.UserError({ cause: error, userMessage: error.message })
    )
  )

const printJson = (value: unknown) => Console.log(JSON.stringify(value, null, 2))

/** Aligned columns, for `ls`. */
const table = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const widths = header.map((cell, column) => Math.max(cell.length, ...rows.map((row) => (row[column] ?? "").length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ").trimEnd()
  return [line(header), ...rows.map(line)].join("\n")
}

const pageFooter = (shown: number, total: number, current: number, pages: number) =>
  `${shown} of ${total} (page ${current} of ${Math.max(pages, 1)})`

const tenantId = Argument.String("tenant-id").pipe(Argument.withDescription("The tenant's id (tenant_…)"))
const agentId = Argument.String("agent-id").pipe(Argument.withDescription("The agent's id (agent_…)"))
const keyId = Argument.String("key-id").pipe(Argument.withDescription("The key's id (key_…)"))
const optionalText = (name: string, description: string) =>
  Flag.String(name).pipe(Flag.withDescription(description), Flag.optional)

const tenantsCreate = Command.make(
  "create",
  {
    ...common,
    name: Flag.String("name").pipe(Flag.withDescription("Tenant name (unique)")),
    type: Flag.Literals("type", ["personal", "enterprise"]).pipe(
      Flag.withDescription("Tenant type"),
      Flag.withDefault("personal")
    ),
    description: optionalText("description", "Description"),
    email: optionalText("email", "Contact e-mail"),
    owner: optionalText("owner", "Owner id"),
    id: Flag.String("id").pipe(
      Flag.withDescription("Keep this id (tenant_ + 12 hex), e.g. when importing from the original"),
      Flag.withSchema(TenantStore.TenantId),
      Flag.optional
    )
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      const id = Option.getOrUndefined(flags.id)
      const tenant = yield* store.createTenant({
        tenant_name: flags.name,
        tenant_type: flags.type,
        description: Option.getOrNull(flags.description),
        contact_email: Option.getOrNull(flags.email),
        owner_id: Option.getOrNull(flags.owner)
      }, id === undefined ? {} : { id })
      yield* flags.json ? printJson(tenant) : Console.log(`Created tenant ${tenant.id} (${tenant.tenant_name})`)
    }))
).pipe(Command.withDescription("Create a tenant"))

const tenantsList = Command.make(
  "ls",
  { ...common, page, size },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      const result = yield* store.listTenants({ page: pageOf(flags.page), size: sizeOf(flags.size) })
      if (flags.json) return yield* printJson(result)
      yield* Console.log(table(
        ["ID", "NAME", "TYPE", "STATUS", "CREATED"],
        result.items.map((t) => [t.id, t.tenant_name, t.tenant_type, t.status, t.created_at])
      ))
      yield* Console.log(pageFooter(result.items.length, result.total, result.page, result.pages))
    }))
).pipe(Command.withDescription("List tenants, oldest first"), Command.withAlias("list"))

const tenantsGet = Command.make(
  "get",
  { ...common, id: tenantId },
  (flags) =>
    onDatabase(flags, Effect.flatMap(TenantStore.TenantStore, (store) => Effect.flatMap(store.getTenant(flags.id), printJson)))
).pipe(Command.withDescription("Show a tenant as JSON"))

const tenantsRemove = Command.make(
  "rm",
  { ...common, id: tenantId },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      yield* store.deleteTenant(flags.id)
      yield* Console.log(`Deleted tenant ${flags.id} with its agents, API keys, activity and plugin settings`)
    }))
).pipe(Command.withDescription("Delete a tenant and everything that belongs to it"), Command.withAlias("delete"))

export const tenants = Command.make("tenants").pipe(
  Command.withDescription("Manage control-plane tenants"),
  Command.withSubcommands([tenantsCreate, tenantsList, tenantsGet, tenantsRemove])
)

const agentsCreate = Command.make(
  "create",
  {
    ...common,
    tenant: Flag.String("tenant").pipe(Flag.withDescription("The tenant's id")),
    name: Flag.String("name").pipe(Flag.withDescription("Agent name (unique in the tenant)")),
    description: optionalText("description", "Description"),
    template: optionalText("template", "Template id"),
    id: Flag.String("id").pipe(
      Flag.withDescription("Keep this id (agent_ + 12 hex), e.g. when importing from the original"),
      Flag.withSchema(TenantStore.AgentId),
      Flag.optional
    )
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      const id = Option.getOrUndefined(flags.id)
      const agent = yield* store.createAgent({
        tenant_id: flags.tenant,
        name: flags.name,
        description: Option.getOrNull(flags.description),
        template_id: Option.getOrNull(flags.template)
      }, id === undefined ? {} : { id })
      yield* flags.json ? printJson(agent) : Console.log(`Created agent ${agent.id} (${agent.name}) in ${agent.tenant_id}`)
    }))
).pipe(Command.withDescription("Create an agent in a tenant"))

const agentsList = Command.make(
  "ls",
  {
    ...common,
    page,
    size,
    tenant: Flag.String("tenant").pipe(Flag.withDescription("The tenant's id")),
    status: Flag.Literals("status", ["active", "inactive", "archived"]).pipe(
      Flag.withDescription("Only agents with this status"),
      Flag.optional
    )
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
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
).pipe(Command.withDescription("List a tenant's agents"), Command.withAlias("list"))

const agentsGet = Command.make(
  "get",
  { ...common, id: agentId },
  (flags) =>
    onDatabase(flags, Effect.flatMap(TenantStore.TenantStore, (store) => Effect.flatMap(store.getAgent(flags.id), printJson)))
).pipe(Command.withDescription("Show an agent and its config (provider secrets masked) as JSON"))

const agentsRemove = Command.make(
  "rm",
  { ...common, id: agentId },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const store = yield* TenantStore.TenantStore
      yield* store.deleteAgent(flags.id)
      yield* Console.log(`Deleted agent ${flags.id} with its API keys, activity and plugin settings`)
    }))
).pipe(Command.withDescription("Delete an agent and its keys"), Command.withAlias("delete"))

export const agents = Command.make("agents").pipe(
  Command.withDescription("Manage control-plane agents"),
  Command.withSubcommands([agentsCreate, agentsList, agentsGet, agentsRemove])
)

const permissions = Flag.String("permission").pipe(
  Flag.withDescription("A permission the key grants (repeatable), e.g. chat"),
  Flag.atLeast(0)
)
const expiresAt = Flag.String("expires-at").pipe(
  Flag.withDescription("Expiry, ISO 8601 (UTC unless a zone is given)"),
  Flag.optional
)

const parseExpiry = (value: Option.Option<string>) =>
  Option.match(value, {
    onNone: () => Effect.succeed(null),
    onSome: (text) =>
      Option.match(DateTime.make(text), {
        onNone: () => Effect.fail(new CliError.UserError({ cause: text, userMessage: `invalid --expires-at: ${text}` })),
        onSome: (time) => Effect.succeed(DateTime.toUtc(time))
      })
  })

const keyRows = (keys: ReadonlyArray<ApiKeyAuth.ApiKey>) =>
  keys.map((k) => [k.api_key_id, k.name, k.agent_id, k.status, k.api_key, String(k.usage_count), k.last_used_at ?? "-"])

const keysCreate = Command.make(
  "create",
  {
    ...common,
    tenant: Flag.String("tenant").pipe(Flag.withDescription("The tenant's id")),
    agent: Flag.String("agent").pipe(Flag.withDescription("The agent's id (of that tenant)")),
    name: Flag.String("name").pipe(Flag.withDescription("Key name (unique in the tenant)")),
    description: optionalText("description", "Description"),
    permission: permissions,
    expiresAt
  },
  (flags) =>
    Effect.gen(function*() {
      const expires = yield* parseExpiry(flags.expiresAt)
      yield* onDatabase(flags, Effect.gen(function*() {
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
).pipe(Command.withDescription("Issue an API key for an agent; the key is printed once"))

const keysList = Command.make(
  "ls",
  {
    ...common,
    page,
    size,
    tenant: Flag.String("tenant").pipe(Flag.withDescription("The tenant's id")),
    agent: Flag.String("agent").pipe(Flag.withDescription("Only keys of this agent"), Flag.optional),
    status: Flag.Literals("status", ["active", "disabled", "expired"]).pipe(
      Flag.withDescription("Only keys with this status"),
      Flag.optional
    )
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
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
).pipe(Command.withDescription("List a tenant's API keys (masked), newest first"), Command.withAlias("list"))

const keysDisable = Command.make(
  "disable",
  { ...common, id: keyId },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const auth = yield* ApiKeyAuth.ApiKeyAuth
      const key = yield* auth.disable(flags.id)
      yield* flags.json ? printJson(key) : Console.log(`Disabled API key ${key.api_key_id}; it fails the next check`)
    }))
).pipe(Command.withDescription("Disable an API key (takes effect on the next check)"))

const keysRemove = Command.make(
  "rm",
  { ...common, id: keyId },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const auth = yield* ApiKeyAuth.ApiKeyAuth
      yield* auth.remove(flags.id)
      yield* Console.log(`Deleted API key ${flags.id}`)
    }))
).pipe(Command.withDescription("Delete an API key"), Command.withAlias("delete"))

const keysVerify = Command.make(
  "verify",
  {
    ...common,
    key: Argument.String("api-key").pipe(Argument.withDescription("The key to check (mmc_…)")),
    permission: Flag.String("permission").pipe(Flag.withDescription("A permission the key must have"), Flag.optional)
  },
  (flags) =>
    onDatabase(flags, Effect.gen(function*() {
      const auth = yield* ApiKeyAuth.ApiKeyAuth
      const result = yield* auth.validate({
        apiKey: flags.key,
        requiredPermission: Option.getOrUndefined(flags.permission),
        recordUsage: false
      })
      yield* flags.json
        ? printJson(result)
        : Console.log(
          `valid: ${result.api_key_id} of ${result.agent_id} (${result.tenant_id}), permissions: ${
            result.permissions.join(", ") || "none"
          }`
        )
    }))
).pipe(Command.withDescription("Check a key as the server would (exit code 1 when it is not valid); counts no use"))

const keysImport = Command.make(
  "import",
  {
    ...common,
    key: Argument.String("api-key").pipe(Argument.withDescription("A key issued by the original MaimConfig (mmc_…)")),
    name: Flag.String("name").pipe(Flag.withDescription("Key name (unique in the tenant)")),
    description: optionalText("description", "Description"),
    permission: permissions,
    expiresAt
  },
  (flags) =>
    Effect.gen(function*() {
      const expires = yield* parseExpiry(flags.expiresAt)
      yield* onDatabase(flags, Effect.gen(function*() {
        const auth = yield* ApiKeyAuth.ApiKeyAuth
        const key = yield* auth.importKey({
          api_key: flags.key,
          name: flags.name,
          description: Option.getOrNull(flags.description),
          permissions: flags.permission,
          expires_at: expires
        })
        yield* flags.json
          ? printJson(key)
          : Console.log(`Imported API key ${key.api_key_id} for ${key.agent_id} (${key.tenant_id}); only its hash is stored`)
      }))
    })
).pipe(Command.withDescription("Store an existing key (from the original) by its hash, so it validates here"))

export const keys = Command.make("keys").pipe(
  Command.withDescription("Manage control-plane API keys"),
  Command.withSubcommands([keysCreate, keysList, keysDisable, keysRemove, keysVerify, keysImport])
)
