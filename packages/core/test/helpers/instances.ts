/**
 * MaiBot instances for tests: a folder laid out like a MaiBot checkout whose `python bot.py` really runs (its
 * `venv/bin/python` is a link to this Node, and `bot.py` is the `maibot.cjs` fixture), fixture services, and
 * the supervisor on a fresh database with test-sized timings.
 */
import { Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Database from "../../src/platform/Database.ts"
import * as InstanceRegistry from "../../src/launcher/InstanceRegistry.ts"
import * as InstanceSupervisor from "../../src/launcher/InstanceSupervisor.ts"
import { MaikitConfig } from "../../src/platform/MaikitConfig.ts"
import { fixture, tempDir } from "../fixtures/support.ts"

export { eventually, fixture, isGone, tempDir } from "../fixtures/support.ts"

/** A command line running a Node fixture, quoted so that paths with spaces survive. */
export const command = (script: string, ...args: ReadonlyArray<string>): string =>
  [process.execPath, fixture(script), ...args].map((word) => JSON.stringify(word)).join(" ")

const linkVenv = (dir: string): void => {
  Fs.mkdirSync(Path.join(dir, "venv", "bin"), { recursive: true })
  Fs.symlinkSync(process.execPath, Path.join(dir, "venv", "bin", "python"))
}

/**
 * A MaiBot folder with a venv and a `bot.py`, an adapter in `napcat-ada/` whose `python main.py` runs the
 * echoing `interactive.mjs` through its own venv (as the client registers it), and an empty `napcat/`.
 */
export const botFolder = (): string => runnableBot(tempDir("maibot"))

/** Makes `dir` (a MaiBot checkout, say) runnable as `botFolder` lays it out: venvs, `bot.py`, the adapter, `napcat/`. */
export const runnableBot = (dir: string): string => {
  linkVenv(dir)
  Fs.copyFileSync(fixture("maibot.cjs"), Path.join(dir, "bot.py"))
  linkVenv(Path.join(dir, "napcat-ada"))
  Fs.copyFileSync(fixture("interactive.mjs"), Path.join(dir, "napcat-ada", "main.py"))
  Fs.mkdirSync(Path.join(dir, "napcat"), { recursive: true })
  return dir
}

type NewComponent = InstanceRegistry.NewInstance["components"][number]

export const component = (
  name: string,
  path: string,
  commandLine: string,
  overrides: Partial<NewComponent> = {}
): NewComponent => ({
  name,
  kind: name === "main" ? "main" : "service",
  path,
  port: null,
  command: commandLine,
  env: {},
  restart_policy: "on-failure",
  ...overrides
})

/** MaiBot (`python bot.py` through the venv) with an adapter and NapCat that echo their input. */
export const maibotInstance = (
  dir: string,
  overrides: Partial<InstanceRegistry.NewInstance> = {}
): InstanceRegistry.NewInstance => ({
  name: "mai",
  version: "0.7.0",
  path: dir,
  host: "127.0.0.1",
  port: 8000,
  token: "",
  ownsPath: false,
  components: [
    component("main", dir, "python bot.py", { port: 8000 }),
    component("napcat-ada", Path.join(dir, "napcat-ada"), command("interactive.mjs"), { port: 8095 }),
    component("napcat", Path.join(dir, "napcat"), command("interactive.mjs"))
  ],
  ...overrides
})

/** One run of a single fixture component. */
export const singleInstance = (name: string, commandLine: string, overrides: Partial<NewComponent> = {}) => {
  const dir = tempDir(name)
  return {
    name,
    version: "test",
    path: dir,
    host: "127.0.0.1",
    port: 8000,
    token: "",
    ownsPath: false,
    components: [component("main", dir, commandLine, overrides)]
  } satisfies InstanceRegistry.NewInstance
}

export const testOptions: InstanceSupervisor.Options = {
  startSeconds: 0.2,
  stopGraceMs: 500,
  treeScanMs: 100,
  startWaitMs: 5_000,
  backoff: { initialMs: 100, factor: 2, jitter: 0, maxMs: 2_000 }
}

/** The registry on `<dataDir>/maikit.db`. */
export const registryLayer = (dataDir: string) =>
  InstanceRegistry.InstanceRegistry.layer.pipe(Layer.provide(Database.layerFile(Path.join(dataDir, "maikit.db"))))

/** The supervisor and its registry on `<dataDir>/maikit.db`, with history under `<dataDir>/instances`. */
export const supervisorLayer = (dataDir: string, options: InstanceSupervisor.Options = {}) =>
  InstanceSupervisor.InstanceSupervisor.layer({ ...testOptions, ...options }).pipe(
    Layer.provideMerge(registryLayer(dataDir)),
    Layer.provideMerge(MaikitConfig.layerFrom({ dataDir }))
  )
