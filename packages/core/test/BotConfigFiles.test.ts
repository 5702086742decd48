import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer } from "effect"
import * as fc from "fast-check"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { parse as parseToml } from "smol-toml"
import * as BotConfigFiles from "../src/launcher/BotConfigFiles.ts"
import * as InstanceRegistry from "../src/launcher/InstanceRegistry.ts"
import * as Database from "../src/platform/Database.ts"
import { MaikitConfig } from "../src/platform/MaikitConfig.ts"
import { checkout, type Checkout, fixtureText } from "./fixtures/maibotTree.ts"
import { fixture, tempDir } from "./fixtures/support.ts"

const layerFor = (dataDir: string, options: BotConfigFiles.Options = {}) =>
  BotConfigFiles.BotConfigFiles.layer(options).pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layerFile(Path.join(dataDir, "maikit.db"))),
    Layer.provide(MaikitConfig.layerFrom({ dataDir }))
  )

/** Registers a checkout as the original client would (0.x with its adapter service in `napcat-ada/`). */
const register = (tree: Checkout) =>
  Effect.gen(function*() {
    const registry = yield* InstanceRegistry.InstanceRegistry
    const components: Array<InstanceRegistry.NewInstance["components"][number]> = [
      { name: "main", kind: "main", path: tree.dir, port: 8000, command: "python bot.py", env: {}, restart_policy: "no" }
    ]
    if (tree.generation === "0.x") {
      components.push({
        name: "napcat-ada",
        kind: "service",
        path: Path.join(tree.dir, "napcat-ada"),
        port: 8095,
        command: "python main.py",
        env: {},
        restart_policy: "no"
      })
    }
    const instance = yield* registry.add({
      name: `mai-${tree.generation}`,
      version: tree.generation,
      path: tree.dir,
      host: "127.0.0.1",
      port: 8000,
      token: "",
      ownsPath: false,
      components
    })
    return instance.id
  })

const run = <A, E>(
  effect: Effect.Effect<A, E, BotConfigFiles.BotConfigFiles | InstanceRegistry.InstanceRegistry>,
  options: BotConfigFiles.Options = {}
) => Effect.provide(effect, layerFor(tempDir("config-files-data"), options))

const files = BotConfigFiles.BotConfigFiles

/** The lines of `after` that differ from `before`, as [line number, before, after] (same line count assumed). */
const changedLines = (before: string, after: string) => {
  const a = before.split("\n")
  const b = after.split("\n")
  assert.strictEqual(a.length, b.length, "line count")
  return a.flatMap((line, i) => (line === b[i] ? [] : [[i + 1, line, b[i]] as const]))
}

const historyFiles = (dataDir: string, id: string, file: string) => {
  const dir = Path.join(dataDir, "config-history", id, file)
  return Fs.existsSync(dir) ? Fs.readdirSync(dir) : []
}

