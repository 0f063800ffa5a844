package io.mithril.agent.fs;

import java.io.ByteArrayOutputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * File names are bytes. The JDK turns them into strings with the platform's encoding, which loses
 * bytes under a UTF-8 locale (invalid sequences become U+FFFD, so two names can collapse into one)
 * and fails under the POSIX locale (a name with {@code é} cannot be turned back into a path). Mithril
 * keeps names as strings in its index, so they are mapped here, whatever the locale, by one lossless
 * rule: valid UTF-8 is decoded as such, and every byte that is not part of valid UTF-8 becomes the
 * lone surrogate U+DC00 + byte (Python's {@code surrogateescape}). The way back encodes exactly those
 * bytes again. Paths are built from bytes through {@code file:} URIs, the one public JDK route that
 * never goes through the platform encoding.
 */
public final class FileNames {

    private FileNames() {}

    /** The lossless name of a relative path ('/'-separated), from the path's own bytes. */
    public static String of(Path relative) {
        if (relative.isAbsolute()) {
            throw new IllegalArgumentException("not relative: " + relative);
        }
        return decode(bytes(relative));
    }

    /** {@code base} joined with a name made by {@link #of}: the same bytes as the file it came from. */
    public static Path resolve(Path base, String name) {
        if (isPlainAscii(name)) {
            return base.resolve(name);
        }
        byte[] rel = encode(name);
        StringBuilder b = new StringBuilder(base.toAbsolutePath().toUri().getRawPath());
        if (b.charAt(b.length() - 1) != '/') {
            b.append('/');
        }
        for (byte x : rel) {
            int c = x & 0xff;
            if (c == '/'
                    || (c >= 'a' && c <= 'z')
                    || (c >= 'A' && c <= 'Z')
                    || (c >= '0' && c <= '9')
                    || c == '.'
                    || c == '-'
                    || c == '_') {
                b.append((char) c);
            } else {
                b.append('%')
                        .append(Character.toUpperCase(Character.forDigit(c >> 4, 16)))
                        .append(Character.toUpperCase(Character.forDigit(c & 15, 16)));
            }
        }
        return Path.of(URI.create("file://" + b));
    }

    /** The raw bytes of a path as the kernel sees them (a relative path's stay relative). */
    public static byte[] bytes(Path p) {
        String s = p.toString();
        if (isPlainAscii(s) && s.indexOf('\uFFFD') < 0) {
            return s.getBytes(StandardCharsets.US_ASCII);
        }
        // Under "/" (never a directory the path names, so toUri adds no trailing slash): the same bytes
        Path abs = p.isAbsolute() ? p : p.getFileSystem().getPath("/").resolve(p);
        byte[] all = percentDecode(abs.toUri().getRawPath());
        int len = all.length;
        if (len > 1 && all[len - 1] == '/' && !s.endsWith("/")) {
            len--; // toUri marks an existing directory with a trailing slash
        }
        return p.isAbsolute() ? Arrays.copyOf(all, len) : Arrays.copyOfRange(all, 1, len);
    }

    static String decode(byte[] b) {
        CharsetDecoder d = StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try {
            String s = d.decode(ByteBuffer.wrap(b)).toString();
            if (!hasEscapes(s)) {
                return s;
            }
        } catch (CharacterCodingException invalid) {
            // fall through to the byte-by-byte decoding
        }
        StringBuilder out = new StringBuilder(b.length);
        ByteBuffer in = ByteBuffer.wrap(b);
        CharBuffer one = CharBuffer.allocate(2);
        while (in.hasRemaining()) {
            int n = seqLength(b[in.position()]);
            boolean ok = false;
            if (n > 0 && in.remaining() >= n) {
                one.clear();
                d.reset();
                ByteBuffer seq = ByteBuffer.wrap(b, in.position(), n);
                if (!d.decode(seq, one, true).isError() && !d.flush(one).isError() && one.position() > 0) {
                    one.flip();
                    String c = one.toString();
                    if (!hasEscapes(c)) {
                        out.append(c);
                        in.position(in.position() + n);
                        ok = true;
                    }
                }
            }
            if (!ok) {
                out.append((char) (0xDC00 + (in.get() & 0xff)));
            }
        }
        return out.toString();
    }

    static byte[] encode(String s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(s.length() + 8);
        int i = 0;
        while (i < s.length()) {
            char c = s.charAt(i);
            if (c >= 0xDC80 && c <= 0xDCFF && !(i > 0 && Character.isHighSurrogate(s.charAt(i - 1)))) {
                out.write(c - 0xDC00);
                i++;
                continue;
            }
            int cp = s.codePointAt(i);
            byte[] enc = new String(Character.toChars(cp)).getBytes(StandardCharsets.UTF_8);
            out.write(enc, 0, enc.length);
            i += Character.charCount(cp);
        }
        return out.toByteArray();
    }

    private static boolean hasEscapes(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0xDC80 && c <= 0xDCFF) {
                return true; // only from the escapes: valid UTF-8 never decodes to a lone low surrogate
            }
        }
        return false;
    }

    private static int seqLength(byte first) {
        int c = first & 0xff;
        if (c < 0x80) {
            return 1;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            return 2;
        }
        if (c >= 0xE0 && c <= 0xEF) {
            return 3;
        }
        if (c >= 0xF0 && c <= 0xF4) {
            return 4;
        }
        return 0;
    }

    private static boolean isPlainAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x80 || c == '%') {
                return false;
            }
        }
        return true;
    }

    private static byte[] percentDecode(String raw) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%' && i + 2 < raw.length()) {
                out.write(Integer.parseInt(raw.substring(i + 1, i + 3), 16));
                i += 2;
            } else {
                byte[] enc = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
                out.write(enc, 0, enc.length);
            }
        }
        return out.toByteArray();
    }
}
