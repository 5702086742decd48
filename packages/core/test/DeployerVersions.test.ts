import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import * as Deployer from "../src/launcher/Deployer.ts"
import * as Progress from "../src/launcher/internal/deployer/progress.ts"
import * as Python from "../src/launcher/internal/deployer/python.ts"
import * as Versions from "../src/launcher/internal/deployer/versions.ts"
import { deployerLayer, deployerOptions, fixtureWorld, maibotRemote, tempDir } from "./helpers/deployer.ts"

/** MaiBot's real tags (77 of them), in no particular order. */
const realTags = [
  "0.5.8-alpha", "0.5.11-alpha", "0.5.13-alpha", "0.5.15hotfix-alpha", "0.5.15-alpha", "0.6.0-alpha", "0.6.2-alpha",
  "0.6.3-alpha", "0.6.3-fix3-alpha", "0.6.3-fix4-alpha", "0.7.0-alpha", "0.10.3-beta", "0.11.6-beta", "0.12.0",
  "0.12.3", "1.0.0", "1.0.0-pre.1", "1.0.0-pre.9", "1.0.0-pre.10", "1.0.0-pre.24", "1.0.0-rc.1", "1.0.0-rc.4",
  "1.0.1", "1.0.12", "1.1.4", "1.2.0", "1.2.1", "EasyInstall-windows"
]

