import { z } from 'zod';
import { jsonVariable } from './env-config';
import { DEFAULT_TOPIC_PREFIX } from './topic-naming';

/*
 * The settings of topic naming (shared/topic-naming.ts), as schemas. Apart from the rule itself so that code that only
 * names topics (the snapshot's reading thread, say) does not load the schema library.
 */

export const topicNamingShape = {
  topicPrefix: z.string().min(1).default(DEFAULT_TOPIC_PREFIX),
  /** Per-namespace topic overrides: { "shop.orders": "orders-v1" }. */
  topics: z.record(z.string(), z.string().min(1)).default({}),
  deadLetterTopic: z.string().min(1).optional(),
};

/**
 * The sinks' view of topic naming, from the same variable as the relay's: `CDC_STREAMS` (only its naming keys are
 * read, so a sink neither needs nor checks the streams' connection variables). `SINK_TOPIC_PREFIX` adds a prefix for
 * topics written by relays the sink is not told about; with neither, the default prefix applies.
 */
export const sinkTopicNamingEnvShape = {
  CDC_STREAMS: jsonVariable(z.array(z.object(topicNamingShape)).min(1, 'must list at least one stream')).optional(),
  SINK_TOPIC_PREFIX: z.string().min(1).optional(),
};
