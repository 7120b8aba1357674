import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startPlatform, type Platform } from '../src/start';
import { gatewayClient, until } from './gateway-client';
import { embeddedEnv, platformPorts, tempDataDir, testAddress } from './support';

/**
 * The audit explorer (issue 24) in a real browser (Debian's Chromium through playwright-core)
 * against a started platform: sign in, watch an order confirm and anchor, verify it green in
 * the browser, edit its row in the database and see it turn red with the reason, verify a saved
 * receipt with no sign-in, and find the batch in the public log. Screenshots of each state go
 * to audit-web/screenshots/ (gitignored).
 */
const ports = platformPorts(26000);
const gateway = `http://127.0.0.1:${ports.services.gateway}`;
const chainUrl = `http://127.0.0.1:${ports.chain}`;
const orderDbUrl = `postgres://postgres@127.0.0.1:${ports.orderDb}/order_db`;
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve(__dirname, '../../audit-web/screenshots');
const PASSWORD = 'Audit#explorer2026';

jest.setTimeout(240_000);

const api = gatewayClient(gateway);

async function launch(): Promise<Browser> {
  // A missing browser fails the suite (CI installs Debian's chromium): never a silent skip.
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });

/**
 * The lowest WCAG contrast ratio between any visible text and the background behind it, with
 * that text. A string, evaluated by the browser (the tests' type check has no DOM library).
 */
const LOWEST_CONTRAST = `(() => {
  const channels = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = (c) => {
    const [r, g, b] = channels(c).slice(0, 3).map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = channels(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return getComputedStyle(e).backgroundColor;
    }
    return 'rgb(255, 255, 255)';
  };
  let worst = { ratio: 99, text: '' };
  for (const el of document.querySelectorAll('body *')) {
    const ownText = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!ownText || !el.getClientRects().length) continue;
    const a = lum(getComputedStyle(el).color);
    const b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < worst.ratio) worst = { ratio, text: el.textContent.trim().slice(0, 60) };
  }
  return worst;
})()`;

async function expectReadable(page: Page): Promise<void> {
  const worst = await page.evaluate<{ ratio: number; text: string }>(LOWEST_CONTRAST);
  expect(worst.ratio).toBeLessThanOrEqual(21); // some text was measured (99: none)
  // WCAG AA for normal text.
  if (worst.ratio < 4.5) throw new Error(`contrast ${worst.ratio.toFixed(2)} for "${worst.text}"`);
}