describe("BotConfigFiles", () => {
  it.effect("reads 0.x's bot_config.toml as JSON and text, with a version", () =>
    run(Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const snapshot = yield* files.use((s) => s.read(id, "bot"))
      const text = fixtureText("0.x", "template", "bot_config_template.toml")
      assert.strictEqual(snapshot.text, text)
      assert.deepStrictEqual(snapshot.data, parseToml(text) as never)
      assert.match(snapshot.version, /^[0-9a-f]{16}$/)
      assert.strictEqual(snapshot.generation, "0.x")
      assert.strictEqual(snapshot.created, false)
    })))

  it.effect("patches one value: every other byte stays, the old version is kept", () => {
    const dataDir = tempDir("config-files-data")
    return Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const before = yield* service.read(id, "bot")
      const data = structuredClone(before.data) as Record<string, Record<string, unknown>>
      ;(data.chat as Record<string, unknown>).talk_value = 0.5
      ;(data.bot as Record<string, unknown>).nickname = "小麦"
      const written = yield* service.write(id, "bot", data, { expectedVersion: before.version })
      assert.isTrue(written.changed)
      const after = Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8")
      assert.deepStrictEqual(changedLines(before.text, after), [
        [20, "nickname = \"麦麦\" # 麦麦的昵称", "nickname = \"小麦\" # 麦麦的昵称"],
        [104, "talk_value = 1 # 聊天频率，越小越沉默，范围0-1", "talk_value = 0.5 # 聊天频率，越小越沉默，范围0-1"]
      ])
      const kept = historyFiles(dataDir, id, "bot")
      assert.strictEqual(kept.length, 1)
      assert.strictEqual(kept[0]?.slice(-16), before.version)
      assert.strictEqual(Fs.readFileSync(Path.join(dataDir, "config-history", id, "bot", kept[0] as string), "utf8"), before.text)
      assert.strictEqual(written.saved?.version, before.version)
      assert.notStrictEqual(written.version, before.version)
    }).pipe(Effect.provide(layerFor(dataDir)))
  })

  it.effect("removes keys the submitted object lacks, with the comments above them", () =>
    run(Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const before = yield* service.read(id, "bot")
      const data = structuredClone(before.data) as Record<string, Record<string, unknown>>
      delete (data.personality as Record<string, unknown>).multiple_probability
      delete (data.expression as Record<string, unknown>).jargon_mode
      yield* service.write(id, "bot", data)
      const after = (yield* service.read(id, "bot")).text
      const removed = before.text.split("\n").filter((line) => !after.split("\n").includes(line))
      assert.deepStrictEqual(removed, [
        "# 使用多种回复风风格的概率",
        "multiple_probability = 0.3",
        before.text.split("\n").find((line) => line.startsWith("jargon_mode = "))
      ])
      assert.strictEqual(after.split("\n").length, before.text.split("\n").length - 3)
    })))

  it.effect("refuses null, a wrong type and a type change with the key path, writing nothing", () =>
    run(Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const before = yield* service.read(id, "bot")
      const attempt = (change: (data: Record<string, Record<string, unknown>>) => void) => {
        const data = structuredClone(before.data) as Record<string, Record<string, unknown>>
        change(data)
        return Effect.flip(service.write(id, "bot", data))
      }
      const nulled = yield* attempt((data) => {
        ;(data.bot as Record<string, unknown>).nickname = null
      })
      assert.strictEqual(nulled._tag, "ConfigValueInvalid")
      assert.strictEqual(nulled._tag === "ConfigValueInvalid" && nulled.key, "bot.nickname")
      const wrong = yield* attempt((data) => {
        ;(data.chat as Record<string, unknown>).talk_value = "loud"
      })
      assert.strictEqual(wrong._tag === "ConfigValueInvalid" && wrong.key, "chat.talk_value")
      assert.include(wrong.message, "expected a number (as in the template), got a string")
      const notText = yield* attempt((data) => {
        ;(data.bot as Record<string, unknown>).alias_names = "麦叠"
      })
      assert.include(notText.message, "bot.alias_names: expected an array")
      const inArray = yield* attempt((data) => {
        ;(((data.chat as Record<string, unknown>).talk_value_rules as Array<Record<string, unknown>>)[1] as Record<
          string,
          unknown
        >).value = true
      })
      assert.strictEqual(inArray._tag === "ConfigValueInvalid" && inArray.key, "chat.talk_value_rules[1].value")
      assert.strictEqual(Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8"), before.text)
    })))

  it.effect("1.x has no templates: values keep the type the file gives them", () =>
    run(Effect.gen(function*() {
      const tree = checkout("1.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const before = yield* service.read(id, "bot")
      assert.strictEqual(before.generation, "1.x")
      assert.isNull(before.template)
      const data = structuredClone(before.data) as Record<string, Record<string, unknown>>
      ;(data.bot as Record<string, unknown>).qq_account = 1145141919810
      const wrong = yield* Effect.flip(service.write(id, "bot", data))
      assert.include(wrong.message, "bot.qq_account: expected a string (as in the current file), got an integer")
      ;(data.bot as Record<string, unknown>).qq_account = "42"
      ;(data.chat as Record<string, unknown>).talk_value = 1
      const rules = (data.chat as Record<string, Array<Record<string, unknown>>>).talk_value_rules as Array<Record<string, unknown>>
      rules.push({ target: "qq:42:private", time: "00:00-23:59", value: 0.1 } as never)
      yield* service.write(id, "bot", data)
      const after = yield* service.read(id, "bot")
      assert.deepStrictEqual(after.data, data as never)
      assert.include(after.text, "talk_value = 1.0 # 聊天频率")
      assert.include(after.text, "qq_account = \"42\" # 适配器没有上报")
      assert.include(after.text, "[[chat.talk_value_rules]]\ntarget = \"qq:42:private\"")
    })))

  it.effect("a stale version gets a conflict; a write without one still works", () =>
    run(Effect.gen(function*() {
      const tree = checkout("1.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const first = yield* service.read(id, "model")
      const data = structuredClone(first.data) as Record<string, Array<Record<string, unknown>>>
      const model = (data.models as Array<Record<string, unknown>>)[0] as Record<string, unknown>
      model.price_in = 3
      yield* service.write(id, "model", data, { expectedVersion: first.version })
      const onDisk = Fs.readFileSync(first.path, "utf8")
      model.price_in = 4
      const conflict = yield* Effect.flip(service.write(id, "model", data, { expectedVersion: first.version }))
      assert.strictEqual(conflict._tag, "ConfigVersionConflict")
      assert.strictEqual(Fs.readFileSync(first.path, "utf8"), onDisk)
      const blind = yield* service.write(id, "model", data)
      assert.isTrue(blind.changed)
      assert.include(Fs.readFileSync(first.path, "utf8"), "price_in = 4.0 # 输入价格")
    })))

  it.effect("a TOML syntax error on disk is reported with line and column, and nothing is written", () => {
    const dataDir = tempDir("config-files-data")
    return Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const path = Path.join(tree.dir, "config", "lpmm_config.toml")
      const broken = `${fixtureText("0.x", "template", "lpmm_config_template.toml")}\n[broken\nkey = 1\n`
      Fs.writeFileSync(path, broken)
      const service = yield* files
      const read = yield* Effect.flip(service.read(id, "lpmm"))
      assert.strictEqual(read._tag, "ConfigFileInvalid")
      if (read._tag === "ConfigFileInvalid") {
        // The parser notices the unclosed header at the line break that ends it.
        const line = broken.split("\n").indexOf("[broken") + 1
        assert.oneOf(read.line, [line, line + 1])
        assert.isAtLeast(read.column, 1)
      }
      const write = yield* Effect.flip(service.write(id, "lpmm", { lpmm: { version: "0.2.0" } }))
      assert.strictEqual(write._tag, "ConfigFileInvalid")
      assert.strictEqual(Fs.readFileSync(path, "utf8"), broken)
      assert.deepStrictEqual(historyFiles(dataDir, id, "lpmm"), [])
    }).pipe(Effect.provide(layerFor(dataDir)))
  })

  it.effect(".env: comments, order and unknown lines kept, values quoted, line breaks and NUL refused", () =>
    run(Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const envPath = Path.join(tree.dir, ".env")
      Fs.appendFileSync(envPath, "\nthis line is not an assignment\nexport TOKEN='a b'\nBARE\n")
      const service = yield* files
      const before = yield* service.read(id, "env")
      assert.deepStrictEqual(before.data, {
        HOST: "127.0.0.1",
        PORT: "8000",
        WEBUI_HOST: "127.0.0.1",
        WEBUI_PORT: "8001",
        TOKEN: "a b",
        BARE: null
      })
      yield* service.write(id, "env", { HOST: "0.0.0.0", PORT: "8000", TOKEN: "it's ${HOME} \\ \"q\"", NEW_KEY: "plain" })
      const after = Fs.readFileSync(envPath, "utf8")
      assert.strictEqual(
        after,
        "# 麦麦主程序配置\nHOST=0.0.0.0\nPORT=8000\n\n# WebUI 服务器配置\nthis line is not an assignment\n" +
          "export TOKEN='it\\'s ${HOME} \\\\ \"q\"'\nNEW_KEY=plain\n"
      )
      const reread = yield* service.read(id, "env")
      assert.deepStrictEqual(reread.data, { HOST: "0.0.0.0", PORT: "8000", TOKEN: "it's ${HOME} \\ \"q\"", NEW_KEY: "plain" })
      const newline = yield* Effect.flip(service.write(id, "env", { HOST: "a\nb" }))
      assert.strictEqual(newline._tag === "ConfigValueInvalid" && newline.key, "HOST")
      const nul = yield* Effect.flip(service.write(id, "env", { HOST: "a\u0000b" }))
      assert.include(nul.message, "NUL")
      const nulled = yield* Effect.flip(service.write(id, "env", { HOST: null }))
      assert.include(nulled.message, "null")
      assert.strictEqual(Fs.readFileSync(envPath, "utf8"), after)
    })))

  it.effect("the adapter's config: created from its template on first read (0.x), the plugin's (1.x)", () =>
    run(Effect.gen(function*() {
      const service = yield* files
      const old = checkout("0.x", false)
      const oldId = yield* register(old)
      const created = yield* service.read(oldId, "adapter")
      assert.isTrue(created.created)
      assert.strictEqual(created.path, Fs.realpathSync(Path.join(old.dir, "napcat-ada", "config.toml")))
      assert.strictEqual(created.text, fixtureText("0.x", "adapter_template_config.toml"))
      assert.isFalse((yield* service.read(oldId, "adapter")).created)
      const current = checkout("1.x", false)
      const newId = yield* register(current)
      const plugin = yield* service.read(newId, "adapter")
      assert.strictEqual(plugin.path, Fs.realpathSync(Path.join(current.dir, "plugins", "MaiBot-Napcat-Adapter", "config.toml")))
      assert.strictEqual((plugin.data.napcat_server as Record<string, unknown>).port, 8095)
      Fs.rmSync(Path.join(old.dir, "napcat-ada"), { recursive: true })
      const missing = yield* Effect.flip(service.read(oldId, "adapter"))
      assert.strictEqual(missing._tag, "ConfigFileNotFound")
      const lpmm = yield* Effect.flip(service.read(newId, "lpmm"))
      assert.strictEqual(lpmm._tag, "ConfigFileNotFound")
    })))

  it.effect("keeps the last N versions; lists, diffs and restores them", () => {
    const dataDir = tempDir("config-files-data")
    return Effect.gen(function*() {
      const tree = checkout("1.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const original = yield* service.read(id, "bot")
      const values = [0.1, 0.2, 0.3, 0.4, 0.5]
      for (const value of values) {
        const data = structuredClone(original.data) as Record<string, Record<string, unknown>>
        ;(data.chat as Record<string, unknown>).talk_value = value
        yield* service.write(id, "bot", data)
      }
      const listed = yield* service.versions(id, "bot")
      assert.strictEqual(listed.versions.length, 3)
      assert.strictEqual(historyFiles(dataDir, id, "bot").length, 3)
      const oldest = listed.versions[2] as { id: string }
      const text = (yield* service.version(id, "bot", oldest.id)).text
      assert.include(text, "talk_value = 0.2 #")
      const diff = yield* service.diff(id, "bot", oldest.id)
      assert.include(diff.patch, "-talk_value = 0.2 # 聊天频率")
      assert.include(diff.patch, "+talk_value = 0.5 # 聊天频率")
      const restored = yield* service.restore(id, "bot", oldest.id)
      assert.strictEqual(Fs.readFileSync(original.path, "utf8"), text)
      assert.include(restored.saved?.id ?? "", restored.saved?.version ?? "none")
      const bogus = yield* Effect.flip(service.version(id, "bot", "../../../etc/passwd"))
      assert.strictEqual(bogus._tag, "ConfigVersionNotFound")
    }).pipe(Effect.provide(layerFor(dataDir, { keepVersions: 3 })))
  })

  it.effect("an unchanged write touches nothing and keeps no version", () => {
    const dataDir = tempDir("config-files-data")
    return Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const service = yield* files
      const path = Path.join(tree.dir, "config", "bot_config.toml")
      const inode = Fs.statSync(path).ino
      const before = yield* service.read(id, "bot")
      const result = yield* service.write(id, "bot", before.data, { expectedVersion: before.version })
      assert.isFalse(result.changed)
      assert.strictEqual(Fs.statSync(path).ino, inode)
      assert.deepStrictEqual(historyFiles(dataDir, id, "bot"), [])
    }).pipe(Effect.provide(layerFor(dataDir)))
  })

  it.effect("refuses config paths that a symlink leads out of the instance folder", () =>
    run(Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const outside = tempDir("outside")
      Fs.writeFileSync(Path.join(outside, "bot_config.toml"), "[bot]\nnickname = \"elsewhere\"\n")
      Fs.rmSync(Path.join(tree.dir, "config"), { recursive: true })
      Fs.symlinkSync(outside, Path.join(tree.dir, "config"))
      const id = yield* register(tree)
      const service = yield* files
      const read = yield* Effect.flip(service.read(id, "bot"))
      assert.strictEqual(read._tag, "ConfigPathEscapes")
      const write = yield* Effect.flip(service.write(id, "bot", { bot: { nickname: "x" } }))
      assert.strictEqual(write._tag, "ConfigPathEscapes")
      assert.strictEqual(Fs.readFileSync(Path.join(outside, "bot_config.toml"), "utf8"), "[bot]\nnickname = \"elsewhere\"\n")
      const unknown = yield* Effect.flip(service.read("0".repeat(40), "bot"))
      assert.strictEqual(unknown._tag, "InstanceNotFound")
    })))


  it.effect("a FIFO or a folder where a config file should be is refused at once, not waited on", () =>
    run(Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const config = Path.join(tree.dir, "config", "bot_config.toml")
      Fs.rmSync(config)
      ChildProcess.execFileSync("mkfifo", [config])
      const id = yield* register(tree)
      const service = yield* files
      const fifo = yield* Effect.flip(service.read(id, "bot"))
      assert.strictEqual(fifo._tag, "ConfigFileError")
      assert.include(fifo.message, "not a regular file")
      Fs.rmSync(config)
      Fs.mkdirSync(config)
      const folder = yield* Effect.flip(service.write(id, "bot", { bot: { nickname: "x" } }))
      assert.strictEqual(folder._tag, "ConfigFileError")
      assert.include(folder.message, "not a regular file")
    })))
  it.live("a write that fails on a full disk leaves the old file whole and no temporary file", () => {
    const dataDir = tempDir("config-files-data")
    return Effect.gen(function*() {
      const tree = checkout("0.x", false)
      const id = yield* register(tree)
      const configDir = Path.join(tree.dir, "config")
      const path = Path.join(configDir, "bot_config.toml")
      const original = Fs.readFileSync(path, "utf8")
      yield* fillDisk(configDir)
      const service = yield* files
      const data = structuredClone((yield* service.read(id, "bot")).data) as Record<string, Record<string, unknown>>
      ;(data.bot as Record<string, unknown>).nickname = "满了"
      const failure = yield* Effect.flip(service.write(id, "bot", data))
      assert.strictEqual(failure._tag, "ConfigFileError")
      assert.strictEqual(Fs.readFileSync(path, "utf8"), original)
      assert.deepStrictEqual(Fs.readdirSync(configDir).filter((name) => name.endsWith(".tmp")), [])
      assert.deepStrictEqual(historyFiles(dataDir, id, "bot"), [])
    }).pipe(Effect.provide(layerFor(dataDir)), Effect.scoped)
  })

  it.live("a writer killed at any moment leaves the old file or the new one, never a part", () =>
    Effect.gen(function*() {
      const dir = tempDir("atomic-kill")
      const target = Path.join(dir, "bot_config.toml")
      const size = 4 * 1024 * 1024
      Fs.writeFileSync(target, Buffer.alloc(size, "o"))
      for (let round = 0; round < 12; round++) {
        yield* Effect.promise(() => killedWriter(target, size, 20 + round * 17))
        const content = Fs.readFileSync(target)
        assert.strictEqual(content.length, size, `round ${round}: whole file`)
        const first = content[0] as number
        assert.isTrue(content.every((byte) => byte === first), `round ${round}: one version, not a mix`)
      }
      const leftovers = Fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))
      assert.isAtMost(leftovers.length, 12)
    }), 60_000)

  it("read → write unchanged → byte-identical, for generated documents (property)", () => {
    const key = fc.stringMatching(/^[a-z][a-z0-9_]{0,7}$/)
    const scalar = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.integer({ min: -1_000_000, max: 1_000_000 }),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
      fc.boolean()
    )
    const table = fc.dictionary(key, fc.oneof(scalar, fc.array(scalar, { maxLength: 4 })), { maxKeys: 6 })
    const documents = fc.record({ root: table, sections: fc.dictionary(key, table, { maxKeys: 4 }) })
    const layout = fc.record({ comment: fc.boolean(), blank: fc.boolean(), spaces: fc.integer({ min: 0, max: 3 }) })
    return fc.assert(
      fc.asyncProperty(documents, layout, async ({ root, sections }, style) => {
        const lines: Array<string> = []
        const emit = (entries: Record<string, unknown>) => {
          for (const [name, value] of Object.entries(entries)) {
            if (style.comment) lines.push(`# about ${name}`)
            const written = tomlValue(value)
            lines.push(`${name}${" ".repeat(style.spaces)}= ${written}${style.comment ? "   # trailing" : ""}`)
            if (style.blank) lines.push("")
          }
        }
        emit(Object.fromEntries(Object.entries(root).filter(([name]) => !(name in sections))))
        for (const [name, section] of Object.entries(sections)) {
          lines.push("", `[${name}]${style.comment ? " # section" : ""}`)
          emit(section)
        }
        const text = `${lines.join("\n")}\n`
        const tree = checkout("1.x", false)
        Fs.writeFileSync(Path.join(tree.dir, "config", "bot_config.toml"), text)
        const dataDir = tempDir("config-files-prop")
        const exit = await Effect.runPromiseExit(
          Effect.gen(function*() {
            const id = yield* register(tree)
            const service = yield* files
            const snapshot = yield* service.read(id, "bot")
            return yield* service.write(id, "bot", snapshot.data, { expectedVersion: snapshot.version })
          }).pipe(Effect.provide(layerFor(dataDir)))
        )
        assert.isTrue(Exit.isSuccess(exit), String(exit))
        assert.strictEqual(Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8"), text)
        Fs.rmSync(tree.dir, { recursive: true, force: true })
        Fs.rmSync(dataDir, { recursive: true, force: true })
      }),
      { numRuns: 40 }
    )
  }, 120_000)

  it("patches of the real template read back as submitted and change only the edited lines (property)", () => {
    const text = fixtureText("0.x", "template", "bot_config_template.toml")
    const data = parseToml(text) as Record<string, Record<string, unknown>>
    const leaves: Array<readonly [string, string]> = []
    for (const [section, table] of Object.entries(data)) {
      for (const [name, value] of Object.entries(table)) {
        if (typeof value === "string" && !value.includes("\n")) leaves.push([section, name])
      }
    }
    return fc.assert(
      fc.asyncProperty(
        fc.subarray(leaves, { minLength: 1, maxLength: 5 }),
        fc.string({ maxLength: 20 }).filter((s) => !s.includes("\n") && !s.includes("\r")),
        async (chosen, value) => {
          const tree = checkout("0.x", false)
          const next = structuredClone(data)
          for (const [section, name] of chosen) (next[section] as Record<string, unknown>)[name] = value
          const dataDir = tempDir("config-files-prop")
          await Effect.runPromise(
            Effect.gen(function*() {
              const id = yield* register(tree)
              yield* (yield* files).write(id, "bot", next)
            }).pipe(Effect.provide(layerFor(dataDir)))
          )
          const after = Fs.readFileSync(Path.join(tree.dir, "config", "bot_config.toml"), "utf8")
          assert.deepStrictEqual(parseToml(after), next as never)
          const changed = changedLines(text, after)
          assert.isAtMost(changed.length, chosen.length)
          for (const [, old] of changed) assert.isTrue(chosen.some(([, name]) => old.startsWith(`${name} `) || old.startsWith(`${name}=`)))
          Fs.rmSync(tree.dir, { recursive: true, force: true })
          Fs.rmSync(dataDir, { recursive: true, force: true })
        }
      ),
      { numRuns: 30 }
    )
  }, 120_000)
})

