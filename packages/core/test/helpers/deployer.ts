/**
 * Fixtures for the Deployer, shaped like the real repositories (read from Mai-with-u/MaiBot and
 * MaiBot-Napcat-Adapter): bare git remotes in temp dirs with MaiBot's tag names, a 0.x tree with commented
 * templates and a 1.x tree without, an adapter remote with a `standalone` branch and a plugin `main` branch
 * whose `_manifest.json` moves through `host_application` ranges; pure-Python wheels written by hand (METADATA,
 * WHEEL, RECORD in a zip) for pip to install with no network; a PEP 503 index on loopback that can stall
 * downloads, for cancelling a pip mid-way; a NapCat release archive.
 */
import { Effect, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Http from "node:http"
import type * as Net from "node:net"
import * as Path from "node:path"
import * as Zlib from "node:zlib"
import * as Deployer from "../../src/launcher/Deployer.ts"
import * as InstanceRegistry from "../../src/launcher/InstanceRegistry.ts"
import * as InstanceSupervisor from "../../src/launcher/InstanceSupervisor.ts"
import * as Database from "../../src/platform/Database.ts"
import { MaikitConfig } from "../../src/platform/MaikitConfig.ts"
import { tempDir } from "../fixtures/support.ts"
import { testOptions } from "./instances.ts"

export { eventually, isGone, tempDir } from "../fixtures/support.ts"

const git = (cwd: string, ...args: ReadonlyArray<string>): string =>
  ChildProcess.execFileSync("git", [...args], {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "fixture",
      GIT_AUTHOR_EMAIL: "fixture@example.invalid",
      GIT_COMMITTER_NAME: "fixture",
      GIT_COMMITTER_EMAIL: "fixture@example.invalid",
      GIT_CONFIG_GLOBAL: "/dev/null",
      GIT_CONFIG_NOSYSTEM: "1"
    }
  })

const writeTree = (root: string, files: Readonly<Record<string, string>>) => {
  for (const [name, text] of Object.entries(files)) {
    const file = Path.join(root, name)
    Fs.mkdirSync(Path.dirname(file), { recursive: true })
    Fs.writeFileSync(file, text)
  }
}

/** Replaces the work tree's files (all but `.git`) with `files` and commits them. */
const commitTree = (work: string, files: Readonly<Record<string, string>>, message: string) => {
  for (const name of Fs.readdirSync(work)) if (name !== ".git") Fs.rmSync(Path.join(work, name), { recursive: true, force: true })
  writeTree(work, files)
  git(work, "add", "-A")
  git(work, "commit", "-q", "-m", message)
}

/**
 * MaiBot's `bot.py` in miniature: it checks the agreements as the real one does (MD5 of the text, from
 * `eula.confirmed` or `EULA_AGREE`) and waits for a typed confirmation without them, imports its requirements
 * (so a missing venv fails it), then prints and echoes its terminal input.
 */
const botPy = (version: string) => `import hashlib, os, pathlib, sys

def digest(name):
    return hashlib.md5(pathlib.Path(name).read_text(encoding="utf-8").encode("utf-8")).hexdigest()

for source, confirmed, variable in (("EULA.md", "eula.confirmed", "EULA_AGREE"), ("PRIVACY.md", "privacy.confirmed", "PRIVACY_AGREE")):
    value = digest(source)
    path = pathlib.Path(confirmed)
    if os.environ.get(variable) != value and not (path.exists() and path.read_text(encoding="utf-8") == value):
        print("请阅读 EULA.md 与 PRIVACY.md 并输入 同意", flush=True)
        while input().strip() not in ("同意", "confirmed"):
            pass

import fixture_a
print(f"MaiBot fixture ${version} running with fixture_a {fixture_a.VERSION}, port={os.environ.get('PORT', '-')}", flush=True)
for line in sys.stdin:
    print("echo: " + line.strip(), flush=True)
`

const agreements = {
  "EULA.md": "# 最终用户许可协议\r\n\r\n使用本项目即表示同意。\r\n",
  "PRIVACY.md": "# 隐私条款\n\n本项目不收集个人数据。\n"
}

