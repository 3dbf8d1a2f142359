import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import java.nio.charset.StandardCharsets;

/**
 * Lets binaries of every BSON subtype through mongo-java-server, whose decoder knows only subtypes 0, 3, 4 and 0x80 and
 * whose encoder writes every other binary back as subtype 0. Incoming OP_MSG frames have each binary of another subtype
 * (or a UUID subtype of unusual length) rewritten into a generic binary that carries a marker, the subtype and the
 * original bytes; outgoing OP_MSG frames have such binaries restored. Frames without such binaries pass untouched.
 * Sits below the wire codec: inbound it sees whole frames, outbound the encoded bytes.
 */
final class BinarySubtypes extends ChannelDuplexHandler {
    private static final int OP_MSG = 2013;
    private static final byte[] MARKER = "\u0000bin-subtype\u0000".getBytes(StandardCharsets.ISO_8859_1);

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object message) {
        ctx.fireChannelRead(message instanceof ByteBuf ? rewriteFrame((ByteBuf) message, true) : message);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
        ctx.write(message instanceof ByteBuf ? rewriteFrame((ByteBuf) message, false) : message, promise);
    }

    /** Returns the frame itself when nothing needs rewriting, else a rewritten copy (releasing the original). */
    private static ByteBuf rewriteFrame(ByteBuf frame, boolean inbound) {
        int start = frame.readerIndex();
        if (frame.readableBytes() < 21 || frame.getIntLE(start + 12) != OP_MSG) return frame;
        int end = start + frame.getIntLE(start);
        if (end > frame.writerIndex()) return frame;
        boolean checksum = (frame.getIntLE(start + 16) & 1) != 0;
        int sectionsEnd = checksum ? end - 4 : end;
        if (!sectionsNeedRewrite(frame, start + 20, sectionsEnd, inbound)) return frame;

        ByteBuf out = frame.alloc().buffer(frame.readableBytes() + 64);
        out.writeBytes(frame, start, 20);
        out.setIntLE(16, out.getIntLE(16) & ~1); // the checksum no longer matches: drop it
        int position = start + 20;
        while (position < sectionsEnd) {
            int kind = frame.getByte(position);
            out.writeByte(kind);
            position++;
            if (kind == 0) {
                position = copyDocument(frame, position, out, inbound);
            } else {
                int sizeAt = out.writerIndex();
                int sectionEnd = position + frame.getIntLE(position);
                out.writeIntLE(0);
                position += 4;
                int nameEnd = frame.indexOf(position, sectionEnd, (byte) 0) + 1;
                out.writeBytes(frame, position, nameEnd - position);
                position = nameEnd;
                while (position < sectionEnd) position = copyDocument(frame, position, out, inbound);
                out.setIntLE(sizeAt, out.writerIndex() - sizeAt);
            }
        }
        out.setIntLE(0, out.writerIndex());
        frame.release();
        return out;
    }

    private static boolean sectionsNeedRewrite(ByteBuf frame, int position, int end, boolean inbound) {
        while (position < end) {
            int kind = frame.getByte(position++);
            if (kind == 0) {
                if (documentNeedsRewrite(frame, position, inbound)) return true;
                position += frame.getIntLE(position);
            } else {
                int sectionEnd = position + frame.getIntLE(position);
                position = frame.indexOf(position + 4, sectionEnd, (byte) 0) + 1;
                while (position < sectionEnd) {
                    if (documentNeedsRewrite(frame, position, inbound)) return true;
                    position += frame.getIntLE(position);
                }
            }
        }
        return false;
    }

    private static boolean documentNeedsRewrite(ByteBuf buffer, int position, boolean inbound) {
        int end = position + buffer.getIntLE(position) - 1;
        position += 4;
        while (position < end) {
            byte type = buffer.getByte(position);
            int valueAt = buffer.indexOf(position + 1, end, (byte) 0) + 1;
            if (type == 0x05 && needsRewrite(buffer, valueAt, inbound)) return true;
            if ((type == 0x03 || type == 0x04) && documentNeedsRewrite(buffer, valueAt, inbound)) return true;
            position = valueAt + valueSize(buffer, type, valueAt);
        }
        return false;
    }

    private static boolean needsRewrite(ByteBuf buffer, int valueAt, boolean inbound) {
        int length = buffer.getIntLE(valueAt);
        int subtype = buffer.getByte(valueAt + 4) & 0xff;
        if (inbound) return !(subtype == 0 || ((subtype == 3 || subtype == 4) && length == 16));
        if (subtype != 0 || length <= MARKER.length) return false;
        for (int index = 0; index < MARKER.length; index++) {
            if (buffer.getByte(valueAt + 5 + index) != MARKER[index]) return false;
        }
        return true;
    }

    private static int copyDocument(ByteBuf buffer, int position, ByteBuf out, boolean inbound) {
        int documentEnd = position + buffer.getIntLE(position);
        int sizeAt = out.writerIndex();
        out.writeIntLE(0);
        position += 4;
        while (position < documentEnd - 1) {
            byte type = buffer.getByte(position);
            int valueAt = buffer.indexOf(position + 1, documentEnd, (byte) 0) + 1;
            out.writeBytes(buffer, position, valueAt - position);
            int size = valueSize(buffer, type, valueAt);
            if (type == 0x03 || type == 0x04) {
                copyDocument(buffer, valueAt, out, inbound);
            } else if (type == 0x05 && needsRewrite(buffer, valueAt, inbound)) {
                int length = buffer.getIntLE(valueAt);
                if (inbound) {
                    out.writeIntLE(length + MARKER.length + 1).writeByte(0).writeBytes(MARKER);
                    out.writeByte(buffer.getByte(valueAt + 4)).writeBytes(buffer, valueAt + 5, length);
                } else {
                    int subtype = buffer.getByte(valueAt + 5 + MARKER.length);
                    out.writeIntLE(length - MARKER.length - 1).writeByte(subtype);
                    out.writeBytes(buffer, valueAt + 5 + MARKER.length + 1, length - MARKER.length - 1);
                }
            } else {
                out.writeBytes(buffer, valueAt, size);
            }
            position = valueAt + size;
        }
        out.writeByte(0);
        out.setIntLE(sizeAt, out.writerIndex() - sizeAt);
        return documentEnd;
    }

    /** Size in bytes of a BSON value of the given type starting at position. */
    private static int valueSize(ByteBuf buffer, byte type, int position) {
        switch (type) {
            case 0x01: case 0x09: case 0x11: case 0x12: return 8;
            case 0x02: case 0x0D: case 0x0E: return 4 + buffer.getIntLE(position);
            case 0x03: case 0x04: case 0x0F: return buffer.getIntLE(position);
            case 0x05: return 5 + buffer.getIntLE(position);
            case 0x06: case 0x0A: case (byte) 0xFF: case 0x7F: return 0;
            case 0x07: return 12;
            case 0x08: return 1;
            case 0x0B: {
                int patternEnd = buffer.indexOf(position, buffer.writerIndex(), (byte) 0) + 1;
                return buffer.indexOf(patternEnd, buffer.writerIndex(), (byte) 0) + 1 - position;
            }
            case 0x0C: return 4 + buffer.getIntLE(position) + 12;
            case 0x10: return 4;
            case 0x13: return 16;
            default: throw new IllegalArgumentException("unknown BSON type 0x" + Integer.toHexString(type & 0xff));
        }
    }
}
