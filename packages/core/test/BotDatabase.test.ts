import { assert, describe, it } from "@effect/vitest"
import Sqlite from "better-sqlite3"
import { Effect, Layer, Option } from "effect"
import * as fc from "fast-check"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as BotDatabase from "../src/launcher/BotDatabase.ts"
import * as ReadThread from "../src/launcher/internal/readThread.ts"
import * as InstanceRegistry from "../src/launcher/InstanceRegistry.ts"
import * as Database from "../src/platform/Database.ts"
import { checkout, type Checkout, emojiRow, emotions, type Generation } from "./fixtures/maibotTree.ts"
import { fixture, tempDir } from "./fixtures/support.ts"

const layer = (options: BotDatabase.Options = {}) =>
  BotDatabase.BotDatabase.layer(options).pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layerFile(Path.join(tempDir("bot-db-data"), "maikit.db")))
  )

const register = (dir: string) =>
  InstanceRegistry.InstanceRegistry.use((registry) =>
    registry.add({
      name: "mai",
      version: "test",
      path: dir,
      host: "127.0.0.1",
      port: 8000,
      token: "",
      ownsPath: false,
      components: [
        { name: "main", kind: "main", path: dir, port: 8000, command: "python bot.py", env: {}, restart_policy: "no" }
      ]
    })
  ).pipe(Effect.map((instance) => instance.id))

const emojiCount = 3000
const personCount = 2000
const trees: Partial<Record<Generation, Checkout>> = {}
/** One filled checkout per generation, shared by the read-only tests (thousands of rows take a moment). */
const filled = (generation: Generation): Checkout =>
  (trees[generation] ??= checkout(generation, { emoji: emojiCount, persons: personCount }))

/** Which generated rows are emoji in a generation (1.x: every 5th image is a picture). */
const isEmoji = (generation: Generation, n: number) => generation === "0.x" || n % 5 !== 0

const db = BotDatabase.BotDatabase

