/**
 * `maikit light install-hooks`: wires Claude Code, Codex and opencode to the relay. Each hook only forwards
 * the tool's own payload to `POST /api/hook/<agent>`, where `AgentHooks` maps it, so the mapping lives in one
 * place and the hooks need nothing but `curl` (opencode gets a small plugin file instead).
 *
 * Existing settings are merged, never replaced: the user's own hooks stay, entries this installer wrote
 * before (recognised by their `/api/hook/<agent>` URL) are replaced, and every file that changes is first
 * copied to `<file>.maikit-backup-<time>`. Writes are atomic. A settings file that is not valid JSON is left
 * alone and reported.
 */
import { Effect, Predicate } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { AgentHooks } from "@maikit/core/relay"
import { url as defaultUrl } from "./LightRelayDefaults.ts"
import { HookInstallError } from "./LightRelayError.ts"

export { HookInstallError } from "./LightRelayError.ts"

export interface Options {
  readonly agents?: ReadonlyArray<AgentHooks.Agent> | undefined
  /** The relay's base URL. Default http://127.0.0.1:8045. */
  readonly url?: string | undefined
  readonly token?: string | undefined
  /** Whose settings: default the current user's home directory. */
  readonly home?: string | undefined
  readonly dryRun?: boolean | undefined
  /** Suffix of backup files; default the current time. */
  readonly now?: Date | undefined
}

export interface Change {
  readonly agent: AgentHooks.Agent
  readonly path: string
  readonly action: "create" | "update" | "unchanged"
  readonly backup: string | undefined
  readonly content: string
}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const shellQuote = (value: string) => `'${value.replaceAll("'", "'\\''")}'`

/** The command a Claude Code or Codex hook runs: post stdin to the relay, never fail the tool. */
export const hookCommand = (agent: "claude" | "codex", options: Pick<Options, "url" | "token">, event?: string) => {
  const url = `${(options.url ?? defaultUrl).replace(/\/+$/, "")}/api/hook/${agent}${event === undefined ? "" : `?event=${event}`}`
  const token = options.token === undefined ? "" : ` -H ${shellQuote(`x-maikit-token: ${options.token}`)}`
  return `curl -s -m 2 -o /dev/null -X POST -H 'content-type: application/json'${token} --data-binary @- ${shellQuote(url)} || true`
}

const toolEvents = new Set(["PreToolUse", "PostToolUse", "PostToolUseFailure", "PermissionRequest"])

const isOurs = (agent: string, entry: unknown) =>
  Predicate.isObject(entry) && Predicate.hasProperty(entry, "hooks") && Array.isArray(entry.hooks) &&
  entry.hooks.some((hook) =>
    Predicate.isObject(hook) && Predicate.hasProperty(hook, "command") && Predicate.isString(hook.command) &&
    hook.command.includes(`/api/hook/${agent}`)
  )

type Json = Record<string, unknown>

/** `settings` with `events` wired to the relay; other keys and the user's own hooks untouched. */
export const mergeHooks = (
  agent: "claude" | "codex",
  settings: Json,
  events: ReadonlyArray<string>,
  options: Pick<Options, "url" | "token">
): Json => {
  const existing = Predicate.isObject(settings["hooks"]) ? (settings["hooks"] as Json) : {}
  const hooks: Json = { ...existing }
  for (const event of events) {
    const list = Array.isArray(existing[event]) ? (existing[event] as Array<unknown>) : []
    const entry = {
      ...(toolEvents.has(event) ? { matcher: "*" } : {}),
      hooks: [{ type: "command", command: hookCommand(agent, options, agent === "codex" ? event : undefined), timeout: 5 }]
    }
    hooks[event] = [...list.filter((item) => !isOurs(agent, item)), entry]
  }
  return { ...settings, hooks }
}

