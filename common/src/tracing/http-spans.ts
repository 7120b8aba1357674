import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import { tracerFor, tracingEnabled, withService } from './state';

const UNTRACED = /^\/(health|metrics)(\/|$)/;

/**
 * Wraps a server's listener in a server span per request: it continues the caller's
 * `traceparent` (the gateway's, or a client's at the gateway) or starts a trace, and stays
 * active through the handler, so logs, fetches and published events join it. Off (at wrap
 * time): the listener itself.
 */
export function traceRequests(service: string, listener: RequestListener): RequestListener {
  if (!tracingEnabled()) return listener;
  const tracer = tracerFor(service);
  return (req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0]!;
    // Probes and scrapes every few seconds would bury the requests in traces of their own.
    if (UNTRACED.test(path)) return listener(req, res);
    const parent = withService(service, propagation.extract(ROOT_CONTEXT, req.headers));
    const span = tracer.startSpan(
      `${method} ${path}`,
      {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': method, 'url.path': path },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      span.setAttribute('http.response.status_code', res.statusCode);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    };
    res.once('finish', end);
    res.once('close', end);
    // Body 'data'/'end' callbacks run in the socket's context unless bound to the request's.
    context.bind(active, req);
    context.bind(active, res);
    context.with(active, () => listener(req, res));
  };
}

/**
 * Sets `traceparent`/`tracestate` on outgoing headers to the active span's context (the
 * gateway's hop to a service). Off: the headers are left as they are.
 */
export function injectTraceHeaders(headers: Record<string, unknown>): void {
  if (!tracingEnabled()) return;
  propagation.inject(context.active(), headers);
}