describe.each(["0.x", "1.x"] as const)("BotDatabase over MaiBot %s", (generation) => {
  it.effect("searches with the original's filters, order and paging", () =>
    Effect.gen(function*() {
      const id = yield* register(filled(generation).dir)
      const service = yield* db
      const emotion = emotions[2] as string
      const expected = Array.from({ length: emojiCount }, (_, i) => i + 1).filter((n) =>
        isEmoji(generation, n) && emojiRow(n).is_registered === 1 && emojiRow(n).description.includes("猫")
      )
      const page = yield* service.emoji.search(id, { is_registered: 1, description_like: "猫" }, {
        limit: 25,
        offset: 5,
        order: "recent"
      })
      assert.strictEqual(page.total, expected.length)
      assert.deepStrictEqual(
        page.records.map((record) => record.emoji_hash),
        expected.toReversed().slice(5, 30).map((n) => emojiRow(n).hash)
      )
      const first = page.records[0] as Record<string, unknown>
      assert.deepStrictEqual(Object.keys(first).slice(0, 13), [
        "id",
        "full_path",
        "format",
        "emoji_hash",
        "description",
        "query_count",
        "is_registered",
        "is_banned",
        "emotion",
        "record_time",
        "register_time",
        "usage_count",
        "last_used_time"
      ])
      const n = expected.toReversed()[5] as number
      assert.strictEqual(first.record_time, emojiRow(n).record_time)
      if (generation === "1.x") {
        // 1.x has no format, emotion or usage count: null, and the 1.x columns pass through.
        assert.isNull(first.format)
        assert.isNull(first.emotion)
        assert.isNull(first.usage_count)
        assert.strictEqual(first.image_type, "EMOJI")
        assert.strictEqual(first.vlm_processed, 1)
        const byEmotion = yield* service.emoji.count(id, { emotion })
        assert.strictEqual(byEmotion, 0)
      } else {
        assert.strictEqual(first.format, emojiRow(n).format)
        const byEmotion = yield* service.emoji.count(id, { emotion, is_banned: 0 })
        assert.strictEqual(
          byEmotion,
          Array.from({ length: emojiCount }, (_, i) => i + 1).filter((k) => emojiRow(k).emotion === emotion && emojiRow(k).is_banned === 0).length
        )
      }
      // More matches than are paged in memory: counted, then paged by SQLite; the same order either way.
      const dense = yield* service.emoji.search(id, { is_banned: 0 }, { limit: 10, offset: 3, order: "recent" })
      const denseExpected = Array.from({ length: emojiCount }, (_, i) => i + 1).filter((k) =>
        isEmoji(generation, k) && emojiRow(k).is_banned === 0
      )
      assert.isAbove(denseExpected.length, 2000)
      assert.strictEqual(dense.total, denseExpected.length)
      assert.deepStrictEqual(
        dense.records.map((record) => record.emoji_hash),
        denseExpected.toReversed().slice(3, 13).map((k) => emojiRow(k).hash)
      )
      const batch = yield* service.emoji.search(id, {}, { limit: 10, offset: 0, order: "id" })
      assert.deepStrictEqual(
        batch.records.map((record) => record.id),
        Array.from({ length: emojiCount }, (_, i) => emojiCount - i).filter((k) => isEmoji(generation, k)).slice(0, 10)
      )
      const people = yield* service.person.search(id, { has_person_name: true, nickname_like: "昵称1" }, {
        limit: 5,
        offset: 0,
        order: "recent"
      })
      const named = Array.from({ length: personCount }, (_, i) => i + 1).filter((k) => k % 4 !== 0 && `昵称${k}`.includes("昵称1"))
      assert.strictEqual(people.total, named.length)
      assert.deepStrictEqual(people.records.map((record) => record.person_id), named.toReversed().slice(0, 5).map((k) => `person-${k}`))
      const person = people.records[0] as Record<string, unknown>
      assert.strictEqual(person.nickname, `昵称${named.at(-1)}`)
      assert.strictEqual(person.points, `["喜欢猫 ${named.at(-1)}"]`)
      assert.strictEqual(person.last_know, 1_700_000_000 + (named.at(-1) as number) * 3600)
      if (generation === "1.x") assert.isNull(person.impression)
      else assert.strictEqual(person.impression, `印象 ${named.at(-1)}`)
    }).pipe(Effect.provide(layer())))

  it.effect("treats SQL-ish filter text as text, caps enormous limits and refuses negative ones", () =>
    Effect.gen(function*() {
      const tree = filled(generation)
      const id = yield* register(tree.dir)
      const service = yield* db
      for (const text of ["'; DROP TABLE person_info; --", "%", "_", "\\", "\" OR 1=1 --"]) {
        const page = yield* service.emoji.search(id, { description_like: text, emotion: text }, {
          limit: 10,
          offset: 0,
          order: "recent"
        })
        assert.strictEqual(page.total, 0, text)
        assert.strictEqual(yield* service.person.count(id, { person_name_like: text, platform: text }), 0)
      }
      assert.strictEqual(yield* service.person.count(id, {}), personCount)
      const capped = yield* service.emoji.search(id, {}, { limit: 1_000_000_000, offset: 0, order: "id" })
      assert.strictEqual(capped.limit, BotDatabase.maxLimit)
      assert.strictEqual(capped.records.length, BotDatabase.maxLimit)
      const negative = yield* Effect.flip(service.emoji.search(id, {}, { limit: -1, offset: 0, order: "id" }))
      assert.strictEqual(negative._tag, "BotRecordRejected")
      const offset = yield* Effect.flip(service.person.search(id, {}, { limit: 10, offset: -5, order: "id" }))
      assert.strictEqual(offset._tag, "BotRecordRejected")
    }).pipe(Effect.provide(layer())))

  it.live("creates, reads, updates, counts uses and deletes records", () =>
    Effect.gen(function*() {
      const tree = checkout(generation, { emoji: 10, persons: 5 })
      const id = yield* register(tree.dir)
      const service = yield* db
      const created = yield* service.emoji.create(id, {
        full_path: "data/emoji/new.gif",
        format: "gif",
        emoji_hash: "newhash",
        description: "新表情",
        emotion: "开心"
      })
      assert.isNumber(created.id)
      assert.deepStrictEqual(created.ignored, generation === "1.x" ? ["format", "emotion"] : [])
      const byHash = yield* service.emoji.getByHash(id, "newhash")
      assert.strictEqual(byHash.id, created.id)
      assert.strictEqual(byHash.description, "新表情")
      assert.isNumber(byHash.record_time)
      yield* service.emoji.update(id, created.id as number, { description: "改过的", is_registered: 1 })
      yield* service.emoji.recordUsage(id, created.id as number)
      yield* service.emoji.recordQuery(id, created.id as number)
      const updated = yield* service.emoji.get(id, created.id as number)
      assert.strictEqual(updated.description, "改过的")
      assert.strictEqual(updated.is_registered, 1)
      assert.strictEqual(updated.query_count, 1)
      assert.isNumber(updated.last_used_time)
      if (generation === "0.x") assert.strictEqual(updated.usage_count, 1)
      const nothing = yield* Effect.flip(service.emoji.update(id, created.id as number, {}))
      assert.strictEqual(nothing._tag === "BotRecordRejected" && nothing.reason, "nothing-to-update")
      yield* service.emoji.remove(id, created.id as number)
      const gone = yield* Effect.flip(service.emoji.get(id, created.id as number))
      assert.strictEqual(gone._tag, "BotRecordNotFound")
      if (generation === "1.x") {
        const picture = yield* Effect.flip(service.emoji.get(id, 5))
        assert.strictEqual(picture._tag, "BotRecordNotFound", "an IMAGE row is not an emoji")
      }

      const person = yield* service.person.create(id, {
        person_id: "new-person",
        platform: "qq",
        user_id: "424242",
        person_name: "新朋友",
        nickname: "小新",
        impression: "",
        points: "[]",
        know_times: 1,
        know_since: 1_700_000_000,
        last_know: 1_700_000_100
      })
      assert.isNumber(person.id)
      const duplicate = yield* Effect.flip(service.person.create(id, { person_id: "new-person", platform: "qq", user_id: "1" }))
      assert.strictEqual(duplicate._tag === "BotRecordRejected" && duplicate.reason, "duplicate")
      yield* service.person.interaction(id, "new-person", { points_update: "[\"爱吃面\"]", impression_update: "友好" })
      const read = yield* service.person.getByPlatform(id, "qq", "424242")
      assert.strictEqual(read.points, "[\"爱吃面\"]")
      assert.strictEqual(read.impression, generation === "1.x" ? null : "友好")
      assert.isAbove(read.last_know as number, 1_700_000_100)
      yield* service.person.update(id, "new-person", { person_name: "老朋友" })
      assert.strictEqual((yield* service.person.getByPersonId(id, "new-person")).person_name, "老朋友")
      assert.strictEqual((yield* service.person.getByRecordId(id, person.id as number)).person_id, "new-person")
      yield* service.person.remove(id, "new-person")
      assert.strictEqual((yield* Effect.flip(service.person.remove(id, "new-person")))._tag, "BotRecordNotFound")
    }).pipe(Effect.provide(layer())))

  it.each([
    ["read on one thread", {}],
    ["read in halves with the read thread", { parallelScanRows: 1 }]
  ] as const)("pages and totals are SQLite's own ORDER BY, whatever order the times were recorded in, %s (property)", async (_, options) => {
    // Times that follow the ids (as a bot records them), reversed, or scrambled, with ties, mixed storage
    // classes and (1.x) NULLs: every intruder case of the one-pass search, and its fallback to SQLite's sort.
    const tree = checkout(generation, { emoji: 3000, persons: 0 })
    const table = generation === "1.x" ? "images" : "emoji"
    const only = generation === "1.x" ? "AND image_type IN ('EMOJI', 'emoji')" : ""
    const bare = new Sqlite(tree.database as string)
    const setKey = bare.prepare(`UPDATE ${table} SET record_time = ? WHERE id = ?`)
    const key = fc.oneof(
      fc.integer({ min: 0, max: 50 }),
      fc.double({ noNaN: true, noDefaultInfinity: true, min: 0, max: 50 }),
      fc.constantFrom("2024-01-01 10:00:00.000000", "2024-01-01 10:00:00.000001", "z"),
      ...(generation === "1.x" ? [fc.constant(null)] : [])
    )
    const filters = [
      { where: "", filter: {} },
      { where: "AND is_registered = 1", filter: { is_registered: 1 } },
      { where: "AND description LIKE '%猫%'", filter: { description_like: "猫" } },
      { where: "AND description LIKE '%表情包 1%'", filter: { description_like: "表情包 1" } }
    ] as const
    const scenario = fc.record({
      times: fc.constantFrom("by-id", "reversed", "scrambled"),
      overrides: fc.array(fc.tuple(fc.integer({ min: 1, max: 3000 }), key), { maxLength: 40 }),
      filter: fc.constantFrom(...filters),
      offset: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2500 })),
      limit: fc.integer({ min: 1, max: 120 })
    })
    const program = Effect.gen(function*() {
      const id = yield* register(tree.dir)
      const service = yield* db
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(scenario, async ({ times, overrides, filter, offset, limit }) => {
            bare.transaction(() => {
              for (let n = 1; n <= 3000; n++) {
                const base = times === "by-id" ? n : times === "reversed" ? 3000 - n : (n * 7919) % 3001
                setKey.run(1_700_000_000 + base * 60, n)
              }
              for (const [n, value] of overrides) setKey.run(value, n)
            })()
            const expected = bare.prepare(
              `SELECT id FROM ${table} WHERE 1 = 1 ${filter.where} ${only} ORDER BY record_time DESC, id DESC LIMIT ? OFFSET ?`
            ).all(limit, offset).map((row) => (row as { id: number }).id)
            const total = (bare.prepare(`SELECT COUNT(*) AS n FROM ${table} WHERE 1 = 1 ${filter.where} ${only}`).get() as {
              n: number
            }).n
            const page = await Effect.runPromiseWith(context)(
              service.emoji.search(id, filter.filter, { limit, offset, order: "recent" })
            )
            assert.strictEqual(page.total, total)
            assert.deepStrictEqual(page.records.map((record) => record.id), expected)
          }),
          { numRuns: 80 }
        )
      )
    })
    try {
      await Effect.runPromise(program.pipe(Effect.provide(layer(options))))
    } finally {
      bare.close()
    }
  }, 60_000)

  it.live("a bot process writing the database keeps working while MaiKit reads and writes it (read in halves)", () =>
    Effect.gen(function*() {
      const tree = checkout(generation, { emoji: 2000, persons: 100 })
      const id = yield* register(tree.dir)
      const service = yield* db
      const writer = ChildProcess.spawn(process.execPath, [fixture("botWriter.mjs"), tree.database as string, generation, "3000"], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let output = ""
      writer.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
      let errors = ""
      writer.stderr.on("data", (chunk: Buffer) => (errors += chunk.toString()))
      const exited = new Promise<number | null>((resolve) => writer.once("exit", resolve))
      yield* Effect.promise(() => new Promise<void>((resolve) => writer.stdout.once("data", () => resolve())))
      let operations = 0
      const started = Date.now()
      while (Date.now() - started < 2500) {
        yield* service.emoji.search(id, { description_like: "运行中" }, { limit: 20, offset: 0, order: "recent" })
        const created = yield* service.emoji.create(id, {
          full_path: `data/emoji/maikit-${operations}.png`,
          format: "png",
          emoji_hash: `maikit${operations}`
        })
        yield* service.emoji.recordQuery(id, created.id as number)
        yield* service.person.interaction(id, "person-1", { points_update: String(operations) })
        operations++
      }
      const code = yield* Effect.promise(() => exited)
      assert.strictEqual(code, 0, errors)
      const stats = JSON.parse(output.trim().split("\n").at(-1) as string) as { inserted: number; errors: number }
      assert.strictEqual(stats.errors, 0, errors)
      assert.isAbove(stats.inserted, 100)
      assert.isAbove(operations, 20)
      const live = yield* service.emoji.count(id, { description_like: "运行中写入" })
      assert.strictEqual(live, stats.inserted)
    }).pipe(Effect.provide(layer({ parallelScanRows: 1 }))), 30_000)
})

