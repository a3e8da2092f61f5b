// console.mjs -- drives Debian's chromium (headless, puppeteer-core) through
// the escalation console for tests/integration/test_console_browser.py.
// Usage: node console.mjs SCENARIO PARAMS-JSON
// PARAMS: {base, home, shots, case, to, evil, reason...}; HOME (with the NSS
// database holding the client certificate) comes from params.home.
// Prints progress lines; the last line is "RESULT <json>". Lines "WAIT <what>"
// ask the test to do something and answer with a line on stdin.
import puppeteer from 'puppeteer-core';
import { createInterface } from 'node:readline';
import { mkdirSync } from 'node:fs';

const [scenario, raw] = process.argv.slice(2);
const P = JSON.parse(raw || '{}');
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const T = 90000;	// a bound for a loaded CI machine, not a speed check

function say(...a) { console.log(...a); }
async function ask(what) {
  say(`WAIT ${what}`);
  const r = await lines.next();
  return r.done ? '' : r.value;
}

async function launch() {
  return puppeteer.launch({
    executablePath: P.chromium || '/usr/bin/chromium',
    headless: true,
    env: { ...process.env, HOME: P.home },
    userDataDir: `${P.home}/profile`,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--window-size=1280,800'],
    defaultViewport: { width: 1280, height: 800 },
  });
}

async function shot(page, name, viewportOnly) {
  if (!P.shots) return;
  mkdirSync(P.shots, { recursive: true });
  await page.screenshot({ path: `${P.shots}/${name}.png`, fullPage: !viewportOnly });
  say(`screenshot ${name}.png`);
}

