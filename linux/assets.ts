/**
 * The guest software of the Linux machine, made from Debian packages at first
 * use and cached outside the repository: SeaBIOS's `bios.bin`, the i386
 * kernel (`vmlinuz`), and an initramfs (newc cpio) holding a static busybox,
 * the kernel's virtio and ext4 modules, and the init script
 * ({@linkcode initScript}).
 *
 * The packages are fetched with `apt-get download` and unpacked with
 * `dpkg-deb -x` (never installed); the versions are pinned
 * ({@linkcode LINUX_PACKAGES}) and each `.deb`'s SHA-256 is printed and kept
 * in the cache's `manifest.json`. When a pinned version has left the mirror
 * (Debian replaces kernels on security updates), the current version of the
 * same package is used instead and the line printed says so.
 *
 * The cache is `$VIRTIO_LAB_LINUX_CACHE`, else `$XDG_CACHE_HOME/virtio-lab/linux`,
 * else `~/.cache/virtio-lab/linux`: 9.2 MB (the kernel 5.7 MB, the initramfs
 * 3.4 MB, the BIOS 128 KiB; the `.deb`s are deleted once unpacked), plus the
 * saved guest state the Linux machine keeps there (17.5 MB).
 *
 * @module
 */

import { buildCpio, type CpioEntry } from "./cpio.ts";

/** One pinned Debian package. */
export interface DebianPackage {
  /** Package name. */
  readonly name: string;
  /** Exact version. */
  readonly version: string;
  /** Debian architecture (`i386`, `all`). */
  readonly arch: string;
  /**
   * The package to ask apt for when the pinned version is gone: the current
   * one of the same thing (for the kernel, the `linux-image-686` metapackage's
   * dependency).
   */
  readonly fallback: string;
}

/** The packages the guest is made from. */
export const LINUX_PACKAGES: Readonly<Record<"kernel" | "busybox" | "bios", DebianPackage>> = Object
  .freeze({
    kernel: {
      name: "linux-image-6.1.0-57-686",
      version: "6.1.192-3",
      arch: "i386",
      fallback: "linux-image-686",
    },
    busybox: {
      name: "busybox-static",
      version: "1:1.35.0-4+deb12u1+b1",
      arch: "i386",
      fallback: "busybox-static",
    },
    bios: { name: "seabios", version: "1.16.2-1", arch: "all", fallback: "seabios" },
  });

/**
 * The modules the init loads (with what they depend on, found in each
 * module's `.modinfo`): the virtio core, ring and MMIO transport, the block
 * and console drivers, and ext4 (which mounts ext2 and ext3 too).
 */
export const GUEST_MODULES: readonly string[] = Object.freeze([
  "virtio_mmio",
  "virtio_blk",
  "virtio_console",
  "crc32c_generic",
  "ext4",
]);

/** Bump when the initramfs layout or init script changes, so that caches rebuild. */
export const INITRAMFS_REVISION = 8;

/**
 * busybox init's table: the start-up script, then one shell on `hvc0` (init
 * makes it the shell's controlling terminal, so Ctrl-C and job control work),
 * powering off when it exits; `poweroff` in the guest (SIGUSR2 to init) runs
 * the shutdown entry (sync, unmount `/mnt`) and powers off.
 */
export const INITTAB = `::sysinit:/etc/rc
hvc0::once:/etc/shell
::shutdown:/etc/shutdown
::ctrlaltdel:/bin/poweroff
`;

/** The shell on `hvc0`, and what its end does: power off. */
export const SHELL_SCRIPT = `#!/bin/sh
export PS1='virtio-lab:\\w# ' HOME=/root PATH=/bin
cd /
/bin/sh -i
poweroff
`;

/** Before power-off: everything written reaches the disk. */
export const SHUTDOWN_SCRIPT = `#!/bin/sh
sync
umount /mnt 2>/dev/null
`;

/** The module whose loading makes Linux probe the virtio-mmio windows: the init loads it last. */
export const PROBING_MODULE = "virtio_mmio";

/**
 * What the init prints on the serial console (after `virtio-lab: `) before
 * it loads any module, and then waits for a line on the serial port.
 */
export const SNAPSHOT_POINT = "snapshot point";

