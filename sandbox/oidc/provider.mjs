// The sandbox's OpenID Connect provider: node-oidc-provider (OpenID-certified) with the
// login and consent pages an application must supply, kept as plain HTML forms so tests
// can sign in and consent with an HTTP client.
//
//   node provider.mjs SETTINGS.json
//
// SETTINGS: {"port": N, "issuer": "http://127.0.0.1:N", "users": {"addr": "password"},
//            "introspection_secret": "...", "cookie_key": "..."}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse } from 'node:querystring';

const require = createRequire(process.env.HUBSYNC_OIDC_MODULES + '/');
const { default: Provider } = await import(require.resolve('oidc-provider'));

const settings = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const nativeClient = (id, name) => ({
  client_id: id,
  client_name: name,
  application_type: 'native',
  token_endpoint_auth_method: 'none',
  redirect_uris: ['http://127.0.0.1/callback'],
  grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
  response_types: ['code'],
});

const provider = new Provider(settings.issuer, {
  clients: [
    nativeClient('hubsync-desktop', 'hubsync'),
    nativeClient('hubsync-short-lived', 'hubsync (2-second tokens)'),
    {
      client_id: 'dovecot',
      client_secret: settings.introspection_secret,
      grant_types: [],
      response_types: [],
      redirect_uris: [],
    },
  ],
  cookies: { keys: [settings.cookie_key] },
  features: {
    devInteractions: { enabled: false },
    deviceFlow: { enabled: true },
    introspection: { enabled: true, allowedPolicy: async () => true },
    revocation: { enabled: true },
  },
  scopes: ['openid', 'offline_access', 'email', 'mail'],
  claims: { email: ['email'], openid: ['sub'] },
  pkce: { required: () => true },
  rotateRefreshToken: true,
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  extraTokenClaims: async (ctx, token) => ({ email: token.accountId, username: token.accountId }),
  findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id, email: id }) }),
  ttl: {
    AccessToken: (ctx, token, client) => (client && client.clientId === 'hubsync-short-lived' ? 2 : 3600),
    RefreshToken: 86400,
    DeviceCode: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 86400,
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

// RFC 8628 3.5: a device client that polls faster than the interval is told to slow down
// (the library defines the error but leaves enforcing it to the application).
const lastPoll = new Map();
provider.use(async (ctx, next) => {
  await next();
  const code = ctx.oidc && ctx.oidc.params && ctx.oidc.params.device_code;
  if (!code || !ctx.path.endsWith('/token')) return;
  const now = Date.now();
  const last = lastPoll.get(code);
  lastPoll.set(code, now);
  if (last !== undefined && now - last < 4500 && ctx.body && ctx.body.error === 'authorization_pending') {
    ctx.body = { error: 'slow_down', error_description: 'polling faster than the interval' };
  }
});

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;

function readForm(req) {
  return new Promise((resolve, reject) => {
    let data = '';
    req.on('data', (chunk) => {
      data += chunk;
      if (data.length > 65536) reject(new Error('form too large'));
    });
    req.on('end', () => resolve(parse(data)));
    req.on('error', reject);
  });
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  const { prompt, params } = details;
  if (action === undefined) {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    if (prompt.name === 'login') {
      res.end(page('Sign in', `<p>Client: ${escape(params.client_id)}</p>
<form id="login" method="post" action="/interaction/${uid}/login">
<input name="login" type="email"><input name="password" type="password">
<button type="submit">Sign in</button></form>
<form id="abort" method="post" action="/interaction/${uid}/abort"><button>Cancel</button></form>`));
    } else {
      res.end(page('Allow access', `<p>${escape(params.client_id)} asks for: ${escape(params.scope)}</p>
<form id="consent" method="post" action="/interaction/${uid}/confirm"><button>Allow</button></form>
<form id="abort" method="post" action="/interaction/${uid}/abort"><button>Deny</button></form>`));
    }
    return;
  }
  const form = await readForm(req);
  let result;
  if (action === 'login') {
    if (settings.users[form.login] === undefined || settings.users[form.login] !== form.password) {
      res.statusCode = 401;
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(page('Sign in', '<p class="error">Wrong address or password.</p>'));
      return;
    }
    result = { login: { accountId: form.login } };
  } else if (action === 'confirm') {
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
    const missing = details.prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    result = { consent: { grantId: await grant.save() } };
  } else {
    result = { error: 'access_denied', error_description: 'The user denied access.' };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

const callback = provider.callback();
const server = (await import('node:http')).createServer(async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login|confirm|abort))?\/?(?:\?.*)?$/.exec(req.url);
  if (!match) return callback(req, res);
  try {
    await interaction(req, res, match[1], match[2]);
  } catch (err) {
    res.statusCode = 400;
    res.setHeader('Content-Type', 'text/plain');
    res.end(`interaction failed: ${err.message}`);
  }
});
server.listen(settings.port, '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
