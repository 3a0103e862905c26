// Drives the web console in headless Chromium (Debian's /usr/bin/chromium,
// through playwright-core: no browser download). Run by the e2e test
// `console::the_console_shows_routes_deliveries_and_dead_letters_and_redrives_by_click`
// (tests/e2e/console.rs), which starts the Worker and the emulator, sends the
// webhooks and checks the emulator's runs afterwards.
//
// Environment: FLOWGATE_URL, FLOWGATE_ADMIN_TOKEN, FLOWGATE_DELIVERY_ID (a
// delivery that failed once, then was delivered), FLOWGATE_DEAD_ROUTE (the
// route whose dead letters are redriven), FLOWGATE_DEAD_COUNT (how many it
// has), FLOWGATE_SCREENSHOTS (a directory). Prints one JSON line of what it
// saw; exits 1 (with the reason) on the first failed check.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const url = process.env.FLOWGATE_URL;
const token = process.env.FLOWGATE_ADMIN_TOKEN;
const deliveryId = process.env.FLOWGATE_DELIVERY_ID;
const deadRoute = process.env.FLOWGATE_DEAD_ROUTE;
const deadCount = Number(process.env.FLOWGATE_DEAD_COUNT);
const shots = process.env.FLOWGATE_SCREENSHOTS;

function check(ok, what) {
  if (!ok) throw new Error('check failed: ' + what);
}

