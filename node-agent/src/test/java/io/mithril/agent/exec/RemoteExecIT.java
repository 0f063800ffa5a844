package io.mithril.agent.exec;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.mithril.agent.FakeInductor;
import io.mithril.agent.S3ProxyServer;
import io.mithril.agent.index.Entry;
import io.mithril.agent.key.DeviceClass;
import io.mithril.agent.key.GpuProduct;
import io.mithril.agent.key.GroupId;
import io.mithril.agent.store.NodeStore;
import io.mithril.agent.store.StoreConfig;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code exec --remote} as users run it: real agent processes on separate roots sharing one bucket
 * on a real S3-compatible server (S3Proxy), with the real fixture's cache.
 */
class RemoteExecIT {
    private static final GroupId GROUP =
            new GroupId("local", "default", new DeviceClass.CudaCompute(9, 0), GpuProduct.of("NVIDIA H100 80GB HBM3"));

    /** One Inductor entry written by a command that succeeds. */
    private static final String ONE_ENTRY =
            "mkdir -p $TORCHINDUCTOR_CACHE_DIR/fxgraph/ab/fkey && echo fx > $TORCHINDUCTOR_CACHE_DIR/fxgraph/ab/fkey/e1";

    private static Path serverDir;
    private static S3ProxyServer server;

    @TempDir
    Path tmp;

    private String[] remoteArgs;

    @BeforeAll
    static void startServer() throws Exception {
        serverDir = Files.createTempDirectory("s3proxy-exec-");
        server = S3ProxyServer.start(serverDir, "mithril");
    }

    @AfterAll
    static void stopServer() throws Exception {
        server.close();
    }

    @BeforeEach
    void remoteForThisTest() throws Exception {
        Path key = Files.writeString(tmp.resolve("remote.key"), "a-key-the-test-agents-share-0123456789\n");
        remoteArgs = new String[] {
            "--remote",
            "s3://" + server.bucket() + "/t" + System.nanoTime() + "/",
            "--remote-endpoint",
            server.endpoint().toString(),
            "--remote-key-file",
            key.toString()
        };
    }

    private ExecHarness.Run fake(ExecHarness h, String... execOptions) throws Exception {
        List<String> args = new ArrayList<>(List.of(execOptions));
        args.addAll(h.workload(FakeInductor.class, h.fixture.toString(), "300"));
        return h.finish(h.start(args, env -> env.putAll(server.credentialsEnv()), remoteArgs));
    }

    private ExecHarness.Run sh(ExecHarness h, String script, String... execOptions) throws Exception {
        List<String> args = new ArrayList<>(List.of(execOptions));
        args.addAll(List.of("--", "sh", "-c", script));
        return h.finish(h.start(args, env -> env.putAll(server.credentialsEnv()), remoteArgs));
    }

    /** The group's entries in a root: name to files (path, address, size, mode: every byte, by BLAKE3). */
    private static Map<String, List<?>> contents(Path root, GroupId g) throws Exception {
        try (NodeStore s = NodeStore.open(root, StoreConfig.defaults())) {
            Map<String, List<?>> m = new TreeMap<>();
            for (Entry e : s.entries(g)) {
                m.put(
                        e.key().name(),
                        e.files().stream()
                                .sorted((a, b) -> a.path().compareTo(b.path()))
                                .toList());
            }
            return m;
        }
    }

    @Test
    void freshRoot_warmsFromTheBucket_everyByteRight() throws Exception {
        ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
        ExecHarness.Run cold = fake(a);
        assertThat(cold.out()).startsWith("MISS");
        assertThat(cold.err()).contains("uploaded " + cold.ingested() + " entries");

        ExecHarness b = new ExecHarness(Files.createDirectory(tmp.resolve("b")));
        ExecHarness.Run warm = fake(b);
        assertThat(warm.err()).contains("fetched " + cold.ingested() + " entries");
        Matcher m = Pattern.compile("fetched \\d+ entries \\(([^)]+)\\) in \\d+ ms, (\\d+) requests")
                .matcher(warm.err());
        assertThat(m.find()).as(warm.err()).isTrue();
        // the fixture's 544 files: a list, a manifest, two packs and its few files of 1 MiB and more
        assertThat(Integer.parseInt(m.group(2))).as(warm.err()).isLessThanOrEqualTo(12);
        assertThat(warm.out()).as(warm.err()).startsWith("HIT");
        assertThat(warm.ingested()).isZero();
        assertThat(warm.restored()).isEqualTo(cold.ingested());
        assertThat(b.verify()).isZero();
        assertThat(contents(b.root, GROUP)).isEqualTo(contents(a.root, GROUP));
    }