describe("BotDatabase without a usable database", () => {
  it.effect("missing, not SQLite, not MaiBot's, or outside the instance: unavailable, and nothing is created", () =>
    Effect.gen(function*() {
      const service = yield* db
      const missing = checkout("0.x", false)
      const missingId = yield* register(missing.dir)
      const error = yield* Effect.flip(service.emoji.count(missingId, {}))
      assert.strictEqual(error._tag === "BotDatabaseUnavailable" && error.reason, "missing")
      assert.isFalse(Fs.existsSync(Path.join(missing.dir, "data", "MaiBot.db")))
      const info = yield* service.info(missingId)
      assert.deepStrictEqual(info.database, {
        path: Path.join(missing.dir, "data", "MaiBot.db"),
        exists: false,
        valid: false,
        size: 0
      })
      assert.strictEqual(info.generation, "0.x")

      const notSqlite = checkout("1.x", false)
      Fs.mkdirSync(Path.join(notSqlite.dir, "data"))
      Fs.writeFileSync(Path.join(notSqlite.dir, "data", "MaiBot.db"), "this is not a database, just text ".repeat(100))
      const notSqliteId = yield* register(notSqlite.dir)
      const unreadable = yield* Effect.flip(service.emoji.count(notSqliteId, {}))
      assert.strictEqual(unreadable._tag === "BotDatabaseUnavailable" && unreadable.reason, "unreadable")
      assert.isFalse((yield* service.info(notSqliteId)).database.valid)

      const other = checkout("1.x", false)
      Fs.mkdirSync(Path.join(other.dir, "data"))
      const foreign = new Sqlite(Path.join(other.dir, "data", "MaiBot.db"))
      foreign.exec("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
      foreign.close()
      const otherId = yield* register(other.dir)
      const notMaiBot = yield* Effect.flip(service.person.count(otherId, {}))
      assert.strictEqual(notMaiBot._tag === "BotDatabaseUnavailable" && notMaiBot.reason, "not-maibot")
      const otherInfo = yield* service.info(otherId)
      assert.isTrue(otherInfo.database.valid)
      assert.strictEqual(otherInfo.generation, "1.x")

      const escaping = checkout("0.x", false)
      const elsewhere = checkout("0.x", { emoji: 3, persons: 1 })
      Fs.symlinkSync(Path.join(elsewhere.dir, "data"), Path.join(escaping.dir, "data"))
      const escapingId = yield* register(escaping.dir)
      const outside = yield* Effect.flip(service.emoji.count(escapingId, {}))
      assert.strictEqual(outside._tag === "BotDatabaseUnavailable" && outside.reason, "outside")

      const unknown = yield* Effect.flip(service.emoji.count("f".repeat(40), {}))
      assert.strictEqual(unknown._tag, "InstanceNotFound")
    }).pipe(Effect.provide(layer())))
})

describe("BotDatabase's read thread", () => {
  it.live("reads on its own connections once started, answers None where it cannot, and stops with its scope", () =>
    Effect.gen(function*() {
      const small = checkout("0.x", { emoji: 300, persons: 0 })
      const large = checkout("1.x", { emoji: 900, persons: 0 })
      const thread = yield* ReadThread.make({ busyTimeout: 1000, mmapSize: 0 })
      const first = (file: string, identity: string, sql: string, params: ReadonlyArray<unknown>) =>
        Effect.flatten(thread.first(file, identity, [sql, params]))
      const countSmall = first(small.database as string, "small", "SELECT COUNT(*) AS total FROM emoji WHERE id < ?", [101])
      // Until it has loaded the driver, callers read on their own.
      const answers = [yield* countSmall]
      while (Option.isNone(answers.at(-1) as Option.Option<unknown>) && answers.length < 500) {
        yield* Effect.sleep(10)
        answers.push(yield* countSmall)
      }
      assert.deepStrictEqual(answers.at(-1), Option.some({ total: 100 }))
      const both = yield* first(
        large.database as string,
        "large",
        "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE image_type = 'IMAGE') AS pictures FROM images WHERE id >= ?",
        [1]
      )
      assert.deepStrictEqual(both, Option.some({ total: 900, pictures: 180 }))
      const newest = yield* Effect.flatten(
        thread.all(large.database as string, "large", ["SELECT id FROM images WHERE id < ? ORDER BY id DESC LIMIT 3", [500]])
      )
      assert.deepStrictEqual(newest, Option.some([{ id: 499 }, { id: 498 }, { id: 497 }]))
      assert.deepStrictEqual(yield* first(large.database as string, "large", "SELECT COUNT(*) FROM nowhere", []), Option.none())
      thread.forget("small")
      assert.deepStrictEqual(yield* countSmall, Option.some({ total: 100 }))
      const missing = Path.join(tempDir("read-thread"), "MaiBot.db")
      assert.deepStrictEqual(yield* first(missing, "missing", "SELECT 1 AS one", []), Option.none())
      assert.isFalse(Fs.existsSync(missing), "the thread never creates a database")
    }).pipe(Effect.scoped), 20_000)
})
