// The one error table: every failure the daemon reports has a stable code, an HTTP status and a title.
// The data plane, the daemon and the API all throw TwError; the API turns it into problem+json.

/** ERRORS maps each code to its HTTP status and title. */
export const ERRORS = {
  TW_ERR_VALIDATION: { status: 400, title: 'Invalid request' },
  TW_ERR_UNAUTHORIZED: { status: 401, title: 'Missing or wrong bearer token' },
  TW_ERR_NOT_FOUND: { status: 404, title: 'Not found' },
  TW_ERR_EXISTS: { status: 409, title: 'Already exists' },
  TW_ERR_IN_USE: { status: 409, title: 'In use' },
  TW_ERR_TOO_LARGE: { status: 413, title: 'Request body too large' },
  TW_ERR_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported media type' },
  TW_ERR_DEVICE: { status: 500, title: 'The kernel refused the device operation' },
  TW_ERR_INTERNAL: { status: 500, title: 'Internal error' },
} as const;

/** ErrorCode is one of the codes of ERRORS. */
export type ErrorCode = keyof typeof ERRORS;

/** TwError is an error with a stable code; `detail` says what exactly went wrong. */
export class TwError extends Error {
  constructor(
    readonly code: ErrorCode,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'TwError';
  }

  get status(): number {
    return ERRORS[this.code].status;
  }

  /** toJSON gives the plain form that crosses the worker boundary. */
  toJSON(): { code: ErrorCode; detail: string } {
    return { code: this.code, detail: this.detail };
  }
}

/** isErrorCode tells whether `code` is one of the table's codes. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERRORS, code);
}
