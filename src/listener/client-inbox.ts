// What a client sent, in order, waiting to be handled one message at a time: a held statement stops
// the queue, and a client that keeps sending meanwhile is paused rather than buffered without end.

import type { Socket } from 'node:net';

/** Queued client bytes beyond this pause reading from the client (a hold must not eat memory). */
const HIGH_WATER_BYTES = 8 * 1024 * 1024;

export class ClientInbox<F extends { readonly raw: Buffer }> {
  private items: F[] = [];
  private head = 0;
  private bytes = 0;
  private pumping = false;
  private pausedForBacklog = false;

  /**
   * handle returns a promise only when the message must be waited on (a hold, a refusal in order);
   * the next message is handled after it settles. onError ends the session.
   */
  constructor(
    private readonly client: Socket,
    private readonly handle: (message: F) => Promise<void> | void,
    private readonly onError: (err: unknown) => void,
    private readonly closed: () => boolean,
  ) {}

  push(message: F): void {
    this.items.push(message);
    this.bytes += message.raw.length;
  }

  /** The next queued message, taken out of turn (an exchange inside a command, e.g. COM_CHANGE_USER). */
  take(): F | undefined {
    if (this.head >= this.items.length) return undefined;
    const message = this.items[this.head++]!;
    this.bytes -= message.raw.length;
    return message;
  }

  /** Backpressure from the other side may resume the client only when the backlog did not pause it. */
  get holdsClientPaused(): boolean {
    return this.pausedForBacklog;
  }

  /** After queueing what a read carried: pause the client past the high-water mark, and handle the queue. */
  process(): void {
    if (this.bytes > HIGH_WATER_BYTES && !this.pausedForBacklog) {
      this.pausedForBacklog = true;
      this.client.pause();
    }
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let message = this.take(); message && !this.closed(); message = this.take()) {
        const pending = this.handle(message);
        if (pending) await pending;
      }
      this.items = [];
      this.head = 0;
      if (this.pausedForBacklog && !this.closed()) {
        this.pausedForBacklog = false;
        this.client.resume();
      }
    } catch (err) {
      this.onError(err);
    } finally {
      this.pumping = false;
    }
  }
}
