// What the Node SDK tests share: checks that print PASS or FAIL and count, bounded waits, error
// text that says what the SDK saw, and the plumbing (this process only) that points Azure's
// service SDK at a local iotgw-hub without /etc/hosts.
'use strict';

const https = require('node:https');

// A setting the driver script passes; without it the test cannot run (exit 2).
function env(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`FAIL - environment variable ${name} is not set`);
    process.exit(2);
  }
  return v;
}

let passed = 0;
let failed = 0;

function ok(what) {
  passed += 1;
  console.log(`PASS - ${what}`);
}
function fail(what, why) {
  failed += 1;
  console.log(`FAIL - ${what}: ${why}`);
}
function check(what, cond, why) {
  if (cond) ok(what);
  else fail(what, why);
  return cond;
}

function within(promise, what, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function errorText(e) {
  if (!e) return String(e);
  const inner = e.amqpError ? ` (amqp: ${e.amqpError.condition || ''} ${e.amqpError.description || ''})` : '';
  const body = e.responseBody ? ` (body: ${e.responseBody})` : '';
  const status = e.response && e.response.statusCode ? ` (HTTP ${e.response.statusCode})` : '';
  return `${e.constructor && e.constructor.name}: ${e.message}${status}${body}${inner}`;
}

// Runs the test's main, then prints the tally and exits 0 only when something passed and
// nothing failed.
function run(main) {
  main()
    .catch((e) => fail('unexpected error', e && e.stack ? e.stack : String(e)))
    .finally(() => {
      console.log(`NodeSdk: ${passed} passed, ${failed} failed`);
      process.exit(failed === 0 && passed > 0 ? 0 : 1);
    });
}

// The service SDK's HTTPS (Registry, Client.invokeDeviceMethod) always goes to {HostName}:443,
// each client through a `new https.Agent({keepAlive: true})` it makes itself. Agents made after
// this send connections for the hub's name to the hub's HTTPS port on 127.0.0.1; TLS still
// checks the certificate against the hub's name.
function routeHubHttps(hubName, httpsPort) {
  class LocalHubAgent extends https.Agent {
    createConnection(options, callback) {
      const to = options.host === hubName
        ? { ...options, host: '127.0.0.1', port: httpsPort, servername: hubName }
        : options;
      return super.createConnection(to, callback);
    }
  }
  https.Agent = LocalHubAgent;
}

// The service client's AMQP goes to amqps://{HostName}: its public factory takes a transport
// constructor, and the one made here only changes where the socket goes.
function localServiceAmqp(ServiceAmqp, tlsAddress) {
  return class LocalServiceAmqp extends ServiceAmqp {
    _getConnectionUri() {
      return `amqps://${tlsAddress}`;
    }
  };
}

module.exports = { env, ok, fail, check, within, errorText, run, routeHubHttps, localServiceAmqp };
