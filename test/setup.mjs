// Run by `npm test` (and .ci/run) before anything else: the browser tests need Debian's Chromium,
// and every test of Redis (the store contract, several processes, outages) starts private
// redis-server processes. Installs what is missing where it can (root with apt-get), waiting for
// another install to finish rather than failing on its lock; otherwise stops with the command to
// run. Never lets the tests that need them be skipped in silence.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** How long apt may wait for the package manager's locks, in seconds. */
const LOCK_WAIT_S = 600;
const DEFAULT_CHROMIUM = '/usr/bin/chromium';
const CHROMIUM = process.env.CHROMIUM_PATH || DEFAULT_CHROMIUM;

function executable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
const onPath = (cmd) => (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && executable(path.join(dir, cmd)));

const needs = [
  // apt puts Chromium at the default path only: a CHROMIUM_PATH elsewhere is the user's to provide.
  { pkg: 'chromium', what: `Chromium at ${CHROMIUM}`, present: () => executable(CHROMIUM), aptHelps: CHROMIUM === DEFAULT_CHROMIUM },
  { pkg: 'redis-server', what: 'redis-server on the PATH', present: () => onPath('redis-server'), aptHelps: true },
];

/**
 * Runs apt-get with its lock wait. `DPkg::Lock::Timeout` covers dpkg's locks, not the package
 * lists' lock that `apt-get update` takes, so a "Could not get lock" is also retried until the
 * same deadline. Returns apt-get's exit code and what it wrote to stderr.
 */
async function aptGet(args) {
  const deadline = Date.now() + LOCK_WAIT_S * 1000;
  let told = false;
  for (;;) {
    const r = spawnSync('apt-get', ['-o', `DPkg::Lock::Timeout=${LOCK_WAIT_S}`, ...args], {
      stdio: ['ignore', 'inherit', 'pipe'],
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    const stderr = r.stderr ?? '';
    const locked = r.status !== 0 && /Could not get lock|Unable to lock/.test(stderr);
    if (!locked || Date.now() >= deadline) {
      process.stderr.write(stderr);
      return { status: r.status ?? 1, error: r.error };
    }
    if (!told) {
      console.log(`apt-get ${args[0]}: another install holds the package manager's lock; waiting for it (at most ${LOCK_WAIT_S} s)…`);
      told = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

const missing = needs.filter((n) => !n.present());
if (missing.length > 0) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasApt = executable('/usr/bin/apt-get');
  const installable = missing.filter((n) => n.aptHelps);
  let why = '';
  if (installable.length > 0 && !isRoot) why = 'not running as root, so nothing was installed';
  else if (installable.length > 0 && !hasApt) why = 'no apt-get on this machine, so nothing was installed';
  else if (installable.length > 0) {
    const pkgs = installable.map((n) => n.pkg);
    console.log(`Missing ${installable.map((n) => n.what).join(' and ')}: installing ${pkgs.join(' ')} (apt-get install -y ${pkgs.join(' ')})…`);
    const update = await aptGet(['update', '-qq']);
    const install = update.status === 0 ? await aptGet(['install', '-y', '-qq', ...pkgs]) : update;
    if (install.status !== 0) why = `apt-get failed (exit ${install.status}${install.error ? `: ${install.error.message}` : ''})`;
  }
  const still = missing.filter((n) => !n.present());
  if (still.length > 0) {
    const lines = [`npm test needs ${still.map((n) => n.what).join(' and ')}${why ? `; ${why}` : ''}.`];
    const viaApt = still.filter((n) => n.aptHelps).map((n) => n.pkg);
    if (viaApt.length > 0) lines.push('Install with:', '', `  sudo apt-get install -y ${viaApt.join(' ')}`, '');
    if (still.some((n) => n.pkg === 'chromium' && !n.aptHelps))
      lines.push(`CHROMIUM_PATH names ${CHROMIUM}: point it at a Chromium binary, or unset it for Debian's (${DEFAULT_CHROMIUM}).`);
    else if (still.some((n) => n.pkg === 'chromium')) lines.push('(or set CHROMIUM_PATH to a Chromium binary)');
    lines.push('Then run npm test again.');
    console.error(lines.join('\n'));
    process.exit(1);
  }
}
