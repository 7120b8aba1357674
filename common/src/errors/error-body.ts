export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; requestId?: string };
}

/** Builds the one JSON error shape every service and the gateway answer with. */
export function errorBody(
  code: string,
  message: string,
  details?: unknown,
  requestId?: string,
): ErrorBody {
  return {
    error: {
      code,
      message,
      ...(details !== undefined ? { details } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}
