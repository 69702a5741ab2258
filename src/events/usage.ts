import { z } from 'zod';

/** Token and cost accounting, the same for every provider. */
export const usageSchema = z.object({
  inputTokens: z.number().optional(),
  outputTokens: z.number().optional(),
  cacheReadInputTokens: z.number().optional(),
  cacheCreationInputTokens: z.number().optional(),
  costUsd: z.number().optional(),
  /** Model calls the worker's model proxy counted (the token counts above are then its exact sums). */
  modelCalls: z.number().optional(),
});