/** TOML for a generated value, written the way a person might (spaces after commas in arrays). */
const tomlValue = (value: unknown): string =>
  Array.isArray(value) ? `[${value.map(tomlValue).join(", ")}]` : typeof value === "string"
  ? JSON.stringify(value).replace(/\u007f/g, "\\u007f")
  : typeof value === "number" && Number.isInteger(value) ? String(value) : typeof value === "number"
  ? (Object.is(value, -0) ? "-0.0" : String(value).includes(".") || String(value).includes("e") ? String(value) : `${value}.0`)
  : String(value)

/**
 * Makes `dir`'s file system refuse new data: as root (who ignores permission bits) a 256 KiB tmpfs is mounted over
 * a copy of the folder and filled to the last block; otherwise the folder is made read-only. Undone with the scope.
 */
const fillDisk = (dir: string) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      if (process.getuid?.() !== 0) {
        Fs.chmodSync(dir, 0o555)
        return () => Fs.chmodSync(dir, 0o755)
      }
      const saved = tempDir("config-saved")
      Fs.cpSync(dir, saved, { recursive: true })
      ChildProcess.execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", dir])
      Fs.cpSync(saved, dir, { recursive: true })
      try {
        Fs.writeFileSync(Path.join(dir, "filler"), Buffer.alloc(1024 * 1024))
      } catch {
        // Full: exactly what is wanted.
      }
      return () => ChildProcess.execFileSync("umount", ["-l", dir])
    }),
    (undo) => Effect.sync(undo)
  )

/** Runs the atomic writer in a child process and SIGKILLs it after `delayMs` of writing. */
const killedWriter = (target: string, size: number, delayMs: number) =>
  new Promise<void>((resolve, reject) => {
    const child = ChildProcess.spawn(process.execPath, [fixture("atomicWriter.ts"), target, String(size)], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    child.stdout.once("data", () => setTimeout(() => child.kill("SIGKILL"), delayMs))
    child.once("error", reject)
    child.once("exit", () => resolve())
  })