    /**
     * IRSA and workload identity federation: no keys in the environment, only a projected token file
     * and a role; the SDK's default chain trades the token at STS for credentials. STS is a local
     * stand-in here (no network), answering AssumeRoleWithWebIdentity with S3Proxy's identity.
     */
    @Test
    void credentialsFromAWebIdentityToken_throughTheDefaultChain() throws Exception {
        Path token = Files.writeString(tmp.resolve("token"), "eyJ.projected.service-account-token");
        List<String> seen = new ArrayList<>();
        HttpServer sts = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        sts.createContext("/", ex -> {
            String form = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            synchronized (seen) {
                seen.add(URLDecoder.decode(form, StandardCharsets.UTF_8));
            }
            byte[] body = ("<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
                            + "<AssumeRoleWithWebIdentityResult><Credentials>"
                            + "<AccessKeyId>" + S3ProxyServer.ACCESS_KEY + "</AccessKeyId>"
                            + "<SecretAccessKey>" + S3ProxyServer.SECRET_KEY + "</SecretAccessKey>"
                            + "<SessionToken>session-token</SessionToken>"
                            + "<Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>"
                            + "<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/mithril-agent/s</Arn>"
                            + "<AssumedRoleId>AROAEXAMPLE:s</AssumedRoleId></AssumedRoleUser>"
                            + "</AssumeRoleWithWebIdentityResult>"
                            + "<ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
                            + "</AssumeRoleWithWebIdentityResponse>")
                    .getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().set("Content-Type", "text/xml");
            ex.sendResponseHeaders(200, body.length);
            ex.getResponseBody().write(body);
            ex.close();
        });
        sts.start();
        try {
            ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
            List<String> args = new ArrayList<>(List.of("--", "sh", "-c", ONE_ENTRY));
            ExecHarness.Run run = a.finish(a.start(
                    args,
                    env -> {
                        env.keySet().removeIf(k -> k.startsWith("AWS_"));
                        env.put("AWS_REGION", S3ProxyServer.REGION);
                        env.put("AWS_WEB_IDENTITY_TOKEN_FILE", token.toString());
                        env.put("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/mithril-agent");
                        env.put("AWS_ROLE_SESSION_NAME", "mithril-test");
                        env.put(
                                "AWS_ENDPOINT_URL_STS",
                                "http://127.0.0.1:" + sts.getAddress().getPort());
                    },
                    remoteArgs));
            assertThat(run.code()).as(run.err()).isZero();
            assertThat(run.err()).contains("uploaded 1 entries");
            synchronized (seen) {
                assertThat(seen)
                        .isNotEmpty()
                        .allSatisfy(f -> assertThat(f)
                                .contains("Action=AssumeRoleWithWebIdentity")
                                .contains("WebIdentityToken=eyJ.projected.service-account-token")
                                .contains("RoleArn=arn:aws:iam::123456789012:role/mithril-agent"));
            }
        } finally {
            sts.stop(0);
        }
    }

    @Test
    void failedCommand_uploadsNothing() throws Exception {
        ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
        // a unit a failed run keeps locally (as FrameworksExecIT's failed vLLM run does)
        ExecHarness.Run failed = sh(
                a,
                "mkdir -p $TORCHINDUCTOR_CACHE_DIR/fxgraph/ab/fkey && echo fx > $TORCHINDUCTOR_CACHE_DIR/fxgraph/ab/fkey/e1"
                        + " && sleep 3; exit 3");
        assertThat(failed.code()).isEqualTo(3);
        assertThat(failed.ingested()).isEqualTo(1);
        assertThat(failed.err()).doesNotContain("uploaded");
        ExecHarness.Run later =
                sh(a, "true"); // a later run that succeeds does not take the failed run's entry up either
        assertThat(later.code()).isZero();
        assertThat(later.err()).doesNotContain("uploaded");

        ExecHarness b = new ExecHarness(Files.createDirectory(tmp.resolve("b")));
        ExecHarness.Run other = sh(b, "true");
        assertThat(other.err()).doesNotContain("fetched");
        assertThat(other.restored()).isZero();
    }

