/**
 * What the original MaimConfig / maim_db database holds, as `MaimConfigImport` reads it: its rows' shapes (lenient
 * where the original's versions differ), Peewee's timestamps, JSON kept as text, booleans as 0/1, and maim_db's
 * per-agent config tables.
 */
import { Schema } from "effect"
import * as AgentConfig from "../AgentConfig.ts"

const Text = Schema.NullOr(Schema.String)
const When = Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.String, Schema.Number])))

export const SourceTenant = Schema.Struct({
  id: Schema.String,
  tenant_name: Schema.String,
  tenant_type: Schema.String,
  description: Schema.optionalKey(Text),
  contact_email: Schema.optionalKey(Text),
  tenant_config: Schema.optionalKey(Schema.NullOr(Schema.Unknown)),
  status: Schema.String,
  owner_id: Schema.optionalKey(Text),
  created_at: When,
  updated_at: When
})

export const SourceAgent = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  name: Schema.String,
  description: Schema.optionalKey(Text),
  template_id: Schema.optionalKey(Text),
  config: Schema.optionalKey(Schema.NullOr(Schema.Unknown)),
  status: Schema.String,
  created_at: When,
  updated_at: When
})

export const SourceKey = Schema.Struct({
  id: Schema.String,
  tenant_id: Schema.String,
  agent_id: Schema.String,
  name: Schema.String,
  description: Schema.optionalKey(Text),
  api_key: Schema.String,
  permissions: Schema.optionalKey(Schema.NullOr(Schema.Unknown)),
  status: Schema.String,
  expires_at: When,
  last_used_at: When,
  usage_count: Schema.optionalKey(Schema.NullOr(Schema.Union([Schema.Number, Schema.String, Schema.BigInt]))),
  created_at: When,
  updated_at: When
})

export const SourceActivity = Schema.Struct({
  tenant_id: Schema.String,
  agent_id: Schema.String,
  last_seen_at: When,
  ttl_seconds: Schema.Union([Schema.Number, Schema.String, Schema.BigInt]),
  expires_at: When
})

export const SourcePlugin = Schema.Struct({
  tenant_id: Schema.String,
  agent_id: Schema.optionalKey(Text),
  plugin_name: Schema.String,
  enabled: Schema.Union([Schema.Boolean, Schema.Number, Schema.BigInt, Schema.String]),
  config: Schema.optionalKey(Schema.NullOr(Schema.Unknown))
})

/** Peewee's and MySQL's `2025-12-02 10:30:00.123456` as MaiKit's naive ISO text with microseconds. */
export const naiveIsoOf = (value: string | number | null | undefined): string | undefined => {
  if (value === null || value === undefined) return undefined
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?/.exec(String(value))
  return match === null ? undefined : `${match[1]}T${match[2]}.${(match[3] ?? "").padEnd(6, "0")}`
}

export const millisOf = (iso: string): number => Date.parse(`${iso.slice(0, 23)}Z`)

/** JSON text (or, from a MySQL `JSON` column, the value itself) as a value; `undefined` when it is not JSON. */
export const jsonOf = (value: unknown): unknown => {
  if (typeof value !== "string") return value ?? undefined
  try {
    return JSON.parse(value)
  } catch {
    return undefined
  }
}

export const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

export const truthy = (value: unknown): boolean =>
  value === true || value === 1 || value === 1n || value === "1" || value === "true"

/** maim_db's per-agent config tables, by the place of their section in MaiKit's config document. */
export const configTables: ReadonlyArray<{
  readonly tables: ReadonlyArray<string>
  readonly path: readonly [string] | readonly [string, string]
  readonly defaults: Record<string, unknown>
}> = [
  { tables: ["personality_configs"], path: ["persona"], defaults: AgentConfig.persona.defaults },
  { tables: ["bot_config_overrides"], path: ["bot_overrides"], defaults: AgentConfig.botOverrides.defaults },
  ...Object.entries(AgentConfig.sections).map(([type, section]) => ({
    // Peewee names a model without `table_name` after its class: `RelationshipConfigOverrides`.
    tables: [`${type}_config_overrides`, `${type.replaceAll("_", "")}configoverrides`],
    path: ["config_overrides", type] as const,
    defaults: section.defaults as Record<string, unknown>
  }))
]

const bookkeeping = new Set(["id", "agent_id", "created_at", "updated_at"])

/**
 * A config table's row as a section: bookkeeping columns dropped, booleans (0/1 on SQLite and MySQL) made
 * booleans and JSON text parsed where the section's default says the field is one.
 */
export const sectionOf = (row: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const [column, value] of Object.entries(row)) {
    if (bookkeeping.has(column) || value === null) continue
    const standard = defaults[column]
    if (typeof standard === "boolean") out[column] = truthy(value)
    else if (typeof standard === "object" && standard !== null) out[column] = jsonOf(value) ?? standard
    else if (typeof value === "bigint") out[column] = Number(value)
    else out[column] = value
  }
  return out
}
