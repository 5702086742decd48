/**
 * What the operator's MaiBot installation offers every tenant: its LLM providers and models (from the
 * `model_config.toml` at `MAIMBOT_MODEL_CONFIG_PATH`) and the bot-config defaults (from the template at
 * `MAIMBOT_BOT_CONFIG_TEMPLATE_PATH`), as the original's `/api/v2/system/*` routes read them. The provider
 * names are also the "system providers" a tenant's custom models may not use. Provider API keys in the file
 * are never returned.
 */
import { Config, Context, Effect, Layer, Option, Schema } from "effect"
import * as Fs from "node:fs"
import { parse as parseToml } from "smol-toml"
import { isJsonObject } from "./internal/jsonMerge.ts"
import { BotDefaultsUnavailable } from "./SystemCatalogError.ts"

export { BotDefaultsUnavailable } from "./SystemCatalogError.ts"

export const SystemProvider = Schema.Struct({
  name: Schema.String,
  client_type: Schema.String,
  base_url: Schema.String,
  is_server_provider: Schema.Boolean
})

export const SystemModel = Schema.Struct({
  name: Schema.String,
  model_identifier: Schema.String,
  api_provider: Schema.String,
  description: Schema.String,
  price_in: Schema.Number,
  price_out: Schema.Number
})

export const ModelCatalog = Schema.Struct({
  providers: Schema.Array(SystemProvider),
  models: Schema.Array(SystemModel),
  defaults: Schema.JsonObject,
  /** `dynamic_toml` when read from the operator's file, `static_fallback` otherwise. */
  source: Schema.Literals(["dynamic_toml", "static_fallback"])
})
export type ModelCatalog = typeof ModelCatalog.Type

/** The original's fallback when no model config is readable. */
export const fallback: ModelCatalog = {
  providers: [
    { name: "OpenAI", client_type: "openai", base_url: "https://api.openai.com/v1", is_server_provider: true },
    { name: "Anthropic", client_type: "anthropic", base_url: "https://api.anthropic.com", is_server_provider: true }
  ],
  models: [
    {
      name: "GPT-4o",
      model_identifier: "gpt-4o",
      api_provider: "OpenAI",
      description: "",
      price_in: 5,
      price_out: 15
    },
    {
      name: "GPT-4o Mini",
      model_identifier: "gpt-4o-mini",
      api_provider: "OpenAI",
      description: "",
      price_in: 0.15,
      price_out: 0.6
    },
    {
      name: "Claude 3.5 Sonnet",
      model_identifier: "claude-3-5-sonnet-20241022",
      api_provider: "Anthropic",
      description: "",
      price_in: 3,
      price_out: 15
    }
  ],
  defaults: {},
  source: "static_fallback"
}

/** The bot-config template sections the original returns. */
export const botDefaultSections = [
  "bot",
  "personality",
  "chat",
  "memory",
  "dream",
  "jargon",
  "tool",
  "mood",
  "emoji",
  "voice",
  "message_receive",
  "lpmm_knowledge",
  "chinese_typo"
] as const

const TomlProvider = Schema.Struct({
  name: Schema.String,
  client_type: Schema.optionalKey(Schema.String),
  base_url: Schema.optionalKey(Schema.String)
})

const TomlModel = Schema.Struct({
  name: Schema.String,
  model_identifier: Schema.optionalKey(Schema.String),
  api_provider: Schema.optionalKey(Schema.String),
  description: Schema.optionalKey(Schema.String),
  price_in: Schema.optionalKey(Schema.Number),
  price_out: Schema.optionalKey(Schema.Number)
})

const TomlModelConfig = Schema.Struct({
  api_providers: Schema.optionalKey(Schema.Array(TomlProvider)),
  models: Schema.optionalKey(Schema.Array(TomlModel)),
  model_task_config: Schema.optionalKey(Schema.JsonObject)
})

const readToml = (path: string) =>
  Effect.try({
    try: () => parseToml(Fs.readFileSync(path, "utf8")),
    catch: (cause) => (cause instanceof Error ? cause.message : String(cause))
  })

export interface Options {
  /** `model_config.toml` of the operator's MaiBot; without it the static fallback is served. */
  readonly modelConfigPath?: string | undefined
  /** `bot_config.toml` template whose sections are the bot defaults. */
  readonly botConfigTemplatePath?: string | undefined
}

export class SystemCatalog extends Context.Service<SystemCatalog, {
  /** Read on every call, so an edited file is picked up without a restart. */
  readonly models: Effect.Effect<ModelCatalog>
  readonly systemProviderNames: Effect.Effect<ReadonlyArray<string>>
  readonly botDefaults: Effect.Effect<Schema.JsonObject, BotDefaultsUnavailable>
}>()("@maikit/core/SystemCatalog") {
  static readonly make = (options: Options) => {
    const models = Effect.gen(function*() {
      const path = options.modelConfigPath
      if (path === undefined) return fallback
      const parsed = yield* readToml(path).pipe(
        Effect.flatMap(Schema.decodeUnknownEffect(TomlModelConfig)),
        Effect.option
      )
      if (Option.isNone(parsed)) return fallback
      const file = parsed.value
      return {
        providers: (file.api_providers ?? []).map((provider) => ({
          name: provider.name,
          client_type: provider.client_type ?? "openai",
          base_url: provider.base_url ?? "",
          is_server_provider: true
        })),
        models: (file.models ?? []).map((model) => ({
          name: model.name,
          model_identifier: model.model_identifier ?? "",
          api_provider: model.api_provider ?? "",
          description: model.description ?? "",
          price_in: model.price_in ?? 0,
          price_out: model.price_out ?? 0
        })),
        defaults: file.model_task_config ?? {},
        source: "dynamic_toml" as const
      }
    })

    const botDefaults = Effect.gen(function*() {
      const path = options.botConfigTemplatePath
      if (path === undefined) {
        return yield* new BotDefaultsUnavailable({
          path: null,
          message: "no bot config template configured (MAIMBOT_BOT_CONFIG_TEMPLATE_PATH)"
        })
      }
      const document = yield* readToml(path).pipe(
        Effect.mapError((message) => new BotDefaultsUnavailable({ path, message: `cannot read ${path}: ${message}` }))
      )
      const result: Record<string, Schema.Json> = {}
      for (const name of botDefaultSections) {
        const value = document[name]
        if (isJsonObject(value)) result[name] = value
      }
      return result
    })

    return SystemCatalog.of({
      models,
      systemProviderNames: Effect.map(models, (catalog) => catalog.providers.map((provider) => provider.name)),
      botDefaults
    })
  }

  static readonly layer = (options: Options = {}): Layer.Layer<SystemCatalog> =>
    Layer.succeed(SystemCatalog, SystemCatalog.make(options))

  /** Paths from `MAIMBOT_MODEL_CONFIG_PATH` and `MAIMBOT_BOT_CONFIG_TEMPLATE_PATH`, as the original reads them. */
  static readonly layerFromEnv: Layer.Layer<SystemCatalog, Config.ConfigError> = Layer.effect(
    SystemCatalog,
    Effect.gen(function*() {
      const modelConfigPath = yield* Config.option(Config.String("MAIMBOT_MODEL_CONFIG_PATH"))
      const botConfigTemplatePath = yield* Config.option(Config.String("MAIMBOT_BOT_CONFIG_TEMPLATE_PATH"))
      return SystemCatalog.make({
        modelConfigPath: Option.getOrUndefined(modelConfigPath),
        botConfigTemplatePath: Option.getOrUndefined(botConfigTemplatePath)
      })
    })
  )
}
