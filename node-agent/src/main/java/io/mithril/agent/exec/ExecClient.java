package io.mithril.agent.exec;

import io.mithril.agent.fs.NodeRoot;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;

/**
 * {@code exec} through a resident agent: when a standalone {@code serve} serves the root's
 * {@code agent/} folder, {@code exec} asks it to prepare the run (its store is open and warm) and only starts the
 * command itself, so that the command keeps this process's streams, signals, working folder and
 * user. Anything the agent does not take (another version, options it leaves to {@code exec}
 * itself, no agent at all) runs {@code exec} in this process, as before (docs/volumes.md).
 *
 * <p>This runs in the first milliseconds of the JVM, before picocli or a logger is loaded, so it is
 * plain {@code java.base} code: no lambdas, records, formatting or string concatenation (each
 * bootstraps machinery that costs milliseconds at a JVM's start).
 */
public final class ExecClient {

    /** Exit code of a command the client could not start, as {@code exec} itself reports it. */
    private static final int CANNOT_RUN = 2;

    /** How long the agent has to make the session's pipes and open its ends (its own limit is the same). */
    private static final long RENDEZVOUS_NANOS = 5_000_000_000L;

    private ExecClient() {}

    /**
     * Runs {@code args} through the root's agent; its exit code, or -1 when the agent does not take
     * it (the caller then runs {@code exec} itself).
     */
    public static int run(String[] args) {
        String root = rootOf(args);
        if (root == null) {
            return -1;
        }
        File agent = new File(new File(root).getAbsoluteFile(), NodeRoot.AGENT);
        String self = livePeer(agent);
        if (self == null) {
            return -1;
        }
        new Warmer().start(); // while the agent prepares the run
        String name =
                new StringBuilder(self).append('-').append(System.nanoTime()).toString();
        File session = new File(new File(agent, ExecProtocol.SESSIONS), name);
        if (!session.mkdir()) {
            return -1;
        }
        File down = new File(session, ExecProtocol.DOWN);
        File up = new File(session, ExecProtocol.UP);
        Unblocker unblocker = new Unblocker(down, up);
        try {
            try (DataOutputStream req = new DataOutputStream(
                    new BufferedOutputStream(new FileOutputStream(new File(session, ExecProtocol.REQUEST_FILE))))) {
                req.writeByte(ExecProtocol.REQUEST);
                req.writeInt(ExecProtocol.VERSION);
                ExecProtocol.writeList(req, Arrays.asList(args));
                ExecProtocol.writeMap(req, System.getenv());
                ExecProtocol.writeString(req, System.getProperty("user.dir"));
            }
            // read and write, so that opening never waits; one line is shorter than PIPE_BUF, so written whole
            try (RandomAccessFile requests = new RandomAccessFile(new File(agent, ExecProtocol.REQUESTS), "rw")) {
                requests.write(new StringBuilder(name).append('\n').toString().getBytes(StandardCharsets.US_ASCII));
            }
            long deadline = System.nanoTime() + RENDEZVOUS_NANOS;
            while (!down.exists()) { // the agent makes both pipes, this one last
                if (System.nanoTime() > deadline) {
                    return abandon(session);
                }
                LockSupport.parkNanos(50_000);
            }
            unblocker.start();
            DataInputStream in = new DataInputStream(new BufferedInputStream(new FileInputStream(down)));
            DataOutputStream out = new DataOutputStream(new BufferedOutputStream(new FileOutputStream(up)));
            if (!unblocker.connected()) {
                return abandon(session);
            }
            return converse(in, out);
        } catch (IOException beforeStart) {
            return abandon(session); // the agent went away before the command started: exec runs here
        }
    }

    /**
     * The live agent that serves {@code agent} as this process's user: this process's id, or null when
     * none does (no pid file, a dead or reused pid, another user).
     */
    private static String livePeer(File agent) {
        String line = ExecProtocol.readSmall(new File(agent, ExecProtocol.PID));
        if (line == null) {
            return null;
        }
        int space = line.indexOf(' ');
        if (space < 0) {
            return null;
        }
        String pid = line.substring(0, space);
        if (!line.substring(space + 1).trim().equals(ExecProtocol.startTime(pid))) {
            return null;
        }
        String self;
        try {
            self = new File("/proc/self").getCanonicalFile().getName();
        } catch (IOException e) {
            return null;
        }
        String mine = ExecProtocol.euid(self);
        return mine != null && mine.equals(ExecProtocol.euid(pid)) ? self : null;
    }

    /** Falls back to exec in this process, removing what this client made that the agent did not take. */
    private static int abandon(File session) {
        File[] files = session.listFiles();
        if (files != null) {
            for (File f : files) {
                f.delete();
            }
        }
        session.delete();
        return -1;
    }

