/**
 * An agent's config document, `{persona, bot_overrides, config_overrides}`, with the sections and defaults of
 * maim_db's `AgentConfigManager` (`shared/contracts/control-plane-api.md` §5). Unlike the original, every
 * section it is given is kept and returned (the original returned `tool`, `voice`, `keyword_reaction` and
 * `relationship` as `{}` and dropped `lpmm_knowledge`, `dream`, `jargon` and the rest), unknown fields inside
 * a section survive too, and an update merges into what is stored: a field not sent keeps its stored value
 * instead of being reset to its default. Provider secrets are write-only: they read back as `"********"`, and
 * writing `"********"` back keeps the stored value.
 */
import { Schema, SchemaTransformation, Struct } from "effect"
import { isJsonObject, mergeJson } from "./internal/jsonMerge.ts"

/** What reads return in place of a stored provider `api_key` or `base_url`. */
export const maskedSecret = "********"

const Rest = [Schema.Record(Schema.String, Schema.Json)] as const
const Strings = Schema.Array(Schema.String)
const Items = Schema.Array(Schema.Json)
const Style = Schema.String.check(Schema.isMaxLength(500))

const section = <const Fields extends Schema.Struct.Fields>(
  fields: Fields,
  defaults: Schema.Struct<Fields>["Type"]
) => ({
  fields,
  /** The section as returned: every known field present (defaults filled in), unknown fields kept. */
  full: Schema.StructWithRest(Schema.Struct(fields), Rest),
  /** The section as sent: any subset of the known fields, each checked, unknown fields kept. */
  patch: Schema.StructWithRest(Schema.Struct(fields).mapFields(Struct.map(Schema.optionalKey)), Rest),
  defaults
})

export const persona = section({
  personality: Schema.String,
  reply_style: Style,
  interest: Style,
  plan_style: Style,
  private_plan_style: Style,
  visual_style: Style,
  states: Strings,
  state_probability: Schema.Finite
}, {
  personality: "",
  reply_style: "",
  interest: "",
  plan_style: "",
  private_plan_style: "",
  visual_style: "",
  states: [],
  state_probability: 0
})

export const botOverrides = section({
  platform: Schema.String,
  qq_account: Schema.Union([Schema.String, Schema.Int]),
  nickname: Schema.String,
  platforms: Strings,
  alias_names: Strings
}, { platform: "", qq_account: "", nickname: "", platforms: [], alias_names: [] })

