import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectNats, type NatsSecurity } from './connect';

/**
 * NATS authentication and TLS as the apps configure them (NATS_* variables): against private
 * nats-servers that demand them. The binary is the one scripts/services.sh chose.
 */
const bin = process.env['NATS_SERVER_BIN'] ?? 'nats-server';
const dir = mkdtempSync(join(tmpdir(), 'chat-nats-security-'));
const servers: ChildProcess[] = [];

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });

async function server(name: string, config: string): Promise<string> {
  const port = await freePort();
  const file = join(dir, `${name}.conf`);
  writeFileSync(file, `listen: 127.0.0.1:${port}\n${config}\n`);
  const child = spawn(bin, ['-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (b: Buffer) => {
      out += b.toString();
      if (out.includes('Server is ready')) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`nats-server exited (${code}):\n${out}`)));
  });
  return `nats://127.0.0.1:${port}`;
}

const connects = async (url: string, security: NatsSecurity) => {
  const nats = await connectNats(url, 'security-test', { security });
  await nats.nc.close();
  return true;
};

let passwordUrl: string, tokenUrl: string, nkeyUrl: string, tlsUrl: string;
const seedFile = join(dir, 'user.nk');

beforeAll(async () => {
  passwordUrl = await server('password', 'authorization { user: chat, password: s3cret }\njetstream { store_dir: "' + join(dir, 'js1') + '" }');
  tokenUrl = await server('token', 'authorization { token: t0ken }\njetstream { store_dir: "' + join(dir, 'js2') + '" }');
  const user = nkeys.createUser();
  writeFileSync(seedFile, new TextDecoder().decode(user.getSeed()));
  nkeyUrl = await server('nkey', `authorization { users: [ { nkey: ${user.getPublicKey()} } ] }\njetstream { store_dir: "${join(dir, 'js3')}" }`);
  // A CA, and a server certificate for 127.0.0.1 signed by it.
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  tlsUrl = await server('tls', `tls { cert_file: "${join(dir, 'server.pem')}", key_file: "${join(dir, 'server.key')}" }\njetstream { store_dir: "${join(dir, 'js4')}" }`);
}, 30_000);

afterAll(() => {
  for (const s of servers) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('NATS authentication and TLS from the NATS_* settings', () => {
  it('user and password', async () => {
    await expect(connects(passwordUrl, { NATS_USER: 'chat', NATS_PASSWORD: 's3cret' })).resolves.toBe(true);
    await expect(connects(passwordUrl, { NATS_USER: 'chat', NATS_PASSWORD: 'wrong' })).rejects.toThrow(/Authorization/i);
    await expect(connects(passwordUrl, {})).rejects.toThrow(/Authorization/i);
  });

  it('a token', async () => {
    await expect(connects(tokenUrl, { NATS_TOKEN: 't0ken' })).resolves.toBe(true);
    await expect(connects(tokenUrl, { NATS_TOKEN: 'nope' })).rejects.toThrow(/Authorization/i);
  });

  it('an NKey seed file', async () => {
    await expect(connects(nkeyUrl, { NATS_NKEY_SEED: seedFile })).resolves.toBe(true);
    await expect(connects(nkeyUrl, {})).rejects.toThrow(/Authorization/i);
  });

  it('TLS verified against NATS_TLS_CA; refused without the CA', async () => {
    await expect(connects(tlsUrl, { NATS_TLS_CA: join(dir, 'ca.pem') })).resolves.toBe(true);
    await expect(connects(tlsUrl, {})).rejects.toThrow();
  });
});