    @Test
    void twoRootsAtOnce_bothEndUpInTheMergedGroup() throws Exception {
        ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
        ExecHarness b = new ExecHarness(Files.createDirectory(tmp.resolve("b")));
        String write =
                "mkdir -p $TORCHINDUCTOR_CACHE_DIR/fxgraph/%1$s && echo kernel-%1$s > $TORCHINDUCTOR_CACHE_DIR/fxgraph/%1$s/f%1$s";
        List<String> execA = new ArrayList<>(List.of("--", "sh", "-c", String.format(write, "aa")));
        // b names the remote after the command, and its key through the environment
        List<String> execB = new ArrayList<>(List.of(
                remoteArgs[0],
                remoteArgs[1],
                remoteArgs[2],
                remoteArgs[3],
                "--",
                "sh",
                "-c",
                String.format(write, "bb")));
        Process pa = a.start(execA, env -> env.putAll(server.credentialsEnv()), remoteArgs);
        Process pb = b.start(execB, env -> {
            env.putAll(server.credentialsEnv());
            env.put("MITHRIL_REMOTE_KEY_FILE", remoteArgs[5]);
        });
        assertThat(a.finish(pa).code()).isZero();
        assertThat(b.finish(pb).code()).isZero();

        ExecHarness c = new ExecHarness(Files.createDirectory(tmp.resolve("c")));
        ExecHarness.Run both =
                sh(c, "cat $TORCHINDUCTOR_CACHE_DIR/fxgraph/aa/faa $TORCHINDUCTOR_CACHE_DIR/fxgraph/bb/fbb");
        assertThat(both.code()).as(both.err()).isZero();
        assertThat(both.out()).isEqualTo("kernel-aa\nkernel-bb\n");
        assertThat(both.restored()).isEqualTo(2);
    }

    @Test
    void anotherNamespacesEntries_areNeverFetched() throws Exception {
        ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
        ExecHarness.Run theirs = fake(a, "--namespace", "team-b");
        assertThat(theirs.err()).contains("uploaded " + theirs.ingested() + " entries");

        ExecHarness b = new ExecHarness(Files.createDirectory(tmp.resolve("b")));
        ExecHarness.Run ours = fake(b);
        assertThat(ours.out()).startsWith("MISS");
        assertThat(ours.err()).doesNotContain("fetched");
        assertThat(ours.restored()).isZero();
    }

    @Test
    void serverKilled_execWorksWithinTheDeadline_andTheQueueGoesUpWhenItReturns_fromAFreshProcess() throws Exception {
        ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
        ExecHarness.Run cold = coldWhileTheServerIsDown(a);
        ExecHarness.Run next = sh(a, "true"); // a new agent process on that root
        assertThat(next.err()).contains("uploaded " + cold.ingested() + " entries");
        assertThat(Files.readAllLines(a.root.resolve("remote/upload-queue"))).isEmpty();

        ExecHarness b = new ExecHarness(Files.createDirectory(tmp.resolve("b")));
        ExecHarness.Run warm = fake(b);
        assertThat(warm.out()).as(warm.err()).startsWith("HIT");
        assertThat(contents(b.root, GROUP)).isEqualTo(contents(a.root, GROUP));
    }

    @Test
    void queuedWhileTheServerWasDown_goesUpFromServe() throws Exception {
        ExecHarness a = new ExecHarness(Files.createDirectory(tmp.resolve("a")));
        ExecHarness.Run cold = coldWhileTheServerIsDown(a);
        List<String> cmd = a.agent(remoteArgs);
        cmd.addAll(List.of("serve", "--listen", "127.0.0.1:0", "--remote-upload-interval", "1s"));
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(tmp.resolve("serve.log").toFile());
        pb.environment().putAll(server.credentialsEnv());
        Process serve = pb.start();
        try {
            Path queue = a.root.resolve("remote/upload-queue");
            long until = System.nanoTime() + 90_000_000_000L;
            while (!Files.readAllLines(queue).isEmpty() && System.nanoTime() < until) {
                Thread.sleep(200);
            }
            assertThat(Files.readAllLines(queue))
                    .as(Files.readString(tmp.resolve("serve.log")))
                    .isEmpty();
        } finally {
            serve.destroy();
            serve.waitFor(60, TimeUnit.SECONDS);
        }
        assertThat(Files.readString(tmp.resolve("serve.log"))).contains("uploaded " + cold.ingested() + " entries");

        ExecHarness b = new ExecHarness(Files.createDirectory(tmp.resolve("b")));
        ExecHarness.Run warm = fake(b);
        assertThat(warm.out()).as(warm.err()).startsWith("HIT");
    }

    /** A cold exec on {@code a} while the server is killed: it succeeds within the deadlines and queues; the server is back after. */
    private ExecHarness.Run coldWhileTheServerIsDown(ExecHarness a) throws Exception {
        server.kill();
        try {
            long t0 = System.nanoTime();
            ExecHarness.Run cold = fake(a, "--remote-fetch-deadline", "5", "--remote-upload-limit", "5");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(cold.code()).isZero();
            assertThat(cold.out()).startsWith("MISS");
            assertThat(cold.err()).contains(cold.ingested() + " entries stay queued for the next run");
            assertThat(ms)
                    .as("ms: the fetch deadline and the upload limit bound what the remote costs")
                    .isLessThan(40_000);
            assertThat(Files.readAllLines(a.root.resolve("remote/upload-queue")))
                    .hasSize(cold.ingested());
            return cold;
        } finally {
            server.start();
        }
    }
}
