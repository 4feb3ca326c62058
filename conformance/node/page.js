#!/usr/bin/env node
// Drives the example's demo page in Debian's headless Chromium through
// playwright-core (which never downloads a browser). Usage:
//   node page.js '<JSON config>'
// Config: chromium (executable, default /usr/bin/chromium), timeout_ms,
// and pages, played one after the other in one browser, each with:
// name, url (the page, e.g. http://127.0.0.1:PORT/?sub=NAME&ttl=1m[&query=1]),
// send (text to send once open; its echo is awaited), refresh (press
// "Refresh token" and await {"type":"refreshed"}), wait_for (log
// substrings awaited in order after "ready"), screenshot (PNG path).
// Prints JSON lines tagged with the page's name: ready, console,
// pageerror, page {lines, state}, error.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const cfg = JSON.parse(process.argv[2]);
const emit = (event, fields = {}) => process.stdout.write(JSON.stringify({ ...fields, event }) + '\n');
const timeout = cfg.timeout_ms || 20000;

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

function logLines(page) {
  return page.$$eval('#log li', (items) => items.map((li) => li.textContent));
}

function waitLog(page, text) {
  return page.waitForFunction(
    (s) => Array.from(document.querySelectorAll('#log li')).some((li) => li.textContent.includes(s)),
    text,
    { timeout },
  );
}

// play drives one page: open, connect, send, refresh, wait, screenshot.
async function play(ctx, p) {
  const tag = { name: p.name };
  const page = await ctx.newPage();
  page.setDefaultTimeout(timeout);
  page.on('console', (m) => emit('console', { ...tag, type: m.type(), text: m.text() }));
  page.on('pageerror', (e) => emit('pageerror', { ...tag, error: String(e) }));
  try {
    await page.goto(p.url);
    await page.click('#connect');
    await waitLog(page, 'open protocol=');
    if (p.send) {
      await page.fill('#message', p.send);
      await page.click('#send');
      await waitLog(page, 'message: ' + p.send);
    }
    if (p.refresh) {
      await page.click('#refresh');
      await waitLog(page, 'message: {"type":"refreshed"}');
    }
    emit('ready', tag);
    for (const s of p.wait_for || []) await waitLog(page, s);
  } catch (err) {
    emit('error', { ...tag, error: String(err && err.message) });
    process.exitCode = 4;
  }
  try {
    if (p.screenshot) await page.screenshot({ path: p.screenshot, fullPage: true });
    emit('page', { ...tag, lines: await logLines(page), state: await page.textContent('#status') });
  } catch (err) {
    emit('error', { ...tag, error: 'reading the page: ' + String(err && err.message) });
    process.exitCode = 4;
  }
  await page.close();
}

async function main() {
  // A fresh profile every run: no cache, no state from an earlier run.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'wsmw-chromium-'));
  let ctx;
  try {
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: cfg.chromium || '/usr/bin/chromium',
      headless: true,
      args: ARGS,
      viewport: { width: 1000, height: 680 },
      timeout,
    });
    for (const p of cfg.pages) await play(ctx, p);
  } catch (err) {
    emit('error', { error: String(err && err.message) });
    process.exitCode = 4;
  } finally {
    if (ctx) await ctx.close().catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main();
