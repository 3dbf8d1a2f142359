/**
 * How a stream names its Kafka topics: the one rule, used by the relay (namespace to topic), the sinks (topic back to
 * namespace, for servers whose events omit `ns`), the local runtime and the deploy settings (which topics exist).
 *
 * Topic of a namespace: the override in `topics` for "db.coll" (or "db" for database-level events), else
 * `<topicPrefix>.<db>.<coll>` (the MongoDB Kafka Connector's convention). Dead letters: `deadLetterTopic`, else
 * `<topicPrefix>.dead-letter`.
 */
export const DEFAULT_TOPIC_PREFIX = 'mongo-cdc';

export interface TopicNaming {
  readonly topicPrefix: string;
  readonly topics: Readonly<Record<string, string>>;
  readonly deadLetterTopic?: string | undefined;
}

export interface TopicNamespace {
  readonly db: string;
  readonly coll?: string | undefined;
}

/** A document namespace: what the sinks key their writes by. */
export interface CollectionNamespace {
  readonly db: string;
  readonly coll: string;
}

/** The naming a stream gets when it says nothing: `mongo-cdc.<db>.<coll>`, no overrides. */
export function prefixNaming(topicPrefix: string = DEFAULT_TOPIC_PREFIX): TopicNaming {
  return { topicPrefix, topics: {} };
}

function namespaceKey(namespace: TopicNamespace): string {
  return namespace.coll ? `${namespace.db}.${namespace.coll}` : namespace.db;
}

/** The topic a change event of this namespace is written to. */
export function topicForNamespace(naming: TopicNaming, namespace: TopicNamespace): string {
  const key = namespaceKey(namespace);
  return naming.topics[key] ?? `${naming.topicPrefix}.${key}`;
}

/** The relay's dead-letter topic for a stream with this naming. */
export function deadLetterTopicOf(naming: TopicNaming): string {
  return naming.deadLetterTopic ?? `${naming.topicPrefix}.dead-letter`;
}

/**
 * The topics a stream writes, as far as they are known before any event: the exact topic of a collection stream,
 * else a pattern matching every `<prefix>.<db>.<coll>` topic of the database (or deployment) and never the dead-letter
 * topic. Overrides are listed as exact names.
 */
export function topicsOfStream(
  naming: TopicNaming,
  watched: { readonly database?: string | undefined; readonly collection?: string | undefined },
): Array<string | RegExp> {
  if (watched.database && watched.collection) return [topicForNamespace(naming, { db: watched.database, coll: watched.collection })];
  const overrides = Object.entries(naming.topics)
    .filter(([key]) => !watched.database || key === watched.database || key.startsWith(`${watched.database}.`))
    .map(([, topic]) => topic);
  const database = watched.database ? escapeRegExp(watched.database) : '[^.]+';
  const deadLetter = escapeRegExp(deadLetterTopicOf(naming));
  return [...overrides, new RegExp(`^(?!${deadLetter}$)${escapeRegExp(naming.topicPrefix)}\\.${database}\\..+$`)];
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The inverse of `topicForNamespace` over every naming in use: the collection a topic carries, or undefined when no
 * naming produces this topic for a collection. Overrides win over prefixes, and the longest matching prefix wins (so
 * "cdc" and "cdc.eu" can coexist). Database names cannot contain dots, so `<prefix>.<db>.<coll>` splits at the first
 * dot after the prefix; collection names may contain dots.
 */
export function namespaceOfTopic(namings: readonly TopicNaming[], topic: string): CollectionNamespace | undefined {
  for (const naming of namings) {
    for (const [key, overridden] of Object.entries(naming.topics)) {
      if (overridden !== topic) continue;
      const dot = key.indexOf('.');
      return dot > 0 && dot < key.length - 1 ? { db: key.slice(0, dot), coll: key.slice(dot + 1) } : undefined;
    }
  }
  const prefixes = [...new Set(namings.map((naming) => naming.topicPrefix))].sort((a, b) => b.length - a.length);
  for (const prefix of prefixes) {
    if (!topic.startsWith(`${prefix}.`)) continue;
    const rest = topic.slice(prefix.length + 1);
    const dot = rest.indexOf('.');
    if (dot <= 0 || dot === rest.length - 1) continue;
    return { db: rest.slice(0, dot), coll: rest.slice(dot + 1) };
  }
  return undefined;
}

/** What a sink tells the operator when a topic maps to no collection. */
export function describeNamings(namings: readonly TopicNaming[]): string {
  const forms = namings.flatMap((naming) => [`<${naming.topicPrefix}>.<db>.<collection>`, ...Object.values(naming.topics)]);
  return [...new Set(forms)].join(', ');
}

/** The sinks' view of topic naming (shared/topic-naming-schema.ts reads it from their environment). */
export function sinkTopicNamings(env: {
  readonly CDC_STREAMS?: readonly TopicNaming[] | undefined;
  readonly SINK_TOPIC_PREFIX?: string | undefined;
}): TopicNaming[] {
  const namings: TopicNaming[] = [...(env.CDC_STREAMS ?? [])];
  if (env.SINK_TOPIC_PREFIX !== undefined) namings.push(prefixNaming(env.SINK_TOPIC_PREFIX));
  return namings.length > 0 ? namings : [prefixNaming()];
}
