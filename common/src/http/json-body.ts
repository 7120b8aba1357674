import { parse as parseContentType } from 'content-type';
import express, { type RequestHandler } from 'express';
import { AppError } from '../errors/app-error';
import { parseStrictJson } from './strict-json';

const JSON_TYPE = 'application/json';
const UTF8 = new Set(['utf-8', 'utf8']);
// fatal: bytes that are not UTF-8 are refused instead of becoming U+FFFD.
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * JSON is UTF-8 (RFC 8259): a body declared in another charset is refused before it is read,
 * never decoded (`charset=utf-7` would turn `+ADw-script+AD4-` into `<script>`).
 */
const utf8Only: RequestHandler = (req, _res, next) => {
  const header = req.headers['content-type'];
  if (!header || !req.is(JSON_TYPE)) {
    next();
    return;
  }
  const charset = parseContentType(header).parameters.charset?.toLowerCase();
  if (charset !== undefined && !UTF8.has(charset)) {
    next(new AppError(415, 'UNSUPPORTED_ENCODING', 'JSON bodies must be UTF-8'));
    return;
  }
  next();
};

/** The bytes each JSON body was parsed from (the request holds them until it is answered). */
const rawBodies = new WeakMap<object, Buffer>();

/**
 * The exact bytes a JSON body arrived as, for a check over them such as a webhook's signature
 * (re-serialising the parsed body would not give them back); undefined without a JSON body.
 */
export function rawJsonBody(req: object): Buffer | undefined {
  return rawBodies.get(req);
}

const parseBody: RequestHandler = (req, _res, next) => {
  if (!Buffer.isBuffer(req.body)) {
    next();
    return;
  }
  rawBodies.set(req, req.body);
  let text: string;
  try {
    text = utf8.decode(req.body);
  } catch {
    next(new AppError(400, 'MALFORMED_JSON', 'Request body is not valid UTF-8'));
    return;
  }
  try {
    req.body = parseStrictJson(text);
  } catch (err) {
    next(err);
    return;
  }
  next();
};

/**
 * The JSON body parser of every service: UTF-8 only (415 otherwise), at most `limit` bytes
 * (express.raw reads, inflates and bounds it), parsed strictly (see parseStrictJson).
 */
export function jsonBody(options: { limit: string }): RequestHandler[] {
  return [utf8Only, express.raw({ type: JSON_TYPE, limit: options.limit }), parseBody];
}
