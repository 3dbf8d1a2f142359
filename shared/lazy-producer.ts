import type { Producer } from 'kafkajs';

/**
 * A Kafka producer created and connected on first use (never before there is something to send) and kept for warm
 * invocations; dropped after a failure so the next use reconnects instead of reusing a broken connection.
 */
export class LazyProducer {
  private producer: Producer | undefined;

  constructor(private readonly create: () => Producer | Promise<Producer>) {}

  async get(): Promise<Producer> {
    if (!this.producer) {
      const producer = await this.create();
      await producer.connect();
      this.producer = producer;
    }
    return this.producer;
  }

  async drop(): Promise<void> {
    const producer = this.producer;
    this.producer = undefined;
    await producer?.disconnect().catch(() => undefined);
  }
}
