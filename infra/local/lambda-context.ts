import type { Context } from 'aws-lambda';
import { localRequestId } from './local-lease-owner';

/** A Lambda context whose remaining time really counts down, and which the runtime can cut short on shutdown. */
export class LocalContext {
  private deadline: number;
  readonly context: Context;

  constructor(functionName: string, timeoutMs: number) {
    this.deadline = Date.now() + timeoutMs;
    // The relay takes its lease as this id: naming host and pid lets the next local start free it if this run dies.
    const requestId = localRequestId();
    const remaining = () => Math.max(0, this.deadline - Date.now());
    this.context = {
      callbackWaitsForEmptyEventLoop: false,
      functionName,
      functionVersion: '$LATEST',
      invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
      memoryLimitInMB: '512',
      awsRequestId: requestId,
      logGroupName: `/aws/lambda/${functionName}`,
      logStreamName: `local/${requestId}`,
      getRemainingTimeInMillis: remaining,
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    };
  }

  /** Shutdown: the handler sees its time run out, so it finishes the batch in hand, checkpoints and returns. */
  cut(): void {
    this.deadline = Math.min(this.deadline, Date.now());
  }
}
