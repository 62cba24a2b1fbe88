// Builds GenAuth (Authing) end-session URLs with GenAuth's own SDKs, for
// the Go test that compares them with logout.BuildURL. It reads a JSON
// array of cases on stdin and writes a JSON array of results on stdout.
// No network is used: the SDKs only concatenate strings here.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { AuthenticationClient: NodeSDKClient } = require('authing-node-sdk');
const { AuthenticationClient: JSSDKClient } = require('authing-js-sdk');

function nodeSDK(c) {
  const client = new NodeSDKClient({ appId: c.appId, appSecret: 'unused', appHost: c.appHost });
  return client.buildLogoutUrl({
    redirectUri: c.redirectUri || undefined,
    idToken: c.idToken || undefined,
    state: c.state || undefined,
  });
}

function jsSDK(c) {
  const client = new JSSDKClient({ appId: c.appId, appHost: c.appHost, protocol: 'oidc' });
  return client.buildLogoutUrl({ expert: true, redirectUri: c.redirectUri, idToken: c.idToken });
}

function attempt(build, c) {
  try {
    return { url: build(c) };
  } catch (err) {
    return { error: String(err && err.message ? err.message : err) };
  }
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => { input += chunk; });
process.stdin.on('end', () => {
  const cases = JSON.parse(input);
  const out = cases.map((c) => ({ node: attempt(nodeSDK, c), js: attempt(jsSDK, c) }));
  process.stdout.write(JSON.stringify(out));
});
