// A standards-compliant OpenID provider for tests: node provider.js '<settings JSON>'.
//
// Settings: {port, clientId, clientSecret, redirectUri, accountsFile, modules}. The dev
// interactions take any login and password; the login is the account id and the email, and
// the claims come from accountsFile (read at every sign-in, so a test can change them):
// {"alice@company.com": {"groups": ["flagyard-admins"]}, "bob@company.com": {"email_verified": false}}.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const settings = JSON.parse(process.argv[2]);
// The package is installed in a cache outside the repository; ESM ignores NODE_PATH.
const entry = createRequire(join(settings.modules, 'index.js')).resolve('oidc-provider');
const { default: Provider } = await import(pathToFileURL(entry).href);

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: 'test-signing-key', use: 'sig', alg: 'RS256' };

function claimsOf(login) {
  const accounts = JSON.parse(readFileSync(settings.accountsFile, 'utf8'));
  return { sub: login, email: login, email_verified: true, groups: [], ...(accounts[login] ?? {}) };
}

const issuer = `http://127.0.0.1:${settings.port}`;
const provider = new Provider(issuer, {
  clients: [{
    client_id: settings.clientId,
    client_secret: settings.clientSecret,
    redirect_uris: [settings.redirectUri],
    response_types: ['code'],
    grant_types: ['authorization_code'],
  }],
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
    groups: ['groups'],
  },
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => claimsOf(id) }),
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
});

provider.listen(settings.port, '127.0.0.1', () => console.log(`ready ${issuer}`));
// The test holds our stdin open: when it ends, even killed, so do we.
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
