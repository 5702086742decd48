import { Schema } from "effect"

export class TenantNotFound extends Schema.TaggedError<TenantNotFound>()("TenantNotFound", {
  tenant_id: Schema.String,
  message: Schema.String
}) {
  static readonly of = (tenantId: string) => new TenantNotFound({ tenant_id: tenantId, message: "租户不存在" })
}

export class TenantNameTaken extends Schema.TaggedError<TenantNameTaken>()("TenantNameTaken", {
  tenant_name: Schema.String,
  message: Schema.String
}) {
  static readonly of = (name: string) => new TenantNameTaken({ tenant_name: name, message: "租户名称已存在" })
}

/** An import named an id that is already in use. */
export class IdTaken extends Schema.TaggedError<IdTaken>()("IdTaken", {
  id: Schema.String,
  message: Schema.String
}) {
  static readonly of = (id: string) => new IdTaken({ id, message: `id ${id} is already in use` })
}

export class AgentNotFound extends Schema.TaggedError<AgentNotFound>()("AgentNotFound", {
  agent_id: Schema.String,
  message: Schema.String
}) {
  static readonly of = (agentId: string) => new AgentNotFound({ agent_id: agentId, message: "Agent不存在" })
}

/** An agent exists, but not in the tenant the request named. */
export class AgentNotInTenant extends Schema.TaggedError<AgentNotInTenant>()("AgentNotInTenant", {
  agent_id: Schema.String,
  tenant_id: Schema.String,
  message: Schema.String
}) {
  static readonly of = (agentId: string, tenantId: string) =>
    new AgentNotInTenant({ agent_id: agentId, tenant_id: tenantId, message: "Agent不属于指定租户" })
}

export class AgentNameTaken extends Schema.TaggedError<AgentNameTaken>()("AgentNameTaken", {
  tenant_id: Schema.String,
  name: Schema.String,
  message: Schema.String
}) {
  static readonly of = (tenantId: string, name: string) =>
    new AgentNameTaken({ tenant_id: tenantId, name, message: "该租户下已存在同名Agent" })
}

/** A custom model names one of the operator's providers (its credentials are not the tenant's to spend). */
export class AgentConfigRejected extends Schema.TaggedError<AgentConfigRejected>()("AgentConfigRejected", {
  provider: Schema.String,
  model: Schema.String,
  message: Schema.String
}) {
  static readonly of = (provider: string, model: string) =>
    new AgentConfigRejected({
      provider,
      model,
      message:
        `Security Violation: Cannot use system provider '${provider}' for custom model '${model}'. Please use system models directly.`
    })
}

/** An activity report for a pair that may not report: the tenant or agent is missing, foreign or inactive. */
export class ActivityRejected extends Schema.TaggedError<ActivityRejected>()("ActivityRejected", {
  reason: Schema.Literals(["tenant_inactive", "agent_missing", "agent_not_in_tenant", "agent_inactive"]),
  message: Schema.String
}) {}

/** The database failed (or returned a row that does not decode); the operation changed nothing. */
export class TenantStoreStorageError extends Schema.TaggedError<TenantStoreStorageError>()("TenantStoreStorageError", {
  operation: Schema.String,
  message: Schema.String,
  cause: Schema.Defect()
}) {
  static readonly of = (operation: string) => (cause: unknown) =>
    new TenantStoreStorageError({
      operation,
      cause,
      message: `${operation} failed: ${cause instanceof Error ? cause.message : String(cause)}`
    })
}
