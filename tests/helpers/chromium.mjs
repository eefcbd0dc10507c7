// Debian's chromium for the browser tests, driven by playwright-core (`npx playwright install` cannot
// download a browser here). Without chromium a test is skipped with the reason, except under CI, where
// npm test's set-up has installed it and its absence must fail.
import { existsSync } from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-sync', '--disable-quic'];

/** false, or why the browser tests cannot run (for node:test's `skip`). */
export const skipBrowser = !existsSync(CHROMIUM) && !process.env.CI && `no chromium at ${CHROMIUM}`;

/** A headless chromium (playwright-core's Browser). */
export async function launch() {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}
