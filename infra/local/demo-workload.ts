import { Decimal128, type Document, type MongoClient, ObjectId } from 'mongodb';

export interface DemoCounts {
  inserts: number;
  updates: number;
  replaces: number;
  deletes: number;
}

const TIERS = ['bronze', 'silver', 'gold'] as const;
const STATUSES = ['placed', 'paid', 'shipped', 'delivered'] as const;
const PRODUCTS = ['kettle', 'lamp', 'desk', 'chair', 'mug', 'rug', 'shelf'] as const;

function pick<T>(values: readonly T[]): T {
  return values[Math.floor(Math.random() * values.length)] as T;
}

function money(cents: number): Decimal128 {
  return Decimal128.fromString((cents / 100).toFixed(2));
}

/**
 * A small shop: customers and their orders, written at a steady rate with the mix an operational database sees
 * (mostly new orders and status changes, some profile edits and replacements, a few deletions), with the BSON types
 * that matter downstream: ObjectId, Decimal128, Date, nested arrays and documents.
 */
export class DemoWorkload {
  readonly counts: DemoCounts = { inserts: 0, updates: 0, replaces: 0, deletes: 0 };
  private readonly customerIds: string[] = [];
  private readonly orderIds: ObjectId[] = [];
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> = Promise.resolve();
  private nextCustomer = 1;

  /**
   * Names this run's customers, so a demo restarted against retained data never inserts an _id an earlier run used
   * (MongoDB would refuse the insert). Time-ordered, so ids sort by run.
   */
  readonly runId: string;

  constructor(
    private readonly client: MongoClient,
    readonly database: string,
    private readonly opsPerSecond: number,
    runId = `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 3).toString(36).padStart(3, '0')}`,
  ) {
    this.runId = runId;
  }

  private get customers() {
    // Customers are keyed by readable strings, orders by ObjectIds: sinks must handle both kinds of _id.
    return this.client.db(this.database).collection<{ _id: string } & Document>('customers');
  }

  private get orders() {
    return this.client.db(this.database).collection<Document>('orders');
  }

  /**
   * Writes `customers` customers and twice as many orders before the pipeline's first run, when the demo collections
   * are empty, so the quickstart shows existing data arriving through the initial snapshot. Returns how many it wrote.
   */
  async seed(customers: number): Promise<number> {
    if ((await this.customers.estimatedDocumentCount()) > 0 || (await this.orders.estimatedDocumentCount()) > 0) return 0;
    const people = Array.from({ length: customers }, () => this.newCustomer());
    await this.customers.insertMany(people);
    this.customerIds.push(...people.map((person) => person._id));
    const orders = Array.from({ length: customers * 2 }, () => this.newOrder());
    await this.orders.insertMany(orders);
    this.orderIds.push(...orders.map((order) => order._id));
    return people.length + orders.length;
  }

  start(onError: (error: Error) => void): void {
    // Ticks of 100 ms carry a tenth of the rate each, so low and high rates are both smooth enough to watch.
    let owed = 0;
    this.timer = setInterval(() => {
      owed += this.opsPerSecond / 10;
      const now = Math.floor(owed);
      owed -= now;
      this.inFlight = this.inFlight.then(async () => {
        for (let index = 0; index < now; index++) await this.step();
      }).catch((error: Error) => onError(error));
    }, 100);
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.inFlight;
  }

  private async step(): Promise<void> {
    const roll = Math.random();
    if (this.customerIds.length < 5 || roll < 0.12) return this.addCustomer();
    if (this.orderIds.length < 5 || roll < 0.5) return this.placeOrder();
    if (roll < 0.75) return this.advanceOrder();
    if (roll < 0.85) return this.editCustomer();
    if (roll < 0.9) return this.replaceCustomer();
    if (roll < 0.97) return this.cancelOrder();
    return this.removeCustomer();
  }

  private newCustomer() {
    const number = String(this.nextCustomer++).padStart(5, '0');
    const id = `cust-${this.runId}-${number}`;
    return {
      _id: id,
      name: `Customer ${number}`,
      email: `${id}@example.com`,
      tier: pick(TIERS),
      since: new Date(),
      address: { city: pick(['Lyon', 'Porto', 'Turku', 'Gdańsk']), country: pick(['FR', 'PT', 'FI', 'PL']) },
    };
  }

  private newOrder() {
    const items = Array.from({ length: 1 + Math.floor(Math.random() * 3) }, () => ({
      product: pick(PRODUCTS),
      quantity: 1 + Math.floor(Math.random() * 3),
      price: money(500 + Math.floor(Math.random() * 20_000)),
    }));
    return {
      _id: new ObjectId(),
      customerId: pick(this.customerIds),
      status: 'placed',
      placedAt: new Date(),
      items,
      total: money(items.reduce((sum, item) => sum + Number(item.price.toString()) * 100 * item.quantity, 0)),
      history: [{ status: 'placed', at: new Date() }],
    };
  }

  private async addCustomer(): Promise<void> {
    const customer = this.newCustomer();
    await this.customers.insertOne(customer);
    this.customerIds.push(customer._id);
    this.counts.inserts++;
  }

  private async placeOrder(): Promise<void> {
    const order = this.newOrder();
    await this.orders.insertOne(order);
    this.orderIds.push(order._id);
    this.counts.inserts++;
  }

  private async advanceOrder(): Promise<void> {
    const _id = pick(this.orderIds);
    const status = pick(STATUSES);
    const result = await this.orders.updateOne({ _id }, { $set: { status, updatedAt: new Date() }, $push: { history: { status, at: new Date() } } as Document });
    if (result.modifiedCount > 0) this.counts.updates++;
  }

  private async editCustomer(): Promise<void> {
    const _id = pick(this.customerIds);
    const result = await this.customers.updateOne({ _id: _id }, { $set: { tier: pick(TIERS), updatedAt: new Date() } });
    if (result.modifiedCount > 0) this.counts.updates++;
  }

  private async replaceCustomer(): Promise<void> {
    const _id = pick(this.customerIds);
    const result = await this.customers.replaceOne(
      { _id: _id },
      { name: `Customer ${_id.slice(-5)} (renamed)`, email: `${_id}@example.org`, tier: pick(TIERS), since: new Date(), address: null },
    );
    if (result.modifiedCount > 0) this.counts.replaces++;
  }

  private async cancelOrder(): Promise<void> {
    const index = Math.floor(Math.random() * this.orderIds.length);
    const [_id] = this.orderIds.splice(index, 1);
    if ((await this.orders.deleteOne({ _id })).deletedCount > 0) this.counts.deletes++;
  }

  private async removeCustomer(): Promise<void> {
    const index = Math.floor(Math.random() * this.customerIds.length);
    const [_id] = this.customerIds.splice(index, 1);
    if ((await this.customers.deleteOne({ _id: _id })).deletedCount > 0) this.counts.deletes++;
  }
}
