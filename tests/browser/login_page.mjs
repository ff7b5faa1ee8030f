// Drives the bridge's login page in headless Chromium, as a person would, and reports
// each step as one JSON line on stdout.
//   node login_page.mjs <page url> <username> <password> <screenshot.png> qr
//   node login_page.mjs <page url> <username> <password> <screenshot.png> code <phone>
// `qr`: clicks "Show QR code", waits for the image, takes a screenshot, prints
// {"step":"qr","qr_code":…}; prints {"step":"qr","qr_code":…} again for each rotation it
// sees, and {"step":"done","status":…} or {"step":"failed","status":…} at the end.
// `code`: fills the number, clicks "Get pairing code", prints {"step":"pair_code",…},
// then the end the same way.
import { createRequire } from "node:module";
import path from "node:path";

const require = createRequire(path.join(process.env.BROWSER_NODE_DIR, "node_modules", "x.js"));
const { chromium } = require("playwright-core");

const [pageUrl, username, password, screenshot, mode, phone] = process.argv.slice(2);
const say = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
  ],
});
try {
  const context = await browser.newContext({
    httpCredentials: { username, password },
    viewport: { width: 800, height: 1000 },
  });
  const page = await context.newPage();
  page.on("console", (message) => process.stderr.write(`page: ${message.text()}\n`));
  await page.goto(pageUrl);

  if (mode === "qr") {
    await page.click("#qr-button");
    let shown = null;
    const deadline = Date.now() + 150_000;
    for (;;) {
      const state = await page.evaluate(() => {
        const image = document.getElementById("qr");
        const status = document.getElementById("status");
        return {
          code: image.hidden ? null : image.dataset.code,
          loaded: !image.hidden && image.complete && image.naturalWidth > 0,
          status: status.textContent,
          kind: status.className,
        };
      });
      if (state.kind === "done" || state.kind === "failed") {
        say({ step: state.kind, status: state.status });
        break;
      }
      if (state.code && state.loaded && state.code !== shown) {
        shown = state.code;
        await page.screenshot({ path: screenshot });
        say({ step: "qr", qr_code: shown });
      }
      if (Date.now() > deadline) {
        say({ step: "failed", status: "the page showed no outcome in time" });
        break;
      }
      await page.waitForTimeout(200);
    }
  } else if (mode === "code") {
    await page.fill("#phone", phone);
    await page.click("#code-button");
    const outcome = await page.waitForSelector("#pair-code:not([hidden]), #status.failed", { timeout: 90_000 });
    if (await outcome.evaluate((element) => element.id === "pair-code")) {
      await page.screenshot({ path: screenshot });
      say({ step: "pair_code", pair_code: (await outcome.textContent()).trim() });
      await page.waitForSelector("#status.done, #status.failed", { timeout: 150_000 });
    }
    const status = await page.$eval("#status", (element) => ({ text: element.textContent, kind: element.className }));
    say({ step: status.kind === "done" ? "done" : "failed", status: status.text });
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await browser.close();
}