/** A 0.x tree (0.12.3's layout): commented templates, `requires-python >=3.10`. */
export const zeroTree = (version: string, requirements = "fixture-a>=1.0\nfixture-b\n") => ({
  "bot.py": botPy(version),
  ...agreements,
  "requirements.txt": `# MaiBot ${version}\n${requirements}`,
  "pyproject.toml": `[project]\nname = "MaiBot"\nversion = "${version}"\nrequires-python = ">=3.10"\n`,
  "template/bot_config_template.toml":
    "[inner]\nversion = \"6.21.8\" # 配置版本，请勿修改\n\n[bot]\nplatform = \"qq\"\nqq_account = 0 # 麦麦的QQ号\nnickname = \"麦麦\" # 麦麦的昵称\n",
  "template/model_config_template.toml": "[inner]\nversion = \"1.7.8\"\n\n# 模型配置\n[[api_providers]]\nname = \"DeepSeek\"\n",
  "template/template.env": "# 麦麦主程序配置\nHOST=127.0.0.1\nPORT=8000\n\n# WebUI 服务器配置\nWEBUI_HOST=127.0.0.1\nWEBUI_PORT=8001",
  "src/main.py": "# the bot's code\n"
})

/** A 1.x tree: no `template/`, a `plugins/` folder, `requires-python` as given (the host here has 3.11). */
export const oneTree = (version: string, requiresPython: string, requirements = "fixture-a>=1.0\nfixture-b\n") => ({
  "bot.py": botPy(version),
  ...agreements,
  "requirements.txt": requirements,
  "pyproject.toml": `[project]\nname = "MaiBot"\nversion = "${version}"\ndescription = "MaiCore"\nrequires-python = "${requiresPython}"\n`,
  "plugins/.gitkeep": "",
  "src/config/config.py": "# writes config/bot_config.toml on first start\n"
})

/**
 * MaiBot's remote: `0.6.3-fix4-alpha`, `0.12.3` and `EasyInstall-windows` on the 0.x history; `1.0.0` (which, like
 * the real one, needs Python 3.12), `1.0.0-rc.4` and `1.2.1` on the 1.x history (`main`); `dev` (1.x without
 * requirements) and `classical` (1.x with a requirement no index has).
 */
export const maibotRemote = (root: string): string => {
  const work = Path.join(root, "maibot-work")
  Fs.mkdirSync(work, { recursive: true })
  git(work, "init", "-q", "-b", "main")
  commitTree(work, { ...zeroTree("0.6.3-fix4-alpha"), "template/lpmm_config_template.toml": "[lpmm]\nenable = true\n" }, "0.6.3")
  git(work, "tag", "0.6.3-fix4-alpha")
  git(work, "tag", "EasyInstall-windows")
  commitTree(work, zeroTree("0.12.3"), "0.12.3")
  git(work, "tag", "-a", "0.12.3", "-m", "MaiBot 0.12.3")
  commitTree(work, oneTree("1.0.0-rc.4", ">=3.10"), "1.0.0-rc.4")
  git(work, "tag", "1.0.0-rc.4")
  commitTree(work, oneTree("1.0.0", ">=3.12"), "1.0.0")
  git(work, "tag", "1.0.0")
  commitTree(work, oneTree("1.2.1", ">=3.11"), "1.2.1")
  git(work, "tag", "1.2.1")
  git(work, "checkout", "-q", "-b", "dev")
  commitTree(work, Object.fromEntries(Object.entries(oneTree("1.3.0-dev", ">=3.10")).filter(([name]) => name !== "requirements.txt")), "dev")
  git(work, "checkout", "-q", "-b", "classical", "main")
  commitTree(work, oneTree("1.2.1", ">=3.10", "fixture-a\nfixture-missing>=9\n"), "classical")
  git(work, "checkout", "-q", "main")
  const bare = Path.join(root, "MaiBot.git")
  git(root, "clone", "-q", "--bare", work, bare)
  return bare
}

const manifest = (version: string, min: string, max: string) =>
  JSON.stringify({
    manifest_version: 2,
    version,
    name: "Napcat_Adapter 适配器",
    host_application: { min_version: min, max_version: max },
    sdk: { min_version: "2.5.0", max_version: "2.99.99" },
    id: "maibot-team.napcat-adapter",
    plugin_type: "adapter"
  }, null, 2)

const plugin = (version: string, min: string, max: string) => ({
  "_manifest.json": manifest(version, min, max),
  "plugin.py": `# NapCat adapter plugin ${version}\n`,
  "config.py": "DEFAULT_NAPCAT_PORT = 3001\n"
})

/**
 * The adapter's remote: `standalone` (a process: `main.py`, `template/template_config.toml` with lowercase sections,
 * its own requirements) and `main` (the plugin), whose manifest went 1.0.0–1.0.99 → 1.0.0–1.2.99 → 1.3.0–1.3.99.
 */
