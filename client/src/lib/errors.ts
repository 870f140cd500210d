import { ERROR_CODES, ERROR_TEXT_NL, type ErrorCode } from '../../../shared/errors.js';

/** Failures the client detects itself, before or instead of a server answer. */
export type LocalErrorCode = 'OFFLINE' | 'TIMEOUT';
export type ClientErrorCode = ErrorCode | LocalErrorCode;

export interface ClientError {
  code: ClientErrorCode;
  message: string;
}

/** Like the protocol's Ack, but the error may also be a local one. */
export type Result<T> = { ok: true; data: T } | { ok: false; error: ClientError };

const LOCAL_TEXT_NL: Record<LocalErrorCode, string> = {
  OFFLINE: 'Geen verbinding met de server. Probeer het opnieuw zodra de verbinding hersteld is.',
  TIMEOUT: 'De server antwoordde niet op tijd. Kijk of uw wijziging is verwerkt en probeer het zo nodig opnieuw.',
};

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}

export function localError(code: ClientErrorCode, message?: string): ClientError {
  const text = isErrorCode(code) ? ERROR_TEXT_NL[code] : LOCAL_TEXT_NL[code];
  return { code, message: message ?? text };
}

/** Network data is untrusted: turn whatever arrived into a ClientError with Dutch text. */
export function toClientError(raw: unknown): ClientError {
  if (raw && typeof raw === 'object') {
    const { code, message } = raw as { code?: unknown; message?: unknown };
    if (isErrorCode(code)) {
      const text = typeof message === 'string' && message.trim() !== '' && message !== code ? message : ERROR_TEXT_NL[code];
      return { code, message: text };
    }
  }
  return localError('INTERNAL');
}

/** The sentence shown to the user: the server writes its messages in Dutch as well. */
export function errorText(error: ClientError): string {
  return error.message || (isErrorCode(error.code) ? ERROR_TEXT_NL[error.code] : LOCAL_TEXT_NL[error.code]);
}
