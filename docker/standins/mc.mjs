#!/usr/local/bin/node
/**
 * A stand-in for MinIO's client `mc`, with only the commands docker/minio-init.sh
 * runs, against the S3 stand-in (s3-server.mjs). Aliases live in /tmp.
 * `admin policy create|attach` check their arguments and change nothing: the
 * stand-in has no policies (see s3-server.mjs).
 */
import fs from 'node:fs';

const CONFIG = `${process.env.MC_CONFIG_DIR ?? '/tmp/.mc'}/standin-aliases.json`;
const args = process.argv.slice(2).filter((arg) => arg !== '--quiet' && arg !== '-q');

function fail(message) {
  console.error(`mc (stand-in): ${message}`);
  process.exit(1);
}

function aliases() {
  return fs.existsSync(CONFIG) ? JSON.parse(fs.readFileSync(CONFIG, 'utf8')) : {};
}

function alias(name) {
  return aliases()[name] ?? fail(`no alias ${name}`);
}

async function call(target, method, path, { body, headers = {} } = {}) {
  const basic = Buffer.from(`${target.user}:${target.password}`).toString('base64');
  try {
    return await fetch(`${target.url}${path}`, { method, body, headers: { authorization: `Basic ${basic}`, ...headers } });
  } catch (error) {
    fail(`${target.url} cannot be reached: ${error.cause?.code ?? error.message}`);
  }
}

const [command, ...rest] = args;
const sub = `${command} ${rest[0] ?? ''}`.trim();

if (sub === 'alias set') {
  const [, name, url, user, password] = rest;
  if (!password) fail('usage: mc alias set NAME URL ACCESS_KEY SECRET_KEY');
  const target = { url: url.replace(/\/$/, ''), user, password };
  const answer = await call(target, 'GET', '/_standin/whoami');
  if (answer.status !== 200) fail(`the credentials for ${url} were refused (${answer.status})`);
  fs.mkdirSync(CONFIG.slice(0, CONFIG.lastIndexOf('/')), { recursive: true });
  fs.writeFileSync(CONFIG, JSON.stringify({ ...aliases(), [name]: target }));
  console.log(`Added \`${name}\` successfully.`);
} else if (command === 'ready') {
  const answer = await call(alias(rest[0]), 'GET', '/minio/health/ready');
  if (answer.status !== 200) fail(`not ready (${answer.status})`);
  console.log(`The cluster '${rest[0]}' is ready`);
} else if (command === 'mb') {
  const ignoreExisting = rest.includes('--ignore-existing') || rest.includes('-p');
  const [name, bucket] = (rest.find((arg) => !arg.startsWith('-')) ?? '').split('/');
  const target = alias(name);
  // s3rver reads the key id from a v4 header and checks no signature.
  const answer = await fetch(`${target.url}/${bucket}`, {
    method: 'PUT',
    headers: {
      date: new Date().toUTCString(),
      'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
      authorization: `AWS4-HMAC-SHA256 Credential=${target.user}/19700101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0`,
    },
  });
  if (answer.status === 409 && ignoreExisting) console.log(`Bucket ${name}/${bucket} already exists.`);
  else if (answer.ok) console.log(`Bucket created successfully \`${name}/${bucket}\`.`);
  else fail(`bucket ${bucket}: ${answer.status} ${await answer.text()}`);
} else if (sub === 'admin user' && rest[1] === 'add') {
  const [, , name, key, secret] = rest;
  if (!secret) fail('usage: mc admin user add NAME ACCESS_KEY SECRET_KEY');
  const answer = await call(alias(name), 'PUT', `/_standin/users/${encodeURIComponent(key)}`, { body: secret });
  if (answer.status !== 204) fail(`user ${key}: ${answer.status}`);
  console.log(`Added user \`${key}\` successfully.`);
} else if (sub === 'admin policy' && rest[1] === 'create') {
  const [, , name, policy, file] = rest;
  alias(name);
  JSON.parse(fs.readFileSync(file, 'utf8'));
  console.log(`Created policy \`${policy}\` (stand-in: not enforced).`);
} else if (sub === 'admin policy' && rest[1] === 'attach') {
  const [, , name, policy] = rest;
  alias(name);
  console.log(`Attached policy \`${policy}\` (stand-in: not enforced).`);
} else {
  fail(`not emulated: mc ${args.join(' ')}`);
}
