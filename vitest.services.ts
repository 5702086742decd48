/**
 * The real services the tests use come from Debian's packages: an MQTT 5 broker (mosquitto), PostgreSQL, MariaDB,
 * and Chromium for the web console's end-to-end tests (with a CJK font, so that its screenshots are legible).
 * `pnpm test` provisions the ones a machine lacks before any test runs, so that the README's test command
 * passes on a fresh machine with only Node and corepack:
 * - as root, or with password-less sudo: `apt-get install` (what `.ci/run` used to do itself);
 * - otherwise: the packages and their missing dependencies are downloaded with `apt-get download` (no root
 *   needed: apt's lists live in a private directory) and unpacked under `node_modules/.cache`, and the tests
 *   are pointed at them (`MAIKIT_TEST_PACKAGE_ROOT`, `PATH`, `LD_LIBRARY_PATH`).
 * The tests themselves start private servers from these binaries, or use the ones named by
 * `MAIKIT_TEST_MOSQUITTO_URL` / `MAIKIT_TEST_DATABASE_URL` / `MAIKIT_TEST_MYSQL_URL` (and a Chromium named by
 * `MAIKIT_TEST_CHROMIUM`). `MAIKIT_TEST_NO_PROVISION=1` skips this step.
 */
import { spawnSync, type SpawnSyncOptions } from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"

interface Requirement {
  /** The Debian package that brings it. */
  readonly pkg: string
  /** Whether it is usable, looking under `root` ("/" for the system). */
  readonly present: (root: string) => boolean
  /** Set when a running server (or a binary of one's own) is given instead, so the package is not needed. */
  readonly serverVariable?: string
}

const isExecutable = (file: string) => {
  try {
    Fs.accessSync(file, Fs.constants.X_OK)
    return Fs.statSync(file).isFile()
  } catch {
    return false
  }
}

const onPath = (name: string) =>
  (process.env["PATH"] ?? "").split(Path.delimiter).some((directory) => directory !== "" && isExecutable(Path.join(directory, name)))

const postgresBinDirs = (root: string): ReadonlyArray<string> => {
  const base = Path.join(root, "usr/lib/postgresql")
  if (!Fs.existsSync(base)) return []
  return Fs.readdirSync(base)
    .map((version) => Path.join(base, version, "bin"))
    .filter((bin) => isExecutable(Path.join(bin, "initdb")))
}

const requirements: ReadonlyArray<Requirement> = [
  {
    pkg: "mosquitto",
    serverVariable: "MAIKIT_TEST_MOSQUITTO_URL",
    present: (root) => (root === "/" && onPath("mosquitto")) || isExecutable(Path.join(root, "usr/sbin/mosquitto"))
  },
  {
    pkg: "postgresql",
    serverVariable: "MAIKIT_TEST_DATABASE_URL",
    present: (root) => postgresBinDirs(root).length > 0
  },
  {
    pkg: "mariadb-server",
    serverVariable: "MAIKIT_TEST_MYSQL_URL",
    present: (root) =>
      isExecutable(Path.join(root, "usr/sbin/mariadbd")) && isExecutable(Path.join(root, "usr/bin/mariadb-install-db"))
  },
  {
    pkg: "chromium",
    serverVariable: "MAIKIT_TEST_CHROMIUM",
    present: (root) => chromiumIn(root) !== undefined
  },
  {
    pkg: "fonts-wqy-microhei",
    present: (root) => Fs.existsSync(Path.join(root, "usr/share/fonts/truetype/wqy/wqy-microhei.ttc"))
  }
]

/**
 * The browser binary itself: Debian's `/usr/bin/chromium` is a wrapper script that runs `/usr/lib/chromium`
 * by absolute path, so an unpacked copy must be started directly.
 */
const chromiumIn = (root: string): string | undefined =>
  [Path.join(root, "usr/lib/chromium/chromium"), Path.join(root, "usr/bin/chromium")].find(isExecutable)

/** Tells browser tests which binary to drive (`MAIKIT_TEST_CHROMIUM`), unless the caller already did. */
const useChromium = (root: string) => {
  const found = chromiumIn(root) ?? chromiumIn("/")
  if (found !== undefined && (process.env["MAIKIT_TEST_CHROMIUM"] ?? "") === "") process.env["MAIKIT_TEST_CHROMIUM"] = found
}

const run = (command: string, args: ReadonlyArray<string>, options: SpawnSyncOptions = {}) => {
  const result = spawnSync(command, args, { encoding: "utf8", ...options })
  if (result.status !== 0) {
    const output = `${String(result.stderr ?? "")}${String(result.stdout ?? "")}`.trim().split("\n").slice(-5).join("\n")
    throw new Error(`${command} ${args.join(" ")} failed (${result.error?.message ?? `exit ${result.status}`}):\n${output}`)
  }
  return String(result.stdout ?? "")
}

