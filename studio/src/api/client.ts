// The studio's one way to the server: a client typed by the paths and schemas that the build
// generates from the server's OpenAPI document (schema.d.ts; never written by hand).
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type Job = Schemas["Job"];
export type PipelineJob = Schemas["PipelineJobInfo"];
export type SweepJob = Schemas["SweepJobInfo"];
export type AnyJob = Job | PipelineJob | SweepJob;

export const api = createClient<paths>({ baseUrl: "" });

/** An error the server answered with: its message says what was wrong and what to do. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code?: string,
  ) {
    super(message);
  }
}

type Result<T> = { data?: T; error?: unknown; response: Response };

/** The data of an openapi-fetch call, or an ApiError with the server's own message. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (err) {
    throw new ApiError(`The workspace did not answer (${String(err)}). Is \`forgeml up\` running?`, 0);
  }
  if (result.error !== undefined || !result.response.ok) {
    const body = result.error as { message?: string; code?: string; detail?: unknown } | undefined;
    const message =
      body?.message ??
      (typeof body?.detail === "string" ? body.detail : undefined) ??
      `${result.response.status} ${result.response.statusText}`;
    throw new ApiError(message, result.response.status, body?.code);
  }
  return result.data as T;
}

/** The job's kind, from its `type` field. */
export function jobType(job: { type?: string | null }): "command" | "pipeline" | "sweep" {
  return job.type === "pipeline" ? "pipeline" : job.type === "sweep" ? "sweep" : "command";
}
