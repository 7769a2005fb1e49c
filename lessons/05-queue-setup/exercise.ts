// deno-lint-ignore-file no-unused-vars
/**
 * Lesson 5, "Bringing a queue up": your exercise.
 *
 * A queue goes live through its registers: the driver selects it, reads how
 * large it may be, writes its size and the addresses of its three areas,
 * and sets `QueueReady`; to take it down, it clears `QueueReady` and waits
 * until the device has let go. Three functions, both sides of that:
 *
 * - the device decides what each write to a queue register does
 *   ({@linkcode writeQueueRegister});
 * - the driver brings a queue up ({@linkcode setupQueue}) and takes it down
 *   ({@linkcode stopQueue}).
 *
 * The lab's register file calls your `writeQueueRegister` on every write the
 * guest makes to `QueueNum`, the six address registers and `QueueReady`; the
 * guest's virtio bus sets up every queue of both devices with your
 * `setupQueue` (which allocates through the `allocateQueueAreas` step of
 * lesson 4 it is given) and tears queues down with your `stopQueue`
 * (`deno task lab boot --mine`).
 *
 * Each doc comment below is a contract; the how is in the lesson, in §4.2.2
 * and §4.2.3.2. Pieces of the library you may use:
 *
 * ```ts
 * import {
 *   VIRTIO_MMIO_QUEUE_SEL,       // 0x030 (W)
 *   VIRTIO_MMIO_QUEUE_NUM_MAX,   // 0x034 (R)
 *   VIRTIO_MMIO_QUEUE_NUM,       // 0x038 (W)
 *   VIRTIO_MMIO_QUEUE_READY,     // 0x044 (RW)
 *   VIRTIO_MMIO_QUEUE_DESC_LOW,  // 0x080 (W), and _HIGH 0x084
 *   VIRTIO_MMIO_QUEUE_AVAIL_LOW, // 0x090 (W): the Driver Area, and _HIGH 0x094
 *   VIRTIO_MMIO_QUEUE_USED_LOW,  // 0x0a0 (W): the Device Area, and _HIGH 0x0a4
 * } from "../../transport/mmio_registers.ts";
 * import { isValidQueueSize } from "../../virtqueue/layout.ts"; // a power of two from 1 to 32768
 * import { QueueSetupError, QueueStopError } from "../../transport/driver_queues.ts";
 * ```
 *
 * Check your work with `deno task lab check 5`; stuck? `deno task lab hint 5`.
 *
 * @module
 */

import { todo } from "../../course/stub.ts";
import type {
  QueueAreaCheck,
  QueueRegisterOutcome,
  QueueRegisters,
  QueueRegisterWrite,
} from "../../transport/queue_registers.ts";
import type {
  QueueAreaAllocator,
  QueueSetup,
  QueueSetupRequest,
} from "../../transport/driver_queues.ts";
import type { GuestAllocator } from "../../memory/allocator.ts";
import type { RegisterWindow } from "../../transport/types.ts";

/**
 * Device side: what a driver's write to one of the selected queue's
 * registers does (§4.2.2, §4.2.3.2). The register file applies the
 * `registers` you return, logs the `problems`, takes the queue into use when
 * `enabled` and lets go of it when `stopped` (it must not touch a queue whose
 * `QueueReady` is 0, 4.2.2.1/7).
 *
 * | the write (`write.offset`, `write.value`)                   | `registers` afterwards          | problems      |
 * | ----------------------------------------------------------- | ------------------------------- | ------------- |
 * | `QueueNum`, a power of two from 1 to 32768, at most `write.max` | `num` = the value           |               |
 * | `QueueNum` above `write.max` (`QueueNumMax`)                | unchanged                       | `"4.2.2.2/9"` |
 * | `QueueNum` not a power of two from 1 to 32768 (0 included)  | unchanged                       | `"2.7/D1"`    |
 * | an address register (`QueueDesc`, `QueueDriver`, `QueueDevice`, Low or High) | its field = the value | |
 * | `QueueNum` or an address register while `ready`             | unchanged                       | `"4.2.2.2/10"` |
 * | `QueueReady` 1, not `ready`, `checkAreas(registers)` null   | `ready`; `enabled: true`        |               |
 * | `QueueReady` 1, not `ready`, `checkAreas` returns a problem | unchanged (`ready` stays false) | that problem  |
 * | `QueueReady` 1 while `ready`                                | unchanged                       |               |
 * | `QueueReady` 0                                              | `ready` false, `stopUnconfirmed` true; `stopped` when it was `ready` | |
 *
 * `stopUnconfirmed` means: `QueueReady` was written 0 and has not been read
 * back since (the register file clears it when the driver reads
 * `QueueReady`). A write other than `QueueReady` 0 while it is set also
 * reports `"4.2.2.2/11"` and clears it, then does what the table says. A
 * `QueueNum` that breaks both `4.2.2.2/9` and `2.7/D1` may report either.
 * Values are u32 (0 to 0xffffffff), stored as they are. `QueueReady` values
 * other than 0 and 1 are yours to handle as you see fit.
 *
 * `QueueReset` (and `resetUnconfirmed`, `wasReset`, the `reset` result)
 * belong to the lesson on queue reset: `VIRTIO_F_RING_RESET` is withheld
 * until then, `write.ringReset` is false and no `QueueReset` write comes
 * here; keep `resetUnconfirmed` and `wasReset` as they are and return
 * `reset: false`.
 *
 * A problem is `{ id, message, values }`: `message` one sentence of yours
 * (not empty), `values` an object of your choice, `action` optional; their
 * order in `problems` is free. Pure: return a new record (or the same one
 * when nothing changes); never throws for these registers.
 *
 * @param registers The selected queue's registers before the write.
 * @param write The queue's index (for messages), the register's offset, the
 *   value written, `QueueNumMax` and whether `VIRTIO_F_RING_RESET` was negotiated.
 * @param checkAreas The device's check of the queue's size and areas (lesson
 *   4's `queueAreaProblem`, bound to the queue): ask it when `QueueReady` is
 *   set, with the registers as they stand.
 * @returns The registers afterwards, `enabled`, `stopped`, `reset` and the problems.
 */
