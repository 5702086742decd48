import { assert, describe, it } from "@effect/vitest"
import { Exit, Schema } from "effect"
import * as AgentConfig from "../src/control-plane/AgentConfig.ts"

const decode = Schema.decodeUnknownSync(AgentConfig.AgentConfigPatch)
const read = (stored: AgentConfig.AgentConfigPatch) => AgentConfig.mask(AgentConfig.expand(stored))

describe("AgentConfig", () => {
  it("keeps every section it is given, including the ones the original returned as {} or dropped", () => {
    const stored = AgentConfig.merge(AgentConfig.empty, decode({
      config_overrides: {
        tool: { enable_tool: true, tool_cache_ttl: 30 },
        voice: { enable_asr: true },
        keyword_reaction: { keyword_rules: [{ keywords: ["hi"], reaction: "wave" }] },
        relationship: { enable_relationship: false },
        lpmm_knowledge: { enable: true, qa_relation_search_top_k: 5 },
        dream: { interval_minutes: 30 }
      }
    }))
    const config = read(stored)
    assert.deepStrictEqual(config.config_overrides.tool, { enable_tool: true, tool_cache_ttl: 30 })
    assert.deepStrictEqual(config.config_overrides.voice, { enable_asr: true })
    assert.deepStrictEqual(config.config_overrides.keyword_reaction, {
      keyword_rules: [{ keywords: ["hi"], reaction: "wave" }],
      regex_rules: []
    })
    assert.deepStrictEqual(config.config_overrides.relationship, { enable_relationship: false })
    assert.deepStrictEqual(config.config_overrides["lpmm_knowledge"], { enable: true, qa_relation_search_top_k: 5 })
    assert.deepStrictEqual(config.config_overrides["dream"], { interval_minutes: 30 })
    assert.deepStrictEqual(config.config_overrides.model, { api_providers: [], models: [], model_task_config: {} })
  })

  it("fills the original's defaults for the known fields of present sections only", () => {
    const config = read(AgentConfig.merge(AgentConfig.empty, decode({ config_overrides: { chat: { talk_value: 2 } } })))
    assert.strictEqual(config.config_overrides.chat?.talk_value, 2)
    assert.strictEqual(config.config_overrides.chat?.max_context_size, 18)
    assert.strictEqual(config.config_overrides.chat?.interest_rate_mode, "fast")
    assert.isUndefined(config.config_overrides.emoji)
    assert.strictEqual(config.persona.state_probability, 0)
    assert.deepStrictEqual(config.bot_overrides.platforms, [])
  })

  it("a partial update merges into what is stored instead of resetting other fields", () => {
    const first = AgentConfig.merge(AgentConfig.empty, decode({
      persona: { personality: "calm", reply_style: "short", states: ["a", "b"] },
      config_overrides: { chat: { max_context_size: 30, talk_value: 2 }, emoji: { emoji_chance: 0.1 } }
    }))
    const second = AgentConfig.merge(first, decode({
      persona: { reply_style: "long" },
      config_overrides: { chat: { talk_value: 3 } }
    }))
    const config = read(second)
    assert.strictEqual(config.persona.personality, "calm")
    assert.strictEqual(config.persona.reply_style, "long")
    assert.deepStrictEqual(config.persona.states, ["a", "b"])
    assert.strictEqual(config.config_overrides.chat?.max_context_size, 30)
    assert.strictEqual(config.config_overrides.chat?.talk_value, 3)
    assert.strictEqual(config.config_overrides.emoji?.emoji_chance, 0.1)
  })

  it("takes a plain-string persona (as the peer test scripts send) as the personality", () => {
    const config = read(AgentConfig.merge(AgentConfig.empty, decode({ persona: "友好的测试助手", tags: ["x"] })))
    assert.strictEqual(config.persona.personality, "友好的测试助手")
    assert.deepStrictEqual(config["tags"], ["x"])
  })

  it("masks provider secrets; writing the mask back keeps them, a new value replaces them", () => {
    const stored = AgentConfig.merge(AgentConfig.empty, decode({
      config_overrides: {
        model: {
          api_providers: [{ name: "mine", base_url: "https://llm.example/v1", api_key: "sk-real" }],
          models: [{ name: "m1", model_identifier: "gpt-x", api_provider: "mine" }],
          model_task_config: { replyer: { model_list: ["m1"] } }
        }
      }
    }))
    const shown = read(stored)
    assert.deepStrictEqual(shown.config_overrides.model.api_providers[0], {
      name: "mine",
      client_type: "openai",
      base_url: AgentConfig.maskedSecret,
      api_key: AgentConfig.maskedSecret,
      is_server_provider: false
    })
    assert.strictEqual(AgentConfig.expand(stored).config_overrides.model.api_providers[0]?.api_key, "sk-real")

    const written = AgentConfig.merge(stored, decode({ config_overrides: { model: shown.config_overrides.model } }))
    const real = AgentConfig.expand(written).config_overrides.model
    assert.strictEqual(real.api_providers[0]?.api_key, "sk-real")
    assert.strictEqual(real.api_providers[0]?.base_url, "https://llm.example/v1")
    assert.strictEqual(real.models[0]?.temperature, null)

    const rotated = AgentConfig.merge(written, decode({
      config_overrides: { model: { api_providers: [{ name: "mine", api_key: "sk-new" }, { name: "other", api_key: "********" }] } }
    }))
    const providers = AgentConfig.expand(rotated).config_overrides.model.api_providers
    assert.strictEqual(providers[0]?.api_key, "sk-new")
    assert.strictEqual(providers[0]?.base_url, "https://llm.example/v1")
    assert.strictEqual(providers[1]?.api_key, "", "a mask with nothing behind it means not set")
    assert.strictEqual(read(rotated).config_overrides.model.api_providers[1]?.api_key, "")
  })

  it("finds custom models that name a system provider", () => {
    const patch = decode({ config_overrides: { model: { models: [{ name: "cheap", api_provider: "OpenAI" }] } } })
    assert.deepStrictEqual(AgentConfig.systemProviderMisuse(patch, ["OpenAI", "Anthropic"]), {
      provider: "OpenAI",
      model: "cheap"
    })
    assert.isUndefined(AgentConfig.systemProviderMisuse(patch, ["Anthropic"]))
  })

  it("rejects wrong types, naming the field", () => {
    const exit = Schema.decodeUnknownExit(AgentConfig.AgentConfigPatch)({ config_overrides: { chat: { max_context_size: "x" } } })
    assert.isTrue(Exit.isFailure(exit))
    assert.include(String(exit), "max_context_size")
    const longStyle = Schema.decodeUnknownExit(AgentConfig.AgentConfigPatch)({ persona: { visual_style: "x".repeat(501) } })
    assert.isTrue(Exit.isFailure(longStyle))
    const unnamed = Schema.decodeUnknownExit(AgentConfig.AgentConfigPatch)({
      config_overrides: { model: { api_providers: [{ api_key: "k" }] } }
    })
    assert.isTrue(Exit.isFailure(unnamed), "list entries are keyed by name")
  })
})
