import type { Answer, HostileRequest } from './client';

/**
 * The oracles every answer of the hostile suite is held to:
 * - never a 5xx (nothing here takes a dependency down, so a 503 is a failure too), never a
 *   1xx/3xx but a 304 to a conditional GET, and always an answer (no reset, no hang, nothing a
 *   client cannot parse);
 * - every answer that is not a 2xx is the common error shape (common/src/errors/error-body.ts):
 *   JSON, exactly `{ error: { code, message, requestId?, details? } }`, code and message
 *   non-empty strings, at most ERROR_BODY_MAX bytes; only a HEAD answer may leave the body out;
 * - a request that had to fail (mustFail) is not answered 2xx;
 * - the request's own expectation, if it has one.
 * Unintended writes are found apart, by comparing what an admin reads before and after.
 */

/**
 * Validation errors list at most 20 problems, each message and field cut at 300 characters
 * (common/src/http/validate.ts, error-body.ts): about 13 KB at worst. Anything larger is an
 * error that echoes what it should not.
 */
export const ERROR_BODY_MAX = 16 * 1024;

/** An answer slower than this is a finding: a cheap request that costs the server seconds. */
export const SLOW_MS = 10_000;

export type FindingKind =
  '5xx' | 'shape' | 'no-answer' | 'unexpected-success' | 'expectation' | 'unintended-write';

export interface Finding {
  kind: FindingKind;
  problem: string;
  request?: HostileRequest;
  answer?: Answer;
}

const ERROR_KEYS = new Set(['code', 'message', 'requestId', 'details']);

/** Why `body` is not the common error shape, or undefined when it is. */
export function errorShapeProblem(answer: Answer, method: string): string | undefined {
  if (answer.body.length === 0) {
    return method === 'HEAD' ? undefined : 'no body (a bare error answer)';
  }
  const type = String(answer.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) return `content-type "${type}", not JSON`;
  if (answer.body.length > ERROR_BODY_MAX) {
    return `error body of ${answer.body.length} bytes (more than ${ERROR_BODY_MAX})`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body.toString('utf8'));
  } catch {
    return 'body is not JSON';
  }
  if (!isObject(parsed)) return 'body is not a JSON object';
  const keys = Object.keys(parsed);
  if (keys.length !== 1 || keys[0] !== 'error') return `top-level keys ${JSON.stringify(keys)}`;
  const error = parsed.error;
  if (!isObject(error)) return '"error" is not an object';
  const extra = Object.keys(error).filter((k) => !ERROR_KEYS.has(k));
  if (extra.length > 0) return `unknown keys in "error": ${JSON.stringify(extra)}`;
  if (typeof error.code !== 'string' || error.code === '') return '"error.code" is not a string';
  if (typeof error.message !== 'string' || error.message === '') {
    return '"error.message" is not a string';
  }
  if (error.requestId !== undefined && typeof error.requestId !== 'string') {
    return '"error.requestId" is not a string';
  }
  const header = answer.headers['x-request-id'];
  if (
    typeof error.requestId === 'string' &&
    typeof header === 'string' &&
    header !== error.requestId
  ) {
    return `"error.requestId" ${error.requestId} is not the X-Request-Id ${header}`;
  }
  const leak = INTERNALS.exec(JSON.stringify(error));
  if (leak) return `the error shows internals: "${leak[0]}"`;
  return undefined;
}

/** What an error must never show: stack frames, paths, drivers' own messages. */
const INTERNALS =
  /\bat [\w.<>]+ \(|node_modules|\/work\/|MongoServerError|MongoError|E11000|BSON|Cast to ObjectId|syntax error at or near|violates (?:unique|foreign key|check) constraint|ECONNREFUSED|ETIMEDOUT|TypeError|ReferenceError|RangeError|SyntaxError: Unexpected|Cannot read properties|undefined is not|\[object Object\]/;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Every oracle for one answer; the findings, none when it holds. */
export function judge(req: HostileRequest, answer: Answer): Finding[] {
  const found: Finding[] = [];
  const add = (kind: FindingKind, problem: string) =>
    found.push({ kind, problem, request: req, answer });
  if (answer.failure !== undefined) {
    add('no-answer', answer.failure);
    return found;
  }
  const { status } = answer;
  // 304 Not Modified: a conditional GET answered as HTTP says, without a body.
  if (status >= 500) add('5xx', `answered ${status}`);
  else if (status < 200 || (status >= 300 && status < 400 && status !== 304)) {
    add('shape', `answered ${status}`);
  }
  if (status >= 300 && status !== 304) {
    const problem = errorShapeProblem(answer, req.method);
    if (problem) add('shape', problem);
  }
  if (status >= 200 && status < 300 && req.mustFail && req.mustFail.length > 0) {
    add('unexpected-success', `answered ${status}, but it had to fail: ${req.mustFail.join('; ')}`);
  }
  if (status >= 200 && status < 300 && answer.body.length > 0) {
    const type = String(answer.headers['content-type'] ?? '');
    if (/^application\/json\b/i.test(type)) {
      try {
        JSON.parse(answer.body.toString('utf8'));
      } catch {
        add('shape', 'a 2xx whose JSON body does not parse');
      }
    }
  }
  if (answer.ms > SLOW_MS) add('expectation', `answered after ${answer.ms} ms`);
  const expectation = req.expect?.(answer);
  if (expectation) add('expectation', expectation);
  return found;
}

/** A few hundred characters of something, printable on one line. */
export function excerpt(text: string, max = 300): string {
  const oneLine = JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
  return oneLine.slice(1, -1);
}

/** How to send the request again, and what came back. */
export function describeFinding(f: Finding): string {
  const lines = [`[${f.kind}] ${f.problem}`];
  const r = f.request;
  if (r) {
    lines.push(`  request (${r.label}): ${r.method} ${excerpt(r.target, 200)}`);
    const headers = Object.entries(r.headers)
      .map(([k, v]) => `${k}: ${excerpt(v, 120)}`)
      .join(' | ');
    if (headers) lines.push(`  headers: ${headers}`);
    if (r.body !== undefined)
      lines.push(`  body (${r.body.length} B): ${excerpt(r.body.toString('utf8'))}`);
    if (r.raw !== undefined) lines.push(`  raw bytes: ${excerpt(r.raw.toString('latin1'))}`);
  }
  const a = f.answer;
  if (a) {
    lines.push(
      `  answer: ${a.status}${a.failure ? ` (${a.failure})` : ''} ${excerpt(a.body.toString('utf8'))}`,
    );
  }
  return lines.join('\n');
}
