import { defineConfig } from "tsdown"
import cliPackage from "./package.json" with { type: "json" }

/**
 * Effect and MaiKit's own packages, bundled into the binary: Node then reads a few files per command instead of
 * some thousand modules (and no barrel re-exporting more than the command needs), which is most of its start-up.
 */
const effect = [/^effect(\/|$)/, /^@effect\//]
const bundled = [...effect, /^@maikit\//]

/** Every other package the binary imports must be one of its own dependencies, so that it is installed with it. */
const imported = Object.keys({ ...cliPackage.dependencies, ...cliPackage.optionalDependencies })
  .filter((name) => !bundled.some((pattern) => pattern.test(name)))

export default defineConfig([
  {
    // The library entry (`AllInOne` for hosts) imports its dependencies, so a host shares one copy of Effect.
    entry: ["src/index.ts"],
    format: "esm",
    platform: "node",
    target: "node22",
    dts: true,
    sourcemap: true
  },
  {
    entry: ["src/bin.ts"],
    format: "esm",
    platform: "node",
    target: "node22",
    dts: false,
    sourcemap: true,
    // Built from the packages' sources, like the pages below: no stale `dist` of a dependency can slip in.
    inputOptions: { resolve: { conditionNames: ["source", "node", "import", "default"] } },
    deps: {
      alwaysBundle: bundled,
      // MaiKit's packages are bundled from their sources, outside node_modules: only Effect comes from there.
      onlyBundle: effect,
      onlyImport: imported
    },
    // The help and version pages `bin` prints without loading the CLI, rendered by the CLI itself.
    onSuccess: "node --conditions=source src/internal/writePages.ts dist/cli-pages.json"
  }
])
