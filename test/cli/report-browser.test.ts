/**
 * The report page in a real browser: headless Chromium (Debian's package) opens the page made from a
 * simulated history at 1280 × 800, at a phone's width and in dark mode, and prints it. No JavaScript
 * error, no request but the file itself, nothing wider than the screen, readable contrast; a
 * screenshot of each section per view goes to artifacts/report-screenshots/ (kept by CI).
 *
 * Without Chromium the test says so in one line and passes, except where AUTOPROTECT_REQUIRE_CHROMIUM=1
 * (.ci/run installs it and sets that).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Browser, findChromium, type Page } from "../support/chromium.js";
import { cli } from "../support/cli.js";
import { buildHistory, historyEnv, SAMPLE_WORKSPACE } from "../support/report-history.js";

const chromium = findChromium();
const required = process.env.AUTOPROTECT_REQUIRE_CHROMIUM === "1";
const SHOTS = new URL("../../artifacts/report-screenshots/", import.meta.url).pathname;

interface View {
  readonly name: string;
  readonly width: number;
  readonly height: number;
  readonly mobile: boolean;
  readonly scheme: "light" | "dark";
}

const VIEWS: readonly View[] = [
  { name: "desktop", width: 1280, height: 800, mobile: false, scheme: "light" },
  { name: "phone", width: 390, height: 844, mobile: true, scheme: "light" },
  { name: "dark", width: 1280, height: 800, mobile: false, scheme: "dark" },
];

/** Text whose contrast with what is behind it is under WCAG AA (4.5:1; 3:1 for large text), in the page. */
const LOW_CONTRAST = `(() => {
  const parse = (c) => {
    const m = /rgba?\\(([^)]+)\\)/.exec(c || "");
    if (!m) return null;
    const [r, g, b, a = 1] = m[1].split(",").map(Number);
    return { r, g, b, a };
  };
  const channel = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const lum = (c) => 0.2126 * channel(c.r) + 0.7152 * channel(c.g) + 0.0722 * channel(c.b);
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return parse(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255 };
  };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    if (![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim() !== "")) continue;
    if (el.closest("title, desc, style")) continue;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    if (style.display === "none" || style.visibility === "hidden" || box.width === 0 || box.height === 0) continue;
    const svg = el instanceof SVGElement;
    const fg = parse(svg ? style.fill : style.color);
    if (!fg) continue;
    const bg = behind(el);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize);
    const large = !svg && (size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700));
    if (ratio < (large ? 3 : 4.5)) low.push(el.tagName + " '" + el.textContent.trim().slice(0, 40) + "' " + ratio.toFixed(2));
  }
  return low;
})()`;

interface Box {
  readonly id: string;
  readonly top: number;
  readonly height: number;
}

async function sections(page: Page): Promise<Box[]> {
  return page.evaluate<
    Box[]
  >(`[...document.querySelectorAll("header.page-header, main > section")].map((e) => {
    const r = e.getBoundingClientRect();
    return { id: e.id || "header", top: r.top + scrollY, height: r.height };
  })`);
}

