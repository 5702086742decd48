import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Scope } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { InstanceRegistry, InstanceSupervisor } from "@maikit/core/launcher"
import { Launcher, MaikitServer } from "@maikit/http-adapter"
import { LogSocket, TerminalSocket } from "@maikit/ws-adapter"
import { command, singleInstance, supervisorLayer, tempDir } from "../../core/test/helpers/instances.ts"
import { connect } from "../../ws-adapter/test/helpers.ts"

describe("MaiKit mounted in a host's own node:http server", () => {
  it.live("serves the instance routes and the terminal WebSocket through the host's request and upgrade events", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(supervisorLayer(tempDir("embed")))
      const registry = Context.get(context, InstanceRegistry.InstanceRegistry)
      const supervisor = Context.get(context, InstanceSupervisor.InstanceSupervisor)
      const application = yield* Scope.make()
      const maikit = yield* MaikitServer.makeNodeHandlers({
        families: [Launcher.instancesFamily],
        mounts: [TerminalSocket.mount(), LogSocket.mount()]
      }).pipe(Effect.provideContext(context), Scope.provide(application))

      const server = Http.createServer((request, response) => {
        if (request.url === "/host") return void response.end("host route")
        maikit.request(request, response)
      })
      server.on("upgrade", maikit.upgrade)
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void))),
        () =>
          Effect.callback<void>((resume) => {
            server.closeAllConnections()
            server.close(() => resume(Effect.void))
          })
      )
      const port = (server.address() as AddressInfo).port

      assert.strictEqual(yield* Effect.promise(() => fetch(`http://127.0.0.1:${port}/host`).then((r) => r.text())), "host route")
      const { id } = yield* registry.add(singleInstance("embed", command("interactive.mjs"), { restart_policy: "no" }))
      yield* supervisor.start(id)
      const listed = yield* Effect.promise(() =>
        fetch(`http://127.0.0.1:${port}/api/v1/instances`).then((r) => r.json() as Promise<{ instances: Array<{ id: string }> }>)
      )
      assert.deepStrictEqual(listed.instances.map((instance) => instance.id), [id])

      const terminal = yield* connect(`ws://127.0.0.1:${port}/api/v1/ws/${id}_main`)
      yield* terminal.waitFor(() => terminal.output().includes("ready pid="))
      terminal.send({ type: "input", data: "from the host\n" })
      yield* terminal.waitFor(() => terminal.output().includes("echo:from the host"))
      const logs = yield* connect(`ws://127.0.0.1:${port}/api/v1/logs/instance/${id}/ws`)
      yield* logs.waitFor((frames) => frames.some((frame) => String(frame["message"]).includes("echo:from the host")))

      // Disposing the application says goodbye to open terminals before the sockets go.
      yield* Scope.close(application, Exit.void)
      const closed = yield* terminal.waitForClose()
      assert.strictEqual(closed.code, 1001)
      yield* supervisor.stop(id)
    }).pipe(Effect.scoped))
})
