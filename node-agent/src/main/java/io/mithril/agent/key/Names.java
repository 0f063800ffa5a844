package io.mithril.agent.key;

import java.nio.charset.StandardCharsets;

/**
 * Validation of every name that becomes part of a path or a journal record: group parts, entry
 * names and the relative paths inside an entry. Names come from untrusted pods, so anything that
 * could escape a directory, confuse a line-oriented reader or overflow a file name is refused.
 */
public final class Names {

    /** Longest relative path (entry name or file path) accepted, in UTF-8 bytes. */
    public static final int MAX_PATH_BYTES = 1024;
    /** Longest single path segment, in UTF-8 bytes (ext4's NAME_MAX). */
    public static final int MAX_SEGMENT_BYTES = 255;

    private Names() {}

    /**
     * A relative path of '/'-separated segments. A trailing '/' is allowed when {@code dirAllowed}
     * (entry names such as {@code triton/ABC/}). Refuses empty segments, '.', '..', NUL and every
     * other control character, backslashes, and over-long names.
     */
    public static String checkRelativePath(String what, String path, boolean dirAllowed) {
        if (path == null || path.isEmpty()) {
            throw new InvalidNameException(what + " is empty");
        }
        if (path.getBytes(StandardCharsets.UTF_8).length > MAX_PATH_BYTES) {
            throw new InvalidNameException(what + " is longer than " + MAX_PATH_BYTES + " bytes");
        }
        if (path.charAt(0) == '/') {
            throw new InvalidNameException(what + " must be relative: " + printable(path));
        }
        String body = dirAllowed && path.endsWith("/") ? path.substring(0, path.length() - 1) : path;
        if (body.isEmpty()) {
            throw new InvalidNameException(what + " is empty");
        }
        for (String seg : body.split("/", -1)) {
            checkSegment(what, seg, path);
        }
        return path;
    }

    /** One path segment: a group part, or one component of a relative path. */
    public static String checkSegment(String what, String seg, String whole) {
        if (seg.isEmpty()) {
            throw new InvalidNameException(what + " has an empty segment: " + printable(whole));
        }
        if (seg.equals(".") || seg.equals("..")) {
            throw new InvalidNameException(what + " has a '" + seg + "' segment: " + printable(whole));
        }
        if (seg.getBytes(StandardCharsets.UTF_8).length > MAX_SEGMENT_BYTES) {
            throw new InvalidNameException(what + " has a segment longer than " + MAX_SEGMENT_BYTES + " bytes");
        }
        for (int i = 0; i < seg.length(); i++) {
            char c = seg.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '\\' || c == '/') {
                throw new InvalidNameException(
                        what + " contains a forbidden character (code " + (int) c + "): " + printable(whole));
            }
        }
        return seg;
    }

    /** A name for logs and errors: control characters shown as escapes, cut at 120 characters. */
    public static String printable(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length() && b.length() < 120; i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                b.append(String.format("\\x%02x", (int) c));
            } else {
                b.append(c);
            }
        }
        return s.length() > 120 ? b + "..." : b.toString();
    }
}
