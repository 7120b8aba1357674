import { isPlainObject } from '../util/plain-object';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; requestId?: string };
}

/**
 * The longest run of non-blank characters an error repeats from the request (an id, a path, a
 * value in a validation message): every id the platform issues fits, a 0x-hash (66) included.
 */
export const ECHO_MAX = 80;
/** The longest message or detail text, for echoes that contain blanks. */
export const ERROR_TEXT_MAX = 300;

const LONG_RUN = new RegExp(`\\S{${ECHO_MAX + 1},}`, 'g');

/** The first `max` characters, never half a surrogate pair, then an ellipsis. */
function cut(text: string, max: number): string {
  const end = /[\uD800-\uDBFF]/.test(text.charAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}…`;
}

/**
 * Error text with whatever it echoes from the request bounded: an 8 KB id or a 90 KB field
 * value is named by its first characters, never repeated whole (a cheap amplifier otherwise).
 */
export function boundedErrorText(text: string): string {
  const short = text.length > ECHO_MAX ? text.replace(LONG_RUN, (run) => cut(run, ECHO_MAX)) : text;
  return short.length > ERROR_TEXT_MAX ? cut(short, ERROR_TEXT_MAX) : short;
}

/** Every string in the details bounded the same way (details are small values we build). */
function boundedDetails(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return boundedErrorText(value);
  if (value === null || typeof value !== 'object' || depth > 8) return value;
  if (Array.isArray(value)) return value.map((item) => boundedDetails(item, depth + 1));
  if (!isPlainObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      boundedErrorText(key),
      boundedDetails(item, depth + 1),
    ]),
  );
}

/**
 * Builds the one JSON error shape every service and the gateway answer with. It is also the
 * one place echoed input is bounded (see boundedErrorText).
 */
export function errorBody(
  code: string,
  message: string,
  details?: unknown,
  requestId?: string,
): ErrorBody {
  return {
    error: {
      code,
      message: boundedErrorText(message),
      ...(details !== undefined ? { details: boundedDetails(details) } : {}),
      ...(requestId ? { requestId } : {}),
    },
  };
}
