/**
 * Turns a request to register an existing MaiBot folder into the instance to store. Every field is bounded and
 * printable (`InstanceRegistry.AddRequest`); every path given must be an existing directory and is stored as
 * its real path: `~` expanded to the user's home, made absolute against the working directory, and symbolic
 * links resolved, so what is registered is what later runs and what a deletion compares against.
 * Messages are the original launcher's where it had one.
 */
import { Effect, Schema, SchemaIssue } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as InstanceRegistry from "../InstanceRegistry.ts"
import { InstanceRequestInvalid } from "../InstanceSupervisorError.ts"
import * as VenvCommand from "../VenvCommand.ts"

/** The request's fields under the names the original's clients send. */
const wireNames: Readonly<Record<string, string>> = {
  name: "instance_name",
  version: "version",
  installPath: "install_path",
  port: "port",
  host: "host",
  token: "token",
  maibotPath: "maibot_path",
  adapterPath: "adapter_path",
  services: "install_services",
  restartPolicy: "restart_policy"
}
const serviceWireNames: Readonly<Record<string, string>> = { command: "run_cmd" }

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const invalid = (field: string, message: string) => Effect.fail(new InstanceRequestInvalid({ field, message }))

/** The first problem of a request that does not decode, as `field: message` with the wire's field names. */
const fromSchemaError = (error: Schema.SchemaError): InstanceRequestInvalid => {
  const [issue] = formatter(error.issue).issues
  const path = (issue?.path ?? []).map((key, depth) =>
    typeof key === "number" ? `[${key}]` : (depth === 0 ? wireNames : serviceWireNames)[String(key)] ?? String(key)
  )
  const field = path.join(".").replaceAll(".[", "[") || "body"
  return new InstanceRequestInvalid({ field: path[0] ?? "body", message: `${field}: ${issue?.message ?? "invalid"}` })
}

/** `~` and `~/…` are the user's home; anything else is taken relative to the working directory. */
export const absolute = (path: string): string =>
  Path.resolve(path === "~" ? Os.homedir() : path.startsWith("~/") ? Path.join(Os.homedir(), path.slice(2)) : path)

type Kind = "directory" | "other" | "missing"

const kindOf = (path: string): Kind => {
  try {
    return Fs.statSync(path).isDirectory() ? "directory" : "other"
  } catch {
    return "missing"
  }
}

/** The real path of an existing directory, or the original's 400 message naming the path as resolved. */
const folder = (field: string, given: string, missing: string, notDirectory: string) =>
  Effect.suspend(() => {
    const path = absolute(given)
    const kind = kindOf(path)
    if (kind === "missing") return invalid(field, `${missing}: ${path}`)
    if (kind === "other") return invalid(field, `${notDirectory}: ${path}`)
    return Effect.try({
      try: () => Fs.realpathSync(path),
      catch: (cause) => new InstanceRequestInvalid({ field, message: `${missing}: ${path} (${String(cause)})` })
    })
  })

const given = (value: string | null | undefined): value is string => value !== undefined && value !== null

export const check = Effect.fnUntraced(function*(input: InstanceRegistry.AddRequest) {
  const request = yield* Schema.decodeUnknownEffect(InstanceRegistry.AddRequest)(input).pipe(Effect.mapError(fromSchemaError))
  const installPath = yield* folder("install_path", request.installPath, "指定的安装路径不存在", "指定的安装路径不是目录")
  const maibotPath = given(request.maibotPath)
    ? yield* folder("maibot_path", request.maibotPath, "指定的MaiBot路径不存在", "指定的MaiBot路径不是目录")
    : undefined
  const adapterPath = given(request.adapterPath)
    ? yield* folder("adapter_path", request.adapterPath, "指定的适配器路径不存在", "指定的适配器路径不是目录")
    : undefined
  // "Separate-path mode": with both paths the instance lives in `maibot_path`, which needs a `bot.py`.
  if (maibotPath !== undefined && adapterPath !== undefined) {
    const botFile = Path.join(maibotPath, "bot.py")
    if (kindOf(botFile) !== "other") return yield* invalid("maibot_path", `MaiBot路径中未找到bot.py文件: ${botFile}`)
  }
  const root = maibotPath !== undefined && adapterPath !== undefined ? maibotPath : installPath
  const seen = new Set<string>(["main"])
  const services: Array<{ readonly request: InstanceRegistry.ServiceRequest; readonly path: string }> = []
  for (const service of request.services) {
    if (seen.has(service.name)) return yield* invalid("install_services", `服务名称重复或保留: ${service.name}`)
    seen.add(service.name)
    const path = yield* folder(
      "install_services",
      service.path,
      `服务 ${service.name} 的路径不存在`,
      `服务 ${service.name} 的路径不是目录`
    )
    yield* VenvCommand.split(service.command).pipe(
      Effect.catch((error) => invalid("install_services", `服务 ${service.name} 的启动命令无效: ${error.message}`))
    )
    services.push({ request: service, path })
  }
  const restartPolicy = request.restartPolicy ?? "on-failure"
  return {
    name: request.name.trim(),
    version: request.version,
    path: root,
    host: request.host ?? "localhost",
    port: request.port,
    token: request.token ?? "",
    ownsPath: false,
    components: [
      {
        name: "main",
        kind: "main",
        path: root,
        port: request.port,
        command: "python bot.py",
        env: {},
        restart_policy: restartPolicy
      },
      ...services.map(({ request: service, path }) => ({
        name: service.name,
        kind: "service" as const,
        path,
        port: service.port,
        command: service.command,
        env: {},
        restart_policy: restartPolicy
      }))
    ]
  } satisfies InstanceRegistry.NewInstance
})