describe("Deployer versions", () => {
  it("orders MaiBot's tags by semantic version with pre-release rules, tolerating its odd ones", () => {
    const sorted = Versions.sortTags(realTags).map((entry) => entry.tag)
    assert.deepStrictEqual(sorted.slice(0, 12), [
      "1.2.1", "1.2.0", "1.1.4", "1.0.12", "1.0.1", "1.0.0", "1.0.0-rc.4", "1.0.0-rc.1", "1.0.0-pre.24", "1.0.0-pre.10",
      "1.0.0-pre.9", "1.0.0-pre.1"
    ])
    assert.isFalse(sorted.includes("EasyInstall-windows"))
    assert.deepStrictEqual(sorted.slice(-10), [
      "0.6.3-fix4-alpha", "0.6.3-fix3-alpha", "0.6.3-alpha", "0.6.2-alpha", "0.6.0-alpha", "0.5.15hotfix-alpha", "0.5.15-alpha",
      "0.5.13-alpha", "0.5.11-alpha", "0.5.8-alpha"
    ])
    const catalog = Versions.catalogOf(
      [...realTags.map((name) => ({ name, kind: "tag" as const, commit: "" })), { name: "main", kind: "branch", commit: "" }, { name: "dev", kind: "branch", commit: "" }],
      Versions.parseTag("0.6.0")
    )
    assert.strictEqual(catalog.latest, "1.2.1")
    const listing = Versions.listing(catalog)
    assert.deepStrictEqual(listing.slice(0, 3), ["latest", "main", "1.2.1"])
    assert.strictEqual(listing.at(-1), "dev")
    assert.strictEqual(listing.at(-2), "0.6.0-alpha")
    assert.isFalse(listing.includes("0.5.15hotfix-alpha"))
    assert.deepStrictEqual(Versions.resolve(catalog, "v0.6.3")?.ref, "0.6.3-fix4-alpha")
    assert.deepStrictEqual(Versions.resolve(catalog, "latest")?.ref, "1.2.1")
    assert.deepStrictEqual(Versions.resolve(catalog, "dev")?.kind, "branch")
    assert.isUndefined(Versions.resolve(catalog, "9.9.9"))
  })

  it("reads requires-python, git's and pip's progress", () => {
    assert.isTrue(Python.satisfies("3.11.7", ">=3.10"))
    assert.isFalse(Python.satisfies("3.11.7", ">=3.12"))
    assert.isTrue(Python.satisfies("3.12.1", ">=3.10,<4"))
    assert.isTrue(Python.satisfies("3.11.2", "~=3.11"))
    assert.isFalse(Python.satisfies("3.12.0", "==3.11.*"))
    const git = Progress.git()
    const seen = [
      "remote: Counting objects: 100% (10/10), done.",
      "Receiving objects:  50% (5/10)",
      "Receiving objects: 100% (10/10), 1.2 KiB | 1.2 MiB/s, done.",
      "Resolving deltas: 100% (3/3), done."
    ].map(git.feed)
    assert.deepStrictEqual(seen.map((fraction) => Math.round(fraction * 100)), [5, 48, 80, 95])
    const pip = Progress.pip(Progress.countRequirements("# deps\nfixture-a>=1.0\n\n-r other.txt\nfixture-b\n"))
    assert.strictEqual(pip.feed("Looking in links: /wheels"), 0)
    assert.strictEqual(pip.feed("Processing /wheels/fixture_a-1.2-py3-none-any.whl (from -r req.txt (line 1))"), 0.4)
    assert.strictEqual(pip.feed("Collecting fixture-b"), 0.8)
    assert.strictEqual(pip.feed("Collecting fixture-c"), 0.8)
    assert.strictEqual(pip.feed("Installing collected packages: fixture-c, fixture-b, fixture-a"), 0.85)
    assert.strictEqual(pip.feed("Successfully installed fixture-a-1.2"), 1)
  })

  it.live("lists the remote's versions, caches them, falls back to the next remote, the cache and a built-in list", () =>
    Effect.gen(function*() {
      const root = tempDir("deployer-versions")
      const remote = maibotRemote(root)
      const world = { root, maibot: remote, adapter: remote, wheels: root }
      const dataDir = Path.join(root, "data")
      const listed = yield* Deployer.Deployer.use((deployer) => deployer.versions()).pipe(
        Effect.provide(deployerLayer(dataDir, deployerOptions(world, { maibotRemotes: [Path.join(root, "missing.git"), remote] })))
      )
      assert.deepStrictEqual(listed.versions, ["latest", "main", "1.2.1", "1.0.0", "1.0.0-rc.4", "0.12.3", "0.6.3-fix4-alpha", "dev"])
      assert.strictEqual(listed.latest, "1.2.1")
      assert.strictEqual(listed.source, "remote")
      assert.strictEqual(listed.remote, remote)
      assert.isTrue(Fs.existsSync(Path.join(dataDir, "deployer", "catalog.json")))

      const offline = deployerOptions(world, { maibotRemotes: [Path.join(root, "missing.git"), remote] })
      const cached = yield* Deployer.Deployer.use((deployer) => deployer.versions()).pipe(Effect.provide(deployerLayer(dataDir, offline)))
      assert.strictEqual(cached.source, "cache")

      Fs.renameSync(remote, `${remote}.gone`)
      const stale = yield* Deployer.Deployer.use((deployer) => deployer.versions({ refresh: true })).pipe(
        Effect.provide(deployerLayer(dataDir, offline))
      )
      assert.strictEqual(stale.source, "cache")
      assert.deepStrictEqual(stale.versions, listed.versions)

      const builtin = yield* Deployer.Deployer.use((deployer) => deployer.versions()).pipe(
        Effect.provide(deployerLayer(Path.join(root, "fresh"), offline))
      )
      assert.strictEqual(builtin.source, "builtin")
      assert.deepStrictEqual(builtin.versions, ["latest", "main", "1.2.1", "0.12.3", "dev"])

      const minimum = yield* Deployer.Deployer.use((deployer) => deployer.versions()).pipe(
        Effect.provide(deployerLayer(dataDir, { ...offline, minimumVersion: "1.0.0" }))
      )
      assert.deepStrictEqual(minimum.versions, ["latest", "main", "1.2.1", "1.0.0", "1.0.0-rc.4", "dev"])
    }).pipe(Effect.provide(Layer.empty)))

  it.live("refuses bad requests with the field and the problem, writing nothing", () =>
    Effect.gen(function*() {
      const world = fixtureWorld()
      const dataDir = Path.join(world.root, "data")
      const home = tempDir("deployer-bad")
      const busy = Path.join(home, "busy")
      Fs.mkdirSync(busy)
      Fs.writeFileSync(Path.join(busy, "keep.txt"), "mine")
      const problem = (request: Partial<Deployer.DeployRequest>) =>
        Deployer.Deployer.use((deployer) =>
          Effect.flip(deployer.deploy({ name: "mai", version: "1.2.1", path: Path.join(home, "new"), port: 18000, ...request }))
        ).pipe(Effect.map((error) => error.reason._tag === "InvalidRequest" ? `${error.reason.field}:${error.reason.problem}` : error.reason._tag))
      const results = yield* Effect.all([
        problem({ path: "relative/mai" }),
        problem({ path: `${home}/a/../b` }),
        problem({ path: busy }),
        problem({ path: "/sys/maikit-test" }),
        problem({ version: "9.9.9" }),
        problem({ services: [{ name: "nonebot" }] }),
        problem({ port: 70000 }),
        problem({ services: [{ name: "napcat-ada", port: 18000 }] }),
        problem({ services: [{ name: "napcat", sha256: "abc" }] })
      ]).pipe(Effect.provide(deployerLayer(dataDir, deployerOptions(world))))
      assert.deepStrictEqual(results, [
        "install_path:relative",
        "install_path:parentSegment",
        "install_path:notEmpty",
        "install_path:notWritable",
        "version:unknownVersion",
        "install_services:unknownService",
        "port:portRange",
        "install_services.napcat-ada.port:portInUse",
        "install_services.napcat.sha256:badChecksum"
      ])
      assert.deepStrictEqual(Fs.readdirSync(home).toSorted(), ["busy"])
      assert.deepStrictEqual(Fs.readdirSync(busy), ["keep.txt"])
    }))
})