export const adapterRemote = (root: string): string => {
  const work = Path.join(root, "adapter-work")
  Fs.mkdirSync(work, { recursive: true })
  git(work, "init", "-q", "-b", "main")
  commitTree(work, plugin("1.1.0", "1.0.0", "1.0.99"), "plugin 1.1.0")
  commitTree(work, plugin("1.3.3", "1.0.0", "1.2.99"), "plugin 1.3.3")
  commitTree(work, { ...plugin("1.3.3", "1.0.0", "1.2.99"), "CHANGELOG.md": "changes\n" }, "changelog")
  commitTree(work, plugin("1.4.0", "1.3.0", "1.3.99"), "plugin 1.4.0")
  git(work, "checkout", "-q", "--orphan", "standalone")
  commitTree(work, {
    "main.py": "import sys\nprint('adapter running', flush=True)\nfor line in sys.stdin:\n    print('adapter: ' + line.strip(), flush=True)\n",
    "requirements.txt": "fixture-b\n",
    "pyproject.toml": "[project]\nname = \"MaiBotNapcatAdapter\"\nversion = \"0.7.0\"\nrequires-python = \">=3.10\"\n",
    "template/template_config.toml": "[inner]\nversion = \"0.1.3\" # 版本号\n\n[napcat_server] # Napcat连接的ws服务设置\nhost = \"localhost\"\nport = 8095             # Napcat设定的端口\n\n[maibot_server] # 连接麦麦的ws服务设置\nhost = \"localhost\"\nport = 8000               # 麦麦的端口\n"
  }, "standalone")
  git(work, "checkout", "-q", "main")
  const bare = Path.join(root, "MaiBot-Napcat-Adapter.git")
  git(root, "clone", "-q", "--bare", work, bare)
  return bare
}

/** The commit of the adapter's `main` whose manifest says `version`'s range (for asserting the pick). */
export const adapterCommit = (bare: string, subject: string): string =>
  git(bare, "log", "--format=%H %s", "main").split("\n").find((line) => line.endsWith(` ${subject}`))?.split(" ")[0] ?? ""

// ZIP, stored (no compression): enough for a wheel, whose RECORD pip checks.
const zip = (entries: ReadonlyArray<readonly [string, Buffer]>): Buffer => {
  const locals: Array<Buffer> = []
  const centrals: Array<Buffer> = []
  let offset = 0
  for (const [name, data] of entries) {
    const nameBytes = Buffer.from(name, "utf8")
    const crc = Zlib.crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4)
    local.writeUInt16LE(0x0800, 6)
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(nameBytes.length, 26)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4)
    central.writeUInt16LE(20, 6)
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(nameBytes.length, 28)
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38)
    central.writeUInt32LE(offset, 42)
    locals.push(local, nameBytes, data)
    centrals.push(central, nameBytes)
    offset += local.length + nameBytes.length + data.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(entries.length, 8)
  end.writeUInt16LE(entries.length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}

export const zipFile = zip

/** A pure-Python wheel `<name>-<version>-py3-none-any.whl` with a module of the same name. */
export const writeWheel = (dir: string, name: string, version: string, requires: ReadonlyArray<string> = []): string => {
  const module = name.replaceAll("-", "_")
  const distInfo = `${module}-${version}.dist-info`
  const files: Array<readonly [string, Buffer]> = [
    [`${module}/__init__.py`, Buffer.from(`VERSION = "${version}"\n`)],
    [`${distInfo}/METADATA`, Buffer.from(`Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n${requires.map((r) => `Requires-Dist: ${r}\n`).join("")}`)],
    [`${distInfo}/WHEEL`, Buffer.from("Wheel-Version: 1.0\nGenerator: maikit-test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")]
  ]
  const record = files.map(([file, data]) =>
    `${file},sha256=${Crypto.createHash("sha256").update(data).digest("base64url")},${data.length}`
  ).join("\n") + `\n${distInfo}/RECORD,,\n`
  const wheel = Path.join(dir, `${module}-${version}-py3-none-any.whl`)
  Fs.writeFileSync(wheel, zip([...files, [`${distInfo}/RECORD`, Buffer.from(record)]]))
  return wheel
}

/** The wheels the fixture trees require: `fixture-a` (needs `fixture-c`), `fixture-b`, `fixture-c`, plus `extra` more. */
export const wheelDir = (root: string, extra = 0): string => {
  const dir = Path.join(root, "wheels")
  Fs.mkdirSync(dir, { recursive: true })
  writeWheel(dir, "fixture-a", "1.2", ["fixture-c"])
  writeWheel(dir, "fixture-b", "2.0")
  writeWheel(dir, "fixture-c", "0.3")
  for (let i = 1; i <= extra; i++) writeWheel(dir, `fixture-extra-${String(i).padStart(2, "0")}`, "1.0")
  return dir
}

