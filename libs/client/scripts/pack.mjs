// `npm run pack:sdk`: builds the SDK package (libs/client/dist) and packs it into .data/sdk/.
// Prints the tarball's absolute path as the only line on stdout (the build's output goes to stderr).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const dist = resolve(here, '../dist');
const dest = resolve(root, '.data/sdk');

execFileSync('npm', ['run', '--silent', 'build:sdk'], { cwd: root, stdio: ['ignore', 2, 2] });
mkdirSync(dest, { recursive: true });
const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dest], { cwd: dist, encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
const [packed] = JSON.parse(out);
process.stdout.write(`${join(dest, packed.filename)}\n`);
