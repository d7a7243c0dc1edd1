// Drives Debian's chromium (headless, through playwright-core; no browser is ever downloaded)
// for tests/integration/test_browser.py. Usage: node check.mjs '<spec as JSON>'; prints one JSON
// line with the results on stdout. The spec:
//   {"chromium": "/usr/bin/chromium",
//    "steps": [
//      {"kind": "play", "url": "https://127.0.0.1:8443/play/live/a?transport=http",
//       "warmup": 1.0, "seconds": 4.0, "screenshot": "/out/play.png",
//       "admin": "http://127.0.0.1:8086", "key": "live/a"},
//      {"kind": "status", "admin": "http://127.0.0.1:8086", "key": "live/a",
//       "screenshot": "/out/status.png"}]}
// A play step opens the player page, waits for it to play, then samples the video element's
// currentTime and getVideoPlaybackQuality().totalVideoFrames `seconds` apart (after `warmup`);
// while the page still plays, it reads the admin's /streams and its status page (each step's
// `admin`, `key`: the stream's row). A status step reads only the status page. Every wait is
// bounded; a step that fails gives its error in its result and the next step runs.
import { chromium } from "playwright-core";

const spec = JSON.parse(process.argv[2]);
const PLAY_DEADLINE_MS = 20000;
const STATUS_DEADLINE_MS = 10000;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function sample(page) {
  return page.evaluate(() => {
    const v = document.getElementById("video");
    const q = v.getVideoPlaybackQuality();
    return {
      wall: performance.now() / 1000,
      currentTime: v.currentTime,
      totalVideoFrames: q.totalVideoFrames,
      droppedVideoFrames: q.droppedVideoFrames,
      state: document.body.dataset.state || "",
      transport: document.body.dataset.transport || "",
      text: document.getElementById("state").textContent,
      width: v.videoWidth,
      height: v.videoHeight,
    };
  });
}

// The status page's row of `key`, once the page has rendered one (it fetches /streams every 2 s).
async function statusRow(context, admin, key, screenshot) {
  const page = await context.newPage();
  try {
    await page.goto(admin + "/", { timeout: STATUS_DEADLINE_MS });
    const row = page.locator(`#streams tbody tr[data-key="${key.replace(/"/g, '\\"')}"]`);
    await row.waitFor({ timeout: STATUS_DEADLINE_MS });
    const cells = await row.locator("td").allTextContents();
    const link = await row.locator("a").getAttribute("href").catch(() => null);
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
    return { cells, link };
  } finally {
    await page.close();
  }
}

async function play(context, step) {
  const page = await context.newPage();
  const log = [];
  page.on("console", (m) => log.push(m.type() + ": " + m.text()));
  page.on("pageerror", (e) => log.push("pageerror: " + e.message));
  const result = { url: step.url, log };
  try {
    const reply = await page.goto(step.url, { timeout: PLAY_DEADLINE_MS });
    result.pageStatus = reply ? reply.status() : null;
    await page.waitForFunction(() => document.body.dataset.state === "playing", null,
                               { timeout: PLAY_DEADLINE_MS });
    await sleep((step.warmup ?? 1) * 1000);
    const first = await sample(page);
    await sleep((step.seconds ?? 4) * 1000);
    const last = await sample(page);
    result.first = first;
    result.last = last;
    if (step.admin) {
      result.streams = await (await fetch(step.admin + "/streams")).json();
      result.row = await statusRow(context, step.admin, step.key, step.statusScreenshot);
    }
    if (step.screenshot) await page.screenshot({ path: step.screenshot });
  } catch (e) {
    result.error = String(e && e.message ? e.message : e);
    result.last = await sample(page).catch(() => null);
  } finally {
    await page.close();
  }
  return result;
}

const browser = await chromium.launch({
  executablePath: spec.chromium || "/usr/bin/chromium",
  headless: true,
  // The gateway's https listener has a development CA's certificate; no sandbox as root.
  args: ["--ignore-certificate-errors", "--no-sandbox", "--autoplay-policy=no-user-gesture-required",
         "--disable-dev-shm-usage"],
  timeout: 30000,
});
const results = [];
try {
  const context = await browser.newContext({ ignoreHTTPSErrors: true,
                                             viewport: { width: 1000, height: 700 } });
  for (const step of spec.steps) {
    if (step.kind === "play") {
      results.push(await play(context, step));
    } else {
      try {
        results.push(await statusRow(context, step.admin, step.key, step.screenshot));
      } catch (e) {
        results.push({ error: String(e && e.message ? e.message : e) });
      }
    }
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