// page.goto, again when chromium saw the machine's network change under it
// (other tests make and remove network namespaces and interfaces).
async function go(page, url) {
  for (let i = 0; ; i++) {
    try {
      return await page.goto(url, { waitUntil: 'load' });
    } catch (e) {
      if (i >= 4 || !/ERR_NETWORK_CHANGED/.test(String(e))) throw e;
      say(`retrying ${url}: ${e.message}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function watchErrors(page, errors) {
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
}

// Fills the open <dialog>'s fields (by name) and confirms it.
async function dialog(page, values) {
  await page.waitForSelector('dialog[open]', { timeout: T });
  for (const [name, v] of Object.entries(values)) {
    const sel = `dialog[open] [name="${name}"]`;
    await page.$eval(sel, (el) => { el.value = ''; });
    await page.type(sel, v);
  }
  await page.click('dialog[open] button[value="ok"]');
  await page.waitForSelector('dialog[open]', { hidden: true, timeout: T });
}

// Finds the enabled button and clicks it in one turn of the page's loop: a
// live redraw between finding and clicking cannot leave a detached button.
async function clickButton(page, label) {
  await page.waitForFunction((l) => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent.trim() === l && !x.disabled);
    if (b) b.click();
    return !!b;
  }, { timeout: T }, label);
}

// The same for an element found by a CSS selector.
async function clickSel(page, sel) {
  await page.waitForFunction((q) => {
    const e = document.querySelector(q);
    if (e) e.click();
    return !!e;
  }, { timeout: T }, sel);
}

const historyKinds = (page) => page.$$eval('#history li', (lis) => lis.map((li) => li.dataset.kind));

async function waitKind(page, kind) {
  await page.waitForFunction((k) => [...document.querySelectorAll('#history li')].some((li) => li.dataset.kind === k),
    { timeout: T }, kind);
}

const scenarios = {
  // Queue -> case -> claim -> payload view -> redirect; screenshots of every page.
  async resolve(page, out) {
    await go(page, `${P.base}/console/#/queue`);
    await page.waitForSelector(`tr[data-case="${P.case}"] a`, { timeout: T });
    out.queueRows = await page.$$eval('#cases tbody tr', (r) => r.length);
    await shot(page, 'queue');
    await clickSel(page, `tr[data-case="${P.case}"] a`);
    await page.waitForSelector('#history li', { timeout: T });
    await clickButton(page, 'Claim');
    await dialog(page, { reason: P.claimNote });
    await waitKind(page, 'CASE_ACTION_KIND_ANNOTATED'); // the claim's note: after CLAIMED
    await clickButton(page, 'Show payload…');
    await dialog(page, { reason: P.viewReason });
    await page.waitForSelector('.payload-bytes', { timeout: T });
    out.payload = await page.$eval('.payload-bytes', (e) => e.textContent);
    await waitKind(page, 'CASE_ACTION_KIND_PAYLOAD_VIEWED');
    await clickButton(page, 'Redirect…');
    await page.waitForSelector('dialog[open] [name="to"]', { timeout: T });
    await page.$eval('dialog[open] [name="to"]', (el) => { el.value = ''; });
    await page.type('dialog[open] [name="to"]', P.to);
    await page.waitForFunction(() => /matched/.test((document.querySelector('dialog[open] .lookup') || {}).textContent || ''), { timeout: T });
    out.lookup = await page.$eval('dialog[open] .lookup', (e) => e.textContent);
    await shot(page, 'redirect-dialog', true);
    await dialog(page, { reason: P.redirectReason });
    await waitKind(page, 'CASE_ACTION_KIND_REDIRECTED');
    out.history = await historyKinds(page);
    out.audit = await page.$eval('#audit', (e) => e.textContent);
    await shot(page, 'case');
    await page.click('#nav-register');
    await page.waitForSelector('#delegations', { timeout: T });
    await shot(page, 'register');
    await page.click('#nav-node');
    await page.waitForSelector('figure svg.chart', { timeout: T });
    await shot(page, 'node');
    await page.setViewport({ width: 420, height: 800 });
    await page.click('#nav-queue');
    await page.waitForSelector('#queue-body', { timeout: T });
    await shot(page, 'queue-narrow');
  },

  // The queue is open; the test opens a new case; it must appear without reload.
  async live(page, out) {
    await go(page, `${P.base}/console/#/queue`);
    await page.waitForSelector('#queue-body', { timeout: T });
    await page.evaluate(() => { window.axleNoReload = 'still here'; });
    const before = await page.$$eval('#cases tbody tr', (r) => r.map((x) => x.dataset.case)).catch(() => []);
    const id = await ask('new-case');
    await page.waitForSelector(`tr[data-case="${id}"]`, { timeout: T });
    out.before = before;
    out.noReload = await page.evaluate(() => window.axleNoReload);
    out.indicator = await page.$eval('#live', (e) => e.textContent);
    // Keyboard only: Tab to the new case's link, Enter opens it; Esc closes a dialog.
    let onIt = false;
    for (let i = 0; i < 40 && !onIt; i++) {
      await page.keyboard.press('Tab');
      onIt = await page.evaluate((cid) => {
        const a = document.activeElement;
        return !!a && a.tagName === 'A' && !!a.closest(`tr[data-case="${cid}"]`);
      }, id);
    }
    out.tabbedTo = onIt;
    if (!onIt) return;
    await page.keyboard.press('Enter');
    await page.waitForSelector('#history li', { timeout: T });
    let onAnnotate = false;
    for (let i = 0; i < 40 && !onAnnotate; i++) {
      await page.keyboard.press('Tab');
      onAnnotate = await page.evaluate(() => (document.activeElement || {}).textContent === 'Annotate');
    }
    out.tabbedToAction = onAnnotate;
    if (!onAnnotate) return;
    await page.keyboard.press('Enter');
    await page.waitForSelector('dialog[open]', { timeout: T });
    out.dialogFocus = await page.evaluate(() => document.activeElement.labels[0].textContent);
    await page.keyboard.press('Escape');
    await page.waitForSelector('dialog[open]', { hidden: true, timeout: T });
    out.escClosed = true;
  },

  // Case: discard (its reason is required: an empty one is not sent).
  async discard(page, out) {
    await go(page, `${P.base}/console/#/case/${encodeURIComponent(P.case)}`);
    await page.waitForSelector('#history li', { timeout: T });
    await clickButton(page, 'Discard');
    await page.waitForSelector('dialog[open]', { timeout: T });
    await page.click('dialog[open] button[value="ok"]'); // empty reason: the form stays open
    out.emptyKeptOpen = await page.$('dialog[open]') !== null;
    await dialog(page, { reason: P.reason });
    await waitKind(page, 'CASE_ACTION_KIND_DISCARDED');
    out.history = await historyKinds(page);
    out.state = await page.$eval('dl.fields dd', (e) => e.textContent);
  },

  // Register: suspend a registrar and reactivate it, each with a reason.
  async register(page, out) {
    await go(page, `${P.base}/console/#/register`);
    const standing = (id) => page.$eval(`tr[data-registrar="${id}"] .standing`, (e) => e.textContent);
    await page.waitForSelector(`tr[data-registrar="${P.registrar}"]`, { timeout: T });
    out.before = await standing(P.registrar);
    await clickSel(page, `button[aria-label="Suspend ${P.registrar}"]`);
    await dialog(page, { reason: P.suspendReason });
    await page.waitForFunction((id) => (document.querySelector(`tr[data-registrar="${id}"] .standing`) || {}).textContent === 'suspended',
      { timeout: T }, P.registrar);
    out.suspended = await standing(P.registrar);
    await clickSel(page, `button[aria-label="Reactivate ${P.registrar}"]`);
    await dialog(page, { reason: P.reactivateReason });
    await page.waitForFunction((id) => (document.querySelector(`tr[data-registrar="${id}"] .standing`) || {}).textContent === 'active',
      { timeout: T }, P.registrar);
    out.after = await standing(P.registrar);
    out.tree = await page.$eval('#delegations', (e) => e.innerText);
  },

  // A member's certificate: the 403 page, and no data from the RPCs either.
  async forbidden(page, out) {
    const resp = await go(page, `${P.base}/console/`);
    out.status = resp.status();
    out.text = await page.evaluate(() => document.body.innerText);
    await shot(page, 'forbidden');
    out.rpc = await page.evaluate(async () => {
      const r = await fetch('/axle.v1.Recourse/List', { method: 'POST', headers: { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1' }, body: '{}' });
      return { status: r.status, body: await r.text() };
    });
  },

  // A page from another origin tries to make the console act.
  async csrf(page, out) {
    await go(page, P.evil);
    await page.waitForFunction(() => window.evilDone === true, { timeout: T });
    out.evil = await page.evaluate(() => window.evilLog);
    await new Promise((r) => setTimeout(r, 1500)); // the form post lands in a frame
  },
};

const browser = await launch();
const out = { errors: [] };
let rc = 0;
try {
  const page = await browser.newPage();
  watchErrors(page, out.errors);
  await scenarios[scenario](page, out);
} catch (e) {
  out.failure = String(e && e.stack || e);
  rc = 1;
} finally {
  await browser.close();
}
say(`RESULT ${JSON.stringify(out)}`);
process.exit(rc);
