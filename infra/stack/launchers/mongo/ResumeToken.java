import de.bwaldvogel.mongo.bson.Document;
import de.bwaldvogel.mongo.exception.MongoServerError;

/**
 * Resume tokens shaped like MongoDB's: {_data: hex string} that begins, as MongoDB's KeyString encoding does, with 0x82
 * and the cluster time as 8 big-endian bytes, so tokens sort by cluster time when compared as strings. One more byte
 * orders tokens of one cluster time: a high-water mark (what a quiet stream's postBatchResumeToken carries) before the
 * event, the event before the invalidate it caused.
 */
final class ResumeToken {
    static final int HIGH_WATER_MARK = 0x00;
    static final int EVENT = 0x80;
    static final int INVALIDATE = 0x81;

    final long ts;
    final int kind;

    private ResumeToken(long ts, int kind) {
        this.ts = ts;
        this.kind = kind;
    }

    static Document of(long ts, int kind) {
        return new Document("_data", String.format("82%016X%02X", ts, kind));
    }

    static ResumeToken parse(Object token) {
        Object data = token instanceof Document ? ((Document) token).get("_data") : null;
        if (!(data instanceof String) || ((String) data).length() != 20 || !((String) data).startsWith("82")) {
            throw new MongoServerError(260, "InvalidResumeToken", "Bad resume token: _data of missing or of wrong type: " + token);
        }
        String hex = (String) data;
        try {
            return new ResumeToken(Long.parseUnsignedLong(hex.substring(2, 18), 16), Integer.parseInt(hex.substring(18), 16));
        } catch (NumberFormatException e) {
            throw new MongoServerError(260, "InvalidResumeToken", "Bad resume token: " + token);
        }
    }

    /** The exclusive lower bound of the cluster times a stream resumed from this token delivers. */
    long deliversAfter() {
        return kind == HIGH_WATER_MARK ? ts - 1 : ts;
    }
}