/** Where the assets are, and what they were made from. */
export interface LinuxAssets {
  /** The cache directory. */
  readonly dir: string;
  /** SeaBIOS's `bios.bin`. */
  readonly bios: string;
  /** The bzImage kernel. */
  readonly kernel: string;
  /** The initramfs (newc cpio). */
  readonly initramfs: string;
  /** Kernel release, e.g. `6.1.0-57-686`. */
  readonly release: string;
  /** The packages used, with versions and the SHA-256 of each `.deb`. */
  readonly packages: readonly { name: string; version: string; arch: string; sha256: string }[];
  /** Total bytes in the cache. */
  readonly bytes: number;
}

/** Why the assets cannot be made; `hint` says how to fix it. */
export class LinuxAssetsError extends Error {
  /** What to do about it, in one line. */
  readonly hint: string;
  /**
   * @param message What went wrong.
   * @param hint How to fix it.
   */
  constructor(message: string, hint: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LinuxAssetsError";
    this.hint = hint;
  }
}

/** The cache directory ({@linkcode LinuxAssets.dir}) for an environment. */
export function linuxCacheDir(env: (name: string) => string | undefined = Deno.env.get): string {
  const explicit = env("VIRTIO_LAB_LINUX_CACHE");
  if (explicit) return explicit;
  const xdg = env("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/virtio-lab/linux`;
  const home = env("HOME");
  if (!home) {
    throw new LinuxAssetsError(
      "Cannot find a cache directory: neither XDG_CACHE_HOME nor HOME is set",
      "set VIRTIO_LAB_LINUX_CACHE to a writable directory",
    );
  }
  return `${home}/.cache/virtio-lab/linux`;
}

/**
 * The start-up script busybox's init runs first (`::sysinit:` in
 * {@linkcode INITTAB}): mounts proc, sysfs and devtmpfs,
 * loads the modules in dependency order except `virtio_mmio`, says
 * {@linkcode SNAPSHOT_POINT} on the serial console and waits for a line
 * there (the machine may save its state first), loads `virtio_mmio` (which
 * probes the windows), waits for `hvc0`, mounts `/dev/vda`
 * on `/mnt` when it holds a file system (read-only when the disk is), prints
 * and prints a banner of `/sys/bus/virtio/devices/*` (device id, vendor,
 * driver, feature bits) on `hvc0`. Then init runs the shell there
 * ({@linkcode INITTAB}).
 *
 * @param modules Module names in load order.
 */
export function initScript(modules: readonly string[]): string {
  return `#!/bin/sh
# virtio-lab guest start-up, busybox init's sysinit (generated by linux/assets.ts)
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root
mkdir -p /proc /sys /dev /mnt /tmp /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
say() { echo "virtio-lab: $*" > /dev/ttyS0; }
load() {
  for m in "$@"; do insmod /lib/modules/$m.ko 2> /dev/ttyS0 || say "insmod $m failed"; done
}
# Every module but the transport: none of them touches a device.
load ${modules.filter((m) => m !== PROBING_MODULE).join(" ")}
# Nothing has touched a virtio device yet: the machine may save its state
# here (and resume later boots from it); it answers on the serial line.
stty -F /dev/ttyS0 -echo 2>/dev/null
say "${SNAPSHOT_POINT}"
read -r go < /dev/ttyS0
hwclock -s 2>/dev/null
# virtio_mmio binds the LNRO0005 devices: from here on Linux drives the lab's devices.
load ${PROBING_MODULE}
# The probes ran inside insmod; devtmpfs may still be making the node of a bound console.
bound() {
  for x in /sys/bus/virtio/drivers/virtio_console/virtio*; do [ -e "$x" ] && return 0; done
  return 1
}
n=0
while bound && [ ! -e /dev/hvc0 ] && [ $n -lt 100 ]; do sleep 0.05; n=$((n + 1)); done
if [ ! -e /dev/hvc0 ]; then
  say "no /dev/hvc0: virtio_console did not bind (see the kernel messages above)"
  dmesg | grep -i virtio > /dev/ttyS0
  poweroff -f
fi
exec 1>/dev/hvc0 2>&1
n=0
while [ ! -e /dev/vda ] && [ -d /sys/bus/virtio/drivers/virtio_blk ] && [ $n -lt 20 ]; do
  sleep 0.05; n=$((n + 1))
done
# The banner uses shell builtins only: every program started is slow in an emulator.
read -r release < /proc/sys/kernel/osrelease
echo
echo "virtio-lab: Linux $release on the lab's TypeScript virtio-mmio devices"
for d in /sys/bus/virtio/devices/*; do
  [ -e "$d/device" ] || continue
  read -r device < $d/device; read -r vendor < $d/vendor; read -r f < $d/features
  bits=""; i=0
  while [ $i -lt \${#f} ]; do
    [ "\${f:$i:1}" = 1 ] && bits="$bits $i"
    i=$((i + 1))
  done
  drv=none
  [ -e $d/driver ] && cd -P $d/driver && drv=\${PWD##*/} && cd /
  echo "  \${d##*/}: device $device vendor $vendor driver $drv features$bits"
done
if [ -e /dev/vda ]; then
  read -r ro < /sys/block/vda/ro; read -r sectors < /sys/block/vda/size
  size="$((sectors / 2)) KiB"
  if [ "$ro" = 1 ]; then ro="-o ro"; else ro=""; fi
  if mount $ro /dev/vda /mnt 2>/dev/null; then
    echo "  /dev/vda ($size) mounted on /mnt $ro"
  else
    echo "  /dev/vda ($size) holds no file system Linux can mount"
  fi
fi
echo "Type 'poweroff' to end the VM."
`;
}

async function run(
  command: string,
  args: readonly string[],
  options: { cwd?: string } = {},
): Promise<{ ok: boolean; stdout: string; stderr: string }> {
  try {
    const out = await new Deno.Command(command, {
      args: [...args],
      cwd: options.cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return {
      ok: out.success,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new LinuxAssetsError(
        `${command} is not installed`,
        "lab boot --linux builds its guest from Debian packages: it needs apt-get and dpkg-deb " +
          "(a Debian or Ubuntu host)",
        { cause: error },
      );
    }
    throw error;
  }
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Makes sure dpkg knows the i386 architecture (adding it, which needs root, and `apt-get update`). */
async function ensureI386(say: (line: string) => void): Promise<void> {
  const native = (await run("dpkg", ["--print-architecture"])).stdout.trim();
  const foreign = (await run("dpkg", ["--print-foreign-architectures"])).stdout.split(/\s+/);
  if (native === "i386" || foreign.includes("i386")) return;
  say("adding the i386 architecture to dpkg (dpkg --add-architecture i386; apt-get update)");
  const add = await run("dpkg", ["--add-architecture", "i386"]);
  if (!add.ok) {
    throw new LinuxAssetsError(
      `dpkg does not know the i386 architecture and could not add it: ${add.stderr.trim()}`,
      "run: sudo dpkg --add-architecture i386 && sudo apt-get update",
    );
  }
  const update = await run("apt-get", ["update", "-qq"]);
  if (!update.ok) {
    throw new LinuxAssetsError(
      `apt-get update failed: ${update.stderr.trim().split("\n").pop()}`,
      "check the network and /etc/apt/sources.list",
    );
  }
}

/** Downloads one package into `dir`: the pinned version, else the fallback's current one. */
async function download(
  pkg: DebianPackage,
  dir: string,
  say: (line: string) => void,
): Promise<{ file: string; name: string; version: string }> {
  const before = new Set([...Deno.readDirSync(dir)].map((e) => e.name));
  const fetched = async (spec: string) => {
    const result = await run("apt-get", ["download", "-q", spec], { cwd: dir });
    if (!result.ok) return { error: result.stderr.trim().split("\n").pop() ?? "" };
    const file = [...Deno.readDirSync(dir)].map((e) => e.name).find((n) =>
      n.endsWith(".deb") && !before.has(n)
    );
    return file ? { file } : { error: "apt-get download wrote no .deb" };
  };
  const pinned = await fetched(`${pkg.name}:${pkg.arch}=${pkg.version}`);
  if ("file" in pinned && pinned.file) {
    return { file: `${dir}/${pinned.file}`, name: pkg.name, version: pkg.version };
  }
  let name = pkg.fallback;
  if (pkg.fallback !== pkg.name) {
    // A metapackage: the real package is its dependency.
    const deps = await run("apt-cache", ["depends", `${pkg.fallback}:${pkg.arch}`]);
    const match = deps.stdout.match(/Depends: (linux-image-[^\s:]+)/);
    if (match) name = match[1];
  }
  const policy = await run("apt-cache", ["policy", `${name}:${pkg.arch}`]);
  const version = policy.stdout.match(/Candidate: (\S+)/)?.[1];
  if (!version || version === "(none)") {
    throw new LinuxAssetsError(
      `Cannot download ${pkg.name} ${pkg.version} (${pinned.error}) nor any ${name}:${pkg.arch}`,
      pkg.arch === "i386"
        ? "run: sudo dpkg --add-architecture i386 && sudo apt-get update"
        : "run: sudo apt-get update",
    );
  }
  say(`${pkg.name} ${pkg.version} is no longer on the mirror; using ${name} ${version}`);
  const current = await fetched(`${name}:${pkg.arch}=${version}`);
  if (!("file" in current) || !current.file) {
    throw new LinuxAssetsError(
      `Cannot download ${name} ${version}: ${current.error}`,
      "check the network and run: sudo apt-get update",
    );
  }
  return { file: `${dir}/${current.file}`, name, version };
}

/** A module's dependencies, from the `depends=` string in its `.modinfo` section. */
export function moduleDepends(ko: Uint8Array): string[] {
  const marker = new TextEncoder().encode("depends=");
  outer: for (let i = 0; i + marker.length <= ko.length; i++) {
    if (i > 0 && ko[i - 1] !== 0) continue;
    for (let j = 0; j < marker.length; j++) if (ko[i + j] !== marker[j]) continue outer;
    let end = i + marker.length;
    while (end < ko.length && ko[end] !== 0) end++;
    const list = new TextDecoder().decode(ko.subarray(i + marker.length, end));
    return list === "" ? [] : list.split(",");
  }
  return [];
}

/**
 * Puts modules in load order: each after what it depends on.
 *
 * @param wanted The modules asked for.
 * @param dependsOf A module's dependencies.
 * @returns Every module needed, dependencies first.
 */
export function moduleLoadOrder(
  wanted: readonly string[],
  dependsOf: (name: string) => readonly string[],
): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new RangeError(`Module dependency cycle through ${name}`);
    visiting.add(name);
    for (const dep of dependsOf(name)) visit(dep);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of wanted) visit(name);
  return order;
}

function findModules(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string) => {
    for (const entry of Deno.readDirSync(dir)) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory) walk(path);
      else if (entry.name.endsWith(".ko")) {
        found.set(entry.name.slice(0, -3).replaceAll("-", "_"), path);
      }
    }
  };
  walk(root);
  return found;
}