/** What pip sees: no config files of this machine, no index, only the fixture's wheels. */
export const offlinePipEnv = (wheels: string): Record<string, string | undefined> => ({
  ...process.env,
  PIP_CONFIG_FILE: "/dev/null",
  PIP_NO_INDEX: "1",
  PIP_FIND_LINKS: wheels,
  PIP_DISABLE_PIP_VERSION_CHECK: "1"
})

export interface SlowIndex {
  readonly url: string
  /** Wheel downloads asked for so far. */
  readonly requests: ReadonlyArray<string>
  /** Let downloads through from now on. */
  readonly release: () => void
  readonly close: () => Promise<void>
}

/**
 * A PEP 503 simple index over `wheels` on loopback that answers every wheel download with headers and a first
 * chunk, then nothing until `release()`: pip sits in `Downloading`, as on a slow mirror.
 */
export const slowIndex = (wheels: string): Promise<SlowIndex> =>
  new Promise((resolve) => {
    const requests: Array<string> = []
    const held: Array<() => void> = []
    let released = false
    const sockets = new Set<Net.Socket>()
    const server = Http.createServer((request, response) => {
      const url = new URL(request.url ?? "/", "http://127.0.0.1")
      const project = /^\/simple\/([^/]+)\/?$/.exec(url.pathname)?.[1]
      if (project !== undefined) {
        const normalized = project.toLowerCase().replaceAll(/[-_.]+/g, "_")
        const files = Fs.readdirSync(wheels).filter((file) => file.toLowerCase().startsWith(`${normalized}-`))
        if (files.length === 0) return response.writeHead(404).end()
        response.writeHead(200, { "content-type": "text/html" })
        return response.end(`<html><body>${files.map((file) => `<a href="/files/${file}">${file}</a>`).join("\n")}</body></html>`)
      }
      const file = /^\/files\/(.+)$/.exec(url.pathname)?.[1]
      if (file === undefined) return response.writeHead(404).end()
      requests.push(file)
      const data = Fs.readFileSync(Path.join(wheels, file))
      response.writeHead(200, { "content-type": "application/octet-stream", "content-length": String(data.length) })
      response.write(data.subarray(0, 16))
      const finish = () => response.end(data.subarray(16))
      if (released) finish()
      else held.push(finish)
    })
    server.on("connection", (socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address() as Net.AddressInfo
      resolve({
        url: `http://127.0.0.1:${address.port}/simple`,
        requests,
        release: () => {
          released = true
          for (const finish of held.splice(0)) finish()
        },
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })

/** Pids of processes whose command line mentions `needle` (a job's folder): its git or pip, if any. */
export const processesMentioning = (needle: string): ReadonlyArray<number> =>
  Fs.readdirSync("/proc").filter((name) => /^\d+$/.test(name)).flatMap((name) => {
    try {
      const stat = Fs.readFileSync(`/proc/${name}/stat`, "latin1")
      if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) return []
      return Fs.readFileSync(`/proc/${name}/cmdline`, "utf8").includes(needle) ? [Number(name)] : []
    } catch {
      return []
    }
  })

/** The fixture's remotes, wheels and an empty data folder. */
export const fixtureWorld = () => {
  const root = tempDir("deployer-world")
  return {
    root,
    maibot: maibotRemote(root),
    adapter: adapterRemote(root),
    wheels: wheelDir(root)
  }
}

export type World = ReturnType<typeof fixtureWorld>

/** Options for a deployer over the fixture world: the host's `python3`, offline pip, test-sized timeouts. */
export const deployerOptions = (world: World, overrides: Deployer.Options = {}): Deployer.Options => ({
  maibotRemotes: [world.maibot],
  adapterRemotes: [world.adapter],
  pythonCandidates: ["python3"],
  env: offlinePipEnv(world.wheels),
  ...overrides
})

/** Registry, supervisor and deployer on `<dataDir>/maikit.db`. */
export const deployerLayer = (dataDir: string, options: Deployer.Options) =>
  Deployer.Deployer.layer(options).pipe(
    Layer.provideMerge(InstanceSupervisor.InstanceSupervisor.layer(testOptions)),
    Layer.provideMerge(InstanceRegistry.InstanceRegistry.layer),
    Layer.provideMerge(Database.layerFile(Path.join(dataDir, "maikit.db"))),
    Layer.provideMerge(MaikitConfig.layerFrom({ dataDir }))
  )

/** Waits until the job has finished and answers its status. */
export const finished = (jobId: string) =>
  Deployer.Deployer.use((deployer) =>
    Effect.gen(function*() {
      while (true) {
        const status = yield* deployer.status(jobId)
        if (status.status === "completed" || status.status === "failed") return status
        yield* Effect.sleep(100)
      }
    })
  )
