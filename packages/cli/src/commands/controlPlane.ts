/**
 * `maikit tenants|agents|keys …`: the control plane from the command line, straight on the local database
 * (the SQLite file in `--data-dir`, or PostgreSQL when `DATABASE_URL` is a `postgres://` URL), no server
 * needed. `keys create` prints the new key once; MaiKit keeps only its hash. What they do is in
 * `handlers/controlPlane.ts`, loaded when one runs.
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { configFile, json, onUse, optionalText } from "./flags.ts"

const handlers = onUse(() => import("../handlers/controlPlane.ts"))

export const common = {
  dataDir: optionalText(
    "data-dir",
    "Directory of the SQLite database (default ./data); DATABASE_URL=postgres://… or mysql://… selects PostgreSQL or MySQL/MariaDB"
  ),
  config: configFile,
  json
}
const page = Flag.Int("page").pipe(Flag.withDescription("Page number (default 1)"), Flag.withDefault(1))
const size = Flag.Int("size").pipe(Flag.withDescription("Items per page, 1–100 (default 20)"), Flag.withDefault(20))
const tenant = Flag.String("tenant").pipe(Flag.withDescription("The tenant's id"))

const tenantId = Argument.String("tenant-id").pipe(Argument.withDescription("The tenant's id (tenant_…)"))
const agentId = Argument.String("agent-id").pipe(Argument.withDescription("The agent's id (agent_…)"))
const keyId = Argument.String("key-id").pipe(Argument.withDescription("The key's id (key_…)"))

export const tenantsCreateFlags = {
  ...common,
  name: Flag.String("name").pipe(Flag.withDescription("Tenant name (unique)")),
  type: Flag.Literals("type", ["personal", "enterprise"]).pipe(
    Flag.withDescription("Tenant type"),
    Flag.withDefault("personal")
  ),
  description: optionalText("description", "Description"),
  email: optionalText("email", "Contact e-mail"),
  owner: optionalText("owner", "Owner id"),
  id: optionalText("id", "Keep this id (tenant_ + 12 hex), e.g. when importing from the original")
}
export const tenantsListFlags = { ...common, page, size }
export const tenantFlags = { ...common, id: tenantId }

export const tenants = Command.make("tenants").pipe(
  Command.withDescription("Manage control-plane tenants"),
  Command.withSubcommands([
    Command.make("create", tenantsCreateFlags, (flags) => handlers((run) => run.tenantsCreate(flags))).pipe(
      Command.withDescription("Create a tenant")
    ),
    Command.make("ls", tenantsListFlags, (flags) => handlers((run) => run.tenantsList(flags))).pipe(
      Command.withDescription("List tenants, oldest first"),
      Command.withAlias("list")
    ),
    Command.make("get", tenantFlags, (flags) => handlers((run) => run.tenantsGet(flags))).pipe(
      Command.withDescription("Show a tenant as JSON")
    ),
    Command.make("rm", tenantFlags, (flags) => handlers((run) => run.tenantsRemove(flags))).pipe(
      Command.withDescription("Delete a tenant and everything that belongs to it"),
      Command.withAlias("delete")
    )
  ])
)

export const agentsCreateFlags = {
  ...common,
  tenant,
  name: Flag.String("name").pipe(Flag.withDescription("Agent name (unique in the tenant)")),
  description: optionalText("description", "Description"),
  template: optionalText("template", "Template id"),
  id: optionalText("id", "Keep this id (agent_ + 12 hex), e.g. when importing from the original")
}
export const agentsListFlags = {
  ...common,
  page,
  size,
  tenant,
  status: Flag.Literals("status", ["active", "inactive", "archived"]).pipe(
    Flag.withDescription("Only agents with this status"),
    Flag.optional
  )
}
export const agentFlags = { ...common, id: agentId }

export const agents = Command.make("agents").pipe(
  Command.withDescription("Manage control-plane agents"),
  Command.withSubcommands([
    Command.make("create", agentsCreateFlags, (flags) => handlers((run) => run.agentsCreate(flags))).pipe(
      Command.withDescription("Create an agent in a tenant")
    ),
    Command.make("ls", agentsListFlags, (flags) => handlers((run) => run.agentsList(flags))).pipe(
      Command.withDescription("List a tenant's agents"),
      Command.withAlias("list")
    ),
    Command.make("get", agentFlags, (flags) => handlers((run) => run.agentsGet(flags))).pipe(
      Command.withDescription("Show an agent and its config (provider secrets masked) as JSON")
    ),
    Command.make("rm", agentFlags, (flags) => handlers((run) => run.agentsRemove(flags))).pipe(
      Command.withDescription("Delete an agent and its keys"),
      Command.withAlias("delete")
    )
  ])
)

const permission = Flag.String("permission").pipe(
  Flag.withDescription("A permission the key grants (repeatable), e.g. chat"),
  Flag.atLeast(0)
)
const expiresAt = optionalText("expires-at", "Expiry, ISO 8601 (UTC unless a zone is given)")
const keyName = Flag.String("name").pipe(Flag.withDescription("Key name (unique in the tenant)"))
const description = optionalText("description", "Description")

export const keysCreateFlags = {
  ...common,
  tenant,
  agent: Flag.String("agent").pipe(Flag.withDescription("The agent's id (of that tenant)")),
  name: keyName,
  description,
  permission,
  expiresAt
}
export const keysListFlags = {
  ...common,
  page,
  size,
  tenant,
  agent: optionalText("agent", "Only keys of this agent"),
  status: Flag.Literals("status", ["active", "disabled", "expired"]).pipe(
    Flag.withDescription("Only keys with this status"),
    Flag.optional
  )
}
export const keyFlags = { ...common, id: keyId }
export const keysVerifyFlags = {
  ...common,
  key: Argument.String("api-key").pipe(Argument.withDescription("The key to check (mmc_…)")),
  permission: optionalText("permission", "A permission the key must have")
}
export const keysImportFlags = {
  ...common,
  key: Argument.String("api-key").pipe(Argument.withDescription("A key issued by the original MaimConfig (mmc_…)")),
  name: keyName,
  description,
  permission,
  expiresAt
}

export const keys = Command.make("keys").pipe(
  Command.withDescription("Manage control-plane API keys"),
  Command.withSubcommands([
    Command.make("create", keysCreateFlags, (flags) => handlers((run) => run.keysCreate(flags))).pipe(
      Command.withDescription("Issue an API key for an agent; the key is printed once")
    ),
    Command.make("ls", keysListFlags, (flags) => handlers((run) => run.keysList(flags))).pipe(
      Command.withDescription("List a tenant's API keys (masked), newest first"),
      Command.withAlias("list")
    ),
    Command.make("disable", keyFlags, (flags) => handlers((run) => run.keysDisable(flags))).pipe(
      Command.withDescription("Disable an API key (takes effect on the next check)")
    ),
    Command.make("rm", keyFlags, (flags) => handlers((run) => run.keysRemove(flags))).pipe(
      Command.withDescription("Delete an API key"),
      Command.withAlias("delete")
    ),
    Command.make("verify", keysVerifyFlags, (flags) => handlers((run) => run.keysVerify(flags))).pipe(
      Command.withDescription("Check a key as the server would (exit code 1 when it is not valid); counts no use")
    ),
    Command.make("import", keysImportFlags, (flags) => handlers((run) => run.keysImport(flags))).pipe(
      Command.withDescription("Store an existing key (from the original) by its hash, so it validates here")
    )
  ])
)
