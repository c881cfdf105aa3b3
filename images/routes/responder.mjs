// @ts-check
/**
 * The proxy's routes, as DNS: Caddy's `dynamic a` upstreams ask this responder which container
 * serves each role (`api.live.cartie.internal`, `web.candidate.cartie.internal`, …), so a release
 * switches traffic by rewriting one small file here instead of loading a new config into Caddy
 * (a config load restarts Caddy's servers and resets connections: caddyserver/caddy#3143).
 *
 * The records file maps each name to a container name (or an IPv4 address). Every query reads the
 * file again and resolves that container through Docker's DNS, so a write is seen by the very
 * next query and a container that restarted on a new address is still found. The release step
 * writes the file atomically (write, then rename) with `docker exec`; nothing else can change it.
 *
 *   A     for a known name: the container's IPv4 addresses (TTL 1; Caddy caches by its `refresh`)
 *   AAAA  for a known name: no answer (NOERROR), so a resolver asking both gets the A records
 *   a known name whose container cannot be resolved (stopped, removed): SERVFAIL
 *   an unknown name: NXDOMAIN
 *
 * `node responder.mjs --check` asks the running responder for `ready.<zone>` (the healthcheck).
 */
import * as dgram from "node:dgram";
import * as dns from "node:dns";
import * as fs from "node:fs";
import * as net from "node:net";
import packet from "dns-packet";

const ZONE = process.env.ROUTES_ZONE ?? "cartie.internal";
const FILE = process.env.ROUTES_FILE ?? "/routes/records.json";
const PORT = Number(process.env.ROUTES_PORT ?? "53");
const HOST = process.env.ROUTES_HOST ?? "0.0.0.0";
const READY = `ready.${ZONE}`;

/** @param {string} line */
const log = (line) => process.stdout.write(`${new Date().toISOString()} routes: ${line}\n`);

/** @returns {Record<string, string>} name → target; an absent or unreadable file is no records. */
function readRecords() {
    let text;
    try {
        text = fs.readFileSync(FILE, "utf8");
    } catch {
        return {};
    }
    try {
        const parsed = JSON.parse(text);
        const records = parsed && typeof parsed === "object" ? parsed.records : undefined;
        if (!records || typeof records !== "object") return {};
        /** @type {Record<string, string>} */
        const out = {};
        for (const [name, target] of Object.entries(records)) if (typeof target === "string") out[name.toLowerCase()] = target;
        return out;
    } catch (err) {
        log(`${FILE} is not JSON (${/** @type {Error} */ (err).message}); answering from no records`);
        return {};
    }
}

/** @param {string} target @returns {Promise<string[]>} */
async function addressesOf(target) {
    if (net.isIPv4(target)) return [target];
    const found = await dns.promises.lookup(target, { all: true, family: 4 });
    return found.map((a) => a.address);
}

let lastSeen = "";

/** DNS response codes; dns-packet encodes them as the low four bits of `flags` (RFC 1035 §4.1.1). */
const RCODE = { FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3 };

/**
 * @param {import("dns-packet").Packet} reply
 * @param {keyof typeof RCODE} rcode
 * @returns {import("dns-packet").Packet}
 */
const failed = (reply, rcode) => ({ ...reply, answers: [], flags: (reply.flags ?? 0) | RCODE[rcode] });

/**
 * @param {import("dns-packet").Packet} query
 * @returns {Promise<import("dns-packet").Packet>}
 */
async function answer(query) {
    const question = query.questions?.[0];
    /** @type {import("dns-packet").Packet} */
    const reply = { id: query.id, type: "response", flags: packet.AUTHORITATIVE_ANSWER | ((query.flags ?? 0) & packet.RECURSION_DESIRED), questions: query.questions, answers: [] };
    if (!question) return failed(reply, "FORMERR");
    const name = question.name.toLowerCase().replace(/\.$/, "");
    if (name === READY) {
        if (question.type === "A") reply.answers = [{ type: "A", name: question.name, ttl: 1, class: "IN", data: "127.0.0.1" }];
        return reply;
    }
    const records = readRecords();
    const seen = JSON.stringify(records);
    if (seen !== lastSeen) {
        log(`records: ${seen}`);
        lastSeen = seen;
    }
    const target = records[name];
    if (target === undefined) return failed(reply, "NXDOMAIN");
    if (question.type !== "A") return reply;
    try {
        const addresses = await addressesOf(target);
        reply.answers = addresses.map((data) => ({ type: "A", name: question.name, ttl: 1, class: "IN", data }));
        return addresses.length > 0 ? reply : failed(reply, "SERVFAIL");
    } catch (err) {
        log(`${name} → ${target}: ${/** @type {Error} */ (err).message}`);
        return failed(reply, "SERVFAIL");
    }
}

function serve() {
    const socket = dgram.createSocket("udp4");
    socket.on("message", (msg, from) => {
        let query;
        try {
            query = packet.decode(msg);
        } catch {
            return; // not DNS: nothing to answer
        }
        void answer(query).then(
            (reply) => socket.send(packet.encode(reply), from.port, from.address),
            (err) => log(`cannot answer: ${/** @type {Error} */ (err).message}`),
        );
    });
    socket.on("error", (err) => {
        log(`socket error: ${err.message}`);
        process.exit(1);
    });
    socket.bind(PORT, HOST, () => log(`answering for *.${ZONE} on ${HOST}:${PORT} from ${FILE}`));
    const stop = () => socket.close(() => process.exit(0));
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
}

function check() {
    const socket = dgram.createSocket("udp4");
    const timer = setTimeout(() => {
        process.stderr.write(`no answer from 127.0.0.1:${PORT} within 2 s\n`);
        process.exit(1);
    }, 2000);
    socket.on("message", (msg) => {
        const reply = packet.decode(msg);
        clearTimeout(timer);
        socket.close();
        process.exit(reply.answers?.some((a) => a.type === "A") ? 0 : 1);
    });
    socket.send(packet.encode({ id: 1, type: "query", flags: packet.RECURSION_DESIRED, questions: [{ type: "A", name: READY, class: "IN" }] }), PORT, "127.0.0.1");
}

if (process.argv.includes("--check")) check();
else serve();
