/**
 * NapCat comes as a release archive (zip or tar.gz) from a URL or a local file. It is copied or downloaded to a
 * temporary file while its SHA-256 is computed (and compared when one is given), then unpacked with Python's own
 * `zipfile` / `tarfile` (a Python is there anyway: MaiBot needs one), which works the same on every platform.
 */
import { Effect, type Scope } from "effect"
import * as Crypto from "node:crypto"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { StepFailed } from "../../DeployerError.ts"

export const isUrl = (source: string): boolean => /^https?:\/\//i.test(source)

const failure = (output: string) => new StepFailed({ step: "napcat", tool: "archive", output })

export interface Fetched {
  readonly file: string
  readonly sha256: string
  readonly bytes: number
  /** `zip` or `tar.gz`, from the file's first bytes. */
  readonly format: "zip" | "tar.gz"
}

/** Copies or downloads `source` into a temporary folder; `onProgress` gets the fraction when the size is known. */
export const fetchArchive = (
  source: string,
  expectedSha256: string | undefined,
  onProgress: (fraction: number) => Effect.Effect<void>
): Effect.Effect<Fetched, StepFailed, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "maikit-napcat-"))),
      (folder) => Effect.sync(() => Fs.rmSync(folder, { recursive: true, force: true }))
    )
    const file = Path.join(dir, "archive")
    const hash = Crypto.createHash("sha256")
    let bytes = 0
    const controller = new AbortController()
    yield* Effect.tryPromise({
      try: async () => {
        const out = Fs.createWriteStream(file)
        const write = (chunk: Uint8Array) =>
          new Promise<void>((resolve, reject) => out.write(chunk, (error) => (error ? reject(error) : resolve())))
        try {
          if (isUrl(source)) {
            const response = await fetch(source, { signal: controller.signal, redirect: "follow" })
            if (!response.ok || response.body === null) throw new Error(`HTTP ${response.status} ${response.statusText}`)
            const total = Number(response.headers.get("content-length") ?? 0)
            // A reader loop rather than `for await`: the web console type-checks this module with the DOM's
            // `ReadableStream`, which has no async iterator.
            const reader = response.body.getReader()
            for (let read = await reader.read(); !read.done; read = await reader.read()) {
              hash.update(read.value)
              bytes += read.value.byteLength
              await write(read.value)
              if (total > 0) Effect.runFork(onProgress(bytes / total))
            }
          } else {
            const total = Fs.statSync(source).size
            for await (const chunk of Fs.createReadStream(source, { signal: controller.signal })) {
              const data = chunk as Buffer
              hash.update(data)
              bytes += data.byteLength
              await write(data)
              if (total > 0) Effect.runFork(onProgress(bytes / total))
            }
          }
        } finally {
          await new Promise<void>((resolve) => out.end(() => resolve()))
        }
      },
      catch: (cause) => failure(`无法获取 NapCat 安装包 ${source}: ${cause instanceof Error ? cause.message : String(cause)}`)
    }).pipe(Effect.onInterrupt(() => Effect.sync(() => controller.abort())))
    const sha256 = hash.digest("hex")
    if (expectedSha256 !== undefined && sha256 !== expectedSha256.toLowerCase()) {
      return yield* failure(`SHA-256 不符：期望 ${expectedSha256.toLowerCase()}，实际 ${sha256}`)
    }
    const head = Buffer.alloc(4)
    const fd = Fs.openSync(file, "r")
    Fs.readSync(fd, head, 0, 4, 0)
    Fs.closeSync(fd)
    const format = head[0] === 0x50 && head[1] === 0x4b ? "zip" : head[0] === 0x1f && head[1] === 0x8b ? "tar.gz" : undefined
    if (format === undefined) return yield* failure(`${source} 既不是 zip 也不是 tar.gz`)
    return { file, sha256, bytes, format } satisfies Fetched
  })

/** The argv that unpacks `archive` into `target` with Python's standard library. */
export const extractArgs = (archive: Fetched, target: string): ReadonlyArray<string> =>
  archive.format === "zip" ? ["-m", "zipfile", "-e", archive.file, target] : ["-m", "tarfile", "-e", archive.file, target]

/** The start script a NapCat release carries for this platform, if any. */
export const startCommand = (folder: string): string | undefined => {
  const scripts = process.platform === "win32"
    ? ["launcher-user.bat", "launcher.bat"]
    : ["start.sh", "launcher.sh", "napcat.sh"]
  const found = scripts.find((name) => Fs.existsSync(Path.join(folder, name)))
  if (found === undefined) return undefined
  return process.platform === "win32" ? `cmd /c ${found}` : `bash ${found}`
}
