package io.mithril.agent.exec;

import io.mithril.agent.fs.Fifos;
import io.mithril.agent.volume.FileTrees;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.Writer;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The resident side of {@code exec}: a standalone {@code serve} runs what an {@code exec} client
 * asks for (publish, ingest, unpublish) on its already open store, while the client starts the
 * command itself, with its own streams, signals, working folder and user ({@link ExecClient},
 * {@link ExecProtocol} for the exchange).
 *
 * <p>Only the agent's own user is served: the folder is {@code 0700}, and a session folder or
 * request file that is not a plain directory or file of the agent's owner is refused unread.
 */
public final class ExecListener implements Closeable {

    private static final Logger log = LoggerFactory.getLogger(ExecListener.class);

    /** How long a client has to open its session's pipes once they are made. */
    static final Duration RENDEZVOUS = Duration.ofSeconds(5);

    /** Session folders no live session owns are removed once this old (a client killed before it was served). */
    private static final Duration STALE = Duration.ofSeconds(30);

    private static final Pattern SESSION_NAME = Pattern.compile("[0-9]{1,10}-[0-9]{1,20}");

    private static final long MAX_REQUEST = 32L << 20;

    /** Runs one request; it answers through the session, and an exception it throws is logged. */
    public interface Handler extends AutoCloseable {
        void handle(Session session) throws Exception;

        /** Called once the listener's requests have ended. */
        @Override
        default void close() {}
    }

    private final Path dir;
    private final Path sessionsDir;
    private final RandomAccessFile requests;
    /** The uid that owns {@link #dir}: this agent's. */
    private final Object owner;

    private final Handler handler;
    private final ExecutorService pool;
    private final ScheduledExecutorService watchdog;
    private final Set<Path> active = ConcurrentHashMap.newKeySet();
    private final Thread reader;
    private volatile boolean closed;