const say = (line: string) => process.stdout.write(`[test services] ${line}\n`)

const canSudo = () => spawnSync("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0

/** `apt-get install` as root (directly or through sudo). */
const installAsRoot = (packages: ReadonlyArray<string>, sudo: boolean) => {
  const apt = (args: ReadonlyArray<string>) =>
    run(sudo ? "sudo" : "apt-get", sudo ? ["-n", "apt-get", ...args] : args, {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
      stdio: ["ignore", "pipe", "pipe"]
    })
  apt(["update", "-qq"])
  apt(["install", "-y", "-qq", "--no-install-recommends", ...packages])
}

/**
 * Downloads `packages` and whatever of their dependencies the system lacks, and unpacks them under `root`. apt's
 * package lists go to a private directory, so neither `apt-get update` nor `apt-get download` needs root.
 */
const unpackPrivately = (packages: ReadonlyArray<string>, cache: string, root: string) => {
  const state = Path.join(cache, "apt-state")
  const archives = Path.join(cache, "apt-cache")
  const downloads = Path.join(cache, "debs")
  for (const directory of [Path.join(state, "lists/partial"), Path.join(archives, "archives/partial"), downloads, root]) {
    Fs.mkdirSync(directory, { recursive: true })
  }
  const options = [
    "-o", `Dir::State=${state}`,
    "-o", `Dir::Cache=${archives}`,
    "-o", "Dir::State::status=/var/lib/dpkg/status",
    "-o", "Debug::NoLocking=1",
    "-o", `APT::Sandbox::User=${run("id", ["-un"]).trim()}`
  ]
  run("apt-get", [...options, "update", "-qq"])
  // What `apt-get install` would fetch: the packages plus the dependencies this system does not have.
  const plan = run("apt-get", [...options, "install", "--print-uris", "-qq", "--no-install-recommends", ...packages])
  const wanted = plan.split("\n").flatMap((line) => {
    const file = /^'[^']+' (\S+\.deb) /.exec(line)?.[1]
    const [name, version] = file === undefined ? [] : file.split("_")
    return name === undefined || version === undefined ? [] : [`${name}=${decodeURIComponent(version)}`]
  })
  if (wanted.length > 0) run("apt-get", [...options, "download", ...wanted], { cwd: downloads })
  for (const deb of Fs.readdirSync(downloads).filter((file) => file.endsWith(".deb"))) {
    run("dpkg-deb", ["-x", Path.join(downloads, deb), root])
  }
}

/** Points this process (and so the test workers it forks) at binaries and libraries unpacked under `root`. */
const useUnpacked = (root: string) => {
  const libraries = ["usr/lib/x86_64-linux-gnu", "lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu", "lib/aarch64-linux-gnu"]
    .map((directory) => Path.join(root, directory))
    .filter((directory) => Fs.existsSync(directory))
  process.env["MAIKIT_TEST_PACKAGE_ROOT"] = root
  process.env["PATH"] = [Path.join(root, "usr/sbin"), Path.join(root, "usr/bin"), process.env["PATH"] ?? ""].join(Path.delimiter)
  process.env["LD_LIBRARY_PATH"] = [...libraries, process.env["LD_LIBRARY_PATH"] ?? ""].filter((entry) => entry !== "").join(Path.delimiter)
}

export default function setup() {
  if (process.env["MAIKIT_TEST_NO_PROVISION"] === "1") return
  const cache = Path.join(import.meta.dirname, "node_modules/.cache/maikit-test-packages")
  const unpacked = Path.join(cache, "root")
  const needed = requirements.filter((requirement) =>
    requirement.serverVariable === undefined || (process.env[requirement.serverVariable] ?? "") === ""
  )
  try {
    provision(needed, cache, unpacked)
  } finally {
    useChromium(Fs.existsSync(unpacked) ? unpacked : "/")
  }
}

const provision = (needed: ReadonlyArray<Requirement>, cache: string, unpacked: string) => {
  if (needed.every((requirement) => requirement.present("/"))) return
  if (needed.every((requirement) => requirement.present("/") || requirement.present(unpacked))) return useUnpacked(unpacked)
  if (process.platform !== "linux" || !onPath("apt-get")) {
    say(`missing ${needed.filter((r) => !r.present("/")).map((r) => r.pkg).join(", ")} and no apt-get here: install them yourself`)
    return
  }
  const missing = needed.filter((requirement) => !requirement.present("/")).map((requirement) => requirement.pkg)
  const asRoot = process.getuid?.() === 0
  if (asRoot || canSudo()) {
    say(`installing ${missing.join(", ")} with apt-get${asRoot ? "" : " (sudo)"}`)
    installAsRoot(missing, !asRoot)
    return
  }
  say(`unpacking ${missing.join(", ")} from Debian's packages into ${unpacked} (no root needed)`)
  unpackPrivately(missing, cache, unpacked)
  useUnpacked(unpacked)
}
