// A real OpenID Provider for the tests: panva's oidc-provider (npm, MIT), certified by the
// OpenID Foundation, on 127.0.0.1. Our own development IdP (tools/devkit/idp) shares our reading
// of the specifications; this one does not. tests/integration/test_oidc_provider.py drives it.
//
// Usage: node oidc_provider.mjs   (prints one JSON line: {"issuer": ..., "node": ...}, then
// serves until stdin closes). It signs JWT access tokens (RFC 9068, "at+jwt") for the client
// credentials grant, with one resource server per signing algorithm:
//   api://orders-rs256  RS256      api://orders-ps256  PS256      api://orders-es256  ES256
// and one that gets opaque tokens, checked at the introspection endpoint (RFC 7662) and
// revocable at the revocation endpoint (RFC 7009): api://orders-opaque. A token request with a
// DPoP proof gets a DPoP-bound token (RFC 9449: token_type DPoP, cnf.jkt).
// Clients: reader (app.read), writer (app.read app.write), both with secret "<id>-secret", and
// the resource server "api" (secret "api-secret"), which may only introspect.

import { generateKeyPairSync } from "node:crypto";
import { createServer } from "node:http";
import Provider from "oidc-provider";

const ALGORITHMS = {
  "api://orders-rs256": "RS256",
  "api://orders-ps256": "PS256",
  "api://orders-es256": "ES256",
  "api://orders-opaque": null,
};

function key(type, options, kid, alg) {
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: "jwk" }), kid, alg, use: "sig" };
}

const keys = [
  key("rsa", { modulusLength: 2048 }, "rs-1", "RS256"),
  key("rsa", { modulusLength: 2048 }, "ps-1", "PS256"),
  key("ec", { namedCurve: "P-256" }, "es-1", "ES256"),
];

const client = (id, scope) => ({
  client_id: id,
  client_secret: `${id}-secret`,
  grant_types: ["client_credentials"],
  redirect_uris: [],
  response_types: [],
  scope,
});

const server = createServer();
server.listen(0, "127.0.0.1", () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, {
    clients: [client("reader", "app.read"), client("writer", "app.read app.write"), { ...client("api", "app.read"), grant_types: [] }],
    jwks: { keys },
    scopes: ["app.read", "app.write"],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      dPoP: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => "api://orders-rs256",
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource) => {
          if (!(resource in ALGORITHMS)) throw new Error(`unknown resource ${resource}`);
          const alg = ALGORITHMS[resource];
          return alg === null
            ? { scope: "app.read app.write", audience: resource, accessTokenFormat: "opaque", accessTokenTTL: 300 }
            : {
                scope: "app.read app.write",
                audience: resource,
                accessTokenFormat: "jwt",
                accessTokenTTL: 300,
                jwt: { sign: { alg } },
              };
        },
      },
    },
    enabledJWA: { requestObjectSigningAlgValues: ["RS256"], idTokenSigningAlgValues: ["RS256", "PS256", "ES256"] },
  });
  server.on("request", provider.callback());
  process.stdout.write(JSON.stringify({ issuer, node: process.version }) + "\n");
});

process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
