// The headless-browser check of a gateway page, for the Rust tests
// (tests/common/browser.rs) and for anyone checking a page by hand.
//
// Usage:
//   node check.mjs --url <URL> --screenshot <file.png> [--cookie name=value]...
//                  [--chromium /usr/bin/chromium]
// Environment: SSO_TEST_BROWSER_NODE_MODULES, the node_modules holding
// puppeteer-core and axe-core (default: the one beside this file).
//
// It opens the URL in Debian's chromium, headless (with --no-sandbox only
// when running as root, where chromium refuses its sandbox), with the given
// cookies, then:
//   1. saves a full-page screenshot (PNG);
//   2. runs axe-core with the WCAG 2.0/2.1 A and AA rules (labels, contrast,
//      language, names of links and buttons...);
//   3. goes through the page with the Tab key: every link, button and form
//      field must be reached, in document order, and must look different
//      when focused (outline, shadow, border, background or colour: a
//      visible focus style);
// and prints one JSON object on stdout:
//   { url, status, title, screenshot, axe: { violations: [...], passes },
//     keyboard: { focusable, reached, problems: [...] }, ok }.
// Exit status: 0 when ok, 1 on accessibility or keyboard problems, 2 when
// the check itself could not run.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const modules = process.env.SSO_TEST_BROWSER_NODE_MODULES ?? join(import.meta.dirname, 'node_modules');

async function load(name) {
  const dir = join(modules, name);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const entry = manifest.exports?.['.']?.import ?? manifest.main ?? 'index.js';
  return import(pathToFileURL(join(dir, typeof entry === 'string' ? entry : entry.default)).href);
}

function fail(message) {
  console.error(`check.mjs: ${message}`);
  process.exit(2);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      url: { type: 'string' },
      screenshot: { type: 'string' },
      cookie: { type: 'string', multiple: true, default: [] },
      chromium: { type: 'string', default: '/usr/bin/chromium' },
    },
  }));
} catch (err) {
  fail(err.message);
}
if (!options.url || !options.screenshot) {
  fail('--url and --screenshot are required');
}

const target = new URL(options.url);
const cookies = options.cookie.map((pair) => {
  const at = pair.indexOf('=');
  if (at < 1) fail(`--cookie ${pair}: expected name=value`);
  return { name: pair.slice(0, at), value: pair.slice(at + 1), domain: target.hostname, path: '/' };
});

const puppeteer = (await load('puppeteer-core')).default;
const axeSource = readFileSync(join(modules, 'axe-core', 'axe.min.js'), 'utf8');

const args = process.getuid?.() === 0 ? ['--no-sandbox'] : [];
const browser = await puppeteer
  .launch({ executablePath: options.chromium, headless: true, args })
  .catch((err) => fail(`cannot start ${options.chromium}: ${err.message}`));

try {
  if (cookies.length > 0) await browser.setCookie(...cookies);

  const page = await browser.newPage();
  await page.setViewport({ width: 1024, height: 768 });
  // axe-core is injected by the test, not by the page: the page's
  // Content-Security-Policy (scripts by hash only) must not stop it.
  await page.setBypassCSP(true);
  const response = await page.goto(options.url, { waitUntil: 'load' });
  await page.screenshot({ path: options.screenshot, fullPage: true });

  await page.evaluate(axeSource);
  const axe = await page.evaluate(async () => {
    const results = await globalThis.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
      resultTypes: ['violations'],
    });
    return {
      violations: results.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
      })),
      passes: results.passes.length,
    };
  });

  const keyboard = await checkKeyboard(page);
  const ok = axe.violations.length === 0 && keyboard.problems.length === 0;
  console.log(
    JSON.stringify({
      url: options.url,
      status: response?.status() ?? null,
      title: await page.title(),
      screenshot: options.screenshot,
      axe,
      keyboard,
      ok,
    }),
  );
  process.exitCode = ok ? 0 : 1;
} catch (err) {
  console.error(`check.mjs: ${err.stack ?? err}`);
  process.exitCode = 2;
} finally {
  await browser.close();
}

// Tabs through the page; see the header for what is checked.
async function checkKeyboard(page) {
  const focusable = await page.evaluate(() => {
    const selector =
      'a[href], button, input:not([type="hidden"]), select, textarea, summary, [tabindex]';
    const style = (el) => {
      const s = getComputedStyle(el);
      return [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor,
        s.backgroundColor, s.color, s.textDecorationLine].join('|');
    };
    document.activeElement?.blur?.();
    const items = [];
    for (const el of document.querySelectorAll(selector)) {
      const rect = el.getBoundingClientRect();
      const hidden = rect.width === 0 && rect.height === 0;
      if (hidden || el.disabled || el.getAttribute('tabindex') === '-1') continue;
      el.dataset.ssoKeyboard = String(items.length);
      items.push({
        index: items.length,
        tag: el.tagName.toLowerCase(),
        text: (el.innerText || el.value || el.getAttribute('aria-label') || el.getAttribute('name') || '').trim().slice(0, 60),
        tabindex: el.getAttribute('tabindex'),
        rest: style(el),
      });
    }
    return items;
  });
  const problems = [];
  const reached = [];
  // A date or time field takes one Tab per part (day, month, year): up to
  // three presses stay on the same element.
  for (let press = 0; press < 3 * focusable.length + 2; press += 1) {
    await page.keyboard.press('Tab');
    const now = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el || el === document.body || el.dataset.ssoKeyboard === undefined) return null;
      const s = getComputedStyle(el);
      return {
        index: Number(el.dataset.ssoKeyboard),
        focused: [s.outlineStyle, s.outlineWidth, s.outlineColor, s.boxShadow, s.borderColor,
          s.backgroundColor, s.color, s.textDecorationLine].join('|'),
        outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0,
      };
    });
    if (now === null) break;
    if (reached.at(-1) === now.index) continue;
    if (reached.includes(now.index)) break;
    reached.push(now.index);
    const item = focusable[now.index];
    if (!now.outline && now.focused === item.rest) {
      problems.push(`no visible focus style on <${item.tag}> "${item.text}"`);
    }
  }
  for (const item of focusable) {
    if (!reached.includes(item.index)) {
      problems.push(`<${item.tag}> "${item.text}" is never reached with the Tab key`);
    }
    if (Number(item.tabindex) > 0) {
      problems.push(`<${item.tag}> "${item.text}" has tabindex=${item.tabindex}: the order no longer follows the page`);
    }
  }
  for (let i = 1; i < reached.length; i += 1) {
    if (reached[i] < reached[i - 1]) {
      problems.push(
        `Tab goes from "${focusable[reached[i - 1]].text}" back to "${focusable[reached[i]].text}": not the order of the page`,
      );
      break;
    }
  }
  return { focusable: focusable.length, reached: reached.map((i) => focusable[i].text), problems };
}
