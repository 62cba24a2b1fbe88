// A test-only OpenID Provider (panva's oidc-provider) for the interop tests
// of the logout middleware. It is not meant for anything else: accounts are
// whatever login name is typed in the development login form.
//
// Configuration, all through the environment:
//
//   OP_HOST                        host to listen on and to name in the issuer (default "localhost")
//   OP_PORT                        port to listen on (default 0: a free port)
//   OP_CLIENT_ID                   client_id of the registered client (default "logout-e2e")
//   OP_CLIENT_SECRET               its client secret (required)
//   OP_REDIRECT_URIS               space-separated redirect_uris (required)
//   OP_POST_LOGOUT_REDIRECT_URIS   space-separated post_logout_redirect_uris (required)
//   OP_BACKCHANNEL_LOGOUT_URI      the client's backchannel_logout_uri (optional)
//   OP_ID_TOKEN_SIGNED_RESPONSE_ALG the client's id_token_signed_response_alg (optional,
//                                  default RS256); HS256 signs id_tokens and logout_tokens
//                                  with the client secret, as GenAuth apps can
//
// When it listens, it prints one JSON line on stdout:
// {"issuer":"http://localhost:PORT","port":PORT}. Diagnostics go to stderr.
// It stops on SIGTERM or SIGINT, or when its stdin is closed, so that it
// never outlives the test process that started it.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';

function required(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`environment variable ${name} is required`);
  }
  return value;
}

function list(name) {
  return required(name).split(/\s+/).filter(Boolean);
}

function clientMetadata() {
  const client = {
    client_id: process.env.OP_CLIENT_ID || 'logout-e2e',
    client_secret: required('OP_CLIENT_SECRET'),
    redirect_uris: list('OP_REDIRECT_URIS'),
    post_logout_redirect_uris: list('OP_POST_LOGOUT_REDIRECT_URIS'),
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  if (process.env.OP_BACKCHANNEL_LOGOUT_URI) {
    client.backchannel_logout_uri = process.env.OP_BACKCHANNEL_LOGOUT_URI;
    client.backchannel_logout_session_required = true;
  }
  if (process.env.OP_ID_TOKEN_SIGNED_RESPONSE_ALG) {
    client.id_token_signed_response_alg = process.env.OP_ID_TOKEN_SIGNED_RESPONSE_ALG;
  }
  return client;
}

// idTokenSigningAlgValues are the id_token (and logout_token) algorithms the
// provider offers: its defaults, and the client's when that is another one
// (oidc-provider leaves HS256 out by default).
function idTokenSigningAlgValues() {
  const algs = ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'];
  const alg = process.env.OP_ID_TOKEN_SIGNED_RESPONSE_ALG;
  return alg && !algs.includes(alg) ? [alg, ...algs] : algs;
}

// signingKey returns a fresh RSA private key as a JWK: the provider's id_tokens
// are signed with RS256 by a key that lives only as long as this process.
function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };
}

// loopbackFetch is the provider's fetch. oidc-provider refuses outgoing
// requests to special-use addresses (loopback included) as an SSRF defence;
// this lifts that for the one origin the test's back-channel receiver is
// on, and keeps it for every other request.
function loopbackFetch() {
  const allowed = process.env.OP_BACKCHANNEL_LOGOUT_URI
    ? new URL(process.env.OP_BACKCHANNEL_LOGOUT_URI).origin : undefined;
  return (url, options) => {
    if (allowed && new URL(url).origin === allowed) {
      const unprotected = { ...options };
      delete unprotected.dispatcher;
      return globalThis.fetch(url, unprotected);
    }
    return globalThis.fetch(url, options);
  };
}

function configuration() {
  return {
    fetch: loopbackFetch(),
    clients: [clientMetadata()],
    enabledJWA: { idTokenSigningAlgValues: idTokenSigningAlgValues() },
    jwks: { keys: [signingKey()] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    findAccount(_ctx, id) {
      return { accountId: id, claims: () => ({ sub: id }) };
    },
    features: {
      devInteractions: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      backchannelLogout: { enabled: true },
      revocation: { enabled: true },
    },
  };
}

function listen(server, host, port) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

async function main() {
  const host = process.env.OP_HOST || 'localhost';
  const server = createServer();
  const port = await listen(server, host, Number(process.env.OP_PORT || 0));
  const issuer = `http://${host}:${port}`;
  const provider = new Provider(issuer, configuration());
  provider.on('server_error', (_ctx, err) => console.error('oidc-provider: server_error:', err));
  provider.on('backchannel.error', (_ctx, err) => console.error('oidc-provider: backchannel.error:', err.message, err.cause?.message ?? ''));
  // One line per request on stderr, for the test log of a failed test.
  // Paths only: query strings may carry tokens.
  provider.use(async (ctx, next) => {
    await next();
    console.error(`oidc-provider: ${ctx.method} ${ctx.path} -> ${ctx.status}`);
  });
  server.on('request', provider.callback());

  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();

  process.stdout.write(`${JSON.stringify({ issuer, port })}\n`);
}

main().catch((err) => {
  console.error('oidc-provider: failed to start:', err);
  process.exit(1);
});
