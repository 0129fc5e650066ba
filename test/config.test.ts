import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { DEFAULT_PUSH_HOSTS, loadConfig, parseHostRule } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';

const hosts = (env: NodeJS.ProcessEnv) => loadConfig(env).pushAllowedHosts.map((r) => r.host);

test('loadConfig gives the documented defaults for an empty environment', () => {
  const config = loadConfig({});
  assert.equal(config.port, 4443);
  assert.equal(config.host, 'localhost');
  assert.equal(config.httpPort, 8080);
  assert.equal(config.subscriptionFile, resolve('subscription.json'));
  assert.equal(config.vapidFile, resolve('vapid.json'));
  assert.equal(config.certDir, resolve('certs'));
  assert.equal(config.sendTokenFile, resolve('send-token'));
  assert.equal(config.sendToken, undefined);
  assert.equal(config.rateLimit, 60);
  assert.deepEqual(config.tlsNames, []);
  assert.equal(config.tlsCertFile, undefined);
  assert.equal(config.tlsKeyFile, undefined);
  assert.equal(config.pairingKeyFile, resolve('pairing-key'));
  assert.deepEqual(config.vapid, {
    publicKey: undefined,
    privateKey: undefined,
    subject: undefined,
  });
  assert.deepEqual(
    config.pushAllowedHosts.map((r) => (r.wildcard ? `*.${r.host}` : r.host)),
    DEFAULT_PUSH_HOSTS,
  );
});

test('loadConfig reads every variable', () => {
  const config = loadConfig({
    PORT: '8443',
    HOST: '0.0.0.0',
    HTTP_PORT: '0',
    SUBSCRIPTION_FILE: 'data/subs.json',
    VAPID_FILE: '/etc/push/vapid.json',
    VAPID_PUBLIC_KEY: 'pub',
    VAPID_PRIVATE_KEY: 'priv',
    VAPID_SUBJECT: 'mailto:ops@example.com',
    CERT_DIR: 'tls',
    PUSH_ALLOWED_HOSTS: 'push.example.com, *.push.example.net,127.0.0.1:8443',
    RATE_LIMIT: '0',
    SEND_TOKEN: 'secret',
    SEND_TOKEN_FILE: 'token.txt',
    TLS_NAMES: 'MyServer.lan, nas.home.arpa,myserver.lan',
    TLS_CERT_FILE: '/etc/letsencrypt/live/x/fullchain.pem',
    TLS_KEY_FILE: 'privkey.pem',
    PAIRING_KEY_FILE: 'secrets/pairing-key',
  });
  assert.equal(config.port, 8443);
  assert.equal(config.host, '0.0.0.0');
  assert.equal(config.httpPort, 0);
  assert.equal(config.subscriptionFile, resolve('data/subs.json'));
  assert.equal(config.vapidFile, '/etc/push/vapid.json');
  assert.equal(config.certDir, resolve('tls'));
  assert.deepEqual(config.vapid, {
    publicKey: 'pub',
    privateKey: 'priv',
    subject: 'mailto:ops@example.com',
  });
  assert.deepEqual(config.pushAllowedHosts.slice(DEFAULT_PUSH_HOSTS.length), [
    { host: 'push.example.com', wildcard: false },
    { host: 'push.example.net', wildcard: true },
    { host: '127.0.0.1', wildcard: false, port: '8443' },
  ]);
  assert.equal(config.rateLimit, 0);
  assert.equal(config.sendToken, 'secret');
  assert.equal(config.sendTokenFile, resolve('token.txt'));
  assert.deepEqual(config.tlsNames, ['myserver.lan', 'nas.home.arpa']);
  assert.equal(config.tlsCertFile, '/etc/letsencrypt/live/x/fullchain.pem');
  assert.equal(config.tlsKeyFile, resolve('privkey.pem'));
  assert.equal(config.pairingKeyFile, resolve('secrets/pairing-key'));
});

test('loadConfig treats blank variables as unset', () => {
  const config = loadConfig({ PORT: ' ', HOST: '', PUSH_ALLOWED_HOSTS: ' , ,' });
  assert.equal(config.port, 4443);
  assert.equal(config.host, 'localhost');
  assert.equal(config.pushAllowedHosts.length, DEFAULT_PUSH_HOSTS.length);
});

test('loadConfig returns a frozen config', () => {
  const config = loadConfig({ PUSH_ALLOWED_HOSTS: 'push.example.com' });
  assert.ok(Object.isFrozen(config));
  assert.ok(Object.isFrozen(config.vapid));
  assert.ok(Object.isFrozen(config.pushAllowedHosts));
  assert.ok(Object.isFrozen(config.pushAllowedHosts[0]));
});

test('loadConfig accepts the edges of each number range', () => {
  assert.equal(loadConfig({ PORT: '0' }).port, 0);
  assert.equal(loadConfig({ PORT: '65535' }).port, 65535);
  assert.equal(loadConfig({ RATE_LIMIT: '1000000' }).rateLimit, 1_000_000);
});

