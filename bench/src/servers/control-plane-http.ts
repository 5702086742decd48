/**
 * The candidate: MaiKit's control-plane family (envelope, CORS, error shaping, body limit) on the PostgreSQL or
 * MySQL/MariaDB database in `DATABASE_URL`, or else on a SQLite file in a temp dir, with `SEED_TENANTS` tenants
 * created before it listens. Prints `READY <port>` when listening.
 */
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import { Context, Effect, Layer, Option, Redacted, References } from "effect"
import { HttpServer } from "effect/http"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { ControlPlaneDatabase, TenantStore } from "@maikit/core/control-plane"
import { Database } from "@maikit/core/platform"
import { ControlPlane, MaikitServer } from "@maikit/http-adapter"

const directory = Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-bench-cp-"))
process.on("exit", () => Fs.rmSync(directory, { recursive: true, force: true }))
const tenants = Number(process.env["SEED_TENANTS"] ?? 0)

const url = process.env["DATABASE_URL"] ?? ""
const database = ControlPlaneDatabase.isPostgresUrl(url)
  ? ControlPlaneDatabase.layerPostgres(Redacted.make(url))
  : ControlPlaneDatabase.isMysqlUrl(url)
  ? ControlPlaneDatabase.layerMysql(Redacted.make(url))
  : Database.layerFile(Path.join(directory, "maikit.db"))
const services = ControlPlaneDatabase.layerServices(database, { catalog: {} })

const server = MaikitServer.layer({
  families: [ControlPlane.family],
  host: "127.0.0.1",
  port: 0,
  accessToken: Option.none()
}).pipe(Layer.provideMerge(services))

Effect.gen(function*() {
  const context = yield* Layer.build(server)
  const store = Context.get(context, TenantStore.TenantStore)
  for (let i = 0; i < tenants; i++) {
    yield* store.createTenant({ tenant_name: `bench-tenant-${i}`, tenant_type: i % 2 === 0 ? "personal" : "enterprise" })
  }
  const address = Context.get(context, HttpServer.HttpServer).address
  process.stdout.write(`READY ${address._tag === "UnixPathAddress" ? 0 : address.port}\n`)
  return yield* Effect.never
}).pipe(Effect.scoped, Effect.provideService(References.MinimumLogLevel, "Warn"), NodeRuntime.runMain)
