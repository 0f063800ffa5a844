package io.mithril.bench;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * An HTTP/1.1 relay between the agents and S3Proxy that counts what reaches the server: one
 * {@link Call} per request (method, target, status, body bytes each way, wire bytes including
 * heads, start and end, on the epoch clock). It parses each message's framing (Content-Length, chunked, no body for
 * HEAD, 1xx, 204 and 304) so that requests on a kept-alive connection are told apart, and passes
 * every byte through unchanged (the Host header too, so SigV4 signatures still verify).
 */
final class CountingProxy implements AutoCloseable {
    private static final int BUF = 64 * 1024;

    private final ServerSocket listener;
    private final InetSocketAddress upstream;
    private final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    private final Thread acceptor;
    private final AtomicInteger connections = new AtomicInteger();

    /** One request as the server saw it. Written by the connection's two relay threads, read after both are done. */
    static final class Call {
        final int conn;
        final String method;
        final String target;
        final boolean ranged;
        final long startNanos;
        volatile long endNanos;
        volatile int status;
        volatile long bodyUp;
        volatile long bodyDown;
        volatile long wireUp;
        volatile long wireDown;

        Call(int conn, String method, String target, boolean ranged, long startNanos) {
            this.conn = conn;
            this.method = method;
            this.target = target;
            this.ranged = ranged;
            this.startNanos = startNanos;
        }

        /** e.g. {@code LIST}, {@code HEAD blob}, {@code PUT pack}, {@code GET range pack}, {@code GET manifest}. */
        String kind() {
            String path = target;
            int q = path.indexOf('?');
            String query = q < 0 ? "" : path.substring(q + 1);
            path = q < 0 ? path : path.substring(0, q);
            if (method.equals("GET") && (query.contains("list-type") || query.contains("prefix="))) {
                return "LIST";
            }
            String object = path.contains("/blobs/")
                    ? "blob"
                    : path.contains("/packs/")
                            ? "pack"
                            : path.contains("/manifests/") ? "manifest" : path.endsWith(".tar") ? "tar" : "other";
            return method + (ranged ? " range " : " ") + object;
        }
    }