/** Turns on `[features] codex_hooks`, editing the text so the user's comments and layout stay. */
export const enableCodexHooks = (toml: string): string => {
  if (/^\s*codex_hooks\s*=\s*true\s*(#.*)?$/m.test(toml)) return toml
  if (/^\s*codex_hooks\s*=/m.test(toml)) return toml.replace(/^(\s*codex_hooks\s*=\s*)[^#\n]*/m, "$1true ")
  if (/^\s*\[features\]\s*(#.*)?$/m.test(toml)) return toml.replace(/^(\s*\[features\][^\n]*\n?)/m, "$1codex_hooks = true\n")
  const separator = toml === "" || toml.endsWith("\n\n") ? "" : toml.endsWith("\n") ? "\n" : "\n\n"
  return `${toml}${separator}[features]\ncodex_hooks = true\n`
}

/** The opencode plugin: forwards session, permission, question, tool and reasoning events, reduced. */
export const opencodePlugin = (options: Pick<Options, "url" | "token">) => {
  const url = `${(options.url ?? defaultUrl).replace(/\/+$/, "")}/api/hook/opencode`
  const headers = { "content-type": "application/json", ...(options.token === undefined ? {} : { "x-maikit-token": options.token }) }
  return `// MaiKit AI status light: forwards opencode's session events to the relay (written by maikit light install-hooks).
const RELAY = ${JSON.stringify(url)}
const HEADERS = ${JSON.stringify(headers)}
const FORWARDED = new Set([
  "session.created", "session.updated", "session.status", "session.idle", "session.error", "session.deleted",
  "permission.asked", "permission.updated", "permission.replied", "question.asked", "question.replied"
])

const post = (body) => {
  if (typeof body.session_id !== "string") return
  fetch(RELAY, { method: "POST", headers: HEADERS, body: JSON.stringify(body), signal: AbortSignal.timeout(2000) })
    .catch(() => {})
}

export const MaikitStatusLight = async () => {
  const reasoning = new Set()
  return {
    event: async ({ event }) => {
      const properties = event.properties ?? {}
      if (event.type === "message.part.updated") {
        const part = properties.part ?? {}
        if (part.type !== "reasoning" || reasoning.has(part.id)) return
        if (reasoning.size > 1000) reasoning.clear()
        reasoning.add(part.id)
        post({ type: "reasoning", session_id: part.sessionID })
        return
      }
      if (!FORWARDED.has(event.type)) return
      const info = properties.info ?? {}
      const body = { type: event.type, session_id: properties.sessionID ?? info.id }
      if (typeof info.parentID === "string") body.parent_id = info.parentID
      else if (event.type === "session.updated") return
      if (typeof properties.status?.type === "string") body.status = properties.status.type
      if (typeof info.title === "string") body.title = info.title.slice(0, 160)
      post(body)
    },
    "tool.execute.before": async (input) => post({ type: "tool.execute.before", session_id: input.sessionID, tool: input.tool }),
    "tool.execute.after": async (input) => post({ type: "tool.execute.after", session_id: input.sessionID, tool: input.tool })
  }
}
`
}

export const paths = (home: string) => ({
  claude: Path.join(home, ".claude", "settings.json"),
  codexHooks: Path.join(home, ".codex", "hooks.json"),
  codexConfig: Path.join(home, ".codex", "config.toml"),
  opencode: Path.join(home, ".config", "opencode", "plugins", "maikit-status.js")
})

const readText = (path: string) =>
  Effect.try({
    try: () => (Fs.existsSync(path) ? Fs.readFileSync(path, "utf8") : undefined),
    catch: (cause) => new HookInstallError({ path, message: `cannot read ${path}: ${describe(cause)}`, cause })
  })

const readJson = (path: string) =>
  Effect.flatMap(readText(path), (text) =>
    Effect.try({
      try: (): Json => {
        if (text === undefined || text.trim() === "") return {}
        const parsed: unknown = JSON.parse(text)
        if (!Predicate.isObject(parsed) || Array.isArray(parsed)) throw new Error("the top level is not an object")
        return parsed as Json
      },
      catch: (cause) =>
        new HookInstallError({ path, message: `${path} is not valid JSON (${describe(cause)}); fix it first, nothing was changed`, cause })
    }))

const stamp = (date: Date) => date.toISOString().replace(/[-:]/g, "").replace(/\..*$/, "").replace("T", "-")

/** Plans (and unless `dryRun`, applies) the change of one file from `before` to `after`. */
const writeFile = (agent: AgentHooks.Agent, path: string, before: string | undefined, after: string, options: Options) =>
  Effect.try({
    try: (): Change => {
      if (before === after) return { agent, path, action: "unchanged", backup: undefined, content: after }
      const backup = before === undefined ? undefined : `${path}.maikit-backup-${stamp(options.now ?? new Date())}`
      if (options.dryRun !== true) {
        Fs.mkdirSync(Path.dirname(path), { recursive: true })
        if (backup !== undefined) Fs.copyFileSync(path, backup)
        const temporary = `${path}.${process.pid}.tmp`
        Fs.writeFileSync(temporary, after)
        Fs.renameSync(temporary, path)
      }
      return { agent, path, action: before === undefined ? "create" : "update", backup, content: after }
    },
    catch: (cause) => new HookInstallError({ path, message: `cannot write ${path}: ${describe(cause)}`, cause })
  })

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`

/** Installs (or with `dryRun`, describes) the hooks for `agents`; returns one change per file. */
export const install = Effect.fnUntraced(function*(options: Options = {}) {
  const home = options.home ?? Os.homedir()
  const files = paths(home)
  const agents = options.agents ?? AgentHooks.agents
  const changes: Array<Change> = []
  for (const agent of agents) {
    switch (agent) {
      case "claude": {
        const before = yield* readText(files.claude)
        const settings = yield* readJson(files.claude)
        changes.push(yield* writeFile(agent, files.claude, before, json(mergeHooks("claude", settings, AgentHooks.claudeEvents, options)), options))
        break
      }
      case "codex": {
        const before = yield* readText(files.codexHooks)
        const settings = yield* readJson(files.codexHooks)
        changes.push(yield* writeFile(agent, files.codexHooks, before, json(mergeHooks("codex", settings, AgentHooks.codexEvents, options)), options))
        const config = yield* readText(files.codexConfig)
        changes.push(yield* writeFile(agent, files.codexConfig, config, enableCodexHooks(config ?? ""), options))
        break
      }
      case "opencode": {
        const before = yield* readText(files.opencode)
        changes.push(yield* writeFile(agent, files.opencode, before, opencodePlugin(options), options))
        break
      }
    }
  }
  return changes
})
