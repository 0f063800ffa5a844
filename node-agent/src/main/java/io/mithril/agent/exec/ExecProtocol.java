package io.mithril.agent.exec;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What {@code exec} and a resident agent ({@code serve}) exchange, under the root's {@code agent/}
 * folder (docs/volumes.md, "exec through a resident agent"): a client makes a session folder,
 * writes its request there and its name into the agent's {@link #REQUESTS} pipe; the agent makes
 * the session's two pipes, and the frames below go through them. Every frame is a tag byte and its
 * fields; strings are a length (int) and UTF-8 bytes, lists and maps a count and their strings.
 *
 * <p>Named pipes, not a Unix socket: JDK 17 spends 45-55 ms of a fresh JVM on its first Unix-domain
 * socket (the selector provider's class-path scan, net.properties, seeding a SecureRandom), a third
 * of {@code exec}'s whole budget; opening a pipe is a plain {@code open(2)} (docs/benchmarks.md).
 * For the same reason this is plain {@code java.io}, without lambdas or string concatenation.
 *
 * <pre>
 * client: REQUEST version argv env cwd    (the request file)
 * agent:  ERR text ...            (lines for the user's standard error, any number, at any time)
 *         DECLINE reason          (not for the agent: the client runs exec itself), or
 *         FAIL code message       (exec failed before the command ran: the client reports and exits), or
 *         START command env       (the client starts the command with this environment)
 * client: EXIT code               (the command ended), or SPAWN_FAILED message
 * agent:  ERR text ..., DONE code (after the last ingest: the client exits with code)
 * </pre>
 */
public final class ExecProtocol {

    /** The named pipe a client writes its session's name to (one line, atomic: shorter than PIPE_BUF). */
    public static final String REQUESTS = "requests";
    /** "PID STARTTIME" of the agent that reads {@link #REQUESTS}: a client asks only a live one. */
    public static final String PID = "pid";
    /** One folder per session, made by its client: the {@link #REQUEST_FILE}, then the agent's pipes. */
    public static final String SESSIONS = "sessions";

    public static final String REQUEST_FILE = "request";
    /** The session's pipes, which the agent makes: client to agent, and agent to client. */
    public static final String UP = "up";

    public static final String DOWN = "down";

    /** Bumped on any change of the frames: an agent declines a client of another version. */
    public static final int VERSION = 1;

    public static final byte REQUEST = 'Q';
    public static final byte ERR = 'E';
    public static final byte DECLINE = 'X';
    public static final byte FAIL = 'F';
    public static final byte START = 'S';
    public static final byte EXIT = 'T';
    public static final byte SPAWN_FAILED = 'P';
    public static final byte DONE = 'D';
    /** Written by the agent into a session's {@link #UP} pipe itself, to wake that session when it closes. */
    public static final byte CLOSING = 'C';

    /** Longest string or count accepted: a frame beyond it is a broken peer, not a request. */
    static final int MAX_STRING = 16 << 20;

    static final int MAX_COUNT = 1 << 16;

    private ExecProtocol() {}

    public static void writeString(DataOutputStream out, String s) throws IOException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    public static String readString(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MAX_STRING) {
            throw new IOException(new StringBuilder("bad frame: a string of ")
                    .append(n)
                    .append(" bytes")
                    .toString());
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }

    public static void writeList(DataOutputStream out, List<String> list) throws IOException {
        out.writeInt(list.size());
        for (int i = 0; i < list.size(); i++) {
            writeString(out, list.get(i));
        }
    }

    public static List<String> readList(DataInputStream in) throws IOException {
        int n = count(in);
        List<String> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            l.add(readString(in));
        }
        return l;
    }

    public static void writeMap(DataOutputStream out, Map<String, String> map) throws IOException {
        out.writeInt(map.size());
        for (Map.Entry<String, String> e : map.entrySet()) {
            writeString(out, e.getKey());
            writeString(out, e.getValue());
        }
    }

    public static Map<String, String> readMap(DataInputStream in) throws IOException {
        int n = count(in);
        Map<String, String> m = new LinkedHashMap<>(n * 2);
        for (int i = 0; i < n; i++) {
            m.put(readString(in), readString(in));
        }
        return m;
    }

    /** The next frame's tag; EOF when the peer closed. */
    public static byte readTag(DataInputStream in) throws IOException {
        int t = in.read();
        if (t < 0) {
            throw new EOFException("the peer closed the connection");
        }
        return (byte) t;
    }

    /**
     * The start time of process {@code pid} (clock ticks since boot, field 22 of {@code /proc/PID/stat}),
     * which tells it from a later process given the same number; null when there is no such process.
     */
    public static String startTime(String pid) {
        String stat = readSmall(new File(new File("/proc", pid), "stat"));
        if (stat == null) {
            return null;
        }
        int close = stat.lastIndexOf(')'); // the command's name may hold spaces and parentheses
        if (close < 0) {
            return null;
        }
        int at = close + 2; // field 22 is the 20th after the name; split by hand (see euid)
        for (int field = 0; field < 19; field++) {
            at = stat.indexOf(' ', at) + 1;
            if (at == 0) {
                return null;
            }
        }
        int end = stat.indexOf(' ', at);
        return end > at ? stat.substring(at, end) : null;
    }

    /** The effective user id of process {@code pid} ({@code /proc/PID/status}); null when unknown. */
    public static String euid(String pid) {
        String status = readSmall(new File(new File("/proc", pid), "status"));
        if (status == null) {
            return null;
        }
        int at = status.indexOf("\nUid:");
        if (at < 0) {
            return null;
        }
        // "Uid:\treal\teffective\tsaved\tfs": split by hand, as a regex would cost the client milliseconds
        int real = skipBlanks(status, at + 5);
        int effective = skipBlanks(status, status.indexOf('\t', real));
        int end = effective;
        while (end < status.length() && Character.isDigit(status.charAt(end))) {
            end++;
        }
        return end > effective ? status.substring(effective, end) : null;
    }

    private static int skipBlanks(String s, int from) {
        int i = Math.max(0, from);
        while (i < s.length() && (s.charAt(i) == '\t' || s.charAt(i) == ' ')) {
            i++;
        }
        return i;
    }

    /** A small file's text (up to 16 KiB), or null when it cannot be read. */
    public static String readSmall(File f) {
        try (FileInputStream in = new FileInputStream(f)) {
            byte[] b = in.readNBytes(16 << 10);
            return new String(b, StandardCharsets.UTF_8);
        } catch (IOException e) {
            return null;
        }
    }

    private static int count(DataInputStream in) throws IOException {
        int n = in.readInt();
        if (n < 0 || n > MAX_COUNT) {
            throw new IOException(
                    new StringBuilder("bad frame: a count of ").append(n).toString());
        }
        return n;
    }
}
