import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { pathToFileURL } from "node:url"
import { afterAll } from "vitest"
import { AgentHooks } from "@maikit/core/relay"
import { eventually } from "../../core/test/helpers/mqtt.ts"
import { HookInstaller, LightRelay } from "../src/index.ts"

const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-hooks-"))
afterAll(() => Fs.rmSync(root, { recursive: true, force: true }))
let counter = 0
const fresh = () => {
  const dir = Path.join(root, `case-${++counter}`)
  Fs.mkdirSync(dir, { recursive: true })
  return dir
}
const examples = Path.resolve(import.meta.dirname, "../../../examples/hooks")

const relay = Effect.gen(function*() {
  const cwd = fresh()
  const context = yield* Layer.build(LightRelay.layer({ cwd, addr: "127.0.0.1:0", ble: false, console: false }))
  const address = Context.get(context, HttpServer.HttpServer).address
  return `http://127.0.0.1:${address._tag === "UnixPathAddress" ? 0 : address.port}`
})

const sessions = (base: string) =>
  Effect.promise(async () => {
    const response = await fetch(`${base}/api/status`)
    const body = (await response.json()) as { data: { sessions: Array<{ session_id: string; code: string; label?: string }> } }
    return body.data.sessions
  })

describe("HookInstaller", () => {
  it.effect("merges into Claude Code's settings: keeps the user's hooks, backs up first, idempotent", () =>
    Effect.gen(function*() {
      const home = fresh()
      const file = Path.join(home, ".claude", "settings.json")
      Fs.mkdirSync(Path.dirname(file), { recursive: true })
      const original = {
        model: "opus",
        hooks: {
          PreToolUse: [{ matcher: "Bash", hooks: [{ type: "command", command: "~/bin/audit.sh" }] }],
          Stop: [{ hooks: [{ type: "command", command: "say done" }] }]
        }
      }
      Fs.writeFileSync(file, JSON.stringify(original))
      const now = new Date("2026-06-27T14:30:00Z")
      const [change] = yield* HookInstaller.install({ home, agents: ["claude"], now, token: "t0k'en" })
      assert.strictEqual(change?.action, "update")
      assert.strictEqual(change?.backup, `${file}.maikit-backup-20260627-143000`)
      assert.deepStrictEqual(JSON.parse(Fs.readFileSync(change?.backup ?? "", "utf8")), original)

      const written = JSON.parse(Fs.readFileSync(file, "utf8")) as {
        model: string
        hooks: Record<string, Array<{ matcher?: string; hooks: Array<{ command: string }> }>>
      }
      assert.strictEqual(written.model, "opus")
      assert.deepStrictEqual(Object.keys(written.hooks).toSorted(), [...AgentHooks.claudeEvents].toSorted())
      assert.strictEqual(written.hooks["PreToolUse"]?.[0]?.hooks[0]?.command, "~/bin/audit.sh")
      assert.strictEqual(written.hooks["PreToolUse"]?.[1]?.matcher, "*")
      assert.strictEqual(written.hooks["Stop"]?.[0]?.hooks[0]?.command, "say done")
      assert.include(written.hooks["Stop"]?.[1]?.hooks[0]?.command ?? "", "'x-maikit-token: t0k'\\''en'")

      const again = yield* HookInstaller.install({ home, agents: ["claude"], now, token: "t0k'en" })
      assert.strictEqual(again[0]?.action, "unchanged")
      const moved = yield* HookInstaller.install({ home, agents: ["claude"], url: "http://10.0.0.2:8045" })
      const rewritten = JSON.parse(Fs.readFileSync(moved[0]?.path ?? "", "utf8")) as typeof written
      assert.lengthOf(rewritten.hooks["Stop"] ?? [], 2)
      assert.include(rewritten.hooks["Stop"]?.[1]?.hooks[0]?.command ?? "", "http://10.0.0.2:8045/api/hook/claude")
    }))

  it.effect("leaves a settings file that is not JSON alone, and --dry-run writes nothing", () =>
    Effect.gen(function*() {
      const home = fresh()
      const file = Path.join(home, ".claude", "settings.json")
      Fs.mkdirSync(Path.dirname(file), { recursive: true })
      Fs.writeFileSync(file, "{ \"model\": ")
      const error = yield* Effect.flip(HookInstaller.install({ home, agents: ["claude"] }))
      assert.strictEqual(error._tag, "HookInstallError")
      assert.include(error.message, "not valid JSON")
      assert.strictEqual(Fs.readFileSync(file, "utf8"), "{ \"model\": ")
      assert.deepStrictEqual(Fs.readdirSync(Path.dirname(file)), ["settings.json"])

      const other = fresh()
      const planned = yield* HookInstaller.install({ home: other, dryRun: true })
      assert.deepStrictEqual(planned.map((change) => [change.agent, change.action]), [
        ["claude", "create"],
        ["codex", "create"],
        ["codex", "create"],
        ["opencode", "create"]
      ])
      assert.deepStrictEqual(Fs.readdirSync(other), [])
    }))

  it.effect("turns on codex_hooks without disturbing the rest of config.toml", () =>
    Effect.sync(() => {
      assert.strictEqual(HookInstaller.enableCodexHooks(""), "[features]\ncodex_hooks = true\n")
      const withFeatures = "model = \"o4\" # mine\n\n[features]\nweb_search = true\n"
      assert.strictEqual(
        HookInstaller.enableCodexHooks(withFeatures),
        "model = \"o4\" # mine\n\n[features]\ncodex_hooks = true\nweb_search = true\n"
      )
      assert.strictEqual(
        HookInstaller.enableCodexHooks("[features]\ncodex_hooks = false # off\n"),
        "[features]\ncodex_hooks = true # off\n"
      )
      const on = "[features]\ncodex_hooks = true\n"
      assert.strictEqual(HookInstaller.enableCodexHooks(on), on)
      assert.strictEqual(HookInstaller.enableCodexHooks("notify = [\"x\"]"), "notify = [\"x\"]\n\n[features]\ncodex_hooks = true\n")
    }))

  it.effect("examples/hooks holds exactly what the installer writes for the default relay", () =>
    Effect.gen(function*() {
      const planned = yield* HookInstaller.install({ home: fresh(), dryRun: true })
      const byFile = Object.fromEntries(planned.map((change) => [change.path.split(Path.sep).slice(-2).join("/"), change.content]))
      assert.strictEqual(Fs.readFileSync(Path.join(examples, "claude/settings.json"), "utf8"), byFile[".claude/settings.json"])
      assert.strictEqual(Fs.readFileSync(Path.join(examples, "codex/hooks.json"), "utf8"), byFile[".codex/hooks.json"])
      assert.strictEqual(Fs.readFileSync(Path.join(examples, "codex/config.toml"), "utf8"), byFile[".codex/config.toml"])
      assert.strictEqual(Fs.readFileSync(Path.join(examples, "opencode/maikit-status.js"), "utf8"), byFile["plugins/maikit-status.js"])
    }))
})

