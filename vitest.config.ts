import { defineConfig } from "vitest/config"

export default defineConfig({
  resolve: {
    conditions: ["source"]
  },
  ssr: {
    resolve: {
      conditions: ["source"]
    }
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: "forks",
    // Installs or unpacks the Debian packages the tests need (mosquitto, PostgreSQL, MariaDB, Chromium) when they are missing.
    globalSetup: ["./vitest.services.ts"]
  }
})