export function writeQueueRegister(
  registers: QueueRegisters,
  write: QueueRegisterWrite,
  checkAreas: QueueAreaCheck,
): QueueRegisterOutcome {
  return todo(
    "writeQueueRegister",
    `decide what a write of 0x${write.value.toString(16)} at offset 0x${
      write.offset.toString(16).padStart(3, "0")
    } does to queue ${write.queue}`,
  );
}

/**
 * Driver side: configures and enables queue `index` of a device whose status
 * is ACKNOWLEDGE|DRIVER|FEATURES_OK (§4.2.3.2; Linux `vm_setup_vq`).
 *
 * The registers, in the order the spec fixes (anything else, such as the
 * order of the seven configuration writes, is free):
 *
 * - `QueueSel` is written `index` before any queue register is touched, and
 *   no other queue is selected meanwhile;
 * - `QueueReady` is read, and found 0, before any write to the queue;
 * - `QueueNumMax` is read before `QueueNum` is written;
 * - `QueueNum` and the six address registers (each address as its Low word,
 *   bits 0..31, and its High word, bits 32..63) are written while the queue
 *   is not ready, all before `QueueReady` is written 1;
 * - `QueueReady` is read back after it is written 1: the lab's device keeps it
 *   0 for a queue it refuses.
 *
 * The size: `request.size` (default `QueueNumMax`), no more than
 * `QueueNumMax` nor `request.maxSize` (default 32768), rounded down to a
 * power of two (`QueueNumMax` 100 gives 64). The areas come from
 * `allocateAreas(allocator, size)`; their addresses are guest-physical and
 * may lie above 4 GiB (6.1/4).
 *
 * It gives up with `new QueueSetupError(message, index, step, value)` (from
 * `transport/driver_queues.ts`; the message is yours), undoing only what it
 * did:
 *
 * | `step`                   | when                                     | `value`           | by then                                   |
 * | ------------------------ | ---------------------------------------- | ----------------- | ----------------------------------------- |
 * | `"QueueReady"`           | `QueueReady` reads nonzero: in use       | the value read    | nothing written but `QueueSel`            |
 * | `"QueueNumMax"`          | `QueueNumMax` reads 0: no such queue     | 0                 | nothing written but `QueueSel`, nothing allocated |
 * | `"size"`                 | no size of at least 1 fits               | the capped size   | nothing written but `QueueSel`, nothing allocated |
 * | `"allocation"`           | `allocateAreas` threw                    | the size          | nothing written but `QueueSel`; its error is the `cause` (`{ cause }`, the fifth argument) |
 * | `"QueueReady read-back"` | `QueueReady` reads other than 1 after 1 was written | the value read | the three areas freed (`allocator.free`) |
 *
 * (`allocateAreas` frees its own partial work when it fails: nothing of it is
 * left for you to free.)
 *
 * @param window The window's registers.
 * @param allocator The driver side's allocator: give it to `allocateAreas`,
 *   and free the areas with it on the read-back failure.
 * @param index The queue index.
 * @param request The size wanted (`size`) and the driver's bound (`maxSize`).
 * @param allocateAreas Allocates the three areas for a size (lesson 4's part).
 * @returns The size chosen and the three areas' addresses.
 * @throws {QueueSetupError} As in the table.
 */
export function setupQueue(
  window: RegisterWindow,
  allocator: GuestAllocator,
  index: number,
  request: QueueSetupRequest,
  allocateAreas: QueueAreaAllocator,
): QueueSetup {
  return todo(
    "setupQueue",
    `set up queue ${index} of the device at 0x${window.base.toString(16)}`,
  );
}

/**
 * Driver side: stops the device using queue `index` (§4.2.3.2, 4.2.2.2/11;
 * Linux `vm_del_vq`). It selects the queue, writes 0 to `QueueReady`, then
 * reads `QueueReady` until it reads 0, and returns then: from that moment
 * the device will not touch the queue again (4.2.2.1/7), and the caller may
 * free its areas. It allocates and frees nothing itself.
 *
 * After the write it reads `QueueReady` at most `maxPolls` times; when none
 * of those reads gave 0 it throws `new QueueStopError(index, maxPolls, last
 * value read)` (from `transport/driver_queues.ts`): the device may still use
 * the queue, so its areas must stay allocated.
 *
 * @param window The window's registers.
 * @param index The queue index.
 * @param maxPolls Reads of `QueueReady` allowed after the write: at least 1 (default 1000).
 * @throws {QueueStopError} When `QueueReady` never reads 0.
 */
export function stopQueue(window: RegisterWindow, index: number, maxPolls = 1000): void {
  return todo(
    "stopQueue",
    `stop queue ${index} of the device at 0x${window.base.toString(16)}`,
  );
}