describe("installed hooks against a real relay", () => {
  it.live("Claude Code's hook command posts its stdin and the relay maps it", () =>
    Effect.gen(function*() {
      const base = yield* relay
      const command = HookInstaller.hookCommand("claude", { url: base })
      const payload = JSON.stringify({
        session_id: "claude-42",
        cwd: "/home/me/shop",
        hook_event_name: "Notification",
        notification_type: "permission_prompt"
      })
      execFileSync("sh", ["-c", command], { input: payload })
      const [session] = yield* sessions(base)
      assert.deepStrictEqual([session?.session_id, session?.code, session?.label], ["claude-42", "permission", "shop"])
      // With the relay gone the hook still exits 0 and quickly.
      const started = Date.now()
      execFileSync("sh", ["-c", HookInstaller.hookCommand("claude", { url: "http://127.0.0.1:9" })], { input: payload })
      assert.isBelow(Date.now() - started, 3000)
    }).pipe(Effect.scoped))

  it.live("the opencode plugin forwards events the relay maps, sub-agents counting for their root", () =>
    Effect.gen(function*() {
      const base = yield* relay
      const file = Path.join(fresh(), "maikit-status.mjs")
      Fs.writeFileSync(file, HookInstaller.opencodePlugin({ url: base }))
      const module = (yield* Effect.promise(() => import(pathToFileURL(file).href))) as {
        MaikitStatusLight: () => Promise<{
          event: (input: { event: { type: string; properties: unknown } }) => Promise<void>
          "tool.execute.before": (input: { sessionID: string; tool: string }) => Promise<void>
        }>
      }
      const hooks = yield* Effect.promise(() => module.MaikitStatusLight())
      const send = (type: string, properties: unknown) => Effect.promise(() => hooks.event({ event: { type, properties } }))
      yield* send("session.created", { info: { id: "root", title: "refactor" } })
      yield* eventually("root", Effect.map(sessions(base), (all) => all.some((s) => s.session_id === "root")))
      yield* send("session.created", { info: { id: "child", parentID: "root", title: "explore" } })
      yield* send("message.part.updated", { part: { id: "p1", type: "reasoning", sessionID: "root" } })
      yield* eventually("reasoning", Effect.map(sessions(base), (all) => all[0]?.code === "reasoning"))
      yield* Effect.promise(() => hooks["tool.execute.before"]({ sessionID: "child", tool: "bash" }))
      yield* eventually("child tool on root", Effect.map(sessions(base), (all) => all[0]?.code === "using_tool"))
      yield* send("session.status", { sessionID: "child", status: { type: "idle" } })
      yield* send("permission.asked", { id: "perm", sessionID: "root" })
      yield* eventually("permission", Effect.map(sessions(base), (all) => all[0]?.code === "permission"))
      const all = yield* sessions(base)
      assert.deepStrictEqual(all.map((s) => [s.session_id, s.label]), [["root", "refactor"]])
    }).pipe(Effect.scoped))
})
