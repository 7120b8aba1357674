/**
 * Whether an error means "a store or broker cannot be reached" rather than "this operation is
 * wrong": such a failure is a 503 DEPENDENCY_UNAVAILABLE for the client (try again later), and
 * a transient failure for a consumer. Duck-typed on the drivers' error names and codes, so
 * common needs none of the drivers to recognise their errors.
 */
const UNAVAILABLE_NAMES = new Set([
  // MongoDB driver and mongoose
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoServerSelectionError',
  'MongooseServerSelectionError',
  'MongoNotConnectedError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  // ioredis
  'MaxRetriesPerRequestError',
]);

const UNAVAILABLE_CODES = new Set([
  // sockets
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EPIPE',
  'EAI_AGAIN',
  // PostgreSQL: connection exceptions (08xxx) and operator intervention (57P01-57P03)
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '57P01',
  '57P02',
  '57P03',
  // PostgreSQL: insufficient resources (53xxx: disk full, out of memory, too many
  // connections), which pass once the operator or the load frees them
  '53000',
  '53100',
  '53200',
  '53300',
  '53400',
]);

const UNAVAILABLE_MESSAGES = [
  /buffering timed out/, // mongoose while disconnected
  /^Connection terminated/, // pg
  /timeout exceeded when trying to connect/, // pg-pool
  /Connection is closed/, // ioredis
  /Stream isn't writeable/, // ioredis without its offline queue, while disconnected
  /^Command timed out/, // ioredis commandTimeout
  /Client has encountered a connection error/, // pg
];

export function isDependencyUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth += 1) {
    const { name, code, message, cause } = e as {
      name?: unknown;
      code?: unknown;
      message?: unknown;
      cause?: unknown;
    };
    if (typeof name === 'string' && UNAVAILABLE_NAMES.has(name)) return true;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
    if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((re) => re.test(message))) {
      return true;
    }
    e = cause;
  }
  return false;
}
