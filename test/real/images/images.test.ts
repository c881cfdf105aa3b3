/**
 * The sample's api and web images built with Docker (classic builder, local base images) from a
 * copy of the sample holding a planted host `node_modules`, `dist` and `.env`, with the build
 * args the program registers (`imageBuildArgs`): nothing planted reaches an image, the content
 * tag is the program's, the bundle carries VITE_API_BASE_URL, the api refuses to start without
 * SEED_SUPERADMIN_PASSWORD.
 */
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { RealStack, evaluateRealStack, removeProjectDir } from "../support/program";
import { Cleanup, docker, freePort, runId } from "../support/run";
import { API_DIR, BuiltImage, CACHE_REPO, WEB_DIR, buildImage, copyApp, requireBaseImages } from "../support/sample";

const MARK = `planted-${runId()}`;

function plant(appDir: string): void {
    for (const d of ["node_modules/planted-pkg", "dist/planted"]) fs.mkdirSync(path.join(appDir, d), { recursive: true });
    fs.writeFileSync(path.join(appDir, "node_modules/planted-pkg/index.js"), `module.exports = "${MARK}";\n`);
    fs.writeFileSync(path.join(appDir, "node_modules/planted-pkg/package.json"), `{"name":"planted-pkg","version":"1.0.0"}\n`);
    fs.writeFileSync(path.join(appDir, "dist/planted/index.html"), `${MARK}\n`);
    fs.writeFileSync(path.join(appDir, "dist/server.js"), `console.log("${MARK}");\n`);
    fs.writeFileSync(path.join(appDir, "dist/index.html"), `<title>${MARK}</title>\n`);
    fs.writeFileSync(path.join(appDir, ".env"), `JWT_SECRET=${MARK}\n`);
}

/** Runs `sh -c script` in a throwaway container of the image (as root, to read everything). */
async function inImage(image: string, script: string): Promise<{ code: number; out: string }> {
    const r = await docker(["run", "--rm", "--user", "0", "--entrypoint", "sh", image, "-c", script]);
    return { code: r.code, out: `${r.stdout}${r.stderr}` };
}

describe("real: Docker images of the sample, built with the program's build args", function () {
    const cleanup = new Cleanup();
    const id = runId();
    let stack: RealStack;
    let api: BuiltImage;
    let web: BuiltImage;

    before(async function () {
        await requireBaseImages();
        stack = await evaluateRealStack(id, await freePort());
        cleanup.add("project dir", () => Promise.resolve(removeProjectDir(stack)));
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), `cartie-real-images-${id}-`));
        cleanup.dir(copy);
        copyApp(API_DIR, path.join(copy, "api"));
        copyApp(WEB_DIR, path.join(copy, "web"));
        plant(path.join(copy, "api"));
        plant(path.join(copy, "web"));
        // Always build (the layer cache keeps it quick): the checks are about what this build sends.
        api = await buildImage(CACHE_REPO.api, path.join(copy, "api"), stack.image("api-image").build.args, true);
        web = await buildImage(CACHE_REPO.web, path.join(copy, "web"), stack.image("web-image").build.args, true);
    });

    after(async () => {
        await cleanup.run();
    });

    it("builds on the local base images the program passes as build args", () => {
        assert.deepEqual(stack.image("api-image").build.args, { NODE_IMAGE: "local/node:18" });
        assert.deepEqual(stack.image("web-image").build.args, { NODE_IMAGE: "local/node:18", RUNTIME_IMAGE: "local/caddy:2.6", VITE_API_BASE_URL: "http://localhost:8082/api" });
        // The planted files do not change the program's content tag either: the same tag as the clean sample.
        assert.ok(stack.image("api-image").imageName.endsWith(`:${api.tag}`), `${stack.image("api-image").imageName} vs ${api.tag}`);
        assert.ok(stack.image("web-image").imageName.endsWith(`:${web.tag}`), `${stack.image("web-image").imageName} vs ${web.tag}`);
    });

    it("the api image holds its own build: no planted node_modules, dist or .env", async () => {
        const r = await inImage(
            api.ref,
            `test -f /app/dist/server.js && test -f /app/node_modules/.prisma/client/index.js && ! test -e /app/node_modules/planted-pkg && ! test -e /app/dist/planted && ! test -e /app/.env && ! grep -rqF '${MARK}' /app /home 2>/dev/null && echo clean`,
        );
        assert.equal(r.out.trim(), "clean", r.out);
        const user = await docker(["image", "inspect", "-f", "{{.Config.User}}", api.ref]);
        assert.equal(user.stdout.trim(), "cartie");
    });

    it("the web image holds its own bundle, built with the configured VITE_API_BASE_URL, and nothing planted", async () => {
        const url = stack.image("web-image").build.args.VITE_API_BASE_URL;
        const r = await inImage(web.ref, `test -f /srv/index.html && ! test -e /srv/planted && ! test -e /srv/.env && ! grep -rqF '${MARK}' /srv && grep -rlF '${url}' /srv/assets`);
        assert.equal(r.code, 0, r.out);
        assert.match(r.out, /\/srv\/assets\/index-[\w-]+\.js/);
    });

    it("the api image without SEED_SUPERADMIN_PASSWORD exits 1 with the one line naming it", async () => {
        const env = (stack.container("api").envs ?? []).filter((kv) => !kv.startsWith("SEED_SUPERADMIN_PASSWORD="));
        assert.equal(env.length, (stack.container("api").envs ?? []).length - 1, "the program's api environment has no SEED_SUPERADMIN_PASSWORD");
        const args = ["run", "--rm", "--name", `cartie-real-${id}-noseed`];
        for (const kv of env) args.push("-e", kv.slice(0, kv.indexOf("=")));
        const vars = Object.fromEntries(env.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
        cleanup.container(`cartie-real-${id}-noseed`);
        const r = await docker([...args, api.ref], { env: vars, timeoutMs: 60_000 });
        assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
        assert.equal(r.stderr.trim(), "cartie-api: missing required environment variables: SEED_SUPERADMIN_PASSWORD");
        assert.equal(r.stdout.trim(), "");
    });
});
