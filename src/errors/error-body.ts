import { z } from 'zod';
import { HTTP_ERROR_CODES, type HttpErrorCode } from './codes.js';

/** The JSON body of every error answered before a stream starts; its schema feeds GET /openapi.json. */
export const errorBodySchema = z.object({
  /** A short word for the kind of error, e.g. `invalid_request`. */
  error: z.string(),
  code: z.enum(Object.keys(HTTP_ERROR_CODES) as [HttpErrorCode, ...HttpErrorCode[]]),
  message: z.string(),
  /** The offending request field (dotted path), when one field is at fault. */
  field: z.string().optional(),
  /** With `WORKER_BUSY`: seconds to wait before trying again (also the `Retry-After` header). */
  retryAfter: z.number().int().optional(),
});

export type ErrorBody = z.infer<typeof errorBodySchema>;