    private ExecListener(Path dir, RandomAccessFile requests, Handler handler) throws IOException {
        this.dir = dir;
        this.sessionsDir = dir.resolve(ExecProtocol.SESSIONS);
        this.requests = requests;
        this.owner = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        this.handler = handler;
        AtomicInteger n = new AtomicInteger();
        this.pool = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "mithril-exec-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        this.watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "mithril-exec-watchdog");
            t.setDaemon(true);
            return t;
        });
        this.reader = new Thread(this::read, "mithril-exec-listener");
        this.reader.setDaemon(true);
    }

    /**
     * Serves {@code exec} from {@code dir} ({@code <root>/agent}). Fails when another live agent
     * serves it; what a dead one left is replaced.
     */
    public static ExecListener start(Path dir, Handler handler) throws IOException {
        Files.createDirectories(dir);
        if (Files.isSymbolicLink(dir) || !Files.isDirectory(dir)) {
            throw new IOException("not a folder: " + dir);
        }
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        String self = Long.toString(ProcessHandle.current().pid());
        Path pidFile = dir.resolve(ExecProtocol.PID);
        String[] other = text(pidFile).trim().split(" ");
        if (other.length == 2 && !other[0].equals(self) && other[1].equals(ExecProtocol.startTime(other[0]))) {
            throw new IOException("another agent (pid " + other[0] + ") already serves exec on " + dir);
        }
        Path sessions = dir.resolve(ExecProtocol.SESSIONS);
        FileTrees.deleteTree(sessions);
        Files.createDirectory(sessions);
        Files.setPosixFilePermissions(sessions, PosixFilePermissions.fromString("rwx------"));
        Path pipe = dir.resolve(ExecProtocol.REQUESTS);
        Files.deleteIfExists(pipe);
        Fifos.make(pipe);
        // read and write: the agent is a writer too, so the pipe never reads as ended and opening it never waits
        RandomAccessFile requests = new RandomAccessFile(pipe.toFile(), "rw");
        try {
            ExecListener l = new ExecListener(dir, requests, handler);
            Path tmp = dir.resolve(ExecProtocol.PID + ".tmp");
            Files.writeString(tmp, self + " " + ExecProtocol.startTime(self) + "\n");
            Files.move(tmp, pidFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            l.reader.start();
            return l;
        } catch (IOException | RuntimeException e) {
            requests.close();
            throw e;
        }
    }

    private static String text(Path f) {
        String s = ExecProtocol.readSmall(f.toFile());
        return s == null ? "" : s;
    }

    /** The folder clients find this agent by. */
    public Path dir() {
        return dir;
    }

    private void read() {
        StringBuilder line = new StringBuilder();
        while (!closed) {
            int b;
            try {
                b = requests.read();
            } catch (IOException e) {
                if (!closed) {
                    log.warn("exec requests pipe: {}", e.toString());
                }
                return;
            }
            if (b < 0 || closed) {
                return;
            }
            if (b != '\n') {
                if (line.length() < 64) {
                    line.append((char) b);
                }
                continue;
            }
            String name = line.toString();
            line.setLength(0);
            if (!SESSION_NAME.matcher(name).matches()) {
                continue;
            }
            Path session = sessionsDir.resolve(name);
            if (!active.add(session)) {
                continue;
            }
            try {
                pool.execute(() -> serve(session));
            } catch (RuntimeException rejected) { // closing
                active.remove(session);
                return;
            }
            sweep();
        }
    }

    private void serve(Path session) {
        AtomicBoolean late = new AtomicBoolean();
        ScheduledFuture<?> deadline = watchdog.scheduleWithFixedDelay(
                () -> {
                    late.set(true);
                    wake(session);
                },
                RENDEZVOUS.toMillis(),
                200,
                TimeUnit.MILLISECONDS);
        try {
            Request r = readRequest(session);
            if (r == null) {
                return;
            }
            Path up = session.resolve(ExecProtocol.UP);
            Fifos.make(up);
            Fifos.make(session.resolve(ExecProtocol.DOWN)); // last: the client waits for it to appear
            try (FileOutputStream downPipe = new FileOutputStream(
                            session.resolve(ExecProtocol.DOWN).toFile());
                    FileInputStream upPipe = new FileInputStream(up.toFile())) {
                deadline.cancel(false);
                if (closed || late.get()) {
                    return; // the client did not come in time (or is gone): nothing is done for it
                }
                DataOutputStream out = new DataOutputStream(new BufferedOutputStream(downPipe));
                DataInputStream in = new DataInputStream(new BufferedInputStream(upPipe));
                Session s = new Session(in, out, r.argv, r.env, r.cwd);
                if (r.version != ExecProtocol.VERSION) {
                    s.decline("the agent speaks version " + ExecProtocol.VERSION + ", the client " + r.version);
                    return;
                }
                try {
                    handler.handle(s);
                } catch (ExecRunner.CallerGoneException gone) {
                    log.info("exec client went away during its run: {}", gone.getMessage());
                } catch (Exception e) {
                    log.warn("exec request failed: {}", e.toString());
                    s.fail(3, "mithril-agent: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
                }
            }
        } catch (IOException | RuntimeException e) {
            if (!closed) {
                log.info("exec session {}: {}", session.getFileName(), e.toString());
            }
        } finally {
            deadline.cancel(false);
            try {
                FileTrees.deleteTree(session);
            } catch (IOException e) {
                log.warn("could not remove exec session {}: {}", session, e.toString());
            }
            active.remove(session);
        }
    }

    private record Request(int version, List<String> argv, Map<String, String> env, Path cwd) {}

    /** The session's request; null (logged) when its folder or file is not a plain one of this agent's owner. */
    private Request readRequest(Path session) throws IOException {
        Path file = session.resolve(ExecProtocol.REQUEST_FILE);
        // numeric ids: an owner's name would cost a lookup in the user database per request
        Map<String, Object> d = Files.readAttributes(session, "unix:isDirectory,uid", LinkOption.NOFOLLOW_LINKS);
        Map<String, Object> f = Files.readAttributes(file, "unix:isRegularFile,uid,size", LinkOption.NOFOLLOW_LINKS);
        if (!Boolean.TRUE.equals(d.get("isDirectory"))
                || !Boolean.TRUE.equals(f.get("isRegularFile"))
                || !owner.equals(d.get("uid"))
                || !owner.equals(f.get("uid"))) {
            log.warn("exec session {} refused: not a folder and file of uid {}", session.getFileName(), owner);
            return null;
        }
        long size = (Long) f.get("size");
        if (size > MAX_REQUEST) {
            log.warn("exec session {} refused: a request of {} bytes", session.getFileName(), size);
            return null;
        }
        try (InputStream raw = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS);
                DataInputStream in = new DataInputStream(new BufferedInputStream(raw))) {
            if (ExecProtocol.readTag(in) != ExecProtocol.REQUEST) {
                return null;
            }
            int version = in.readInt();
            if (version != ExecProtocol.VERSION) {
                return new Request(version, List.of(), Map.of(), Path.of("/"));
            }
            return new Request(
                    version, ExecProtocol.readList(in), ExecProtocol.readMap(in), Path.of(ExecProtocol.readString(in)));
        }
    }

    /**
     * Unblocks whatever of a session waits on its pipes: an open that waits for the client (opening
     * the other end ourselves completes it), and a read of the client's next frame (a CLOSING frame).
     */
    private void wake(Path session) {
        for (String name : new String[] {ExecProtocol.DOWN, ExecProtocol.UP}) {
            Path p = session.resolve(name);
            if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            try (RandomAccessFile both = new RandomAccessFile(p.toFile(), "rw")) {
                if (name.equals(ExecProtocol.UP)) {
                    both.write(ExecProtocol.CLOSING);
                }
            } catch (IOException gone) {
                // the session ended meanwhile
            }
        }
    }

    /** Removes session folders of clients that were killed before they were served. */
    private void sweep() {
        Instant before = Instant.now().minus(STALE);
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(sessionsDir)) {
            for (Path s : ds) {
                if (active.contains(s)) {
                    continue;
                }
                FileTime t = Files.getLastModifiedTime(s, LinkOption.NOFOLLOW_LINKS);
                if (t.toInstant().isBefore(before)) {
                    FileTrees.deleteTree(s);
                }
            }
        } catch (IOException e) {
            log.debug("exec sessions sweep: {}", e.toString());
        }
    }

    /**
     * Stops taking requests, wakes the running ones (their clients finish their commands without the
     * last ingest) and waits for them to end, so that the store can be closed after this returns.
     */
    @Override
    public void close() throws IOException {
        closed = true;
        Files.deleteIfExists(dir.resolve(ExecProtocol.PID));
        requests.write('\n'); // wakes the reader, which sees closed
        pool.shutdown();
        try {
            for (int i = 0; i < 30 && !pool.awaitTermination(1, TimeUnit.SECONDS); i++) {
                for (Path s : active) {
                    wake(s);
                }
            }
            if (!pool.isTerminated()) {
                log.warn("exec requests still running after 30 s; closing anyway");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            watchdog.shutdownNow();
            handler.close();
            requests.close();
            Files.deleteIfExists(dir.resolve(ExecProtocol.REQUESTS));
        }
    }

    /** One client's request, and the answers to it. */
    public static final class Session {
        private final DataInputStream in;
        private final DataOutputStream out;
        private final List<String> argv;
        private final Map<String, String> env;
        private final Path cwd;
        private final PrintWriter err;

        Session(DataInputStream in, DataOutputStream out, List<String> argv, Map<String, String> env, Path cwd) {
            this.in = in;
            this.out = out;
            this.argv = argv;
            this.env = env;
            this.cwd = cwd;
            this.err = new PrintWriter(new ErrWriter(), true);
        }

        /** The client's arguments, as its command line gave them. */
        public List<String> argv() {
            return argv;
        }

        /** The client's environment. */
        public Map<String, String> env() {
            return env;
        }

        /** The client's working folder. */
        public Path cwd() {
            return cwd;
        }

        /** Lines for the client's standard error. */
        public PrintWriter err() {
            return err;
        }

        /** Not for the agent: the client runs {@code exec} itself, as if no agent listened. */
        public void decline(String reason) throws IOException {
            send(ExecProtocol.DECLINE, o -> ExecProtocol.writeString(o, reason));
        }

        /** The fields a frame carries after its tag. */
        @FunctionalInterface
        private interface Fields {
            void write(DataOutputStream o) throws IOException;
        }

        /** Writes one whole frame: the run's threads (its ERR lines among them) share the pipe. */
        private void send(byte tag, Fields fields) throws IOException {
            synchronized (out) {
                out.writeByte(tag);
                fields.write(out);
                out.flush();
            }
        }

        /** {@code exec} failed before the command ran: the client prints {@code message} and exits with {@code code}. */
        public void fail(int code, String message) {
            err.flush();
            try {
                send(ExecProtocol.FAIL, o -> {
                    o.writeInt(code);
                    ExecProtocol.writeString(o, message);
                });
            } catch (IOException gone) {
                // nobody to tell
            }
        }

        /** The child of {@link ExecRunner} that runs in the client. */
        public ExecRunner.Child child() {
            return this::start;
        }

        /** Has the client run {@code command} with {@code env}; its exit status. */
        private int start(List<String> command, Map<String, String> childEnv) throws IOException {
            byte tag;
            try {
                send(ExecProtocol.START, o -> {
                    ExecProtocol.writeList(o, command);
                    ExecProtocol.writeMap(o, childEnv);
                });
                tag = ExecProtocol.readTag(in);
                if (tag == ExecProtocol.EXIT) {
                    return in.readInt();
                }
                if (tag == ExecProtocol.SPAWN_FAILED) {
                    throw new IllegalArgumentException(ExecProtocol.readString(in));
                }
            } catch (IOException e) {
                throw new ExecRunner.CallerGoneException("the exec client went away before its command ended", e);
            }
            throw new ExecRunner.CallerGoneException(
                    tag == ExecProtocol.CLOSING ? "the agent is closing" : "bad frame from the client: " + tag, null);
        }

        /** The run is over: the client exits with {@code code}. */
        public void done(int code) throws IOException {
            err.flush();
            send(ExecProtocol.DONE, o -> o.writeInt(code));
        }

        /** Sends what is written as ERR frames, one per flush (the writer flushes at each line). */
        private final class ErrWriter extends Writer {
            private final StringBuilder pending = new StringBuilder();

            @Override
            public void write(char[] cbuf, int off, int len) {
                synchronized (pending) {
                    pending.append(cbuf, off, len);
                }
            }

            @Override
            public void flush() throws IOException {
                String text;
                synchronized (pending) {
                    if (pending.length() == 0) {
                        return;
                    }
                    text = pending.toString();
                    pending.setLength(0);
                }
                send(ExecProtocol.ERR, o -> ExecProtocol.writeString(o, text));
            }

            @Override
            public void close() throws IOException {
                flush();
            }
        }
    }
}
