// Launches Debian's headless chromium through playwright-core; pages in strict mode and screenshots.
import { mkdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ARTIFACTS = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

export const DESKTOP = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

const ACTION_TIMEOUT_MS = 10_000;
const NAVIGATION_TIMEOUT_MS = 15_000;

/** Headless chromium (never a downloaded build), without the sandbox: the tests run as root. */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu'],
    timeout: 30_000,
  });
}

/** Console errors and uncaught page errors of a page; the expected ones are allowed explicitly. */
export class PageErrors {
  constructor() {
    this.seen = [];
    // The browser asks for /favicon.ico by itself; the pages link none (the server answers 404).
    this.allowed = [/status of 404 .*\/favicon\.ico:/];
  }

  /** Lets errors matching `pattern` (RegExp or substring) through for the rest of the test. */
  allow(pattern) { this.allowed.push(pattern); }

  isAllowed(text) {
    return this.allowed.some((p) => (p instanceof RegExp ? p.test(text) : text.includes(p)));
  }

  /** The errors not allowed. */
  unexpected() { return this.seen.filter((e) => !this.isAllowed(e)); }

  /** Throws if any unexpected error was seen. */
  check() {
    const bad = this.unexpected();
    if (bad.length) throw new Error(`unexpected errors in the page:\n  ${bad.join('\n  ')}`);
  }

  watch(page) {
    page.on('console', (msg) => {
      if (msg.type() === 'error') {
        const loc = msg.location();
        this.seen.push(`console.error: ${msg.text()}${loc?.url ? ` (${loc.url}:${loc.lineNumber})` : ''}`);
      }
    });
    page.on('pageerror', (err) => this.seen.push(`uncaught: ${err.message}`));
    page.on('crash', () => this.seen.push('the page crashed'));
  }
}

/**
 * Opens a page in a fresh context (its own cookies) at `viewport` (DESKTOP by default).
 * Returns {context, page, errors}; prefer `withPage`, which also checks the errors and closes.
 */
export async function openPage(browser, { viewport = DESKTOP, mobile = viewport.width < 600, storageState } = {}) {
  const context = await browser.newContext({
    viewport, isMobile: mobile, hasTouch: mobile, locale: 'ru-RU', timezoneId: 'Europe/Moscow', storageState,
  });
  context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  context.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
  const errors = new PageErrors();
  context.on('page', (p) => errors.watch(p));
  const page = await context.newPage();
  return { context, page, errors };
}

/**
 * Strict mode: runs `fn(page, {context, errors})` on a fresh page; the test fails if the page logged a
 * console error or threw, unless allowed with `errors.allow(pattern)` or `opts.allowErrors`.
 * `opts.before(context)` runs before the page opens (e.g. `server.signIn(context, login)`).
 * On failure a screenshot goes to artifacts/failed-<test>.png (unless `opts.failureScreenshot` is false).
 */
export async function withPage(t, browser, opts, fn) {
  if (typeof opts === 'function') [opts, fn] = [{}, opts];
  const { context, page, errors } = await openPage(browser, opts);
  for (const p of opts.allowErrors ?? []) errors.allow(p);
  try {
    if (opts.before) await opts.before(context);
    await fn(page, { context, errors });
    errors.check();
  } catch (e) {
    if (opts.failureScreenshot !== false) {
      const name = `failed-${slug(t?.name ?? 'test')}${opts.viewport === PHONE ? '-phone' : ''}`;
      await screenshot(page, name).catch(() => {});
    }
    const bad = errors.unexpected();
    if (bad.length && !String(e.message).startsWith('unexpected errors')) {
      e.message += `\n(also, errors in the page:\n  ${bad.join('\n  ')})`;
    }
    throw e;
  } finally {
    await context.close().catch(() => {});
  }
}

function slug(s) {
  return s.toLowerCase().replace(/[^a-z0-9а-яё]+/gi, '-').replace(/^-|-$/g, '').slice(0, 80);
}

/** Saves a full-page PNG to e2e/artifacts/<name>.png and returns its path. */
export async function screenshot(page, name) {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true, animations: 'disabled', timeout: ACTION_TIMEOUT_MS });
  return path;
}

/** Visible form controls without an accessible name (label, aria-label/-labelledby, or a button's text). */
export function unnamedControls(page) {
  return page.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.type !== 'hidden' && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden')
    .filter((el) => {
      const byLabel = [...(el.labels ?? [])].some((l) => l.textContent.trim());
      const byAria = el.getAttribute('aria-label')?.trim()
        || (el.getAttribute('aria-labelledby') ?? '').split(/\s+/).some((id) => document.getElementById(id)?.textContent.trim());
      const byText = el.tagName === 'BUTTON' && el.textContent.trim();
      return !(byLabel || byAria || byText);
    })
    .map((el) => `${el.tagName.toLowerCase()}#${el.id || '?'}[name=${el.name || ''}]`));
}
