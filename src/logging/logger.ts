import { pino, type Logger } from 'pino';
import type { Redactor } from '../secrets/redactor.js';

/**
 * Structured JSON logs. Two layers keep secrets out: pino's path redaction for
 * fields that always hold secrets, and the redactor over every finished line
 * for secret values that end up anywhere else (an error message, a git URL).
 */
export function createLogger(level: string, redactor: Redactor, destination = pino.destination(1)): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid },
      redact: {
        paths: [
          'req.headers.authorization',
          'headers.authorization',
          '*.codingAssistantAuthentication',
          'codingAssistantAuthentication',
          '*.accessToken',
          'accessToken',
          '*.apiKey',
          'apiKey',
        ],
        censor: '[REDACTED]',
      },
      hooks: {
        streamWrite: (line) => redactor.redact(line),
      },
    },
    destination,
  );
}