if (chromium === undefined && !required) {
  describe("the report page in Chromium", () => {
    it("is skipped: Chromium is not installed", () => {
      console.warn(
        "report browser test skipped: Chromium is not installed (apt-get install chromium; .ci/run requires it)",
      );
    });
  });
} else {
  describe("the report page in Chromium", () => {
    let dir = "";
    let pageUrl = "";
    let browser: Browser | undefined;

    beforeAll(async () => {
      if (chromium === undefined)
        throw new Error("Chromium is required (AUTOPROTECT_REQUIRE_CHROMIUM=1) but not installed");
      dir = await mkdtemp(join(tmpdir(), "autoprotect-report-browser-"));
      const { estatePath } = await buildHistory(dir);
      const file = join(dir, "report.html");
      const made = await cli(
        ["report", "--workspace", SAMPLE_WORKSPACE, "-o", "html", "--out", file, "--simulate", estatePath],
        historyEnv(join(dir, "state")),
      );
      expect(made.code, made.stderr).toBe(0);
      pageUrl = pathToFileURL(file).href;
      await mkdir(SHOTS, { recursive: true });
      browser = await Browser.launch(chromium, join(dir, "profile"));
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      await rm(dir, { recursive: true, force: true });
    });

    async function open(view: View): Promise<Page> {
      if (browser === undefined) throw new Error("no browser");
      const page = await browser.newPage();
      await page.setViewport(view.width, view.height, view.mobile);
      await page.emulate("", view.scheme);
      await page.goto(pageUrl);
      return page;
    }

    for (const view of VIEWS) {
      it(`${view.name} (${String(view.width)} × ${String(view.height)}, ${view.scheme}): no error, nothing fetched, nothing too wide, readable; a screenshot per section`, async () => {
        const page = await open(view);
        expect(page.errors).toEqual([]);
        expect(page.requests).toEqual([pageUrl]);
        const width = await page.evaluate<{ scroll: number; inner: number }>(
          "({ scroll: document.documentElement.scrollWidth, inner: window.innerWidth })",
        );
        expect(width.scroll).toBeLessThanOrEqual(width.inner);
        expect(await page.evaluate<string[]>(LOW_CONTRAST)).toEqual([]);
        // Every chart is drawn at a readable size, and named.
        const charts = await page.evaluate<
          { width: number; name: string }[]
        >(`[...document.querySelectorAll("svg.chart")].map((s) => ({
          width: s.getBoundingClientRect().width,
          name: s.getAttribute("aria-labelledby").split(" ").map((id) => document.getElementById(id)?.textContent ?? "").join(" "),
        }))`);
        expect(charts.length).toBeGreaterThan(8);
        for (const chart of charts) {
          expect(chart.width).toBeGreaterThan(250);
          expect(chart.name.length).toBeGreaterThan(20);
        }
        const boxes = await sections(page);
        expect(boxes.map((b) => b.id)).toEqual([
          "header",
          "coverage",
          "needs-a-person",
          "failures",
          "api-rollout",
          "event-to-remediation-latency",
          "waiting",
          "arc-enabled-clusters-and-clusters-own-plans",
        ]);
        for (const box of boxes) {
          expect(box.height, box.id).toBeGreaterThan(40);
          const shot = await page.screenshot({
            x: 0,
            y: box.top,
            width: view.width,
            height: Math.min(box.height, 8000),
          });
          await writeFile(join(SHOTS, `${view.name}-${box.id}.png`), shot);
        }
        if (view.name === "desktop") {
          // The estate's number is on the first screen.
          const headline = await page.evaluate<number>(
            `document.querySelector(".headline .big").getBoundingClientRect().bottom`,
          );
          expect(headline).toBeLessThan(view.height);
          const card = await page.evaluate<Box>(`(() => {
            const r = [...document.querySelectorAll("article.service")].find((a) => a.textContent.includes("rollbacks: 1")).getBoundingClientRect();
            return { id: "card", top: r.top + scrollY, height: r.height };
          })()`);
          await writeFile(
            join(SHOTS, "desktop-rollout-card.png"),
            await page.screenshot({ x: 0, y: card.top - 8, width: view.width, height: card.height + 16 }),
          );
        }
        expect(page.errors).toEqual([]);
      }, 60_000);
    }

    it("prints: navigation and queries left out, each section on a new page, a PDF with every chart", async () => {
      const page = await open(
        VIEWS[0] ?? { name: "desktop", width: 1280, height: 800, mobile: false, scheme: "light" },
      );
      await page.emulate("print", "light");
      const print = await page.evaluate<{
        nav: string;
        kql: string;
        breaks: string[];
        background: string;
      }>(`({
        nav: getComputedStyle(document.querySelector("nav")).display,
        kql: getComputedStyle(document.querySelector("details.kql")).display,
        breaks: [...document.querySelectorAll("main > section h2")].map((h) => getComputedStyle(h).breakBefore),
        background: getComputedStyle(document.body).backgroundColor,
      })`);
      expect(print.nav).toBe("none");
      expect(print.kql).toBe("none");
      expect(print.breaks.slice(1).every((b) => b === "page")).toBe(true);
      expect(print.background).toBe("rgb(255, 255, 255)");
      const pdf = await page.pdf();
      expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
      await writeFile(join(SHOTS, "report-print.pdf"), pdf);
      expect(page.errors).toEqual([]);
    }, 60_000);

    it("dark mode is dark, and the same page in every view", async () => {
      const dark = await open(
        VIEWS[2] ?? { name: "dark", width: 1280, height: 800, mobile: false, scheme: "dark" },
      );
      const light = await open(
        VIEWS[0] ?? { name: "desktop", width: 1280, height: 800, mobile: false, scheme: "light" },
      );
      const colours = async (page: Page) =>
        page.evaluate<{ bg: string; text: string }>(
          `({ bg: getComputedStyle(document.body).backgroundColor, text: document.body.innerText.length })`,
        );
      const [d, l] = await Promise.all([colours(dark), colours(light)]);
      expect(d.bg).toBe("rgb(15, 20, 25)");
      expect(l.bg).toBe("rgb(255, 255, 255)");
      expect(d.text).toBe(l.text);
      expect((await readFile(new URL(pageUrl), "utf8")).length).toBeGreaterThan(10_000);
    }, 60_000);
  });
}
