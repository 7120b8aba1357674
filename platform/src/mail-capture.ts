import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * The embedded run's mail catcher, in the manner of Mailpit: an SMTP server that accepts every
 * message and keeps the last ones in memory, and a read-only HTTP inbox listing them (`/`) with
 * each message as JSON (`/api/messages`) and its HTML body (`/messages/<id>.html`, sandboxed).
 */

export interface CapturedMessage {
  id: number;
  receivedAt: string;
  from: string;
  to: string[];
  subject: string;
  text: string | null;
  html: string | null;
  /** The message as received (headers and MIME body). */
  raw: string;
}

export interface MailCapture {
  smtpUrl: string;
  inboxUrl: string;
  smtpPort: number;
  messages(): CapturedMessage[];
  stop(): Promise<void>;
}

/** How many messages are kept (older ones are dropped). */
const KEEP = 500;
/** The largest message accepted (larger ones are refused by the SMTP server). */
const MAX_BYTES = 2 * 1024 * 1024;

const escapeHtml = (v: string) =>
  v
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

/** Headers of a MIME entity, unfolded, names lower-cased. */
function headersOf(head: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return out;
}

/** Encoded words (RFC 2047) of a header, in UTF-8, Q or B. */
function decodeWords(value: string): string {
  return value.replace(/=\?utf-8\?([qb])\?([^?]*)\?=\s*/gi, (_m, enc: string, text: string) =>
    enc.toLowerCase() === 'b'
      ? Buffer.from(text, 'base64').toString('utf8')
      : Buffer.from(
          text
            .replace(/_/g, ' ')
            .replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
          'latin1',
        ).toString('utf8'),
  );
}

function decodeBody(body: string, encoding: string | undefined): string {
  switch (encoding?.toLowerCase()) {
    case 'base64':
      return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    case 'quoted-printable':
      return Buffer.from(
        body
          .replace(/=\r?\n/g, '')
          .replace(/=([0-9a-f]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))),
        'latin1',
      ).toString('utf8');
    default:
      return body;
  }
}

function split(entity: string): { headers: Map<string, string>; body: string } {
  const at = entity.search(/\r?\n\r?\n/);
  if (at < 0) return { headers: headersOf(entity), body: '' };
  return {
    headers: headersOf(entity.slice(0, at)),
    body: entity.slice(at).replace(/^\r?\n\r?\n/, ''),
  };
}

/** The text and HTML bodies of a message (single part, or multipart one level or two deep). */
function bodies(entity: string, found: { text: string | null; html: string | null }): void {
  const { headers, body } = split(entity);
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (/^multipart\//i.test(type) && boundary) {
    for (const part of body.split(`--${boundary}`).slice(1)) {
      if (part.startsWith('--')) break;
      bodies(part.replace(/^\r?\n/, ''), found);
    }
    return;
  }
  const decoded = decodeBody(body, headers.get('content-transfer-encoding'));
  if (/^text\/html/i.test(type)) found.html ??= decoded;
  else if (/^text\/plain/i.test(type)) found.text ??= decoded;
}

function page(messages: CapturedMessage[]): string {
  const rows = messages
    .slice()
    .reverse()
    .map(
      (m) => `<article>
  <h2>${escapeHtml(m.subject || '(no subject)')}</h2>
  <p><b>To</b> ${escapeHtml(m.to.join(', '))} · <b>From</b> ${escapeHtml(m.from)} · ${escapeHtml(m.receivedAt)}${
    m.html ? ` · <a href="/messages/${m.id}.html">HTML</a>` : ''
  }</p>
  <pre>${escapeHtml(m.text ?? m.raw)}</pre>
</article>`,
    )
    .join('\n');
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Captured mail (${messages.length})</title>
<style>body{font-family:sans-serif;max-width:60rem;margin:auto}article{border-bottom:1px solid #ccc}pre{white-space:pre-wrap}</style>
</head><body><h1>Captured mail</h1>
<p>${messages.length} message(s), newest first; nothing leaves this machine. JSON: <a href="/api/messages">/api/messages</a></p>
${rows || '<p>No mail yet.</p>'}
</body></html>
`;
}

/** Starts the SMTP server on `smtpPort` and the inbox on `httpPort` (127.0.0.1; 0 picks one). */
export async function startMailCapture(options: {
  smtpPort: number;
  httpPort: number;
  host?: string;
}): Promise<MailCapture> {
  const host = options.host ?? '127.0.0.1';
  const kept: CapturedMessage[] = [];
  let nextId = 1;
  const smtp = new SMTPServer({
    // A development catcher: no TLS, no login, every recipient accepted.
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: MAX_BYTES,
    logger: false,
    // Senders keep their connections open (notification pools them): a stop does not wait 30 s.
    closeTimeout: 1000,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          callback(Object.assign(new Error('Message too large'), { responseCode: 552 }));
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const { headers } = split(raw);
        const found = { text: null as string | null, html: null as string | null };
        bodies(raw, found);
        kept.push({
          id: nextId++,
          receivedAt: new Date().toISOString(),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          subject: decodeWords(headers.get('subject') ?? ''),
          ...found,
          raw,
        });
        if (kept.length > KEEP) kept.splice(0, kept.length - KEEP);
        callback();
      });
    },
  });
  smtp.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    smtp.server.once('error', reject);
    smtp.listen(options.smtpPort, host, () => resolve());
  });
  const smtpPort = (smtp.server.address() as AddressInfo).port;

  const inbox = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (
      status: number,
      type: string,
      body: string,
      extra: Record<string, string> = {},
    ) => {
      res.writeHead(status, {
        'Content-Type': type,
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        ...extra,
      });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'read-only', { Allow: 'GET, HEAD' });
      return;
    }
    if (path === '/') {
      send(200, 'text/html; charset=utf-8', page(kept), {
        'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'",
      });
      return;
    }
    if (path === '/api/messages') {
      send(200, 'application/json', JSON.stringify({ items: kept.slice().reverse() }));
      return;
    }
    const match = /^\/messages\/(\d+)\.html$/.exec(path ?? '');
    const message = match ? kept.find((m) => m.id === Number(match[1])) : undefined;
    if (message?.html) {
      // A mail's HTML is untrusted: no script, no request anywhere.
      send(200, 'text/html; charset=utf-8', message.html, {
        'Content-Security-Policy': "sandbox; default-src 'none'; style-src 'unsafe-inline'",
      });
      return;
    }
    send(404, 'text/plain; charset=utf-8', 'not found');
  });
  await new Promise<void>((resolve, reject) => {
    inbox.once('error', reject);
    inbox.listen(options.httpPort, host, () => resolve());
  });
  const httpPort = (inbox.address() as AddressInfo).port;

  return {
    smtpUrl: `smtp://${host}:${smtpPort}`,
    inboxUrl: `http://${host}:${httpPort}`,
    smtpPort,
    messages: () => kept.slice(),
    async stop() {
      await new Promise<void>((resolve) => inbox.close(() => resolve()));
      await new Promise<void>((resolve) => smtp.close(() => resolve()));
    },
  };
}
