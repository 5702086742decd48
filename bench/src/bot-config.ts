/**
 * Editing the real-size `bot_config.toml` (MaiBot 0.12's 312-line commented template): `BotConfigFiles.read`
 * then `write` of one changed value — version check, type check against the template, a kept version, the
 * patch, the read-back check, temp file + fsync + rename + folder fsync, pruning — against a bare
 * read-modify-write with the same TOML code (read the file, parse, patch, `writeFile`) in the same run,
 * rounds alternating. A second baseline adds only the durable atomic write to the bare path, which separates
 * the cost of durability (the disk's fsync) from MaiKit's own work. Run on the OS temp folder (a real disk)
 * and, where it exists, on /dev/shm (memory, where fsync is free).
 *
 * Run: `pnpm bench bot-config`
 */
import { Effect, Layer, Result } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as BotConfigFiles from "../../packages/core/src/launcher/BotConfigFiles.ts"
import * as InstanceRegistry from "../../packages/core/src/launcher/InstanceRegistry.ts"
import { writeAtomic } from "../../packages/core/src/launcher/internal/atomicFile.ts"
import * as Toml from "../../packages/core/src/launcher/internal/tomlDocument.ts"
import * as Database from "../../packages/core/src/platform/Database.ts"
import { MaikitConfig } from "../../packages/core/src/platform/MaikitConfig.ts"
import { fixtureText } from "../../packages/core/test/fixtures/maibotTree.ts"
import { format, median, printTable } from "./harness.ts"

const writesPerRound = Number(process.env["BENCH_WRITES"] ?? 150)
const rounds = Number(process.env["BENCH_ROUNDS"] ?? 5)
const template = fixtureText("0.x", "template", "bot_config_template.toml")

/** A 0.x checkout holding only what this benchmark edits. */
const checkout = (root: string) => {
  const dir = Fs.mkdtempSync(Path.join(root, "maikit-bench-config-"))
  Fs.mkdirSync(Path.join(dir, "template"))
  Fs.mkdirSync(Path.join(dir, "config"))
  Fs.writeFileSync(Path.join(dir, "template", "bot_config_template.toml"), template)
  Fs.writeFileSync(Path.join(dir, "config", "bot_config.toml"), template)
  return dir
}

const bare = (file: string, value: number, durable: boolean) => {
  const text = Fs.readFileSync(file, "utf8")
  const document = Result.getOrThrow(Toml.parse(text))
  const next = structuredClone(document.value) as Record<string, Toml.JsonTable>
  next.chat = { ...next.chat, talk_value: value }
  const patched = Result.getOrThrow(Toml.patch(document, next)).text
  return durable ? writeAtomic(file, patched) : Fs.promises.writeFile(file, patched)
}

const bareRound = (file: string, durable: boolean) =>
  Effect.promise(async () => {
    const started = performance.now()
    for (let i = 0; i < writesPerRound; i++) await bare(file, (i % 9 + 1) / 10, durable)
    return writesPerRound / ((performance.now() - started) / 1000)
  })

const measure = async (root: string) => {
  const instanceDir = checkout(root)
  const bareDir = checkout(root)
  const dataDir = Fs.mkdtempSync(Path.join(root, "maikit-bench-config-data-"))
  const bareFile = Path.join(bareDir, "config", "bot_config.toml")
  const samples = { service: [] as Array<number>, bare: [] as Array<number>, durable: [] as Array<number> }
  const layer = BotConfigFiles.BotConfigFiles.layer({ keepVersions: 20 }).pipe(
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provide(Database.layerFile(Path.join(dataDir, "maikit.db"))),
    Layer.provide(MaikitConfig.layerFrom({ dataDir }))
  )
  await Effect.runPromise(Effect.gen(function*() {
    const registry = yield* InstanceRegistry.InstanceRegistry
    const instance = yield* registry.add({
      name: "bench",
      version: "0.12.3",
      path: instanceDir,
      host: "127.0.0.1",
      port: 8000,
      token: "",
      ownsPath: false,
      components: []
    })
    const files = yield* BotConfigFiles.BotConfigFiles
    const serviceRound = Effect.gen(function*() {
      const started = performance.now()
      for (let i = 0; i < writesPerRound; i++) {
        const snapshot = yield* files.read(instance.id, "bot")
        const next = structuredClone(snapshot.data) as Record<string, Record<string, unknown>>
        ;(next.chat as Record<string, unknown>).talk_value = (i % 9 + 1) / 10
        yield* files.write(instance.id, "bot", next, { expectedVersion: snapshot.version })
      }
      return writesPerRound / ((performance.now() - started) / 1000)
    })
    yield* serviceRound
    yield* bareRound(bareFile, false)
    for (let round = 0; round < rounds; round++) {
      samples.service.push(yield* serviceRound)
      samples.bare.push(yield* bareRound(bareFile, false))
      samples.durable.push(yield* bareRound(bareFile, true))
    }
  }).pipe(Effect.provide(layer)))
  for (const dir of [instanceDir, bareDir, dataDir]) Fs.rmSync(dir, { recursive: true, force: true })
  return {
    service: median(samples.service),
    bare: median(samples.bare),
    durable: median(samples.durable)
  }
}

const places: Array<readonly [string, string]> = [["OS temp folder (disk)", Os.tmpdir()]]
if (Fs.existsSync("/dev/shm")) places.push(["/dev/shm (memory)", "/dev/shm"])

const rows: Array<Array<string>> = []
for (const [name, root] of places) {
  const result = await measure(root)
  rows.push([
    name,
    format(result.service),
    format(result.bare),
    format(result.service / result.bare, 2),
    format(result.durable),
    format(result.service / result.durable, 2)
  ])
}
printTable(
  `bot_config.toml (${template.split("\n").length} lines) read + patch + write, median of ${rounds} rounds of ${writesPerRound}`,
  ["where", "BotConfigFiles ops/s", "bare RMW ops/s", "ratio", "bare + atomic write ops/s", "ratio"],
  rows
)