    CountingProxy(URI server) throws IOException {
        this.upstream = new InetSocketAddress(server.getHost(), server.getPort());
        this.listener = new ServerSocket(0, 200, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::accept, "counting-proxy");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** Nanoseconds since the epoch (microsecond resolution): the clock {@code date +%s%N} in a child reads too. */
    static long now() {
        Instant i = Instant.now();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    URI endpoint() {
        return URI.create("http://127.0.0.1:" + listener.getLocalPort());
    }

    /** Where the next window of calls starts. */
    int mark() {
        return calls.size();
    }

    /** The calls since {@code mark}, in the order their request heads arrived. */
    List<Call> since(int mark) {
        synchronized (calls) {
            return new ArrayList<>(calls.subList(mark, calls.size()));
        }
    }

    /** Requests by kind, e.g. {@code 1 LIST, 1 GET manifest, 1 GET range pack, 3 GET blob}. */
    static String byKind(List<Call> cs) {
        Map<String, Integer> n = new TreeMap<>();
        for (Call c : cs) {
            n.merge(c.kind(), 1, Integer::sum);
        }
        List<String> parts = new ArrayList<>();
        n.forEach((k, v) -> parts.add(v + " " + k));
        return String.join(", ", parts);
    }

    static long up(List<Call> cs) {
        return cs.stream().mapToLong(c -> c.bodyUp).sum();
    }

    static long down(List<Call> cs) {
        return cs.stream().mapToLong(c -> c.bodyDown).sum();
    }

    static long wire(List<Call> cs) {
        return cs.stream().mapToLong(c -> c.wireUp + c.wireDown).sum();
    }

    /** Requests answered 5xx, or not at all (no response head reached the relay). */
    static long failed(List<Call> cs) {
        return cs.stream().filter(c -> c.status >= 500 || c.status == 0).count();
    }

    private void accept() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                Socket server = new Socket();
                server.connect(upstream, 5_000);
                client.setTcpNoDelay(true);
                server.setTcpNoDelay(true);
                ConcurrentLinkedDeque<Call> pending = new ConcurrentLinkedDeque<>();
                int conn = connections.incrementAndGet();
                start(() -> requests(conn, client, server, pending));
                start(() -> responses(client, server, pending));
            } catch (IOException e) {
                if (!listener.isClosed()) {
                    System.err.println("counting proxy: " + e);
                }
            }
        }
    }

    private static void start(Runnable r) {
        Thread t = new Thread(r, "counting-proxy-relay");
        t.setDaemon(true);
        t.start();
    }

    /** Client to server: one request after the other, each counted before its head is passed on. */
    private void requests(int conn, Socket client, Socket server, ConcurrentLinkedDeque<Call> pending) {
        try (InputStream in = new BufferedInputStream(client.getInputStream(), BUF)) {
            OutputStream out = server.getOutputStream();
            byte[] buf = new byte[BUF];
            while (true) {
                Head head = Head.read(in);
                if (head == null) {
                    break;
                }
                Call c = new Call(conn, head.line[0], head.line[1], head.headers.containsKey("range"), now());
                pending.add(c);
                calls.add(c);
                out.write(head.bytes);
                c.wireUp = head.bytes.length;
                long body = body(in, out, head.headers, false, buf);
                c.bodyUp = body;
                c.wireUp += body;
                out.flush();
            }
            server.shutdownOutput();
        } catch (IOException e) {
            closeQuietly(server);
        }
    }

    /** Server to client: each response paired with the oldest request not yet answered. */
    private void responses(Socket client, Socket server, ConcurrentLinkedDeque<Call> pending) {
        try (InputStream in = new BufferedInputStream(server.getInputStream(), BUF)) {
            OutputStream out = client.getOutputStream();
            byte[] buf = new byte[BUF];
            while (true) {
                Head head = Head.read(in);
                if (head == null) {
                    break;
                }
                int status = Integer.parseInt(head.line[1]);
                out.write(head.bytes);
                if (status >= 100 && status < 200) { // 100 Continue: the final response follows
                    out.flush();
                    continue;
                }
                Call c = pending.poll();
                if (c != null) { // at the head: a client that stops reading before the body's end still got an answer
                    c.status = status;
                    c.wireDown = head.bytes.length;
                }
                boolean none = c == null || c.method.equals("HEAD") || status == 204 || status == 304;
                long body = none ? 0 : body(in, out, head.headers, true, buf);
                out.flush();
                if (c != null) {
                    c.bodyDown = body;
                    c.wireDown = head.bytes.length + body;
                    c.endNanos = now();
                }
            }
        } catch (IOException e) {
            // the client or the server closed the connection
        } finally {
            closeQuietly(client);
            closeQuietly(server);
        }
    }

    /** A message head as received (up to and including its blank line), its start line split in three, its headers (names lower case). */
    private record Head(byte[] bytes, String[] line, Map<String, String> headers) {
        /** The next head; null at a clean end of stream. */
        static Head read(InputStream in) throws IOException {
            ByteArrayOutputStream b = new ByteArrayOutputStream(512);
            int state = 0;
            while (state < 4) {
                int c = in.read();
                if (c < 0) {
                    if (b.size() == 0) {
                        return null;
                    }
                    throw new EOFException("stream ended inside a message head");
                }
                b.write(c);
                state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3))
                        ? state + 1
                        : (c == '\r' ? 1 : 0);
            }
            String h = b.toString(StandardCharsets.ISO_8859_1);
            String[] line = h.substring(0, h.indexOf("\r\n")).split(" ", 3);
            if (line.length < 2) {
                throw new IOException("not an HTTP start line: " + line[0]);
            }
            Map<String, String> m = new TreeMap<>();
            for (String l : h.split("\r\n")) {
                int colon = l.indexOf(':');
                if (colon > 0) {
                    m.put(
                            l.substring(0, colon).trim().toLowerCase(Locale.ROOT),
                            l.substring(colon + 1).trim());
                }
            }
            return new Head(b.toByteArray(), line, m);
        }
    }

    /** Passes one message body on and returns its length on the wire (chunk framing included). */
    private static long body(InputStream in, OutputStream out, Map<String, String> hs, boolean toEof, byte[] buf)
            throws IOException {
        if (hs.getOrDefault("transfer-encoding", "").toLowerCase(Locale.ROOT).contains("chunked")) {
            return chunked(in, out, buf);
        }
        String cl = hs.get("content-length");
        if (cl == null) {
            return toEof ? copy(in, out, Long.MAX_VALUE, buf) : 0;
        }
        long n = Long.parseLong(cl);
        if (copy(in, out, n, buf) != n) {
            throw new EOFException("body shorter than its Content-Length");
        }
        return n;
    }

    private static long chunked(InputStream in, OutputStream out, byte[] buf) throws IOException {
        long total = 0;
        while (true) {
            byte[] sizeLine = line(in);
            out.write(sizeLine);
            total += sizeLine.length;
            String s = new String(sizeLine, StandardCharsets.ISO_8859_1).trim();
            int semi = s.indexOf(';');
            long size = Long.parseLong(semi < 0 ? s : s.substring(0, semi), 16);
            if (size == 0) {
                while (true) { // trailers, then the blank line
                    byte[] t = line(in);
                    out.write(t);
                    total += t.length;
                    if (t.length == 2) {
                        return total;
                    }
                }
            }
            total += copy(in, out, size, buf);
            byte[] crlf = line(in);
            out.write(crlf);
            total += crlf.length;
        }
    }

    private static byte[] line(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(32);
        int prev = -1;
        while (true) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("stream ended inside a chunked body");
            }
            b.write(c);
            if (prev == '\r' && c == '\n') {
                return b.toByteArray();
            }
            prev = c;
        }
    }

    private static long copy(InputStream in, OutputStream out, long n, byte[] buf) throws IOException {
        long done = 0;
        while (done < n) {
            int r = in.read(buf, 0, (int) Math.min(buf.length, n - done));
            if (r < 0) {
                break;
            }
            out.write(buf, 0, r);
            done += r;
        }
        return done;
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // closing anyway
        }
    }

    @Override
    public void close() throws IOException {
        listener.close();
    }
}
