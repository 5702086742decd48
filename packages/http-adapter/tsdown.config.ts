import { defineConfig } from "tsdown"

export default defineConfig({
  entry: [
    "src/index.ts",
    "src/server.ts",
    "src/launcher/index.ts",
    "src/control-plane/index.ts",
    "src/relay/index.ts",
    "src/console/index.ts"
  ],
  format: "esm",
  platform: "node",
  target: "node22",
  dts: true,
  sourcemap: true
})