const profile = mkdtempSync(join(tmpdir(), 'flowgate-chromium-'));
// A fresh, empty profile (--user-data-dir, which playwright passes itself).
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
const seen = {};
const errors = [];
try {
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
  // Failed requests show up as console errors too: the deliberate wrong-token 401 is one.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(m.text()); });
  page.on('response', (r) => { if (r.status() >= 400 && r.status() !== 401) errors.push(r.status() + ' ' + r.url()); });
  page.on('dialog', (d) => d.accept());
  const requests = [];
  page.on('request', (r) => requests.push(r.url()));

  // Login: the token is asked for once, kept in sessionStorage only.
  await page.goto(url + '/console');
  await page.locator('#token').waitFor();
  check(await page.locator('#login').isVisible(), 'the login form is shown first');
  await page.screenshot({ path: join(shots, 'console-login.png') });
  // A wrong token is refused with the reason.
  await page.fill('#token', 'not-the-token');
  await page.keyboard.press('Enter');
  await page.locator('#notice.error').waitFor();
  check((await page.textContent('#notice')).includes('not the Worker'), 'a wrong token is refused');
  await page.fill('#token', token);
  await page.keyboard.press('Enter');

  // Overview: routes with provider, mode, counters; flows; credentials; chart.
  const qRow = page.locator('#routes tbody tr', { has: page.locator('th', { hasText: new RegExp('^' + deadRoute + '$') }) });
  await qRow.waitFor();
  const cells = await qRow.locator('td').allTextContents();
  seen.route_row = cells;
  check(cells[0] === 'github' && cells[1] === 'queue', 'route ' + deadRoute + ' shows provider and mode: ' + cells);
  check(Number(cells[2]) >= deadCount + 1, 'accepted counts every webhook: ' + cells);
  check(Number(cells[6]) === deadCount, 'dead letters waiting: ' + cells);
  check(await page.locator('#chart svg rect').count() > 0, 'the chart is drawn');
  const flows = await page.locator('#flows tbody').textContent();
  check(flows.includes('503'), 'the failing flow shows its last error: ' + flows);
  const tokens = await page.locator('#tokens tbody').textContent();
  check(/fresh|refresh due/.test(tokens), 'the credential shows its token state: ' + tokens);
  check(!(await page.content()).includes('eyJ'), 'no token in the page');
  check(await page.evaluate(() => sessionStorage.getItem('flowgate-admin-token')) === token, 'the token is in sessionStorage');
  check(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');
  await page.screenshot({ path: join(shots, 'console-overview.png'), fullPage: true });

  // Deliveries: search by the sender's delivery id, open the history (keyboard).
  await page.click('nav a[href="#deliveries"]');
  await page.fill('#delivery-search input[name=id]', deliveryId);
  await page.keyboard.press('Enter');
  const row = page.locator('#deliveries tbody tr', { hasText: deliveryId });
  await row.waitFor();
  check((await row.textContent()).includes('delivered'), 'the delivery is delivered');
  await row.locator('button').press('Enter');
  await page.locator('#delivery-history tbody tr td').first().waitFor();
  const history = await page.locator('#delivery-history tbody').textContent();
  seen.delivery_history = history;
  check(history.includes('500'), 'its history shows the failed attempt: ' + history);
  await page.screenshot({ path: join(shots, 'console-deliveries.png'), fullPage: true });

  // Dead letters: list with a filter, open one, its body on request only.
  await page.click('nav a[href="#dead-letters"]');
  await page.selectOption('#letter-filter select[name=route]', deadRoute);
  await page.click('#letter-filter button[type=submit]');
  await page.waitForFunction((n) => document.querySelectorAll('#letters tbody tr button').length === n, deadCount);
  await page.locator('#letters tbody tr button').first().click();
  await page.locator('#letter-headers tbody tr').first().waitFor();
  const headers = await page.locator('#letter-headers tbody').textContent();
  check(headers.includes('x-github-event') && headers.includes('[redacted]'), 'headers shown, signature redacted: ' + headers);
  check(!headers.includes('sha256='), 'no signature in the page');
  check(await page.locator('#letter-body').isHidden(), 'the body is not shown until asked for');
  await page.click('#show-body');
  const body = await page.textContent('#letter-body');
  check(body.includes('"n"'), 'the body, pretty-printed: ' + body);
  await page.click('#body-views button[data-view=hex]');
  check((await page.textContent('#letter-body')).startsWith('00000000  7b'), 'the hex view');
  await page.click('#body-views button[data-view=json]');
  const title = await page.textContent('#ld-title');
  seen.redriven = title.replace('Dead letter ', '');
  await page.screenshot({ path: join(shots, 'console-dead-letter.png'), fullPage: true });

  // Redrive it by clicking.
  await page.click('#letter-redrive');
  await page.locator('#notice.info', { hasText: 'Redriven' }).waitFor();
  await page.waitForFunction((n) => document.querySelectorAll('#letters tbody tr button').length === n, deadCount - 1);

  // Bulk: the dry run shows the count first; the real run is enabled after it.
  check(await page.locator('#bulk-redrive').isDisabled(), 'bulk redrive waits for a dry run');
  await page.click('#bulk-dry-run');
  await page.locator('#bulk-result', { hasText: 'Dry run' }).waitFor();
  seen.dry_run = await page.textContent('#bulk-result');
  check(seen.dry_run.includes((deadCount - 1) + ' dead letter(s) match'), 'the dry run counts: ' + seen.dry_run);
  await page.screenshot({ path: join(shots, 'console-dead-letters.png'), fullPage: true });
  await page.click('#bulk-redrive');
  await page.locator('#bulk-result', { hasText: 'Redriven' }).waitFor();
  seen.bulk = await page.textContent('#bulk-result');
  check(seen.bulk.includes('Redriven ' + (deadCount - 1)), 'the bulk redrive: ' + seen.bulk);
  await page.locator('#letters tbody td.empty').waitFor();

  // Phone width.
  const p2 = await context.newPage();
  await p2.setViewportSize({ width: 390, height: 844 });
  await p2.goto(url + '/console');
  await p2.fill('#token', token);
  await p2.keyboard.press('Enter');
  await p2.locator('#routes tbody tr').first().waitFor();
  const overflow = await p2.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, 'no sideways scrolling of the page at phone width: ' + overflow);
  await p2.screenshot({ path: join(shots, 'console-phone.png'), fullPage: false });

  check(errors.length === 0, 'no script errors: ' + errors.join('; '));
  const foreign = requests.filter((r) => !r.startsWith(url));
  check(foreign.length === 0, 'no request leaves the Worker: ' + foreign.join(', '));
  console.log(JSON.stringify(seen));
} catch (e) {
  console.error(String(e && e.stack || e));
  if (errors.length) console.error('script errors in the page: ' + errors.join('; '));
  console.log(JSON.stringify(seen));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
