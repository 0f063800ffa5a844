package io.mithril.agent.index;

import java.nio.charset.StandardCharsets;

/**
 * Names and paths as bytes in the index, losslessly for every Java string: UTF-8, except that a lone
 * surrogate (which {@code String.getBytes(UTF_8)} would turn into {@code ?}) is written as the 3-byte
 * form of its code unit (as WTF-8 does). Names of files that are not valid UTF-8 reach the index as
 * lone surrogates (`fs.FileNames`), so two such names must not collapse into one here.
 */
final class NameCodec {

    private NameCodec() {}

    static byte[] encode(String s) {
        int n = s.length();
        boolean plain = true;
        for (int i = 0; i < n && plain; i++) {
            plain = s.charAt(i) < 0x80;
        }
        if (plain) {
            return s.getBytes(StandardCharsets.US_ASCII);
        }
        byte[] out = new byte[n * 3];
        int o = 0;
        for (int i = 0; i < n; i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                out[o++] = (byte) c;
            } else if (c < 0x800) {
                out[o++] = (byte) (0xC0 | (c >> 6));
                out[o++] = (byte) (0x80 | (c & 0x3F));
            } else if (Character.isHighSurrogate(c) && i + 1 < n && Character.isLowSurrogate(s.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, s.charAt(++i));
                out[o++] = (byte) (0xF0 | (cp >> 18));
                out[o++] = (byte) (0x80 | ((cp >> 12) & 0x3F));
                out[o++] = (byte) (0x80 | ((cp >> 6) & 0x3F));
                out[o++] = (byte) (0x80 | (cp & 0x3F));
            } else { // any other char of the BMP, a lone surrogate included
                out[o++] = (byte) (0xE0 | (c >> 12));
                out[o++] = (byte) (0x80 | ((c >> 6) & 0x3F));
                out[o++] = (byte) (0x80 | (c & 0x3F));
            }
        }
        byte[] exact = new byte[o];
        System.arraycopy(out, 0, exact, 0, o);
        return exact;
    }

    static String decode(byte[] b) {
        return decode(b, 0, b.length);
    }

    /** The string {@link #encode} made these bytes from. */
    static String decode(byte[] b, int off, int len) {
        int end = off + len;
        boolean plain = true;
        for (int i = off; i < end && plain; i++) {
            plain = b[i] >= 0;
        }
        if (plain) {
            return new String(b, off, len, StandardCharsets.US_ASCII);
        }
        StringBuilder out = new StringBuilder(len);
        int i = off;
        while (i < end) {
            int c = b[i] & 0xFF;
            if (c < 0x80) {
                out.append((char) c);
                i += 1;
            } else if (c < 0xE0) {
                out.append((char) (((c & 0x1F) << 6) | (b[i + 1] & 0x3F)));
                i += 2;
            } else if (c < 0xF0) {
                out.append((char) (((c & 0x0F) << 12) | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F)));
                i += 3;
            } else {
                int cp = ((c & 0x07) << 18) | ((b[i + 1] & 0x3F) << 12) | ((b[i + 2] & 0x3F) << 6) | (b[i + 3] & 0x3F);
                out.appendCodePoint(cp);
                i += 4;
            }
        }
        return out.toString();
    }
}