    /**
     * Readies this JVM to start a process while the agent prepares the run: the first
     * {@code ProcessBuilder.start} of a JVM spends ~25 ms initialising its classes (the launch
     * mechanism, the reaper thread, method handles) before the fork, which on a machine with a
     * second core costs nothing here.
     */
    private static final class Warmer extends Thread {
        Warmer() {
            super("mithril-exec-warmer");
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                Class.forName("java.lang.ProcessImpl", true, null);
                ProcessHandle.current().pid();
                new CompletableFuture<Integer>().complete(0);
            } catch (ClassNotFoundException | LinkageError | RuntimeException e) {
                // only a head start: the command starts all the same
            }
        }
    }

    /**
     * Completes this client's waiting opens of the session's pipes when the agent does not open its
     * ends in time (opening the other end here does), so that it falls back instead of hanging.
     */
    private static final class Unblocker extends Thread {
        private final File down;
        private final File up;
        private boolean fired;
        private boolean connected;

        Unblocker(File down, File up) {
            super("mithril-exec-unblocker");
            this.down = down;
            this.up = up;
            setDaemon(true);
        }

        /** True, once both pipes are open, when this did not fire first; it stays quiet from then on. */
        synchronized boolean connected() {
            connected = !fired;
            notifyAll();
            return connected;
        }

        @Override
        public void run() {
            synchronized (this) {
                long until = System.nanoTime() + RENDEZVOUS_NANOS;
                while (!connected && System.nanoTime() < until) {
                    try {
                        wait(Math.max(1, (until - System.nanoTime()) / 1_000_000));
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (connected) {
                    return;
                }
                fired = true;
            }
            unblock(down);
            unblock(up);
        }

        private static void unblock(File pipe) {
            try {
                new RandomAccessFile(pipe, "rw").close();
            } catch (IOException gone) {
                // nothing waits on it
            }
        }
    }

    /** Until the command starts, an IOException means the agent is gone and exec may still run here. */
    private static int converse(DataInputStream in, DataOutputStream out) throws IOException {
        int[] failed = new int[1];
        byte tag = nextFrame(in, failed);
        if (tag == ExecProtocol.FAIL) {
            return failed[0];
        } else if (tag == ExecProtocol.DECLINE) {
            ExecProtocol.readString(in);
            return -1;
        } else if (tag == ExecProtocol.START) {
            List<String> command = ExecProtocol.readList(in);
            Map<String, String> env = ExecProtocol.readMap(in);
            return runCommand(in, out, command, env);
        }
        throw new IOException("bad frame from the agent");
    }

    /**
     * Copies the agent's ERR frames to stderr and returns the tag of the first other frame. A FAIL
     * frame is read whole: its message goes to stderr and its exit code into {@code failed[0]}.
     */
    private static byte nextFrame(DataInputStream in, int[] failed) throws IOException {
        while (true) {
            byte tag = ExecProtocol.readTag(in);
            if (tag == ExecProtocol.ERR) {
                System.err.print(ExecProtocol.readString(in));
                System.err.flush();
            } else {
                if (tag == ExecProtocol.FAIL) {
                    failed[0] = in.readInt();
                    System.err.println(ExecProtocol.readString(in));
                }
                return tag;
            }
        }
    }

    /** From here the command's status is the result: the agent going away costs only the last ingest. */
    private static int runCommand(
            DataInputStream in, DataOutputStream out, List<String> command, Map<String, String> env) {
        Process child;
        try {
            child = SignalForwarder.start(command, env);
        } catch (IOException e) {
            String why = new StringBuilder("cannot run ")
                    .append(command.get(0))
                    .append(": ")
                    .append(e.getMessage())
                    .toString();
            try {
                out.writeByte(ExecProtocol.SPAWN_FAILED);
                ExecProtocol.writeString(out, why);
                out.flush();
                return finish(in, CANNOT_RUN);
            } catch (IOException agentGone) {
                System.err.println(new StringBuilder("mithril-agent: ").append(why));
                return CANNOT_RUN;
            }
        }
        int code;
        while (true) {
            try {
                code = child.waitFor();
                break;
            } catch (InterruptedException e) {
                // not interrupted by anyone here; keep waiting for the command
            }
        }
        SignalForwarder.stop();
        try {
            out.writeByte(ExecProtocol.EXIT);
            out.writeInt(code);
            out.flush();
            return finish(in, code);
        } catch (IOException agentGone) {
            System.err.println(
                    "mithril: the agent went away during the run; what the command compiled was not ingested");
            return code;
        }
    }

    /** Reads the agent's last lines and its DONE (or FAIL); {@code code} when it closes first. */
    private static int finish(DataInputStream in, int code) throws IOException {
        int[] failed = new int[1];
        byte tag = nextFrame(in, failed);
        if (tag == ExecProtocol.DONE) {
            return in.readInt();
        }
        return tag == ExecProtocol.FAIL ? failed[0] : code;
    }

    /**
     * The root an {@code exec} command line names, as {@code AgentMain} resolves it ({@code --root}
     * before or after {@code exec}, else MITHRIL_ROOT, else the XDG cache folder); null when the line
     * is not a plain {@code exec} (help, another command, a short option). Only which agent to ask
     * rests on it: the agent parses the line itself and declines a root that is not its own.
     */
    static String rootOf(String[] args) {
        String root = null;
        boolean exec = false;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--")) {
                break;
            }
            if (a.startsWith("--root=")) {
                root = a.substring("--root=".length());
            } else if (a.equals("--root")) {
                if (i + 1 == args.length) {
                    return null;
                }
                root = args[++i];
            } else if (a.equals("--help") || a.equals("--version")) {
                return null;
            } else if (a.startsWith("--")) {
                if (a.indexOf('=') < 0) {
                    i++; // every other option of exec and the agent takes a value
                }
            } else if (a.startsWith("-")) {
                return null;
            } else if (!exec) {
                if (!a.equals("exec")) {
                    return null;
                }
                exec = true;
            } else {
                break; // the command
            }
        }
        if (!exec) {
            return null;
        }
        if (root != null) {
            return root;
        }
        String env = System.getenv("MITHRIL_ROOT");
        if (env != null) {
            return env;
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        File base = xdg != null && !xdg.isEmpty() ? new File(xdg) : new File(System.getProperty("user.home"), ".cache");
        return new File(base, "mithril").getPath();
    }
}
