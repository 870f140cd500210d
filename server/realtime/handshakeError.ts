import { appError, type AppError, type ErrorCode } from '../../shared/errors.js';

/** A refused Socket.IO handshake: the client reads `data` (an AppError) from its connect_error. */
export class HandshakeError extends Error {
  readonly data: AppError;
  constructor(code: ErrorCode) {
    super(code);
    this.data = appError(code);
  }
}
