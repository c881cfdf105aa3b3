/**
 * Opens a page in Debian's headless Chromium the way a person's browser would: real DNS-free name
 * resolution (a host-resolver rule maps the test domain to an address), real certificate checks
 * against a trust store that holds only the root the test gives it (an NSS database in a throw-away
 * HOME, which is where Chromium on Linux reads locally trusted roots), and the browser's own
 * security rules (mixed content, HSTS). No certificate error is ignored.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import puppeteer, { Browser, HTTPRequest, Page } from "puppeteer-core";
import { execOk } from "./run";

export const CHROMIUM_CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium"];

export function chromiumPath(): string {
    const found = CHROMIUM_CANDIDATES.find((p) => fs.existsSync(p));
    if (!found) throw new Error(`Chromium is not installed (looked at ${CHROMIUM_CANDIDATES.join(", ")}): apt-get install chromium (.ci/setup-real.sh does)`);
    return found;
}

export interface BrowserOptions {
    /** Host names mapped to an address, as DNS would (`--host-resolver-rules`). */
    hosts: Record<string, string>;
    /** PEM roots the browser trusts besides none: the system store is not consulted for these tests. */
    trustedRootsPem: string[];
}

export interface PageVisit {
    /** The final URL after redirects. */
    url: string;
    /** Status of the main document. */
    status: number;
    /** Everything the page printed to its console, and every request that failed (with why). */
    console: string[];
    failedRequests: string[];
    /** Every request the page made, with its final status (e.g. the SPA's call to the api). */
    requests: { url: string; status: number | undefined }[];
}

/** A browser with its own profile and trust store; `close` removes both. */
export class TestBrowser {
    private constructor(
        private readonly browser: Browser,
        private readonly home: string,
    ) {}

    static async launch(opts: BrowserOptions): Promise<TestBrowser> {
        const home = fs.mkdtempSync(path.join(os.tmpdir(), "cartie-chromium-"));
        try {
            const nssdb = path.join(home, ".pki", "nssdb");
            fs.mkdirSync(nssdb, { recursive: true });
            await execOk("certutil", ["-N", "-d", `sql:${nssdb}`, "--empty-password"]);
            for (const [i, pem] of opts.trustedRootsPem.entries()) {
                const file = path.join(home, `root-${i}.pem`);
                fs.writeFileSync(file, pem);
                // C,, = a trusted CA for TLS servers (and nothing else).
                await execOk("certutil", ["-A", "-d", `sql:${nssdb}`, "-t", "C,,", "-n", `cartie-test-root-${i}`, "-i", file]);
            }
            const rules = Object.entries(opts.hosts)
                .map(([host, address]) => `MAP ${host} ${address}`)
                .join(", ");
            const browser = await puppeteer.launch({
                executablePath: chromiumPath(),
                headless: true,
                env: { ...process.env, HOME: home },
                userDataDir: path.join(home, "profile"),
                args: [
                    // The tests run as root, where Chromium refuses its sandbox.
                    "--no-sandbox",
                    `--host-resolver-rules=${rules}`,
                    "--no-first-run",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                ],
            });
            return new TestBrowser(browser, home);
        } catch (e) {
            fs.rmSync(home, { recursive: true, force: true });
            throw e;
        }
    }

    /**
     * Opens `url` and waits until `ready(page)` holds (or `timeoutMs`), keeping what a person's
     * devtools would show: console lines, failed requests and the requests made.
     */
    async visit(url: string, ready: (page: Page) => Promise<boolean>, opts: { timeoutMs?: number; screenshotPath?: string } = {}): Promise<PageVisit & { ready: boolean }> {
        const page = await this.browser.newPage();
        const consoleLines: string[] = [];
        const failed: string[] = [];
        const requests: { url: string; status: number | undefined }[] = [];
        page.on("console", (m) => consoleLines.push(`${m.type()}: ${m.text()}`));
        page.on("requestfailed", (r: HTTPRequest) => failed.push(`${r.url()}: ${r.failure()?.errorText ?? "failed"}`));
        page.on("requestfinished", (r: HTTPRequest) => requests.push({ url: r.url(), status: r.response()?.status() }));
        try {
            // Chromium aborts a navigation with ERR_NETWORK_CHANGED when the host's interfaces change:
            // on a test machine, another test creating or removing a Docker network (seen in CI with
            // the real suite's files running at once). That is the host, not the page: go again, up
            // to twice, with what was recorded of the aborted attempt cleared. Any other error stands.
            const goto = async (attempt: number): Promise<Awaited<ReturnType<Page["goto"]>>> => {
                try {
                    return await page.goto(url, { waitUntil: "load", timeout: opts.timeoutMs ?? 30_000 });
                } catch (err) {
                    if (attempt >= 3 || !/ERR_NETWORK_CHANGED/.test((err as Error).message)) throw err;
                    for (const list of [consoleLines, failed, requests]) list.length = 0;
                    await new Promise((r) => setTimeout(r, 500));
                    return goto(attempt + 1);
                }
            };
            const response = await goto(1);
            const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
            let isReady = false;
            while (!(isReady = await ready(page)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
            if (opts.screenshotPath) {
                fs.mkdirSync(path.dirname(opts.screenshotPath), { recursive: true });
                await page.screenshot({ path: opts.screenshotPath, fullPage: true });
            }
            return { url: page.url(), status: response?.status() ?? 0, console: consoleLines, failedRequests: failed, requests, ready: isReady };
        } finally {
            await page.close();
        }
    }

    /** The text of an element, or undefined when the page has none. */
    static async textOf(page: Page, selector: string): Promise<string | undefined> {
        const el = await page.$(selector);
        if (!el) return undefined;
        // The project compiles without the DOM library: the element is typed by what is read from it.
        const text: string = await el.evaluate((node: unknown) => (node as { textContent: string | null }).textContent ?? "");
        return text.trim();
    }

    async close(): Promise<void> {
        try {
            await this.browser.close();
        } finally {
            fs.rmSync(this.home, { recursive: true, force: true });
        }
    }
}

/** Where the real tests keep what a person would look at afterwards (git-ignored, kept by CI's workspace). */
export const ARTIFACTS_DIR = path.resolve(__dirname, "../../../.real-artifacts");
