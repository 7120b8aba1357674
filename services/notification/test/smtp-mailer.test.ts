import net from 'node:net';
import { freePort } from '@ecom/test-support';
import { MailNotSent } from '../src/application/mailer';
import { createSmtpMailer } from '../src/mail/smtp-mailer';
import { TestSmtp } from './support';

/**
 * A relay that speaks just enough SMTP to take a mail's envelope and then loses the connection
 * in the middle of it, the way a relay that crashes or a network that drops does. smtp-server
 * cannot be made to do that, so this one is a plain TCP server.
 */
async function droppingRelay(drop: 'in DATA' | 'with 421 in DATA' | 'at RCPT') {
  const seen = { connections: 0, attempts: 0 };
  const server = net.createServer((socket) => {
    seen.connections += 1;
    let inData = false;
    socket.on('error', () => undefined);
    socket.write('220 relay ESMTP\r\n');
    socket.on('data', (chunk) => {
      if (inData) {
        seen.attempts += 1;
        if (drop === 'in DATA') socket.destroy();
        else socket.end('421 4.3.2 shutting down\r\n');
        return;
      }
      for (const line of chunk.toString('latin1').split('\r\n').filter(Boolean)) {
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250-relay\r\n250 SIZE 1000000\r\n');
        else if (verb === 'RCPT' && drop === 'at RCPT') {
          seen.attempts += 1;
          socket.destroy();
          return;
        } else if (verb === 'DATA') {
          inData = true;
          socket.write('354 go ahead\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, seen, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

const mail = {
  to: { name: 'Alice', address: 'alice@example.com' },
  subject: 'Your order',
  text: 'Thank you.',
  html: '<p>Thank you.</p>',
  messageId: '<drop-test@notification.ecom.local>',
};

/** The mailer as notification sets it up, towards a relay on this machine. */
const mailerTo = (port: number) =>
  createSmtpMailer({
    host: '127.0.0.1',
    port,
    secure: false,
    from: 'Shop <shop@example.com>',
    timeoutMs: 5000,
  });

describe('SMTP mailer when the relay loses the connection mid-mail', () => {
  it.each([
    ['in DATA', 'MAIL_SERVER_UNREACHABLE'],
    ['with 421 in DATA', 'MAIL_SERVER_UNAVAILABLE'],
    ['at RCPT', 'MAIL_SERVER_UNREACHABLE'],
  ] as const)(
    'fails the send %s at once (a temporary %s), and the pool sends it no second time',
    async (drop, failure) => {
      const relay = await droppingRelay(drop);
      const mailer = mailerTo(relay.port);
      try {
        await expect(mailer.send(mail)).rejects.toMatchObject({ failure });
        // A re-send by the pool would come within its back-off (50 ms and up): wait past it.
        await new Promise((resolve) => setTimeout(resolve, 600));
        // The notification records the failed attempt and retries on its own schedule; the
        // relay may have kept the first copy, so a hidden second one could be a duplicate mail.
        expect(relay.seen).toEqual({ connections: 1, attempts: 1 });
      } finally {
        mailer.close();
        await relay.close();
      }
    },
  );
});

describe('SMTP mailer through a relay (smtp-server)', () => {
  it('delivers the mail whole: envelope, headers, both parts, and lines that begin with a dot', async () => {
    const relay = new TestSmtp(await freePort());
    await relay.start();
    const mailer = mailerTo(relay.port);
    try {
      // SMTP ends a mail at a line of one dot: the client must escape the body's own.
      const text = 'Thank you.\n.\n.hidden line\nBye';
      await mailer.send({ ...mail, subject: 'Your order is confirmed', text });
      // Beyond ASCII in a name, the subject and the body: encoded words and quoted-printable.
      await mailer.send({
        ...mail,
        to: { name: 'Zoë', address: 'zoe@example.com' },
        subject: 'Commande confirmée',
        text: 'Merci, à bientôt.',
        messageId: '<second@notification.ecom.local>',
      });
      expect(relay.mails).toHaveLength(2);
      const [first, second] = relay.mails;
      expect(first!.from).toBe('shop@example.com');
      expect(first!.to).toEqual(['alice@example.com']);
      expect(first!.messageId).toBe(mail.messageId);
      expect(second!.messageId).toBe('<second@notification.ecom.local>');
      expect(second!.to).toEqual(['zoe@example.com']);
      expect(second!.raw).toMatch(/^To: =\?UTF-8\?[QB]\?.+\?= <zoe@example\.com>$/m);
      expect(second!.raw).toMatch(/^Subject: =\?UTF-8\?[QB]\?/m);
      expect(second!.raw).toContain('Merci, =C3=A0 bient=C3=B4t.');
      // Headers the message needs, written by the composer.
      expect(second!.raw).toMatch(/^Date: .+$/m);
      expect(second!.raw).toMatch(/^MIME-Version: 1\.0$/m);
      const raw = first!.raw.replace(/\r\n/g, '\n');
      expect(raw).toMatch(/^From: Shop <shop@example\.com>$/m);
      expect(raw).toMatch(/^To: Alice <alice@example\.com>$/m);
      expect(raw).toMatch(/^Subject: Your order is confirmed$/m);
      expect(raw).toMatch(/^Content-Type: multipart\/alternative;/m);
      expect(raw).toContain('Content-Type: text/plain; charset=utf-8');
      expect(raw).toContain('Content-Type: text/html; charset=utf-8');
      expect(raw).toContain('Thank you.\n.\n.hidden line\nBye');
      expect(raw).toContain(mail.html);
    } finally {
      mailer.close();
      await relay.stop();
    }
  });
});

describe('SMTP mailer: what a refusal means', () => {
  let relay: TestSmtp;
  let mailer: ReturnType<typeof mailerTo>;
  beforeAll(async () => {
    relay = new TestSmtp(await freePort());
    await relay.start();
    mailer = mailerTo(relay.port);
  });
  afterAll(async () => {
    mailer?.close();
    await relay?.stop();
  });

  const to = (address: string) => ({ ...mail, to: { name: 'X', address } });

  it.each([
    ['a 5xx to RCPT TO', 'RECIPIENT_REFUSED', 'recipient', 550],
    ['a 501 to RCPT TO (bad syntax)', 'RECIPIENT_REFUSED', 'recipient', 501],
    ['a 4xx to RCPT TO', 'MAIL_SERVER_UNAVAILABLE', 'recipient', 450],
    [
      'a 503 to RCPT TO (a wrong state, not a refusal)',
      'MAIL_SERVER_UNAVAILABLE',
      'recipient',
      503,
    ],
    ['a 5xx to the message', 'MESSAGE_REFUSED', 'message', 554],
    ['a 4xx to the message', 'MAIL_SERVER_UNAVAILABLE', 'message', 451],
  ] as const)('%s is %s', async (_what, failure, where, code) => {
    const address = `x-${code}-${where}@example.com`;
    const refusal = { code, text: `Error: refused by relay-7.corp.internal (${code})` };
    (where === 'recipient' ? relay.refuseRecipient : relay.refuseMessage).set(address, refusal);
    const sent = mailer.send(to(address));
    await expect(sent).rejects.toBeInstanceOf(MailNotSent);
    // The server's words stay in the error (for the log); the failure is what is recorded.
    await expect(sent).rejects.toMatchObject({ failure, replyCode: code });
    // The pooled connection is still good for the next mail.
    await mailer.send(to('fine@example.com'));
  });

  it('a server that is not there is MAIL_SERVER_UNREACHABLE', async () => {
    const nobody = mailerTo(await freePort());
    try {
      await expect(nobody.send(mail)).rejects.toMatchObject({
        failure: 'MAIL_SERVER_UNREACHABLE',
      });
    } finally {
      nobody.close();
    }
  });
});