/** The sections of `config_overrides` whose fields and defaults the original defines. */
export const sections = {
  chat: section({
    max_context_size: Schema.Int,
    interest_rate_mode: Schema.String,
    planner_size: Schema.Finite,
    mentioned_bot_reply: Schema.Boolean,
    auto_chat_value: Schema.Finite,
    enable_auto_chat_value_rules: Schema.Boolean,
    at_bot_inevitable_reply: Schema.Finite,
    planner_smooth: Schema.Finite,
    talk_value: Schema.Finite,
    enable_talk_value_rules: Schema.Boolean,
    talk_value_rules: Items,
    auto_chat_value_rules: Items
  }, {
    max_context_size: 18,
    interest_rate_mode: "fast",
    planner_size: 1.5,
    mentioned_bot_reply: true,
    auto_chat_value: 1,
    enable_auto_chat_value_rules: true,
    at_bot_inevitable_reply: 1,
    planner_smooth: 3,
    talk_value: 1,
    enable_talk_value_rules: true,
    talk_value_rules: [],
    auto_chat_value_rules: []
  }),
  expression: section({
    mode: Schema.String,
    learning_list: Items,
    expression_groups: Items,
    reflect: Schema.Boolean,
    reflect_operator_id: Schema.String,
    allow_reflect: Items
  }, { mode: "classic", learning_list: [], expression_groups: [], reflect: false, reflect_operator_id: "", allow_reflect: [] }),
  memory: section({
    max_memory_number: Schema.Int,
    memory_build_frequency: Schema.Int,
    max_agent_iterations: Schema.Int,
    enable_jargon_detection: Schema.Boolean
  }, { max_memory_number: 100, memory_build_frequency: 1, max_agent_iterations: 5, enable_jargon_detection: true }),
  message_receive: section({ ban_words: Strings, ban_msgs_regex: Strings }, { ban_words: [], ban_msgs_regex: [] }),
  mood: section({
    enable_mood: Schema.Boolean,
    mood_update_threshold: Schema.Finite,
    emotion_style: Schema.String
  }, { enable_mood: true, mood_update_threshold: 1, emotion_style: "" }),
  emoji: section({
    emoji_chance: Schema.Finite,
    max_reg_num: Schema.Int,
    do_replace: Schema.Boolean,
    check_interval: Schema.Int,
    steal_emoji: Schema.Boolean,
    content_filtration: Schema.Boolean,
    filtration_prompt: Schema.String
  }, {
    emoji_chance: 0.6,
    max_reg_num: 200,
    do_replace: true,
    check_interval: 120,
    steal_emoji: true,
    content_filtration: false,
    filtration_prompt: ""
  }),
  plugin: section({
    enable_plugins: Schema.Boolean,
    tenant_mode_disable_plugins: Schema.Boolean,
    allowed_plugins: Strings,
    blocked_plugins: Strings
  }, { enable_plugins: true, tenant_mode_disable_plugins: true, allowed_plugins: [], blocked_plugins: [] }),
  tool: section({ enable_tool: Schema.Boolean }, { enable_tool: false }),
  voice: section({ enable_asr: Schema.Boolean }, { enable_asr: false }),
  keyword_reaction: section({ keyword_rules: Items, regex_rules: Items }, { keyword_rules: [], regex_rules: [] }),
  relationship: section({ enable_relationship: Schema.Boolean }, { enable_relationship: true })
}

const ProviderName = Schema.String.check(Schema.isMinLength(1), Schema.isMaxLength(100))

/** An LLM provider (`api_providers[]`), keyed by `name`. `api_key` and `base_url` are write-only. */
export const apiProvider = section({
  name: ProviderName,
  client_type: Schema.String,
  base_url: Schema.String,
  api_key: Schema.String,
  is_server_provider: Schema.Boolean
}, { name: "", client_type: "openai", base_url: "", api_key: "", is_server_provider: false })

/** A model (`models[]`), keyed by `name`; `api_provider` names the provider it runs on. */
export const modelInfo = section({
  name: ProviderName,
  model_identifier: Schema.String,
  api_provider: Schema.String,
  temperature: Schema.NullOr(Schema.Finite),
  price_in: Schema.Finite,
  price_out: Schema.Finite,
  extra_params: Schema.JsonObject
}, { name: "", model_identifier: "", api_provider: "", temperature: null, price_in: 0, price_out: 0, extra_params: {} })

const keyed = <S extends Schema.Top>(item: S) => Schema.Array(item)

/** List entries are matched by `name`, so a patch entry must carry it. */
const keyedPatch = <const Fields extends Schema.Struct.Fields & { readonly name: typeof ProviderName }>(fields: Fields) =>
  Schema.StructWithRest(
    Schema.Struct(fields).mapFields(Struct.map(Schema.optionalKey)).mapFields(Struct.assign({ name: ProviderName })),
    Rest
  )

const ApiProviderPatch = keyedPatch(apiProvider.fields)
const ModelInfoPatch = keyedPatch(modelInfo.fields)

export const ModelSectionPatch = Schema.StructWithRest(
  Schema.Struct({
    api_providers: Schema.optionalKey(keyed(ApiProviderPatch)),
    models: Schema.optionalKey(keyed(ModelInfoPatch)),
    model_task_config: Schema.optionalKey(Schema.JsonObject)
  }),
  Rest
)

