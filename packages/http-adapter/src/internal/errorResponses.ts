import { Cause, Schema, SchemaIssue } from "effect"
import { HttpServerError } from "effect/http"
import { HttpApiError } from "effect/http-api"
import type { RequestIssue, RequestPart } from "../ApiFamily.ts"

/** What went wrong before (or outside) a handler, classified once so each family only chooses a shape. */
export type Failure =
  | { readonly _tag: "RouteNotFound" }
  | { readonly _tag: "InvalidRequest"; readonly issues: ReadonlyArray<RequestIssue> }
  | { readonly _tag: "PayloadTooLarge" }
  | { readonly _tag: "Unexpected"; readonly cause: Cause.Cause<unknown> }

const partOf: Record<string, RequestPart> = {
  Payload: "body",
  Params: "path",
  Query: "query",
  Headers: "header"
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const issueType = (message: string): string =>
  /valid JSON/i.test(message)
    ? "json_invalid"
    : /missing/i.test(message)
    ? "missing"
    : /expected/i.test(message)
    ? "type_error"
    : "value_error"

const schemaIssues = (part: RequestPart, error: unknown): ReadonlyArray<RequestIssue> => {
  if (!Schema.isSchemaError(error)) {
    return [{ loc: [part], msg: error instanceof Error ? error.message : "Invalid request", type: "value_error" }]
  }
  const formatted = formatter(error.issue)
  return formatted.issues.map((issue) => ({
    loc: [part, ...(issue.path ?? []).map((key) => typeof key === "number" ? key : String(key))],
    msg: issue.message,
    type: issueType(issue.message)
  }))
}

/**
 * Classifies the cause of a failed request. Schema failures arrive as defects (the HttpApi builder dies with
 * them so they bypass typed error encoding); an unknown route arrives as a typed `HttpServerError`.
 */
export const classify = (cause: Cause.Cause<unknown>): Failure => {
  for (const reason of cause.reasons) {
    const error = reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
    if (HttpServerError.isHttpServerError(error)) {
      if (error.reason._tag === "RouteNotFound") {
        // The router matches no route when a path parameter is longer than its `maxParamLength`: not a wrong
        // method (the route table would say 405) but a value too long for any route.
        const limit = /maxParamLength \((\d+)\)/.exec(error.reason.description ?? "")?.[1]
        return limit === undefined
          ? { _tag: "RouteNotFound" }
          : {
            _tag: "InvalidRequest",
            issues: [{ loc: ["path"], msg: `a path parameter is longer than ${limit} characters`, type: "string_too_long" }]
          }
      }
      if (error.reason._tag === "RequestParseError") {
        return error.reason.reason === "BodyTooLarge"
          ? { _tag: "PayloadTooLarge" }
          : { _tag: "InvalidRequest", issues: [{ loc: ["body"], msg: "Malformed request body", type: "json_invalid" }] }
      }
    }
    if (HttpApiError.HttpApiPayloadTooLarge.is(error)) return { _tag: "PayloadTooLarge" }
    if (HttpApiError.HttpApiSchemaError.is(error) && error.kind in partOf) {
      const part = partOf[error.kind] ?? "body"
      return { _tag: "InvalidRequest", issues: schemaIssues(part, error.cause) }
    }
  }
  return { _tag: "Unexpected", cause }
}
