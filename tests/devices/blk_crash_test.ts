// kill -9 during writes: every write the stack reported complete is on the
// image afterwards. The model: the child writes sectors round after round
// and prints each completion; after SIGKILL, each sector holds the last
// round reported for it, or the round after (a write in flight when the
// process died may or may not have reached the file), never anything else.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { sectorPattern } from "./_crash_pattern.ts";

const CHILD = fileURLToPath(new URL("./_crash_writer_child.ts", import.meta.url));
const SECTORS = 64;

Deno.test("kill -9 while writing loses no write that completed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "virtio-lab-crash-" });
  try {
    const img = `${dir}/disk.img`;
    await Deno.writeFile(img, new Uint8Array(SECTORS * 512));
    for (const stopAfter of [37, 150, 301]) {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", CHILD, img, String(SECTORS)],
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const acked = new Map<number, number>(); // sector -> last round reported
      let lines = 0;
      let buffer = "";
      const decoder = new TextDecoder();
      const reader = child.stdout.getReader();
      while (lines < stopAfter) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          const [, sector, round] = buffer.slice(0, nl).split(" ").map(Number);
          buffer = buffer.slice(nl + 1);
          acked.set(sector, round);
          lines++;
        }
      }
      child.kill("SIGKILL");
      reader.releaseLock();
      await child.stdout.cancel();
      await child.stderr.cancel();
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL", "the writer was killed, not finished");
      assert.ok(lines >= stopAfter, `the child wrote ${lines} sectors before dying`);
      const image = await Deno.readFile(img);
      for (let sector = 0; sector < SECTORS; sector++) {
        const got = image.subarray(sector * 512, (sector + 1) * 512);
        const round = new DataView(got.buffer, got.byteOffset).getUint32(4, true);
        const last = acked.get(sector) ?? 0;
        if (round === 0) {
          assert.equal(last, 0, `sector ${sector}: round ${last} was reported and is gone`);
          assert.ok(got.every((b) => b === 0), `sector ${sector}, never written, is still zero`);
          continue;
        }
        assert.ok(
          round === last || round === last + 1,
          `sector ${sector} holds round ${round}; the last reported was ${last}`,
        );
        assert.deepEqual(got, sectorPattern(sector, round), `sector ${sector} is whole`);
      }
      // The next run starts from what is there: rounds begin at 1 again, so reset the image.
      await Deno.writeFile(img, new Uint8Array(SECTORS * 512));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