export const ModelSection = Schema.StructWithRest(
  Schema.Struct({
    api_providers: keyed(apiProvider.full),
    models: keyed(modelInfo.full),
    model_task_config: Schema.JsonObject
  }),
  Rest
)

const OtherSections = [Schema.Record(Schema.String, Schema.JsonObject)] as const

export const ConfigOverridesPatch = Schema.StructWithRest(
  Schema.Struct({
    chat: Schema.optionalKey(sections.chat.patch),
    expression: Schema.optionalKey(sections.expression.patch),
    memory: Schema.optionalKey(sections.memory.patch),
    message_receive: Schema.optionalKey(sections.message_receive.patch),
    mood: Schema.optionalKey(sections.mood.patch),
    emoji: Schema.optionalKey(sections.emoji.patch),
    plugin: Schema.optionalKey(sections.plugin.patch),
    tool: Schema.optionalKey(sections.tool.patch),
    voice: Schema.optionalKey(sections.voice.patch),
    keyword_reaction: Schema.optionalKey(sections.keyword_reaction.patch),
    relationship: Schema.optionalKey(sections.relationship.patch),
    model: Schema.optionalKey(ModelSectionPatch)
  }),
  OtherSections
)

export const ConfigOverrides = Schema.StructWithRest(
  Schema.Struct({
    chat: Schema.optionalKey(sections.chat.full),
    expression: Schema.optionalKey(sections.expression.full),
    memory: Schema.optionalKey(sections.memory.full),
    message_receive: Schema.optionalKey(sections.message_receive.full),
    mood: Schema.optionalKey(sections.mood.full),
    emoji: Schema.optionalKey(sections.emoji.full),
    plugin: Schema.optionalKey(sections.plugin.full),
    tool: Schema.optionalKey(sections.tool.full),
    voice: Schema.optionalKey(sections.voice.full),
    keyword_reaction: Schema.optionalKey(sections.keyword_reaction.full),
    relationship: Schema.optionalKey(sections.relationship.full),
    model: ModelSection
  }),
  OtherSections
)

/**
 * `persona` may also be a plain string (the peers' test scripts send one); the original's manager raised on it
 * and lost it, MaiKit keeps it as the `personality`.
 */
export const PersonaInput = Schema.Union([
  persona.patch,
  Schema.String.pipe(
    Schema.decodeTo(
      persona.patch,
      SchemaTransformation.transform({
        decode: (text: string): typeof persona.patch.Type => ({ personality: text }),
        encode: (value: typeof persona.patch.Type) => value.personality ?? ""
      })
    )
  )
])

/** A config as sent: any subset of the document. Top-level keys beyond the three sections are kept as given. */
export const AgentConfigPatch = Schema.StructWithRest(
  Schema.Struct({
    persona: Schema.optionalKey(PersonaInput),
    bot_overrides: Schema.optionalKey(botOverrides.patch),
    config_overrides: Schema.optionalKey(ConfigOverridesPatch)
  }),
  Rest
).annotate({ identifier: "AgentConfigPatch" })
export type AgentConfigPatch = typeof AgentConfigPatch.Type

/** A config as returned: the three sections always present, known fields filled with their defaults. */
export const AgentConfig = Schema.StructWithRest(
  Schema.Struct({
    persona: persona.full,
    bot_overrides: botOverrides.full,
    config_overrides: ConfigOverrides
  }),
  Rest
).annotate({ identifier: "AgentConfig" })
export type AgentConfig = typeof AgentConfig.Type

export const empty: AgentConfigPatch = {}

const providersPath = "config_overrides/model/api_providers"
const modelsPath = "config_overrides/model/models"

const nameOf = (item: Schema.Json): string | undefined =>
  isJsonObject(item) && typeof item["name"] === "string" ? item["name"] : undefined