interface Manifest {
  readonly revision: number;
  /** {@linkcode LINUX_PACKAGES} when the cache was made. */
  readonly pins: string;
  readonly release: string;
  readonly packages: LinuxAssets["packages"];
}

/**
 * Returns the cached assets, making them first if they are missing or stale.
 *
 * @param options `say` receives progress and the packages' checksums; `dir` overrides the cache.
 * @throws {LinuxAssetsError} If apt-get or dpkg-deb are missing, a package cannot be
 *   downloaded, or the kernel package lacks a module.
 */
export async function ensureLinuxAssets(
  options: { readonly say?: (line: string) => void; readonly dir?: string } = {},
): Promise<LinuxAssets> {
  const say = options.say ?? ((line: string) => console.error(`lab: ${line}`));
  const dir = options.dir ?? linuxCacheDir();
  const cached = await readCached(dir);
  if (cached) return cached;
  await Deno.mkdir(dir, { recursive: true });
  say(`making the Linux guest in ${dir} from Debian packages (once)`);
  await ensureI386(say);
  const work = await Deno.makeTempDir({ dir, prefix: ".build-" });
  try {
    const packages: { name: string; version: string; arch: string; sha256: string }[] = [];
    const trees: Record<string, string> = {};
    for (const [role, pkg] of Object.entries(LINUX_PACKAGES)) {
      const got = await download(pkg, work, say);
      const digest = await sha256(got.file);
      say(`  ${got.name} ${got.version} (${pkg.arch}) sha256 ${digest}`);
      packages.push({ name: got.name, version: got.version, arch: pkg.arch, sha256: digest });
      const tree = `${work}/${role}`;
      const extract = await run("dpkg-deb", ["-x", got.file, tree]);
      if (!extract.ok) {
        throw new LinuxAssetsError(`dpkg-deb -x ${got.file} failed: ${extract.stderr}`, "");
      }
      trees[role] = tree;
    }
    const boot = [...Deno.readDirSync(`${trees.kernel}/boot`)].find((e) =>
      e.name.startsWith("vmlinuz-")
    );
    if (!boot) throw new LinuxAssetsError("The kernel package holds no /boot/vmlinuz-*", "");
    const release = boot.name.slice("vmlinuz-".length);
    const modules = findModules(`${trees.kernel}/lib/modules/${release}`);
    const depends = (name: string) => {
      const path = modules.get(name);
      if (!path) {
        throw new LinuxAssetsError(`Kernel ${release} has no module ${name}`, "");
      }
      return moduleDepends(Deno.readFileSync(path));
    };
    const order = moduleLoadOrder(GUEST_MODULES, depends);
    const entries: CpioEntry[] = [
      { kind: "dir", path: "bin" },
      {
        kind: "file",
        path: "bin/busybox",
        data: await Deno.readFile(`${trees.busybox}/bin/busybox`),
        mode: 0o755,
      },
      { kind: "dir", path: "dev" },
      { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
      { kind: "dir", path: "lib" },
      { kind: "dir", path: "lib/modules" },
      ...order.map((name): CpioEntry => ({
        kind: "file",
        path: `lib/modules/${name}.ko`,
        data: Deno.readFileSync(modules.get(name)!),
      })),
      // busybox's init is the guest's PID 1; the start-up script installs the other applets.
      { kind: "symlink", path: "bin/sh", target: "busybox" },
      { kind: "symlink", path: "init", target: "bin/busybox" },
      { kind: "dir", path: "etc" },
      { kind: "file", path: "etc/inittab", data: new TextEncoder().encode(INITTAB) },
      {
        kind: "file",
        path: "etc/shell",
        data: new TextEncoder().encode(SHELL_SCRIPT),
        mode: 0o755,
      },
      {
        kind: "file",
        path: "etc/shutdown",
        data: new TextEncoder().encode(SHUTDOWN_SCRIPT),
        mode: 0o755,
      },
      {
        kind: "file",
        path: "etc/rc",
        data: new TextEncoder().encode(initScript(order)),
        mode: 0o755,
      },
    ];
    await Deno.writeFile(`${dir}/initramfs.cpio`, buildCpio(entries));
    await Deno.copyFile(`${trees.kernel}/boot/${boot.name}`, `${dir}/vmlinuz`);
    await Deno.copyFile(`${trees.bios}/usr/share/seabios/bios.bin`, `${dir}/bios.bin`);
    const manifest: Manifest = {
      revision: INITRAMFS_REVISION,
      pins: JSON.stringify(LINUX_PACKAGES),
      release,
      packages,
    };
    await Deno.writeTextFile(`${dir}/manifest.json`, JSON.stringify(manifest, null, 2) + "\n");
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  const made = await readCached(dir);
  if (!made) throw new LinuxAssetsError(`The cache in ${dir} is incomplete after building`, "");
  say(`Linux guest ready: ${made.release}, ${(made.bytes / 1e6).toFixed(1)} MB in ${dir}`);
  return made;
}

/** The cached assets, or `null` when something is missing or was made by another revision. */
async function readCached(dir: string): Promise<LinuxAssets | null> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await Deno.readTextFile(`${dir}/manifest.json`));
  } catch {
    return null;
  }
  if (manifest.revision !== INITRAMFS_REVISION) return null;
  if (manifest.pins !== JSON.stringify(LINUX_PACKAGES)) return null;
  const files = ["bios.bin", "vmlinuz", "initramfs.cpio"];
  let bytes = 0;
  for (const file of files) {
    if (!(await exists(`${dir}/${file}`))) return null;
    bytes += (await Deno.stat(`${dir}/${file}`)).size;
  }
  return {
    dir,
    bios: `${dir}/bios.bin`,
    kernel: `${dir}/vmlinuz`,
    initramfs: `${dir}/initramfs.cpio`,
    release: manifest.release,
    packages: manifest.packages,
    bytes,
  };
}

if (import.meta.main) {
  // `deno run linux/assets.ts`: make the cache (as .ci/run does) and print it.
  try {
    const assets = await ensureLinuxAssets();
    console.log(`${assets.dir}: ${assets.release}, ${(assets.bytes / 1e6).toFixed(1)} MB`);
  } catch (error) {
    if (!(error instanceof LinuxAssetsError)) throw error;
    console.error(`lab: ${error.message}${error.hint ? `; ${error.hint}` : ""}`);
    Deno.exit(1);
  }
}
