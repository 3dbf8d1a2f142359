import { connect, type Socket } from 'node:net';

/*
 * Removes one member from a consumer group the way an operator's admin client does (Kafka's
 * AdminClient.removeMembersFromConsumerGroup, KIP-345/KIP-571: a LeaveGroup v3 request naming the member, sent to the
 * group's coordinator). The member learns it is gone from its next heartbeat, commit or sync, which the coordinator
 * answers with UNKNOWN_MEMBER_ID ("The coordinator is not aware of this member"): the same state a consumer is left in
 * when the coordinator forgets it across a broker restart or evicts it in a rebalance storm. KafkaJS's admin client has
 * no such call, so the two requests are written here in the wire format (both non-flexible versions).
 */

const API_FIND_COORDINATOR = 10;
const API_LEAVE_GROUP = 13;
const CLIENT_ID = 'group-member-removal';

class Writer {
  private readonly parts: Buffer[] = [];
  int16(value: number): this {
    const buffer = Buffer.alloc(2);
    buffer.writeInt16BE(value);
    this.parts.push(buffer);
    return this;
  }
  int32(value: number): this {
    const buffer = Buffer.alloc(4);
    buffer.writeInt32BE(value);
    this.parts.push(buffer);
    return this;
  }
  string(value: string | null): this {
    if (value === null) return this.int16(-1);
    const bytes = Buffer.from(value, 'utf8');
    this.int16(bytes.length);
    this.parts.push(bytes);
    return this;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class Reader {
  private offset = 0;
  constructor(private readonly buffer: Buffer) {}
  int16(): number {
    const value = this.buffer.readInt16BE(this.offset);
    this.offset += 2;
    return value;
  }
  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }
  string(): string | null {
    const length = this.int16();
    if (length < 0) return null;
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }
}

/** One request on a fresh connection; resolves with the response body after the correlation id. */
async function request(host: string, port: number, apiKey: number, apiVersion: number, body: Buffer): Promise<Reader> {
  const correlationId = Math.floor(Math.random() * 2 ** 30);
  const message = Buffer.concat([new Writer().int16(apiKey).int16(apiVersion).int32(correlationId).string(CLIENT_ID).bytes(), body]);
  const framed = Buffer.concat([new Writer().int32(message.length).bytes(), message]);
  const socket: Socket = connect({ host, port });
  try {
    return await new Promise<Reader>((resolve, reject) => {
      let received = Buffer.alloc(0);
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`${host}:${port} closed the connection before answering API ${apiKey}`)));
      socket.on('data', (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
        if (received.length < 4 || received.length < 4 + received.readInt32BE(0)) return;
        const response = new Reader(received.subarray(4, 4 + received.readInt32BE(0)));
        if (response.int32() !== correlationId) reject(new Error(`API ${apiKey}: answer for another request`));
        else resolve(response);
      });
      socket.write(framed);
    });
  } finally {
    socket.destroy();
  }
}

function parseBroker(broker: string): { host: string; port: number } {
  const at = broker.lastIndexOf(':');
  return { host: broker.slice(0, at), port: Number(broker.slice(at + 1)) };
}

/** The broker coordinating `groupId` (FindCoordinator v0). */
async function coordinatorOf(bootstrap: string, groupId: string): Promise<{ host: string; port: number }> {
  const { host, port } = parseBroker(bootstrap);
  const response = await request(host, port, API_FIND_COORDINATOR, 0, new Writer().string(groupId).bytes());
  const errorCode = response.int16();
  if (errorCode !== 0) throw new Error(`FindCoordinator for group ${groupId} failed with Kafka error code ${errorCode}`);
  response.int32(); // node id
  const coordinatorHost = response.string() ?? host;
  return { host: coordinatorHost, port: response.int32() };
}

/**
 * Removes `memberId` from `groupId` (LeaveGroup v3 on the member's behalf). Throws unless the coordinator confirmed the
 * removal; a member that already left is reported by Kafka as UNKNOWN_MEMBER_ID (error code 25).
 */
export async function removeGroupMember(bootstrap: string, groupId: string, memberId: string): Promise<void> {
  const coordinator = await coordinatorOf(bootstrap, groupId);
  const body = new Writer().string(groupId).int32(1).string(memberId).string(null).bytes();
  const response = await request(coordinator.host, coordinator.port, API_LEAVE_GROUP, 3, body);
  response.int32(); // throttle time
  const errorCode = response.int16();
  const members = response.int32();
  const memberErrors: number[] = [];
  for (let index = 0; index < members; index++) {
    response.string();
    response.string();
    memberErrors.push(response.int16());
  }
  const failed = [errorCode, ...memberErrors].find((code) => code !== 0);
  if (failed !== undefined) throw new Error(`LeaveGroup for member ${memberId} of group ${groupId} failed with Kafka error code ${failed}`);
}
