package io.mithril.agent.cas;

import java.util.HexFormat;
import java.util.Objects;

/**
 * A BLAKE3-256 content address. Held as four longs so that a million of them in the index cost
 * no byte arrays; the text form is 64 lowercase hex digits, exactly what {@code b3sum} prints.
 */
public record Address(long w0, long w1, long w2, long w3) implements Comparable<Address> {

    public static final int BYTES = 32;
    private static final HexFormat HEX = HexFormat.of();

    /** Parses 64 lowercase hex digits; anything else is refused with a message that says why. */
    public static Address parse(String text) {
        Objects.requireNonNull(text, "address");
        if (text.length() != 64) {
            throw new IllegalArgumentException(
                    "malformed address: expected 64 lowercase hex digits, got " + text.length() + " characters");
        }
        for (int i = 0; i < 64; i++) {
            char c = text.charAt(i);
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
                throw new IllegalArgumentException("malformed address: character " + i + " is not lowercase hex");
            }
        }
        return fromBytes(HEX.parseHex(text));
    }

    public static boolean isValid(String text) {
        try {
            parse(text);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    public static Address fromBytes(byte[] b) {
        if (b.length != BYTES) {
            throw new IllegalArgumentException("address needs 32 bytes, got " + b.length);
        }
        return new Address(word(b, 0), word(b, 8), word(b, 16), word(b, 24));
    }

    private static long word(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xffL);
        }
        return v;
    }

    public byte[] toBytes() {
        byte[] out = new byte[BYTES];
        long[] w = {w0, w1, w2, w3};
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 8; j++) {
                out[i * 8 + j] = (byte) (w[i] >>> (56 - 8 * j));
            }
        }
        return out;
    }

    public String hex() {
        return HEX.formatHex(toBytes());
    }

    /** The two-character shard directory a blob lives in. */
    public String shard() {
        return hex().substring(0, 2);
    }

    @Override
    public int compareTo(Address o) {
        int c = Long.compareUnsigned(w0, o.w0);
        if (c == 0) c = Long.compareUnsigned(w1, o.w1);
        if (c == 0) c = Long.compareUnsigned(w2, o.w2);
        if (c == 0) c = Long.compareUnsigned(w3, o.w3);
        return c;
    }

    @Override
    public String toString() {
        return hex();
    }
}
