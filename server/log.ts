import { pino, type Logger } from 'pino';

/**
 * Structured JSON logs. They never carry case content: only ids, codes and counts that the
 * operator needs. Texts, titles, names and goals stay in the file (R-FILE).
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'casusbord' },
    // A second guard: should anyone log a payload by mistake, these fields never leave the process.
    redact: {
      paths: ['text', 'title', 'goal', 'subjectNote', 'password', '*.text', '*.title', '*.goal', '*.subjectNote', '*.password', 'input', '*.input', 'req.headers.cookie'],
      censor: '[weggelaten]',
    },
  });
}

export type { Logger };