/** A masked secret written back keeps the stored one; with nothing stored it means "not set". */
const keepSecrets = (stored: Schema.Json | undefined, sent: Schema.Json): Schema.Json => {
  if (!isJsonObject(sent)) return sent
  const kept: Record<string, Schema.Json> = { ...sent }
  for (const secret of ["api_key", "base_url"]) {
    if (sent[secret] === maskedSecret) {
      const previous = isJsonObject(stored) ? stored[secret] : undefined
      kept[secret] = typeof previous === "string" ? previous : ""
    }
  }
  return kept
}

/** Providers and models are lists keyed by `name`: an entry sent updates the stored one of that name. */
const upsertByName = (stored: ReadonlyArray<Schema.Json>, sent: ReadonlyArray<Schema.Json>, secrets: boolean) => {
  const result = [...stored]
  for (const item of sent) {
    const name = nameOf(item)
    const at = result.findIndex((existing) => nameOf(existing) === name)
    const previous = at === -1 ? undefined : result[at]
    const incoming = secrets ? keepSecrets(previous, item) : item
    const merged = mergeJson(previous, incoming, () => undefined)
    if (at === -1) result.push(merged)
    else result[at] = merged
  }
  return result
}

/**
 * Merges a patch into the stored document (see the module comment). The result is the new stored document:
 * only what was ever sent, so defaults are applied on read and never frozen into storage.
 */
export const merge = (stored: AgentConfigPatch, patch: AgentConfigPatch): AgentConfigPatch => {
  const merged = mergeJson(stored, patch, (path, base, sent) => {
    const at = path.join("/")
    if (at === providersPath) return upsertByName(base, sent, true)
    if (at === modelsPath) return upsertByName(base, sent, false)
    return undefined
  })
  return Schema.decodeUnknownSync(AgentConfigPatch)(merged)
}

const withDefaults = <A extends object>(defaults: A, given: object | undefined): A => ({ ...defaults, ...given })

/** The document as returned, with every known field of every present section, and secrets in place. */
export const expand = (stored: AgentConfigPatch): AgentConfig => {
  const overrides = stored.config_overrides ?? {}
  const model = overrides.model ?? {}
  const expanded: Record<string, unknown> = { ...overrides }
  for (const [name, spec] of Object.entries(sections)) {
    const given = overrides[name]
    if (given !== undefined) expanded[name] = withDefaults(spec.defaults, given)
  }
  expanded["model"] = {
    ...model,
    api_providers: (model.api_providers ?? []).map((item) => withDefaults(apiProvider.defaults, item)),
    models: (model.models ?? []).map((item) => withDefaults(modelInfo.defaults, item)),
    model_task_config: model.model_task_config ?? {}
  }
  return Schema.decodeUnknownSync(AgentConfig)({
    ...stored,
    persona: withDefaults(persona.defaults, stored.persona),
    bot_overrides: withDefaults(botOverrides.defaults, stored.bot_overrides),
    config_overrides: expanded
  })
}

/** Replaces every non-empty provider `api_key` and `base_url` with `"********"`. */
export const mask = (config: AgentConfig): AgentConfig => ({
  ...config,
  config_overrides: {
    ...config.config_overrides,
    model: {
      ...config.config_overrides.model,
      api_providers: config.config_overrides.model.api_providers.map((provider) => ({
        ...provider,
        api_key: provider.api_key === "" ? "" : maskedSecret,
        base_url: provider.base_url === "" ? "" : maskedSecret
      }))
    }
  }
})

/**
 * The first custom model in `patch` that names a system provider (§5.4: custom models may not spend the
 * operator's provider credentials), or `undefined`.
 */
export const systemProviderMisuse = (
  patch: AgentConfigPatch,
  systemProviders: ReadonlyArray<string>
): { readonly provider: string; readonly model: string } | undefined => {
  for (const model of patch.config_overrides?.model?.models ?? []) {
    if (model.api_provider !== undefined && systemProviders.includes(model.api_provider)) {
      return { provider: model.api_provider, model: model.name }
    }
  }
  return undefined
}