describe('audit explorer in the browser', () => {
  let platform: Platform;
  let dataDir: string;
  let browser: Browser;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    dataDir = tempDataDir('audit-explorer');
    // The browser first: without it the suite fails at once, before a platform is started.
    browser = await launch();
    platform = await startPlatform({ env: embeddedEnv(dataDir), ports, print: () => undefined });
  });

  afterAll(async () => {
    await browser?.close();
    await platform?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves the page with a strict policy, hashed assets cached, and the common 404', async () => {
    const page = await fetch(`${gateway}/audit/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain('connect-src');
    expect(csp).toContain('http://127.0.0.1:*');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing from another origin
    const script = /src="(\/audit\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${gateway}${script}`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const missing = await fetch(`${gateway}/audit/assets/nope-123.js`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
  });

  it('shows an order confirm and anchor, verifies it in the browser, and turns red when its row is edited', async () => {
    const email = `audit-${Date.now()}@example.com`;
    const reg = await api<{ accessToken: string }>('POST', '/api/auth/register', {
      email,
      password: PASSWORD,
      name: 'Audit Viewer',
    });
    expect(reg.status).toBe(201);
    const token = reg.body.accessToken;

    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(`${gateway}/audit/?rpc=${encodeURIComponent(chainUrl)}#/orders`);
    // Signing in is asked for first, with labelled fields.
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('No orders yet.').waitFor();

    // An order placed through the API appears on the page.
    const products = await api<{ items: { id: string }[] }>('GET', '/api/products?limit=5');
    const order = await api<{ id: string }>(
      'POST',
      '/api/orders',
      {
        items: [{ productId: products.body.items[0]!.id, quantity: 1 }],
        payment: { method: 'card', token: 'tok_visa' },
        shippingAddress: testAddress('Audit Viewer'),
      },
      token,
    );
    expect(order.status).toBe(201);
    const orderId = order.body.id;
    // A reload forgets the token (it is kept in memory only): sign in again.
    await page.reload();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('link', { name: orderId.slice(0, 8) }).click();

    // It confirms and anchors on the page (polled): every entry anchored, none pending.
    await page.locator('#order-status', { hasText: 'CONFIRMED' }).waitFor({ timeout: 60_000 });
    const platformStates = () =>
      page
        .locator('[data-platform]')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-platform')));
    const states = await until(
      platformStates,
      (s) => s.length >= 5 && s.every((x) => x === 'VERIFIED'),
      60_000,
    );
    expect(states.length).toBeGreaterThanOrEqual(5);
    expect(new Set(states)).toEqual(new Set(['VERIFIED']));
    const timeline = page.locator('#timeline > li');
    // The order's creation, PAYMENT_PROCESSING and CONFIRMED; the payment's creation and charge.
    expect(await page.locator('#timeline > li[data-record="order"]').count()).toBe(3);
    expect(await page.locator('#timeline > li[data-record="payment"]').count()).toBeGreaterThan(0);
    await expect(timeline.first().textContent()).resolves.toContain('Order placed (PENDING)');
    expect(await page.locator('#timeline').textContent()).toContain(
      'PAYMENT_PROCESSING → CONFIRMED',
    );
    await shot(page, '1-order-anchored');

    // Verify in this browser: green, every check listed, the chain asked.
    await page.getByRole('button', { name: 'Verify in this browser' }).click();
    const verdict = page.locator('#verdict');
    await page.locator('#verdict[data-state="verified"]').waitFor({ timeout: 60_000 });
    expect(await verdict.textContent()).toContain('✓ Verified in this browser');
    expect(await verdict.textContent()).toContain('None of them relied on the platform’s word');
    expect(await verdict.getAttribute('role')).toBe('status');
    const checks = page.locator('[data-check]');
    const statuses = await checks.evaluateAll((els) =>
      els.map((e) => [e.getAttribute('data-check'), e.getAttribute('data-status')]),
    );
    expect(statuses.filter(([, s]) => s === 'fail')).toEqual([]);
    const passed = new Set(statuses.filter(([, s]) => s === 'pass').map(([n]) => n));
    for (const name of [
      'leaf recomputed',
      'chain link',
      'Merkle proof',
      'signed promise',
      'root on chain',
      'anchorer authorised',
      'transaction',
      'the order now',
    ]) {
      expect(passed).toContain(name);
    }
    expect(await page.locator('.browser-mark[data-state="verified"]').count()).toBe(
      await timeline.count(),
    );
    await expectReadable(page);
    await shot(page, '2-verified-green');
    // An entry's checks open from the keyboard; the README's picture is this view.
    const firstChecks = page.locator('#timeline > li').first().locator('summary');
    await firstChecks.focus();
    await page.keyboard.press('Enter');
    await page.locator('#timeline > li').first().locator('[data-check="root on chain"]').waitFor();
    await page.screenshot({
      path: path.join(SHOTS, 'readme-verified.png'),
      fullPage: true,
      clip: { x: 0, y: 0, width: 1100, height: 1400 },
    });

    // The receipts as the page saves them, for the no-login check below.
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Save receipts' }).click();
    const saved = fs.readFileSync((await (await download).path())!, 'utf8');
    expect(JSON.parse(saved)).toMatchObject({ orderId });

    // Someone edits the order's row in the database, writing no entry.
    const db = new Client({ connectionString: orderDbUrl });
    await db.connect();
    try {
      await db.query('UPDATE orders SET total_cents = total_cents + 1000 WHERE id = $1', [orderId]);
    } finally {
      await db.end();
    }
    // The page notices (polling) and the browser's verification turns red with the reason.
    await page.locator('#verdict[data-state="stale"]').waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Verify in this browser' }).click();
    await page.locator('#verdict[data-state="tampered"]').waitFor({ timeout: 60_000 });
    const red = (await verdict.textContent())!;
    expect(red).toContain('✗ Tampered with');
    expect(red).toMatch(
      /the order now: the order changed without an anchored entry: total is \d+, anchored \d+/,
    );
    expect(await page.locator('[data-check="the order now"]').getAttribute('data-status')).toBe(
      'fail',
    );
    // The platform's own verdict agrees, and is shown as its word only.
    await page.locator('#platform-verdict[data-status="TAMPERED"]').waitFor();
    await expectReadable(page);
    await shot(page, '3-tampered-red');

    // The same order at phone width.
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - document.documentElement.clientWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    await shot(page, '4-phone-width');
    await context.close();

    // A saved receipt verifies with no sign-in at all, and a doctored one does not.
    const anonymous = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const p2 = await anonymous.newPage();
    p2.on('pageerror', (err) => pageErrors.push(err.message));
    await p2.goto(`${gateway}/audit/?rpc=${encodeURIComponent(chainUrl)}#/receipt`);
    await p2.getByLabel('Receipt (JSON)').fill(saved);
    await p2.getByRole('button', { name: 'Verify this receipt' }).click();
    await p2.locator('#verdict[data-state="verified"]').waitFor({ timeout: 60_000 });
    expect(await p2.locator('#verdict').textContent()).toContain('✓ Verified in this browser');
    await shot(p2, '5-receipt-verified');
    const doctored = saved.replace(
      /\\"total\\":(\d+)/,
      (_m, n: string) => `\\"total\\":${Number(n) + 1}`,
    );
    expect(doctored).not.toBe(saved);
    await p2.getByLabel('Receipt (JSON)').fill(doctored);
    await p2.getByRole('button', { name: 'Verify this receipt' }).click();
    await p2.locator('#verdict[data-state="tampered"]').waitFor({ timeout: 60_000 });
    expect(await p2.locator('#verdict').textContent()).toContain(
      'the canonical text and salt hash to',
    );

    // The public log, no sign-in: the order's batch is listed and the monitor finds nothing.
    const anchors = await until(
      () =>
        api<{ records: { receipt: { txHash: string | null } }[] }>(
          'GET',
          `/api/blockchain/order/${orderId}`,
          undefined,
          token,
        ),
      (r) => r.status === 200,
    );
    const txHash = anchors.body.records[anchors.body.records.length - 1]!.receipt.txHash!;
    await p2.goto(`${gateway}/audit/?rpc=${encodeURIComponent(chainUrl)}#/log`);
    await p2
      .locator(`section[data-service="order"] tr[data-tx="${txHash}"]`)
      .waitFor({ timeout: 60_000 });
    await p2.locator('#monitor[data-findings="0"]').waitFor({ timeout: 30_000 });
    expect(await p2.locator('#monitor').textContent()).toContain('✓ No findings');
    expect(
      Number(
        await p2
          .locator('section[data-service="order"] [data-log-size]')
          .getAttribute('data-log-size'),
      ),
    ).toBeGreaterThan(0);
    await expectReadable(p2);
    await shot(p2, '6-public-log');
    await anonymous.close();

    expect(pageErrors).toEqual([]);
  });
});