test('PUSH_HTTP2=1 offers HTTP/2 to push services; unset or 0 is HTTP/1.1', () => {
  assert.equal(loadConfig({}).pushHttp2, false);
  assert.equal(loadConfig({ PUSH_HTTP2: '0' }).pushHttp2, false);
  assert.equal(loadConfig({ PUSH_HTTP2: '1' }).pushHttp2, true);
});

const badEnvironments: [NodeJS.ProcessEnv, RegExp][] = [
  [{ PORT: 'abc' }, /^PORT must be a whole number/],
  [{ PORT: '-1' }, /^PORT /],
  [{ PORT: '80.5' }, /^PORT /],
  [{ PORT: '1e3' }, /^PORT /],
  [{ PORT: '65536' }, /^PORT /],
  [{ HTTP_PORT: '70000' }, /^HTTP_PORT must be a whole number from 0 to 65535, not "70000"/],
  [{ RATE_LIMIT: '-1' }, /^RATE_LIMIT /],
  [{ RATE_LIMIT: 'many' }, /^RATE_LIMIT /],
  [{ PUSH_HTTP2: 'yes' }, /^PUSH_HTTP2 must be a whole number from 0 to 1, not "yes"/],
  [{ VAPID_PUBLIC_KEY: 'pub' }, /VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY/],
  [{ VAPID_PRIVATE_KEY: 'priv' }, /VAPID_PUBLIC_KEY and VAPID_PRIVATE_KEY/],
  [
    { PUSH_ALLOWED_HOSTS: 'push.example.com/path' },
    /^PUSH_ALLOWED_HOSTS: "push.example.com\/path"/,
  ],
  [{ PUSH_ALLOWED_HOSTS: 'ok.example.com,user@push.example.com' }, /^PUSH_ALLOWED_HOSTS: "user@/],
  [{ PUSH_ALLOWED_HOSTS: 'push.example.com?x=1' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: 'push.example.com#x' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: 'push.example.com.' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: 'push.example.com:http' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: 'push.example.com:99999' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: 'https://push.example.com' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: 'push example.com' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: '*.' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ PUSH_ALLOWED_HOSTS: '*.10.0.0.1' }, /^PUSH_ALLOWED_HOSTS: /],
  [{ TLS_CERT_FILE: 'cert.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE/],
  [{ TLS_KEY_FILE: 'key.pem' }, /TLS_CERT_FILE and TLS_KEY_FILE/],
  [{ TLS_NAMES: 'ok.lan,*.lan' }, /^TLS_NAMES: "\*\.lan" is not a DNS name/],
  [{ TLS_NAMES: 'my_server.lan' }, /^TLS_NAMES: "my_server\.lan"/],
  [{ TLS_NAMES: '10.0.0.1/8' }, /^TLS_NAMES: /],
  [{ TLS_NAMES: 'https://myserver.lan' }, /^TLS_NAMES: /],
  [{ TLS_NAMES: 'bad-.lan' }, /^TLS_NAMES: /],
];

for (const [env, message] of badEnvironments) {
  test(`loadConfig refuses ${JSON.stringify(env)} and names the variable`, () => {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.match(error.message, message);
        return true;
      },
    );
  });
}

test('parseHostRule reads an exact host name', () => {
  assert.deepEqual(parseHostRule('Push.Example.com'), {
    host: 'push.example.com',
    wildcard: false,
  });
});

test('parseHostRule reads a *.suffix as a wildcard for subdomains', () => {
  assert.deepEqual(parseHostRule('*.push.apple.com'), { host: 'push.apple.com', wildcard: true });
});

test('parseHostRule reads host:port', () => {
  assert.deepEqual(parseHostRule('127.0.0.1:8443'), {
    host: '127.0.0.1',
    wildcard: false,
    port: '8443',
  });
  assert.deepEqual(parseHostRule('*.push.example.com:8443'), {
    host: 'push.example.com',
    wildcard: true,
    port: '8443',
  });
});

test('parseHostRule reads a bracketed IPv6 address with a port', () => {
  assert.deepEqual(parseHostRule('[::1]:9443'), { host: '[::1]', wildcard: false, port: '9443' });
});

test('parseHostRule keeps an explicit :443 although URLs drop the default port', () => {
  assert.deepEqual(parseHostRule('push.example.com:443'), {
    host: 'push.example.com',
    wildcard: false,
    port: '443',
  });
  assert.deepEqual(parseHostRule('[::1]:443'), { host: '[::1]', wildcard: false, port: '443' });
});

test('parseHostRule normalises IP literals the way URLs do', () => {
  assert.equal(parseHostRule('0x7f.1').host, '127.0.0.1');
  assert.equal(parseHostRule('[::ffff:127.0.0.1]').host, '[::ffff:7f00:1]');
});

test('PUSH_ALLOWED_HOSTS entries are added to the built-in push services', () => {
  assert.deepEqual(hosts({ PUSH_ALLOWED_HOSTS: 'push.example.com' }), [
    'fcm.googleapis.com',
    'jmt17.google.com',
    'updates.push.services.mozilla.com',
    'push.apple.com',
    'notify.windows.com',
    'push.example.com',
  ]);
});
