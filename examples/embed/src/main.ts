/**
 * Mounting MaiKit into a host's own `node:http` server: the host answers its own routes and hands every
 * other request to MaiKit's launcher family. The same listener works as Express middleware
 * (`app.use(handler)`) and in Fastify (`reply.hijack(); handler(request.raw, reply.raw)`).
 */
import { Layer } from "effect"
import * as Http from "node:http"
import { SystemMetrics, UpdateChecker, MaikitConfig } from "@maikit/core/platform"
import { Launcher, MaikitServer } from "@maikit/http-adapter"

const port = Number(process.env["PORT"] ?? 8080)

// MaiKit answers loopback names out of the box; a host reached under its own name lists it in `allowedHosts`
// (and its pages' origins in `allowedOrigins`), or MaiKit refuses the requests (421, 403).
const maikit = await MaikitServer.nodeHandler(
  { families: [Launcher.family], title: "My app + MaiKit" },
  Layer.mergeAll(
    SystemMetrics.SystemMetrics.layer,
    UpdateChecker.UpdateChecker.layer({ registryUrl: undefined }),
    MaikitConfig.MaikitConfig.layerFrom({ dataDir: "./data", port })
  )
)

const server = Http.createServer((request, response) => {
  if (request.url === "/hello") {
    response.writeHead(200, { "content-type": "text/plain" }).end("hello from the host app\n")
    return
  }
  maikit.handler(request, response)
})

// Needed only with mounts (the launcher's terminal and log WebSockets); harmless without.
server.on("upgrade", maikit.upgrade)

server.listen(port, "127.0.0.1", () => {
  console.log(`host app on http://127.0.0.1:${port}/hello, MaiKit at http://127.0.0.1:${port}/api/v1/system/health`)
})

const shutdown = () => server.close(() => void maikit.dispose())
process.once("SIGINT", shutdown)
process.once("SIGTERM", shutdown)
