/**
 * `--tls` for the relay: use the certificate and key at the given paths, and on first use (neither file
 * exists) generate a self-signed pair for localhost, 127.0.0.1, ::1 and this host's name. Files are written
 * atomically (temporary file, then rename) and the key is readable by its owner only.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { TlsSetupError } from "./LightRelayError.ts"

export { TlsSetupError } from "./LightRelayError.ts"

export interface Pair {
  readonly cert: string
  readonly key: string
  /** Whether this call generated the pair. */
  readonly generated: boolean
}

const describe = (cause: unknown) => (cause instanceof Error ? cause.message : String(cause))

const validityDays = 3 * 365

const writeAtomically = (path: string, content: string, mode: number) =>
  Effect.try({
    try: () => {
      Fs.mkdirSync(Path.dirname(path), { recursive: true })
      const temporary = `${path}.${process.pid}.tmp`
      Fs.writeFileSync(temporary, content, { mode })
      Fs.renameSync(temporary, path)
    },
    catch: (cause) => new TlsSetupError({ path, message: `cannot write ${path}: ${describe(cause)}`, cause })
  })

const read = (path: string) =>
  Effect.try({
    try: () => Fs.readFileSync(path, "utf8"),
    catch: (cause) => new TlsSetupError({ path, message: `cannot read ${path}: ${describe(cause)}`, cause })
  })

/** The pair at `certPath`/`keyPath`, generated when both are missing; one missing alone is an error. */
export const ensure = Effect.fnUntraced(function*(certPath: string, keyPath: string) {
  const hasCert = Fs.existsSync(certPath)
  const hasKey = Fs.existsSync(keyPath)
  if (hasCert && hasKey) return { cert: yield* read(certPath), key: yield* read(keyPath), generated: false } satisfies Pair
  if (hasCert !== hasKey) {
    const missing = hasCert ? keyPath : certPath
    return yield* new TlsSetupError({
      path: missing,
      message: `${missing} is missing while its pair exists; restore it or remove both to generate a new pair`,
      cause: undefined
    })
  }
  const now = Date.now()
  const host = Os.hostname()
  const pems = yield* Effect.tryPromise({
    // Loaded here: its X.509 stack is a few hundred modules, needed only on the first start with --tls.
    try: () =>
      import("selfsigned").then(({ generate }) => generate([{ name: "commonName", value: "localhost" }], {
        keyType: "ec",
        curve: "P-256",
        algorithm: "sha256",
        notBeforeDate: new Date(now - 60_000),
        notAfterDate: new Date(now + validityDays * 86_400_000),
        extensions: [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true },
          {
            name: "subjectAltName",
            altNames: [
              { type: 2, value: "localhost" },
              ...(host === "localhost" ? [] : [{ type: 2 as const, value: host }]),
              { type: 7, ip: "127.0.0.1" },
              { type: 7, ip: "::1" }
            ]
          }
        ]
      })),
    catch: (cause) => new TlsSetupError({ path: certPath, message: `cannot generate a certificate: ${describe(cause)}`, cause })
  })
  yield* writeAtomically(keyPath, pems.private, 0o600)
  yield* writeAtomically(certPath, pems.cert, 0o644)
  yield* Effect.logInfo(`generated a self-signed TLS certificate at ${certPath} (fingerprint ${pems.fingerprint})`)
  return { cert: pems.cert, key: pems.private, generated: true } satisfies Pair
})
