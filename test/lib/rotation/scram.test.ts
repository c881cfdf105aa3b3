import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { formatVerifier, parseVerifier, preparePassword, scramKeys, scramVerifier, verifierMatches } from "../../../lib/rotation/scram";

/**
 * Verifiers PostgreSQL 15 itself stored (`SET password_encryption = 'scram-sha-256'; CREATE ROLE …
 * PASSWORD '…'; SELECT rolpassword FROM pg_authid`, in local/postgres:15 on 2026-12-01): the same
 * salt must give the same StoredKey and ServerKey.
 */
const FROM_POSTGRES = [
    { password: "pencil", verifier: "SCRAM-SHA-256$4096:s9l3rsea3jbEYoUWl1r7rQ==$ChbhgYCB4ypttQEsg6E9Tkw4+bI6FxwF9xGOnqYiBBE=:m270kdz+fnZwHY8VD3UIpR3bRkFXXEZpJJ30lUCcew0=" },
    // Fullwidth letters (NFKC), a no-break space (mapped to a space) and a roman numeral: SASLprep matters.
    { password: "ｐａｓｓ\u00a0wörd Ⅸ", verifier: "SCRAM-SHA-256$4096:aFHn9ei/CEifs7dx83P7Ng==$SiCcH4b0g3okyNf1xRpsJfnuZ3mJsEK/KjgOFG71FUo=:u5zSA7aebJ+v09RNnMzyrPSjECvYROMVlC6jxwm5JXY=" },
];

describe("SCRAM-SHA-256 verifier (what ALTER ROLE receives instead of the password)", () => {
    for (const v of FROM_POSTGRES) {
        it(`matches the verifier PostgreSQL 15 stored for ${JSON.stringify(v.password)}, byte for byte`, () => {
            const stored = parseVerifier(v.verifier);
            assert.ok(stored);
            assert.equal(scramVerifier(v.password, stored.salt, stored.iterations), v.verifier);
            assert.ok(verifierMatches(v.verifier, v.password));
            assert.ok(!verifierMatches(v.verifier, `${v.password}x`));
        });
    }

    it("RFC 7677's exchange for user/pencil: the keys derived here verify its client proof and give its server signature", () => {
        // RFC 7677 section 3.
        const clientFirstBare = "n=user,r=rOprNGfwEbeRWgbNEkqO";
        const serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        const clientFinalBare = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        const proof = Buffer.from("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "base64");
        const serverSignature = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        const auth = `${clientFirstBare},${serverFirst},${clientFinalBare}`;
        const k = scramKeys("pencil", Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"), 4096);
        const clientSignature = crypto.createHmac("sha256", k.storedKey).update(auth).digest();
        const clientKey = Buffer.from(proof.map((b, i) => b ^ clientSignature[i]));
        assert.deepEqual(crypto.createHash("sha256").update(clientKey).digest(), k.storedKey, "the server could not verify RFC 7677's client proof with this StoredKey");
        assert.equal(crypto.createHmac("sha256", k.serverKey).update(auth).digest("base64"), serverSignature);
    });

    it("a new verifier has Postgres's shape: 4096 iterations, a random 16-byte salt, 32-byte keys", () => {
        const a = scramVerifier("same password");
        const b = scramVerifier("same password");
        assert.notEqual(a, b, "two verifiers share a salt");
        const parsed = parseVerifier(a);
        assert.ok(parsed);
        assert.equal(parsed.iterations, 4096);
        assert.equal(parsed.salt.length, 16);
        assert.equal(parsed.storedKey.length, 32);
        assert.equal(parsed.serverKey.length, 32);
        assert.equal(formatVerifier(parsed), a);
        assert.ok(!a.includes("same password"));
    });

    it("prepares passwords as pg_saslprep does: ASCII untouched, Unicode normalised, a refused one kept raw", () => {
        assert.equal(preparePassword("Pg/a:@?#%+&= b"), "Pg/a:@?#%+&= b");
        assert.equal(preparePassword("ｐａｓｓ\u00a0w"), "pass w");
        // A prohibited character (U+0007 with non-ASCII around it): SASLprep refuses, Postgres hashes the raw bytes.
        assert.equal(preparePassword("é\u0007"), "é\u0007");
    });

    it("refuses what is not a verifier", () => {
        assert.equal(parseVerifier("md5abc"), undefined);
        assert.equal(verifierMatches("md5abc", "x"), false);
    });
});
