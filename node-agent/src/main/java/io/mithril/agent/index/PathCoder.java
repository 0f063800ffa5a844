package io.mithril.agent.index;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * An entry's file paths in one byte array, front-coded: each path is stored as the length of the
 * prefix it shares with the previous one, then its remaining UTF-8 bytes (with the executable bit
 * folded into their length). A Triton folder's eight files share their kernel's stem, so most of
 * each name is stored once.
 */
final class PathCoder {
    private byte[] buf;
    private int len;
    private byte[] prev = new byte[0];

    PathCoder(int capacity) {
        buf = new byte[Math.max(capacity, 16)];
    }

    void add(String path, boolean executable) {
        byte[] p = NameCodec.encode(path);
        int shared = 0;
        int max = Math.min(p.length, prev.length);
        while (shared < max && p[shared] == prev[shared]) {
            shared++;
        }
        // never split a UTF-8 sequence: back off to a character boundary
        while (shared > 0 && shared < p.length && (p[shared] & 0xC0) == 0x80) {
            shared--;
        }
        int rest = p.length - shared;
        ensure(10 + rest);
        varint(shared);
        varint(((long) rest << 1) | (executable ? 1 : 0));
        System.arraycopy(p, shared, buf, len, rest);
        len += rest;
        prev = p;
    }

    byte[] toBytes() {
        return Arrays.copyOf(buf, len);
    }

    private void ensure(int more) {
        if (len + more > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, len + more));
        }
    }

    private void varint(long v) {
        while ((v & ~0x7FL) != 0) {
            buf[len++] = (byte) ((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        buf[len++] = (byte) v;
    }

    /** Reads the paths back in order. */
    static final class Reader {
        private final ByteBuffer buf;
        private final int end;
        private int pos;
        private byte[] prev = new byte[0];
        private int prevLen;
        private boolean executable;

        /** Over the {@code len} bytes at {@code from} of {@code buf} (absolute reads only: buffers are shared). */
        Reader(ByteBuffer buf, int from, int len) {
            this.buf = buf;
            this.pos = from;
            this.end = from + len;
        }

        String next() {
            int shared = (int) varint();
            long v = varint();
            int rest = (int) (v >>> 1);
            executable = (v & 1) != 0;
            int n = shared + rest;
            if (prev.length < n) {
                prev = Arrays.copyOf(prev, Math.max(n, prev.length * 2));
            }
            if (pos + rest > end) {
                throw new IllegalStateException("paths end inside a path");
            }
            buf.get(pos, prev, shared, rest);
            pos += rest;
            prevLen = n;
            return NameCodec.decode(prev, 0, prevLen);
        }

        boolean executable() {
            return executable;
        }

        private long varint() {
            long v = 0;
            int shift = 0;
            while (true) {
                byte b = buf.get(pos++);
                v |= (long) (b & 0x7F) << shift;
                if (b >= 0) {
                    return v;
                }
                shift += 7;
            }
        }
    }
}
